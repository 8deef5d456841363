"""The sensor-kind table's key: one integer per (source, kind), undone by source_of_key."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sagsim.sensor_kinds import SENSOR_KINDS, source_kind_key, source_of_key


@given(st.integers(0, 10_000), st.sampled_from(sorted(SENSOR_KINDS)))
def test_the_key_gives_back_its_source_and_is_unique(source, kind):
    key = source_kind_key(source, kind)
    assert source_of_key(key) == source
    others = {source_kind_key(source, k) for k in SENSOR_KINDS if k != kind}
    assert key not in others


def test_the_key_works_on_arrays_and_keeps_the_existing_encoding():
    sources = np.arange(5)
    # Optical and SAR keep the numbers the robust fuser's records had (2 · source + is_sar).
    assert np.array_equal(source_kind_key(sources, "optical"), 2 * sources)
    assert np.array_equal(source_kind_key(sources, "sar"), 2 * sources + 1)
    assert np.array_equal(source_of_key(2 * sources + 1), sources)
