"""Policies (baselines, the planner), training (SB3, RLlib), evaluation and reports."""

if __name__ != "sagsim.agents":  # e.g. `import agents` from the repository's top folder
    raise ImportError("this is sagsim's agents package: import it as sagsim.agents")
