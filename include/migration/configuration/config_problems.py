"""What is wrong in a configuration, said so that it can be found: file, installation or data type, field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from include.migration.configuration.config import DataTypeSpec, InstallationProblem, InstallationSpec


def describe_error(error: dict[str, Any], raw: dict[str, Any], prefix_loc: tuple[Any, ...] = ()) -> str:
    """One pydantic error as ``installation 'acme': installations.0.<field>: <message>``."""
    loc = [*prefix_loc, *error.get("loc", ())]
    where = ".".join(str(p) for p in loc) or "(top level)"
    prefix = ""
    if len(loc) >= 2 and loc[0] in ("installations", "data_types") and isinstance(loc[1], int):
        items = raw.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
        label = "installation" if loc[0] == "installations" else "data type"
        key = item.get("id") if loc[0] == "installations" else item.get("name")
        prefix = f"{label} {key!r}: " if key is not None else f"{label} #{loc[1]}: "
    return f"{prefix}{where}: {error.get('msg')}"


def validate_installation_entry(
    index: int, item: Any, merged: dict[str, Any], data_types: tuple[DataTypeSpec, ...], raw: dict[str, Any], source: str
) -> tuple[InstallationSpec | None, InstallationProblem | None]:
    """One installation entry validated on its own: the spec, or the problem naming file, installation and field."""
    ident = str(item["id"]) if isinstance(item, dict) and item.get("id") is not None else None
    enabled = not (isinstance(item, dict) and item.get("enabled") is False)
    try:
        spec = InstallationSpec.model_validate(merged)
    except ValidationError as exc:
        lines = [describe_error(e, raw, ("installations", index)) for e in exc.errors()]
        return None, InstallationProblem(index=index, id=ident, enabled=enabled, message=f"{source}: " + "; ".join(lines))
    known = [d.name for d in data_types]
    unknown = [n for n in spec.data_types if n not in known]
    if unknown:
        message = (f"{source}: installation {spec.id!r}: installations.{index}.data_types: unknown data types {unknown}; "
                   f"configured: {known}")
        return None, InstallationProblem(index=index, id=spec.id, enabled=enabled, message=message)
    return spec, None
