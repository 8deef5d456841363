"""Per-group radio overrides resolved against the scenario's link-class defaults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from sagsim.envs.scenario.schema import GroundRadio, LinkParams, Radio

__all__ = ["link_arrays", "resolve_link"]

L = TypeVar("L", bound=LinkParams)

# Override field name → LinkParams field name. A platform's Radio describes its
# transmitter; a ground station's GroundRadio describes its receiver.
_TX_FIELDS = {
    "tx_power_w": "tx_power_w",
    "antenna_gain_dbi": "tx_antenna_gain_dbi",
    "frequency_hz": "frequency_hz",
    "bandwidth_hz": "bandwidth_hz",
}
_RX_FIELDS = {
    "antenna_gain_dbi": "rx_antenna_gain_dbi",
    "system_noise_temperature_k": "system_noise_temperature_k",
}


def resolve_link(defaults: L, radio: Radio | GroundRadio | None) -> L:
    """Return ``defaults`` with every field that ``radio`` sets (not None) overridden.

    A :class:`~sagsim.envs.scenario.schema.Radio` (transmitter) maps ``tx_power_w``,
    ``antenna_gain_dbi`` → ``tx_antenna_gain_dbi``, ``frequency_hz`` and ``bandwidth_hz``;
    a :class:`~sagsim.envs.scenario.schema.GroundRadio` (receiver) maps ``antenna_gain_dbi`` →
    ``rx_antenna_gain_dbi`` and ``system_noise_temperature_k``. The result has the
    same class as ``defaults`` (e.g. ``AirToGround`` keeps its range fields).
    """
    if radio is None:
        return defaults
    fields = _RX_FIELDS if isinstance(radio, GroundRadio) else _TX_FIELDS
    update = {
        target: getattr(radio, source)
        for source, target in fields.items()
        if getattr(radio, source) is not None
    }
    # The override fields carry the same (or narrower) ranges as LinkParams, so the
    # unvalidated model_copy cannot produce an out-of-range value.
    return defaults.model_copy(update=update) if update else defaults


def link_arrays(links: Sequence[LinkParams], counts: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-entity transmitter arrays ``(n,)`` from per-group links repeated ``counts`` times.

    Keys: ``tx_power_w``, ``tx_antenna_gain_dbi``, ``frequency_hz``, ``bandwidth_hz``.
    """
    return {
        key: np.repeat(np.array([getattr(link, key) for link in links], dtype=float), counts)
        for key in ("tx_power_w", "tx_antenna_gain_dbi", "frequency_hz", "bandwidth_hz")
    }
