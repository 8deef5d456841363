"""Hostile training configs (``train.py --config``, :func:`sagsim.agents.training.load_config`):
anything either validates or is a one-line ``ConfigError``; ``train.py`` turns it into one
line on stderr and exit status 2, before any training starts."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagsim.agents.training import ConfigError, TrainConfig, load_config
from tests.envs.scenario.mutations import billion_laughs, scalars

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = TrainConfig().model_dump()
KEYS = sorted(DEFAULTS)


@st.composite
def configs(draw) -> bytes:
    """A config's file bytes: a valid one mutated (keys dropped, unknown, wrong types,
    extreme numbers), or hostile text."""
    kind = draw(st.sampled_from(["mapping", "mapping", "mapping", "text"]))
    if kind == "text":
        return draw(st.sampled_from([
            b"", b"- 1\n", b"42\n", b"'x'\n", b"null\n", b"---\n---\n", b"a: [\n",
            b"n_envs: 1\nn_envs: 2\n", b"seed: caf\xe9\n", "seed: 1\n".encode("utf-16"),
            b"seed: !!python/object/apply:os.system ['echo pwned']\n",
            b"seed: !!python/name:os.system\n", b"seed: &a [*a]\n",
            (billion_laughs(9, 9) + "net_arch: *lol9\n").encode(),
            b"net_arch: " + b"[" * 2000 + b"]" * 2000 + b"\n", b"seed: " + b"9" * 5000 + b"\n",
        ]))  # fmt: skip
    data = {k: v for k, v in DEFAULTS.items() if draw(st.booleans())}
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers()))
        data[key] = draw(st.one_of(scalars, st.lists(scalars, max_size=3),
                                   st.sampled_from([math.nan, math.inf, 1e308, -0.0, 10**30,
                                                    [0], [10**9], [-1], [1.5]])))  # fmt: skip
    try:
        return yaml.safe_dump(data, allow_unicode=True).encode()
    except (yaml.YAMLError, ValueError):
        return b"{}\n"


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(content=configs())
def test_any_config_validates_or_is_a_one_line_config_error(tmp_path_factory, content) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    path.write_bytes(content)
    try:
        cfg = load_config(str(path), {})
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path)), message
        return
    for value in cfg.model_dump().values():  # what validated is finite and in range
        if isinstance(value, float):
            assert math.isfinite(value)
    assert all(1 <= n <= 4096 for n in cfg.net_arch)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("1: 2\n", "Keys should be strings"),
        ("net_arch: [0]\n", "net_arch.0"),
        ("net_arch: [1000000000]\n", "net_arch.0"),
        ("learning_rate: .nan\n", "learning_rate: Input should be a finite number"),
        ("time_limit_s: .inf\n", "time_limit_s"),
        ("n_envs: true\n", "n_envs: expected a number, got true"),
        ("n_envs: 2\nn_envs: 3\n", "n_envs: key repeated on line 2"),
        (
            "lerning_rate: 0.1\nseed: x\n",
            "lerning_rate: unknown setting; did you mean 'learning_rate'?",
        ),
        ('"a\\nb": 1\n', "a\\nb: unknown setting"),  # a newline in a key stays on one line
    ],
)
def test_config_errors_name_the_field(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_config(str(path), {})
    assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_unreadable_config_paths(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(2 * 1024 * 1024)
    for path, needle in [(tmp_path, "not a regular file"), (tmp_path / "nope.yaml", "not found"),
                         (big, r"bytes \(allowed:"), (tmp_path / ("x" * 300), "cannot read it"),
                         (f"{tmp_path}/a\x00b", "not found")]:  # fmt: skip
        with pytest.raises(ConfigError, match=needle):
            load_config(str(path), {})


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"- not a mapping\n", "must be a mapping of settings"),
        (b"n_envs: .nan\nbogus: 1\n", "bogus"),
        ((billion_laughs(9, 9) + "net_arch: *lol9\n").encode(), "once aliases are expanded"),
    ],
    ids=["list", "nan-and-unknown", "bomb"],
)
def test_train_py_bad_config_is_one_line_exit_2(tmp_path: Path, content: bytes, needle) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    result = subprocess.run([sys.executable, "train.py", "minimal", "--config", str(path),
                             "--out", str(tmp_path / "run")], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, check=False)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_a_bad_flag_is_named_as_the_flag_with_its_value_and_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as flag:
        load_config(None, {"n_envs": 0})
    assert str(flag.value) == (
        "command line: --n-envs: Input should be greater than or equal to 1, got 0 "
        "(allowed: 1 ≤ n_envs ≤ 256)"
    )
    config = tmp_path / "c.yaml"
    config.write_text("seed: 3\n")
    with pytest.raises(ConfigError, match=r"^command line: --time-limit-s: .*got -1"):
        load_config(str(config), {"time_limit_s": -1.0})  # the flag is wrong, not the file
    config.write_text("n_envs: 0\n")
    with pytest.raises(ConfigError, match=r"^.*c\.yaml: n_envs: .*got 0 \(allowed: 1 ≤"):
        load_config(str(config), {"seed": 1})
