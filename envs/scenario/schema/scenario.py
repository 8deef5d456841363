"""The scenario's root section, its region, and the checks that span several sections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from sagsim.envs.scenario.schema.base import (
    EARLIEST_EPOCH_UTC,
    LATEST_END_UTC,
    MAX_DRONES,
    MAX_GROUND_STATIONS,
    MAX_SATELLITES,
    MAX_STEPS,
    MIN_STEP_S,
    Latitude,
    Longitude,
    Name,
    Section,
    unit,
)
from sagsim.envs.scenario.schema.comms import Comms
from sagsim.envs.scenario.schema.faults import Faults
from sagsim.envs.scenario.schema.mission import (
    MAX_TARGETS,
    BadSources,
    Clouds,
    EnvSettings,
    Event,
    Fusion,
    Reward,
    Targets,
)
from sagsim.envs.scenario.schema.platforms import (
    DroneGroup,
    GroundStation,
    OpenDataMission,
    SatelliteGroup,
)


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
    """The region of interest and its metric grid (local aeqd or global EASE-2, see
    sagsim.envs.physics.region_grid)."""

    # EASE-Grid 2.0 global's latitude range; equals
    # sagsim.envs.physics.region_grid.EASE2_MAX_LAT_DEG.
    EASE2_MAX_LAT_DEG: ClassVar[float] = 85.0445

    bbox: BoundingBox | None = Field(None, description="lon/lat bounding box (or give polygon)")
    polygon_lonlat_deg: list[tuple[Longitude, Latitude]] | None = Field(
        None,
        min_length=3,
        max_length=10_000,
        description="polygon vertices [[lon, lat], ...]",
        json_schema_extra=unit("deg"),
    )
    grid_resolution_m: float = Field(
        100.0,
        ge=1.0,
        le=100_000.0,
        description="edge length of a square grid cell",
        json_schema_extra=unit("m"),
    )
    projection: Literal["aeqd", "ease2"] = Field(
        "aeqd",
        description=(
            "aeqd: local azimuthal equidistant (regional, ≤ ~2,000 km); ease2: EASE-Grid 2.0 "
            "global equal-area (EPSG:6933) for continental/global regions (bbox only, "
            "lon_min_deg < lon_max_deg, latitudes within ±85.0445)"
        ),
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Region:
        if (self.bbox is None) == (self.polygon_lonlat_deg is None):
            raise ValueError("give exactly one of bbox or polygon_lonlat_deg")
        if self.projection == "ease2":
            if self.bbox is None:
                raise ValueError(
                    "projection: ease2 needs bbox; polygon_lonlat_deg is for projection: aeqd"
                )
            box, lim = self.bbox, self.EASE2_MAX_LAT_DEG
            if box.lon_min_deg >= box.lon_max_deg:
                raise ValueError(
                    "projection: ease2 needs bbox.lon_min_deg < bbox.lon_max_deg (no "
                    "antimeridian wrap; the whole world is lon -180..180)"
                )
            if not -lim <= box.lat_min_deg < box.lat_max_deg <= lim:
                raise ValueError(
                    f"projection: ease2 needs bbox latitudes within ±{lim} "
                    "(EASE-Grid 2.0 global's range)"
                )
        return self


class Scenario(Section):
    """A whole scenario: when, where, who, and how they talk."""

    name: Name = Field(description="scenario name (used in run and report names)")
    description: str = Field("", max_length=10_000, description="free text")
    epoch_utc: datetime = Field(description="scenario start, ISO 8601 UTC")
    duration_s: float = Field(
        gt=0.0, le=30 * 86_400.0, description="episode length", json_schema_extra=unit("s")
    )
    step_s: float = Field(
        ge=MIN_STEP_S, le=3600.0, description="environment step", json_schema_extra=unit("s")
    )
    seed: int = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="seed of the scenario's random draws",
        json_schema_extra=unit("1"),
    )
    region: Region = Field(description="region of interest")
    satellites: list[SatelliteGroup] = Field(
        default_factory=list, max_length=100, description="satellite groups"
    )
    drones: list[DroneGroup] = Field(
        default_factory=list, max_length=100, description="drone groups"
    )
    open_data: list[OpenDataMission] = Field(
        default_factory=list, max_length=100,
        description="untasked missions whose images reach the fusion centre (not agents)",
    )  # fmt: skip
    ground_stations: list[GroundStation] = Field(
        min_length=1, max_length=MAX_GROUND_STATIONS, description="ground stations"
    )
    comms: Comms = Field(default_factory=Comms, description="link-budget defaults")
    targets: Targets = Field(default_factory=Targets, description="static targets")
    events: list[Event] = Field(default_factory=list, max_length=1000, description="dynamic events")
    clouds: Clouds = Field(default_factory=Clouds, description="cloud cover model")
    fusion: Fusion = Field(default_factory=Fusion, description="fusion-centre information model")
    perception: Literal["variance_only", "imagery"] = Field(
        "variance_only",
        description="variance_only: the reward's variance bookkeeping only (fast, for "
        "training); imagery: a ground-truth scene, real sensor images and a fuser",
    )
    bad_sources: BadSources = Field(
        default_factory=BadSources,
        description="malicious agents and faulty sensors (imagery mode: "
        "sagsim.fusion.sensing.attacks)",
    )
    faults: Faults = Field(
        default_factory=Faults,
        description="platform failures, station, link and sensor faults, blackouts",
    )
    reward: Reward = Field(default_factory=Reward, description="team reward weights")
    env: EnvSettings = Field(default_factory=EnvSettings, description="RL interface settings")

    @field_validator("epoch_utc")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        # A naive time in a scenario is taken as UTC; an offset is converted to UTC.
        try:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 with an offset: outside datetime's range
            value = None
        if value is None or not EARLIEST_EPOCH_UTC <= value <= LATEST_END_UTC:
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
        names = [g.name for g in self.satellites + self.drones + self.open_data] + [
            s.name for s in self.ground_stations
        ]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"names must be unique, repeated: {', '.join(duplicates)}")
        n_walker = sum(g.count or 0 for g in self.satellites + self.open_data)
        if n_walker > MAX_SATELLITES:
            raise ValueError(f"at most {MAX_SATELLITES:,} satellites, got {n_walker:,}")
        if sum(d.count for d in self.drones) > MAX_DRONES:
            raise ValueError(f"at most {MAX_DRONES:,} drones in all")
        if len(self.targets.points) + self.targets.random.count > MAX_TARGETS:
            raise ValueError(f"at most {MAX_TARGETS:,} targets in all")
        return self

    @property
    def n_steps(self) -> int:
        """Environment steps in one episode."""
        return round(self.duration_s / self.step_s)
