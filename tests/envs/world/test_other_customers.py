"""The operator's other customers (sagsim.envs.world.other_customers): their images fill a
satellite's storage outside the region, within its room and its imaging seconds per orbit."""

import numpy as np
import pytest

from sagsim.envs.actions import DOWNLINK, IDLE, RELAY
from sagsim.envs.sag_env import SagEnv
from sagsim.envs.scenario.shipped import resolve_scenario
from sagsim.envs.world.datapath import DataPath
from sagsim.envs.world.other_customers import OtherCustomers

# Float sums of bits over a few hundred steps (bits ~1e9): relative rounding.
BITS_RTOL = 1e-9


def test_area_per_day_becomes_bits_and_scan_seconds_per_step():
    # 8,640 km²/day at 10 s steps is 1 km² a step: at 10 m, 10⁴ pixels of 8 bits; a
    # 1 km swath at 7 km/s scans it in 1/7 s.
    other = OtherCustomers([8640.0, 0.0], [10.0, 10.0], np.array([8.0, 8.0]),
                           [1000.0, 1000.0], 7000.0, 10.0)  # fmt: skip
    assert other.bits_per_step.tolist() == pytest.approx([8e4, 0.0])
    assert other.scan_s_per_step.tolist() == pytest.approx([1 / 7, 0.0])
    assert other.any
    assert not OtherCustomers([0.0], [1.0], np.ones(1), [1.0], 1.0, 1.0).any


def test_acquire_within_the_room_and_the_scan_seconds_left():
    other = OtherCustomers(np.full(3, 8640.0), np.full(3, 10.0), np.full(3, 8.0),
                           np.full(3, 1000.0), 7000.0, 10.0)  # fmt: skip
    # Three satellites then a drone node; the second is busy, the third almost full.
    data = DataPath(np.array([1e9, 1e9, 1e9 + 3e4, 1e9]))
    data.store_other(np.array([0.0, 0.0, 1e9, 0.0]))
    scan_left_s = np.array([0.5 / 7, np.inf, np.inf])  # half a step's scan left
    bits, scan_s = other.acquire(data, np.array([True, False, True]), scan_left_s)
    assert bits.tolist() == pytest.approx([4e4, 0.0, 3e4])
    assert scan_s.tolist() == pytest.approx([0.5 / 7, 0.0, 3e4 / 8e4 / 7])
    assert data.other_bits[3] == 0.0  # drones never image for others


def _idle_run(km2_per_day, n_steps, **group):
    """minimal with its satellite imaging ``km2_per_day`` for others, idle for ``n_steps``:
    the world and the satellite's other bits and whether a task was in view, per step."""
    sc = resolve_scenario("minimal")
    groups = [g.model_dump() for g in sc.satellites]
    groups[0].update(other_customers_km2_per_day=km2_per_day, **group)
    env = SagEnv("minimal", satellites=groups, max_cycles=n_steps)
    env.reset(seed=0)
    w = env.world
    other, in_view = [], []
    while env.agents:
        in_view.append(bool(w.access.satellites(w.k)[1].any()))
        env.step({a: w.top_k + IDLE for a in env.agents})
        other.append(float(w.data.other_bits[0]))
    return w, np.array(other), np.array(in_view)


def test_storage_fills_outside_the_region_and_stops_when_full():
    # A fast rate (for a test) fills the 100 GB recorder after minimal's one pass (steps
    # 394-396) and before the episode's end.
    w, other, in_view = _idle_run(650_000.0, 720)
    capacity = float(w.data.capacity_bits[0])
    per_step = float(w.other_customers.bits_per_step[0])
    added = np.diff(np.concatenate([[0.0], other]))
    room = capacity - np.concatenate([[0.0], other[:-1]])
    expected = np.where(in_view, 0.0, np.minimum(per_step, room))
    np.testing.assert_allclose(added, expected, rtol=BITS_RTOL, atol=1.0)
    full = other >= capacity * (1 - BITS_RTOL)
    assert in_view.any() and full.any()  # both limits happen
    assert np.flatnonzero(in_view).max() < np.flatnonzero(full).min()
    assert w.totals["other_bits_acquired"] == pytest.approx(other[-1])
    assert w.sats.storage_bits[0] == pytest.approx(capacity)


def test_a_duty_cycle_limits_the_other_customers_too():
    budget_s = 30.0
    w, other, _ = _idle_run(4_000_000.0, 400, max_imaging_s_per_orbit=budget_s,
                            storage={"capacity_bits": 1e15})  # fmt: skip
    window = int(w.duty.window_steps[0])
    scan_per_bit = w.other_customers.scan_s_per_step[0] / w.other_customers.bits_per_step[0]
    # Over any orbit, the scan seconds of what was taken fit the budget, and it is used.
    orbit_scan_s = (other[window:] - other[:-window]) * scan_per_bit
    assert orbit_scan_s.max() <= budget_s + 1e-6
    assert orbit_scan_s.max() == pytest.approx(budget_s, rel=1e-6)
    assert w.duty.used_s(w.k)[0] <= budget_s + 1e-9


def test_without_other_customers_nothing_else_takes_room():
    w, other, _ = _idle_run(0.0, 50)
    assert not w.other_customers.any and other.max() == 0.0
    assert w.totals["other_bits_acquired"] == 0.0


def test_other_data_can_go_down_but_are_never_relayed():
    # flood_wuhan: satellites with other customers and ISLs; idle, the team takes nothing.
    env = SagEnv("flood_wuhan", max_cycles=200)
    env.reset(seed=0)
    w = env.world
    relay, downlink = w.top_k + RELAY, w.top_k + DOWNLINK
    could_downlink = False
    while env.agents:
        mask = w.action_mask()[: w.n_sat]
        assert not mask[:, relay].any()
        could_downlink |= bool(mask[:, downlink].any())
        env.step({a: w.top_k + IDLE for a in env.agents})
    assert could_downlink and w.data.other_sent_bits == 0.0  # idle: nothing was sent
    assert w.data.other_bits[: w.n_sat].min() > 0
