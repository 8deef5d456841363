"""The README's scenario reference is generated from the schema and must be current."""

from envs.schema import Scenario
from envs.schema_doc import reference_markdown, reference_rows
from tests.conftest import ROOT


def test_readme_reference_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert reference_markdown() in readme, "run: python -m envs.schema_doc --write README.md"


def test_every_field_is_documented() -> None:
    rows = reference_rows(Scenario)
    for row in rows:
        meaning = row.rstrip(" |").rsplit("|", 1)[-1].strip()
        assert meaning, f"field without a description: {row}"
    assert any("walker.altitude_m" in r and "160_000 < altitude_m" in r for r in rows)
