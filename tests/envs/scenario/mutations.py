"""Hostile scenario files for fuzzing :func:`envs.load_scenario`: hypothesis strategies that
mutate the shipped scenarios, and a runner that loads one and judges the outcome.

Shared by ``tests/envs/scenario/test_fuzz.py`` (a small, derandomised budget in CI) and
``benchmarks/fuzz_bench.py`` (thousands of inputs, seeded). Every input must either load or
raise :class:`envs.ScenarioError` with one line per problem: never another exception, a hang
or a memory blow-up; inputs marked ``must_fail`` (code-running YAML tags, alias bombs,
paths out of the scenario's folder, broken UTF-8, repeated keys) must not load at all.

A mutation works on the parsed document (drop a key, swap a type, put an extreme or
non-finite number, a huge list or deep nesting anywhere, point a TLE file somewhere it
must not go) and then, for file inputs, on the YAML text (truncate it, insert bytes, a
``!!python/...`` tag, a billion-laughs bomb, a repeated key, deep flow nesting, or replace
it whole: empty, not a mapping, several documents, UTF-16).
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from sagsim.envs import ScenarioError, load_scenario
from sagsim.envs.scenario.errors import MAX_LISTED_ERRORS

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = {
    p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "scenarios").glob("*.yaml"))
}
BASES = {name: yaml.safe_load(text) for name, text in SHIPPED.items()}

ISS_TLE = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   24197.50000000  .00016717  00000-0  30270-3 0  9995\n"
    "2 25544  51.6390 182.4627 0010703 130.5360 325.0288 15.50377579463724\n"
)
SECRET = "TOP-SECRET-CONTENT"  # in files outside the scenario folder: must never load

# -- values ----------------------------------------------------------------------------

EXTREME_NUMBERS = [math.inf, -math.inf, math.nan, 1e308, -1e308, 1.7976931348623157e308,
                   -0.0, 0.0, 5e-324, -5e-324, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64,
                   10**30, -(10**30), 10**300, 10**4000, 1, -1, 0]  # fmt: skip
ODD_STRINGS = ["", " ", "nan", "inf", "-inf", "1e999", "0x10", "1_000", "yes", "no", "~",
               "null", "\x00", "a\nb", "é", "💥", "\u202e", "x" * 5000, "../../etc/passwd",
               "2024-13-45T00:00:00Z", "0001-01-01T00:00:00+01:00",
               "9999-12-31T23:59:59-01:00", "2024-07-15T00:00:00+25:00"]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(EXTREME_NUMBERS),
    st.sampled_from(ODD_STRINGS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.binary(max_size=8),
    st.datetimes(),
)


@st.composite
def junk(draw, max_list: int) -> Any:
    """Any value: a scalar, a container of scalars, a huge list or a deep nest."""
    kind = draw(st.sampled_from(["scalar", "scalar", "list", "map", "huge", "deep"]))
    if kind == "scalar":
        return draw(scalars)
    if kind == "list":
        return draw(st.lists(scalars, max_size=4))
    if kind == "map":
        return draw(st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), scalars,
                                    max_size=3))  # fmt: skip
    if kind == "huge":
        return [draw(scalars)] * draw(st.integers(0, max_list))
    depth = draw(st.integers(2, 60))
    value = draw(scalars)
    for _ in range(depth):
        value = [value] if draw(st.booleans()) else {"k": value}
    return value


# -- mutations of the parsed document ---------------------------------------------------


def _paths(node: Any, prefix: tuple = (), seen: set | None = None) -> list[tuple]:
    """Paths to every value, visiting a shared object once and at most 8 items of a list
    (an earlier "huge" mutation may have made 20,000 references to one 20,000-item list)."""
    seen = set() if seen is None else seen
    out = [prefix]
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return out
        seen.add(id(node))
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key), seen)
    elif isinstance(node, list):
        for i in sorted({*range(min(len(node), 7)), len(node) - 1} - {-1}):
            out += _paths(node[i], (*prefix, i), seen)
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


HOSTILE_TLE_PATHS = [  # (path, must it be refused?)
    ("../secret.tle", True), ("../../secret.tle", True), ("sub/../../secret.tle", True),
    ("link_out.tle", True), ("/etc/passwd", True), ("/proc/self/environ", True),
    ("/dev/zero", True), ("fifo.tle", True), ("loop.tle", True), ("big.tle", True),
    ("latin1.tle", True), ("a\x00b.tle", True), ("x" * 300, True), ("x/" * 1000, True),
    ("", True), (".", True), ("sub", True), ("~/.ssh/id_rsa", True),
    ("C:\\Windows\\win.ini", True), ("inside.tle", False), ("sub/inside.tle", False),
]  # fmt: skip


REFUSED_TLE_PATHS = {path for path, refused in HOSTILE_TLE_PATHS if refused}


def prepare_folder(folder: Path) -> Path:
    """Make ``folder/scenario/`` (where the fuzzed file goes) with the files the hostile TLE
    paths name, and a secret outside it; returns the scenario folder."""
    scen = folder / "scenario"
    if scen.exists():
        return scen
    (scen / "sub").mkdir(parents=True)
    (folder / "secret.tle").write_text(f"{SECRET}\n{ISS_TLE}")
    (scen / "inside.tle").write_text(ISS_TLE)
    (scen / "sub" / "inside.tle").write_text(ISS_TLE)
    (scen / "latin1.tle").write_bytes(b"caf\xe9\n" + ISS_TLE.encode())
    os.symlink(folder / "secret.tle", scen / "link_out.tle")
    os.symlink(scen / "loop2.tle", scen / "loop.tle")
    os.symlink(scen / "loop.tle", scen / "loop2.tle")
    os.mkfifo(scen / "fifo.tle")  # opening it would block forever
    with open(scen / "big.tle", "wb") as f:  # sparse: over MAX_TLE_FILE_BYTES, no disk used
        f.truncate(64 * 1024 * 1024)
    for tle in (ROOT / "scenarios").glob("*.tle"):  # the shipped scenarios' own tle_files
        shutil.copyfile(tle, scen / tle.name)
    return scen


@st.composite
def mutated_document(draw, max_list: int = 2_000) -> tuple[str, dict, list[str], bool]:
    """(base name, mutated copy of a shipped scenario, what was done, must it fail)."""
    name = draw(st.sampled_from(sorted(BASES)))
    doc = copy.deepcopy(BASES[name])
    done: list[str] = []
    must_fail = False  # set below, from the final document
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "replace", "extreme", "swap", "huge", "nest",
                                   "unknown", "tle", "duplicate"]))  # fmt: skip
        paths = [p for p in _paths(doc) if p]
        if op == "tle":
            groups = doc.get("satellites") if isinstance(doc, dict) else None
            if not isinstance(groups, list) or not groups or not isinstance(groups[0], dict):
                continue
            tle_path, _ = draw(st.sampled_from(HOSTILE_TLE_PATHS))
            group = groups[draw(st.integers(0, len(groups) - 1))]
            if not isinstance(group, dict):
                continue
            for key in ("walker", "tle"):
                group.pop(key, None)
            group["tle_file"] = tle_path
            done.append(f"tle_file={tle_path[:40]!r}")
            continue
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(doc, path), path[-1]
        value = parent[key]
        if op == "drop":
            del parent[key]
        elif op in ("replace", "swap"):
            if op == "swap":
                swapped = {dict: [1, 2], list: {"a": 1}, str: [value], bool: "true"}
                parent[key] = swapped.get(type(value), {"value": value})
            else:
                parent[key] = draw(junk(max_list))
        elif op == "extreme":
            parent[key] = draw(st.sampled_from(EXTREME_NUMBERS))
        elif op == "huge":
            item = value[0] if isinstance(value, list) and value else value
            parent[key] = [item] * draw(st.integers(0, max_list))
        elif op == "nest":
            for _ in range(draw(st.integers(1, 60))):
                value = [value]
            parent[key] = value
        elif op == "unknown":
            if isinstance(value, dict):
                value[draw(st.one_of(st.text(max_size=10), st.integers()))] = draw(scalars)
            else:
                parent[key] = {"unexpected": value}
        elif op == "duplicate" and isinstance(value, list) and value:
            value.append(copy.deepcopy(value[0]))
        done.append(f"{op} {'.'.join(map(str, path))[:60]}")
    # A hostile TLE path still in place after all the mutations must be refused.
    groups = doc.get("satellites") if isinstance(doc, dict) else None
    for group in groups if isinstance(groups, list) else []:
        if isinstance(group, dict) and isinstance(group.get("tle_file"), str):
            must_fail |= group["tle_file"] in REFUSED_TLE_PATHS
    return name, doc, done, must_fail


# -- mutations of the YAML text ---------------------------------------------------------

TAGS = [  # (text, must it be refused?)
    ("!!python/object/apply:os.system ['echo pwned']", True),
    ("!!python/object/new:os.system [echo pwned]", True),
    ("!!python/name:os.system", True),
    ("!!python/object:builtins.object {}", True),
    ("!!python/tuple [1, 2]", True),
    ("!<tag:yaml.org,2002:python/object/apply:subprocess.check_output> [[id]]", True),
    ("!custom 1", True),
    ("!!binary aGVsbG8=", False),
    ("!!set {a, b}", False),
    ("!!omap [a: 1, b: 2]", False),
    ("!!timestamp 2024-99-99", True),
    ("!!float nan", False),
    ("!!int 0xffffffffffffffffffffffff", False),
    ("!!str 1", False),
]


def billion_laughs(levels: int, fan: int) -> str:
    lines = ['lol0: &lol0 ["lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*lol{i - 1}"] * fan)
        lines.append(f"lol{i}: &lol{i} [{refs}]")
    return "\n".join(lines) + "\n"


@st.composite
def mutated_text(draw, text: str) -> tuple[bytes, list[str], bool]:
    """(file bytes, what was done, must it fail) from a scenario's YAML ``text``."""
    op = draw(st.sampled_from(["none", "truncate", "bytes", "tag", "bomb", "recursive",
                               "duplicate", "huge_number", "deep_flow", "whole", "encoding",
                               "crlf"]))  # fmt: skip
    lines = text.splitlines(keepends=True)
    value_lines = [
        i for i, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")
    ]
    if op == "none":
        return text.encode(), [], False
    if op == "truncate":
        cut = draw(st.integers(0, len(text)))
        return text[:cut].encode(), [f"truncate at {cut}"], False
    if op == "bytes":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        junk_bytes = draw(st.binary(min_size=1, max_size=8))
        broken = raw[:at] + junk_bytes + raw[at:]
        try:
            broken.decode("utf-8")
            must_fail = False
        except UnicodeDecodeError:
            must_fail = True
        return broken, [f"insert {junk_bytes!r} at {at}"], must_fail
    if op == "whole":
        whole = draw(st.sampled_from([b"", b" \n", b"---\n", b"---\n---\n", b"- a\n- b\n",
                                      b"42\n", b"null\n", b"~\n", b"'just a string'\n",
                                      b"[1, 2\n", b"{a: 1}\n{b: 2}\n", b"\x00\x00",
                                      b"!!python/object/apply:os.system ['echo pwned']\n",
                                      b"\xef\xbb\xbf" + text.encode(), b"\t- a\n",
                                      text.encode() + b"---\nname: second\n"]))  # fmt: skip
        return whole, [f"whole file {whole[:30]!r}"], not whole.startswith(b"\xef\xbb\xbf")
    if op == "encoding":
        codec = draw(st.sampled_from(["utf-16", "utf-32", "latin-1"]))
        data = (text + "# café\n").encode(codec, errors="replace")
        return data, [f"encoded {codec}"], True
    if op == "crlf":
        return text.replace("\n", "\r\n").encode(), ["CRLF"], False
    if not value_lines:
        return text.encode(), [], False
    i = draw(st.sampled_from(value_lines))
    line = lines[i]
    head = line[: line.index(": ") + 2]
    if op == "tag":
        tag, refused = draw(st.sampled_from(TAGS))
        lines[i] = f"{head}{tag}\n"
        return "".join(lines).encode(), [f"tag {tag} at line {i + 1}"], refused
    if op == "bomb":
        levels, fan = draw(st.sampled_from([(9, 9), (12, 5), (30, 2), (4, 9)]))
        big = fan**levels > 250_000
        lines[i] = f"{head}*lol{levels}\n"
        done = [f"bomb {fan}^{levels}{' (over the node limit)' if big else ''} at line {i + 1}"]
        # Refused either way: a small bomb still adds unknown top-level keys (lol0, ...).
        return (billion_laughs(levels, fan) + "".join(lines)).encode(), done, True
    if op == "recursive":
        lines[i] = f"{head}&r [1, *r]\n"
        return "".join(lines).encode(), [f"recursive alias at line {i + 1}"], True
    if op == "duplicate":
        lines.insert(i + 1, line if line.endswith("\n") else line + "\n")
        # An unindented "key: value" line is a top-level key: repeating it must be refused
        # (an indented line may sit in a block scalar, or start a new list item).
        top_level = re.match(r"[a-z_]+: ", line) is not None
        return "".join(lines).encode(), [f"repeat line {i + 1}"], top_level
    if op == "huge_number":
        digits = draw(st.sampled_from([400, 4300, 5000, 100_000]))
        lines[i] = f"{head}{'9' * digits}\n"
        return "".join(lines).encode(), [f"{digits}-digit number at line {i + 1}"], digits > 4300
    depth = draw(st.sampled_from([33, 100, 999, 1001, 5000]))
    lines[i] = f"{head}{'[' * depth}1{']' * depth}\n"
    return "".join(lines).encode(), [f"flow nesting {depth} at line {i + 1}"], True


@dataclass
class Case:
    """One fuzzed input: YAML bytes for a file, or a mapping given directly."""

    base: str
    content: bytes | dict
    done: list[str] = field(default_factory=list)
    must_fail: bool = False


@st.composite
def cases(draw, max_list: int = 2_000) -> Case:
    """A mutated shipped scenario, as a file (mostly) or as a mapping."""
    name, doc, done, must_fail = draw(mutated_document(max_list))
    if draw(st.integers(0, 4)) == 0:
        return Case(name, doc, done, must_fail)
    try:
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError, RecursionError):
        text = SHIPPED[name]
        done, must_fail = [], False
    if len(done) == 0 or draw(st.integers(0, 3)) > 0:  # mostly: text mutations too
        text_bytes, text_done, text_fail = draw(mutated_text(text))
        return Case(name, text_bytes, done + text_done, must_fail or text_fail)
    return Case(name, text.encode(), done, must_fail)


# -- running one ------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str  # "loaded", "clean_error" (ScenarioError) or "other"
    seconds: float
    peak_bytes: int
    message: str


def run_case(case: Case, folder: Path, trace_memory: bool = True) -> Outcome:
    """Load ``case`` (written to ``folder/scenario/fuzz.yaml`` if it is bytes) and classify."""
    scen = prepare_folder(folder)
    if isinstance(case.content, bytes):
        target: Any = scen / "fuzz.yaml"
        target.write_bytes(case.content)
    else:
        target = case.content
    if trace_memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        load_scenario(target)
        kind, message = "loaded", ""
    except ScenarioError as exc:
        kind, message = "clean_error", str(exc)
    except Exception as exc:  # the fuzzer's finding: anything else is a bug
        kind, message = "other", f"{type(exc).__name__}: {exc}"[:500]
    seconds = time.perf_counter() - t0
    peak = 0
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return Outcome(kind, seconds, peak, message)


def problems(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with ``outcome`` for ``case`` (empty: fine)."""
    out = []
    if outcome.kind == "other":
        out.append(f"not a ScenarioError: {outcome.message}")
    if outcome.kind == "clean_error":
        out += _line_problems(case, outcome.message)
    if outcome.kind == "loaded" and case.must_fail:
        out.append("loaded, but it must be refused")
    if SECRET in outcome.message:
        out.append("an error message shows a file from outside the scenario folder")
    return out


def _line_problems(case: Case, message: str) -> list[str]:
    """A ScenarioError's message is one line per problem (at most MAX_LISTED_ERRORS, then one
    line counting the rest), each a whole error naming the input: never a stray line."""
    source = "<scenario dict>" if isinstance(case.content, dict) else "fuzz.yaml"
    lines = message.split("\n")
    if len(lines) > MAX_LISTED_ERRORS + 1:
        return [f"{len(lines)} lines: {message[:300]!r}"]
    stray = [line for line in lines if not line.split(": ", 1)[0].endswith(source)]
    return [f"a line that is not a whole error: {stray[0]!r}"] if stray else []
