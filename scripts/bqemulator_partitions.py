"""A shim that gives bqemulator 1.4.0 ingestion-time DAY partitions, partition decorators and schema changes.

Test-stack only: ``bqemulator_launcher.py`` installs it in the emulator's process before the server starts. Production
code sends real BigQuery requests and knows nothing of it.

bqemulator stores no partition per row: it rewrites ``_PARTITIONDATE`` / ``_PARTITIONTIME`` to today, and a load or copy
job whose destination is ``orders$20261122`` fails (no DuckDB table of that name). The shim makes them real:

- an ingestion-time partitioned table gets one physical DuckDB column ``_PARTITIONTIME`` (TIMESTAMP, UTC midnight of
  the row's partition), added on the first decorated write; the table's BigQuery schema (catalog) does not show it;
- a load or copy job into ``table$YYYYMMDD`` writes only that day: ``WRITE_TRUNCATE`` deletes the day's rows and
  inserts the new ones in one write lock (other days untouched), ``WRITE_APPEND`` inserts, ``WRITE_EMPTY`` refuses a
  day that holds rows. Columns are matched by name (as BigQuery matches Parquet columns and copy schemas);
- queries see ``_PARTITIONTIME`` as that column and ``_PARTITIONDATE`` as ``CAST(_PARTITIONTIME AS DATE)``.

Schema changes: as shipped, a ``tables.patch``/``update`` that adds columns changes only the catalog (the DuckDB table
keeps its columns, so the next write fails), and DDL ``ALTER TABLE … ALTER COLUMN … SET DATA TYPE`` changes only the
DuckDB table (``tables.get`` still answers the old type). The shim keeps the two in step:

- a schema update that adds top-level columns or RECORD members adds them to the DuckDB table
  (``ADD COLUMN c`` / ``ADD COLUMN s.m``) — tables only: a ``CREATE OR REPLACE VIEW`` that gains a column is left
  alone (DuckDB refuses ALTER TABLE on a view);
- after ``ALTER COLUMN c SET DATA TYPE T`` succeeds, the catalog's type of ``c`` becomes ``T``;
- ``SET DATA TYPE NUMERIC`` is sent as ``NUMERIC(38, 9)`` (as shipped the DuckDB column became DECIMAL(18,3) and a
  value with more than 15 integer digits failed the next write).

Not shimmed (differs from BigQuery): ``SELECT *`` on a shimmed table also returns ``_PARTITIONTIME``; rows written
without a decorator (streaming inserts, DML, undecorated loads) get ``_PARTITIONTIME`` NULL instead of the current
day; partition expiration is not enforced; loads into a decorator accept PARQUET sources only; a copy out of a
shimmed table into a decorator fails (its source carries the column too); a query naming
``_PARTITIONDATE`` on a partitioned table that no decorated write has touched fails (no such column).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

DECORATOR = re.compile(r"^(?P<table>[^$]+)\$(?P<day>\d{8})$")
PARTITION_COLUMN = "_PARTITIONTIME"
_SET_DATA_TYPE = re.compile(
    r"^\s*ALTER\s+TABLE\s+`?(?P<ref>[\w.\-]+)`?\s+ALTER\s+COLUMN\s+`?(?P<column>\w+)`?\s+SET\s+DATA\s+TYPE\s+"
    r"(?P<type>\w+)\s*;?\s*$",
    re.IGNORECASE,
)
_PSEUDO = re.compile(r"\b(_PARTITIONDATE|_PARTITIONTIME)\b", re.IGNORECASE)


def split_decorator(table_id: str) -> tuple[str, date] | None:
    """``("orders", date(2026, 11, 22))`` for ``orders$20261122``; None for an undecorated table id."""
    found = DECORATOR.match(table_id)
    if not found:
        return None
    day = found["day"]
    return found["table"], date(int(day[:4]), int(day[4:6]), int(day[6:]))


def rewrite_pseudo_columns(bq_sql: str) -> str:
    """``_PARTITIONDATE`` → the day of the stored partition column; ``_PARTITIONTIME`` → the column itself."""
    def replace(match: re.Match[str]) -> str:
        if match.group(1).upper() == "_PARTITIONDATE":
            return f"CAST({PARTITION_COLUMN} AS DATE)"
        return PARTITION_COLUMN

    return _PSEUDO.sub(replace, bq_sql)


def _write_partition(ctx: Any, dest: dict[str, str], project_id: str, disposition: str, select: str,
                     params: list[Any]) -> int:
    """Write the rows of ``select`` into one day of an ingestion-time table; return the rows written."""
    from bqemulator.domain.errors import InvalidQueryError, ResourceRef, resource_not_found
    from bqemulator.storage.sql_identifiers import quoted_table_ref

    project, dataset = dest.get("projectId", project_id), dest.get("datasetId", "")
    table, day = split_decorator(dest["tableId"])  # type: ignore[misc]
    meta = ctx.catalog.get_table(project, dataset, table)
    if meta is None:
        raise resource_not_found(ResourceRef("table", project, dataset, table))
    if meta.time_partitioning is None or getattr(meta.time_partitioning, "field", None):
        raise InvalidQueryError(
            f"bqemulator_partitions: {dataset}.{dest['tableId']}: decorators are shimmed only for ingestion-time "
            "DAY-partitioned tables"
        )
    ref = quoted_table_ref(project, dataset, table)
    stamp = f"TIMESTAMP '{day:%Y-%m-%d} 00:00:00'"
    engine = ctx.engine
    engine.execute(f'ALTER TABLE {ref} ADD COLUMN IF NOT EXISTS "{PARTITION_COLUMN}" TIMESTAMP')
    in_day = f'"{PARTITION_COLUMN}" = {stamp}'
    if disposition == "WRITE_EMPTY" and engine.execute(f"SELECT COUNT(*) FROM {ref} WHERE {in_day}").fetchone()[0]:
        raise InvalidQueryError(f"Partition {dataset}.{dest['tableId']} is not empty (writeDisposition WRITE_EMPTY)")
    if disposition == "WRITE_TRUNCATE":
        engine.execute(f"DELETE FROM {ref} WHERE {in_day}")
    kept = engine.execute(f"SELECT COUNT(*) FROM {ref}").fetchone()[0]
    engine.execute(
        f'INSERT INTO {ref} BY NAME SELECT *, {stamp} AS "{PARTITION_COLUMN}" FROM {select}', params
    )
    after = engine.execute(f"SELECT COUNT(*) FROM {ref}").fetchone()[0]
    ctx.catalog.update_table(meta.model_copy(update={"num_rows": after}))
    return after - kept


def _job_meta(project_id: str, job_id: str, job_type: str, config: dict, ctx: Any, statistics: dict) -> Any:
    from bqemulator.catalog.etag import generate_etag
    from bqemulator.catalog.models import JobMeta

    now = ctx.clock.now()
    return JobMeta(
        project_id=project_id, job_id=job_id, job_type=job_type, state="DONE", configuration=config,
        statistics=statistics, creation_time=now, start_time=now, end_time=now,
        etag=generate_etag(project_id, job_id, str(now)),
    )


def _added_columns(old: list[Any], new: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(DuckDB column path, BigQuery field)`` of every field in ``new`` that ``old`` lacks (RECORD members too)."""
    before = {f.name.lower(): f for f in old}
    added = []
    for field in new:
        found = before.get(field.name.lower())
        if found is None:
            added.append((f'{prefix}"{field.name}"', field))
        elif (field.type or "").upper() in ("RECORD", "STRUCT") and (field.mode or "").upper() != "REPEATED":
            added.extend(_added_columns(list(found.fields or ()), list(field.fields or ()), f'{prefix}"{field.name}".'))
    return added


def _sync_added_columns(engine: Any, old: Any, new: Any) -> None:
    """Add to the DuckDB table what a schema update added to the catalog's schema."""
    from bqemulator.api.routes.tables import _field_to_rest
    from bqemulator.storage.sql_identifiers import quoted_table_ref
    from bqemulator.storage.type_map import bq_schema_to_duckdb_columns

    if engine is None or old is None or new.schema_ is None or old.schema_ is None:
        return
    if getattr(new, "table_type", "TABLE") != "TABLE":  # a replaced view's columns are its query's, not storage
        return
    ref = quoted_table_ref(new.project_id, new.dataset_id, new.table_id)
    for path, field in _added_columns(list(old.schema_.fields), list(new.schema_.fields)):
        (_, duck_type), = bq_schema_to_duckdb_columns([_field_to_rest(field)])
        engine.execute(f"ALTER TABLE {ref} ADD COLUMN {path} {duck_type}")


def numeric_in_full(bq_sql: str) -> str:
    """``ALTER COLUMN c SET DATA TYPE NUMERIC`` as ``NUMERIC(38, 9)``: the translator writes a bare ``NUMERIC`` as
    DuckDB's ``DECIMAL``, which is DECIMAL(18,3), not BigQuery's NUMERIC (38 digits, 9 after the point)."""
    found = _SET_DATA_TYPE.match(bq_sql)
    if not found or found["type"].upper() != "NUMERIC":
        return bq_sql
    return f"{bq_sql[:found.start('type')]}NUMERIC(38, 9){bq_sql[found.end('type'):]}"


def _sync_set_data_type(ctx: Any, project_id: str, bq_sql: str) -> None:
    """After a successful ``ALTER COLUMN … SET DATA TYPE``, give the catalog's field the new type."""
    found = _SET_DATA_TYPE.match(bq_sql)
    if not found:
        return
    parts = found["ref"].split(".")
    project, dataset, table = ([project_id, *parts] if len(parts) == 2 else parts)[-3:]
    meta = ctx.catalog.get_table(project, dataset, table)
    if meta is None or meta.schema_ is None:
        return
    new_type = found["type"].upper()
    fields = tuple(
        f.model_copy(update={"type": new_type}) if f.name.lower() == found["column"].lower() else f
        for f in meta.schema_.fields
    )
    ctx.catalog.update_table(meta.model_copy(update={"schema_": meta.schema_.model_copy(update={"fields": fields})}))


def install() -> None:
    """Patch the emulator's load and copy job entry points and its pseudo-column rewrite (call before serving)."""
    from bqemulator.api.routes import jobs as job_routes
    from bqemulator.api.routes import upload as upload_routes
    from bqemulator.jobs import executor
    from bqemulator.sql import translator

    original_load, original_copy = executor.execute_load_job, executor.execute_copy_job

    async def execute_load_job(project_id: str, job_id: str, config: dict[str, Any], ctx: Any) -> Any:
        load = config.get("load", {})
        dest = load.get("destinationTable", {})
        if not split_decorator(dest.get("tableId", "")):
            return await original_load(project_id, job_id, config, ctx)
        from bqemulator.domain.errors import InvalidQueryError

        if load.get("sourceFormat", "CSV").upper() != "PARQUET":
            raise InvalidQueryError("bqemulator_partitions: loads into a partition decorator take PARQUET only")
        paths = [executor._resolve_uri(uri, ctx) for uri in load.get("sourceUris", [])]
        async with ctx.engine.write_lock():
            rows = _write_partition(
                ctx, dest, project_id, load.get("writeDisposition", "WRITE_APPEND"), "read_parquet(?)", [paths]
            )
        return _job_meta(project_id, job_id, "LOAD", config, ctx, {"load": {"outputRows": str(rows)}})

    async def execute_copy_job(project_id: str, job_id: str, config: dict[str, Any], ctx: Any) -> Any:
        copy = config.get("copy", {})
        dest = copy.get("destinationTable", {})
        if not split_decorator(dest.get("tableId", "")):
            return await original_copy(project_id, job_id, config, ctx)
        from bqemulator.domain.errors import ResourceRef, resource_not_found
        from bqemulator.storage.sql_identifiers import quoted_table_ref

        source = copy.get("sourceTable") or (copy.get("sourceTables") or [{}])[0]
        src = (source.get("projectId", project_id), source.get("datasetId", ""), source.get("tableId", ""))
        if ctx.catalog.get_table(*src) is None:
            raise resource_not_found(ResourceRef("table", *src))
        async with ctx.engine.write_lock():
            rows = _write_partition(
                ctx, dest, project_id, copy.get("writeDisposition", "WRITE_APPEND"), quoted_table_ref(*src), []
            )
        return _job_meta(project_id, job_id, "COPY", config, ctx, {"copy": {"copiedRows": str(rows)}})

    original_query = executor.execute_query_job

    async def execute_query_job(project_id: str, job_id: str, bq_sql: str, *args: Any, **kwargs: Any) -> Any:
        meta = await original_query(project_id, job_id, numeric_in_full(bq_sql), *args, **kwargs)
        ctx = args[1] if len(args) > 1 else kwargs["ctx"]
        if getattr(meta, "state", "DONE") == "DONE" and not getattr(meta, "error_result", None):
            _sync_set_data_type(ctx, project_id, bq_sql)
        return meta

    for repository in _catalog_repositories():
        original_update = repository.update_table

        def update_table(self: Any, table: Any, _original: Any = original_update) -> Any:
            old = self.get_table(table.project_id, table.dataset_id, table.table_id)
            _sync_added_columns(getattr(self, "_engine", None), old, table)
            return _original(self, table)

        repository.update_table = update_table

    executor.execute_query_job = job_routes.execute_query_job = execute_query_job
    executor.execute_load_job = job_routes.execute_load_job = upload_routes.execute_load_job = execute_load_job
    executor.execute_copy_job = job_routes.execute_copy_job = execute_copy_job
    translator.rewrite_partition_pseudo_columns = rewrite_pseudo_columns


def _catalog_repositories() -> list[type]:
    from bqemulator.catalog.duckdb_repository import DuckDBCatalogRepository
    from bqemulator.catalog.memory_repository import MemoryCatalogRepository

    return [DuckDBCatalogRepository, MemoryCatalogRepository]
