"""Shared command-line plumbing: one-line errors, exit status 2, no tracebacks for bad input;
the base classes of bad-input errors and warnings (:class:`UserError`, :class:`InputWarning`)
and the text helpers of one-line messages (:func:`one_line`, :func:`short_repr`)."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Bad input from the user (a flag, a file): each line of its text is printed as one
    ``error: LINE`` line by :func:`run`, exit status 2."""


class InputWarning(UserWarning):
    """Something odd but usable in the user's input (a scenario's sanity warning): shown as
    one line ``warning: MESSAGE`` by command-line tools (:func:`one_line_warnings`)."""


def one_line(text: str, limit: int = 400) -> str:
    """``text`` for a one-line message: non-printable characters (a newline in a file name)
    escaped as ``repr`` writes them, cut to at most ``limit`` characters (ending ``...``)."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it, on one line of at most ``limit`` characters: a
    dict as ``a mapping`` and a list, tuple or set as ``a list of N`` (a section of a file
    is named, not printed); an integer too long for ``repr`` (which refuses over 4,300
    digits) as ``an integer of about N digits``; anything else as its ``repr``, a repr of
    several lines (a numpy array's) joined with single spaces, ``a TYPE`` where ``repr``
    raises."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"a list of {len(value)}"
    if isinstance(value, int) and value.bit_length() > 128:  # repr of 10**5000 raises
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    try:
        text = repr(value)
    except Exception:
        text = f"a {type(value).__name__}"
    if not text.isprintable():
        text = " ".join(text.split())
    return one_line(text, limit)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (``PROG: error: ...``) instead of usage + error, and
    no abbreviated flags: argparse's prefix matching would run ``--timestep 1000`` as
    ``--timesteps`` (or a future flag's prefix as another), so only whole names count."""

    def __init__(self, *args, **kwargs) -> None:
        self.long_flags: list[str] = []  # filled by add_argument (--help: in __init__)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        self.long_flags += [s for s in action.option_strings if s.startswith("--")]
        return action

    def parse_known_args(self, args=None, namespace=None):
        # An unknown flag is named first, with the closest known one: argparse would first
        # report a required flag as missing (`--polcy greedy`: "--policy is required") or
        # say "unrecognized" without a hint (`--timestep`).
        argv = sys.argv[1:] if args is None else [str(a) for a in args]
        unknown = unknown_flag(self.long_flags, argv)
        if unknown is not None:
            self.error(unknown)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def unknown_flag(known: Sequence[str], argv: Sequence[str]) -> str | None:
    """ "unrecognized arguments: --x; did you mean --y?" for the first ``--flag`` of ``argv``
    not in ``known`` (whole names only), or None. Tokens after ``--`` are positional;
    single-dash tokens (negative numbers, ``-h``) are left to argparse."""
    import difflib

    for token in argv:
        if token == "--":
            return None
        if not token.startswith("--"):
            continue
        name = token.split("=", 1)[0]
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            return f"unrecognized arguments: {name}{hint}"
    return None


def ranged(kind: type, lo: float, hi: float) -> Callable[[str], float]:
    """An argparse ``type``: ``kind`` (int or float) in [lo, hi], finite; else a one-line
    error naming the range and the text given."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi or (kind is float and not math.isfinite(value)):
            noun = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {noun} in [{lo}, {hi}], got {text!r}")
        return value

    return parse


@dataclass
class StopRequest:
    """Which stop signal ended a run, once one has (``signum``; None before)."""

    signum: int | None = None

    @property
    def exit_status(self) -> int:
        """The shell's status for a run stopped by the signal: 130 (SIGINT), 143 (SIGTERM)."""
        return 128 + int(self.signum or signal.SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name

    def ended(self, exc: BaseException) -> bool:
        """Whether ``exc`` is how the stop signal ended the work: the handler's
        ``KeyboardInterrupt``, or, once a signal came, any exception. A library that runs
        Python code inside C can turn that ``KeyboardInterrupt`` into another error
        (numpy's structured-array comparisons made a ``TypeError`` of it); such an error
        is named in one line on stderr, so that a real one is not hidden. Without a signal
        only a ``KeyboardInterrupt`` is a stop."""
        if isinstance(exc, KeyboardInterrupt):
            return True
        if self.signum is None:
            return False
        first = (str(exc).splitlines() or [""])[0]
        sys.stderr.write(f"\n({type(exc).__name__} after {self.name}: {first})\n")
        return True


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """While active, SIGINT and SIGTERM each raise ``KeyboardInterrupt`` in the main thread
    and the yielded :class:`StopRequest` records which one came; the previous handlers are
    restored on exit. Outside the main thread (no signal handlers there) it only yields.

    SIGINT is installed explicitly, not left to Python's default: a process started as a
    background job of a non-interactive shell (``cmd &`` in a script or a CI job) inherits
    SIGINT *ignored*, Python then keeps it ignored, and ``kill -INT`` or Ctrl-C never
    stopped a run (``train.py`` ran on to its time-out). SIGTERM (job schedulers,
    ``timeout``) stops a run the same way instead of killing it before it saves.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, _frame) -> None:
        if stop.signum is None:  # the first signal names the stop; a second one too stops
            stop.signum = signum
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def worker_ignores_stop_signals() -> None:
    """For a worker process of a pool (its ``initializer``): SIGINT ignored, so Ctrl-C (sent
    to the whole process group) stops only the parent, which then ends the pool; SIGTERM
    back to its default, so the pool's ``terminate()`` ends the worker without a
    traceback (a forked worker inherits :func:`stop_on_signals`' handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_stoppable(prog: str, main: Callable[[Sequence[str] | None], int],
                  argv: Sequence[str] | None = None) -> int:  # fmt: skip
    """Run a tool's ``main`` that writes nothing until it has everything (its outputs are
    replaced atomically): SIGINT or SIGTERM stops it with one line, ``PROG: stopped by
    SIGINT; nothing written``, and exit status 130 or 143 (:func:`stop_on_signals`);
    scenario warnings are one line each (:func:`one_line_warnings`)."""
    one_line_warnings()
    with stop_on_signals() as stop:
        try:
            return main(argv)
        except BaseException as exc:
            if not stop.ended(exc):
                raise
            sys.stderr.write(f"\n{prog}: stopped by {stop.name}; nothing written\n")
            return stop.exit_status


def one_line_warnings() -> None:
    """Print an :class:`InputWarning` (a scenario's sanity warning,
    :class:`sagsim.envs.scenario.checks.ScenarioWarning`) as one line on stderr,
    ``warning: MESSAGE``, instead of Python's two lines with the source file and code;
    other warnings keep Python's format. Idempotent; for command-line tools (a library
    leaves the warning display to its user)."""
    if getattr(warnings.formatwarning, "one_line", False):
        return
    python_format = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None) -> str:
        if issubclass(category, InputWarning):
            return "warning: " + " ".join(str(message).split()) + "\n"
        return python_format(message, category, filename, lineno, line)

    formatwarning.one_line = True  # type: ignore[attr-defined]
    warnings.formatwarning = formatwarning


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a CLI ``main``; bad input (a :class:`UserError`, a scenario's
    :class:`sagsim.envs.scenario.errors.ScenarioError` included) becomes one line on stderr
    and exit status 2; scenario warnings are one line each (:func:`one_line_warnings`)."""
    one_line_warnings()
    try:
        return main(argv)
    except UserError as exc:
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
