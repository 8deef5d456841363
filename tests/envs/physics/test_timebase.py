"""Time conversions vs skyfield's own Julian-date split and UT1."""

import datetime as dt

import numpy as np

from sagsim.envs.physics.timebase import (
    DAY_S,
    TimeGrid,
    jd_utc_split_us,
    timescale,
    to_datetime64_us,
)

# Float64 Julian dates near 2.46e6 resolve ~4e-11 day; we compare in seconds.
JD_TOLERANCE_S = 1e-5


def test_split_and_ut1_match_skyfield():
    epoch = dt.datetime(2024, 2, 28, 23, 59, 30, tzinfo=dt.UTC)
    t_s = np.linspace(0.0, 3 * 86400.0, 97)
    g = TimeGrid.from_offsets(epoch, t_s)
    t = timescale().utc(2024, 2, 28, 23, 59, 30.0 + t_s)
    sgp4_frac = t.tai_fraction - t._leap_seconds() / DAY_S
    assert np.all((g.jd_utc_fraction >= 0) & (g.jd_utc_fraction < 1))
    np.testing.assert_allclose(
        (g.jd_whole - t.whole) + (g.jd_utc_fraction - sgp4_frac), 0.0, atol=JD_TOLERANCE_S / DAY_S
    )
    np.testing.assert_allclose(
        (g.jd_whole - t.whole) + (g.jd_ut1_fraction - t.ut1_fraction),
        0.0,
        atol=JD_TOLERANCE_S / DAY_S,
    )


def test_datetime_forms_agree():
    times = [
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=s) for s in (0, 1.5, 86400)
    ]
    us = to_datetime64_us(times)
    assert us.dtype == np.dtype("datetime64[us]")
    g = TimeGrid.from_times(times)
    np.testing.assert_allclose(g.t_s, [0.0, 1.5, 86400.0])
    assert g.utc_datetimes() == times
    w, f = jd_utc_split_us(us[:1])
    assert w[0] == 2460310.0 and f[0] == 0.5
    sub = g.at_offsets([43200.0])
    np.testing.assert_allclose(sub.dut1_s, np.interp(43200.0, g.t_s, g.dut1_s))
