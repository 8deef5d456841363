"""``ScenarioError`` and the translation of pydantic's validation errors into its one line
(``FILE: FIELD.PATH: what is wrong (allowed: RANGE)``), with the allowed range read from the
schema's constraints."""

from __future__ import annotations

import difflib
import math
import types
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from envs.schema import Scenario

__all__ = ["ScenarioError"]

# Longest field path or value shown in an error message.
_MAX_SHOWN = 120


class ScenarioError(ValueError):
    """A scenario file or dict that cannot be used; ``str()`` is a one-line message."""

    def __init__(self, source: str, path: str, message: str) -> None:
        # One line, whatever the input: a key or file name may hold newlines or be huge.
        self.source = _one_line(str(source), 4 * _MAX_SHOWN)
        self.path = _one_line(str(path), _MAX_SHOWN)
        self.message = _one_line(str(message), 8 * _MAX_SHOWN)
        where = f"{self.source}: {self.path}" if self.path else self.source
        super().__init__(f"{where}: {self.message}")


def _one_line(text: str, limit: int) -> str:
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exc_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    return (text.splitlines() or [type(exc).__name__])[0]


def _os_text(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or _exc_text(exc)


# ---------------------------------------------------------------------------
# Turning pydantic's errors into one line


def _format_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _from_validation_error(source: str, exc: ValidationError) -> ScenarioError:
    errors = exc.errors(include_url=False)
    # One error is shown, the rest counted. An unknown key goes first: a misspelt key is
    # usually also the reason a required field is "missing".
    error = min(errors, key=lambda e: e["type"] != "extra_forbidden")
    loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
    path = _format_path(loc)
    message = _describe(error, loc)
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return ScenarioError(source, path or "(top level)", message)


def _is_union_tag(part: int | str) -> bool:
    # pydantic inserts the member type ('float', 'list[...]', 'function-after[...]') into
    # the location of errors inside unions and validators; they are not field names.
    return isinstance(part, str) and ("[" in part or part in {"float", "int", "str", "none"})


def _describe(error: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    got = _short_repr(error.get("input"))
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        name = str(loc[-1])
        if parent is not None:
            fields = list(parent.model_fields)
            close = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return f"unknown field{hint} (allowed: {', '.join(fields)})"
        return "unknown field"
    if kind == "missing":
        info = _field_at(loc)
        what = f" ({info.description})" if info is not None and info.description else ""
        return f"required field is missing{what}{_allowed_suffix(loc)}"
    msg = error["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    msg = msg[0].lower() + msg[1:] if msg else msg
    if kind == "value_error" or "got" in msg:
        # Cross-field checks name the fields themselves; the input is the whole section.
        return f"{msg}{_allowed_suffix(loc)}"
    return f"{msg}, got {got}{_allowed_suffix(loc)}"


def _short_repr(value: Any, limit: int = 60) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"a list of {len(value)}"
    if isinstance(value, int) and value.bit_length() > 128:  # repr of 10**5000 raises
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    try:
        text = repr(value)
    except Exception:
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_suffix(loc: tuple[int | str, ...]) -> str:
    info = _field_at(loc)
    if info is None:
        return ""
    allowed = _allowed_range(str(loc[-1]), info)
    return f" (allowed: {allowed})" if allowed else ""


def _allowed_range(name: str, info: FieldInfo) -> str:
    """A human range like '160000 < altitude_m ≤ 4e+07' from a field's constraints."""
    lower = upper = ""
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Gt):
            lower = f"{_num(meta.gt)} < "
        elif isinstance(meta, annotated_types.Ge):
            lower = f"{_num(meta.ge)} ≤ "
        elif isinstance(meta, annotated_types.Lt):
            upper = f" < {_num(meta.lt)}"
        elif isinstance(meta, annotated_types.Le):
            upper = f" ≤ {_num(meta.le)}"
    if lower or upper:
        return f"{lower}{name}{upper}"
    literal = _literal_values(info.annotation)
    if literal:
        return ", ".join(map(str, literal))
    return ""


def _num(value: float) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    return f"{value:g}"


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        values = _literal_values(arg)
        if values:
            return values
    return ()


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside Optional[...] / list[...] / Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            model = _inner_model(arg)
            if model is not None:
                return model
    return None


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _inner_model(model.model_fields[part].annotation)
    return model


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = _model_at(loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))])
    if parent is None:
        return None
    return parent.model_fields.get(names[-1])
