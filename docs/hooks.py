"""MkDocs hook (registered in mkdocs.yml): the scenario reference page is generated from the
schema, and the environment page's observation tables from the observation layout, at every
build, so they can never go stale.

``docs/scenario-reference.md`` holds the page's prose and the :data:`PLACEHOLDER` line (what
a reader of the Markdown source, on GitHub say, sees instead of the table); the hook replaces
that line with :func:`sagsim.envs.scenario.reference.reference_markdown`. A page without the
placeholder, or another page with one, fails the build.
"""

from __future__ import annotations

from typing import Any

from mkdocs.exceptions import PluginError

from sagsim.envs.actions import mask_rules_markdown
from sagsim.envs.observations import layout_markdown
from sagsim.envs.scenario.reference import reference_markdown

REFERENCE_PAGE = "scenario-reference.md"
# A line of its own in the page.
PLACEHOLDER = (
    "*The table of every field is generated here from the schema when the site is built "
    "(`make docs`); `python -m sagsim.envs.scenario.reference` prints it.*"
)


# The environment page's observation tables, from the one declaration of the columns.
LAYOUT_PAGE = "environment.md"
LAYOUT_PLACEHOLDER = (
    "*The observation tables are generated here from `sagsim.envs.observations` when the "
    "site is built (`make docs`); `python -m sagsim.envs.observations` prints them.*"
)
MASK_PLACEHOLDER = (
    "*The mask rules are generated here from `sagsim.envs.actions` when the site is built "
    "(`make docs`).*"
)
# Generated pages: page -> [(a placeholder line, the generator of what replaces it)].
GENERATED = {
    REFERENCE_PAGE: [(PLACEHOLDER, reference_markdown)],
    LAYOUT_PAGE: [(LAYOUT_PLACEHOLDER, layout_markdown),
                  (MASK_PLACEHOLDER, mask_rules_markdown)],
}  # fmt: skip


def fill(page: str, markdown: str) -> str:
    """A generated page's Markdown with its placeholders replaced by their generators'
    output (each placeholder must stand exactly once)."""
    for placeholder, generate in GENERATED[page]:
        if markdown.count(placeholder) != 1:
            raise PluginError(
                f"docs/{page}: needs the placeholder line exactly once: {placeholder}"
            )
        markdown = markdown.replace(placeholder, generate())
    return markdown


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """MkDocs' page hook: fill the generated pages; refuse a placeholder anywhere else."""
    name = page.file.src_uri
    if name == REFERENCE_PAGE:
        # The page has no sections: give its wide table the table-of-contents column too
        # (Material's `hide: [toc]`, set here rather than as front matter GitHub would show).
        page.meta["hide"] = [*page.meta.get("hide", []), "toc"]
    if name in GENERATED:
        return fill(name, markdown)
    for other, fills in GENERATED.items():
        if any(placeholder in markdown for placeholder, _generate in fills):
            raise PluginError(f"docs/{name}: the placeholder of docs/{other} belongs there only")
    return markdown
