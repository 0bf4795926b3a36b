"""Configuration validation: typed objects from YAML, errors naming file, installation and field."""

import os
import re
from pathlib import Path

import pytest

from include.migration.configuration.config import ColumnType, ConfigError
from include.migration.configuration.config_loading import load_config
from include.migration.configuration.config_parsing import parse_config
from include.migration.configuration.identifiers import IdentifierError

BASE = {
    "defaults": {"remote_conn_id": "remote_{installation}", "target_conn_id": "target_{installation}"},
    "data_types": [
        {
            "name": "users",
            "primary_key": "id",
            "columns": [{"name": "id", "type": "bigint"}, {"name": "email", "type": "varchar(255)"}],
        }
    ],
    "installations": [{"id": "acme"}, {"id": "globex", "enabled": False}],
}


def _with(**changes):
    raw = {k: (list(v) if isinstance(v, list) else dict(v)) for k, v in BASE.items()}
    raw.update(changes)
    return raw


def test_shipped_config_is_valid():
    config = load_config(Path(__file__).resolve().parents[2] / "dags" / "migration_config.yaml")
    assert [i.id for i in config.enabled_installations] == ["acme", "globex", "initech"]
    assert {d.name for d in config.data_types} == {"users", "issues", "comments"}


def test_defaults_fill_connection_ids_and_key_is_not_null():
    config = parse_config(_with())
    acme = config.installation("acme")
    assert (acme.remote_conn_id, acme.target_conn_id) == ("remote_acme", "target_acme")
    assert [i.id for i in config.enabled_installations] == ["acme"]
    users = config.data_type("users")
    assert users.target_table == "users" and users.key_column.nullable is False
    assert users.columns[1].type == ColumnType(base="varchar", length=255)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("decimal(12,2)", (12, 2)), ("DECIMAL(5, 0)", (5, 0))],
)
def test_decimal_types_parse(text, expected):
    kind = ColumnType.parse(text)
    assert (kind.precision, kind.scale) == expected


@pytest.mark.parametrize("text", ["varchar", "decimal(3,4)", "money", "int(5)", "varchar(0)"])
def test_bad_types_are_rejected(text):
    with pytest.raises(ValueError, match="type|varchar|decimal"):
        ColumnType.parse(text)


def test_error_names_file_installation_and_field():
    raw = _with(installations=[{"id": "acme", "target_profile": "oracle"}])
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="conf.yaml")
    message = str(info.value)
    assert "conf.yaml" in message and "installation 'acme'" in message and "target_profile" in message


def test_error_names_data_type_and_column():
    raw = _with(data_types=[{"name": "users", "primary_key": "id", "columns": [{"name": "id", "type": "uuid"}]}])
    with pytest.raises(ConfigError, match=r"data type 'users': data_types\.0\.columns\.0\.type"):
        parse_config(raw, source="conf.yaml")


@pytest.mark.parametrize("name", ["na`me", "x; DROP TABLE t", "a--b", "a b", "na'me", 'na"me', "1abc"])
def test_hostile_column_names_are_rejected(name):
    raw = _with(data_types=[{"name": "users", "primary_key": "id", "columns": [{"name": "id", "type": "bigint"}, {"name": name, "type": "text"}]}])
    with pytest.raises(ConfigError, match="is not allowed"):
        parse_config(raw)


def test_hostile_target_table_rejected():
    with pytest.raises(IdentifierError):
        from include.migration.configuration.identifiers import quote_identifier

        quote_identifier("users`; DROP TABLE x; --")


def test_primary_key_must_be_a_column_of_key_type():
    raw = _with(data_types=[{"name": "users", "primary_key": "nope", "columns": [{"name": "id", "type": "bigint"}]}])
    with pytest.raises(ConfigError, match="primary_key 'nope' is not one of the columns"):
        parse_config(raw)
    raw = _with(data_types=[{"name": "users", "primary_key": "id", "columns": [{"name": "id", "type": "json"}]}])
    with pytest.raises(ConfigError, match="keys must be bigint, int or varchar"):
        parse_config(raw)


def test_duplicate_installations_and_unknown_keys_fail():
    with pytest.raises(ConfigError, match="duplicate ids"):
        parse_config(_with(installations=[{"id": "a"}, {"id": "a"}]))
    with pytest.raises(ConfigError, match="unknown top-level keys"):
        parse_config(_with(extra=1))
    with pytest.raises(ConfigError, match="Extra inputs"):
        parse_config(_with(installations=[{"id": "a", "colour": "red"}]))


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data_types: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_several_files_merge_in_order(tmp_path, monkeypatch):
    base = Path(__file__).resolve().parents[2] / "dags" / "migration_config.yaml"
    overlay = tmp_path / "env.yaml"
    overlay.write_text("defaults:\n  target_profile: mysql\ninstallations:\n  - {id: solo}\n")
    import os

    monkeypatch.setenv("MIGRATION_CONFIG", f"{base}{os.pathsep}{overlay}")
    config = load_config()
    assert [i.id for i in config.installations] == ["solo"]
    assert config.installation("solo").target_profile == "mysql"
    assert config.installation("solo").remote_conn_id == "migration_remote_solo"  # base defaults kept
    assert len(config.data_types) == 3


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BASE_FILE = Path(__file__).resolve().parents[2] / "dags" / "migration_config.yaml"


def test_one_wrong_installation_entry_leaves_every_other_dag_loaded(tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    overlay = _write(tmp_path / "installations.yaml", (
        "installations:\n  - {id: good}\n  - {id: typo, pagesize: 10}\n  - {id: nosuch, data_types: [users, userz]}\n"
        "  - {id: 'bad id!'}\n  - {id: dormant, enabled: false, colour: red}\n  - {id: also_good}\n"))
    monkeypatch.setenv("MIGRATION_CONFIG", f"{BASE_FILE}{os.pathsep}{overlay}")
    config = load_config()
    assert [i.id for i in config.installations] == ["good", "also_good"]
    messages = {p.id: p.message for p in config.problems}
    assert messages["typo"] == f"{overlay}: installation 'typo': installations.1.pagesize: Extra inputs are not permitted"
    assert messages["nosuch"] == (f"{overlay}: installation 'nosuch': installations.2.data_types: unknown data types "
                                  "['userz']; configured: ['users', 'issues', 'comments']")
    assert messages["bad id!"].startswith(f"{overlay}: installation 'bad id!': installations.3.id: Value error")
    with pytest.raises(ConfigError, match="installations.1.pagesize"):
        config.installation("typo")

    dagbag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"migrate_good", "migrate_also_good", "migrate_typo", "migrate_nosuch",
                                   "migrate_invalid_entry_3", "reverse_good", "reverse_also_good"}  # none for the disabled entry
    broken = dagbag.get_dag("migrate_typo")
    assert "config-error" in broken.tags and [t.task_id for t in broken.tasks] == ["configuration_error"]
    from include.migration.orchestration.dag_factory import build_dags

    run = build_dags(config)["migrate_typo"].test()
    assert run.state == DagRunState.FAILED
    assert [(ti.state, ti.try_number) for ti in run.get_task_instances()] == [("failed", 1)]


def test_a_defaults_error_is_reported_once_as_defaults_field(tmp_path, monkeypatch):
    overlay = _write(tmp_path / "env.yaml", "defaults:\n  pagesize: 10\ninstallations:\n  - {id: a}\n  - {id: b}\n")
    monkeypatch.setenv("MIGRATION_CONFIG", f"{BASE_FILE}{os.pathsep}{overlay}")
    with pytest.raises(ConfigError) as info:
        load_config()
    message = str(info.value)
    assert message.startswith(f"{overlay}: defaults.pagesize: unknown setting")
    assert message.count("pagesize") == 1 and "installations" not in message.split("known:")[0]
    bad_value = _write(tmp_path / "value.yaml", "defaults:\n  page_size: 0\n")
    monkeypatch.setenv("MIGRATION_CONFIG", f"{BASE_FILE}{os.pathsep}{bad_value}")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(bad_value))}: defaults\.page_size: Input should be greater than or equal to 1$"):
        load_config()


def test_merged_files_name_the_file_that_is_wrong(tmp_path, monkeypatch):
    first = _write(tmp_path / "first.yaml", BASE_FILE.read_text().replace("page_size: 500", "page_size: 0"))
    second = _write(tmp_path / "second.yaml", "installations:\n  - {id: x}\n")
    monkeypatch.setenv("MIGRATION_CONFIG", f"{first}{os.pathsep}{second}")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(first))}: defaults\.page_size"):
        load_config()
    third = _write(tmp_path / "third.yaml", "installations:\n  - {id: x, target_profile: oracle}\n")
    monkeypatch.setenv("MIGRATION_CONFIG", f"{BASE_FILE}{os.pathsep}{third}")
    assert load_config().problems[0].message.startswith(f"{third}: installation 'x': installations.0.target_profile")


JOIN_TABLE = {"name": "issue_labels", "primary_key": ["issue_id", "label"],
              "columns": [{"name": "issue_id", "type": "bigint"}, {"name": "label", "type": "varchar(40)"},
                          {"name": "note", "type": "text"}]}


def test_a_composite_primary_key_is_a_tuple_of_columns():
    from include.migration.configuration.config import CompositeKeyUnsupported

    config = parse_config({"data_types": [JOIN_TABLE, {**JOIN_TABLE, "name": "single", "primary_key": ["issue_id"]}],
                           "installations": []})
    spec = config.data_type("issue_labels")
    assert (spec.key_names, spec.key_indexes, spec.composite_key) == (("issue_id", "label"), (0, 1), True)
    assert spec.key_of((7, "bug", "x")) == (7, "bug")
    assert [c.nullable for c in spec.columns] == [False, False, True]  # key columns are NOT NULL
    with pytest.raises(CompositeKeyUnsupported, match="key_index of a composite primary key"):
        spec.key_index  # noqa: B018 - the property raises
    single = config.data_type("single")
    assert (single.primary_key, single.composite_key, single.key_of((7, "bug", "x"))) == ("issue_id", False, 7)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"primary_key": ["issue_id", "issue_id"]}, "names a column twice"),
     ({"primary_key": ["issue_id", "nope"]}, "'nope' is not one of the columns"),
     ({"primary_key": ["issue_id", "note"]}, "keys must be bigint, int or varchar"),
     ({"soft_delete_column": "deleted_at"}, "cannot be combined with soft_delete_column")],
)
def test_composite_keys_are_checked(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"data_types": [{**JOIN_TABLE, **change}], "installations": []})

