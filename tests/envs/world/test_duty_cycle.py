"""The imaging duty cycle (sagsim.envs.world.duty_cycle): a sliding orbit of charged scan
seconds, and the mask that keeps a satellite within its budget."""

import numpy as np
import pytest

from sagsim.agents.baselines import GreedyPolicy
from sagsim.agents.episode_metrics import UsageTracker
from sagsim.envs.actions import IDLE
from sagsim.envs.sag_env import SagEnv
from sagsim.envs.scenario.shipped import resolve_scenario
from sagsim.envs.world.duty_cycle import DutyCycle


def test_the_budget_holds_over_a_sliding_orbit():
    # An orbit of 3 steps, 10 s of imaging in it, 4 s scans; the second satellite unlimited.
    duty = DutyCycle(np.array([10.0, np.inf]), np.array([3, 3]), n_steps=10)
    scan = np.array([4.0, 4.0])
    assert duty.allows(0, scan).all()
    duty.charge(0, scan)
    duty.charge(1, np.zeros(2))
    assert duty.allows(2, scan).all()  # steps 0-2: 4 + 4
    assert duty.allows(2, np.array([7.0, 7.0])).tolist() == [False, True]  # 4 + 7 > 10
    duty.charge(2, scan)
    assert duty.used_s(3).tolist() == [8.0, 0.0]  # an unlimited satellite is not tracked
    assert duty.used_fraction(3)[0] == pytest.approx(0.8) and np.isnan(duty.used_fraction(3)[1])
    # Step 3's orbit is steps 1-3: step 0's image has left it, step 2's is in it.
    assert duty.allows(3, np.array([6.0, 6.0])).tolist() == [True, True]  # exactly 10 fits
    assert duty.allows(3, np.array([7.0, 7.0])).tolist() == [False, True]
    duty.charge(3, np.zeros(2))
    assert duty.used_s(4)[0] == 4.0
    duty.reset()
    assert duty.used_s(4)[0] == 0.0 and duty.allows(4, np.array([10.0, 10.0])).all()


def test_without_a_budget_nothing_is_stored_and_everything_is_allowed():
    duty = DutyCycle(np.full(3, np.inf), np.full(3, 5), n_steps=100)
    assert duty.charged_s is None
    duty.charge(0, np.ones(3))
    assert duty.allows(1, np.full(3, 1e9)).all() and duty.used_s(1).tolist() == [0.0] * 3


def test_window_steps_must_be_whole_orbits():
    with pytest.raises(ValueError, match="window_steps"):
        DutyCycle(np.ones(2), np.array([0, 3]), n_steps=5)


# flood_wuhan, seed 0: idle until just before the first pass of its SAR satellites (step 909
# is the first at which greedy has one image; measured), then greedy.
FIRST_PASS_STEP = 900
PASS_END_STEP = 960


def _sar_slots_feasible(limit_s):
    """Per step of the pass, whether each SAR satellite had a feasible image slot, the steps
    at which it chose one, and the UsageTracker's duty metric."""
    sc = resolve_scenario("flood_wuhan")
    groups = [g.model_dump() for g in sc.satellites]
    groups[1]["max_imaging_s_per_orbit"] = limit_s  # the SAR group
    groups[1]["other_customers_km2_per_day"] = 0.0  # its budget is the team's alone
    env = SagEnv("flood_wuhan", max_cycles=PASS_END_STEP, satellites=groups)
    obs, _ = env.reset(seed=0)
    w, greedy = env.world, GreedyPolicy()
    sar = np.flatnonzero(w.sat_group_index == 1)
    names = [env.possible_agents[s] for s in sar]
    usage = UsageTracker(w, env.possible_agents)
    feasible, chosen = [], []
    while env.agents:
        acts = {a: w.top_k + IDLE for a in obs} if w.k < FIRST_PASS_STEP else greedy.act(obs)
        feasible.append([bool(obs[a]["action_mask"][: w.top_k].any()) for a in names])
        chosen.append([acts[a] < w.top_k for a in names])
        obs, _, _, _, infos = env.step(acts)
        obs = {a: obs[a] for a in env.agents}
        usage.step(w, infos)
    return np.array(feasible), np.array(chosen), usage.metrics(), w


def test_a_satellite_that_spent_its_orbit_cannot_image_until_the_orbit_passes():
    free_f, free_c, free_m, w = _sar_slots_feasible(None)
    scan_s = float(w.sat_scan_s[w.sat_group_index == 1].max())
    assert np.isnan(free_m["duty_cycle_peak"])
    # Unlimited, a SAR satellite images more than once in the pass.
    assert free_c.sum(axis=0).max() >= 2
    # A budget of one scan: after its first image the satellite has no feasible slot for
    # the rest of the pass (an orbit is ~570 steps), though it did without the budget.
    f, c, m, _ = _sar_slots_feasible(1.5 * scan_s)
    busy = np.flatnonzero(free_c.sum(axis=0) >= 2)
    for j in busy:
        steps = np.flatnonzero(c[:, j])
        assert steps.size == 1
        assert not f[steps[0] + 1 :, j].any()
        assert free_f[steps[0] + 1 :, j].any()
    assert m["duty_cycle_peak"] == pytest.approx(scan_s / (1.5 * scan_s), rel=0.05)
