"""The README and the documentation site's pages: the README's links lead to files that
exist (MkDocs checks the pages' own links when `make test` builds the site with --strict,
but not the README's), and neither names a module by its pre-`sagsim` path."""

from __future__ import annotations

import re

import pytest

from sagsim.envs.scenario.schema import Scenario
from tests.conftest import ROOT, load_script

DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A module named without the installed name: `envs.tasks`, `python -m envs`, `from agents
# import ...` (not `sagsim.envs.tasks`, not a file path such as `envs/tasks.py`).
PARTS = r"(?:envs|fusion|agents)"
BARE_MODULE = re.compile(rf"(?<![\w./-]){PARTS}\.(\w+)|-m {PARTS}\b|\b(?:from|import) {PARTS}\b")
# The scenario's `fusion:` section has fields of the same name: `fusion.fuser` is one.
FUSION_FIELDS = set(Scenario.model_fields["fusion"].annotation.model_fields)


def test_readme_links_lead_to_files() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = [t for t in LINK.findall(readme) if not re.match(r"[a-z]+:", t)]
    assert targets, "the README links into docs/"
    for target in targets:
        path = target.split("#", 1)[0]
        assert (ROOT / path).is_file(), f"README.md links to {target}: no such file"


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_no_module_named_by_its_old_path(path) -> None:
    text = path.read_text()
    stale = [m[0] for m in BARE_MODULE.finditer(text)
             if not (m[0].startswith("fusion.") and m[1] in FUSION_FIELDS)]  # fmt: skip
    assert not stale, f"{path.name}: {stale} (the installed name is sagsim: sagsim.envs, ...)"


def test_the_observation_tables_come_from_the_layout() -> None:
    # The environment page's tables are the observation module's own declaration of the
    # columns, filled in by the docs hook at build time.

    from sagsim.envs.observations import (
        OWN_MEANING,
        SLOT_MEANING,
        Own,
        Slot,
        layout_markdown,
        own_index,
    )

    hooks = load_script("docs/hooks.py")
    page = (ROOT / "docs" / hooks.LAYOUT_PAGE).read_text()
    rendered = hooks.fill(hooks.LAYOUT_PAGE, page)
    assert layout_markdown() in rendered and hooks.LAYOUT_PLACEHOLDER not in rendered
    # and its mask table from the one statement of the mask's rules
    from sagsim.envs.actions import MASK_RULES, mask_rules_markdown

    assert mask_rules_markdown() in rendered and hooks.MASK_PLACEHOLDER not in rendered
    assert all(f"| {action} | {agent} |" in rendered for action, agent, _ in MASK_RULES)
    assert set(OWN_MEANING) == set(Own.names().values()) and len(SLOT_MEANING) == len(Slot.names())
    assert (
        f"| {own_index(Own.SEES_THROUGH_CLOUD)} | `Own.SEES_THROUGH_CLOUD` |" in layout_markdown()
    )


def test_the_fusers_section_names_every_registered_fuser() -> None:
    # The pages list the fusers by name in prose; the Fusers section is where a reader looks.
    from sagsim.fusion.fusers import FUSERS

    page = (ROOT / "docs" / "perception.md").read_text()
    section = page.split("## Fusers", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in FUSERS if f"`{name}`" not in section]
    assert not missing, f"docs/perception.md's Fusers section does not name {missing}"
