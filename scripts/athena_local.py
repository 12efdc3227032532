"""A local Athena stand-in that really runs the SQL: DuckDB over the lake in moto S3, tables from moto Glue.

    .venv/bin/python scripts/athena_local.py --port 9011 --aws-endpoint http://127.0.0.1:5000 [--region us-east-1]

It speaks Athena's AWS JSON 1.1 protocol (``POST /`` with ``X-Amz-Target: AmazonAthena.<Operation>``), so boto3 and
the amazon provider's ``AthenaHook`` talk to it unchanged through a connection whose ``service_config.athena``
points here. Operations: StartQueryExecution (ClientRequestToken idempotency), GetQueryExecution, GetQueryResults
(paginated), StopQueryExecution, ListQueryExecutions.

What runs:
- ``SELECT``/``WITH``: parsed with sqlglot's Athena (Trino) dialect and written as DuckDB SQL. Every table is looked up
  in Glue; its data is the Parquet under its partitions' locations (or its own location when unpartitioned),
  downloaded from S3 and read with ``read_parquet(..., union_by_name=true)``; the table shows exactly its Glue
  columns, then its partition keys with the partition's values, like Athena. Equality/IN filters on partition keys
  prune partitions before anything is read; ``DataScannedInBytes`` is the size of the files read.
- Iceberg tables (Glue ``table_type=ICEBERG``, as pyiceberg's Glue catalog registers them): the current snapshot (or
  ``FOR VERSION AS OF <snapshot id>``) is read with a pyiceberg scan. ``MERGE INTO`` an Iceberg table runs through
  a shim: DuckDB runs the statement on a copy of the table's rows and the result replaces the table's data in one
  pyiceberg overwrite (Athena writes position deletes instead); no other DML.
- ``ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k='v') [LOCATION '...']``, ``MSCK REPAIR TABLE t``,
  ``SHOW PARTITIONS t``: done on the Glue catalog, as Athena does.
- Anything else ends FAILED with a reason; nothing is marked SUCCEEDED without having run.
Results are also written to the OutputLocation in S3 (``<id>.csv`` for queries, ``<id>.txt`` for DDL).
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import io
import json
import logging
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

log = logging.getLogger("athena_local")

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
MAX_RESULTS = 1000
STRING_TYPES = ("string", "varchar", "char")
HIDDEN_PREFIXES = ("_", ".")
DEFAULT_CATALOG = "awsdatacatalog"
RESET_PATH = "/athena-local/reset"
"""``POST`` here forgets all executions and tokens: tests reset it together with moto."""


class AthenaRequestError(Exception):
    """A request Athena rejects with HTTP 400 (the query never starts)."""

    def __init__(self, message: str, error_type: str = "InvalidRequestException") -> None:
        super().__init__(message)
        self.error_type = error_type


class QueryFailed(Exception):
    """A query that ends FAILED: ``str(self)`` is its StateChangeReason."""

    def __init__(self, message: str, error_type: int = 1006, category: int = 2) -> None:
        super().__init__(message)
        self.error_type = error_type  # Athena's numeric ErrorType; 1006 is a user error in the statement
        self.category = category  # 1 system, 2 user, 3 other


@dataclass
class QueryResult:
    """Columns (Athena ColumnInfo), rows of optional strings, whether a header row leads, bytes read, statement type."""

    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    header: bool = False
    scanned_bytes: int = 0
    statement_type: str = "DDL"


@dataclass
class Execution:
    """One query execution as GetQueryExecution reports it, plus its result once SUCCEEDED."""

    query_id: str
    query: str
    database: str
    catalog: str
    workgroup: str
    output_prefix: str
    token: str | None
    state: str = "QUEUED"
    reason: str | None = None
    error: QueryFailed | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    completed: float | None = None
    result: QueryResult | None = None
    statement_type: str = "DML"
    cancel: threading.Event = field(default_factory=threading.Event)
    connection: Any = None

    @property
    def output_location(self) -> str:
        suffix = "csv" if self.statement_type == "DML" else "txt"
        return f"{self.output_prefix}{self.query_id}.{suffix}"

    def describe(self) -> dict[str, Any]:
        """The ``QueryExecution`` structure of GetQueryExecution."""
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.completed is not None:
            status["CompletionDateTime"] = self.completed
        if self.error is not None:
            status["AthenaError"] = {
                "ErrorCategory": self.error.category, "ErrorType": self.error.error_type, "Retryable": False,
                "ErrorMessage": str(self.error),
            }
        now = time.time()
        queued_until = self.started or (self.completed or now)
        engine_ms = int(((self.completed or now) - self.started) * 1000) if self.started else 0
        statistics = {
            "EngineExecutionTimeInMillis": engine_ms,
            "DataScannedInBytes": self.result.scanned_bytes if self.result else 0,
            "TotalExecutionTimeInMillis": int(((self.completed or now) - self.submitted) * 1000),
            "QueryQueueTimeInMillis": int((queued_until - self.submitted) * 1000),
        }
        return {
            "QueryExecutionId": self.query_id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": self.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
        }


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def split_s3(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise QueryFailed(f"location {url!r} is not an s3:// URL")
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def folder(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class Lake:
    """The Glue catalog and S3 objects in moto, as the query engine sees them."""

    def __init__(self, endpoint: str, region: str, key: str, secret: str) -> None:
        import boto3

        options = {"endpoint_url": endpoint, "region_name": region, "aws_access_key_id": key,
                   "aws_secret_access_key": secret}
        self.glue = boto3.client("glue", **options)
        self.s3 = boto3.client("s3", **options)
        self.iceberg_io = {"s3.endpoint": endpoint, "s3.region": region, "s3.access-key-id": key,
                           "s3.secret-access-key": secret}
        self.glue_properties = {"type": "glue", "glue.endpoint": endpoint, "glue.region": region,
                                "glue.access-key-id": key, "glue.secret-access-key": secret}

    def catalog(self) -> Any:
        """pyiceberg's Glue catalog on the same Glue and S3 (the MERGE shim commits through it)."""
        from pyiceberg.catalog import load_catalog

        return load_catalog("athena_local", **self.glue_properties, **self.iceberg_io)

    def table(self, database: str, name: str, position: str = "") -> dict[str, Any]:
        try:
            return self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except self.glue.exceptions.EntityNotFoundException as exc:
            where = f"{position}: " if position else ""
            if "database" in str(exc).lower() and "table" not in str(exc).lower():
                raise QueryFailed(f"SCHEMA_NOT_FOUND: {where}Schema '{database}' does not exist") from exc
            raise QueryFailed(
                f"TABLE_NOT_FOUND: {where}Table '{DEFAULT_CATALOG}.{database}.{name}' does not exist"
            ) from exc

    def partitions(self, database: str, name: str) -> list[dict[str, Any]]:
        pages = self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
        return [p for page in pages for p in page["Partitions"]]

    def data_files(self, location: str) -> list[tuple[str, int]]:
        """(s3 URL, size) of every non-empty file under ``location``, hidden ones (``_x``, ``.x``) left out."""
        bucket, prefix = split_s3(folder(location))
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix):]
                if item["Size"] == 0 or any(part.startswith(HIDDEN_PREFIXES) for part in relative.split("/")):
                    continue
                found.append((f"s3://{bucket}/{item['Key']}", item["Size"]))
        return sorted(found)

    def subfolders(self, location: str) -> list[str]:
        bucket, prefix = split_s3(folder(location))
        names = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            names.extend(p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", []))
        return names

    def download(self, url: str, target: Path) -> None:
        bucket, key = split_s3(url)
        self.s3.download_file(bucket, key, str(target))

    def write_output(self, url: str, body: bytes) -> None:
        bucket, key = split_s3(url)
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        except self.s3.exceptions.NoSuchBucket as exc:
            raise QueryFailed(
                f"Unable to verify/create output bucket {bucket}", error_type=1301, category=2
            ) from exc


# ---------------------------------------------------------------------------------------------------- statements
def run_statement(lake: Lake, execution: Execution, work_dir: str | None) -> QueryResult:
    """Run one statement; raise QueryFailed with Athena's kind of reason when it cannot."""
    text = execution.query.strip().rstrip(";").strip()
    words = text.split(None, 2)
    head = " ".join(words[:2]).upper()
    if head == "MSCK REPAIR":
        return msck_repair(lake, execution, _table_after(text, r"MSCK\s+REPAIR\s+TABLE\s+", execution))
    if head == "SHOW PARTITIONS":
        return show_partitions(lake, _table_after(text, r"SHOW\s+PARTITIONS\s+", execution))
    if head == "ALTER TABLE":
        return alter_table(lake, text, execution)
    if text.startswith("(") or (words and words[0].upper() in ("SELECT", "WITH", "VALUES")):
        return select(lake, text, execution, work_dir)
    if head == "MERGE INTO":
        return merge_into(lake, text, execution, work_dir)
    first = words[0].upper() if words else "(empty)"
    _raise_syntax_error(text)
    raise QueryFailed(
        f"NOT_SUPPORTED: the local Athena stand-in runs SELECT/WITH, ALTER TABLE ADD PARTITION, MSCK REPAIR TABLE, "
        f"SHOW PARTITIONS and MERGE INTO an Iceberg table; it does not run {first} statements",
        error_type=1005,
    )


def _table_after(text: str, pattern: str, execution: Execution) -> tuple[str, str]:
    import sqlglot
    from sqlglot import exp

    match = re.match(pattern, text, flags=re.IGNORECASE)
    if not match:
        raise QueryFailed(f"line 1:1: cannot parse {text!r}")
    name = text[match.end():].strip()
    try:
        table = sqlglot.parse_one(name, into=exp.Table, read="hive")
    except sqlglot.errors.ParseError as exc:
        raise QueryFailed(f"line 1:{match.end() + 1}: cannot parse table name {name!r}: {exc}") from exc
    return (table.db or execution.database).lower(), table.name.lower()


def _values_path(keys: list[dict[str, Any]], values: list[str]) -> str:
    return "/".join(f"{k['Name']}={quote(v, safe='')}" for k, v in zip(keys, values, strict=True))


def alter_table(lake: Lake, text: str, execution: Execution) -> QueryResult:
    """``ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k = 'v', ...) [LOCATION '...']`` on the Glue catalog."""
    import sqlglot
    from sqlglot import exp

    try:
        statement = sqlglot.parse_one(text, read="athena")
    except sqlglot.errors.ParseError as exc:
        raise QueryFailed(f"line 1:1: cannot parse the statement: {exc}") from exc
    actions = statement.args.get("actions") if isinstance(statement, exp.Alter) else None
    if not actions or not all(isinstance(a, exp.AddPartition) for a in actions):
        raise QueryFailed(
            "NOT_SUPPORTED: the local Athena stand-in runs ALTER TABLE ... ADD [IF NOT EXISTS] PARTITION (k='v') "
            "[LOCATION '...'] with one PARTITION clause; it does not run this ALTER statement",
            error_type=1005,
        )
    target = statement.this
    database, name = (target.db or execution.database).lower(), target.name.lower()
    table = lake.table(database, name)
    keys = table.get("PartitionKeys", [])
    if not keys:
        raise QueryFailed(f"Table {database}.{name} is not partitioned: it cannot take ADD PARTITION")
    created = []
    for action in actions:
        spec = {}
        for condition in action.this.expressions:
            if not isinstance(condition, exp.EQ) or not isinstance(condition.expression, exp.Literal):
                raise QueryFailed(f"line 1:1: partition spec {action.this.sql('hive')} must be key = 'value' pairs")
            spec[condition.this.name.lower()] = condition.expression.name
        key_names = [k["Name"].lower() for k in keys]
        if sorted(spec) != sorted(key_names):
            raise QueryFailed(
                f"Partition spec {spec} does not match the partition keys {key_names} of {database}.{name}"
            )
        values = [spec[k] for k in key_names]
        location_node = action.args.get("location")
        location = location_node.this.name if location_node is not None else (
            folder(table["StorageDescriptor"]["Location"]) + _values_path(keys, values)
        )
        try:
            lake.glue.get_partition(DatabaseName=database, TableName=name, PartitionValues=values)
            exists = True
        except lake.glue.exceptions.EntityNotFoundException:
            exists = False
        if exists and action.args.get("exists"):
            continue
        if exists:
            raise QueryFailed(f"FAILED: AlreadyExistsException Partition already exists: {database}.{name} {spec}")
        descriptor = {**table["StorageDescriptor"], "Location": location}
        lake.glue.create_partition(
            DatabaseName=database, TableName=name,
            PartitionInput={"Values": values, "StorageDescriptor": descriptor},
        )
        created.append(values)
    log.info("ALTER TABLE %s.%s: added partitions %s", database, name, created)
    return QueryResult(statement_type="DDL")


def msck_repair(lake: Lake, execution: Execution, target: tuple[str, str]) -> QueryResult:
    """Add a Glue partition for every ``k=v/`` folder under the table location that Glue does not have yet."""
    database, name = target
    table = lake.table(database, name)
    keys = table.get("PartitionKeys", [])
    if not keys:
        raise QueryFailed(f"Table {database}.{name} is not partitioned: MSCK REPAIR TABLE has nothing to repair")
    root = folder(table["StorageDescriptor"]["Location"])
    known = {tuple(p["Values"]) for p in lake.partitions(database, name)}
    found: list[tuple[list[str], str]] = []

    def walk(location: str, depth: int, values: list[str]) -> None:
        if depth == len(keys):
            found.append((values, location))
            return
        for sub in lake.subfolders(location):
            key, sep, value = sub.partition("=")
            if sep and key.lower() == keys[depth]["Name"].lower():
                walk(f"{location}{sub}/", depth + 1, [*values, unquote(value)])

    walk(root, 0, [])
    missing = [(values, location) for values, location in found if tuple(values) not in known]
    rows: list[list[str | None]] = []
    for start in range(0, len(missing), 100):
        batch = missing[start:start + 100]
        inputs = [{"Values": v, "StorageDescriptor": {**table["StorageDescriptor"], "Location": loc}}
                  for v, loc in batch]
        answer = lake.glue.batch_create_partition(DatabaseName=database, TableName=name, PartitionInputList=inputs)
        failed = {tuple(e["PartitionValues"]) for e in answer.get("Errors", [])}
        for values, _ in batch:
            if tuple(values) not in failed:
                rows.append([f"Repair: Added partition to metastore {name}:{_values_path(keys, values)}"])
    if missing:
        listed = "\t".join(f"{name}:{_values_path(keys, v)}" for v, _ in missing)
        rows.insert(0, [f"Partitions not in metastore:\t{listed}"])
    log.info("MSCK REPAIR TABLE %s.%s: %d folder(s), %d added", database, name, len(found), len(missing))
    return QueryResult(columns=[_column("result", "string")], rows=rows, statement_type="DDL")


def show_partitions(lake: Lake, target: tuple[str, str]) -> QueryResult:
    database, name = target
    table = lake.table(database, name)
    keys = table.get("PartitionKeys", [])
    if not keys:
        raise QueryFailed(f"Table {database}.{name} is not partitioned")
    paths = sorted("/".join(f"{k['Name']}={v}" for k, v in zip(keys, p["Values"], strict=True))
                   for p in lake.partitions(database, name))
    return QueryResult(columns=[_column("partition", "string")], rows=[[p] for p in paths], statement_type="DDL")


# ---------------------------------------------------------------------------------------------------- SELECT
def select(lake: Lake, text: str, execution: Execution, work_dir: str | None) -> QueryResult:
    """Transpile to DuckDB, bind each Glue table to its Parquet files, run, and format the rows as Athena does."""
    import duckdb

    statements = _raise_syntax_error(text)
    if len(statements) != 1:
        raise QueryFailed(f"Only one sql statement is allowed. Got: {len(statements)}", error_type=1004)
    tree = statements[0]
    _name_unnamed_columns(tree)

    with tempfile.TemporaryDirectory(prefix="athena-local-", dir=work_dir) as scratch:
        connection = duckdb.connect()
        execution.connection = connection
        try:
            scanned = _bind_tables(connection, lake, tree, execution, Path(scratch))
            if execution.cancel.is_set():
                raise QueryFailed("Query was cancelled", error_type=1002)
            duck_sql = tree.sql(dialect="duckdb")
            log.info("query %s as DuckDB: %s", execution.query_id, duck_sql)
            try:
                relation = connection.sql(duck_sql)
                names = relation.columns
                types = [str(t) for t in relation.types]
                fetched = relation.fetchall()
            except duckdb.InterruptException as exc:
                raise QueryFailed("Query was cancelled", error_type=1002) from exc
            except duckdb.Error as exc:
                raise QueryFailed(f"{type(exc).__name__}: {exc}", error_type=1006) from exc
        finally:
            execution.connection = None
            connection.close()
    columns = [_column(n, athena_type(t), t) for n, t in zip(names, types, strict=True)]
    rows = [[athena_text(v) for v in row] for row in fetched]
    return QueryResult(columns=columns, rows=rows, header=True, scanned_bytes=scanned, statement_type="DML")


def _bind_tables(connection: Any, lake: Lake, tree: Any, execution: Execution, scratch: Path) -> int:
    """Bind every Glue table ``tree`` reads to a DuckDB view of its data (in place); bytes read."""
    from sqlglot import exp

    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = [t for t in tree.find_all(exp.Table)
              if isinstance(t.this, exp.Identifier) and not (not t.db and t.name.lower() in cte_names)]
    scanned = 0
    for index, table in enumerate(tables):
        database = (table.db or execution.database).lower()
        name = table.name.lower()
        if table.catalog and table.catalog.lower() != DEFAULT_CATALOG:
            raise QueryFailed(f"CATALOG_NOT_FOUND: Catalog '{table.catalog}' does not exist")
        glue_table = lake.table(database, name, _position(table))
        view = f"__athena_table_{index}"
        if is_iceberg(glue_table):
            relation, bytes_read = _iceberg_relation(connection, lake, glue_table, index, _version_of(table))
        else:
            files = _table_files(lake, glue_table, _partition_filters(table, glue_table))
            relation, bytes_read = _relation_sql(connection, lake, glue_table, files, scratch, index)
        scanned += bytes_read
        connection.execute(f"CREATE TEMP VIEW {sql_identifier(view)} AS {relation}")
        alias = table.alias or name
        table.replace(exp.Table(this=exp.to_identifier(view, quoted=True),
                                alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))
    return scanned


def _version_of(table: Any) -> int | None:
    """The snapshot id of ``FOR VERSION AS OF <id>`` (Iceberg time travel), or None."""
    version = table.args.get("version")
    if version is None:
        return None
    if str(version.this).upper() != "VERSION":
        raise QueryFailed(f"NOT_SUPPORTED: time travel {version.sql()}: the stand-in takes FOR VERSION AS OF "
                          "<snapshot id> only")
    try:
        return int(version.expression.this)
    except (TypeError, ValueError) as exc:
        raise QueryFailed(f"NOT_SUPPORTED: time travel {version.sql()}: the stand-in takes FOR VERSION AS OF "
                          "<snapshot id> only") from exc


# ------------------------------------------------------------------------------------- MERGE INTO (Iceberg shim)
def merge_into(lake: Lake, text: str, execution: Execution, work_dir: str | None) -> QueryResult:
    """``MERGE INTO`` an Iceberg table: DuckDB runs the statement (transpiled from the Athena dialect) on a copy of
    the table's current rows, and the result replaces the table's data in one pyiceberg overwrite commit.

    A shim, not Athena's engine: Athena engine v3 writes position delete files for the changed rows; here the whole
    table is rewritten. What it proves: the statement parses as Athena SQL and its semantics give the expected rows.
    """
    import duckdb
    from sqlglot import exp

    tree = _raise_syntax_error(text)[0]
    if not isinstance(tree, exp.Merge):
        raise QueryFailed(f"line 1:1: expected a MERGE INTO statement: {text[:80]!r}")
    target = tree.this
    database = (target.db or execution.database).lower()
    glue_table = lake.table(database, target.name.lower(), _position(target))
    if not is_iceberg(glue_table):
        raise QueryFailed("NOT_SUPPORTED: MERGE INTO is only supported for Iceberg tables", error_type=1005)
    iceberg = lake.catalog().load_table((database, target.name.lower()))
    before = iceberg.current_snapshot()
    with tempfile.TemporaryDirectory(prefix="athena-local-", dir=work_dir) as scratch:
        connection = duckdb.connect()
        execution.connection = connection
        try:
            connection.register("__merge_current", iceberg.scan().to_arrow())
            connection.execute("CREATE TABLE __merge_target AS SELECT * FROM __merge_current")
            alias = target.alias
            target.replace(exp.Table(this=exp.to_identifier("__merge_target", quoted=True),
                                     alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
                                     if alias else None))
            scanned = _bind_tables(connection, lake, tree.args["using"], execution, Path(scratch))
            duck_sql = tree.sql(dialect="duckdb")
            log.info("query %s as DuckDB: %s", execution.query_id, duck_sql)
            try:
                connection.execute(duck_sql)
                merged = connection.sql("SELECT * FROM __merge_target").to_arrow_table()
            except duckdb.Error as exc:
                raise QueryFailed(f"{type(exc).__name__}: {exc}", error_type=1006) from exc
        finally:
            execution.connection = None
            connection.close()
    iceberg.refresh()
    if iceberg.current_snapshot() != before:
        raise QueryFailed("ICEBERG_COMMIT_ERROR: the table changed while the MERGE ran", error_type=1006)
    iceberg.overwrite(merged.cast(iceberg.schema().as_arrow()))
    return QueryResult(columns=[], rows=[], header=False, scanned_bytes=scanned, statement_type="DML")


def _raise_syntax_error(text: str) -> list[Any]:
    """The statements sqlglot reads in ``text`` (Athena dialect); a SYNTAX_ERROR failure with line:column if none."""
    import sqlglot

    try:
        return [s for s in sqlglot.parse(text, read="athena") if s is not None]
    except sqlglot.errors.ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        where = f"line {error.get('line', 1)}:{error.get('col', 1)}"
        raise QueryFailed(f"SYNTAX_ERROR: {where}: {error.get('description', exc)}", error_type=1004) from exc


def _name_unnamed_columns(tree: Any) -> None:
    """Athena names an output column without alias ``_col<i>`` (0-based); DuckDB would name it by its expression."""
    from sqlglot import exp

    query = tree
    while isinstance(query, exp.SetOperation):
        query = query.this
    if not isinstance(query, exp.Select):
        return
    for index, expression in enumerate(query.expressions):
        if not isinstance(expression, (exp.Alias, exp.Column, exp.Star)):
            expression.replace(exp.alias_(expression.copy(), f"_col{index}"))


def _position(node: Any) -> str:
    meta = node.this.meta if hasattr(node.this, "meta") else {}
    return f"line {meta.get('line', 1)}:{meta.get('col', 1)}"


def _conjuncts(condition: Any) -> Iterator[Any]:
    from sqlglot import exp

    condition = condition.unnest()
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.left)
        yield from _conjuncts(condition.right)
    else:
        yield condition


def _partition_filters(table: Any, glue_table: dict[str, Any]) -> dict[str, set[str]]:
    """Partition key -> allowed values, from ``key = 'v'`` / ``key IN (...)`` conjuncts of the enclosing WHERE."""
    from sqlglot import exp

    keys = {k["Name"].lower() for k in glue_table.get("PartitionKeys", [])
            if k.get("Type", "string").lower().split("(")[0] in STRING_TYPES}
    select_node = table.find_ancestor(exp.Select)
    where = select_node.args.get("where") if select_node is not None else None
    if not keys or where is None:
        return {}
    names = {table.name.lower(), (table.alias or "").lower()} - {""}
    allowed: dict[str, set[str]] = {}

    def key_of(node: Any) -> str | None:
        if not isinstance(node, exp.Column) or node.name.lower() not in keys:
            return None
        if not node.table or node.table.lower() in names:
            return node.name.lower()
        return None

    for condition in _conjuncts(where.this):
        values: set[str] | None = None
        key = None
        if isinstance(condition, exp.EQ):
            for left, right in ((condition.this, condition.expression), (condition.expression, condition.this)):
                if key_of(left) and isinstance(right, exp.Literal) and right.is_string:
                    key, values = key_of(left), {right.this}
        elif isinstance(condition, exp.In) and not condition.args.get("query") and key_of(condition.this):
            literals = condition.expressions
            if literals and all(isinstance(v, exp.Literal) and v.is_string for v in literals):
                key, values = key_of(condition.this), {v.this for v in literals}
        if key is not None and values is not None:
            allowed[key] = allowed[key] & values if key in allowed else values
    return allowed


Files = list[tuple[str, int]]


def _table_files(lake: Lake, glue_table: dict[str, Any], filters: dict[str, set[str]]) -> list[tuple[list[str], Files]]:
    """(partition values, files) per partition the query may read; one entry with no values if unpartitioned."""
    keys = glue_table.get("PartitionKeys", [])
    descriptor = glue_table.get("StorageDescriptor", {})
    if glue_table.get("TableType") == "VIRTUAL_VIEW":
        raise QueryFailed("NOT_SUPPORTED: the local Athena stand-in does not run views", error_type=1005)
    if not keys:
        return [([], lake.data_files(descriptor["Location"]))]
    parameters = glue_table.get("Parameters", {})
    if parameters.get("projection.enabled", "").lower() == "true":
        partitions = _projected_partitions(glue_table, filters)
    else:
        partitions = [(p["Values"], p["StorageDescriptor"]["Location"]) for p in
                      lake.partitions(glue_table["DatabaseName"], glue_table["Name"])]
    chosen = []
    for values, location in partitions:
        named = {k["Name"].lower(): v for k, v in zip(keys, values, strict=True)}
        if all(named[key] in allowed for key, allowed in filters.items()):
            chosen.append((values, lake.data_files(location)))
    return chosen


def _projected_partitions(glue_table: dict[str, Any], filters: dict[str, set[str]]) -> list[tuple[list[str], str]]:
    """Partitions of a table with partition projection (``injected`` and ``enum`` keys), as Athena computes them."""
    parameters = glue_table["Parameters"]
    keys = [k["Name"] for k in glue_table["PartitionKeys"]]
    choices = []
    for key in keys:
        kind = parameters.get(f"projection.{key}.type", "").lower()
        if kind == "injected":
            if key.lower() not in filters:
                raise QueryFailed(
                    f"CONSTRAINT_VIOLATION: For the injected projected partition column {key}, the WHERE clause must "
                    "contain only static equality conditions, and at least one such condition must be present."
                )
            choices.append(sorted(filters[key.lower()]))
        elif kind == "enum":
            choices.append([v.strip() for v in parameters.get(f"projection.{key}.values", "").split(",") if v.strip()])
        else:
            raise QueryFailed(
                f"NOT_SUPPORTED: partition projection type {kind or '(none)'!r} of {key} is not run by the local "
                "Athena stand-in (injected and enum are)",
                error_type=1005,
            )
    template = parameters.get("storage.location.template") or (
        folder(glue_table["StorageDescriptor"]["Location"]) + "/".join(f"{k}=${{{k}}}" for k in keys) + "/"
    )
    partitions: list[tuple[list[str], str]] = [([], template)]
    for key, values in zip(keys, choices, strict=True):
        partitions = [([*done, v], loc.replace(f"${{{key}}}", v)) for done, loc in partitions for v in values]
    return partitions


def _duck_type(hive_type: str) -> str:
    from sqlglot import exp

    try:
        return exp.DataType.build(hive_type, dialect="hive").sql("duckdb")
    except Exception:  # a Glue type sqlglot cannot read: the column still shows, as text
        return "VARCHAR"


def is_iceberg(glue_table: dict[str, Any]) -> bool:
    """A Glue table that registers an Iceberg table (``table_type=ICEBERG`` and its ``metadata_location``)."""
    parameters = glue_table.get("Parameters", {})
    return parameters.get("table_type", "").upper() == "ICEBERG" and bool(parameters.get("metadata_location"))


def _iceberg_relation(connection: Any, lake: Lake, glue_table: dict[str, Any], table_index: int,
                      snapshot_id: int | None = None) -> tuple[str, int]:
    """The Iceberg table's current snapshot (or ``snapshot_id``: time travel), read with a pyiceberg scan (Athena
    engine v3 reads it natively; DuckDB's iceberg extension cannot be downloaded here); bytes read: the data files
    of the scan."""
    from pyiceberg.table import StaticTable

    table = StaticTable.from_metadata(glue_table["Parameters"]["metadata_location"], properties=lake.iceberg_io)
    if snapshot_id is not None and table.metadata.snapshot_by_id(snapshot_id) is None:
        raise QueryFailed(f"ICEBERG_INVALID_SNAPSHOT_ID: snapshot {snapshot_id} does not exist", error_type=1006)
    scan = table.scan(snapshot_id=snapshot_id)
    scanned = sum(task.file.file_size_in_bytes for task in scan.plan_files())
    name = f"__iceberg_{table_index}"
    connection.register(name, scan.to_arrow())
    return f"SELECT * FROM {sql_identifier(name)}", scanned


def _relation_sql(
    connection: Any, lake: Lake, glue_table: dict[str, Any],
    partitions: list[tuple[list[str], list[tuple[str, int]]]], scratch: Path, table_index: int,
) -> tuple[str, int]:
    """SQL of the table's rows (its Glue columns, then partition keys) over downloaded files; and bytes read."""
    columns = glue_table.get("StorageDescriptor", {}).get("Columns", [])
    keys = glue_table.get("PartitionKeys", [])
    branches = []
    scanned = 0
    for part_index, (values, files) in enumerate(partitions):
        if not files:
            continue
        local = []
        for file_index, (url, size) in enumerate(files):
            target = scratch / f"t{table_index:03d}-p{part_index:05d}-f{file_index:05d}.parquet"
            lake.download(url, target)
            local.append(str(target))
            scanned += size
        source = f"read_parquet([{', '.join(sql_string(p) for p in local)}], union_by_name = true)"
        present = {row[0].lower(): row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        projection = [
            f"{sql_identifier(present[c['Name'].lower()])} AS {sql_identifier(c['Name'])}"
            if c["Name"].lower() in present else f"CAST(NULL AS {_duck_type(c['Type'])}) AS {sql_identifier(c['Name'])}"
            for c in columns
        ]
        projection += [f"CAST({sql_string(v)} AS {_duck_type(k['Type'])}) AS {sql_identifier(k['Name'])}"
                       for k, v in zip(keys, values, strict=True)]
        branches.append(f"SELECT {', '.join(projection)} FROM {source}")
    if not branches:
        empty = [f"CAST(NULL AS {_duck_type(c['Type'])}) AS {sql_identifier(c['Name'])}" for c in [*columns, *keys]]
        return f"SELECT {', '.join(empty)} WHERE false", 0
    return " UNION ALL BY NAME ".join(f"({b})" for b in branches), scanned


# ---------------------------------------------------------------------------------------------------- values
def athena_type(duck_type: str) -> str:
    """Athena's name for a DuckDB result type (COUNT/SUM come back bigint as in Athena)."""
    upper = duck_type.upper()
    if upper.endswith("[]") or upper.startswith("LIST"):
        return "array"
    for prefix, name in (("STRUCT", "row"), ("MAP", "map"), ("DECIMAL", "decimal"), ("TIMESTAMP", "timestamp")):
        if upper.startswith(prefix):
            return name
    return {
        "BIGINT": "bigint", "HUGEINT": "bigint", "UBIGINT": "bigint", "INTEGER": "integer", "UINTEGER": "bigint",
        "SMALLINT": "smallint", "USMALLINT": "integer", "TINYINT": "tinyint", "UTINYINT": "smallint",
        "DOUBLE": "double", "FLOAT": "real", "BOOLEAN": "boolean", "VARCHAR": "varchar", "BLOB": "varbinary",
        "DATE": "date", "TIME": "time", "INTERVAL": "interval day to second", "UUID": "uuid",
    }.get(upper, "varchar")


def _column(name: str, athena: str, duck_type: str = "") -> dict[str, Any]:
    precision, scale = 0, 0
    match = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", duck_type.upper())
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
    elif athena in ("bigint",):
        precision = 19
    elif athena == "integer":
        precision = 10
    elif athena == "varchar":
        precision = 2147483647
    return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name, "Type": athena,
            "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN", "CaseSensitive": athena == "varchar"}


def athena_text(value: Any, nested: bool = False) -> str | None:
    """A value as Athena prints it: true/false, plain decimals, ``[a, b]`` arrays, ``{k=v}`` rows and maps."""
    if value is None:
        return "null" if nested else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex(" ")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={athena_text(v, True)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(athena_text(v, True) or "" for v in value) + "]"
    return str(value)


def result_file(result: QueryResult) -> bytes:
    """The result file Athena writes: CSV with every value quoted (null empty) for queries, lines for DDL."""
    if result.statement_type != "DML":
        return "".join(f"{row[0] or ''}\n" for row in result.rows).encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow([c["Name"] for c in result.columns])
    for row in result.rows:
        buffer.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row) + "\n")
    return buffer.getvalue().encode()


# ---------------------------------------------------------------------------------------------------- service
class AthenaService:
    """Query executions, their tokens and a worker pool; one method per Athena operation."""

    def __init__(self, lake: Lake, *, workers: int = 2, min_run_seconds: float = 0.0, work_dir: str | None = None):
        self.lake = lake
        self.min_run_seconds = min_run_seconds
        self.work_dir = work_dir
        self.executions: dict[str, Execution] = {}
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="athena-query")

    def _execution(self, body: dict[str, Any]) -> Execution:
        query_id = body.get("QueryExecutionId")
        if not isinstance(query_id, str) or not query_id:
            raise AthenaRequestError("QueryExecutionId is required")
        with self.lock:
            execution = self.executions.get(query_id)
        if execution is None:
            raise AthenaRequestError(f"QueryExecution {query_id} was not found")
        return execution

    def start_query_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        query = body.get("QueryString")
        if not isinstance(query, str) or not query.strip():
            raise AthenaRequestError("QueryString is required and must not be empty")
        if len(query) > 262144:
            raise AthenaRequestError("QueryString is longer than 262144 characters")
        token = body.get("ClientRequestToken")
        if token is not None and not 32 <= len(token) <= 128:
            raise AthenaRequestError(f"ClientRequestToken must be 32 to 128 characters long, got {len(token)}")
        context = body.get("QueryExecutionContext") or {}
        output = (body.get("ResultConfiguration") or {}).get("OutputLocation")
        if not output:
            raise AthenaRequestError(
                "No output location provided. An output location is required either through the Workgroup result "
                "configuration setting or as an API input."
            )
        if not output.startswith("s3://"):
            raise AthenaRequestError(f"OutputLocation {output!r} is not an s3:// URL")
        execution = Execution(
            query_id=str(uuid.uuid4()), query=query, database=(context.get("Database") or "default").lower(),
            catalog=context.get("Catalog") or "AwsDataCatalog", workgroup=body.get("WorkGroup") or "primary",
            output_prefix=folder(output), token=token,
        )
        with self.lock:
            if token is not None and token in self.tokens:
                earlier = self.executions[self.tokens[token]]
                if (earlier.query, earlier.database, earlier.output_prefix, earlier.workgroup) != (
                    execution.query, execution.database, execution.output_prefix, execution.workgroup
                ):
                    raise AthenaRequestError(
                        f"ClientRequestToken {token} was already used with different parameters "
                        f"(query {earlier.query_id})"
                    )
                return {"QueryExecutionId": earlier.query_id}
            self.executions[execution.query_id] = execution
            if token is not None:
                self.tokens[token] = execution.query_id
        log.info("query %s QUEUED: %s", execution.query_id, query)
        self.pool.submit(self._run, execution)
        return {"QueryExecutionId": execution.query_id}

    def _run(self, execution: Execution) -> None:
        with self.lock:
            if execution.state != "QUEUED":
                return
            execution.state, execution.started = "RUNNING", time.time()
        try:
            result = run_statement(self.lake, execution, self.work_dir)
            execution.statement_type = result.statement_type
            if execution.cancel.wait(max(0.0, self.min_run_seconds - (time.time() - execution.started))):
                raise QueryFailed("Query was cancelled", error_type=1002)
            self.lake.write_output(execution.output_location, result_file(result))
        except QueryFailed as failure:
            self._finish(execution, "FAILED", None, failure)
        except Exception as exc:  # an engine bug must show as a FAILED query with its reason, never a hang
            log.exception("query %s crashed", execution.query_id)
            self._finish(execution, "FAILED", None, QueryFailed(f"INTERNAL_ERROR: {type(exc).__name__}: {exc}",
                                                               error_type=1, category=1))
        else:
            self._finish(execution, "SUCCEEDED", result, None)

    def _finish(self, execution: Execution, state: str, result: QueryResult | None, error: QueryFailed | None) -> None:
        with self.lock:
            if execution.state == "CANCELLED":
                return
            execution.result = result
            execution.error = error
            execution.reason = str(error) if error else None
            execution.state = state
            execution.completed = time.time()
        log.info("query %s %s%s", execution.query_id, state, f": {error}" if error else "")

    def get_query_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(body)
        with self.lock:
            return {"QueryExecution": execution.describe()}

    def stop_query_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(body)
        with self.lock:
            if execution.state in TERMINAL_STATES:
                return {}
            execution.state = "CANCELLED"
            execution.reason = "Query was cancelled by user"
            execution.completed = time.time()
            execution.cancel.set()
            connection = execution.connection
        if connection is not None:
            connection.interrupt()
        log.info("query %s CANCELLED", execution.query_id)
        return {}

    def get_query_results(self, body: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(body)
        max_results = body.get("MaxResults", MAX_RESULTS)
        if not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
            raise AthenaRequestError(f"MaxResults must be between 1 and {MAX_RESULTS}, got {max_results!r}")
        with self.lock:
            state, result = execution.state, execution.result
        if state in ("QUEUED", "RUNNING"):
            raise AthenaRequestError(f"Query has not yet finished. Current state: {state}")
        if state != "SUCCEEDED" or result is None:
            raise AthenaRequestError(f"Query did not finish successfully. Final query state: {state}")
        rows = ([[c["Name"] for c in result.columns]] if result.header else []) + result.rows
        offset = _token_offset(body.get("NextToken"), execution.query_id)
        page = rows[offset:offset + max_results]
        answer: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in page],
                "ResultSetMetadata": {"ColumnInfo": result.columns},
            },
        }
        if offset + max_results < len(rows):
            answer["NextToken"] = _encode_token(execution.query_id, offset + max_results)
        return answer

    def list_query_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        workgroup = body.get("WorkGroup") or "primary"
        max_results = body.get("MaxResults", 50)
        if not isinstance(max_results, int) or not 0 <= max_results <= 50:
            raise AthenaRequestError(f"MaxResults must be between 0 and 50, got {max_results!r}")
        with self.lock:
            ids = [e.query_id for e in sorted(self.executions.values(), key=lambda e: e.submitted, reverse=True)
                   if e.workgroup == workgroup]
        offset = _token_offset(body.get("NextToken"), workgroup)
        answer: dict[str, Any] = {"QueryExecutionIds": ids[offset:offset + max_results]}
        if offset + max_results < len(ids):
            answer["NextToken"] = _encode_token(workgroup, offset + max_results)
        return answer

    def reset(self) -> int:
        """Forget every execution and token (as moto's reset forgets its account); return how many were forgotten."""
        with self.lock:
            forgotten = len(self.executions)
            for execution in self.executions.values():
                execution.cancel.set()
                if execution.state not in TERMINAL_STATES:
                    execution.state = "CANCELLED"
            self.executions.clear()
            self.tokens.clear()
        return forgotten

    OPERATIONS = {
        "StartQueryExecution": start_query_execution,
        "GetQueryExecution": get_query_execution,
        "GetQueryResults": get_query_results,
        "StopQueryExecution": stop_query_execution,
        "ListQueryExecutions": list_query_executions,
    }

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        method = self.OPERATIONS.get(operation)
        if method is None:
            raise AthenaRequestError(
                f"operation {operation} is not run by the local Athena stand-in "
                f"(it runs {', '.join(sorted(self.OPERATIONS))})"
            )
        return method(self, body)


def _encode_token(scope: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([scope, offset]).encode()).decode()


def _token_offset(token: str | None, scope: str) -> int:
    if not token:
        return 0
    try:
        token_scope, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise AthenaRequestError(f"NextToken {token!r} is not valid") from exc
    if token_scope != scope or not isinstance(offset, int) or offset < 0:
        raise AthenaRequestError(f"NextToken {token!r} does not belong to {scope}")
    return offset


def make_handler(service: AthenaService) -> type[BaseHTTPRequestHandler]:
    class AthenaHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # a health answer for whoever waits for the port
            self._reply(200, {"service": "athena-local", "queries": len(service.executions)})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            if self.path == RESET_PATH:
                self._reply(200, {"forgotten": service.reset()})
                return
            target = self.headers.get("X-Amz-Target", "")
            prefix, _, operation = target.partition(".")
            try:
                if prefix != "AmazonAthena":
                    raise AthenaRequestError(f"X-Amz-Target {target!r} is not an AmazonAthena operation")
                try:
                    body = json.loads(raw or b"{}")
                except ValueError as exc:
                    raise AthenaRequestError(f"the request body is not JSON: {exc}") from exc
                self._reply(200, service.handle(operation, body))
            except AthenaRequestError as error:
                self._reply(400, {"__type": error.error_type, "message": str(error)})
            except Exception as exc:
                log.exception("%s failed", operation)
                self._reply(500, {"__type": "InternalServerException", "message": f"{type(exc).__name__}: {exc}"})

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return AthenaHandler


def serve(host: str, port: int, service: AthenaService) -> ThreadingHTTPServer:
    """A started server on ``host:port`` (port 0 picks one) answering in daemon threads; call shutdown() to stop."""
    server = ThreadingHTTPServer((host, port), make_handler(service))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="athena-local-http", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--aws-endpoint", required=True, help="moto server URL (Glue and S3)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key", default="testing")
    parser.add_argument("--secret-key", default="testing")
    parser.add_argument("--workers", type=int, default=2, help="queries run at once; the rest stay QUEUED")
    parser.add_argument("--min-run-seconds", type=float, default=0.0,
                        help="keep each query RUNNING at least this long (to watch the state transitions)")
    parser.add_argument("--work-dir", default=None, help="where Parquet files are downloaded while a query runs")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    service = AthenaService(Lake(args.aws_endpoint, args.region, args.access_key, args.secret_key),
                            workers=args.workers, min_run_seconds=args.min_run_seconds, work_dir=args.work_dir)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(service))
    server.daemon_threads = True
    log.info("Athena stand-in on http://%s:%d over %s", args.host, args.port, args.aws_endpoint)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
