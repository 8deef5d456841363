"""Generate the scenario reference from the schema, so the two never drift apart.

The documentation site's scenario reference page (``docs/scenario-reference.md``) is filled
with :func:`reference_markdown` at every build (``docs/hooks.py``), so it is never stale.
``python -m sagsim.envs.scenario.reference`` prints the same Markdown; ``--write FILE`` writes
it to FILE instead (replaced atomically). A test checks that every row agrees with the schema
(units, defaults, ranges) and that the built page holds exactly this text.

Each row's unit is the one the field declares (``json_schema_extra=unit(...)`` in
:mod:`sagsim.envs.scenario.schema`), its default the model's own and its allowed range its
constraints.
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sagsim.atomic import write_text_atomic
from sagsim.cli import ArgumentParser, UserError, run
from sagsim.envs.scenario.errors import allowed_range, format_number, inner_model
from sagsim.envs.scenario.schema import Scenario

__all__ = ["SECTION_DEFAULT", "field_unit", "reference_markdown", "reference_rows"]

# The default cell of a section (a field whose default is a whole model): its fields' rows
# follow, each with its own default.
SECTION_DEFAULT = "(its fields' defaults)"
# What Markdown would read as the start of an HTML tag: "<" before a letter, "/", "!" or "?".
TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

INTRO = (
    "Units are SI; `1` is dimensionless (fractions, counts, weights), reflectance is 0–1. A "
    "section left out takes the defaults below, and a section given in part keeps them for "
    "the fields it leaves out: `comms: {space_to_ground: {tx_power_w: 20}}` changes only the "
    "downlink's transmit power. `—`: none (the meaning says what none does)."
)


def field_unit(info: FieldInfo) -> str:
    """The unit a field declares (``json_schema_extra={"unit": ...}`` on the field, or on the
    ``Annotated`` type inside ``Optional``); empty if it declares none."""
    extras = [info.json_schema_extra]
    if typing.get_origin(info.annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(info.annotation):
            if typing.get_origin(arg) is typing.Annotated:
                extras += [getattr(m, "json_schema_extra", None) for m in arg.__metadata__]
    for extra in extras:
        if isinstance(extra, dict) and "unit" in extra:
            return str(extra["unit"])
    return ""


def _type_text(annotation: Any) -> str:
    """A type in words: ``number``, ``list of Event``, ``mapping of text to one of a, b``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    if origin is typing.Annotated:
        meta = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return _type_text(args[0]) + _interval(meta)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is tuple:
        return "[" + ", ".join(_type_text(a) for a in args) + "]"
    if origin is dict:
        key, value = (_type_text(a) for a in args)
        key, value = (f"({t})" if " " in t else t for t in (key, value))
        return f"mapping {key} → {value}"
    names = {bool: "true or false", float: "number", int: "integer", str: "text",
             datetime: "date-time (ISO 8601)"}  # fmt: skip
    return names.get(annotation, getattr(annotation, "__name__", "value"))


def _interval(constraints: list[Any]) -> str:
    """`` in [lo, hi)`` from bounds inside a type (a polygon vertex's longitude), or ""."""
    lower = upper = None
    for m in constraints:
        if isinstance(m, (annotated_types.Ge, annotated_types.Gt)):
            lower = ("[" if isinstance(m, annotated_types.Ge) else "(", getattr(m, "ge", None)
                     if isinstance(m, annotated_types.Ge) else m.gt)  # fmt: skip
        elif isinstance(m, (annotated_types.Le, annotated_types.Lt)):
            upper = ("]" if isinstance(m, annotated_types.Le) else ")", getattr(m, "le", None)
                     if isinstance(m, annotated_types.Le) else m.lt)  # fmt: skip
    if lower is None or upper is None:
        return ""
    return f" in {lower[0]}{format_number(lower[1])}, {format_number(upper[1])}{upper[0]}"


def _is_number(annotation: Any) -> bool:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation in (float, int)


def _code(text: str) -> str:
    return f"`{text}`"


def _allowed(name: str, info: FieldInfo) -> str:
    """The allowed column: a range for a number, the values of a literal, else the type with
    its length and pattern constraints."""
    constraint = allowed_range(name, info, code=_code)
    kind = _type_text(info.annotation)
    if _is_number(info.annotation) and constraint:
        is_int = "integer" in kind.split(" or ")
        return f"integer, {constraint}" if is_int else constraint
    if kind.startswith("one of ") or not constraint:
        return kind
    return f"{kind} {constraint}" if constraint.startswith("matching") else f"{kind}, {constraint}"


def _value_text(value: Any) -> str:
    """A default as it would be written in the YAML file."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, (int, float)):
        return _code(format_number(value))
    if isinstance(value, str):
        return _code(value) if value else '`""`'
    return _code(json.dumps(value))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    return SECTION_DEFAULT if isinstance(value, BaseModel) else _value_text(value)


def _cell(text: str) -> str:
    # A "|" would end the cell, even inside a code span (GitHub's tables). Outside code
    # spans a "<" before a letter would open an HTML tag: "sat_<i>" turned italic and
    # "target-<index>" vanished; inside them it is shown as typed.
    parts = text.split("`")
    parts[::2] = [TAG_START.sub("&lt;", part) for part in parts[::2]]
    return "`".join(parts).replace("|", "\\|")


def reference_rows(model: type[BaseModel] = Scenario, prefix: str = "") -> list[str]:
    """Markdown rows ``| field | unit | default | allowed | meaning |`` for every field."""
    rows: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        cells = [_code(path), field_unit(info), _default(info), _allowed(name, info),
                 info.description or ""]  # fmt: skip
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        inner = inner_model(info.annotation)
        if inner is not None:
            is_list = typing.get_origin(info.annotation) is list
            rows.extend(reference_rows(inner, f"{path}[*]." if is_list else f"{path}."))
    return rows


def reference_markdown() -> str:
    """The whole reference: a paragraph on units and defaults, then the table of every field."""
    header = "| field | unit | default | allowed | meaning |\n| --- | --- | --- | --- | --- |"
    return "\n".join([INTRO, "", header, *reference_rows()])


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="write the Markdown to FILE instead of printing it",
    )
    args = parser.parse_args(argv)
    text = reference_markdown() + "\n"
    if args.write is None:
        sys.stdout.write(text)
        return 0
    try:
        write_text_atomic(args.write, text)
    except OSError as exc:
        raise UserError(f"{args.write}: cannot write ({exc.strerror or exc})") from None
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
