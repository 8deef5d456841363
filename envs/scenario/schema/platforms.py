"""Platform sections: sensors, storage, power, Walker shells, satellite and drone groups,
ground stations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sagsim.envs.scenario.schema.base import MAX_DRONES, Latitude, Longitude, Name, Section, unit
from sagsim.envs.scenario.schema.comms import GroundRadio, Radio
from sagsim.sensor_kinds import SENSOR_KINDS

# The kinds of sagsim.sensor_kinds, as the type the schema (and its reference) shows.
SensorKindName = Literal[tuple(SENSOR_KINDS)]  # type: ignore[valid-type]


class Sensor(Section):
    """An imaging payload. Give ``swath_m`` (ground width at nadir) or ``fov_deg``."""

    kind: SensorKindName = Field(
        "optical", description="; ".join(k.description for k in SENSOR_KINDS.values())
    )
    gsd_nadir_m: float = Field(
        description="ground sample distance at nadir",
        gt=0.0,
        le=10_000.0,
        json_schema_extra=unit("m"),
    )
    swath_m: float | None = Field(
        None,
        gt=0.0,
        le=5_000_000.0,
        description="swath width at nadir",
        json_schema_extra=unit("m"),
    )
    fov_deg: float | None = Field(
        None,
        gt=0.0,
        lt=180.0,
        description="full cross-track field of view (or give swath_m)",
        json_schema_extra=unit("deg"),
    )
    max_off_nadir_deg: float = Field(
        30.0,
        ge=0.0,
        le=70.0,
        description="largest pointing angle from geodetic nadir",
        json_schema_extra=unit("deg"),
    )
    noise_std: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="per-pixel noise std in the map's band units (reflectance for optical); "
        "the reward's variance model uses it for every kind, while a SAR image in imagery "
        "mode takes its noise from its looks (speckle)",
        json_schema_extra=unit("reflectance"),
    )
    position_error_m: float = Field(
        5.0,
        ge=0.0,
        le=10_000.0,
        description="1-sigma platform position error (georeferencing)",
        json_schema_extra=unit("m"),
    )
    pointing_error_deg: float = Field(
        0.005,
        ge=0.0,
        le=10.0,
        description="1-sigma pointing knowledge error",
        json_schema_extra=unit("deg"),
    )
    bits_per_pixel: int = Field(
        12, ge=1, le=64, description="quantisation per band", json_schema_extra=unit("bit")
    )
    bands: int = Field(
        4,
        ge=1,
        le=64,
        description="spectral bands (SAR: polarisations)",
        json_schema_extra=unit("1"),
    )
    min_sun_elevation_deg: float = Field(
        10.0,
        ge=-90.0,
        le=90.0,
        description="optical: lowest sun elevation at the target",
        json_schema_extra=unit("deg"),
    )

    @model_validator(mode="after")
    def _swath_or_fov(self) -> Sensor:
        if (self.swath_m is None) == (self.fov_deg is None):
            raise ValueError("give exactly one of swath_m or fov_deg")
        return self


CapacityBits = Annotated[
    float, Field(gt=0.0, le=1e15, description="onboard storage", json_schema_extra=unit("bit"))
]


class Storage(Section):
    """Onboard data storage (a satellite's: 100 GB)."""

    capacity_bits: CapacityBits = 8e11
    initial_fill_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="filled at epoch", json_schema_extra=unit("1")
    )


class DroneStorage(Storage):
    """A drone's onboard data storage (32 GB)."""

    capacity_bits: CapacityBits = 2.56e11


class SatellitePower(Section):
    """Battery, solar array and loads of one satellite (see sagsim.envs.platforms)."""

    battery_capacity_wh: float = Field(
        150.0, gt=0.0, le=1e6, description="usable battery", json_schema_extra=unit("Wh")
    )
    initial_charge_fraction: float = Field(
        1.0, ge=0.0, le=1.0, description="charge at epoch", json_schema_extra=unit("1")
    )
    min_charge_fraction: float = Field(
        0.2,
        ge=0.0,
        lt=1.0,
        description="below this only the bus load runs (no imaging, no tx)",
        json_schema_extra=unit("1"),
    )
    solar_power_w: float = Field(
        120.0, ge=0.0, le=1e6, description="array output in full sun", json_schema_extra=unit("W")
    )
    bus_load_w: float = Field(
        25.0, ge=0.0, le=1e6, description="always-on platform load", json_schema_extra=unit("W")
    )
    imaging_load_w: float = Field(
        45.0, ge=0.0, le=1e6, description="extra load while imaging", json_schema_extra=unit("W")
    )
    transmit_load_w: float = Field(
        35.0,
        ge=0.0,
        le=1e6,
        description="extra load while downlinking",
        json_schema_extra=unit("W"),
    )
    slew_load_w: float = Field(
        15.0, ge=0.0, le=1e6, description="extra load while slewing", json_schema_extra=unit("W")
    )


class WalkerShell(Section):
    """A Walker-delta (or star) shell i:t/p/f, circular orbits built with Satrec.sgp4init."""

    planes: int = Field(ge=1, le=1000, description="orbital planes p", json_schema_extra=unit("1"))
    per_plane: int = Field(
        ge=1,
        le=1000,
        description="satellites per plane (t = p × per_plane)",
        json_schema_extra=unit("1"),
    )
    phasing: int = Field(
        0, ge=0, le=999, description="Walker phasing f, 0 ≤ f < planes", json_schema_extra=unit("1")
    )
    altitude_m: float = Field(
        gt=160_000.0,
        le=40_000_000.0,
        description="circular orbit altitude above the equatorial radius (6,378.137 km)",
        json_schema_extra=unit("m"),
    )
    inclination_deg: float | None = Field(
        None,
        ge=0.0,
        le=180.0,
        description="orbit inclination (omit when sun_synchronous)",
        json_schema_extra=unit("deg"),
    )
    sun_synchronous: bool = Field(False, description="derive the inclination from J2 (SSO)")
    raan0_deg: float = Field(
        0.0, ge=0.0, lt=360.0, description="RAAN of the first plane", json_schema_extra=unit("deg")
    )
    raan_spread_deg: float = Field(
        360.0,
        gt=0.0,
        le=360.0,
        description="RAAN span of the planes (360 delta, 180 star)",
        json_schema_extra=unit("deg"),
    )

    @model_validator(mode="after")
    def _walker_consistency(self) -> WalkerShell:
        if self.phasing >= self.planes:
            raise ValueError(f"phasing must be < planes ({self.planes})")
        if self.sun_synchronous == (self.inclination_deg is not None):
            raise ValueError("give inclination_deg or sun_synchronous: true (exactly one)")
        if self.sun_synchronous:
            from sagsim.envs.physics.orbits import sun_synchronous_inclination_deg

            try:
                sun_synchronous_inclination_deg(self.altitude_m)
            except ValueError:
                raise ValueError(
                    f"no sun-synchronous orbit exists at altitude_m={self.altitude_m:g} "
                    "(J2 regression is too weak above about 5,900 km)"
                ) from None
        return self


class OrbitSource(Section):
    """Where a satellite group's orbits come from: TLE sets or a Walker shell (one of them)."""

    name: Name = Field(description="group name")
    tle: str | None = Field(None, max_length=1_000_000, description="inline TLE sets (2/3-line)")
    tle_file: str | None = Field(None, max_length=4096, description="TLE file relative to the YAML")
    walker: WalkerShell | None = Field(None, description="Walker shell (or give tle/tle_file)")

    @model_validator(mode="after")
    def _one_source(self) -> OrbitSource:
        given = [k for k in ("tle", "tle_file", "walker") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of tle, tle_file or walker")
        return self

    @property
    def count(self) -> int | None:
        """Satellites in a Walker shell; None for TLE groups until they are parsed."""
        return self.walker.planes * self.walker.per_plane if self.walker else None


class SatelliteGroup(OrbitSource):
    """A group of satellites sharing payload, power and radio: from TLEs or a Walker shell."""

    sensor: Sensor = Field(description="imaging payload")
    storage: Storage = Field(default_factory=Storage, description="onboard storage")
    power: SatellitePower = Field(default_factory=SatellitePower, description="power system")
    radio: Radio = Field(
        default_factory=Radio, description="downlink transmitter overrides (comms.space_to_ground)"
    )
    slew_rate_deg_s: float = Field(
        1.0, gt=0.0, le=90.0, json_schema_extra=unit("deg/s"),
        description="attitude agility: the mean rate of a retarget (the angle between the two "
        "look directions / the time it takes, settling excluded)",
    )  # fmt: skip
    settle_s: float = Field(
        0.0, ge=0.0, le=600.0, json_schema_extra=unit("s"),
        description="attitude settling after a retarget, before an image can start",
    )  # fmt: skip
    max_imaging_s_per_orbit: float | None = Field(
        None, gt=0.0, le=86_400.0, json_schema_extra=unit("s"),
        description="imaging duty cycle: scan seconds allowed in any one orbital period (a "
        "SAR's thermal and power limit); none: no limit",
    )  # fmt: skip
    other_customers_km2_per_day: float = Field(
        0.0, ge=0.0, le=5e6, json_schema_extra=unit("km2/day"),
        description="area imaged per day for the operator's other customers outside the "
        "region: it fills storage and is downlinked after the team's data "
        "(sagsim.envs.world.other_customers); 0: the satellite works for the team alone",
    )  # fmt: skip


class OpenDataMission(OrbitSource):
    """A mission the team does not task whose images reach the fusion centre anyway (MODIS,
    VIIRS, Sentinel-3: free and open data). Not an agent: it images its nadir swath on every
    pass over the region (optical: in daylight) and its operator delivers the image to the
    fusion centre ``latency_s`` later. Typically coarse and wide: the daily background that
    the tasked platforms' fine images are fused with (see fusion/simulate.py)."""

    sensor: Sensor = Field(description="imaging payload (its whole swath imaged at nadir)")
    latency_s: float = Field(
        10_800.0, ge=0.0, le=30 * 86_400.0, json_schema_extra=unit("s"),
        description="acquisition to arrival at the fusion centre (the operator's ground segment)",
    )  # fmt: skip


class DroneGroup(Section):
    """A fleet of identical drones at one base (point-mass flight model, see
    sagsim.envs.platforms)."""

    name: Name = Field(description="group name")
    count: int = Field(
        1, ge=1, le=MAX_DRONES, description="drones in the group", json_schema_extra=unit("1")
    )
    base_lat_deg: Latitude = Field(description="base latitude")
    base_lon_deg: Longitude = Field(description="base longitude")
    base_alt_m: float = Field(
        0.0,
        ge=-500.0,
        le=9000.0,
        description="base height above WGS84",
        json_schema_extra=unit("m"),
    )
    altitude_m: float = Field(
        120.0,
        gt=0.0,
        le=10_000.0,
        description="flight height above the base",
        json_schema_extra=unit("m"),
    )
    cruise_speed_mps: float = Field(
        15.0, gt=0.0, le=100.0, description="horizontal cruise speed", json_schema_extra=unit("m/s")
    )
    battery_capacity_wh: float = Field(
        300.0, gt=0.0, le=100_000.0, description="usable battery", json_schema_extra=unit("Wh")
    )
    initial_charge_fraction: float = Field(
        1.0, ge=0.0, le=1.0, description="charge at epoch", json_schema_extra=unit("1")
    )
    reserve_fraction: float = Field(
        0.15,
        ge=0.0,
        lt=1.0,
        description="margin on the return-to-base energy, as a fraction of it",
        json_schema_extra=unit("1"),
    )
    hover_power_w: float = Field(
        350.0, gt=0.0, le=100_000.0, description="power while hovering", json_schema_extra=unit("W")
    )
    cruise_power_w: float = Field(
        300.0, gt=0.0, le=100_000.0, description="power while cruising", json_schema_extra=unit("W")
    )
    charge_power_w: float = Field(
        500.0, gt=0.0, le=100_000.0, description="charging at base", json_schema_extra=unit("W")
    )
    sensor: Sensor = Field(description="imaging payload")
    storage: DroneStorage = Field(default_factory=DroneStorage, description="onboard storage")
    radio: Radio = Field(
        default_factory=Radio,
        description="air-to-ground transmitter overrides (comms.air_to_ground)",
    )


class GroundStation(Section):
    """A ground station: receives downlinks, forwards to the fusion centre."""

    name: Name = Field(description="station name")
    lat_deg: Latitude = Field(description="geodetic latitude")
    lon_deg: Longitude = Field(description="longitude")
    alt_m: float = Field(
        0.0, ge=-500.0, le=9000.0, description="height above WGS84", json_schema_extra=unit("m")
    )
    min_elevation_deg: float = Field(
        10.0,
        ge=0.0,
        lt=90.0,
        description="elevation mask for satellite contacts",
        json_schema_extra=unit("deg"),
    )
    antennas: int = Field(
        1, ge=1, le=64, description="simultaneous satellite links", json_schema_extra=unit("1")
    )
    radio: GroundRadio = Field(
        default_factory=GroundRadio, description="receiver overrides (comms.space_to_ground)"
    )
