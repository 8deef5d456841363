"""Observation tasks: static targets (points and disc-shaped areas) and dynamic events.

One :class:`TaskSet` holds every task as a struct of arrays, shape ``(n_task,)``, static
targets first (listed, then drawn), events after them in scenario order. A task is a disc
on the ground: centre (lon, lat), radius ``radius_m(t_s)`` in ground metres, a priority,
and an active interval. Static targets are active throughout with a constant radius (a
point is a disc of half a grid cell). An event is inactive before ``start_s``, then a disc
that grows at ``growth_mps`` from ``initial_radius_m`` up to ``max_radius_m`` (a flood
spreading, a fire front advancing: the simplest model with a size and a speed).

Drawn targets use the *scenario* seed (``scenario.seed``), so the map of targets is part
of the scenario, the same in every episode; episodes differ in clouds and behaviour.

For the fusion centre's information, each task owns a fixed set of *sample cells* on the
region grid: the cells of its disc at its largest radius, thinned to at most
``MAX_SAMPLES_PER_SIDE``² by a regular stride (large areas are sampled, not enumerated, to
keep a step cheap). ``sample_dist_m`` is each sample's ground distance from the centre, so
the cells inside the current radius are ``sample_dist_m <= radius_m(t)[sample_task]``.

Units: m, s, deg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sagsim.envs.physics.geodesy import geodetic_to_ecef, geodetic_up_ecef
from sagsim.envs.physics.region_grid import RegionGrid
from sagsim.envs.scenario.schema import Scenario
from sagsim.envs.scenario.schema.mission import Event

__all__ = ["EVENT_KINDS", "MAX_SAMPLES_PER_SIDE", "TaskSet"]

MAX_SAMPLES_PER_SIDE = 16
EVENT_KINDS = ("target", "flood", "fire", "landslide", "oil_spill", "other")


@dataclass(eq=False)
class TaskSet:
    """Every task of a scenario (see the module docstring). Arrays ``(n,)`` unless noted.

    ``kind``: index into :data:`EVENT_KINDS` (0 = static target). ``x_m``/``y_m``: centre in
    the grid frame; ``row``/``col``: its cell; ``r_ecef_m``/``up_ecef``: ``(n, 3)`` centre
    position on the ellipsoid and geodetic up; ``scale_x``/``scale_y``: grid metres per
    ground metre east/north at the centre. ``max_gsd_m``: the coarsest ground sample
    distance that informs the task (m; +inf: any; events: any). Samples
    (``(n_samples,)``): ``sample_task``, ``sample_row``, ``sample_col``, ``sample_flat``
    (row × n_cols + col, for fast takes from a grid), ``sample_dist_m``.
    """

    names: list[str]
    kind: np.ndarray
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    row: np.ndarray
    col: np.ndarray
    r_ecef_m: np.ndarray
    up_ecef: np.ndarray
    priority: np.ndarray
    start_s: np.ndarray
    initial_radius_m: np.ndarray
    growth_mps: np.ndarray
    max_radius_m: np.ndarray
    max_gsd_m: np.ndarray
    scale_x: np.ndarray
    scale_y: np.ndarray
    sample_task: np.ndarray
    sample_row: np.ndarray
    sample_col: np.ndarray
    sample_flat: np.ndarray
    sample_dist_m: np.ndarray

    @property
    def n(self) -> int:
        """Number of tasks."""
        return len(self.names)

    def radius_m(self, t_s: float) -> np.ndarray:
        """Current radius of every task (m, ``(n,)``); 0 before an event starts."""
        age = t_s - self.start_s
        grown = self.initial_radius_m + self.growth_mps * np.maximum(age, 0.0)
        return np.where(age >= 0.0, np.minimum(grown, self.max_radius_m), 0.0)

    def active(self, t_s: float) -> np.ndarray:
        """``(n,)`` bool: the task exists at ``t_s``."""
        return self.start_s <= t_s

    def sample_inside(self, t_s: float) -> np.ndarray:
        """``(n_samples,)`` bool: the sample cell lies inside its task's current disc."""
        return self.sample_dist_m <= self.radius_m(t_s)[self.sample_task]

    def window(self, k: np.ndarray, half_width_m: np.ndarray, grid: RegionGrid):
        """Grid windows (r0, r1, c0, c1), each ``(m,)`` int, of squares of half-width
        ``half_width_m`` (ground m) centred on tasks ``k``, clipped to the grid."""
        res = grid.resolution_m
        hc = np.ceil(half_width_m * self.scale_x[k] / res - 0.5).astype(np.int64)
        hr = np.ceil(half_width_m * self.scale_y[k] / res - 0.5).astype(np.int64)
        n_rows, n_cols = grid.shape
        r0 = np.clip(self.row[k] - hr, 0, n_rows)
        r1 = np.clip(self.row[k] + hr + 1, 0, n_rows)
        c0 = np.clip(self.col[k] - hc, 0, n_cols)
        c1 = np.clip(self.col[k] + hc + 1, 0, n_cols)
        return r0, r1, c0, c1

    def cover(self, half_width_m: float, grid: RegionGrid) -> np.ndarray:
        """``(n, n_samples)`` float 0/1: sample cell j lies in the scene of an image of
        half-width ``half_width_m`` (ground m) centred on task i (the :meth:`window`,
        clipped to the grid), whichever task the sample belongs to."""
        r0, r1, c0, c1 = self.window(np.arange(self.n), np.full(self.n, float(half_width_m)), grid)
        row, col = self.sample_row[None, :], self.sample_col[None, :]
        inside = (row >= r0[:, None]) & (row < r1[:, None])
        inside &= (col >= c0[:, None]) & (col < c1[:, None])
        return inside.astype(float)

    def event_boxes(self, kind: str, grid: RegionGrid) -> np.ndarray:
        """``grid.shape`` bool: the squares (:meth:`window`, clipped to the grid) around the
        discs of the tasks of ``kind`` (an :data:`EVENT_KINDS` name) at their largest, where
        an event's extent is scored; all False without such a task."""
        area = np.zeros(grid.shape, bool)
        k = np.flatnonzero(self.kind == EVENT_KINDS.index(kind))
        for r0, r1, c0, c1 in zip(*self.window(k, self.max_radius_m[k], grid), strict=True):
            area[r0:r1, c0:c1] = True
        return area

    @classmethod
    def from_scenario(cls, scenario: Scenario, grid: RegionGrid) -> TaskSet:
        """Listed targets, drawn targets (scenario seed) and events, in that order."""
        cols: dict[str, list] = {k: [] for k in ("name", "kind", "lon", "lat", "prio", "start")}
        cols.update({k: [] for k in ("r0", "growth", "rmax", "gsd")})
        half_cell = 0.5 * grid.resolution_m

        def add(name, kind, lon, lat, prio, start, r0, growth, rmax, gsd):
            gsd = np.inf if gsd is None else gsd
            for key, val in zip(
                cols, (name, kind, lon, lat, prio, start, r0, growth, rmax, gsd), strict=True
            ):
                cols[key].append(val)

        for i, p in enumerate(scenario.targets.points):
            r = max(p.radius_m, half_cell)
            add(p.name or f"target-{i}", 0, p.lon_deg, p.lat_deg, p.priority, 0.0, r, 0.0, r,
                p.max_gsd_m)  # fmt: skip
        lon, lat, radius, prio = _draw_targets(scenario, grid)
        first = len(scenario.targets.points)
        drawn_gsd = scenario.targets.random.max_gsd_m
        for j in range(lon.size):
            r = max(float(radius[j]), half_cell)
            add(f"target-{first + j}", 0, lon[j], lat[j], prio[j], 0.0, r, 0.0, r, drawn_gsd)
        for key, values in _event_columns(scenario.events).items():
            cols[key] += values
        return cls._build(cols, grid)

    @classmethod
    def from_events(cls, events: Sequence[Event], grid: RegionGrid) -> TaskSet:
        """The schema ``Event``s alone (a scenario's ``events``), in order and named as
        :meth:`from_scenario` names them, so that their discs follow :meth:`radius_m`."""
        return cls._build(_event_columns(events), grid)

    @classmethod
    def _build(cls, cols: dict[str, list], grid: RegionGrid) -> TaskSet:
        lon = np.asarray(cols["lon"], float)
        lat = np.asarray(cols["lat"], float)
        x, y = grid.to_grid(lon, lat)
        row, col = grid.cell_index(x, y)
        # A task just outside the grid (on its edge) is pinned to the nearest cell.
        row = np.where(row < 0, np.clip(np.round((grid.y_m[0] - y) / grid.resolution_m), 0,
                                        grid.shape[0] - 1), row).astype(np.int64)  # fmt: skip
        col = np.where(col < 0, np.clip(np.round((x - grid.x_m[0]) / grid.resolution_m), 0,
                                        grid.shape[1] - 1), col).astype(np.int64)  # fmt: skip
        kx, ky = grid.scale_factors(lon, lat) if lon.size else (np.ones(0), np.ones(0))
        rmax = np.asarray(cols["rmax"], float)
        samples = _samples(row, col, x, y, rmax, np.asarray(kx), np.asarray(ky), grid)
        return cls(
            names=list(cols["name"]),
            kind=np.asarray(cols["kind"], np.int64),
            lon_deg=lon,
            lat_deg=lat,
            x_m=np.asarray(x, float),
            y_m=np.asarray(y, float),
            row=row,
            col=col,
            r_ecef_m=geodetic_to_ecef(lon, lat, np.zeros_like(lon)).reshape(-1, 3),
            up_ecef=geodetic_up_ecef(lat, lon).reshape(-1, 3),
            priority=np.asarray(cols["prio"], float),
            start_s=np.asarray(cols["start"], float),
            initial_radius_m=np.asarray(cols["r0"], float),
            growth_mps=np.asarray(cols["growth"], float),
            max_radius_m=rmax,
            max_gsd_m=np.asarray(cols["gsd"], float),
            scale_x=np.asarray(kx, float),
            scale_y=np.asarray(ky, float),
            **samples,
        )


def _event_columns(events: Sequence[Event]) -> dict[str, list]:
    """:meth:`TaskSet._build`'s columns of schema ``Event``s (named ``KIND-INDEX`` when
    unnamed, the index in ``events``)."""
    attrs = {"lon": "lon_deg", "lat": "lat_deg", "prio": "priority", "start": "start_s",
             "r0": "initial_radius_m", "growth": "growth_mps", "rmax": "max_radius_m"}  # fmt: skip
    cols = {"name": [e.name or f"{e.kind}-{i}" for i, e in enumerate(events)],
            "kind": [EVENT_KINDS.index(e.kind) for e in events]}  # fmt: skip
    cols.update({key: [getattr(e, a) for e in events] for key, a in attrs.items()})
    cols["gsd"] = [np.inf] * len(events)  # an event's extent: any image informs it
    return cols


def _draw_targets(scenario: Scenario, grid: RegionGrid):
    """Seeded random targets inside the region mask: (lon, lat, radius_m, priority)."""
    spec = scenario.targets.random
    rng = np.random.default_rng([scenario.seed, 0x7A56])
    n = spec.count
    inside_r, inside_c = np.nonzero(grid.mask)
    res = grid.resolution_m
    if spec.distribution == "uniform":
        pick = rng.integers(0, inside_r.size, size=n)
        x = grid.x_m[inside_c[pick]] + rng.uniform(-0.5, 0.5, n) * res
        y = grid.y_m[inside_r[pick]] + rng.uniform(-0.5, 0.5, n) * res
    else:
        centres = rng.integers(0, inside_r.size, size=spec.clusters)
        cx, cy = grid.x_m[inside_c[centres]], grid.y_m[inside_r[centres]]
        clon, clat = grid.to_lonlat(cx, cy)
        kx, ky = grid.scale_factors(clon, clat)
        which = rng.integers(0, spec.clusters, size=n)
        x = cx[which] + rng.normal(0.0, spec.cluster_spread_m, n) * kx[which]
        y = cy[which] + rng.normal(0.0, spec.cluster_spread_m, n) * ky[which]
        r, c = grid.cell_index(x, y)
        ok = r >= 0
        ok[ok] = grid.mask[r[ok], c[ok]]
        # Points drawn outside the region fall back to their cluster centre's cell.
        x, y = np.where(ok, x, cx[which]), np.where(ok, y, cy[which])
    lon, lat = grid.to_lonlat(x, y)
    radius = rng.uniform(spec.radius_m_min, spec.radius_m_max, n)
    priority = rng.uniform(spec.priority_min, spec.priority_max, n)
    return lon, lat, radius, priority


def _samples(row, col, x, y, rmax, kx, ky, grid: RegionGrid) -> dict[str, np.ndarray]:
    """Sample cells of every task's largest disc (at most MAX_SAMPLES_PER_SIDE² each)."""
    res = grid.resolution_m
    out: dict[str, list[np.ndarray]] = {"task": [], "row": [], "col": [], "dist": []}
    for k in range(row.size):  # once per episode build, not on the step path
        hr = int(np.ceil(rmax[k] * ky[k] / res))
        hc = int(np.ceil(rmax[k] * kx[k] / res))
        sr = max(1, int(np.ceil((2 * hr + 1) / MAX_SAMPLES_PER_SIDE)))
        sc = max(1, int(np.ceil((2 * hc + 1) / MAX_SAMPLES_PER_SIDE)))
        rows = np.arange(row[k] - hr, row[k] + hr + 1, sr)
        cols_ = np.arange(col[k] - hc, col[k] + hc + 1, sc)
        rr, cc = np.meshgrid(rows, cols_, indexing="ij")
        rr, cc = rr.ravel(), cc.ravel()
        ok = (rr >= 0) & (rr < grid.shape[0]) & (cc >= 0) & (cc < grid.shape[1])
        rr, cc = rr[ok], cc[ok]
        dx = (grid.x_m[cc] - x[k]) / kx[k]
        dy = (grid.y_m[rr] - y[k]) / ky[k]
        dist = np.hypot(dx, dy)
        keep = dist <= rmax[k]
        if not keep.any():  # a disc smaller than a cell: its own cell
            rr, cc, dist, keep = np.array([row[k]]), np.array([col[k]]), np.zeros(1), [True]
        out["task"].append(np.full(int(np.count_nonzero(keep)), k, np.int64))
        out["row"].append(rr[keep])
        out["col"].append(cc[keep])
        out["dist"].append(dist[keep])

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    rows, cols = cat(out["row"], np.int64), cat(out["col"], np.int64)
    return {
        "sample_task": cat(out["task"], np.int64),
        "sample_row": rows,
        "sample_col": cols,
        "sample_flat": rows * grid.shape[1] + cols,
        "sample_dist_m": cat(out["dist"], float),
    }
