"""Reading untrusted YAML: a size-capped file read and a safe, bounded parser.

Safe tags only (no ``!!python/...``: nothing runs while loading), a key repeated in one
mapping is an error, and the document's node count (aliases expanded) and nesting depth are
capped, so a "billion laughs" bomb or a deeply nested file is refused in milliseconds.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from sagsim.cli import short_repr
from sagsim.envs.scenario.errors import ScenarioError, exc_text, os_text

__all__ = [
    "MAX_SCENARIO_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "parse_yaml",
    "read_capped",
    "read_yaml",
]

# -- Limits on untrusted input (each one named in the error it causes) -------------------
#
# A scenario is hand-written text, plus at most inline TLEs: 10,000 satellites × 3 lines ×
# 71 bytes is 2.1 MB. libyaml scans 10 MB in well under a second.
MAX_SCENARIO_BYTES = 10 * 1024 * 1024
# YAML nodes after expanding aliases. The schema's own list limits add up to about 200,000
# (10,000 listed targets of ~11 nodes, 10,000 polygon vertices of 3, 10,000 bad-source
# agents of 2, 1,000 events of ~19); composing and validating 250,000 takes ~2 s. Counting
# *expanded* nodes is what refuses a "billion laughs" bomb (aliases of aliases that stand
# for 10^9 nodes in a few hundred bytes) before anything walks it.
MAX_YAML_NODES = 250_000
# The schema's deepest value is 5 levels down (satellites[0].walker.altitude_m, a polygon
# vertex's latitude); anything much deeper cannot validate, and deep recursion in the
# constructor or the validator would end in RecursionError.
MAX_YAML_DEPTH = 32


def read_yaml(path: Path) -> dict[str, Any]:
    source = str(path)
    raw = read_capped(path, MAX_SCENARIO_BYTES, source, "")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    data = parse_yaml(text, source)
    if data is None:
        raise ScenarioError(source, "", "file is empty (expected a mapping of scenario fields)")
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ScenarioError(source, "", f"top level must be a mapping of fields, got {kind}")
    return data


def read_capped(path: Path, limit: int, source: str, field: str, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or a ScenarioError."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ScenarioError(source, field, f"{what} not found") from None
    except (OSError, ValueError) as exc:  # too long a name, a NUL byte, no permission
        raise ScenarioError(source, field, f"cannot read {what}: {os_text(exc)}") from None
    if not stat.S_ISREG(info.st_mode):  # a folder, a FIFO (would block), a device
        raise ScenarioError(source, field, f"{what} is not a regular file")
    if info.st_size > limit:
        raise ScenarioError(
            source, field, f"{what} is {info.st_size:,} bytes (allowed: ≤ {limit:,})"
        )
    try:
        with path.open("rb") as stream:
            raw = stream.read(limit + 1)  # a file whose size stat() misreports (/proc)
    except OSError as exc:
        raise ScenarioError(source, field, f"cannot read {what}: {os_text(exc)}") from None
    if len(raw) > limit:
        raise ScenarioError(source, field, f"{what} is over {limit:,} bytes (allowed: ≤ {limit:,})")
    return raw


def parse_yaml(text: str, source: str) -> Any:
    """Parse untrusted YAML ``text`` into plain data, or raise :class:`ScenarioError`.

    Safe tags only (``!!python/object`` and the like are refused: nothing is executed or
    imported), a key repeated in one mapping is an error, and the document is refused
    beyond ``MAX_YAML_NODES`` nodes (aliases counted expanded: a billion-laughs bomb stops
    at the limit, in milliseconds), ``MAX_YAML_DEPTH`` levels of nesting, or a recursive
    alias. Used for scenario files and by ``sagsim.agents.training`` for training configs.
    """
    loader = _ScenarioLoader(text)
    try:
        return loader.get_single_data()
    except _YAMLLimitError as exc:
        raise ScenarioError(source, "", f"{exc.where}{exc}") from None
    except _DuplicateKeyError as exc:
        raise ScenarioError(source, exc.path, str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or exc_text(exc)
        raise ScenarioError(source, "", f"invalid YAML: {where}{problem}") from None
    except RecursionError:
        raise ScenarioError(source, "", "invalid YAML: nested too deeply") from None
    except (ValueError, TypeError, AttributeError, ArithmeticError) as exc:
        # PyYAML's constructors raise these for values that parse but cannot be built
        # (2024-13-45 as a timestamp, a 5,000-digit integer, !!int "abc").
        first = exc_text(exc).split(";")[0] or type(exc).__name__
        raise ScenarioError(source, "", f"invalid YAML value: {first}") from None
    finally:
        loader.dispose()


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, line: int) -> None:
        self.path = short_repr(key) if not isinstance(key, str) else key
        super().__init__(f"key repeated on line {line} (a later value would silently win)")


class _YAMLLimitError(yaml.YAMLError):
    def __init__(self, message: str, mark: Any) -> None:
        self.where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        super().__init__(message)


class _BoundedComposer(yaml.composer.Composer):
    """PyYAML's composer (on libyaml's events where available) that counts the nodes of
    the document as if every alias were expanded, and its depth, and stops at the limits;
    an alias inside its own anchor (a recursive structure) is refused too."""

    def __init__(self) -> None:
        super().__init__()
        self._nodes = 0
        self._depth = 0
        self._anchor_sizes: dict[str, int] = {}
        self._open_anchors: set[str] = set()

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise _YAMLLimitError(
                    f"alias *{event.anchor} inside its own anchor (a recursive structure; "
                    "allowed: aliases of complete nodes)",
                    event.start_mark,
                )
            self._count(self._anchor_sizes.get(event.anchor, 1), event, alias=True)
            return super().compose_node(parent, index)
        if self._depth >= MAX_YAML_DEPTH:
            raise _YAMLLimitError(
                f"nested more than {MAX_YAML_DEPTH} levels deep (allowed: ≤ {MAX_YAML_DEPTH})",
                event.start_mark,
            )
        anchor, start = event.anchor, self._nodes
        self._count(1, event)
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if anchor is not None:
            self._open_anchors.discard(anchor)
            self._anchor_sizes[anchor] = self._nodes - start
        return node

    def _count(self, n: int, event: Any, alias: bool = False) -> None:
        self._nodes += n
        if self._nodes > MAX_YAML_NODES:
            expanded = " once aliases are expanded" if alias else ""
            raise _YAMLLimitError(
                f"document too large: more than {MAX_YAML_NODES:,} nodes{expanded} "
                f"(allowed: ≤ {MAX_YAML_NODES:,})",
                event.start_mark,
            )


if getattr(yaml, "__with_libyaml__", False):

    class _Parser(yaml.cyaml.CParser):  # libyaml: ~10x faster, and its own nesting limit
        def __init__(self, text: str) -> None:
            yaml.cyaml.CParser.__init__(self, text)

else:  # pragma: no cover - PyYAML built without libyaml

    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


class _ScenarioLoader(
    _BoundedComposer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
):
    """A SafeLoader with limits (see :func:`parse_yaml`): the composer is
    :class:`_BoundedComposer`, and a key given twice in one mapping is an error."""

    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        _BoundedComposer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)

    def dispose(self) -> None:
        if hasattr(_Parser, "dispose"):
            _Parser.dispose(self)

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: let PyYAML report it
                break
            if repeated:
                raise _DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
