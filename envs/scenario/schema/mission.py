"""Mission sections: what to observe (targets, events), the weather (clouds), the fusion
centre's information model, the reward weights and the environment's interface settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sagsim.envs.scenario.agent_names import IMAGING_KINDS, is_agent_name
from sagsim.envs.scenario.schema.base import Latitude, Longitude, Name, Section, unit

MAX_TARGETS = 10_000
MAX_EVENTS = 1_000
MAX_TOP_K = 64


def _max_gsd_field(what: str):
    """A target's resolution need: the coarsest ground sample distance (m) whose images
    inform ``what`` (None: any image)."""
    return Field(None, gt=0.0, le=100_000.0,
                 description=f"the coarsest ground sample distance that informs {what} (none: any)",
                 json_schema_extra=unit("m"))  # fmt: skip


class TargetPoint(Section):
    """A static target: a point (``radius_m`` 0: one grid cell) or a disc-shaped area."""

    name: Name | None = Field(None, description="label (default: target-<index>)")
    lat_deg: Latitude = Field(description="centre latitude")
    lon_deg: Longitude = Field(description="centre longitude")
    radius_m: float = Field(
        0.0,
        ge=0.0,
        le=500_000.0,
        description="area radius (0: a point)",
        json_schema_extra=unit("m"),
    )
    priority: float = Field(
        1.0, gt=0.0, le=100.0, description="relative importance", json_schema_extra=unit("1")
    )
    max_gsd_m: float | None = _max_gsd_field("it")


class RandomTargets(Section):
    """Targets drawn with the scenario seed: uniform over the region, or clustered around
    ``clusters`` uniformly drawn centres (Gaussian spread ``cluster_spread_m``)."""

    count: int = Field(
        0, ge=0, le=MAX_TARGETS, description="number of drawn targets", json_schema_extra=unit("1")
    )
    distribution: Literal["uniform", "clustered"] = Field(
        "uniform", description="uniform over the region or Gaussian clusters"
    )
    clusters: int = Field(
        5,
        ge=1,
        le=1000,
        description="cluster centres (clustered only)",
        json_schema_extra=unit("1"),
    )
    cluster_spread_m: float = Field(
        20_000.0,
        gt=0.0,
        le=2_000_000.0,
        description="1-sigma cluster radius (clustered only)",
        json_schema_extra=unit("m"),
    )
    radius_m_min: float = Field(
        0.0, ge=0.0, le=500_000.0, description="smallest area radius", json_schema_extra=unit("m")
    )
    radius_m_max: float = Field(
        2_000.0,
        ge=0.0,
        le=500_000.0,
        description="largest area radius",
        json_schema_extra=unit("m"),
    )
    priority_min: float = Field(
        1.0, gt=0.0, le=100.0, description="lowest priority", json_schema_extra=unit("1")
    )
    priority_max: float = Field(
        3.0, gt=0.0, le=100.0, description="highest priority", json_schema_extra=unit("1")
    )
    max_gsd_m: float | None = _max_gsd_field("them")

    @model_validator(mode="after")
    def _ranges(self) -> RandomTargets:
        if self.radius_m_min > self.radius_m_max:
            raise ValueError("radius_m_min must be ≤ radius_m_max")
        if self.priority_min > self.priority_max:
            raise ValueError("priority_min must be ≤ priority_max")
        return self


class Targets(Section):
    """Static targets: listed points/areas plus seeded random ones."""

    points: list[TargetPoint] = Field(
        default_factory=list, max_length=MAX_TARGETS, description="listed targets"
    )
    random: RandomTargets = Field(default_factory=RandomTargets, description="drawn targets")


class Event(Section):
    """A dynamic event: appears at ``start_s`` as a disc of ``initial_radius_m`` that grows
    at ``growth_mps`` up to ``max_radius_m`` (a flood spreading, a fire front advancing)."""

    name: Name | None = Field(None, description="label (default: <kind>-<index>)")
    kind: Literal["flood", "fire", "landslide", "oil_spill", "other"] = Field(
        description="what happens (fire: smoke adds cloud over it)"
    )
    start_s: float = Field(
        0.0, ge=0.0, le=30 * 86_400.0, description="appearance time", json_schema_extra=unit("s")
    )
    lat_deg: Latitude = Field(description="centre latitude")
    lon_deg: Longitude = Field(description="centre longitude")
    initial_radius_m: float = Field(
        500.0, gt=0.0, le=500_000.0, description="radius at start", json_schema_extra=unit("m")
    )
    growth_mps: float = Field(
        0.05, ge=0.0, le=100.0, description="radial growth speed", json_schema_extra=unit("m/s")
    )
    max_radius_m: float = Field(
        20_000.0, gt=0.0, le=1_000_000.0, description="largest radius", json_schema_extra=unit("m")
    )
    priority: float = Field(
        5.0, gt=0.0, le=100.0, description="relative importance", json_schema_extra=unit("1")
    )

    @model_validator(mode="after")
    def _radii(self) -> Event:
        if self.max_radius_m < self.initial_radius_m:
            raise ValueError("max_radius_m must be ≥ initial_radius_m")
        return self


class Clouds(Section):
    """Cloud cover: a spatially correlated random field that evolves in time (optical
    sensors cannot see through it; SAR can)."""

    cover_fraction: float = Field(
        0.3, ge=0.0, le=1.0, description="mean cloudy fraction", json_schema_extra=unit("1")
    )
    correlation_length_m: float = Field(
        20_000.0,
        gt=0.0,
        le=5_000_000.0,
        description="spatial correlation length",
        json_schema_extra=unit("m"),
    )
    decorrelation_time_s: float = Field(
        10_800.0,
        gt=0.0,
        le=30 * 86_400.0,
        description="e-folding time of the pattern",
        json_schema_extra=unit("s"),
    )


class Fusion(Section):
    """The fusion centre's per-cell information model (variance of a random-walk state)."""

    prior_variance: float = Field(
        0.01,
        gt=0.0,
        le=1e6,
        description="variance of an unobserved cell (reflectance²)",
        json_schema_extra=unit("reflectance²"),
    )
    process_noise_per_s: float = Field(
        1e-7,
        ge=0.0,
        le=1e3,
        description="variance growth per second (ground change)",
        json_schema_extra=unit("reflectance²/s"),
    )
    fuser: Literal["latest", "kalman", "starfm", "robust", "learned"] = Field(
        "kalman", description="fuser of the imagery perception mode (sagsim.make_fuser)"
    )
    metrics_every_s: float = Field(
        3600.0, gt=0.0, le=30 * 86_400.0, json_schema_extra=unit("s"),
        description="imagery mode: how often the fused map is scored against the truth",
    )  # fmt: skip


# sagsim.fusion.sensing.attacks.KINDS (a test keeps them equal): the schema does not import the
# fusion code.
BadSourceKind = Literal["bias", "noise", "false_event", "stale_replay", "stuck", "dropped"]
# Each kind's parameters and their defaults (sagsim.fusion.sensing.attacks.DEFAULTS, which
# says what they do): here, so that the schema checks ``params`` without the fusion code.
BAD_SOURCE_DEFAULTS: dict[str, dict] = {
    "bias": {"offset": 0.05},  # reflectance: ≈ 5× the scene's change over a few days
    "noise": {"std": 0.05},  # × data range: ≈ 50× the satellites' per-cell noise
    "false_event": {"radius_m": 2_000.0, "event": "flood"},
    "stale_replay": {"min_age_s": 6 * 3_600.0},
    "stuck": {"fraction": 0.2, "value": 0.0},
    "dropped": {"fraction": 0.3},
}


class BadSources(Section):
    """Malicious agents and faulty sensors (``perception: imagery``): what they do to their
    images is :mod:`sagsim.fusion.sensing.attacks` (bias, extra noise, false events, stale replays;
    stuck or dropped pixels). Either a ``fraction`` of the imaging agents, drawn per episode from
    its seed, all with ``kind``, or named ``agents``."""

    fraction: float = Field(
        0.0, ge=0.0, le=1.0, json_schema_extra=unit("1"),
        description="share of the satellites and drones that misbehave (rounded), per episode",
    )  # fmt: skip
    kind: BadSourceKind = Field("bias", description="what the fraction does")
    agents: dict[str, BadSourceKind] = Field(
        default_factory=dict, max_length=10_000,
        description="per agent (sat_<i>, uav_<i>) instead of fraction: {sat_3: bias, uav_0: stuck}",
    )  # fmt: skip
    params: dict[BadSourceKind, dict[str, float | str]] = Field(
        default_factory=dict,
        description="per kind, parameters over the defaults of sagsim.fusion.sensing.attacks, "
        "e.g. {bias: {offset: 0.1}}",
    )  # fmt: skip

    @model_validator(mode="after")
    def _known(self) -> BadSources:
        bad = sorted(a for a in self.agents if not is_agent_name(a, IMAGING_KINDS))
        if bad:
            raise ValueError(
                f"agents: {bad[0]!r} is not an imaging agent (allowed: sat_<i>, uav_<i>)"
            )
        if self.agents and self.fraction > 0:
            raise ValueError("give fraction or agents, not both")
        for kind, params in self.params.items():
            unknown = sorted(set(params) - set(BAD_SOURCE_DEFAULTS[kind]))
            if unknown:
                raise ValueError(f"params.{kind}.{unknown[0]}: unknown (allowed: "
                                 f"{', '.join(sorted(BAD_SOURCE_DEFAULTS[kind]))})")  # fmt: skip
        return self


class Reward(Section):
    """Team reward weights (the formula: :mod:`sagsim.envs.reward`)."""

    @model_validator(mode="before")
    @classmethod
    def _removed_fields(cls, data):
        # Removed, not unknown: say why, so that an older scenario file is easy to mend.
        if isinstance(data, dict) and "latency_half_life_s" in data:
            raise ValueError(
                "latency_half_life_s was removed: the return is the time integral of map "
                "quality, so late data already earn less (delete the line)"
            )
        return data

    information_weight: float = Field(
        1.0,
        ge=0.0,
        le=1e6,
        description="reward per priority-hour of map quality (the time integral of Σ "
        "priority × (1 − variance / prior) over the tasks)",
        json_schema_extra=unit("1/h"),
    )
    energy_cost_per_wh: float = Field(
        0.0005,
        ge=0.0,
        le=1e3,
        description="cost per Wh of activity energy (not bus load)",
        json_schema_extra=unit("1/Wh"),
    )
    infeasible_action_cost: float = Field(
        0.01,
        ge=0.0,
        le=1e3,
        description="cost of choosing a masked action",
        json_schema_extra=unit("1"),
    )


class EnvSettings(Section):
    """The RL interface: candidate list length and episode cap."""

    top_k: int = Field(
        8,
        ge=1,
        le=MAX_TOP_K,
        description="candidate tasks per observation",
        json_schema_extra=unit("1"),
    )
    max_cycles: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="steps before truncation (default: duration)",
        json_schema_extra=unit("1"),
    )
