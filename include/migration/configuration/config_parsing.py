"""A loaded configuration mapping validated into a :class:`~include.migration.configuration.config.MigrationConfig`.

Errors that concern every installation raise; a wrong installation entry is kept
apart as a problem so that one typo does not stop every other installation.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from include.migration.configuration.config import ConfigError, InstallationProblem, InstallationSpec, MigrationConfig
from include.migration.configuration.config_defaults import check_defaults, split_defaults, with_defaults
from include.migration.configuration.config_problems import describe_error, validate_installation_entry


def parse_config(
    raw: Any, source: str = "<memory>", *, strict: bool = True, origins: dict[str, str] | None = None
) -> MigrationConfig:
    """Validate an already-loaded mapping; errors name the file, the installation and the field.

    Errors in ``defaults``, ``data_types`` or ``alerts`` concern every installation and raise
    :class:`ConfigError`. An error in one installation's entry raises too when ``strict``; otherwise it
    is kept in ``problems`` and every other installation loads. ``origins`` names the file of each part
    of merged files (``defaults.<key>``, ``data_types``, ``installations``, ``alerts``).
    """
    def origin(part: str) -> str:
        return (origins or {}).get(part) or (origins or {}).get(part.split(".")[0]) or source

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping with data_types and installations")
    unknown = set(raw) - {"defaults", "data_types", "installations", "alerts", "fleet"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level keys {sorted(unknown)}")
    check_defaults(raw, origin)
    dt_defaults, inst_defaults = split_defaults(raw)
    shared = {
        "data_types": [{**dt_defaults, **(d or {})} for d in raw.get("data_types") or []],
        "installations": [],
        **{key: raw[key] for key in ("alerts", "fleet") if key in raw},
    }
    try:
        base = MigrationConfig.model_validate(shared)
    except ValidationError as exc:
        lines = [describe_error(e, shared) for e in exc.errors()]
        where = origin("alerts") if all(e["loc"][0] == "alerts" for e in exc.errors()) else origin("data_types")
        raise ConfigError(f"{where}: invalid migration configuration:\n  " + "\n  ".join(lines)) from None
    installations: list[InstallationSpec] = []
    problems: list[InstallationProblem] = []
    items = raw.get("installations") or []
    seen_ids: set[str] = set()  # a set, not a scan of the list: 5,000 installations parse in every DAG file
    for index, item in enumerate(items):
        spec, problem = validate_installation_entry(
            index, item, with_defaults(item, inst_defaults), base.data_types, raw, origin("installations")
        )
        if spec is not None and spec.id in seen_ids:
            problem = InstallationProblem(index=index, id=spec.id, message=(
                f"{origin('installations')}: installation {spec.id!r}: installations.{index}.id: duplicate ids "
                f"[{spec.id!r}]: another entry has the same id"))
            spec = None
        if spec is not None:
            installations.append(spec)
            seen_ids.add(spec.id)
        if problem is not None:
            problems.append(problem)
    if strict and problems:
        raise ConfigError("invalid migration configuration:\n  " + "\n  ".join(p.message for p in problems))
    return base.model_copy(update={"installations": tuple(installations), "problems": tuple(problems)})
