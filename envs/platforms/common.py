"""Small array helpers shared by the fleets (storage, input checks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SECONDS_PER_HOUR = 3600.0


def as_vector(value: object, n: int, name: str, dtype: type = float) -> np.ndarray:
    """``value`` broadcast to a fresh ``(n,)`` array of ``dtype``; a clear error otherwise."""
    array = np.asarray(value, dtype=dtype)
    if array.shape == (n,):  # the step path's common case: skip broadcast_to's overhead
        return array.copy()
    try:
        return np.broadcast_to(array, (n,)).astype(dtype, copy=True)
    except ValueError:
        raise ValueError(f"{name} must have shape ({n},), got {array.shape}") from None


def entity_names(group_names: Sequence[str], counts: Sequence[int]) -> list[str]:
    """``"<group>-<k>"`` for k = 0 … count-1 of every group, in group order."""
    return [f"{g}-{k}" for g, c in zip(group_names, counts, strict=True) for k in range(c)]


def store_bits(
    storage_bits: np.ndarray, capacity_bits: np.ndarray, bits: np.ndarray, alive: np.ndarray
) -> np.ndarray:
    """Add ``bits`` where the whole amount fits (in place); return the accepted mask ``(n,)``.

    All-or-nothing per entity: a product that does not fit is refused, never truncated
    (an image is not useful in part). Storing 0 bits is always accepted on a live entity.
    """
    bits = as_vector(bits, storage_bits.shape[0], "bits")
    if np.any(bits < 0) or not np.all(np.isfinite(bits)):
        raise ValueError("bits to store must be finite and ≥ 0")
    accepted = alive & (storage_bits + bits <= capacity_bits)
    storage_bits += np.where(accepted, bits, 0.0)
    return accepted


def drain_bits(storage_bits: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Remove up to ``bits`` (in place, never below 0); return the bits removed ``(n,)``."""
    bits = as_vector(bits, storage_bits.shape[0], "bits")
    if np.any(bits < 0) or np.any(np.isnan(bits)):
        raise ValueError("bits to drain must be ≥ 0")
    drained = np.minimum(bits, storage_bits)
    storage_bits -= drained
    # Guard against -1e-6-style residue from float subtraction.
    np.maximum(storage_bits, 0.0, out=storage_bits)
    return drained
