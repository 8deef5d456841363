"""Ground stations: geometry, receivers and the per-step antenna assignment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagsim.envs.platforms.radio import resolve_link
from sagsim.envs.scenario.schema import Scenario

__all__ = ["GroundStations"]


@dataclass(eq=False)
class GroundStations:
    """State arrays of ``n`` ground stations, in scenario order.

    ``(n,)``: ``lat_deg``, ``lon_deg``, ``alt_m`` (above WGS84), ``min_elevation_deg``
    (satellite elevation mask), ``antennas`` (int, simultaneous satellite links),
    ``rx_antenna_gain_dbi`` and ``system_noise_temperature_k`` (the station's ``radio``
    overrides resolved against ``comms.space_to_ground``); ``names``.
    """

    names: list[str]
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    alt_m: np.ndarray
    min_elevation_deg: np.ndarray
    antennas: np.ndarray
    rx_antenna_gain_dbi: np.ndarray
    system_noise_temperature_k: np.ndarray

    @property
    def n(self) -> int:
        """Number of stations."""
        return len(self.names)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> GroundStations:
        """Build the station arrays from ``scenario.ground_stations``."""
        stations = scenario.ground_stations
        links = [resolve_link(scenario.comms.space_to_ground, s.radio) for s in stations]

        def col(values: list[float]) -> np.ndarray:
            return np.asarray(values, dtype=float)

        return cls(
            names=[s.name for s in stations],
            lat_deg=col([s.lat_deg for s in stations]),
            lon_deg=col([s.lon_deg for s in stations]),
            alt_m=col([s.alt_m for s in stations]),
            min_elevation_deg=col([s.min_elevation_deg for s in stations]),
            antennas=np.asarray([s.antennas for s in stations], dtype=np.int64),
            rx_antenna_gain_dbi=col([link.rx_antenna_gain_dbi for link in links]),
            system_noise_temperature_k=col([link.system_noise_temperature_k for link in links]),
        )

    def assign_antennas(
        self,
        requests: np.ndarray,
        priority: np.ndarray,
        preference: np.ndarray | None = None,
        antennas: np.ndarray | None = None,
    ) -> np.ndarray:
        """Grant satellite→station links: ``(n_sat, n_gs)`` bool.

        ``requests`` ``(n_sat, n_gs)`` bool: satellite s wants (and can see) station g.
        ``priority`` ``(n_sat,)``: higher is served first; ties go to the lower index.
        ``preference`` ``(n_sat, n_gs)`` optional: which requested station a satellite tries
        first (higher first, e.g. elevation); by default the lowest station index.
        ``antennas`` ``(n_gs,)`` optional: the antennas still free at each station (some
        may already serve satellites that chose them); by default all of them.

        A grant needs a request; each station grants at most ``antennas[g]`` links and
        each satellite gets at most one station. The result is priority-stable (a
        capacitated deferred acceptance, satellites proposing in preference order,
        stations keeping their highest-priority proposers): no satellite left without a
        link requested a station that serves a lower-priority satellite or has a free
        antenna. Every round is vectorised over satellites and stations; a
        satellite proposes to each station at most once, so it ends.
        """
        req = np.asarray(requests, dtype=bool)
        n_sat = req.shape[0]
        if req.ndim != 2 or req.shape[1] != self.n:
            raise ValueError(f"requests must have shape (n_sat, {self.n}), got {req.shape}")
        prio = np.asarray(priority, dtype=float).reshape(-1)
        if prio.shape != (n_sat,) or np.any(np.isnan(prio)):
            raise ValueError(f"priority must be a NaN-free array of shape ({n_sat},)")
        if preference is None:
            pref = np.zeros(req.shape)
        else:
            pref = np.broadcast_to(np.asarray(preference, dtype=float), req.shape)
        free = self.antennas if antennas is None else np.asarray(antennas)

        # Only satellites with a request take part (usually a few of the constellation);
        # sort them by priority (descending, stable) so a column cumsum ranks them.
        active = np.flatnonzero(req.any(axis=1))
        order = active[np.argsort(-prio[active], kind="stable")]
        req_sorted = req[order]
        pref_sorted = pref[order]
        tried = np.zeros_like(req_sorted)
        held = np.zeros_like(req_sorted)
        rows = np.arange(order.size)
        while True:
            open_ = req_sorted & ~tried & ~held.any(axis=1, keepdims=True)
            proposing = open_.any(axis=1)
            if not proposing.any():
                break
            # argmax takes the first maximum: ties go to the lowest station index.
            choice = np.argmax(np.where(open_, pref_sorted, -np.inf), axis=1)
            proposal = np.zeros_like(held)
            proposal[rows[proposing], choice[proposing]] = True
            tried |= proposal
            candidates = held | proposal
            rank = np.cumsum(candidates, axis=0)  # 1 = best-priority candidate at the station
            held = candidates & (rank <= free[None, :])
        granted = np.zeros_like(req)
        granted[order] = held
        return granted
