"""Athena SQL builders: partition repair DDL, the snapshot row count, and deterministic client request tokens.

Athena parses DDL (``ALTER TABLE``, ``MSCK``) with Hive's grammar: identifiers in backticks, string literals with
backslash escapes. It parses DML (``SELECT``) with Trino's: identifiers in double quotes, quotes doubled in
literals. The two quoting pairs below are the only places that quote anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from ddb_lake.core.lake.errors import LakeConfigError
from ddb_lake.core.lake.layout import SNAPSHOT_PARTITION

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TOKEN_MIN, TOKEN_MAX = 32, 128


def _check_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise LakeConfigError(f"{what} must be a non-empty string, got {value!r}")
    if _CONTROL.search(value):
        raise LakeConfigError(f"{what} {value!r} contains a control character; Athena cannot take it in a statement")
    return value


def ddl_identifier(name: str) -> str:
    """`` `name` `` for Hive DDL (a backtick inside is doubled)."""
    return "`" + _check_text(name, "identifier").replace("`", "``") + "`"


def dml_identifier(name: str) -> str:
    """``"name"`` for Trino DML (a double quote inside is doubled)."""
    return '"' + _check_text(name, "identifier").replace('"', '""') + '"'


def ddl_string(value: str) -> str:
    """``'value'`` for Hive DDL: backslash and quote are backslash-escaped (Hive joins ``'a''b'`` into ``ab``)."""
    return "'" + _check_text(value, "literal").replace("\\", "\\\\").replace("'", "\\'") + "'"


def dml_string(value: str) -> str:
    """``'value'`` for Trino DML: a quote inside is doubled."""
    return "'" + _check_text(value, "literal").replace("'", "''") + "'"


def ddl_table(database: str, table: str) -> str:
    return f"{ddl_identifier(database)}.{ddl_identifier(table)}"


def dml_table(database: str, table: str) -> str:
    return f"{dml_identifier(database)}.{dml_identifier(table)}"


def add_partition(database: str, table: str, partition: Mapping[str, str], location: str) -> str:
    """``ALTER TABLE ... ADD IF NOT EXISTS PARTITION (...) LOCATION '...'`` (a no-op when the partition exists)."""
    if not partition:
        raise LakeConfigError(f"add_partition on {database}.{table}: no partition values given")
    spec = ", ".join(f"{ddl_identifier(key)} = {ddl_string(value)}" for key, value in partition.items())
    folder = location if location.endswith("/") else location + "/"
    return (
        f"ALTER TABLE {ddl_table(database, table)} ADD IF NOT EXISTS PARTITION ({spec}) "
        f"LOCATION {ddl_string(folder)}"
    )


def msck_repair(database: str, table: str) -> str:
    """``MSCK REPAIR TABLE``: scan the table location for ``key=value/`` folders (slow on large histories)."""
    return f"MSCK REPAIR TABLE {ddl_table(database, table)}"


def count_rows(database: str, table: str, snapshot: str | None = None) -> str:
    """``SELECT COUNT(*) AS row_count`` of a table, or of one snapshot partition of ``<table>_snapshots``."""
    sql = f"SELECT COUNT(*) AS row_count FROM {dml_table(database, table)}"
    if snapshot is not None:
        sql += f" WHERE {dml_identifier(SNAPSHOT_PARTITION)} = {dml_string(snapshot)}"
    return sql


def client_request_token(*parts: object, attempt: tuple[str, int]) -> str:
    """A 64-character token, the same for the same parts within one run attempt (Athena wants 32 to 128 characters).

    :param attempt: (run_id, try number). Athena answers a token it has seen with that earlier execution, FAILED
        ones included; so a re-send within one try reattaches, while a retry or a new run (once the cause is fixed)
        starts a fresh query.
    """
    run_id, try_number = attempt
    return hashlib.sha256("\x1f".join(str(p) for p in (*parts, run_id, int(try_number))).encode()).hexdigest()


SQL_FILTERS = {
    "athena_ddl_identifier": ddl_identifier,
    "athena_ddl_string": ddl_string,
    "athena_dml_identifier": dml_identifier,
    "athena_dml_string": dml_string,
}
"""Jinja filters for ``include/sql/*.sql``: the templates quote through the same functions as the builders."""
