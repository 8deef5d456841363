"""Ways to look at a scenario and an episode: the rendered frame and text
(:mod:`.render`), the scenario inspector (``python -m sagsim.envs``: :mod:`.inspector`) and
its coverage and revisit statistics (:mod:`.coverage`)."""
