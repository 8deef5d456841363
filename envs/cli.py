"""Shared command-line plumbing: one-line errors, exit status 2, no tracebacks for bad input."""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import NoReturn

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Bad input from the user (a flag, a file): printed as one line, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (``PROG: error: ...``) instead of usage + error, and
    no abbreviated flags: argparse's prefix matching would run ``--timestep 1000`` as
    ``--timesteps`` (or a future flag's prefix as another), so only whole names count."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def ranged(kind: type, lo: float, hi: float) -> Callable[[str], float]:
    """An argparse ``type``: ``kind`` (int or float) in [lo, hi], finite; else a one-line
    error naming the range and the text given."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a {kind.__name__} in [{lo}, {hi}], "
                                             f"got {text!r}")  # fmt: skip
        return value

    return parse


def one_line_warnings() -> None:
    """Print a scenario sanity warning (:class:`envs.scenario_checks.ScenarioWarning`) as
    one line on stderr, ``warning: MESSAGE``, instead of Python's two lines with the
    source file and code; other warnings keep Python's format. Idempotent; for
    command-line tools (a library leaves the warning display to its user)."""
    if getattr(warnings.formatwarning, "one_line", False):
        return
    from envs.scenario_checks import ScenarioWarning

    python_format = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None) -> str:
        if issubclass(category, ScenarioWarning):
            return "warning: " + " ".join(str(message).split()) + "\n"
        return python_format(message, category, filename, lineno, line)

    formatwarning.one_line = True  # type: ignore[attr-defined]
    warnings.formatwarning = formatwarning


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a CLI ``main``; bad input becomes one line on stderr and exit status 2; scenario
    warnings are one line each (:func:`one_line_warnings`)."""
    # Imported lazily so that `--help` does not pay for the scenario machinery.
    from envs.scenario import ScenarioError

    one_line_warnings()
    try:
        return main(argv)
    except (ScenarioError, UserError) as exc:
        # A ScenarioError lists each problem on its own line: each line is a whole error.
        for line in str(exc).splitlines() or [""]:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
