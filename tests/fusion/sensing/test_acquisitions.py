"""The acquisition schedule (sagsim.fusion.sensing.acquisitions): open-data images on
flood_wuhan."""

import math

import numpy as np
import pytest

from sagsim import envs
from sagsim.envs.physics.orbits import sun_elevation_deg
from sagsim.fusion.sensing.acquisitions import geometry, schedule, sources, static
from sagsim.fusion.sensing.sensor_model import pixel_factor
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def flood():
    return envs.load_scenario(SCENARIOS / "flood_wuhan.yaml")


def _schedule(scenario, seed=0):
    geo = geometry(scenario, scenario.duration_s)
    rng = np.random.default_rng(seed)
    srcs = sources(scenario, geo, None, rng)
    return srcs, schedule(scenario, geo, srcs, scenario.duration_s, rng)


def test_open_data_images_whole_swath_in_daylight_with_its_latency(flood):
    grid, _ = static(flood)
    srcs, acqs = _schedule(flood)
    names = [g.name for g in flood.open_data]
    opened = [a for a in acqs if "open" in srcs[a[1]]]
    per_sat = {}
    for t_s, src, (r0, r1, c0, c1), spec, extra_s in opened:
        mission = flood.open_data[int(geometry(flood, flood.duration_s)["open_group"][
            srcs[src]["open"]])]  # fmt: skip
        assert srcs[src]["name"].split("-")[0] in names
        assert (r0, r1) == (0, grid.shape[0]) and c1 - c0 > 0.9 * grid.shape[1]  # 2,330 km swath
        assert extra_s == mission.latency_s
        assert spec.gsd_m >= mission.sensor.gsd_nadir_m
        assert pixel_factor(spec.gsd_m, grid.resolution_m) >= 2  # coarse on a 250 m grid
        lon0, lat0 = grid.origin
        sun = sun_elevation_deg(lat0, lon0, epoch_utc=flood.epoch_utc, t_s=np.array([t_s]))
        assert float(np.ravel(sun)[0]) >= mission.sensor.min_sun_elevation_deg - 1.0
        per_sat[src] = per_sat.get(src, 0) + 1
    # Five satellites with 2,000–3,000 km swaths: each sees the region once or twice by day.
    assert len(per_sat) == 5 and all(1 <= n <= 3 for n in per_sat.values())


def test_open_data_leaves_the_tasked_schedule_alone(flood):
    _, with_open = _schedule(flood)
    _, without = _schedule(flood.model_copy(update={"open_data": []}))
    tasked = [a for a in with_open if a[4] == 0.0]
    assert len(tasked) == len(without)
    for a, b in zip(tasked, without, strict=True):
        assert a[:3] == b[:3] and math.isclose(a[3].gsd_m, b[3].gsd_m)
