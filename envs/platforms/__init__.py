"""Platforms: satellites, drones and ground stations as struct-of-arrays state with dynamics.

Every fleet keeps one numpy array per quantity, shaped ``(n,)`` (or ``(n, 2)`` for
planar positions), with platform groups flattened in scenario order; ``group_index``
maps an entity back to its group and ``names`` labels it ``"<group>-<k>"``. Step
methods are vectorised over entities: no Python loop over platforms on the hot path.

- :class:`SatelliteFleet` — battery/solar energy balance, onboard storage, slew time.
- :class:`DroneFleet` — point-mass flight in the region's local x/y frame, battery with
  a return-to-base reserve, charging at base, loss on an empty battery.
- :class:`GroundStations` — station geometry, receivers, antenna assignment.
- :func:`resolve_link` — a group's radio overrides applied to the comms defaults.
- :data:`AT_BASE` — ``DroneMode.AT_BASE`` as a plain int (cheap comparisons per step).
"""

from sagsim.envs.platforms.drones import AT_BASE, DroneCommand, DroneFleet, DroneMode, DroneStep
from sagsim.envs.platforms.ground import GroundStations
from sagsim.envs.platforms.radio import resolve_link
from sagsim.envs.platforms.satellites import PowerStep, SatelliteFleet

__all__ = [
    "AT_BASE",
    "DroneCommand",
    "DroneFleet",
    "DroneMode",
    "DroneStep",
    "GroundStations",
    "PowerStep",
    "SatelliteFleet",
    "resolve_link",
]
