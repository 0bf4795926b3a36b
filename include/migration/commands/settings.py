"""Load ``airflow_settings.yaml`` (the Astro CLI's format) into plain Airflow.

``python -m include.migration.commands.settings [airflow_settings.yaml]`` imports its
pools, connections and variables with Airflow's own CLI (``pools import``,
``connections import --overwrite``, ``variables import``), so a local or
compose deployment gets the same set-up as ``astro dev start``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def read_settings(path: Path) -> dict[str, Any]:
    """The ``airflow:`` block of the settings file, with empty lists where a section is missing."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    block = raw.get("airflow") or {}
    return {key: list(block.get(key) or []) for key in ("connections", "pools", "variables")}


def pools_json(pools: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        p["pool_name"]: {"slots": int(p["pool_slot"]), "description": p.get("pool_description", ""), "include_deferred": False}
        for p in pools
    }


def connections_json(connections: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for c in connections:
        extra = c.get("conn_extra")
        out[c["conn_id"]] = {
            "conn_type": c.get("conn_type"),
            "host": c.get("conn_host"),
            "schema": c.get("conn_schema"),
            "login": c.get("conn_login"),
            "password": c.get("conn_password"),
            "port": c.get("conn_port"),
            "extra": json.dumps(extra) if isinstance(extra, dict) else extra,
        }
    return out


def variables_json(variables: list[dict[str, Any]]) -> dict[str, Any]:
    return {v["variable_name"]: v.get("variable_value") for v in variables}


KINDS = ("pools", "connections", "variables")


def load_settings(
    path: Path,
    airflow: Sequence[str] = (sys.executable, "-m", "airflow"),
    env: Mapping[str, str] | None = None,
    kinds: Sequence[str] = KINDS,
) -> dict[str, int]:
    """Import ``kinds`` (default everything) with ``env`` for the Airflow CLI; returns how many of each kind."""
    settings = read_settings(path)
    commands = [
        ("pools", pools_json(settings["pools"]), ["pools", "import"]),
        ("connections", connections_json(settings["connections"]), ["connections", "import", "--overwrite"]),
        ("variables", variables_json(settings["variables"]), ["variables", "import"]),
    ]
    loaded = {}
    commands = [c for c in commands if c[0] in kinds]
    with tempfile.TemporaryDirectory() as folder:
        for kind, document, command in commands:
            loaded[kind] = len(document)
            if not document:
                continue
            file = Path(folder) / f"{kind}.json"
            file.write_text(json.dumps(document))
            done = subprocess.run([*airflow, *command, str(file)], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                # The CLI's message names the item; it never echoes the passwords we passed in a file.
                raise RuntimeError(f"airflow {' '.join(command)} failed: {done.stderr.strip()[-2000:]}")
    return loaded


def never_load_examples(airflow_home: Path) -> None:
    """Set ``load_examples = False`` in the home's ``airflow.cfg`` (Airflow generates it with True)."""
    path = airflow_home / "airflow.cfg"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        fixed = re.sub(r"^load_examples = True$", "load_examples = False", text, flags=re.MULTILINE)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else ROOT / "airflow_settings.yaml"
    loaded = load_settings(path)
    print(f"loaded from {path}: " + ", ".join(f"{n} {kind}" for kind, n in loaded.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
