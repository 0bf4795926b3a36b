"""The measured cases; each runs in its own subprocess so that its peak RSS is its own.

    python -m include.benchmarks.cases CASE --out RESULT.json [--database NAME] [...]

Every case does its set-up first (connections, empty tables, rows loaded in
memory for the ceilings), then times only the copy itself, and writes a JSON
result. Verification of what landed in the target happens afterwards in the
runner (another process), so it never counts in a case's time or memory.
This module picks the case and writes its result; each case has its own module.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from include.benchmarks.ceiling_cases import ceiling_load_data, ceiling_server, ceiling_server_n
from include.benchmarks.common import bench_database, write_result
from include.benchmarks.generic_case import generic_transfer
from include.benchmarks.parallel_case import transfer_parallel
from include.benchmarks.transfer_case import transfer
from include.benchmarks.validate_case import validate

CASES = {
    "ceiling_server": ceiling_server,
    "ceiling_server_n": ceiling_server_n,
    "ceiling_load_data": ceiling_load_data,
    "transfer": transfer,
    "transfer_parallel": transfer_parallel,
    "validate": validate,
    "generic_transfer": generic_transfer,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the case named on the command line and write its result to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m include.benchmarks.cases")
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--installation", default="bench")
    parser.add_argument("--database", default=None, help="the bench_* MariaDB database written to")
    parser.add_argument("--profile", default="mysql")
    parser.add_argument("--profile-overrides", default=None, help="JSON object")
    parser.add_argument("--page-format", choices=("auto", "json", "arrow"), default=None,
                        help="override the data types' page_format (transfer)")
    parser.add_argument("--budget", type=float, default=7200.0)
    parser.add_argument("--data-types", nargs="*", default=None)
    parser.add_argument("--rate-share", type=int, default=1, help="transfers sharing the profile's rate")
    parser.add_argument("--start-file", default=None, help="after set-up, wait for this file to exist (parallel)")
    parser.add_argument("--insert-args", default=None, help="JSON object for GenericTransfer")
    parser.add_argument("--generic-page-size", type=int, default=None,
                        help="GenericTransfer's page_size (paged reads; default: the whole table at once)")
    parser.add_argument("--profile-out", default=None, help="cProfile the transfer into this file")
    args = parser.parse_args(argv)
    if args.database:
        args.database = bench_database(args.database)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = CASES[args.case](args)
    result.setdefault("case", args.case)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
