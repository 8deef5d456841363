"""What each kind of imaging sensor can do, in one table: the rules every part of sagsim
applies to a sensor by its ``kind`` (the scenario's ``sensor.kind``, an
:class:`sagsim.fusion.observation.Observation`'s ``kind``).

- ``needs_daylight``: it images only when the sun at the target is at least the sensor's
  ``min_sun_elevation_deg`` (passive optical sensors: reflected sunlight).
- ``blocked_by_cloud``: its pixels under cloud are lost (optical wavelengths do not pass
  cloud; microwaves do).

A new kind is a row here, plus how it forms an image (:mod:`sagsim.fusion.sensing.sensor_model`)
and, for a policy to tell it apart, an observation column (:mod:`sagsim.envs.observations`).
At the bottom of the layers: the scenario schema, the world, the sensing and the fusers read
it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SENSOR_KINDS", "SensorKind", "source_kind_key", "source_of_key"]


@dataclass(frozen=True)
class SensorKind:
    """One kind of sensor and the rules it follows (see the module docstring)."""

    name: str
    needs_daylight: bool
    blocked_by_cloud: bool
    description: str


SENSOR_KINDS: dict[str, SensorKind] = {
    "optical": SensorKind("optical", needs_daylight=True, blocked_by_cloud=True,
                          description="optical: needs daylight, loses the pixels under cloud"),
    "sar": SensorKind("sar", needs_daylight=False, blocked_by_cloud=False,
                      description="SAR (radar): images through cloud and at night"),
}  # fmt: skip


# Each kind's row in SENSOR_KINDS, looked up once per image by source_kind_key.
_KIND_ROW = {name: row for row, name in enumerate(SENSOR_KINDS)}


def source_kind_key(source, kind: str):
    """One integer per (source, sensor kind) pair: ``source`` × the number of kinds + the
    kind's row in :data:`SENSOR_KINDS` (int or integer array, as ``source``). The fusion
    centre's evidence store and consistency gate keep one record per key, so that two
    sensors of one platform are judged apart; :func:`source_of_key` undoes it."""
    return source * len(SENSOR_KINDS) + _KIND_ROW[kind]


def source_of_key(key):
    """The source of a :func:`source_kind_key` (int or integer array, as ``key``)."""
    return key // len(SENSOR_KINDS)
