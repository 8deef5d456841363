"""Time conversions between UTC datetimes, scenario offsets ``t_s`` and Julian dates.

Core simulator time is float seconds ``t_s`` since a scenario epoch (UTC). Offsets are
POSIX-like: ``epoch_utc + timedelta(seconds=t_s)``; a leap second *inside* a time grid is
not representable (none has been scheduled since 2016).

SGP4 wants the UTC Julian date split as ``(jd_whole, jd_fraction)``; the TEME→ECEF
rotation (GMST 1982) wants UT1. UT1−UTC comes from skyfield's *builtin* timescale (leap
second and ΔT tables shipped with skyfield; never downloaded), evaluated once per time grid.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DAY_S = 86400.0
_DAY_US = 86_400_000_000
# JD of 1970-01-01T00:00 is 2440587.5; in integer microseconds since JD 0.0 (noon-based).
_UNIX_EPOCH_JD0_US = 2440587 * _DAY_US + _DAY_US // 2


@lru_cache(maxsize=1)
def timescale():
    """Return the cached skyfield builtin Timescale (created lazily, no download)."""
    from skyfield.api import load

    return load.timescale(builtin=True)


def to_datetime64_us(times_utc) -> np.ndarray:
    """Convert UTC time(s) to a 1-D ``datetime64[us]`` array, shape (n_t,).

    Accepts a tz-aware ``datetime`` (naive ones are taken as UTC), a sequence of them, or a
    numpy ``datetime64`` scalar/array (taken as UTC).
    """
    if isinstance(times_utc, np.ndarray) and np.issubdtype(times_utc.dtype, np.datetime64):
        return np.atleast_1d(times_utc.astype("datetime64[us]")).ravel()
    if isinstance(times_utc, np.datetime64):
        return np.atleast_1d(times_utc.astype("datetime64[us]"))
    if isinstance(times_utc, _dt.datetime):
        times_utc = [times_utc]
    if not isinstance(times_utc, Sequence | np.ndarray):
        raise TypeError(f"unsupported time type {type(times_utc).__name__}")
    out = np.empty(len(times_utc), dtype="datetime64[us]")
    for i, t in enumerate(times_utc):
        if isinstance(t, _dt.datetime):
            if t.tzinfo is not None:
                t = t.astimezone(_dt.UTC).replace(tzinfo=None)
            out[i] = np.datetime64(t, "us")
        else:
            out[i] = np.datetime64(t, "us")
    return out


def datetime64_to_utc(times_us: np.ndarray) -> list[_dt.datetime]:
    """Convert a ``datetime64`` array, shape (n,), to tz-aware UTC datetimes."""
    us = np.asarray(times_us).astype("datetime64[us]").astype(np.int64)
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return [epoch + _dt.timedelta(microseconds=int(u)) for u in us]


def jd_utc_split_us(times_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTC Julian date split of ``datetime64`` times, shape (n_t,) each.

    ``jd_whole`` is an integer-valued float (noon-based JD), ``jd_fraction`` ∈ [0, 1).
    Integer microsecond arithmetic keeps the split exact.
    """
    us = np.asarray(times_us).astype("datetime64[us]").astype(np.int64) + _UNIX_EPOCH_JD0_US
    whole, rem = np.divmod(us, _DAY_US)
    return whole.astype(np.float64), rem.astype(np.float64) / _DAY_US


def jd_utc_split_offsets(epoch_utc, t_s) -> tuple[np.ndarray, np.ndarray]:
    """UTC Julian date split of ``epoch_utc + t_s`` (t_s: seconds, shape (n_t,))."""
    w0, f0 = jd_utc_split_us(to_datetime64_us(epoch_utc)[:1])
    frac = f0[0] + np.asarray(t_s, dtype=np.float64).ravel() / DAY_S
    carry = np.floor(frac)
    return w0[0] + carry, frac - carry


def dut1_s(jd_whole: np.ndarray, jd_fraction: np.ndarray) -> np.ndarray:
    """UT1 − UTC in seconds, shape (n_t,), from skyfield's builtin tables."""
    # Days since the Unix epoch plus second of day: skyfield's calendar path keeps the
    # leap-second lookup at the right day (passing huge second counts would not).
    days = np.asarray(jd_whole) - 2440587.0
    sod = (np.asarray(jd_fraction) - 0.5) * DAY_S
    t = timescale().utc(1970, 1, 1 + days.astype(np.int64), 0, 0, sod)
    return np.atleast_1d(np.asarray(t.dut1, dtype=np.float64))


@dataclass(frozen=True)
class TimeGrid:
    """A time grid in every form the propagators need; all arrays shape (n_t,).

    Attributes: ``epoch_us`` (datetime64[us] scalar), ``t_s`` (seconds since epoch),
    ``jd_whole`` and ``jd_utc_fraction`` (SGP4 input), ``jd_ut1_fraction`` (UT1 = jd_whole
    + jd_ut1_fraction, for GMST; may fall slightly outside [0, 1)), ``dut1_s`` (UT1−UTC).
    """

    epoch_us: np.datetime64
    t_s: np.ndarray
    jd_whole: np.ndarray
    jd_utc_fraction: np.ndarray
    jd_ut1_fraction: np.ndarray
    dut1_s: np.ndarray

    def __len__(self) -> int:
        return self.t_s.shape[0]

    @classmethod
    def from_times(cls, times_utc) -> TimeGrid:
        """Grid from UTC datetimes or a datetime64 array; epoch = first time."""
        us = to_datetime64_us(times_utc)
        whole, frac = jd_utc_split_us(us)
        t_s = (us - us[0]).astype(np.int64) / 1e6
        d = dut1_s(whole, frac)
        return cls(us[0], t_s, whole, frac, frac + d / DAY_S, d)

    @classmethod
    def from_offsets(cls, epoch_utc, t_s) -> TimeGrid:
        """Grid of ``epoch_utc + t_s`` (t_s seconds, shape (n_t,))."""
        epoch = to_datetime64_us(epoch_utc)[0]
        t_s = np.ascontiguousarray(t_s, dtype=np.float64).ravel()
        whole, frac = jd_utc_split_offsets(epoch, t_s)
        d = dut1_s(whole, frac)
        return cls(epoch, t_s, whole, frac, frac + d / DAY_S, d)

    def at_offsets(self, t_s) -> TimeGrid:
        """Grid at other offsets from the same epoch, UT1−UTC interpolated from this grid.

        Cheap (no skyfield call): used for root refinement. UT1−UTC drifts by ~ms/day, so
        linear interpolation is exact to ~µs unless a leap second falls inside the grid.
        """
        t_s = np.ascontiguousarray(t_s, dtype=np.float64).ravel()
        whole, frac = jd_utc_split_offsets(self.epoch_us, t_s)
        d = np.interp(t_s, self.t_s, self.dut1_s) if len(self) > 1 else np.full_like(t_s, 0.0)
        if len(self) == 1:
            d += self.dut1_s[0]
        return TimeGrid(self.epoch_us, t_s, whole, frac, frac + d / DAY_S, d)

    def utc_datetime64(self) -> np.ndarray:
        """The grid times as datetime64[us], shape (n_t,) (rounded to the microsecond)."""
        return self.epoch_us + np.round(self.t_s * 1e6).astype("timedelta64[us]")

    def utc_datetimes(self) -> list[_dt.datetime]:
        """The grid times as tz-aware UTC datetimes."""
        return datetime64_to_utc(self.utc_datetime64())


def as_time_grid(times_utc=None, *, epoch_utc=None, t_s=None) -> TimeGrid:
    """Normalise any accepted time input to a :class:`TimeGrid`.

    Either ``times_utc`` (TimeGrid, datetime(s) or datetime64 array) or ``epoch_utc`` and
    ``t_s`` (seconds since that epoch).
    """
    if isinstance(times_utc, TimeGrid):
        return times_utc
    if times_utc is not None:
        return TimeGrid.from_times(times_utc)
    if epoch_utc is None or t_s is None:
        raise ValueError("give times_utc, or both epoch_utc and t_s")
    return TimeGrid.from_offsets(epoch_utc, t_s)
