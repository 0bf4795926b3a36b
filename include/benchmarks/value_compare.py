"""Source and target compared value by value: two key-ordered streams, each value as a reviewer's text, merge-joined.

The source rows come straight from PostgreSQL (a server-side cursor, one
installation, ordered by key); the target rows straight from MariaDB (an
unbuffered ``SSCursor`` with no converters, so each value arrives as the text
the server sends, ordered by key). Memory stays bounded by the fetch batch,
whatever the table's size. Nothing here uses the package's own hashing.

Counted per table:

- ``lost``: keys in the source only;
- ``extra``: keys in the target only (a target row with a NULL key is extra too);
- ``duplicated``: target rows beyond the first with the same key (tables
  without a primary key, e.g. a peer's append mode);
- ``different``: keys on both sides where some target copy differs from the
  source in some column's text.

So ``target_rows = source_rows - lost + extra + duplicated`` always holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import MySQLdb
import MySQLdb.cursors
import psycopg2

from include.benchmarks.reviewer_text import normaliser

INSTALLATION_COLUMN = "installation_id"
FETCH_ROWS = 10_000
EXAMPLES_PER_KIND = 5
EXAMPLE_CHARS = 200
_INTEGER_BASES = ("bigint", "int")


@dataclasses.dataclass(frozen=True)
class ColumnShape:
    """A column by its configured type (``scale``: a decimal's)."""

    name: str
    base: str
    scale: int | None = None


@dataclasses.dataclass(frozen=True)
class TableShape:
    """What one data type's tables hold: the columns compared and the key they are ordered by."""

    source_table: str
    target_table: str
    key: tuple[str, ...]
    columns: tuple[ColumnShape, ...]


class ComparisonError(RuntimeError):
    """The comparison could not be made honestly (a stream out of key order, a duplicate source key)."""


@dataclasses.dataclass
class TableComparison:
    """The counts of one table's comparison and up to :data:`EXAMPLES_PER_KIND` examples of each kind."""

    source_rows: int = 0
    target_rows: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: int = 0
    different: int = 0
    examples: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        bad = self.lost + self.duplicated + self.extra + self.different
        return bad == 0 and self.source_rows == self.target_rows

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **dataclasses.asdict(self)}

    def example(self, kind: str, **fields: Any) -> None:
        if sum(1 for e in self.examples if e["kind"] == kind) < EXAMPLES_PER_KIND:
            self.examples.append({"kind": kind, **fields})


def _quoted(name: str, quote: str) -> str:
    if not name or quote in name or "\x00" in name:
        raise ComparisonError(f"refusing identifier {name!r}")
    return f"{quote}{name}{quote}"


def source_query(shape: TableShape, up_to: Any = None) -> tuple[str, list[Any]]:
    """The source's SELECT (JSON as text, string keys in code-point order) and its parameters after the installation."""
    bases = {c.name: c.base for c in shape.columns}
    columns = ", ".join(
        f'{_quoted(c.name, chr(34))}::text' if c.base == "json" else _quoted(c.name, '"') for c in shape.columns
    )
    order = ", ".join(
        _quoted(k, '"') + ("" if bases[k] in _INTEGER_BASES else ' COLLATE "C"') for k in shape.key
    )
    sql = f'SELECT {columns} FROM {_quoted(shape.source_table, chr(34))} WHERE "{INSTALLATION_COLUMN}" = %s'
    params: list[Any] = []
    if up_to is not None:
        bound = tuple(up_to) if isinstance(up_to, (list, tuple)) else (up_to,)
        if len(bound) != len(shape.key):
            raise ComparisonError(f"checkpoint {up_to!r} does not match the key {shape.key}")
        keys = ", ".join(_quoted(k, '"') for k in shape.key)
        sql += f" AND ({keys}) <= ({', '.join(['%s'] * len(bound))})"
        params = list(bound)
    return f"{sql} ORDER BY {order}", params


def target_query(shape: TableShape) -> str:
    """The target's SELECT, string keys ordered by their bytes (UTF-8 byte order is code-point order)."""
    bases = {c.name: c.base for c in shape.columns}
    columns = ", ".join(_quoted(c.name, "`") for c in shape.columns)
    order = ", ".join(
        _quoted(k, "`") if bases[k] in _INTEGER_BASES else f"CAST({_quoted(k, '`')} AS BINARY)" for k in shape.key
    )
    return f"SELECT {columns} FROM {_quoted(shape.target_table, '`')} ORDER BY {order}"


class _Rows:
    """Normalised rows of one side as ``(key, texts)``, in key order (checked), counted."""

    def __init__(self, shape: TableShape, batches: Iterator[Sequence[Sequence[Any]]], side: str, unique: bool) -> None:
        self.count = 0
        self.null_keys: list[list[str | None]] = []
        self._shape = shape
        self._batches = batches
        self._side = side
        self._unique = unique
        self._texts = [normaliser(c.base, c.scale) for c in shape.columns]
        names = [c.name for c in shape.columns]
        self._key_at = [(names.index(k), shape.columns[names.index(k)].base in _INTEGER_BASES) for k in shape.key]

    def __iter__(self) -> Iterator[tuple[tuple[Any, ...], list[str | None]]]:
        texts, key_at = self._texts, self._key_at
        previous: tuple[Any, ...] | None = None
        for batch in self._batches:
            for row in batch:
                self.count += 1
                values = [f(v) for f, v in zip(texts, row)]
                try:
                    key = tuple(int(values[i]) if integer else values[i] for i, integer in key_at)  # type: ignore
                except (TypeError, ValueError):
                    if not self._unique and any(values[i] is None for i, _ in key_at):
                        self.null_keys.append(values)
                        continue
                    raise ComparisonError(f"{self._side}: unreadable key in row {values[:3]}...") from None
                if previous is not None and (key < previous or (self._unique and key == previous)):
                    raise ComparisonError(f"{self._side} rows out of key order or repeated: {previous} then {key}")
                previous = key
                yield key, values


def merge(shape: TableShape, source: _Rows, target: _Rows) -> TableComparison:
    """Merge-join two key-ordered streams into a :class:`TableComparison` (counts as in the module docstring)."""
    result = TableComparison()
    names = [c.name for c in shape.columns]
    src, tgt = iter(source), iter(target)
    s, t = next(src, None), next(tgt, None)
    while s is not None or t is not None:
        if t is not None and (s is None or t[0] < s[0]):
            key, copies = t[0], 0
            while t is not None and t[0] == key:
                copies += 1
                t = next(tgt, None)
            result.extra += 1
            result.duplicated += copies - 1
            result.example("extra", key=_show_key(key), copies=copies)
            if copies > 1:
                result.example("duplicated", key=_show_key(key), copies=copies)
        elif s is not None and (t is None or s[0] < t[0]):
            result.lost += 1
            result.example("lost", key=_show_key(s[0]))
            s = next(src, None)
        else:
            assert s is not None and t is not None
            key, copies, differs = s[0], 0, False
            while t is not None and t[0] == key:
                copies += 1
                if t[1] != s[1]:
                    differs = True
                    for name, left, right in zip(names, s[1], t[1]):
                        if left != right:
                            result.example("different", key=_show_key(key), column=name, **_texts(left, right))
                t = next(tgt, None)
            result.different += differs
            result.duplicated += copies - 1
            if copies > 1:
                result.example("duplicated", key=_show_key(key), copies=copies)
            s = next(src, None)
    for values in target.null_keys:
        result.extra += 1
        result.example("extra", key=None, row=[_cut(v) for v in values])
    result.source_rows, result.target_rows = source.count, target.count
    return result


def _show_key(key: tuple[Any, ...]) -> Any:
    return key[0] if len(key) == 1 else list(key)


def _cut(text: str | None) -> str | None:
    return text if text is None or len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + f"... ({len(text)} chars)"


def _texts(left: str | None, right: str | None) -> dict[str, Any]:
    """Source and target text of an example; with the first differing character when both are long."""
    shown: dict[str, Any] = {"source": _cut(left), "target": _cut(right)}
    if left is not None and right is not None:
        at = next((i for i, (a, b) in enumerate(zip(left, right)) if a != b), min(len(left), len(right)))
        shown["first_difference_at"] = at
    return shown


def _batches(cursor: Any) -> Iterator[Sequence[Sequence[Any]]]:
    while True:
        batch = cursor.fetchmany(FETCH_ROWS)
        if not batch:
            return
        yield batch


def connect_target(**kwargs: Any) -> Any:
    """A MariaDB connection that hands out every value as the server's text (no converters), session time zone UTC.

    UTC matters for TIMESTAMP columns only (the server converts them to the
    session zone); DATETIME values come back exactly as written.
    """
    conn = MySQLdb.connect(charset="utf8mb4", conv={}, autocommit=True, **kwargs)
    conn.query("SET time_zone = '+00:00'")
    return conn


def compare_table(
    shape: TableShape,
    *,
    source_dsn: str,
    installation_id: str,
    target: dict[str, Any],
    up_to: Any = None,
) -> TableComparison:
    """Compare one installation's source rows (keys ``<= up_to`` when given) with every row of the target table.

    ``target`` holds MySQLdb connection arguments (host, port, user, passwd, db).
    """
    source_conn = psycopg2.connect(source_dsn)
    target_conn = connect_target(**target)
    try:
        source_conn.autocommit = False
        with source_conn.cursor() as setup:
            setup.execute("SET TIME ZONE 'UTC'")  # timestamptz values arrive aware in UTC
        sql, params = source_query(shape, up_to)
        with source_conn.cursor(name="verify_rows") as source_cursor:
            source_cursor.itersize = FETCH_ROWS
            source_cursor.execute(sql, [installation_id, *params])
            target_cursor = target_conn.cursor(MySQLdb.cursors.SSCursor)
            target_cursor.execute(target_query(shape))
            source = _Rows(shape, _batches(source_cursor), "source", unique=True)
            rows = _Rows(shape, _batches(target_cursor), "target", unique=False)
            return merge(shape, source, rows)
    finally:
        source_conn.close()
        target_conn.close()
