"""Link-budget sections: per-class defaults (``comms:``) and per-group radio overrides."""

from __future__ import annotations

from pydantic import Field

from envs.schema.base import Section


class Radio(Section):
    """Transmitter overrides for a platform group; a field left out takes the comms default."""

    tx_power_w: float | None = Field(None, gt=0.0, le=1e5, description="transmit power")
    antenna_gain_dbi: float | None = Field(None, ge=-20.0, le=80.0, description="tx antenna gain")
    frequency_hz: float | None = Field(None, ge=1e6, le=1e15, description="carrier frequency")
    bandwidth_hz: float | None = Field(None, gt=0.0, le=1e11, description="channel bandwidth")


class GroundRadio(Section):
    """Receiver overrides for a ground station; a field left out takes the comms default."""

    antenna_gain_dbi: float | None = Field(None, ge=-20.0, le=90.0, description="rx antenna gain")
    system_noise_temperature_k: float | None = Field(
        None, gt=0.0, le=1e5, description="receiver system noise temperature"
    )


class LinkParams(Section):
    """Default link-budget parameters of one link class (FSPL + Shannon, see envs.comms)."""

    frequency_hz: float = Field(ge=1e6, le=1e15, description="carrier frequency")
    tx_power_w: float = Field(gt=0.0, le=1e5, description="transmit power")
    tx_antenna_gain_dbi: float = Field(ge=-20.0, le=80.0, description="transmit antenna gain")
    rx_antenna_gain_dbi: float = Field(ge=-20.0, le=90.0, description="receive antenna gain")
    system_noise_temperature_k: float = Field(gt=0.0, le=1e5, description="receiver noise temp.")
    bandwidth_hz: float = Field(gt=0.0, le=1e11, description="channel bandwidth")
    losses_db: float = Field(
        3.0, ge=0.0, le=100.0, description="atmospheric + pointing + implementation losses"
    )


class InterSatelliteLinks(LinkParams):
    """Inter-satellite links: on/off, reach and radio."""

    enabled: bool = Field(False, description="allow satellite-to-satellite relay")
    max_range_m: float = Field(5_000_000.0, gt=0.0, le=1e8, description="longest usable ISL")
    grazing_altitude_m: float = Field(
        100_000.0, ge=0.0, le=1e6, description="ray must clear the Earth by this much"
    )


class AirToGround(LinkParams):
    """Drone links to its base/ground stations and to other drones."""

    max_range_m: float = Field(30_000.0, gt=0.0, le=1e6, description="longest usable drone link")
    relay_enabled: bool = Field(True, description="allow drone-to-drone relay")


def _x_band() -> LinkParams:
    # A small-satellite X-band downlink (e.g. 8.2 GHz, 5 W, patch antenna) into a
    # 5-7 m dish; noise temperature of a cooled-LNA X-band station.
    return LinkParams(
        frequency_hz=8.2e9,
        tx_power_w=5.0,
        tx_antenna_gain_dbi=6.0,
        rx_antenna_gain_dbi=45.0,
        system_noise_temperature_k=150.0,
        bandwidth_hz=150e6,
        losses_db=4.0,
    )


def _isl() -> InterSatelliteLinks:
    # A Ka-band crosslink with small steerable antennas on both ends.
    return InterSatelliteLinks(
        frequency_hz=26e9,
        tx_power_w=10.0,
        tx_antenna_gain_dbi=35.0,
        rx_antenna_gain_dbi=35.0,
        system_noise_temperature_k=500.0,
        bandwidth_hz=400e6,
        losses_db=2.0,
    )


def _air() -> AirToGround:
    # A 5.8 GHz video/data link with omni-ish antennas, uncooled receiver.
    return AirToGround(
        frequency_hz=5.8e9,
        tx_power_w=1.0,
        tx_antenna_gain_dbi=3.0,
        rx_antenna_gain_dbi=12.0,
        system_noise_temperature_k=600.0,
        bandwidth_hz=40e6,
        losses_db=6.0,
    )


class Comms(Section):
    """Link-budget defaults per link class; groups and stations may override parts."""

    space_to_ground: LinkParams = Field(default_factory=_x_band, description="satellite downlink")
    inter_satellite: InterSatelliteLinks = Field(default_factory=_isl, description="crosslinks")
    air_to_ground: AirToGround = Field(default_factory=_air, description="drone links")
    shannon_efficiency: float = Field(
        0.6, gt=0.0, le=1.0, description="fraction of Shannon capacity real coding achieves"
    )
