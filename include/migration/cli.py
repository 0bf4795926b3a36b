"""Command line: run one transfer outside Airflow (operators, tests, benchmarks).

``python -m include.migration.cli transfer INSTALLATION DATA_TYPE [--budget S]``
prints the transfer's JSON summary. Connections come from Airflow as usual
(``AIRFLOW_CONN_*`` environment variables or the metadata database).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from include.migration import runtime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.migration.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("transfer", help="copy one data type of one installation from its checkpoint")
    run.add_argument("installation")
    run.add_argument("data_type")
    run.add_argument("--budget", type=float, default=None, help="seconds before stopping (default: configured)")
    run.add_argument("--run-id", default="cli")
    args = parser.parse_args(argv)
    if args.command == "transfer":
        runtime.prepare_target(args.installation, [args.data_type])
        result = runtime.transfer(args.installation, args.data_type, args.run_id, budget_seconds=args.budget)
        print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
