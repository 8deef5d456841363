"""Link-budget sections: per-class defaults (``comms:``) and per-group radio overrides.

Each link class has its own defaults on every field, so a ``comms`` section given in part
(``comms: {space_to_ground: {tx_power_w: 20}}``) keeps the defaults of what it leaves out.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from sagsim.envs.scenario.schema.base import Section, unit

# One home for each link parameter's range, unit and meaning: the link classes and the
# per-group overrides share them.
FrequencyHz = Annotated[
    float, Field(ge=1e6, le=1e15, description="carrier frequency", json_schema_extra=unit("Hz"))
]
TxPowerW = Annotated[
    float, Field(gt=0.0, le=1e5, description="transmit power", json_schema_extra=unit("W"))
]
TxGainDbi = Annotated[
    float,
    Field(ge=-20.0, le=80.0, description="transmit antenna gain", json_schema_extra=unit("dBi")),
]
RxGainDbi = Annotated[
    float,
    Field(ge=-20.0, le=90.0, description="receive antenna gain", json_schema_extra=unit("dBi")),
]
NoiseTemperatureK = Annotated[
    float,
    Field(gt=0.0, le=1e5, description="receiver system noise temperature",
          json_schema_extra=unit("K")),
]  # fmt: skip
BandwidthHz = Annotated[
    float, Field(gt=0.0, le=1e11, description="channel bandwidth", json_schema_extra=unit("Hz"))
]
LossesDb = Annotated[
    float,
    Field(ge=0.0, le=100.0, description="atmospheric + pointing + implementation losses",
          json_schema_extra=unit("dB")),
]  # fmt: skip


class Radio(Section):
    """Transmitter overrides for a platform group; a field left out (none) takes the value
    of the group's link class (satellites: ``comms.space_to_ground``, drones:
    ``comms.air_to_ground``)."""

    tx_power_w: TxPowerW | None = Field(None, description="transmit power (none: the link class's)")
    antenna_gain_dbi: TxGainDbi | None = Field(
        None, description="transmit antenna gain (none: the link class's tx_antenna_gain_dbi)"
    )
    frequency_hz: FrequencyHz | None = Field(
        None, description="carrier frequency (none: the link class's)"
    )
    bandwidth_hz: BandwidthHz | None = Field(
        None, description="channel bandwidth (none: the link class's)"
    )


class GroundRadio(Section):
    """Receiver overrides for a ground station; a field left out (none) takes the value of
    ``comms.space_to_ground``."""

    antenna_gain_dbi: RxGainDbi | None = Field(
        None, description="receive antenna gain (none: comms.space_to_ground.rx_antenna_gain_dbi)"
    )
    system_noise_temperature_k: NoiseTemperatureK | None = Field(
        None, description="receiver system noise temperature (none: comms.space_to_ground's)"
    )


class LinkParams(Section):
    """Link-budget parameters of one link class (FSPL + Shannon, see sagsim.envs.physics.links); the
    base of
    the three link classes below, which give every field a default."""

    frequency_hz: FrequencyHz
    tx_power_w: TxPowerW
    tx_antenna_gain_dbi: TxGainDbi
    rx_antenna_gain_dbi: RxGainDbi
    system_noise_temperature_k: NoiseTemperatureK
    bandwidth_hz: BandwidthHz
    losses_db: LossesDb = 3.0


class SpaceToGround(LinkParams):
    """Satellite downlinks: a small-satellite X-band downlink (8.2 GHz, 5 W, patch antenna)
    into a 5-7 m dish with a cooled-LNA receiver."""

    frequency_hz: FrequencyHz = 8.2e9
    tx_power_w: TxPowerW = 5.0
    tx_antenna_gain_dbi: TxGainDbi = 6.0
    rx_antenna_gain_dbi: RxGainDbi = 45.0
    system_noise_temperature_k: NoiseTemperatureK = 150.0
    bandwidth_hz: BandwidthHz = 150e6
    losses_db: LossesDb = 4.0


class InterSatelliteLinks(LinkParams):
    """Inter-satellite links: on/off, reach and radio (a Ka-band crosslink with small
    steerable antennas on both ends)."""

    frequency_hz: FrequencyHz = 26e9
    tx_power_w: TxPowerW = 10.0
    tx_antenna_gain_dbi: TxGainDbi = 35.0
    rx_antenna_gain_dbi: RxGainDbi = 35.0
    system_noise_temperature_k: NoiseTemperatureK = 500.0
    bandwidth_hz: BandwidthHz = 400e6
    losses_db: LossesDb = 2.0
    enabled: bool = Field(False, description="allow satellite-to-satellite relay")
    max_range_m: float = Field(
        5_000_000.0, gt=0.0, le=1e8, description="longest usable ISL", json_schema_extra=unit("m")
    )
    grazing_altitude_m: float = Field(
        100_000.0, ge=0.0, le=1e6, description="ray must clear the Earth by this much",
        json_schema_extra=unit("m"),
    )  # fmt: skip


class AirToGround(LinkParams):
    """Drone links to its base/ground stations and to other drones (a 5.8 GHz video/data
    link with omni-ish antennas and an uncooled receiver)."""

    frequency_hz: FrequencyHz = 5.8e9
    tx_power_w: TxPowerW = 1.0
    tx_antenna_gain_dbi: TxGainDbi = 3.0
    rx_antenna_gain_dbi: RxGainDbi = 12.0
    system_noise_temperature_k: NoiseTemperatureK = 600.0
    bandwidth_hz: BandwidthHz = 40e6
    losses_db: LossesDb = 6.0
    max_range_m: float = Field(
        30_000.0, gt=0.0, le=1e6, description="longest usable drone link",
        json_schema_extra=unit("m"),
    )  # fmt: skip
    relay_enabled: bool = Field(True, description="allow drone-to-drone relay")


class Comms(Section):
    """Link-budget defaults per link class; groups and stations may override parts."""

    space_to_ground: SpaceToGround = Field(
        default_factory=SpaceToGround, description="satellite downlink"
    )
    inter_satellite: InterSatelliteLinks = Field(
        default_factory=InterSatelliteLinks, description="crosslinks"
    )
    air_to_ground: AirToGround = Field(default_factory=AirToGround, description="drone links")
    shannon_efficiency: float = Field(
        0.6, gt=0.0, le=1.0, description="fraction of Shannon capacity real coding achieves",
        json_schema_extra=unit("1"),
    )  # fmt: skip
