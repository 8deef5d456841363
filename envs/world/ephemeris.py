"""Everything about an episode that actions cannot change, computed once per world.

Satellite ECEF states and geodetic nadirs, sunlight on the satellites and at the tasks,
ground-station visibility and the downlink capacity of every (satellite, station) pair at
every step time ``t_k = k × step_s``, k = 0 … n_steps. The step then only indexes these
arrays (time-major, so one step's slice is contiguous).

Link capacity is the link budget at the slant range of the step's start, held for the
step (a 30 s step changes a LEO range by < 10 %; the budget's log2 makes that a few %).
Sun elevation at a task ignores parallax (≤ 0.0025°, see :mod:`sagsim.envs.physics.orbits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagsim.envs.physics.geodesy import ecef_to_geodetic, geodetic_to_ecef, geodetic_up_ecef
from sagsim.envs.physics.orbits import sun_direction_ecef, sun_position_ecef_m, sunlit_fraction
from sagsim.envs.platforms.assembly import SatelliteSet, ground_link_budget
from sagsim.envs.scenario.schema import Scenario
from sagsim.envs.tasks import TaskSet

__all__ = ["EpisodeGeometry"]

# "Never" for time-to-next-contact: larger than any episode (30 days).
NO_CONTACT_S = 1e9


@dataclass(eq=False)
class EpisodeGeometry:
    """Precomputed per-step geometry; ``n_t = n_steps + 1`` samples.

    ``t_s`` ``(n_t,)``; ``sat_r_ecef_m``, ``sat_nadir`` ``(n_t, n_sat, 3)`` (position, unit
    geodetic nadir); ``sat_altitude_m``, ``sat_lat_deg``, ``sat_lon_deg``, ``sat_sunlit``
    (fraction 0..1) ``(n_t, n_sat)``; ``gs_visible`` ``(n_t, n_sat, n_gs)`` bool (elevation ≥
    the station's mask); ``gs_elevation_deg`` and ``gs_bits_per_step`` ``(n_t, n_sat, n_gs)``
    float32 (0 where not visible); ``next_contact_s`` ``(n_t, n_sat)`` seconds until the
    satellite next sees any station (0 while in contact, ``NO_CONTACT_S`` if never);
    ``task_sun_elevation_deg`` ``(n_t, n_task)`` float32; ``gs_r_ecef_m`` ``(n_gs, 3)``.
    """

    t_s: np.ndarray
    sat_r_ecef_m: np.ndarray
    sat_nadir: np.ndarray
    sat_altitude_m: np.ndarray
    sat_lat_deg: np.ndarray
    sat_lon_deg: np.ndarray
    sat_sunlit: np.ndarray
    gs_r_ecef_m: np.ndarray
    gs_visible: np.ndarray
    gs_elevation_deg: np.ndarray
    gs_bits_per_step: np.ndarray
    next_contact_s: np.ndarray
    task_sun_elevation_deg: np.ndarray

    @classmethod
    def compute(
        cls, scenario: Scenario, sats: SatelliteSet, tasks: TaskSet, n_steps: int
    ) -> EpisodeGeometry:
        """Propagate and evaluate everything for ``n_steps`` steps of ``scenario.step_s``."""
        t_s = np.arange(n_steps + 1) * scenario.step_s
        epoch = scenario.epoch_utc
        con = sats.constellation
        n_sat, n_t = con.n_sat, t_s.size
        if n_sat:
            r, _v = con.states_ecef(epoch_utc=epoch, t_s=t_s)
            r = np.ascontiguousarray(np.swapaxes(r, 0, 1))  # (n_t, n_sat, 3)
            r = np.nan_to_num(r, nan=0.0)  # SGP4 failure (decay): parked at the centre
            lon, lat, alt = ecef_to_geodetic(r.reshape(-1, 3))
            lat, lon, alt = (a.reshape(n_t, n_sat) for a in (lat, lon, alt))
            nadir = -geodetic_up_ecef(lat, lon)
            sun_r = sun_position_ecef_m(epoch_utc=epoch, t_s=t_s)
            sunlit = sunlit_fraction(r, sun_r[:, None, :])
        else:
            r = nadir = np.zeros((n_t, 0, 3))
            lat = lon = alt = sunlit = np.zeros((n_t, 0))

        gs = scenario.ground_stations
        gs_lat = np.array([g.lat_deg for g in gs])
        gs_lon = np.array([g.lon_deg for g in gs])
        gs_r = geodetic_to_ecef(gs_lon, gs_lat, np.array([g.alt_m for g in gs])).reshape(-1, 3)
        gs_up = geodetic_up_ecef(gs_lat, gs_lon).reshape(-1, 3)
        d = r[:, :, None, :] - gs_r[None, None, :, :]  # (n_t, n_sat, n_gs, 3)
        rng_m = np.sqrt(np.einsum("tsgk,tsgk->tsg", d, d))
        sin_el = np.einsum("tsgk,gk->tsg", d, gs_up) / np.maximum(rng_m, 1.0)
        el_deg = np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0)))
        mask = np.array([g.min_elevation_deg for g in gs])
        visible = (el_deg >= mask[None, None, :]) & (alt[:, :, None] > 0)
        bits = np.zeros(visible.shape, np.float32)
        for i_grp, group in enumerate(scenario.satellites):  # few groups × few stations
            sel = np.flatnonzero(sats.group_index == i_grp)
            for g in range(len(gs)):
                budget = ground_link_budget(scenario, group, g)
                vis = visible[:, sel, g]
                cap = budget.bits_per_step(rng_m[:, sel, g], scenario.step_s)
                bits[:, sel, g] = np.where(vis, cap, 0.0)

        sun_u, _ = sun_direction_ecef(epoch_utc=epoch, t_s=t_s)
        task_sun = np.degrees(np.arcsin(np.clip(sun_u @ tasks.up_ecef.T, -1.0, 1.0)))
        return cls(
            t_s=t_s,
            sat_r_ecef_m=r,
            sat_nadir=nadir,
            sat_altitude_m=alt,
            sat_lat_deg=lat,
            sat_lon_deg=lon,
            sat_sunlit=sunlit,
            gs_r_ecef_m=gs_r,
            gs_visible=visible,
            gs_elevation_deg=np.where(visible, el_deg, 0.0).astype(np.float32),
            gs_bits_per_step=bits,
            next_contact_s=_time_to_next(visible.any(axis=2), t_s),
            task_sun_elevation_deg=task_sun.astype(np.float32),
        )


def _time_to_next(in_contact: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """``(n_t, n)`` seconds from each step to the next step with ``in_contact`` True."""
    n_t = in_contact.shape[0]
    idx = np.where(in_contact, np.arange(n_t)[:, None], n_t)
    # Reverse running minimum: the index of the next contact at or after each step.
    nxt = np.minimum.accumulate(idx[::-1], axis=0)[::-1]
    t_ext = np.append(t_s, np.inf)
    out = t_ext[nxt] - t_s[:, None]
    return np.where(np.isfinite(out), out, NO_CONTACT_S)
