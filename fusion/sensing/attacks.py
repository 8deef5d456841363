"""Malicious sources and faulty sensors: what a bad agent does to its observations.

Kinds (:data:`KINDS`), each with its parameters and defaults (:data:`DEFAULTS`):

Malicious (the agent lies on purpose; tag ``"malicious:<kind>"``):

- ``bias``: a constant ``offset`` added to every band of every pixel (values' units, after the
  indices: the sensor model's ``bias`` hook, or :func:`bias` on an observation);
- ``noise``: extra zero-mean Gaussian noise of standard deviation ``std`` × the band's data
  range (1 for reflectances, 2 for the indices), independent per band and pixel, while the
  observation still claims its nominal ``noise_variance`` (:func:`noise`);
- ``false_event``: a fake flood or fire painted into a disc of ``radius_m`` (ground m) centred
  on a pixel where the truth shows no event: reflectances set to the scene's turbid flood
  water (:data:`sagsim.fusion.sensing.scene.FLOOD_SPEC`) or burn scar
  (:data:`sagsim.fusion.sensing.scene.SCAR_SPEC`) signature and both indices recomputed from them; a
  SAR observation (NDWI only) gets the flood's NDWI, and is left alone for a fire (SAR does not
  measure the burn index) (:func:`false_event`);
- ``stale_replay``: the agent re-sends its oldest observation that is at least ``min_age_s``
  old, stamped with the new acquisition time, instead of the new one; until it has one it
  sends honest data (:func:`stale_replay`, :class:`Adversary`).

Faulty (the sensor fails; tag ``"faulty:<kind>"``), through the sensor model's hooks
(:func:`sagsim.fusion.sensing.sensor_model.acquire`, step 6):

- ``stuck``: a ``fraction`` of pixels, drawn per acquisition, report ``value`` in every band
  and stay valid;
- ``dropped``: a ``fraction`` of pixels are lost (invalid, filled with ``DROPPED_FILL``).

Who misbehaves: :func:`assign` draws ``round(fraction × n)`` of the candidate sources with a
seeded generator (all with one kind), or takes an explicit ``{source: kind}`` per agent.
:class:`Adversary` is one bad source: ``acquire_kwargs`` (hook faults, passed to ``acquire``)
and ``apply(observation, rng)`` (the rest; stateful for ``stale_replay``), tagging
everything it returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np

from sagsim.envs.scenario.schema.mission import BAD_SOURCE_DEFAULTS
from sagsim.fusion.observation import Observation
from sagsim.fusion.sensing.scene import BANDS, DATA_RANGE, FLOOD_SPEC, N_REFLECTANCE, SCAR_SPEC

__all__ = [
    "ATTACKS",
    "DEFAULTS",
    "FAULTS",
    "KINDS",
    "Adversary",
    "assign",
    "bias",
    "choose_sources",
    "false_event",
    "noise",
    "sensor_faults",
    "stale_replay",
    "tag_for",
]

ATTACKS = ("bias", "noise", "false_event", "stale_replay")
FAULTS = ("stuck", "dropped")
KINDS = ATTACKS + FAULTS
# Each kind's parameters and defaults: the scenario schema's table (its ``bad_sources.params``
# are checked against it).
DEFAULTS: dict[str, dict] = BAD_SOURCE_DEFAULTS
NDWI, BURN = BANDS.index("ndwi"), BANDS.index("burn")
GREEN, NIR, SWIR2 = BANDS.index("green"), BANDS.index("nir"), BANDS.index("swir2")
# Centre draws for a false event that avoid the true events before giving up.
FALSE_EVENT_TRIES = 20


def tag_for(kind: str) -> str:
    """The observation tag of a kind: ``"malicious:<kind>"`` or ``"faulty:<kind>"``."""
    if kind not in KINDS:
        raise ValueError(f"unknown attack {kind!r}; choose one of {', '.join(KINDS)}")
    return f"{'faulty' if kind in FAULTS else 'malicious'}:{kind}"


def _params(kind: str, params: Mapping) -> dict:
    tag_for(kind)
    unknown = set(params) - set(DEFAULTS[kind])
    if unknown:
        raise ValueError(
            f"{kind}: unknown parameter(s) {sorted(unknown)}; allowed: {sorted(DEFAULTS[kind])}"
        )
    return {**DEFAULTS[kind], **params}


def _tagged(obs: Observation, kind: str, **changes) -> Observation:
    return dataclasses.replace(obs, tag=tag_for(kind), **changes)


def _ranges(obs: Observation) -> np.ndarray:
    """Data range of each row of ``obs.values`` (1 reflectance, 2 index)."""
    return np.asarray(DATA_RANGE)[np.asarray(obs.band_index)]


def choose_sources(sources: Iterable[int], fraction: float, rng: np.random.Generator):
    """``round(fraction × n)`` of the ``n`` ``sources``, drawn without replacement: sorted
    int array (fraction in [0, 1])."""
    src = np.unique(np.asarray(list(sources), dtype=np.int64))
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"malicious fraction must be in [0, 1], got {fraction}")
    k = round(fraction * src.size)
    return np.sort(rng.choice(src, size=k, replace=False)) if k else src[:0]


def assign(
    sources: Iterable[int],
    rng: np.random.Generator,
    *,
    fraction: float = 0.0,
    attack: str = "bias",
    per_agent: Mapping[int, str] | None = None,
) -> dict[int, str]:
    """Which sources misbehave and how: ``per_agent`` ({source: kind}) when given, else
    ``attack`` for ``round(fraction × n)`` of ``sources`` drawn with ``rng``."""
    if per_agent is not None:
        for kind in per_agent.values():
            tag_for(kind)
        return {int(s): str(k) for s, k in per_agent.items()}
    tag_for(attack)
    return {int(s): attack for s in choose_sources(sources, fraction, rng)}


def sensor_faults(kind: str, **params) -> dict:
    """``acquire`` keyword arguments of a hook kind (bias, stuck, dropped); {} otherwise."""
    p = _params(kind, params)
    if kind == "bias":
        return {"bias": float(p["offset"])}
    if kind == "stuck":
        return {"stuck_fraction": float(p["fraction"]), "stuck_value": float(p["value"])}
    if kind == "dropped":
        return {"dropped_fraction": float(p["fraction"])}
    return {}


def bias(obs: Observation, offset: float = DEFAULTS["bias"]["offset"]) -> Observation:
    """``obs`` with ``offset`` added to every band of every pixel (as the sensor hook)."""
    return _tagged(obs, "bias", values=(obs.values + np.float32(offset)).astype(np.float32))


def noise(
    obs: Observation, rng: np.random.Generator, std: float = DEFAULTS["noise"]["std"]
) -> Observation:
    """``obs`` plus N(0, (std × data range)²) per band and pixel; ``noise_variance`` kept."""
    scale = (float(std) * _ranges(obs)).astype(np.float32)[:, None, None]
    extra = rng.standard_normal(obs.values.shape, dtype=np.float32) * scale
    return _tagged(obs, "noise", values=(obs.values + extra).astype(np.float32))


def _signature(event: str) -> np.ndarray:
    """All bands (:data:`BANDS`) of a flood's or a burn scar's spectrum."""
    spec = np.asarray(FLOOD_SPEC if event == "flood" else SCAR_SPEC, np.float64)
    out = np.empty(len(BANDS), np.float32)
    out[:N_REFLECTANCE] = spec
    out[NDWI] = (spec[GREEN] - spec[NIR]) / (spec[GREEN] + spec[NIR])
    out[BURN] = (spec[SWIR2] - spec[NIR]) / (spec[SWIR2] + spec[NIR])
    return out


def false_event(
    obs: Observation,
    rng: np.random.Generator,
    *,
    cell_m: float,
    event: str = "flood",
    radius_m: float = DEFAULTS["false_event"]["radius_m"],
    scene=None,
) -> Observation:
    """``obs`` with a fake ``event`` ("flood" | "fire") disc of ``radius_m`` (see the module
    doc). ``cell_m`` the grid's cell side; ``scene`` (optional) an
    :class:`sagsim.fusion.sensing.scene.Scene`
    whose true event extent at ``obs.t_s`` the disc's centre avoids."""
    if event not in ("flood", "fire"):
        raise ValueError(f"false_event: event must be flood or fire, got {event!r}")
    _, h, w = obs.values.shape
    values = obs.values.copy()
    if h == 0 or w == 0:
        return _tagged(obs, "false_event", values=values)
    r0, _, c0, _ = obs.window
    f = obs.factor
    truth_event = scene.event_mask_at(obs.t_s) if scene is not None else None
    for _ in range(FALSE_EVENT_TRIES):
        ci, cj = int(rng.integers(h)), int(rng.integers(w))
        if truth_event is None or not truth_event[r0 + ci * f + f // 2, c0 + cj * f + f // 2]:
            break
    rad_px = max(0.5, float(radius_m) / (float(cell_m) * f))
    ii, jj = np.ogrid[:h, :w]
    disc = (ii - ci) ** 2 + (jj - cj) ** 2 <= rad_px**2
    sig = _signature(event)
    if not (obs.kind == "sar" and event == "fire"):  # SAR rows are NDWI only
        for row, band in enumerate(np.asarray(obs.band_index)):
            values[row][disc] = sig[band]
    return _tagged(obs, "false_event", values=values)


def stale_replay(old: Observation, t_s: float) -> Observation:
    """``old`` (an earlier observation) re-sent with acquisition time ``t_s``."""
    return _tagged(
        old, "stale_replay", values=old.values.copy(), valid=old.valid.copy(), t_s=float(t_s)
    )


class Adversary:
    """One misbehaving source of ``kind`` (see the module doc); ``params`` override
    :data:`DEFAULTS`. ``scene`` and ``cell_m`` are needed by ``false_event`` (the scene is
    optional: without it the fake disc may land on a true event)."""

    def __init__(self, kind: str, *, scene=None, cell_m: float | None = None, **params):
        self.kind, self.params = kind, _params(kind, params)
        self.scene = scene
        self.cell_m = float(
            cell_m if cell_m is not None else scene.grid.resolution_m if scene is not None else 1.0
        )
        self.acquire_kwargs = sensor_faults(kind, **params)
        self._history: list[Observation] = []

    @property
    def tag(self) -> str:
        return tag_for(self.kind)

    def apply(self, obs: Observation, rng: np.random.Generator) -> Observation:
        """What the source sends for the acquisition ``obs`` (hook kinds: ``obs`` as
        acquired with :attr:`acquire_kwargs`, tagged)."""
        p = self.params
        if self.kind == "noise":
            return noise(obs, rng, p["std"])
        if self.kind == "false_event":
            return false_event(
                obs,
                rng,
                cell_m=self.cell_m,
                event=p["event"],
                radius_m=p["radius_m"],
                scene=self.scene,
            )
        if self.kind == "stale_replay":
            old = [o for o in self._history if o.t_s <= obs.t_s - p["min_age_s"]]
            if old:
                return stale_replay(old[0], obs.t_s)
            self._history.append(obs)
            return _tagged(obs, self.kind)
        return _tagged(obs, self.kind)
