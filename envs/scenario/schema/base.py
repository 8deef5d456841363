"""Shared pieces of the scenario schema: limits, field types and the strict ``Section`` base."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MAX_SATELLITES = 10_000
MAX_DRONES = 1_000
MAX_GROUND_STATIONS = 100
MAX_STEPS = 1_000_000
# TLE epochs carry a two-digit year (1957–2056); the almanac sun model is good for decades
# around 2000. Scenarios outside this window are refused rather than silently wrong.
EARLIEST_EPOCH_UTC = datetime(1957, 10, 4, tzinfo=UTC)
LATEST_END_UTC = datetime(2056, 12, 31, tzinfo=UTC)
MIN_STEP_S = 0.01


def unit(symbol: str) -> dict[str, str]:
    """A field's ``json_schema_extra`` naming its unit, e.g. ``unit("m")``: the scenario
    reference's unit column and the JSON schema's ``unit`` key ("1": dimensionless)."""
    return {"unit": symbol}


Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0, json_schema_extra=unit("deg"))]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, json_schema_extra=unit("deg"))]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, instances are immutable, and a
    boolean is never taken for a number (YAML's ``yes``/``true`` would otherwise become 1)."""

    # allow_inf_nan=False: a NaN would slip past every range check (NaN < x is False).
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if bool not in (annotation, *typing.get_args(annotation)):
                raise ValueError(f"expected a number, got {str(value).lower()}")
        return value
