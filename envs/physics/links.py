"""Link geometry and capacity: path loss, link budgets, line of sight, radio horizons, ISLs.

Pure, vectorised functions over numpy arrays (broadcasting over links); no scenario
dependency. Contact windows (rise/set times of ground-station passes) are computed in
:mod:`sagsim.envs.physics.contacts` and re-exported here as
``sagsim.envs.physics.links.contact_windows``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.constants import Boltzmann, speed_of_light

from sagsim.envs.physics.contacts import (
    contact_windows,  # public API: sagsim.envs.physics.links.contact_windows
)
from sagsim.envs.physics.geodesy import EARTH_MEAN_RADIUS_M, WGS84_A_M, WGS84_B_M

__all__ = [
    "LOS_SURFACE_TOLERANCE",
    "LinkBudget",
    "air_ground_link_ok",
    "contact_windows",
    "free_space_path_loss_db",
    "ground_station_visible",
    "isl_feasibility_matrix",
    "isl_feasible",
    "line_of_sight",
    "propagation_latency_s",
    "radio_horizon_m",
]

# Closest approach within this (squared, in units of the inflated ellipsoid) of the surface
# counts as clear: a few mm, so an endpoint lying on the surface does not block itself.
LOS_SURFACE_TOLERANCE = 1e-9


def free_space_path_loss_db(distance_m, frequency_hz) -> np.ndarray:
    """Free-space path loss 20·log10(4π·d·f/c) in dB; broadcasts."""
    d = np.asarray(distance_m, float)
    f = np.asarray(frequency_hz, float)
    return 20.0 * np.log10(4.0 * np.pi * d * f / speed_of_light)


def propagation_latency_s(distance_m) -> np.ndarray:
    """One-way light-time delay d/c in seconds (vacuum)."""
    return np.asarray(distance_m, float) / speed_of_light


@dataclass(frozen=True)
class LinkBudget:
    """A radio link's budget; all methods broadcast over ``distance_m``.

    Attributes:
        tx_power_w: transmitter RF output power (W).
        tx_antenna_gain_dbi, rx_antenna_gain_dbi: antenna gains (dBi).
        frequency_hz: carrier frequency (Hz).
        bandwidth_hz: occupied / noise bandwidth (Hz).
        system_noise_temperature_k: receiver system noise temperature (K).
        losses_db: all other losses (pointing, atmosphere, implementation), dB ≥ 0.
        shannon_efficiency: fraction of the Shannon capacity a real modem achieves, (0, 1].
    """

    tx_power_w: float
    tx_antenna_gain_dbi: float
    rx_antenna_gain_dbi: float
    frequency_hz: float
    bandwidth_hz: float
    system_noise_temperature_k: float
    losses_db: float = 0.0
    shannon_efficiency: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tx_power_w", "frequency_hz", "bandwidth_hz", "system_noise_temperature_k"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"LinkBudget.{name} must be a positive number, got {value}")
        if not (math.isfinite(self.losses_db) and self.losses_db >= 0.0):
            raise ValueError(f"LinkBudget.losses_db must be ≥ 0 dB, got {self.losses_db}")
        if not (0.0 < self.shannon_efficiency <= 1.0):
            raise ValueError(
                f"LinkBudget.shannon_efficiency must be in (0, 1], got {self.shannon_efficiency}"
            )

    @property
    def eirp_dbw(self) -> float:
        """Effective isotropic radiated power (dBW)."""
        return 10.0 * math.log10(self.tx_power_w) + self.tx_antenna_gain_dbi

    @property
    def noise_power_dbw(self) -> float:
        """Thermal noise power k·T·B at the receiver (dBW)."""
        noise_w = Boltzmann * self.system_noise_temperature_k * self.bandwidth_hz
        return 10.0 * math.log10(noise_w)

    def snr_db(self, distance_m) -> np.ndarray:
        """Signal-to-noise ratio (dB): EIRP + G_rx − FSPL − losses − 10·log10(k·T·B)."""
        fspl = free_space_path_loss_db(distance_m, self.frequency_hz)
        return (
            self.eirp_dbw + self.rx_antenna_gain_dbi - fspl - self.losses_db - self.noise_power_dbw
        )

    def capacity_bps(self, distance_m) -> np.ndarray:
        """Achievable rate (bit/s): shannon_efficiency · B · log2(1 + SNR)."""
        snr = 10.0 ** (self.snr_db(distance_m) / 10.0)
        return self.shannon_efficiency * self.bandwidth_hz * np.log2(1.0 + snr)

    def bits_per_step(self, distance_m, step_s) -> np.ndarray:
        """Bits deliverable in one step of ``step_s`` seconds at constant range."""
        return self.capacity_bps(distance_m) * np.asarray(step_s, float)


def line_of_sight(r_a_ecef_m, r_b_ecef_m, grazing_altitude_m=0.0) -> np.ndarray:
    """Whether the segment between ECEF points clears the (inflated) WGS84 ellipsoid.

    Scaling coordinates by (1/(a+g), 1/(a+g), 1/(b+g)) makes the ellipsoid with both
    semi-axes inflated by the grazing altitude g a unit sphere, and keeps segments
    straight; the segment is clear when its closest approach to the origin is outside it.
    Inflating the semi-axes by g approximates "height g above the ellipsoid": exact at
    the equator and the poles, in between the inflated surface is lower by ~g²e²/(2a)
    at most (0.11 m at 45° for g = 80 km, measured), negligible for link geometry.

    Args:
        r_a_ecef_m, r_b_ecef_m: (..., 3) endpoints (m), broadcastable.
        grazing_altitude_m: minimum clearance (m), e.g. ~80 km to keep ISLs above the
            dense atmosphere; broadcasts with the leading shape.

    Returns:
        bool array of the broadcast leading shape; symmetric in (a, b). Endpoints below
        the grazing surface are not meaningful (a ground station's visibility is an
        elevation mask instead, see :func:`sagsim.envs.physics.geodesy.look_angles`).
    """
    g = np.asarray(grazing_altitude_m, float)[..., None]
    scale = 1.0 / (np.array([WGS84_A_M, WGS84_A_M, WGS84_B_M]) + g)
    a = np.asarray(r_a_ecef_m, float) * scale
    b = np.asarray(r_b_ecef_m, float) * scale

    def closest_sq(p, q):
        d = q - p
        dd = np.sum(d * d, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.where(dd > 0, -np.sum(p * d, axis=-1) / dd, 0.0), 0.0, 1.0)
        c = p + t[..., None] * d
        return np.sum(c * c, axis=-1)

    # Evaluating from both ends and keeping the worse makes the result exactly symmetric.
    closest = np.minimum(closest_sq(a, b), closest_sq(b, a))
    return closest >= 1.0 - LOS_SURFACE_TOLERANCE


def ground_station_visible(elevation_deg, min_elevation_deg) -> np.ndarray:
    """Elevation mask: True where ``elevation_deg >= min_elevation_deg``."""
    return np.asarray(elevation_deg) >= np.asarray(min_elevation_deg)


def radio_horizon_m(h1_m, h2_m, k_factor=4.0 / 3.0) -> np.ndarray:
    """Maximum line-of-sight range (m) between antennas at heights h1 and h2 above ground.

    sqrt(2kR·h1) + sqrt(2kR·h2) with R the mean Earth radius. k = 4/3 is the standard
    atmosphere's refraction bending radio rays, modelled as a straight-ray Earth 4/3 larger.
    """
    kr = 2.0 * k_factor * EARTH_MEAN_RADIUS_M
    h1 = np.maximum(np.asarray(h1_m, float), 0.0)
    h2 = np.maximum(np.asarray(h2_m, float), 0.0)
    return np.sqrt(kr * h1) + np.sqrt(kr * h2)


def air_ground_link_ok(distance_m, h_tx_m, h_rx_m, max_range_m) -> np.ndarray:
    """Drone–ground (or drone–drone) link feasible: within equipment range and radio horizon."""
    d = np.asarray(distance_m, float)
    return (d <= np.asarray(max_range_m, float)) & (d <= radio_horizon_m(h_tx_m, h_rx_m))


def isl_feasible(r_a_ecef_m, r_b_ecef_m, max_range_m, grazing_altitude_m=0.0) -> np.ndarray:
    """Inter-satellite link feasible: range ≤ max_range_m and the Earth (+ grazing) clear."""
    a = np.asarray(r_a_ecef_m, float)
    b = np.asarray(r_b_ecef_m, float)
    in_range = np.linalg.norm(b - a, axis=-1) <= np.asarray(max_range_m, float)
    return in_range & line_of_sight(a, b, grazing_altitude_m)


def isl_feasibility_matrix(r_ecef_m, max_range_m, grazing_altitude_m=0.0) -> np.ndarray:
    """Pairwise ISL feasibility for n satellites: (n, n) symmetric bool, False on the diagonal.

    Args:
        r_ecef_m: (n, 3) satellite positions (m).
    """
    r = np.asarray(r_ecef_m, float)
    feasible = isl_feasible(r[:, None, :], r[None, :, :], max_range_m, grazing_altitude_m)
    np.fill_diagonal(feasible, False)
    return feasible
