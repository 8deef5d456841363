"""The shipped scenarios: YAML files (and the TLE files they name), loadable by name
(``sagsim.parallel_env("minimal")``). A data folder: no code."""
