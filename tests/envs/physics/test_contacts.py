"""Contact windows vs skyfield ``find_events`` and their invariants."""

import datetime as dt
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skyfield.api import EarthSatellite, load, wgs84

from sagsim.envs.physics.contacts import contact_windows, contact_windows_many
from sagsim.envs.physics.orbits import Constellation
from sagsim.envs.physics.skyfield_reference import complete_passes

ISS_L1 = "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991"
ISS_L2 = "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482"
START = dt.datetime(2019, 12, 9, 12, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)
MASK_DEG = 10.0
STATIONS = np.array(  # lat_deg, lon_deg, alt_m
    [
        [78.23, 15.39, 500.0],  # Svalbard (> 75° N)
        [-77.85, 166.67, 10.0],  # McMurdo (< 75° S)
        [0.0, -78.5, 2800.0],  # equator
        [-17.7, 179.9, 0.0],  # next to the antimeridian
    ]
)
# Acceptance criterion; skyfield itself refines events to ~0.5 s, ours to 0.01 s.
CONTACT_TIME_TOLERANCE_S = 1.0
# Elevation at a refined rise/set: 0.01 s of time × ≤ 1°/s elevation rate, plus slack.
MASK_ELEVATION_TOLERANCE_DEG = 0.02


@lru_cache(maxsize=1)
def constellation():
    iss = Constellation.from_tle(["ISS", ISS_L1, ISS_L2])
    polar = Constellation.walker_delta(
        total=4, planes=2, phasing=1, altitude_m=550e3, inclination_deg=87.9, epoch_utc=START
    )
    return Constellation(iss.satrecs + polar.satrecs, iss.names + polar.names)


def skyfield_complete_passes(satrec, lat, lon, alt):
    ts = load.timescale(builtin=True)
    t0, t1 = ts.from_datetime(START), ts.from_datetime(END)
    sat = EarthSatellite.from_satrec(satrec, ts)
    t, ev = sat.find_events(wgs84.latlon(lat, lon, elevation_m=alt), t0, t1, MASK_DEG)
    sec = (t.tt - t0.tt) * 86400.0
    return complete_passes(sec, ev)


def test_contacts_match_skyfield_four_stations():
    con = constellation()
    table = contact_windows_many(con, *STATIONS.T, START, END, MASK_DEG)
    n_compared = 0
    for k, (lat, lon, alt) in enumerate(STATIONS):
        for i, satrec in enumerate(con.satrecs):
            ref = skyfield_complete_passes(satrec, lat, lon, alt)
            sel = (table.station_idx == k) & (table.sat_idx == i) & table.complete
            ours = np.column_stack([table.rise_t_s[sel], table.set_t_s[sel]])
            assert ours.shape == ref.shape, (k, con.names[i])
            if ref.size:
                assert np.abs(ours - ref).max() <= CONTACT_TIME_TOLERANCE_S
            n_compared += ref.shape[0]
    assert n_compared > 50  # the polar shell passes over both polar stations ~15×/day


def test_contact_windows_datetimes_and_clipping():
    con = constellation()
    lat, lon, alt = STATIONS[1]
    table = contact_windows_many(con, lat, lon, alt, START, END, MASK_DEG)
    windows = contact_windows(con, lat, lon, alt, START, END, MASK_DEG)
    assert len(windows) == con.n_sat
    assert sum(len(w) for w in windows) == table.rise_t_s.size
    # Start inside a pass: it must come back clipped to the new start.
    i = int(np.flatnonzero(table.complete)[0])
    mid = START + dt.timedelta(seconds=float(table.rise_t_s[i] + table.set_t_s[i]) / 2)
    clipped = contact_windows_many(con, lat, lon, alt, mid, END, MASK_DEG)
    first = np.flatnonzero(clipped.sat_idx == table.sat_idx[i])[0]
    assert clipped.rise_clipped[first] and clipped.rise_t_s[first] == 0.0
    w = contact_windows(con, lat, lon, alt, mid, END, MASK_DEG)[table.sat_idx[i]][0]
    assert w[0] == mid and w[0].tzinfo is not None
    assert abs((w[1] - START).total_seconds() - table.set_t_s[i]) < 0.05


def _elevation_deg(con, sat, lat, lon, alt, when_s):
    ts = load.timescale(builtin=True)
    t = ts.from_datetime(START + dt.timedelta(seconds=float(when_s)))
    sky = EarthSatellite.from_satrec(con.satrecs[sat], ts) - wgs84.latlon(lat, lon, alt)
    return sky.at(t).altaz()[0].degrees


@settings(max_examples=25, deadline=None)
@given(
    lat=st.floats(-89.0, 89.0),
    lon=st.floats(-180.0, 180.0),
    start_h=st.floats(0.0, 12.0),
    hours=st.floats(0.5, 6.0),
    mask=st.floats(0.0, 30.0),
)
def test_contact_invariants(lat, lon, start_h, hours, mask):
    con = constellation()
    start = START + dt.timedelta(hours=start_h)
    end = start + dt.timedelta(hours=hours)
    table = contact_windows_many(con, lat, lon, 0.0, start, end, mask)
    duration = hours * 3600.0
    assert np.all(table.rise_t_s >= 0) and np.all(table.set_t_s <= duration + 1e-6)
    assert np.all(table.set_t_s >= table.rise_t_s)
    for i in range(con.n_sat):
        sel = table.sat_idx == i
        rises, sets = table.rise_t_s[sel], table.set_t_s[sel]
        assert np.all(np.diff(rises) > 0) and np.all(rises[1:] >= sets[:-1])
    for j in np.flatnonzero(~table.rise_clipped)[:2]:
        el = _elevation_deg(
            con,
            table.sat_idx[j],
            lat,
            lon,
            0.0,
            (start - START).total_seconds() + table.rise_t_s[j],
        )
        assert el == pytest.approx(mask, abs=MASK_ELEVATION_TOLERANCE_DEG)
