"""sagsim.cli, the bottom layer: the one-line text helpers, the bad-input base classes
(a ScenarioError is a UserError, a ScenarioWarning an InputWarning) and no import from
the layers above it."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from sagsim.cli import InputWarning, UserError, one_line, one_line_warnings, run, short_repr
from sagsim.envs.scenario.checks import ScenarioWarning
from sagsim.envs.scenario.errors import ScenarioError
from tests.conftest import ROOT


def test_one_line_escapes_and_cuts():
    assert one_line("a\nb\tc") == "a\\nb\\tc"
    assert one_line("x" * 500) == "x" * 397 + "..."
    assert one_line("x" * 50, 10) == "x" * 7 + "..."
    assert one_line("plain") == "plain"


class _BadRepr:
    def __repr__(self):
        raise RuntimeError("no")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1}, "a mapping"),
        ([1, 2, 3], "a list of 3"),
        ((1, 2), "a list of 2"),
        (10**5000, "an integer of about 5,001 digits"),  # repr raises over 4,300 digits
        (np.arange(4).reshape(2, 2), "array([[0, 1], [2, 3]])"),  # repr on two lines
        ("a  b", "'a  b'"),  # a one-line repr is kept as it is
        (_BadRepr(), "a _BadRepr"),
        (1.5, "1.5"),
    ],
    ids=["dict", "list", "tuple", "huge-int", "array", "spaces", "bad-repr", "float"],
)
def test_short_repr(value, expected):
    assert short_repr(value) == expected


def test_short_repr_is_cut_at_its_limit():
    assert short_repr("y" * 100) == "'" + "y" * 56 + "..."
    assert len(short_repr("y" * 100, limit=20)) == 20


def test_scenario_errors_and_warnings_are_bad_input():
    error = ScenarioError("s.yaml", "env.max_cycles", "too many")
    assert isinstance(error, UserError) and isinstance(error, ValueError)
    assert issubclass(ScenarioWarning, InputWarning) and issubclass(ScenarioWarning, UserWarning)


def test_run_prints_each_line_of_a_scenario_error(capsys):
    def main(argv):
        raise ScenarioError.from_errors("s.yaml", [("a", "bad"), ("b", "worse")])

    assert run(main, []) == 2
    assert capsys.readouterr().err == "error: s.yaml: a: bad\nerror: s.yaml: b: worse\n"


def test_input_warnings_are_one_line(monkeypatch):
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
    one_line_warnings()
    text = warnings.formatwarning("odd\nvalue", InputWarning, "x.py", 3)
    assert text == "warning: odd value\n"


def test_the_cli_layer_imports_nothing_above_it():
    """run() and one_line_warnings() work without loading sagsim.envs (the bottom layer
    imported the scenario's error and warning classes before)."""
    code = (
        "import sys\n"
        "from sagsim.cli import UserError, one_line_warnings, run\n"
        "one_line_warnings()\n"
        "def main(argv):\n"
        "    raise UserError('bad flag')\n"
        "assert run(main, []) == 2\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('sagsim.envs', 'sagsim.fusion',"
        " 'sagsim.agents')))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "error: bad flag\n"


def test_a_stop_request_owns_the_errors_that_follow_its_signal(capsys):
    import signal

    from sagsim.cli import StopRequest

    stop = StopRequest()
    assert stop.ended(KeyboardInterrupt())
    assert not stop.ended(TypeError("a bug"))  # no signal: an error is an error
    assert capsys.readouterr().err == ""
    stop.signum = signal.SIGTERM
    # What numpy made of the handler's KeyboardInterrupt: the stop, named on one line.
    assert stop.ended(TypeError("Cannot compare structured arrays\nsecond line"))
    assert capsys.readouterr().err == (
        "\n(TypeError after SIGTERM: Cannot compare structured arrays)\n"
    )
