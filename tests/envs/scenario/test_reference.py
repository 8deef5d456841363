"""The scenario reference is generated from the schema, the documentation site's page is
exactly the generator's output, and every row agrees with the schema: each field is there
once, with its declared unit, the model's own default and its constraints as the allowed
range."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sagsim.cli import UserError
from sagsim.envs.scenario.errors import inner_model
from sagsim.envs.scenario.reference import (
    SECTION_DEFAULT,
    field_unit,
    main,
    reference_markdown,
)
from sagsim.envs.scenario.schema import Scenario
from tests.conftest import ROOT, load_script

REPR_JUNK = ("annotation=", "metadata=", "FieldInfo", "required=", "NoneType", "typing.",
             "_Pydantic", "<class", "Annotated[", "Literal[")  # fmt: skip


def _schema_fields(
    model: type[BaseModel] = Scenario, prefix: str = "", section: BaseModel | None = None
) -> list[tuple[str, FieldInfo, BaseModel | None]]:
    """(path, field, the enclosing section's default instance, if it has one) for every
    field of the schema, depth first, as the reference lists them."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, info, section))
        inner = inner_model(info.annotation)
        if inner is None:
            continue
        if typing.get_origin(info.annotation) is list:
            out += _schema_fields(inner, f"{path}[*].")
            continue
        if section is not None:
            child = getattr(section, name)
        else:
            child = None if info.is_required() else info.get_default(call_default_factory=True)
        out += _schema_fields(inner, f"{path}.", child if isinstance(child, BaseModel) else None)
    return out


FIELDS = _schema_fields()


def _rows() -> dict[str, list[str]]:
    block = reference_markdown()
    rows = {}
    for line in block.splitlines():
        if line.startswith("| `"):
            # Split on cell borders, not on "\|" inside a cell; "&lt;" is a "<" as shown.
            cells = [c.strip().replace("\\|", "|").replace("&lt;", "<")
                     for c in re.split(r"(?<!\\)\|", line)[1:-1]]  # fmt: skip
            assert len(cells) == 5, line
            path = cells[0].strip("`")
            assert path not in rows, f"listed twice: {path}"
            rows[path] = cells
    return rows


ROWS = _rows()


def _docs_hooks() -> ModuleType:
    """docs/hooks.py, the MkDocs hook that fills the reference page (not a package module)."""
    pytest.importorskip("mkdocs", reason="the docs extra (pip install -e '.[dev]')")
    return load_script("docs/hooks.py")


def _page(src_uri: str) -> SimpleNamespace:
    return SimpleNamespace(file=SimpleNamespace(src_uri=src_uri), meta={})


def test_the_docs_page_is_the_generators_output() -> None:
    hooks = _docs_hooks()
    source = (ROOT / "docs" / hooks.REFERENCE_PAGE).read_text()
    assert source.count(hooks.PLACEHOLDER) == 1
    before, after = source.split(hooks.PLACEHOLDER)
    built = hooks.on_page_markdown(source, page=_page(hooks.REFERENCE_PAGE), config=None,
                                   files=None)  # fmt: skip
    assert built == before + reference_markdown() + after
    # The site builds the page with the hook, and lists it.
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["hooks"] == ["docs/hooks.py"]
    assert hooks.REFERENCE_PAGE in repr(config["nav"])


def test_the_placeholder_is_required_on_the_reference_page_and_refused_elsewhere() -> None:
    from mkdocs.exceptions import PluginError

    hooks = _docs_hooks()
    with pytest.raises(PluginError, match="placeholder"):
        hooks.on_page_markdown("# Scenario reference\n", page=_page(hooks.REFERENCE_PAGE))
    with pytest.raises(PluginError, match="placeholder"):
        hooks.on_page_markdown(hooks.PLACEHOLDER, page=_page("index.md"))
    assert hooks.on_page_markdown("# Home\n", page=_page("index.md")) == "# Home\n"


def test_command_line_prints_or_writes_the_reference(tmp_path: Path, capsys) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out == reference_markdown() + "\n"
    target = tmp_path / "reference.md"
    target.write_text("old")
    assert main(["--write", str(target)]) == 0
    assert target.read_text() == reference_markdown() + "\n"
    with pytest.raises(UserError, match="cannot write") as error:  # its folder is a file
        main(["--write", str(target / "reference.md")])
    assert str(target) in str(error.value) and "\n" not in str(error.value)


def test_no_html_tag_outside_code_spans() -> None:
    """Markdown reads "<" before a letter as HTML: "sat_<i>" turned italic and
    "target-<index>" vanished, on the site and on GitHub alike."""
    for line in reference_markdown().splitlines():
        outside_code = line.split("`")[::2]
        assert not any(re.search(r"<[A-Za-z/!?]", part) for part in outside_code), line
    assert ROWS["events[*].name"][4] == "label (default: <kind>-<index>)"


def test_every_field_is_listed_once_and_nothing_else() -> None:
    assert list(ROWS) == [path for path, _, _ in FIELDS]


def test_no_repr_junk() -> None:
    block = reference_markdown()
    for junk in REPR_JUNK:
        assert junk not in block, junk


@pytest.mark.parametrize(("path", "info", "_"), FIELDS, ids=[p for p, _, _ in FIELDS])
def test_row_has_a_meaning(path: str, info: FieldInfo, _) -> None:
    assert info.description and ROWS[path][4] == info.description


def _shown_value(cell: str) -> Any:
    """A default cell read back independently of the generator's formatting code."""
    if cell == "—":
        return None
    assert cell.startswith("`") and cell.endswith("`"), cell
    text = cell[1:-1]
    literal = {"true": True, "false": False, '""': "", "[]": [], "{}": {}}
    if text in literal:
        return literal[text]
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return text


@pytest.mark.parametrize(("path", "info", "section"), FIELDS, ids=[p for p, _, _ in FIELDS])
def test_default_shown_is_the_models_default(path: str, info: FieldInfo, section) -> None:
    cell = ROWS[path][2]
    if info.is_required():
        assert cell == "**required**"
        return
    default = info.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        assert cell == SECTION_DEFAULT
        # The section left out is the section given empty: its fields' rows tell the truth.
        assert default == type(default).model_validate({})
    else:
        shown = _shown_value(cell)
        assert shown == default and type(shown) in (type(default), float), (cell, default)
    if section is not None:
        # The enclosing section's default instance holds the same value.
        assert getattr(section, path.rsplit(".", 1)[-1]) == default, path


def _constraints(info: FieldInfo) -> list[Any]:
    found = list(info.metadata)
    for arg in typing.get_args(info.annotation):
        if typing.get_origin(arg) is typing.Annotated:
            for meta in arg.__metadata__:
                found += meta.metadata if isinstance(meta, FieldInfo) else [meta]
    return found


BOUNDS = ("Gt", "Ge", "Lt", "Le")


def _number(text: str) -> float:
    return float(text.replace("_", ""))


@pytest.mark.parametrize(("path", "info", "_"), FIELDS, ids=[p for p, _, _ in FIELDS])
def test_allowed_range_is_the_fields_constraints(path: str, info: FieldInfo, _) -> None:
    allowed, name = ROWS[path][3], path.rsplit(".", 1)[-1]
    constraints = _constraints(info)
    bounds = {kind: getattr(m, kind.lower()) for m in constraints for kind in BOUNDS
              if type(m).__name__ == kind}  # fmt: skip
    match = re.search(rf"(?:(\S+) (<|≤) )?{re.escape(name)}(?: (<|≤) (\S+))?$", allowed)
    if bounds:
        assert match, allowed
        lower, low_op, high_op, upper = match.groups()
        shown = {}
        if lower is not None:
            shown["Gt" if low_op == "<" else "Ge"] = _number(lower)
        if upper is not None:
            shown["Lt" if high_op == "<" else "Le"] = _number(upper)
        assert shown == bounds, (allowed, bounds)
    else:
        assert not re.search(rf"[<≤] {re.escape(name)}\b|\b{re.escape(name)} [<≤]", allowed)
    lengths = {kind: getattr(m, {"MinLen": "min_length", "MaxLen": "max_length"}[kind])
               for m in constraints for kind in ("MinLen", "MaxLen")
               if type(m).__name__ == kind}  # fmt: skip
    if lengths:
        low, high = lengths.get("MinLen"), lengths.get("MaxLen")
        shown = re.search(r"(?:(\S+)–(\S+)|≤ (\S+)) (characters|items|entries)", allowed)
        assert shown, allowed
        got_low = _number(shown[1]) if shown[1] else None
        got_high = _number(shown[2] or shown[3])
        assert (got_low, got_high) == (low, high), (allowed, lengths)
    for meta in constraints:
        pattern = getattr(meta, "pattern", None)
        if pattern:
            assert f"matching `{pattern}`" in allowed, allowed
    literal = _literal(info.annotation)
    if literal:
        assert allowed == "one of " + ", ".join(literal), allowed


def _literal(annotation: Any) -> tuple[str, ...]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(map(str, typing.get_args(annotation)))
    return ()


def _numeric(annotation: Any) -> bool:
    """A number, an optional number or a list of number pairs (polygon vertices); a mapping
    (bad_sources.params: numbers of many kinds) is not."""
    if annotation in (float, int):
        return True
    if inner_model(annotation) is not None or "dict[" in repr(annotation):
        return False
    return re.search(r"\b(float|int)\b", repr(annotation)) is not None


# Unit of a name's unit suffix, by the house rule that names carry their units.
SUFFIX_UNITS = {"m": "m", "s": "s", "deg": "deg", "deg_s": "deg/s", "mps": "m/s", "w": "W",
                "wh": "Wh", "hz": "Hz", "dbi": "dBi", "db": "dB", "k": "K", "bits": "bit",
                "fraction": "1"}  # fmt: skip
# Names whose last word is not a unit: top_k is a count of candidate tasks, not kelvin.
NOT_A_UNIT_SUFFIX = {"top_k"}


@pytest.mark.parametrize(("path", "info", "_"), FIELDS, ids=[p for p, _, _ in FIELDS])
def test_unit_is_declared_and_agrees_with_the_name(path: str, info: FieldInfo, _) -> None:
    name, unit = path.rsplit(".", 1)[-1], field_unit(info)
    assert ROWS[path][1] == unit
    if _numeric(info.annotation):
        assert unit, f"{path}: a number without a declared unit (use unit('1') if none)"
    if name in NOT_A_UNIT_SUFFIX:
        assert unit == "1"
        return
    per = re.search(r"_per_([a-z]+)$", name)
    if per and per[1] in SUFFIX_UNITS:  # a rate: "<something>/<unit>"
        assert unit.endswith("/" + SUFFIX_UNITS[per[1]]), (path, unit)
        return
    for suffix in sorted(SUFFIX_UNITS, key=len, reverse=True):
        if name.endswith("_" + suffix):
            assert unit == SUFFIX_UNITS[suffix], (path, unit)
            return
    # A unit in the middle of the name (radius_m_min) still names the unit.
    for word in name.split("_")[1:]:
        if word in ("m", "s", "deg") and unit:
            assert unit == SUFFIX_UNITS[word], (path, unit)


def test_the_reported_glitches_are_gone() -> None:
    assert ROWS["fusion.process_noise_per_s"][1] == "reflectance²/s"
    assert ROWS["reward.energy_cost_per_wh"][1] == "1/Wh"
    assert ROWS["targets.random.radius_m_min"][1] == ROWS["targets.random.radius_m_max"][1] == "m"
    assert ROWS["env.top_k"][1] == "1"
    assert ROWS["targets.points[*].name"][3].startswith("text, 1–64 characters matching")
    assert ROWS["bad_sources.agents"][3].startswith("mapping text → (one of bias,")
    assert ROWS["bad_sources.params"][3].startswith("mapping (one of bias,")
    assert ROWS["comms.space_to_ground.frequency_hz"][2] == "`8_200_000_000`"
    assert ROWS["drones[*].storage.capacity_bits"][2] == "`256_000_000_000`"
    assert ROWS["satellites[*].walker.altitude_m"][3] == "160_000 < altitude_m ≤ 40_000_000"
