"""LearnedFuser: a small U-Net that corrects the Kalman map, trained on simulated episodes.

State: the fuser runs a :class:`sagsim.fusion.fusers.KalmanFuser` on every observation and, per
band and cell, also keeps the **latest fine** value (an observation of ``factor`` 1) and the
**latest coarse** value (``factor`` > 1, painted over its cells), each with the time it was
taken; a newer acquisition overwrites only valid cells, a late one only cells it is newer
for (as :class:`sagsim.fusion.fusers.LatestFuser`).

Stack (:func:`stack_features`), :data:`FEATURES` per band, band-major, float32 on the grid:
the Kalman mean, its log variance relative to the prior (clipped to [−20, 0], / 10), the
latest fine value, its age (ln(1 + hours)), its mask, the latest coarse value, its age and
its mask, and the prior mean (the fusion centre's base map, e.g.
:func:`sagsim.fusion.simulate.archive_map`: a registered reference that lets the network judge how
far to trust a misregistered image). Values are normalised per band by its data range: the
Kalman mean as (x − offset) / data_range, with ``offset`` the band's mean over a training
truth (from the checkpoint); the fine, coarse and prior values as their difference from the
Kalman mean, × :data:`DIFF_GAIN` / data_range (0 where there is none). Differences, not
values, because the correction is a function of them: with values the network took ~10×
longer to leave the Kalman map. Last, the latest fine image's misregistration (rows, cols;
cells, clipped to ±5) as :func:`sagsim.fusion.registration.estimate_shift` finds it against the
prior mean when that image arrives, and whether there was one (images smaller than 8 × 8 pixels or
with fewer than 64 valid ones, or a flat prior, have none): the evidence the network needs to
tell a registered fresh image, to keep, from a shifted one, to blend with the base map. A
cell no valid observation of the band ever touched is "unseen".

Estimate: mean = Kalman mean + data_range × U-Net(stack) on seen cells; unseen cells keep
the Kalman mean, which is ``prior_mean`` there (the :class:`sagsim.fusion.fusers.Fuser` contract).
The network's last layer starts at zero, so an untrained network returns the Kalman mean
exactly. **The variance returned is the Kalman variance**: the network gives no uncertainty
of its own, so it is the Kalman filter's bookkeeping (an upper bound in practice, since the
correction lowers the error on the training distribution), not a calibrated variance of the
learned mean.

Checkpoint (``torch.save`` of a dict, written atomically by :meth:`LearnedModel.save`):
``format``, ``config`` (architecture: ``n_bands``, ``width``, ``levels``), ``state_dict``,
``offset`` and ``scale`` (per band), and ``meta`` (scenario, training figures). Default path:
:data:`DEFAULT_CHECKPOINT`, ``fusion/weights/learned_flood_wuhan.pt`` (``python -m
sagsim.fusion.train flood_wuhan`` writes it). Costs on flood_wuhan (489 × 541 cells, 7 bands, the
shipped 84k-parameter network, 2 busy cores): ``estimate()`` is one forward pass of the whole
grid, 0.4–0.7 s; ``update()`` adds the shift estimate of each fine image of at least 8 × 8
pixels, ~1 ms for a drone's 8 × 8 and ~0.1 s for a 489 × 100-cell satellite strip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sagsim.fusion.fusers import (
    DEFAULT_PRIOR_VARIANCE,
    DEFAULT_PROCESS_NOISE_PER_S,
    Fuser,
    KalmanFuser,
    observed_cells,
)
from sagsim.fusion.observation import Observation
from sagsim.fusion.registration import MIN_SIDE_PIXELS, MIN_VALID_PIXELS, estimate_shift

__all__ = [
    "DEFAULT_CHECKPOINT",
    "FEATURES",
    "FusionUNet",
    "LearnedFuser",
    "LearnedModel",
    "default_checkpoint",
    "stack_features",
]

FORMAT = "sagsim-learned-fuser/3"
FEATURES = ("kalman_mean", "kalman_logvar", "fine", "fine_age", "fine_mask",
            "coarse", "coarse_age", "coarse_mask", "prior_mean",
            "fine_shift_rows", "fine_shift_cols", "fine_shift_known")  # fmt: skip
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SECONDS_PER_HOUR = 3600.0
# ln(P / P_prior) is clipped here (a noiseless sensor's 1e-12 floor would reach −23) and
# divided by LOGVAR_SCALE, so the channel lies in [−2, 0].
LOGVAR_MIN, LOGVAR_SCALE = -20.0, 10.0
# Differences from the Kalman mean are ~0.01–0.1 of the range: scaled to ~0.1–1.
DIFF_GAIN = 10.0
# Estimated misregistrations are clipped to ± this many cells.
MAX_SHIFT_CELLS = 5.0
# A prior with a smaller standard deviation over a window is flat: no reference there.
FLAT_PRIOR_STD = 1e-6


def default_checkpoint(scenario: str = "flood_wuhan") -> Path:
    """Where ``python -m sagsim.fusion.train SCENARIO`` writes its weights by default."""
    return WEIGHTS_DIR / f"learned_{scenario}.pt"


DEFAULT_CHECKPOINT = default_checkpoint()


def stack_features(kalman_mean, kalman_var, prior_mean, prior_var, fine, fine_age_h, fine_ok,
                   coarse, coarse_age_h, coarse_ok, fine_shift, fine_shift_known,
                   offset, scale):  # fmt: skip
    """The network's input (see the module doc): ``(n_bands · len(FEATURES), rows, cols)``
    float32, and the per-band seen mask ``(n_bands, rows, cols)`` bool. Arrays are
    ``(n_bands, rows, cols)`` (``fine_shift``: ``(2, n_bands, rows, cols)``, cells);
    ``prior_var``, ``offset`` and ``scale`` ``(n_bands,)``."""
    col = (slice(None), None, None)
    off, sc = np.asarray(offset, float)[col], np.asarray(scale, float)[col]
    seen = fine_ok | coarse_ok
    km = (kalman_mean - off) / sc
    ratio = np.maximum(kalman_var, 1e-300) / np.asarray(prior_var, float)[col]
    logvar = np.clip(np.log(ratio), LOGVAR_MIN, 0.0) / LOGVAR_SCALE
    n_bands, rows, cols = km.shape
    out = np.empty((n_bands, len(FEATURES), rows, cols), np.float32)
    out[:, 0], out[:, 1] = km, logvar
    for k, (value, age_h, ok) in enumerate(((fine, fine_age_h, fine_ok),
                                            (coarse, coarse_age_h, coarse_ok))):  # fmt: skip
        out[:, 2 + 3 * k] = np.where(ok, (value - kalman_mean) * (DIFF_GAIN / sc), 0.0)
        out[:, 3 + 3 * k] = np.where(ok, np.log1p(np.maximum(age_h, 0.0)), 0.0)
        out[:, 4 + 3 * k] = ok
    out[:, 8] = (prior_mean - kalman_mean) * (DIFF_GAIN / sc)
    known = fine_ok & fine_shift_known
    for k in range(2):
        out[:, 9 + k] = np.where(
            known, np.clip(fine_shift[k], -MAX_SHIFT_CELLS, MAX_SHIFT_CELLS), 0
        )
    out[:, 11] = known
    return out.reshape(n_bands * len(FEATURES), rows, cols), seen


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(inplace=True))  # fmt: skip


class FusionUNet(nn.Module):
    """A small U-Net: ``levels`` 2× average-pool steps, ``width·2^min(l,1)`` channels per
    level (width, 2·width, 2·width, …), bilinear upsampling with skip connections, and a
    zero-initialised 1×1 output of one residual per band (normalised units).

    Input ``(batch, n_bands · len(FEATURES), H, W)``, any H, W (edge-padded to a multiple
    of 2^levels inside); output ``(batch, n_bands, H, W)``."""

    def __init__(self, n_bands: int, width: int = 16, levels: int = 2):
        super().__init__()
        self.n_bands, self.width, self.levels = int(n_bands), int(width), int(levels)
        chans = [width * (1 if lv == 0 else 2) for lv in range(levels + 1)]
        self.down = nn.ModuleList([_block(n_bands * len(FEATURES), chans[0])])
        self.down.extend(_block(chans[lv - 1], chans[lv]) for lv in range(1, levels + 1))
        self.up = nn.ModuleList(_block(chans[lv + 1] + chans[lv], chans[lv])
                                for lv in reversed(range(levels)))  # fmt: skip
        self.head = nn.Conv2d(chans[0], n_bands, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.levels
        ph, pw = -h % m, -w % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for lv, block in enumerate(self.down):
            x = block(x if lv == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)[..., :h, :w]


@dataclass
class LearnedModel:
    """A :class:`FusionUNet` with its band normalisation: ``offset`` and ``scale``
    (``(n_bands,)``, the training truths' band means and the bands' data ranges)."""

    net: FusionUNet
    offset: np.ndarray
    scale: np.ndarray
    meta: dict = field(default_factory=dict)

    @classmethod
    def new(cls, n_bands: int, offset, scale, width: int = 16, levels: int = 2, seed: int = 0):
        """An untrained model (zero output layer: reproduces the Kalman mean)."""
        torch.manual_seed(seed)
        offset, scale = (np.asarray(v, float).reshape(n_bands) for v in (offset, scale))
        return cls(FusionUNet(n_bands, width, levels), offset, scale)

    @property
    def config(self) -> dict:
        return {"n_bands": self.net.n_bands, "width": self.net.width, "levels": self.net.levels}

    def save(self, path) -> None:
        """Write the checkpoint (see the module doc) atomically."""
        from sagsim.atomic import replace_atomic

        blob = {"format": FORMAT, "config": self.config, "state_dict": self.net.state_dict(),
                "offset": [float(v) for v in self.offset],
                "scale": [float(v) for v in self.scale], "meta": self.meta}  # fmt: skip
        replace_atomic(path, lambda tmp: torch.save(blob, tmp))

    @classmethod
    def load(cls, path) -> LearnedModel:
        """Read a checkpoint; FileNotFoundError / ValueError with a one-line message."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"LearnedFuser: no checkpoint at {path}; train one with "
                f"`python -m sagsim.fusion.train SCENARIO --out {path}`"
            )
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(blob, dict) or blob.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} checkpoint")
            cfg = blob["config"]
            model = cls.new(cfg["n_bands"], blob["offset"], blob["scale"], cfg["width"],
                            cfg["levels"])  # fmt: skip
            model.net.load_state_dict(blob["state_dict"])
        except Exception as e:  # a foreign, truncated or mismatched file
            why = (str(e).splitlines() or [""])[0]
            raise ValueError(f"LearnedFuser: {path} is not a learned-fuser checkpoint "
                             f"({type(e).__name__}: {why})") from None  # fmt: skip
        model.meta = dict(blob.get("meta", {}))
        model.net.eval()
        return model

    def residual(self, features: np.ndarray) -> np.ndarray:
        """The network's correction, ``(n_bands, rows, cols)`` float64 in map units."""
        with torch.no_grad():
            out = self.net(torch.from_numpy(np.ascontiguousarray(features))[None])[0]
        return out.numpy().astype(np.float64) * self.scale[:, None, None]


class LearnedFuser(Fuser):
    """Kalman map corrected by a trained U-Net (see the module doc).

    Args:
        checkpoint: path of a checkpoint (default :data:`DEFAULT_CHECKPOINT`); a missing
            file is a FileNotFoundError naming it and the command that writes it.
        model: a :class:`LearnedModel` to use instead of a checkpoint (tests, training).
        prior_variance, process_noise_per_s: as every fuser (passed to the Kalman filter).

    ``reset`` needs ``n_bands`` equal to the model's (ValueError otherwise).
    """

    name = "learned"

    def __init__(self, checkpoint=None, prior_variance=DEFAULT_PRIOR_VARIANCE,
                 process_noise_per_s=DEFAULT_PROCESS_NOISE_PER_S, *,
                 model: LearnedModel | None = None):  # fmt: skip
        super().__init__(prior_variance, process_noise_per_s)
        if model is None:
            model = LearnedModel.load(DEFAULT_CHECKPOINT if checkpoint is None else checkpoint)
        self.model = model
        self.kalman = KalmanFuser(prior_variance, process_noise_per_s)

    def _reset(self) -> None:
        if self.n_bands != self.model.net.n_bands:
            raise ValueError(f"LearnedFuser: the model has {self.model.net.n_bands} bands, "
                             f"the map {self.n_bands}")  # fmt: skip
        self.kalman.reset(self.n_bands, self.shape, self.t_s, self.prior_mean)
        shape = (self.n_bands, *self.shape)
        self.fine, self.coarse = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        self.fine_t_s, self.coarse_t_s = np.full(shape, -np.inf), np.full(shape, -np.inf)
        self.fine_shift = np.zeros((2, *shape), np.float32)
        self.fine_shift_known = np.zeros(shape, bool)

    def predict(self, t_s: float) -> None:
        super().predict(t_s)
        self.kalman.predict(self.t_s)

    def _update(self, observation: Observation) -> None:
        self.kalman.update(observation)
        fine = observation.factor == 1
        value, taken = (self.fine, self.fine_t_s) if fine else (self.coarse, self.coarse_t_s)
        shift = self._shift(observation) if fine else None
        for row, band in enumerate(observation.band_index):
            win, values, ok = observed_cells(observation, row)
            ok = ok & (taken[band][win] <= observation.t_s)
            value[band][win] = np.where(ok, values, value[band][win])
            taken[band][win] = np.where(ok, observation.t_s, taken[band][win])
            if fine:
                self.fine_shift_known[band][win] &= ~ok
                if shift is not None:
                    self.fine_shift_known[band][win] |= ok
                    for k in range(2):
                        self.fine_shift[k, band][win] = np.where(
                            ok, shift[k], self.fine_shift[k, band][win]
                        )

    def _shift(self, observation: Observation) -> tuple[float, float] | None:
        """The observation's misregistration (cells) estimated against the prior mean (a
        registered base map), or None: too few pixels, or a flat prior in the window."""
        r0, r1, c0, c1 = observation.window
        valid = np.asarray(observation.valid, bool)
        if min(valid.shape) < MIN_SIDE_PIXELS or valid.sum() < MIN_VALID_PIXELS:
            return None
        ref = self.prior_mean[observation.band_index, r0:r1, c0:c1]
        if ref.reshape(len(ref), -1).std(axis=1).max() < FLAT_PRIOR_STD:
            return None
        return estimate_shift(observation, self.prior_mean)

    def features(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(stack, seen, kalman_mean, kalman_variance)`` now (see :func:`stack_features`)."""
        mean, variance = self.kalman.estimate()
        age = {}
        for name, taken in (("fine", self.fine_t_s), ("coarse", self.coarse_t_s)):
            ok = np.isfinite(taken)
            age[name] = (ok, np.where(ok, self.t_s - taken, 0.0) / SECONDS_PER_HOUR)
        stack, seen = stack_features(
            mean, variance, self.prior_mean, self.prior_variance,
            self.fine, age["fine"][1], age["fine"][0],
            self.coarse, age["coarse"][1], age["coarse"][0], self.fine_shift,
            self.fine_shift_known, self.model.offset, self.model.scale,
        )  # fmt: skip
        return stack, seen, mean, variance

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Kalman mean + the network's correction on seen cells, Kalman variance)``."""
        stack, seen, mean, variance = self.features()
        if seen.any():
            mean = mean + np.where(seen, self.model.residual(stack), 0.0)
        return mean, variance
