"""The scenario schema: pydantic v2 models for every section of a scenario YAML file.

Data only: loading, path resolution and error formatting live in :mod:`envs.scenario`.
Every numeric field carries its SI unit in its name and its allowed range in its
constraints; the README's scenario reference is generated from these models
(``python -m envs.schema_doc``), so a field's ``description`` is its documentation.
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

MAX_SATELLITES = 10_000
MAX_DRONES = 1_000
MAX_GROUND_STATIONS = 100
MAX_STEPS = 1_000_000
# TLE epochs carry a two-digit year (1957–2056); the almanac sun model is good for decades
# around 2000. Scenarios outside this window are refused rather than silently wrong.
EARLIEST_EPOCH_UTC = datetime(1957, 10, 4, tzinfo=UTC)
LATEST_END_UTC = datetime(2056, 12, 31, tzinfo=UTC)
MIN_STEP_S = 0.01

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, instances are immutable, and a
    boolean is never taken for a number (YAML's ``yes``/``true`` would otherwise become 1)."""

    # allow_inf_nan=False: a NaN would slip past every range check (NaN < x is False).
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if bool not in (annotation, *typing.get_args(annotation)):
                raise ValueError(f"expected a number, got {str(value).lower()}")
        return value


class BoundingBox(Section):
    """A lon/lat box; ``lon_min_deg > lon_max_deg`` means it crosses the antimeridian."""

    lon_min_deg: Longitude = Field(description="western edge longitude")
    lat_min_deg: Latitude = Field(description="southern edge latitude")
    lon_max_deg: Longitude = Field(description="eastern edge longitude (< west: wraps ±180°)")
    lat_max_deg: Latitude = Field(description="northern edge latitude")

    @model_validator(mode="after")
    def _lat_order(self) -> BoundingBox:
        if self.lat_min_deg >= self.lat_max_deg:
            raise ValueError("lat_min_deg must be < lat_max_deg")
        if self.lon_min_deg == self.lon_max_deg:
            raise ValueError("lon_min_deg must differ from lon_max_deg")
        return self


class Region(Section):
    """The region of interest and its local metric grid (azimuthal equidistant, see envs.geo)."""

    bbox: BoundingBox | None = Field(None, description="lon/lat bounding box (or give polygon)")
    polygon_lonlat_deg: list[tuple[Longitude, Latitude]] | None = Field(
        None, min_length=3, max_length=10_000, description="polygon vertices [[lon, lat], ...]"
    )
    grid_resolution_m: float = Field(
        100.0, ge=1.0, le=100_000.0, description="edge length of a square grid cell"
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Region:
        if (self.bbox is None) == (self.polygon_lonlat_deg is None):
            raise ValueError("give exactly one of bbox or polygon_lonlat_deg")
        return self


class Sensor(Section):
    """An imaging payload. Give ``swath_m`` (ground width at nadir) or ``fov_deg``."""

    kind: Literal["optical", "sar"] = Field(
        "optical", description="optical needs daylight and no cloud; SAR sees through both"
    )
    gsd_nadir_m: float = Field(description="ground sample distance at nadir", gt=0.0, le=10_000.0)
    swath_m: float | None = Field(None, gt=0.0, le=3_000_000.0, description="swath width at nadir")
    fov_deg: float | None = Field(
        None, gt=0.0, lt=180.0, description="full cross-track field of view (or give swath_m)"
    )
    max_off_nadir_deg: float = Field(
        30.0, ge=0.0, le=70.0, description="largest pointing angle from geodetic nadir"
    )
    noise_std: float = Field(
        0.01, ge=0.0, le=1.0, description="per-pixel noise std, reflectance units"
    )
    position_error_m: float = Field(
        5.0, ge=0.0, le=10_000.0, description="1-sigma platform position error (georeferencing)"
    )
    pointing_error_deg: float = Field(
        0.005, ge=0.0, le=10.0, description="1-sigma pointing knowledge error"
    )
    bits_per_pixel: int = Field(12, ge=1, le=64, description="quantisation per band")
    bands: int = Field(4, ge=1, le=64, description="spectral bands (SAR: polarisations)")
    min_sun_elevation_deg: float = Field(
        10.0, ge=-90.0, le=90.0, description="optical: lowest sun elevation at the target"
    )

    @model_validator(mode="after")
    def _swath_or_fov(self) -> Sensor:
        if (self.swath_m is None) == (self.fov_deg is None):
            raise ValueError("give exactly one of swath_m or fov_deg")
        return self


class Storage(Section):
    """Onboard data storage."""

    capacity_bits: float = Field(8e11, gt=0.0, le=1e15, description="onboard storage")
    initial_fill_fraction: float = Field(0.0, ge=0.0, le=1.0, description="filled at epoch")


class SatellitePower(Section):
    """Battery, solar array and loads of one satellite (see envs.platforms)."""

    battery_capacity_wh: float = Field(150.0, gt=0.0, le=1e6, description="usable battery")
    initial_charge_fraction: float = Field(1.0, ge=0.0, le=1.0, description="charge at epoch")
    min_charge_fraction: float = Field(
        0.2, ge=0.0, lt=1.0, description="below this only the bus load runs (no imaging, no tx)"
    )
    solar_power_w: float = Field(120.0, ge=0.0, le=1e6, description="array output in full sun")
    bus_load_w: float = Field(25.0, ge=0.0, le=1e6, description="always-on platform load")
    imaging_load_w: float = Field(45.0, ge=0.0, le=1e6, description="extra load while imaging")
    transmit_load_w: float = Field(35.0, ge=0.0, le=1e6, description="extra load while downlinking")
    slew_load_w: float = Field(15.0, ge=0.0, le=1e6, description="extra load while slewing")


class Radio(Section):
    """Transmitter overrides for a platform group; a field left out takes the comms default."""

    tx_power_w: float | None = Field(None, gt=0.0, le=1e5, description="transmit power")
    antenna_gain_dbi: float | None = Field(None, ge=-20.0, le=80.0, description="tx antenna gain")
    frequency_hz: float | None = Field(None, ge=1e6, le=1e15, description="carrier frequency")
    bandwidth_hz: float | None = Field(None, gt=0.0, le=1e11, description="channel bandwidth")


class WalkerShell(Section):
    """A Walker-delta (or star) shell i:t/p/f, circular orbits built with Satrec.sgp4init."""

    planes: int = Field(ge=1, le=1000, description="orbital planes p")
    per_plane: int = Field(ge=1, le=1000, description="satellites per plane (t = p × per_plane)")
    phasing: int = Field(0, ge=0, le=999, description="Walker phasing f, 0 ≤ f < planes")
    altitude_m: float = Field(gt=160_000.0, le=40_000_000.0, description="circular orbit altitude")
    inclination_deg: float | None = Field(
        None, ge=0.0, le=180.0, description="orbit inclination (omit when sun_synchronous)"
    )
    sun_synchronous: bool = Field(False, description="derive the inclination from J2 (SSO)")
    raan0_deg: float = Field(0.0, ge=0.0, lt=360.0, description="RAAN of the first plane")
    raan_spread_deg: float = Field(
        360.0, gt=0.0, le=360.0, description="RAAN span of the planes (360 delta, 180 star)"
    )

    @model_validator(mode="after")
    def _walker_consistency(self) -> WalkerShell:
        if self.phasing >= self.planes:
            raise ValueError(f"phasing must be < planes ({self.planes})")
        if self.sun_synchronous == (self.inclination_deg is not None):
            raise ValueError("give inclination_deg or sun_synchronous: true (exactly one)")
        if self.sun_synchronous:
            from envs.orbits import sun_synchronous_inclination_deg

            try:
                sun_synchronous_inclination_deg(self.altitude_m)
            except ValueError:
                raise ValueError(
                    f"no sun-synchronous orbit exists at altitude_m={self.altitude_m:g} "
                    "(J2 regression is too weak above about 5,900 km)"
                ) from None
        return self


class SatelliteGroup(Section):
    """A group of satellites sharing payload, power and radio: from TLEs or a Walker shell."""

    name: Name = Field(description="group name")
    tle: str | None = Field(None, max_length=1_000_000, description="inline TLE sets (2/3-line)")
    tle_file: str | None = Field(None, max_length=4096, description="TLE file relative to the YAML")
    walker: WalkerShell | None = Field(None, description="Walker shell (or give tle/tle_file)")
    sensor: Sensor = Field(description="imaging payload")
    storage: Storage = Field(default_factory=Storage, description="onboard storage")
    power: SatellitePower = Field(default_factory=SatellitePower, description="power system")
    radio: Radio = Field(default_factory=Radio, description="downlink transmitter overrides")
    slew_rate_deg_s: float = Field(1.0, gt=0.0, le=90.0, description="attitude agility")

    @model_validator(mode="after")
    def _one_source(self) -> SatelliteGroup:
        given = [k for k in ("tle", "tle_file", "walker") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of tle, tle_file or walker")
        return self

    @property
    def count(self) -> int | None:
        """Satellites in a Walker shell; None for TLE groups until they are parsed."""
        return self.walker.planes * self.walker.per_plane if self.walker else None


class DroneGroup(Section):
    """A fleet of identical drones at one base (point-mass flight model, see envs.platforms)."""

    name: Name = Field(description="group name")
    count: int = Field(1, ge=1, le=MAX_DRONES, description="drones in the group")
    base_lat_deg: Latitude = Field(description="base latitude")
    base_lon_deg: Longitude = Field(description="base longitude")
    base_alt_m: float = Field(0.0, ge=-500.0, le=9000.0, description="base height above WGS84")
    altitude_m: float = Field(
        120.0, gt=0.0, le=10_000.0, description="flight height above the base"
    )
    cruise_speed_mps: float = Field(15.0, gt=0.0, le=100.0, description="horizontal cruise speed")
    battery_capacity_wh: float = Field(300.0, gt=0.0, le=100_000.0, description="usable battery")
    initial_charge_fraction: float = Field(1.0, ge=0.0, le=1.0, description="charge at epoch")
    reserve_fraction: float = Field(
        0.15, ge=0.0, lt=1.0, description="margin on the return-to-base energy, as a fraction of it"
    )
    hover_power_w: float = Field(350.0, gt=0.0, le=100_000.0, description="power while hovering")
    cruise_power_w: float = Field(300.0, gt=0.0, le=100_000.0, description="power while cruising")
    charge_power_w: float = Field(500.0, gt=0.0, le=100_000.0, description="charging at base")
    sensor: Sensor = Field(description="imaging payload")
    storage: Storage = Field(
        default_factory=lambda: Storage(capacity_bits=2.56e11), description="onboard storage"
    )
    radio: Radio = Field(default_factory=Radio, description="air-to-ground transmitter overrides")


class GroundRadio(Section):
    """Receiver overrides for a ground station; a field left out takes the comms default."""

    antenna_gain_dbi: float | None = Field(None, ge=-20.0, le=90.0, description="rx antenna gain")
    system_noise_temperature_k: float | None = Field(
        None, gt=0.0, le=1e5, description="receiver system noise temperature"
    )


class GroundStation(Section):
    """A ground station: receives downlinks, forwards to the fusion centre."""

    name: Name = Field(description="station name")
    lat_deg: Latitude = Field(description="geodetic latitude")
    lon_deg: Longitude = Field(description="longitude")
    alt_m: float = Field(0.0, ge=-500.0, le=9000.0, description="height above WGS84")
    min_elevation_deg: float = Field(
        10.0, ge=0.0, lt=90.0, description="elevation mask for satellite contacts"
    )
    antennas: int = Field(1, ge=1, le=64, description="simultaneous satellite links")
    radio: GroundRadio = Field(default_factory=GroundRadio, description="receiver overrides")


class LinkParams(Section):
    """Default link-budget parameters of one link class (FSPL + Shannon, see envs.comms)."""

    frequency_hz: float = Field(ge=1e6, le=1e15, description="carrier frequency")
    tx_power_w: float = Field(gt=0.0, le=1e5, description="transmit power")
    tx_antenna_gain_dbi: float = Field(ge=-20.0, le=80.0, description="transmit antenna gain")
    rx_antenna_gain_dbi: float = Field(ge=-20.0, le=90.0, description="receive antenna gain")
    system_noise_temperature_k: float = Field(gt=0.0, le=1e5, description="receiver noise temp.")
    bandwidth_hz: float = Field(gt=0.0, le=1e11, description="channel bandwidth")
    losses_db: float = Field(
        3.0, ge=0.0, le=100.0, description="atmospheric + pointing + implementation losses"
    )


class InterSatelliteLinks(LinkParams):
    """Inter-satellite links: on/off, reach and radio."""

    enabled: bool = Field(False, description="allow satellite-to-satellite relay")
    max_range_m: float = Field(5_000_000.0, gt=0.0, le=1e8, description="longest usable ISL")
    grazing_altitude_m: float = Field(
        100_000.0, ge=0.0, le=1e6, description="ray must clear the Earth by this much"
    )


class AirToGround(LinkParams):
    """Drone links to its base/ground stations and to other drones."""

    max_range_m: float = Field(30_000.0, gt=0.0, le=1e6, description="longest usable drone link")
    relay_enabled: bool = Field(True, description="allow drone-to-drone relay")


def _x_band() -> LinkParams:
    # A small-satellite X-band downlink (e.g. 8.2 GHz, 5 W, patch antenna) into a
    # 5-7 m dish; noise temperature of a cooled-LNA X-band station.
    return LinkParams(
        frequency_hz=8.2e9,
        tx_power_w=5.0,
        tx_antenna_gain_dbi=6.0,
        rx_antenna_gain_dbi=45.0,
        system_noise_temperature_k=150.0,
        bandwidth_hz=150e6,
        losses_db=4.0,
    )


def _isl() -> InterSatelliteLinks:
    # A Ka-band crosslink with small steerable antennas on both ends.
    return InterSatelliteLinks(
        frequency_hz=26e9,
        tx_power_w=10.0,
        tx_antenna_gain_dbi=35.0,
        rx_antenna_gain_dbi=35.0,
        system_noise_temperature_k=500.0,
        bandwidth_hz=400e6,
        losses_db=2.0,
    )


def _air() -> AirToGround:
    # A 5.8 GHz video/data link with omni-ish antennas, uncooled receiver.
    return AirToGround(
        frequency_hz=5.8e9,
        tx_power_w=1.0,
        tx_antenna_gain_dbi=3.0,
        rx_antenna_gain_dbi=12.0,
        system_noise_temperature_k=600.0,
        bandwidth_hz=40e6,
        losses_db=6.0,
    )


class Comms(Section):
    """Link-budget defaults per link class; groups and stations may override parts."""

    space_to_ground: LinkParams = Field(default_factory=_x_band, description="satellite downlink")
    inter_satellite: InterSatelliteLinks = Field(default_factory=_isl, description="crosslinks")
    air_to_ground: AirToGround = Field(default_factory=_air, description="drone links")
    shannon_efficiency: float = Field(
        0.6, gt=0.0, le=1.0, description="fraction of Shannon capacity real coding achieves"
    )


class Scenario(Section):
    """A whole scenario: when, where, who, and how they talk."""

    name: Name = Field(description="scenario name (used in run and report names)")
    description: str = Field("", max_length=10_000, description="free text")
    epoch_utc: datetime = Field(description="scenario start, ISO 8601 UTC")
    duration_s: float = Field(gt=0.0, le=30 * 86_400.0, description="episode length")
    step_s: float = Field(ge=MIN_STEP_S, le=3600.0, description="environment step")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the scenario's random draws")
    region: Region = Field(description="region of interest")
    satellites: list[SatelliteGroup] = Field(
        default_factory=list, max_length=100, description="satellite groups"
    )
    drones: list[DroneGroup] = Field(
        default_factory=list, max_length=100, description="drone groups"
    )
    ground_stations: list[GroundStation] = Field(
        min_length=1, max_length=MAX_GROUND_STATIONS, description="ground stations"
    )
    comms: Comms = Field(default_factory=Comms, description="link-budget defaults")

    @field_validator("epoch_utc")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        # A naive time in a scenario is taken as UTC; an offset is converted to UTC.
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if not EARLIEST_EPOCH_UTC <= value <= LATEST_END_UTC:
            raise ValueError(
                f"must lie within {EARLIEST_EPOCH_UTC:%Y-%m-%d} to {LATEST_END_UTC:%Y-%m-%d} "
                "(TLE two-digit years, almanac sun model)"
            )
        return value

    @field_validator("step_s")
    @classmethod
    def _whole_steps(cls, step_s: float, info: ValidationInfo) -> float:
        duration_s = info.data.get("duration_s")
        if duration_s is None:  # duration_s itself is invalid; its own error says why
            return step_s
        if step_s > duration_s:
            raise ValueError(f"must be ≤ duration_s ({duration_s:g})")
        steps = duration_s / step_s
        if abs(steps - round(steps)) > 1e-9 * steps:
            raise ValueError(
                f"duration_s must be a whole number of steps: {duration_s:g} / {step_s:g} "
                f"= {steps:g}"
            )
        return step_s

    @model_validator(mode="after")
    def _consistency(self) -> Scenario:
        if self.epoch_utc + timedelta(seconds=self.duration_s) > LATEST_END_UTC:
            raise ValueError(f"the episode must end by {LATEST_END_UTC:%Y-%m-%d}")
        if self.duration_s / self.step_s > MAX_STEPS:
            raise ValueError(f"duration_s / step_s must be ≤ {MAX_STEPS:,} steps")
        if not self.satellites and not self.drones:
            raise ValueError("give at least one satellite group or drone group")
        names = [g.name for g in self.satellites + self.drones] + [
            s.name for s in self.ground_stations
        ]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"names must be unique, repeated: {', '.join(duplicates)}")
        n_walker = sum(g.count or 0 for g in self.satellites)
        if n_walker > MAX_SATELLITES:
            raise ValueError(f"at most {MAX_SATELLITES:,} satellites, got {n_walker:,}")
        if sum(d.count for d in self.drones) > MAX_DRONES:
            raise ValueError(f"at most {MAX_DRONES:,} drones in all")
        return self

    @property
    def n_steps(self) -> int:
        """Environment steps in one episode."""
        return round(self.duration_s / self.step_s)
