"""The operator's other customers: what a shared satellite images outside the region.

A commercial or agency imaging satellite does not work for one region: along the rest of
its orbit it images for other customers, and those images fill the same recorder and need
the same station contacts. That, not the team's own images, is why a real satellite's
recorder fills and its contacts must be chosen (Maxar's WorldView-3 collects up to
680,000 km² a day, eoPortal; the team's region here is 10⁴ km²).

Model (simplified, stated once): a satellite group's ``other_customers_km2_per_day`` is
the area it images per day for others, at its sensor's nominal GSD, bands and bits per
pixel (uncompressed, like the team's images). It is taken at a constant mean rate in every
step in which the satellite is alive, above its minimum charge, not busy with a team image
and has no task in its field of regard (over the region it works for the team), as far as
its free storage and, for a satellite with an imaging duty cycle, the scan seconds left in
its orbit allow (the rest is not taken: the operator does not overbook its recorder). The data are
``DataPath.other_bits``: they take room, are downlinked after the team's images (an
emergency's data are played back first), are never relayed and are worth nothing to the
team's map. Real collection is concentrated over land and, for an optical sensor, in
daylight; a constant rate spreads it over the day. Its energy is not charged to the
battery.

Units: bits, s, m; steps are the environment's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OtherCustomers"]

M2_PER_KM2 = 1e6
SECONDS_PER_DAY = 86_400.0


class OtherCustomers:
    """Other customers' imaging of ``n_sat`` satellites, per step.

    ``km2_per_day`` ``(n_sat,)``: area imaged per day for others (0: none); ``gsd_m``,
    ``bits_per_pixel`` (bands × bits per band), ``swath_m``, ``ground_speed_mps``
    ``(n_sat,)``: the sensor and the ground-track speed that turn area into bits and scan
    seconds; ``step_s``: the step (s)."""

    def __init__(self, km2_per_day, gsd_m, bits_per_pixel, swath_m, ground_speed_mps,
                 step_s: float) -> None:  # fmt: skip
        area_m2 = np.asarray(km2_per_day, float) * M2_PER_KM2 / SECONDS_PER_DAY * step_s
        # Data per step (bits) and the payload's on-time it takes (s).
        self.bits_per_step = area_m2 / np.asarray(gsd_m, float) ** 2 * bits_per_pixel
        self.scan_s_per_step = area_m2 / (np.asarray(swath_m, float) * ground_speed_mps)
        self.any = bool(np.any(self.bits_per_step > 0))

    def acquire(self, data, free_to_image: np.ndarray, scan_left_s: np.ndarray):
        """Take this step's images for others into ``data`` (a
        :class:`~sagsim.envs.world.datapath.DataPath` whose first nodes are the
        satellites) where ``free_to_image`` ``(n_sat,)`` bool; ``scan_left_s`` ``(n_sat,)``:
        scan seconds left in the orbit (``inf``: no limit). Returns the bits stored and the
        scan seconds they took, ``(n_sat,)`` each."""
        n_sat = self.bits_per_step.size
        share = np.where(free_to_image, 1.0, 0.0)
        left_s = np.clip(scan_left_s, 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            by_duty = np.where(self.scan_s_per_step > 0, left_s / self.scan_s_per_step, 1.0)
        share = np.minimum(share, by_duty)
        wanted = np.zeros(data.capacity_bits.size)
        wanted[:n_sat] = self.bits_per_step * share
        stored = data.store_other(wanted)[:n_sat]
        with np.errstate(divide="ignore", invalid="ignore"):
            scan_s = np.where(self.bits_per_step > 0, stored / self.bits_per_step, 0.0)
        return stored, scan_s * self.scan_s_per_step
