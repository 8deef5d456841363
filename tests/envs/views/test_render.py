"""sagsim.envs.views.render: the Agg frame and the text summary of a World."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sagsim import envs
from sagsim.envs.actions import Extra
from sagsim.envs.views.render import TRAIL_LENGTH, DroneTrail, render_ansi, render_rgb
from sagsim.envs.world.world import World
from tests.conftest import SCENARIOS

SIZE = 160


@pytest.fixture(scope="module")
def scenario():
    return envs.load_scenario(SCENARIOS / "minimal.yaml")


def _actions(world: World) -> np.ndarray:
    """A task slot where feasible (drones fly), else IDLE."""
    mask = world.action_mask()
    kk = world.top_k
    acts = np.full(world.n_agents, kk + Extra.IDLE)
    for i, row in enumerate(mask):
        slots = np.flatnonzero(row[:kk])
        if slots.size:
            acts[i] = slots[0]
        elif row[kk + Extra.DOWNLINK]:
            acts[i] = kk + Extra.DOWNLINK
    return acts


def test_rgb_shape_dtype_and_changes(scenario):
    world = World(scenario, n_steps=40)
    trail = DroneTrail()
    first = render_rgb(world, size_px=SIZE, trail=trail)
    assert first.dtype == np.uint8
    assert first.shape == (SIZE, SIZE, 3)
    assert first.min() < first.max()
    start = world.drones.position_xy_m.copy()
    for _ in range(6):
        world.step(_actions(world))
        frame = render_rgb(world, size_px=SIZE, trail=trail)
        assert frame.shape == first.shape and frame.dtype == np.uint8
    assert not np.allclose(world.drones.position_xy_m, start)  # the drone flew
    assert not np.array_equal(frame, first)
    assert trail.update(world).shape == (7, world.n_uav, 2)
    # Without a trail the frame is the same but for the drones' path.
    assert not np.array_equal(render_rgb(world, size_px=SIZE), frame)


def test_rgb_size_is_exact():
    world = World(envs.load_scenario(SCENARIOS / "minimal.yaml"), n_steps=2)
    for size in (64, 101, 333):
        assert render_rgb(world, size_px=size).shape == (size, size, 3)
    with pytest.raises(ValueError, match="size_px"):
        render_rgb(world, size_px=10)


def test_render_does_not_change_state(scenario):
    world = World(scenario, n_steps=20)
    for _ in range(3):
        world.step(_actions(world))
    k = world.k
    queued = world.data.queued_bits.copy()
    variance = world.fusion.variance()
    totals = dict(world.totals)
    pos = world.drones.position_xy_m.copy()
    clouds = world.clouds.z.copy()
    render_rgb(world, size_px=SIZE)
    render_ansi(world)
    assert world.k == k
    np.testing.assert_array_equal(world.data.queued_bits, queued)
    np.testing.assert_array_equal(world.fusion.variance(), variance)
    np.testing.assert_array_equal(world.drones.position_xy_m, pos)
    np.testing.assert_array_equal(world.clouds.z, clouds)
    assert world.totals == totals


def test_trail_bounded_and_reset(scenario):
    world = World(scenario, n_steps=TRAIL_LENGTH + 60)
    trail = DroneTrail()
    assert trail.update(world).shape == (1, world.n_uav, 2)
    assert trail.update(world).shape == (1, world.n_uav, 2)  # once per step index
    for _ in range(TRAIL_LENGTH + 50):
        world.step(np.full(world.n_agents, world.top_k + Extra.IDLE))
        xy = trail.update(world)
    assert xy.shape == (TRAIL_LENGTH, world.n_uav, 2)  # the last TRAIL_LENGTH positions
    np.testing.assert_array_equal(xy[-1], world.drones.position_xy_m)
    render_rgb(world, size_px=64, trail=trail)
    assert trail.update(world).shape == (TRAIL_LENGTH, world.n_uav, 2)
    world.reset(np.random.default_rng(0))  # back in time: the trail starts over
    render_rgb(world, size_px=64, trail=trail)
    assert trail.update(world).shape == (1, world.n_uav, 2)
    other = World(scenario, n_steps=5)
    for _ in range(2):
        other.step(np.full(other.n_agents, other.top_k + Extra.IDLE))
    assert trail.update(other).shape == (1, other.n_uav, 2)  # another world: starts over


def test_ansi(scenario):
    world = World(scenario, n_steps=10)
    world.step(_actions(world))
    world.step(_actions(world))
    text = render_ansi(world)
    assert isinstance(text, str) and text.strip()
    assert "step 2/10" in text
    assert "minimal" in text


def test_no_pyplot():
    code = (
        "import sys, sagsim.envs as envs, sagsim.envs.views.render as r\n"
        "from sagsim.envs.world.world import World\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "w = World(envs.load_scenario('scenarios/minimal.yaml'), n_steps=2)\n"
        "r.render_rgb(w, size_px=64)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    root = SCENARIOS.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_rendered_env_pickles_and_copies_with_its_trail():
    # The trail follows its world by a plain reference: a weak one made a rendered env
    # unpicklable and left a deep copy's trail on the original world.
    import copy
    import pickle

    from sagsim.envs.sag_env import SagEnv

    env = SagEnv("minimal", render_mode="rgb_array", max_cycles=10)
    env.reset(seed=0)
    env.step({})
    first = env.render()
    for clone in (pickle.loads(pickle.dumps(env)), copy.deepcopy(env)):
        assert np.array_equal(clone.render(), first)
