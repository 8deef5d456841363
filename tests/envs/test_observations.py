"""The observation layout (sagsim.envs.observations): the columns by name, and the builder
writing each where its name says."""

from __future__ import annotations

import numpy as np

from sagsim.envs.observations import (
    N_OWN,
    N_SLOT,
    N_TYPES,
    OWN_MEANING,
    SLOT_MEANING,
    Own,
    Slot,
    layout_markdown,
    observation_dim,
    own_index,
    slot_index,
)
from sagsim.envs.sag_env import SagEnv


def test_every_column_has_a_meaning_for_every_agent_type():
    assert set(OWN_MEANING) == set(Own.names().values())
    assert set(SLOT_MEANING) == set(Slot.names().values())
    assert all(len(m) == 3 and all(m) for m in OWN_MEANING.values())
    assert all(len(m) == 2 and all(m) for m in SLOT_MEANING.values())
    assert list(Own.names().values()) == list(range(N_OWN))
    assert list(Slot.names().values()) == list(range(N_SLOT))


def test_indices():
    assert observation_dim(4) == N_TYPES + N_OWN + 4 * N_SLOT
    assert own_index(Own.EAST) == N_TYPES
    assert slot_index(0, Slot.FILLED) == N_TYPES + N_OWN
    assert slot_index(3, Slot.FOOTPRINT_CLOUD) == observation_dim(4) - 1
    table = layout_markdown()
    assert f"| {own_index(Own.SEES_THROUGH_CLOUD)} | `Own.SEES_THROUGH_CLOUD` |" in table
    assert "| 9 | `Slot.PENDING` |" in table


def test_the_builder_writes_the_named_columns():
    env = SagEnv("minimal", max_cycles=40)
    obs, _ = env.reset(seed=0)
    w = env.world
    sat = obs["sat_0"]["observation"]
    assert sat[:N_TYPES].tolist() == [1.0, 0.0, 0.0]
    assert sat[own_index(Own.TIME)] == 0.0
    assert sat[own_index(Own.CHARGE)] == np.float32(w.sats.charge_fraction[0])
    assert sat[own_index(Own.SEES_THROUGH_CLOUD)] == float(not w.sat_cloud_blocked[0])
    options = w.options()
    k = w.top_k
    for slot in range(k):
        task = options.candidates.index[0, slot]
        filled = sat[slot_index(slot, Slot.FILLED)]
        assert filled == float(task >= 0)
        assert sat[slot_index(slot, Slot.FEASIBLE)] == options.candidates.mask[0, slot]
        if task >= 0:
            expected = np.float32(options.task_variance_ratio[task])
            assert sat[slot_index(slot, Slot.VARIANCE)] == expected
            value = options.sat_footprint_value[0, task] / w.tasks.priority.max()
            assert sat[slot_index(slot, Slot.FOOTPRINT_VALUE)] == np.float32(value)
            cloud = np.float32(options.sat_footprint_cloud[0, task])
            assert sat[slot_index(slot, Slot.FOOTPRINT_CLOUD)] == cloud
    station = obs["gs_0"]["observation"]
    assert station[:N_TYPES].tolist() == [0.0, 0.0, 1.0]
    assert station[own_index(Own.CHARGE)] == 1.0
