"""Every command-line tool refuses unknown and abbreviated flags (argparse's prefix matching
ran ``train.py --timestep 1000`` as ``--timesteps``): one line on stderr naming the flag
and, for a near miss, the one meant; exit status 2."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

# (command, an abbreviation of one of its flags, a value it takes)
TOOLS = [
    (["train.py", "minimal"], "--timestep", "1000"),
    (["evaluate.py", "minimal", "--policy", "greedy"], "--seed-bas", "5"),
    (["-m", "sagsim.envs", "minimal"], "--js", None),
    (["-m", "sagsim.fusion.train", "minimal"], "--epoch", "3"),
    (["-m", "sagsim.envs.scenario.reference"], "--writ", "x.md"),
    (["benchmarks/env_bench.py"], "--quic", None),
    (["benchmarks/orbits_bench.py"], "--quic", None),
    (["benchmarks/fusion_bench.py"], "--quic", None),
    (["benchmarks/fuzz_bench.py"], "--example", "3"),
    (["benchmarks/imagery_cost.py"], "--scen", "minimal"),
    (["benchmarks/learning_bench.py"], "--minute", "1"),
    (["benchmarks/soak_bench.py"], "--step", "10"),
    (["benchmarks/headroom_bench.py"], "--spearman-seed", "3"),
]


@pytest.mark.parametrize(("command", "flag", "value"), TOOLS, ids=lambda x: str(x))
@pytest.mark.parametrize("kind", ["abbreviated", "unknown"])
def test_abbreviated_and_unknown_flags_are_refused(command, flag, value, kind):
    flag = flag if kind == "abbreviated" else "--no-such-flag"
    argv = [sys.executable, *command, flag, *([value] if value else [])]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            check=False)  # fmt: skip
    assert result.returncode == 2, (argv, result.stdout[-500:], result.stderr[-500:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], result.stderr
    if kind == "abbreviated":  # the flag meant is named
        assert "did you mean --" in lines[0], result.stderr


def test_an_unknown_flag_is_named_before_a_missing_required_one():
    """``--polcy greedy`` was reported as "--policy is required", never naming --polcy."""
    result = subprocess.run([sys.executable, "evaluate.py", "minimal", "--polcy", "greedy"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            check=False)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == ("evaluate.py: error: unrecognized arguments: --polcy; did you mean "
                             "--policy? (see --help)\n")  # fmt: skip
