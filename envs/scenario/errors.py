"""``ScenarioError`` and the translation of pydantic's validation errors into its lines
(``FILE: FIELD.PATH: what is wrong (allowed: RANGE)``, one line per problem), with the
allowed range read from the schema's constraints (:func:`allowed_range`, which the
documentation's scenario reference uses too)."""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sagsim.cli import UserError, one_line, short_repr
from sagsim.envs.scenario.schema import Scenario

__all__ = ["MAX_LISTED_ERRORS", "ScenarioError", "allowed_range", "field_constraints",
           "format_number", "inner_model"]  # fmt: skip

# Longest field path or value shown in an error message.
_MAX_SHOWN = 120
# Problems listed one per line; beyond this a last line counts the rest (a generated file
# with a broken field in each of 10,000 targets is still a readable message).
MAX_LISTED_ERRORS = 20


class ScenarioError(UserError, ValueError):
    """A scenario file or dict that cannot be used (bad input: a command-line tool prints
    its lines, exit status 2, :func:`sagsim.cli.run`).

    ``str()`` is one line per problem, each complete on its own: ``FILE: FIELD.PATH: what is
    wrong (allowed: RANGE)``; after :data:`MAX_LISTED_ERRORS` problems, one more line
    ``FILE: … and N more errors``. ``errors`` holds the listed problems as ``(path,
    message)`` pairs, ``unlisted`` the number left out; ``source``, ``path`` and ``message``
    are the first problem's (a single problem is exactly one line).
    """

    def __init__(
        self,
        source: str,
        path: str,
        message: str,
        *,
        more: Sequence[tuple[str, str]] = (),
        unlisted: int = 0,
    ) -> None:
        # One line per problem, whatever the input: a key or file name may hold newlines or
        # be huge.
        self.source = one_line(str(source), 4 * _MAX_SHOWN)
        self.errors: tuple[tuple[str, str], ...] = tuple(
            (one_line(str(p), _MAX_SHOWN), one_line(str(m), 8 * _MAX_SHOWN))
            for p, m in [(path, message), *more]
        )
        self.path, self.message = self.errors[0]
        self.unlisted = int(unlisted)
        lines = [f"{self.source}: {p}: {m}" if p else f"{self.source}: {m}" for p, m in self.errors]
        if self.unlisted:
            plural = "s" if self.unlisted > 1 else ""
            lines.append(f"{self.source}: … and {self.unlisted:,} more error{plural}")
        self.lines: tuple[str, ...] = tuple(lines)
        super().__init__("\n".join(lines))

    @classmethod
    def from_errors(
        cls, source: str, errors: Sequence[tuple[str, str]], unlisted: int = 0
    ) -> ScenarioError:
        """One error listing ``errors`` (``(path, message)`` pairs, at least one)."""
        (path, message), *more = errors
        return cls(source, path, message, more=more, unlisted=unlisted)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its parts (the default would call __init__ with the text alone): an
        # error raised in a worker process reaches the parent intact.
        return (type(self).from_errors, (self.source, self.errors, self.unlisted))


def exc_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    return (text.splitlines() or [type(exc).__name__])[0]


def os_text(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or exc_text(exc)


# ---------------------------------------------------------------------------
# Turning pydantic's errors into one line


def _format_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def from_validation_error(source: str, exc: ValidationError) -> ScenarioError:
    # One problem per field path, in the schema's order, unknown keys first: a misspelt key
    # is usually also the reason a required field is "missing".
    groups: dict[tuple[int | str, ...], list[dict[str, Any]]] = {}
    for error in sorted(
        exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden"
    ):
        loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
        groups.setdefault(loc, []).append(error)
    _drop_missing_explained_by_typos(groups)
    listed = list(groups.items())[:MAX_LISTED_ERRORS]
    problems = [
        (_format_path(loc) or "(top level)", _describe(_merged(errors), loc))
        for loc, errors in listed
    ]
    return ScenarioError.from_errors(source, problems, unlisted=len(groups) - len(listed))


def _merged(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """One error from a field's errors: pydantic reports a value that fits no member of a
    union (``float | str``) once per member."""
    if len(errors) == 1:
        return errors[0]
    msgs = list(dict.fromkeys(e["msg"] for e in errors))
    head = "Input should be "
    if all(m.startswith(head) for m in msgs):
        msg = head + " or ".join(m[len(head) :] for m in msgs)
    else:
        msg = "; ".join(msgs)
    return {**errors[0], "msg": msg}


def _drop_missing_explained_by_typos(groups: dict[tuple[int | str, ...], list]) -> None:
    """Drop "required field is missing" where an unknown key beside it is a close misspelling
    of it: the unknown key's line already says "did you mean ...?"."""
    typos = [loc for loc, errors in groups.items() if errors[0]["type"] == "extra_forbidden"]
    for loc in typos[:MAX_LISTED_ERRORS]:  # each costs a fuzzy match: bounded
        suggestion = _suggestion(loc)
        missing = groups.get((*loc[:-1], suggestion)) if suggestion else None
        if missing and missing[0]["type"] == "missing":
            del groups[(*loc[:-1], suggestion)]


def _suggestion(loc: tuple[int | str, ...]) -> str | None:
    """The field of the section at ``loc[:-1]`` that the unknown key ``loc[-1]`` most likely
    misspells, if any."""
    parent = _model_at(loc[:-1])
    if parent is None:
        return None
    close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1, cutoff=0.6)
    return close[0] if close else None


def _is_union_tag(part: int | str) -> bool:
    # pydantic inserts the member type ('float', 'list[...]', 'function-after[...]') into
    # the location of errors inside unions and validators; they are not field names.
    return isinstance(part, str) and ("[" in part or part in {"float", "int", "str", "none"})


def _describe(error: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    got = short_repr(error.get("input"))
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        if parent is not None:
            close = _suggestion(loc)
            hint = f"; did you mean '{close}'?" if close else ""
            return f"unknown field{hint} (allowed: {', '.join(parent.model_fields)})"
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


def _allowed_suffix(loc: tuple[int | str, ...]) -> str:
    info = _field_at(loc)
    if info is None:
        return ""
    allowed = allowed_range(str(loc[-1]), info)
    return f" (allowed: {allowed})" if allowed else ""


def field_constraints(info: FieldInfo) -> list[Any]:
    """A field's constraints (``annotated_types.Ge``, ``MaxLen``, a ``pattern``, ...): its own,
    and those of an ``Annotated`` type inside ``Optional`` (``Name | None``), which pydantic
    leaves in the annotation."""
    found = list(info.metadata)
    if typing.get_origin(info.annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(info.annotation):
            if typing.get_origin(arg) is typing.Annotated:
                found += _annotated_metadata(arg)
    return found


def _annotated_metadata(annotation: Any) -> list[Any]:
    found: list[Any] = []
    for meta in annotation.__metadata__:
        found += meta.metadata if isinstance(meta, FieldInfo) else [meta]
    return found


def allowed_range(name: str, info: FieldInfo, code: Callable[[str], str] = str) -> str:
    """What a field allows, from its constraints: a range like ``160_000 < altitude_m ≤
    4e+07``, literal values ``aeqd, ease2``, a length (``1–64 characters matching
    PATTERN``, ``≤ 100 items``); empty if it has none. ``code`` formats a pattern."""
    constraints = field_constraints(info)
    lower = upper = ""
    for meta in constraints:
        if isinstance(meta, annotated_types.Gt):
            lower = f"{format_number(meta.gt)} < "
        elif isinstance(meta, annotated_types.Ge):
            lower = f"{format_number(meta.ge)} ≤ "
        elif isinstance(meta, annotated_types.Lt):
            upper = f" < {format_number(meta.lt)}"
        elif isinstance(meta, annotated_types.Le):
            upper = f" ≤ {format_number(meta.le)}"
    if lower or upper:
        return f"{lower}{name}{upper}"
    literal = _literal_values(info.annotation)
    if literal:
        return ", ".join(map(str, literal))
    return _length_text(info.annotation, constraints, code)


def _length_text(annotation: Any, constraints: list[Any], code: Callable[[str], str]) -> str:
    low = next((m.min_length for m in constraints if isinstance(m, annotated_types.MinLen)), 0)
    high = next((m.max_length for m in constraints if isinstance(m, annotated_types.MaxLen)), None)
    pattern = next((m.pattern for m in constraints if getattr(m, "pattern", None)), None)
    base = _without_none(annotation)
    base = typing.get_origin(base) or base
    what = {str: "characters", list: "items", dict: "entries"}.get(base, "items")
    if low and high is not None:
        text = f"{format_number(low)}–{format_number(high)} {what}"
    elif high is not None:
        text = f"≤ {format_number(high)} {what}"
    elif low:
        text = f"≥ {format_number(low)} {what}"
    else:
        text = ""
    if pattern:
        text = f"{text} matching {code(pattern)}" if text else f"matching {code(pattern)}"
    return text


def _without_none(annotation: Any) -> Any:
    """``X`` of ``X | None`` (``Annotated`` unwrapped); other annotations as they are."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            annotation = args[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def format_number(value: float) -> str:
    """A number as the reference and the errors show it: integers with ``_`` every three
    digits from 10,000 on, other numbers short but exact (they read back as the same float)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    """The values of a ``Literal`` field (also ``Optional``); not those inside a container."""
    annotation = _without_none(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return ()


def inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside Optional[...] / list[...] / Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            model = inner_model(arg)
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
        model = inner_model(model.model_fields[part].annotation)
    return model


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = _model_at(loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))])
    if parent is None:
        return None
    return parent.model_fields.get(names[-1])
