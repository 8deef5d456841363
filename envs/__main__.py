"""``python -m sagsim.envs SCENARIO [--json]``: validate a scenario (a file or a shipped name) and
print what it contains; sanity warnings go to stderr, one line each."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from sagsim.cli import ArgumentParser, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m sagsim.envs",
        description="Validate a scenario file and show its sanity warnings, entities, region "
        "grid, the imaging access the environment offers, contact windows, revisit and link "
        "capacities.",
    )
    parser.add_argument("scenario", help="scenario YAML file or shipped name (e.g. minimal)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from sagsim.envs.scenario.shipped import resolve_scenario, scenario_path
    from sagsim.envs.views.inspector import format_report, inspect_scenario

    path = scenario_path(args.scenario)
    report = inspect_scenario(resolve_scenario(path), source=str(path))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
