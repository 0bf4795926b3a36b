"""The package's layout holds: imports run one way, down the stages, and no module grows past ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

INCLUDE = ROOT / "include"
# Lower rank = lower layer. A module may import its own layer and any lower one.
STAGE_RANK = {
    "errors": 0,
    "configuration": 1,
    "values": 2,
    "source": 3,
    "target": 3,
    "steps": 4,
    "orchestration": 5,
    "views": 6,
    "commands": 7,
}
MAX_MODULE_LINES = 400


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["include", "migration"] and len(parts) > 2 else None


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_migration_module_lives_in_a_known_stage() -> None:
    loose = [
        _module_name(p)
        for p in _python_files(INCLUDE / "migration")
        if _stage(_module_name(p)) not in STAGE_RANK and p.name != "__init__.py"
    ]
    assert loose == []


def test_imports_run_down_the_stages() -> None:
    wrong = []
    for path in _python_files(INCLUDE / "migration"):
        me = _stage(_module_name(path))
        if me not in STAGE_RANK:
            continue
        for name in _imports(path):
            if name.startswith(("include.benchmarks", "include.reference_remote")) and me != "commands":
                wrong.append(f"{_module_name(path)} -> {name} (the shipped package needs neither)")
                continue
            other = _stage(name)
            if other is None or other not in STAGE_RANK:
                continue
            if STAGE_RANK[other] > STAGE_RANK[me] or {me, other} == {"source", "target"}:
                wrong.append(f"{_module_name(path)} ({me}) -> {name} ({other})")
    assert wrong == []


def test_the_reference_remote_uses_only_the_lower_stages() -> None:
    allowed = {"configuration", "values", "source", "target", "errors"}
    wrong = [
        f"{_module_name(path)} -> {name}"
        for path in _python_files(INCLUDE / "reference_remote")
        for name in _imports(path)
        if name.startswith("include.benchmarks") or (_stage(name) is not None and _stage(name) not in allowed)
    ]
    assert wrong == []


@pytest.mark.parametrize("package", ["migration", "reference_remote", "benchmarks"])
def test_no_module_is_over_the_size_limit(package: str) -> None:
    sizes = {_module_name(p): len(p.read_text().splitlines()) for p in _python_files(INCLUDE / package)}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
