"""A fuser that rejects inconsistent sources, so a faulty or malicious agent cannot poison the map.

:class:`RobustFuser` = a consensus gate in front of a :class:`fusion.fusers.KalmanFuser`:

1. **Evidence store.** Per cell, up to ``slots`` recent values, one per source (and sensor
   kind: an agent's optical and SAR values are kept apart), with their time and per-cell noise
   variance (r·factor², the reward's convention). A source refreshing a cell replaces its own
   entry; a new source fills an empty entry or replaces the oldest. One source never holds
   two votes in a cell. Memory: ``slots`` × bands × 8 bytes per cell (+ 12 bytes per slot).
2. **Consensus test**, at each observation, block by block at its ``factor`` (so a coarse
   pixel is compared with the block mean of the others, not with the texture inside it):
   the entries are the observation's pixel and every other source's block mean of its
   values within ``max_age_s`` of it (all sources, trusted or not: the majority decides, so
   a source wrongly distrusted early can still outvote the liars later). Where there are at
   least ``min_others`` + 1 entries, each entry whose distance to their median exceeds
   k·sqrt(var_e + var_med + (1.4826·MAD)² + floor²) in any band is rejected (k =
   ``k_sigma``; var_e its noise variance, for stored values aged by the process noise
   q·|Δt| to the observation's time; var_med the median of the entries' variances; the MAD
   term widens the test where honest sources legitimately disagree; ``scale_floor`` per band
   covers what the noise model does not: resampling, blur, sub-pixel misregistration).
   Accepted pixels of the observation go to the Kalman filter; rejected ones do not (they
   stay in the store, where the median outvotes them).
3. **Reputation.** Every entry tested (the observation's pixels and the other sources'
   stored values) adds to its source's tested and rejected counts, which fade with
   ``memory_half_life_s``. A source with at least ``min_tested`` tested pixels that rejects
   more than ``max_reject_fraction`` of them is *distrusted*: its observations are no longer
   fused (still tested, so it can recover). On becoming distrusted, the map is **repaired**
   where it has stored values: those cells are re-initialised from the trusted sources'
   stored values (their inverse-variance mean, aged by the process noise) or the prior.

Assumptions (what it can and cannot defend against):

- honest sources are the majority among the recent values of a cell (``slots`` must exceed
  twice the number of liars that can reach a cell in a row: 8 tolerates 3 in a row);
  where fewer than ``min_others`` others have seen a cell a pixel is fused untested, and only
  the source's reputation (earned where it overlaps others) protects the map;
- misbehaviour is persistent per source (a bias, extra noise, false events or stale replays
  over a good share of its pixels): a source that lies rarely stays trusted, and its few
  lies are caught only where others see the same cells;
- at most about 30 % of the sources are malicious; liars that collude on the same false
  values and reach a cell first form a local majority there until honest sources outnumber
  them (then they are rejected, distrusted and the map repaired);
- a genuine change (a flood appearing) looks like a false event until enough sources have
  seen it: an honest pixel showing it is rejected until the recent values agree (the
  median flips) or the older ones fall outside ``max_age_s``, so events enter the map with
  that delay; honest sources' reputations barely suffer because events cover few pixels.

The variance is the Kalman filter's (of the accepted data).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from fusion.fusers import MIN_OBS_VARIANCE, Fuser, KalmanFuser, paint, per_band
from fusion.observation import Observation

__all__ = ["MAD_TO_STD", "MAX_SLOTS", "RobustFuser"]

# σ = 1.4826 MAD for Gaussian data.
MAD_TO_STD = 1.4826
# Values kept per cell at most.
MAX_SLOTS = 32
# Medians over at most this many values use a sorting network, longer ones np.sort.
SORTING_NETWORK_MAX = 8


def _nanmedian0(a: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN (NaN where all are). For a short axis 0 an odd-even
    transposition sorting network of elementwise min/max (much faster than np.sort there)."""
    n = np.isfinite(a).sum(axis=0)
    k = a.shape[0]
    if k == 0:
        return np.full(a.shape[1:], np.nan)
    if k > SORTING_NETWORK_MAX:
        srt = np.sort(a, axis=0)  # NaN sort last
        lo = np.take_along_axis(srt, np.maximum((n - 1) // 2, 0)[None], axis=0)[0]
        hi = np.take_along_axis(srt, np.minimum(n // 2, k - 1)[None], axis=0)[0]
    else:
        rows = [np.where(np.isnan(x), np.inf, x) for x in a]
        for step in range(k):
            for j in range(step % 2, k - 1, 2):
                rows[j], rows[j + 1] = (
                    np.minimum(rows[j], rows[j + 1]),
                    np.maximum(rows[j], rows[j + 1]),
                )
        lo = np.choose(np.maximum((n - 1) // 2, 0), rows)
        hi = np.choose(np.minimum(n // 2, k - 1), rows)
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, 0.5 * (lo + hi), np.nan)


def _block_nanmean(a: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over ``f × f`` blocks of ``a`` ``(..., H, W)`` ignoring NaN, and the count."""
    *lead, hh, ww = a.shape
    blocks = a.reshape(*lead, hh // f, f, ww // f, f)
    ok = np.isfinite(blocks)
    count = ok.sum(axis=(-3, -1))
    total = np.where(ok, blocks, 0.0).sum(axis=(-3, -1), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan), count


class RobustFuser(Fuser):
    """Consensus gate + source reputation + Kalman filter (see the module doc)."""

    name = "robust"

    def __init__(
        self,
        prior_variance=0.01,
        process_noise_per_s=1e-7,
        *,
        k_sigma: float = 3.0,
        scale_floor=0.01,
        slots: int = 8,
        max_age_s: float = 21_600.0,
        min_others: int = 2,
        min_tested: int = 100,
        max_reject_fraction: float = 0.3,
        memory_half_life_s: float = 3_600.0,
    ):
        super().__init__(prior_variance, process_noise_per_s)
        if k_sigma <= 0 or not 2 <= slots <= MAX_SLOTS or min_others < 1:
            raise ValueError(
                f"RobustFuser: need k_sigma > 0, 2 ≤ slots ≤ {MAX_SLOTS}, min_others ≥ 1"
            )
        if not 0 < max_reject_fraction < 1:
            raise ValueError("RobustFuser: need 0 < max_reject_fraction < 1")
        self.k_sigma = float(k_sigma)
        self._scale_floor_arg = scale_floor
        self.slots = int(slots)
        self.max_age_s = float(max_age_s)
        self.min_others = int(min_others)
        self.min_tested = int(min_tested)
        self.max_reject_fraction = float(max_reject_fraction)
        self.memory_half_life_s = float(memory_half_life_s)

    def _reset(self) -> None:
        self.kalman = KalmanFuser(self._prior_variance_arg, self._process_noise_arg)
        self.kalman.reset(self.n_bands, self.shape, self.t_s, self.prior_mean)
        self.scale_floor = per_band(self._scale_floor_arg, self.n_bands, "scale_floor")
        k, (rows, cols) = self.slots, self.shape
        self.slot_key = np.full((k, rows, cols), -1, np.int32)
        self.slot_t_s = np.full((k, rows, cols), -np.inf)
        self.slot_value = np.full((k, self.n_bands, rows, cols), np.nan, np.float32)
        self.slot_var = np.zeros((k, self.n_bands, rows, cols), np.float32)
        self.tested: dict[int, float] = {}
        self.rejected: dict[int, float] = {}
        self._tally_t_s: dict[int, float] = {}
        self.distrusted: set[int] = set()

    def predict(self, t_s: float) -> None:
        super().predict(t_s)
        self.kalman.predict(self.t_s)

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        return self.kalman.estimate()

    def source_report(self) -> dict[int, dict]:
        """Per source: tested and rejected pixel counts and whether it is trusted."""
        return {
            s: {"tested": n, "rejected": self.rejected[s], "trusted": s not in self.distrusted}
            for s, n in sorted(self.tested.items())
        }

    def _trusted_keys(self, keys: np.ndarray) -> np.ndarray:
        ok = keys >= 0
        if self.distrusted:
            ok &= ~np.isin(keys // 2, list(self.distrusted))
        return ok

    def _update(self, observation: Observation) -> None:
        accept = self._consensus(observation)
        self._store(observation)
        self._review_trust()
        if int(observation.source) not in self.distrusted:
            self.kalman.update(dataclasses.replace(observation, valid=accept))

    def _review_trust(self) -> None:
        """Distrust sources that fail too often (and repair the map), trust them again when
        their record recovers."""
        newly = []
        for source, tested in self.tested.items():
            bad = tested >= self.min_tested
            bad = bad and self.rejected[source] > self.max_reject_fraction * tested
            if bad and source not in self.distrusted:
                self.distrusted.add(source)
                newly.append(source)
            elif not bad:
                self.distrusted.discard(source)
        for source in newly:
            self._repair(source)

    def _tally(self, source: int, tested: int, rejected: int) -> None:
        """Add a test's counts to ``source``'s record, older counts fading with the half-life."""
        fade = 0.5 ** ((self.t_s - self._tally_t_s.get(source, self.t_s)) / self.memory_half_life_s)
        self.tested[source] = self.tested.get(source, 0.0) * fade + tested
        self.rejected[source] = self.rejected.get(source, 0.0) * fade + rejected
        self._tally_t_s[source] = self.t_s

    def _consensus(self, obs: Observation) -> np.ndarray:
        """Test the observation and the other sources' recent values in its window against
        their consensus, block by block at the observation's ``factor``; tally every source
        tested; return the observation's accepted pixels ``(h, w)``."""
        r0, r1, c0, c1 = obs.window
        f = obs.factor
        keys = self.slot_key[:, r0:r1, c0:c1]
        dt = np.abs(self.slot_t_s[:, r0:r1, c0:c1] - obs.t_s)
        owner = keys // 2
        recent = (keys >= 0) & (owner != obs.source) & (dt <= self.max_age_s)
        sources = np.unique(owner[recent])
        cells = [np.nonzero(m) for m in recent]
        index = [np.searchsorted(sources, owner[k][rr, cc]) for k, (rr, cc) in enumerate(cells)]
        values = np.asarray(obs.values, np.float32)
        valid = np.asarray(obs.valid, bool) & np.isfinite(values).all(axis=0)
        n_entries = len(sources) + 1  # the others, then the observation
        tested = np.zeros((n_entries, *valid.shape), bool)
        rejected = np.zeros_like(tested)
        noise = np.maximum(np.asarray(obs.noise_variance, float), MIN_OBS_VARIANCE)
        for row, band in enumerate(obs.band_index):
            # Per source: its values and per-cell variances (aged to the observation's time).
            stack = np.full((len(sources), *keys.shape[1:]), np.nan, np.float32)
            var = np.zeros_like(stack)
            for k, (rr, cc) in enumerate(cells):
                v = self.slot_value[k, band, r0:r1, c0:c1][rr, cc]
                ok = np.isfinite(v)
                at = (index[k][ok], rr[ok], cc[ok])
                stack[at] = v[ok]
                aged = (
                    self.slot_var[k, band, r0:r1, c0:c1][rr, cc]
                    + self.process_noise_per_s[band] * dt[k][rr, cc]
                )
                var[at] = aged[ok]
            blocks, count = _block_nanmean(stack, f)
            blocks = np.where(2 * count >= f * f, blocks, np.nan)
            block_var = _block_nanmean(np.where(np.isfinite(stack), var, np.nan), f)[0] / (f * f)
            entries = np.concatenate([blocks, np.where(valid, values[row], np.nan)[None]])
            entry_var = np.concatenate([block_var, np.full((1, *valid.shape), noise[row])])
            present = np.isfinite(entries)
            testable = present & (present.sum(axis=0) >= self.min_others + 1)
            median = _nanmedian0(entries)
            mad = _nanmedian0(np.abs(entries - median))
            median_var = _nanmedian0(np.where(present, entry_var, np.nan))
            tol2 = entry_var + median_var + (MAD_TO_STD * mad) ** 2 + self.scale_floor[band] ** 2
            with np.errstate(invalid="ignore"):
                bad = testable & ((entries - median) ** 2 > self.k_sigma**2 * tol2)
            tested |= testable
            rejected |= bad
        for i, source in enumerate([*sources.tolist(), int(obs.source)]):
            self._tally(source, int(tested[i].sum()), int(rejected[i].sum()))
        return valid & ~rejected[-1]

    def _store(self, obs: Observation) -> None:
        """Write the observation's valid cells into the evidence store (see the module doc)."""
        r0, r1, c0, c1 = obs.window
        f = obs.factor
        key = 2 * int(obs.source) + (obs.kind == "sar")
        cells = paint(np.asarray(obs.valid, bool), f)
        keys = self.slot_key[:, r0:r1, c0:c1]
        times = self.slot_t_s[:, r0:r1, c0:c1]
        match = keys == key
        slot = np.where(match.any(axis=0), match.argmax(axis=0), times.argmin(axis=0))
        current = np.take_along_axis(times, slot[None], axis=0)[0]
        rr, cc = np.nonzero(cells & (current <= obs.t_s))
        if rr.size == 0:
            return
        k, rows, cols = slot[rr, cc], rr + r0, cc + c0
        self.slot_key[k, rows, cols] = key
        self.slot_t_s[k, rows, cols] = obs.t_s
        self.slot_value[k, :, rows, cols] = np.nan
        self.slot_var[k, :, rows, cols] = 0.0
        for row, band in enumerate(obs.band_index):
            self.slot_value[k, band, rows, cols] = paint(obs.values[row], f)[rr, cc]
            noise = max(float(obs.noise_variance[row]), MIN_OBS_VARIANCE)
            self.slot_var[k, band, rows, cols] = noise * f * f

    def _repair(self, source: int) -> None:
        """Re-initialise the map where ``source`` left values, from the trusted sources."""
        mask = ((self.slot_key >= 0) & (self.slot_key // 2 == source)).any(axis=0)
        if not mask.any():
            return
        keys = self.slot_key[:, mask]  # (K, N)
        times = self.slot_t_s[:, mask]
        ok = self._trusted_keys(keys)
        newest = np.where(ok, times, -np.inf).max(axis=0)
        ok &= times >= newest - self.max_age_s
        age = np.where(ok, self.t_s - times, 0.0)
        for band, grid in enumerate(self.kalman.grids):
            v = self.slot_value[:, band][:, mask].astype(float)
            okb = ok & np.isfinite(v)
            var = self.slot_var[:, band][:, mask] + self.process_noise_per_s[band] * age
            weight = np.where(okb, 1.0 / np.maximum(var, MIN_OBS_VARIANCE), 0.0)
            total = weight.sum(axis=0)
            seen = total > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(seen, (weight * np.where(okb, v, 0.0)).sum(axis=0) / total, 0.0)
                variance = np.where(seen, 1.0 / total, self.prior_variance[band])
            mean = np.where(seen, mean, self.prior_mean[band][mask])
            grid.assign(mask, mean, variance)
