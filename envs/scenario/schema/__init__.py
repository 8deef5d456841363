"""The scenario schema: pydantic v2 models for every section of a scenario YAML file.

Data only: loading, path resolution and error formatting live in :mod:`sagsim.envs.scenario.loader`.
Every numeric field carries its SI unit in its name and its allowed range in its
constraints; the documentation's scenario reference is generated from these models
(``python -m sagsim.envs.scenario.reference``), so a field's ``description`` is its documentation.
"""

from sagsim.envs.scenario.schema.base import (
    EARLIEST_EPOCH_UTC,
    LATEST_END_UTC,
    MAX_DRONES,
    MAX_GROUND_STATIONS,
    MAX_SATELLITES,
    MAX_STEPS,
    MIN_STEP_S,
    Section,
)
from sagsim.envs.scenario.schema.comms import (
    AirToGround,
    Comms,
    GroundRadio,
    InterSatelliteLinks,
    LinkParams,
    Radio,
    SpaceToGround,
)
from sagsim.envs.scenario.schema.platforms import (
    DroneGroup,
    DroneStorage,
    GroundStation,
    OpenDataMission,
    OrbitSource,
    SatelliteGroup,
    SatellitePower,
    Sensor,
    Storage,
    WalkerShell,
)
from sagsim.envs.scenario.schema.scenario import BoundingBox, Region, Scenario

__all__ = [
    "EARLIEST_EPOCH_UTC",
    "LATEST_END_UTC",
    "MAX_DRONES",
    "MAX_GROUND_STATIONS",
    "MAX_SATELLITES",
    "MAX_STEPS",
    "MIN_STEP_S",
    "AirToGround",
    "BoundingBox",
    "Comms",
    "DroneGroup",
    "DroneStorage",
    "GroundRadio",
    "GroundStation",
    "InterSatelliteLinks",
    "LinkParams",
    "OpenDataMission",
    "OrbitSource",
    "Radio",
    "Region",
    "SatelliteGroup",
    "SatellitePower",
    "Scenario",
    "Section",
    "Sensor",
    "SpaceToGround",
    "Storage",
    "WalkerShell",
]
