"""The simulated world of one scenario: its state as arrays over entities, and its step
(acquisition, flight, relays, downlinks, power, faults, fusion). Knows nothing of
PettingZoo: :mod:`sagsim.envs.sag_env` translates between it and the agents."""

from sagsim.envs.world.world import StepOutcome, World

__all__ = ["StepOutcome", "World"]
