"""A fuser that rejects inconsistent sources, so a faulty or malicious agent cannot poison the map.

:class:`RobustFuser` = two consistency tests and a source reputation in front of a
:class:`sagsim.fusion.fusers.KalmanFuser`:

1. **Image-level test** (:mod:`sagsim.fusion.consistency`; needs no overlap). Per band, the image's
   offset, the median of its valid pixels' residuals against the prior mean (the archive
   base map given at reset: no liar can touch it, and every honest source sees the same
   change since it) at the image's ``factor``, is compared with the other sources' latest
   offsets: their median, tolerance k·sqrt(se² + (1.4826·MAD)² + ``offset_floor``²); with
   fewer than ``min_peers`` peers, 0 with the prior variance. A biased source sits its bias
   away from the others. An image inconsistent in any band is **rejected as a whole**: not
   fused, not stored, not used to test others; its valid pixels count as rejected (step 4).
   Only images of at least ``min_image_cells`` cells are judged: a smaller one (a drone's
   8 × 8-cell survey) can lie inside a flood, so its median is the event, not the shared
   change; its offset still counts as a peer's and its pixels go to step 3. Not letting
   step 3 vouch for pixels of a rejected image: where biased coarse images overlap, their
   shared bias is the local majority (vouching cost 1.4 dB on flood_wuhan, 30 % bias).
2. **Evidence store.** Per cell, up to ``slots`` recent values, one per source (and sensor
   kind: an agent's optical and SAR values are kept apart), with their time, per-cell noise
   variance (r·factor², the reward's convention) and whether they were fused. A source
   refreshing a cell replaces its own entry; a new source fills an empty entry or replaces
   the oldest. One source never holds two votes in a cell. Memory: ``slots`` × bands × 8
   bytes per cell (+ 13 bytes per slot).
3. **Per-cell consensus test**, for an image that passed step 1, block by block at its
   ``factor`` (so a coarse pixel is compared with the block mean of the others, not with the
   texture inside it): the entries are the observation's pixel and every other source's
   block mean of its values within ``max_age_s`` of it (all sources, trusted or not: the
   majority decides, so a source wrongly distrusted early can still outvote the liars later).
   Where there are at least ``min_others`` + 1 entries, each entry whose distance to their
   median exceeds k·sqrt(var_e + var_med + (1.4826·MAD)² + floor²) in any band is rejected
   (k = ``k_sigma``; var_e its noise variance, for stored values aged by the process noise
   q·|Δt| to the observation's time; var_med the median of the entries' variances; the MAD
   term widens the test where honest sources legitimately disagree; ``scale_floor`` per band
   covers what the noise model does not: resampling, blur, sub-pixel misregistration).
   Accepted pixels of the observation go to the Kalman filter; rejected ones do not (they
   stay in the store, where the median outvotes them).
4. **Reputation.** Two pixel records per source, fading with ``memory_half_life_s``: the
   per-cell one (every entry tested in step 3, the observation's pixels and the other
   sources' stored values) and the image-level one (the valid pixels of every judged image,
   and of those rejected). A source is *distrusted* when, in its per-cell record, at least
   ``min_tested`` tested pixels include more than ``max_reject_fraction`` rejected, or when
   the same holds in its image-level record and its latest judged image was rejected (so an
   honest source rejected while liars were the majority of its peers, early in a stream,
   is trusted again by its next consistent image). A distrusted source's observations are
   no longer fused (still tested, so it can recover). On becoming distrusted, the map is
   **repaired** where its values were fused: those cells are re-initialised from the
   trusted sources' stored values (their inverse-variance mean, aged by the process noise)
   or the prior (only where fused: re-initialising every cell it had stored, from coarse
   painted blocks where the map held finer data, cost 3.9 dB on flood_wuhan).

Units: map units (reflectance, index) for values, offsets and floors; their squares for
variances; seconds for times and ages; counts in pixels of the observations.

Assumptions (what it can and cannot defend against):

- the prior mean is an honest base map (with a flat prior the offsets are the footprints'
  own levels, which differ: the test widens, or rejects an atypical footprint); honest
  sources are the majority of those that sent an image within ``peer_max_age_s`` (one vote
  each, their latest offset) and share the change since the prior: ground change is local
  (an event covers less than half of a judged image) or common to all;
- a bias smaller than about k·``offset_floor`` (0.03) or than the honest sources' spread
  of offsets passes the image test (index bands, whose offsets vary most, are the weakest:
  a SAR bias of 0.05 in NDWI passes on flood_wuhan); so do misbehaviours that keep the
  median (zero-mean noise, stuck or dropped pixels, a small false event, a stale replay):
  those are left to the per-cell test;
- for the per-cell test, honest sources are the majority among the recent values of a cell
  (``slots`` must exceed twice the number of liars that can reach a cell in a row: 8
  tolerates 3 in a row); where fewer than ``min_others`` others have seen a cell a pixel of
  an image that passed step 1 is fused untested;
- misbehaviour is persistent per source: a source that lies rarely stays trusted, and its
  few lies are caught only where others see the same cells; liars that collude on the same
  false values and reach a cell first form a local majority there until honest sources
  outnumber them;
- a genuine change (a flood appearing) looks like a false event to the per-cell test until
  enough sources have seen it: an honest pixel showing it is rejected until the recent
  values agree (the median flips) or the older ones fall outside ``max_age_s``, so events
  enter the map with that delay; honest sources' reputations barely suffer because events
  cover few pixels.

The variance is the Kalman filter's (of the accepted data).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sagsim.fusion.consistency import MAD_TO_STD, MIN_GATE_PIXELS, OFFSET_FLOOR, OffsetGate
from sagsim.fusion.fusers import MIN_OBS_VARIANCE, Fuser, KalmanFuser, paint, per_band
from sagsim.fusion.observation import Observation
from sagsim.sensor_kinds import source_kind_key, source_of_key

__all__ = ["MAD_TO_STD", "MAX_SLOTS", "RobustFuser"]

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
    """Image-level and per-cell tests + source reputation + Kalman filter (see the module
    doc)."""

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
        offset_floor=OFFSET_FLOOR,
        min_peers: int = 2,
        peer_max_age_s: float = 86_400.0,
        min_image_cells: int = 1_024,
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
        self._offset_floor_arg = offset_floor
        self.min_peers = int(min_peers)
        self.peer_max_age_s = float(peer_max_age_s)
        self.min_image_cells = int(min_image_cells)

    def _reset(self) -> None:
        self.kalman = KalmanFuser(self._prior_variance_arg, self._process_noise_arg)
        self.kalman.reset(self.n_bands, self.shape, self.t_s, self.prior_mean)
        self.scale_floor = per_band(self._scale_floor_arg, self.n_bands, "scale_floor")
        k, (rows, cols) = self.slots, self.shape
        self.slot_key = np.full((k, rows, cols), -1, np.int32)
        self.slot_t_s = np.full((k, rows, cols), -np.inf)
        self.slot_fused = np.zeros((k, rows, cols), bool)
        self.slot_value = np.full((k, self.n_bands, rows, cols), np.nan, np.float32)
        self.slot_var = np.zeros((k, self.n_bands, rows, cols), np.float32)
        # Per source: faded pixel counts [tested, rejected] per cell, then per image.
        self._record: dict[int, np.ndarray] = {}
        self._record_t_s: dict[int, float] = {}
        self.distrusted: set[int] = set()
        self.gate = OffsetGate(
            self.n_bands,
            k_sigma=self.k_sigma,
            floor=per_band(self._offset_floor_arg, self.n_bands, "offset_floor"),
            fallback_variance=self.prior_variance,
            min_peers=self.min_peers,
            max_age_s=self.peer_max_age_s,
        )
        self.images_rejected: dict[int, int] = {}
        self._failed_last: set[int] = set()

    def predict(self, t_s: float) -> None:
        super().predict(t_s)
        self.kalman.predict(self.t_s)

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        return self.kalman.estimate()

    def source_report(self) -> dict[int, dict]:
        """Per source (pixel counts faded with the half-life): ``tested`` and ``rejected`` by
        either test (an image rejected as a whole counts all its valid pixels in both),
        ``image_judged`` (valid pixels of its judged images), ``images_rejected`` (images
        rejected as a whole, not faded) and ``trusted``."""
        return {
            s: {
                "tested": rec[0] + rec[3],
                "rejected": rec[1] + rec[3],
                "image_judged": rec[2],
                "images_rejected": self.images_rejected.get(s, 0),
                "trusted": s not in self.distrusted,
            }
            for s, rec in sorted(self._record.items())
        }

    def _trusted_keys(self, keys: np.ndarray) -> np.ndarray:
        ok = keys >= 0
        if self.distrusted:
            ok &= ~np.isin(source_of_key(keys), list(self.distrusted))
        return ok

    def _update(self, observation: Observation) -> None:
        source = int(observation.source)
        values = np.asarray(observation.values, np.float32)
        valid = np.asarray(observation.valid, bool) & np.isfinite(values).all(axis=0)
        judged, consistent = self._image_test(observation, values, valid)
        if judged:
            n = int(valid.sum())
            self._tally(source, n, 0 if consistent else n, image=True)
            if consistent:
                self._failed_last.discard(source)
            else:
                self._failed_last.add(source)
        if not consistent:  # rejected as a whole
            self.images_rejected[source] = self.images_rejected.get(source, 0) + 1
            self._review_trust()
            return
        tested, rejected = self._consensus(observation, values, valid)
        self._tally(source, int(tested.sum()), int(rejected.sum()))
        self._review_trust()
        accept = valid & ~rejected
        fused = source not in self.distrusted
        self._store(observation, accept & fused)
        if fused:
            self.kalman.update(dataclasses.replace(observation, valid=accept))

    def _image_test(self, obs: Observation, values: np.ndarray, valid: np.ndarray):
        """The image-level test (see the module doc): (judged, consistent)."""
        r0, r1, c0, c1 = obs.window
        bands, f, (h, w) = np.asarray(obs.band_index), obs.factor, valid.shape
        prior = self.prior_mean[bands, r0:r1, c0:c1].reshape(len(bands), h, f, w, f)
        key = source_kind_key(int(obs.source), obs.kind)
        judged = (r1 - r0) * (c1 - c0) >= self.min_image_cells and valid.sum() >= MIN_GATE_PIXELS
        args = (key, obs.t_s, bands, values, valid, prior.mean(axis=(2, 4)))
        return judged, self.gate.judge(*args, judged=judged)

    def _review_trust(self) -> None:
        """Distrust sources that fail too often (and repair the map), trust them again when
        their record recovers."""
        newly = []
        for source, rec in self._record.items():
            tested, rejected = rec[0::2], rec[1::2]
            bad = (tested >= self.min_tested) & (rejected > self.max_reject_fraction * tested)
            bad = bad[0] or (bad[1] and source in self._failed_last)
            if bad and source not in self.distrusted:
                self.distrusted.add(source)
                newly.append(source)
            elif not bad:
                self.distrusted.discard(source)
        for source in newly:
            self._repair(source)

    def _tally(self, source: int, tested: int, rejected: int, image: bool = False) -> None:
        """Add a test's counts to ``source``'s per-cell (or image-level) record, older counts
        fading with the half-life."""
        age = self.t_s - self._record_t_s.get(source, self.t_s)
        record = self._record.get(source, np.zeros(4)) * 0.5 ** (age / self.memory_half_life_s)
        record[2 * image : 2 * image + 2] += (tested, rejected)
        self._record[source] = record
        self._record_t_s[source] = self.t_s

    def _consensus(self, obs: Observation, values: np.ndarray, valid: np.ndarray):
        """Test the observation and the other sources' recent values in its window against
        their consensus, block by block at the observation's ``factor``; tally the other
        sources tested; return the observation's tested and rejected pixels ``(h, w)``."""
        r0, r1, c0, c1 = obs.window
        f = obs.factor
        keys = self.slot_key[:, r0:r1, c0:c1]
        dt = np.abs(self.slot_t_s[:, r0:r1, c0:c1] - obs.t_s)
        owner = source_of_key(keys)
        recent = (keys >= 0) & (owner != obs.source) & (dt <= self.max_age_s)
        sources = np.unique(owner[recent])
        cells = [np.nonzero(m) for m in recent]
        index = [np.searchsorted(sources, owner[k][rr, cc]) for k, (rr, cc) in enumerate(cells)]
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
        for i, source in enumerate(sources.tolist()):
            self._tally(source, int(tested[i].sum()), int(rejected[i].sum()))
        return tested[-1], rejected[-1]

    def _store(self, obs: Observation, fused: np.ndarray) -> None:
        """Write the observation's valid cells into the evidence store (see the module doc)."""
        r0, r1, c0, c1 = obs.window
        f = obs.factor
        key = source_kind_key(int(obs.source), obs.kind)
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
        self.slot_fused[k, rows, cols] = paint(fused, f)[rr, cc]
        self.slot_value[k, :, rows, cols] = np.nan
        self.slot_var[k, :, rows, cols] = 0.0
        for row, band in enumerate(obs.band_index):
            self.slot_value[k, band, rows, cols] = paint(obs.values[row], f)[rr, cc]
            noise = max(float(obs.noise_variance[row]), MIN_OBS_VARIANCE)
            self.slot_var[k, band, rows, cols] = noise * f * f

    def _repair(self, source: int) -> None:
        """Re-initialise the map where ``source``'s stored values were fused, from the
        trusted sources."""
        mask = (
            self.slot_fused & (self.slot_key >= 0) & (source_of_key(self.slot_key) == source)
        ).any(axis=0)
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
