"""``python -m envs SCENARIO [--json]``: validate a scenario and print what it contains."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from envs.cli import ArgumentParser, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m envs",
        description="Validate a scenario file and show its entities, region grid, contact "
        "windows, revisit over the region and link capacities.",
    )
    parser.add_argument("scenario", help="scenario YAML file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from envs.inspector import format_report, inspect_scenario
    from envs.scenario import load_scenario

    report = inspect_scenario(load_scenario(args.scenario))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
