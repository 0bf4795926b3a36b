"""Command line of the reference remote.

    python -m include.reference_remote init --source-url URL --config PATH
    python -m include.reference_remote seed --source-url URL --config PATH --installations a,b --rows N
    python -m include.reference_remote serve --source-url URL --config PATH --tokens-file tokens.json \
        [--capabilities range-stats,row-hashes]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from include.migration.configuration.config import MigrationConfig
from include.migration.configuration.config_loading import load_config


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _status_pair(text: str) -> tuple[str, str]:
    installation, sep, status = text.partition("=")
    if not sep or not installation or not status:
        raise argparse.ArgumentTypeError(f"expected INSTALLATION=STATUS, got {text!r}")
    return installation.strip(), status.strip().upper()


def load_tokens(path: str | Path) -> dict[str, str]:
    """Read ``{installation: token}`` JSON and return ``{token: installation}``."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValueError(f"{path}: expected a JSON object of installation id -> token strings")
    tokens: dict[str, str] = {}
    for installation, token in raw.items():
        if token in tokens:
            raise ValueError(f"{path}: installations {tokens[token]!r} and {installation!r} share a token")
        tokens[token] = installation
    return tokens


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.reference_remote", description="Command line of the reference remote."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser(
        "init", help="create the source tables the remote reads (data type tables, migration_status) if missing"
    )
    init.add_argument("--source-url", required=True, help="SQLAlchemy URL of the source database")
    init.add_argument("--config", default=None, help="migration config YAML (default: the one next to the DAGs)")

    seed = commands.add_parser("seed", help="drop, recreate and fill the source tables deterministically")
    seed.add_argument("--source-url", required=True, help="SQLAlchemy URL of the source database")
    seed.add_argument("--config", default=None, help="migration config YAML (default: the one next to the DAGs)")
    seed.add_argument(
        "--installations", type=_split, default=None, help="comma-separated ids (default: all configured)"
    )
    seed.add_argument("--rows", type=int, required=True, help="rows per installation and data type")
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument("--status", type=_status_pair, action="append", default=[], metavar="INSTALLATION=STATUS")

    serve = commands.add_parser("serve", help="serve the migration API over the source database")
    serve.add_argument("--source-url", required=True, help="SQLAlchemy URL of the source database")
    serve.add_argument("--config", default=None, help="migration config YAML (default: the one next to the DAGs)")
    serve.add_argument("--tokens-file", required=True, help="JSON object {installation: token}")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--max-limit", type=int, default=10_000)
    serve.add_argument(
        "--capabilities",
        type=_split,
        default=None,
        help="comma-separated optional endpoints: range-stats,row-hashes (default: all; '' for none)",
    )
    return parser


def _init(source_url: str, config: MigrationConfig) -> int:
    """Create the missing source tables and say what was created; 1 when an existing table lacks columns."""
    from include.reference_remote.source_schema import init_source

    result = init_source(source_url, config.data_types)
    for table in result.created:
        print(f"created table {table}")
    if not result.created:
        print(f"nothing to create: all {len(result.present)} source tables exist")
    for table, columns in result.lacking.items():
        print(f"table {table} exists but lacks columns {', '.join(columns)}: add them by hand", file=sys.stderr)
    return 1 if result.lacking else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``init``, ``seed`` or ``serve`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    config = load_config(args.config)
    if args.command == "init":
        return _init(args.source_url, config)
    if args.command == "seed":
        from include.reference_remote.seed import seed_source

        installations = args.installations or [i.id for i in config.installations]
        counts = seed_source(
            args.source_url, config.data_types, installations, args.rows, seed=args.seed, statuses=dict(args.status)
        )
        for (installation, data_type), count in counts.items():
            print(f"{installation}\t{data_type}\t{count}")
        return 0

    import uvicorn

    from include.reference_remote.app import CAPABILITIES, create_app

    capabilities = CAPABILITIES if args.capabilities is None else args.capabilities
    app = create_app(
        args.source_url,
        config.data_types,
        load_tokens(args.tokens_file),
        max_limit=args.max_limit,
        capabilities=capabilities,
    )
    # The start-up heap lives as long as the server and every page makes many short-lived objects: the
    # collector leaves the first alone and runs less often on the rest (as the package's page loops do).
    gc.freeze()
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
