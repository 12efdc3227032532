"""The Athena merge engine as the merge task runs it (``merge_engine: athena``), on the local stack: the window is
staged in S3 and Glue, the keys the table held are found by an Athena query with time travel, Athena's MERGE INTO
rewrites the table (the stand-in runs the exact statement with DuckDB, scripts/athena_local.py), and a ddb-lake
commit records export id, watermark and the change arithmetic. After every window the table equals the items and
the validation task agrees; a retry of a merged window, and a retry after the MERGE ran but before its commit,
change nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
import pytest
from change_exports import ItemModel, write_incremental_export
from conftest import BUCKET, DATABASE, REGION
from generated_changes import change_window, seed_items
from item_compare import export_plain, iceberg_items, sorted_items

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.iceberg.athena_merge import merge_into_sql, window_table_name
from ddb_lake.core.iceberg.change_set import data_schema
from ddb_lake.core.iceberg.watermark import EXPORT_ID, WATERMARK
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.operators.iceberg_table import IcebergMergeOperator, IcebergValidationOperator

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 22, tzinfo=UTC)
KEYS = ["pk", "sk"]
WHERE = {"database": DATABASE, "table_name": "books"}
OUTPUT = f"s3://{BUCKET}/athena/"


def bootstrap(tmp_path, catalog, rng) -> tuple[ItemModel, object]:
    model = ItemModel(("pk", "sk"))
    seed_items(model, rng, 60, T0 - timedelta(hours=1))
    full = write_export(tmp_path / "full" / "AWSDynamoDB" / "01700000000000-full0001",
                        [[item_line(i) for i in model.items.values()]])
    summary = convert_export(str(full), str(tmp_path / "full-out"))
    schema = LakeSchema.from_json(summary["schema"])
    table = engine.create_table(catalog, (DATABASE, "books"), schema, f"s3://{BUCKET}/lake/iceberg/books", KEYS)
    items = engine.read_parquet_files(table.io, [f["path"] for f in summary["files"]], schema.to_arrow())
    engine.bootstrap(table, items, schema, export_id=summary["export_id"], export_time=T0, key_columns=KEYS)
    return model, table


def window(tmp_path, model, table, number: int, start: datetime) -> tuple[dict, dict, dict]:
    """(export, conversion, state) of the merge task for one window of real incremental-export changes."""
    end = start + timedelta(hours=1)
    export_id = f"0176400000000{number}-{number:08x}"
    folder = write_incremental_export(tmp_path / f"w{number}" / "AWSDynamoDB" / export_id, model.take_lines(),
                                      start, end, seed=number)
    conversion = convert_export(str(folder), str(tmp_path / f"w{number}-out"),
                                previous_schema=engine.stored_schema(table))
    export = {"export_arn": f"arn:aws:dynamodb:{REGION}:123456789012:table/books/export/{export_id}",
              "table_name": "books", "export_type": "INCREMENTAL_EXPORT", "export_folder": str(folder),
              "key_schema": [{"attribute": "pk", "type": "S"}, {"attribute": "sk", "type": "N"}]}
    state = {"action": "incremental", "window_start": start.isoformat(), "export_time": end.isoformat(),
             "changes_url": f"s3://{BUCKET}/lake/changes/books/snapshot=w{number}"}
    return export, conversion, state


def merge(export, conversion, state, try_number: int = 1, engine_setting: str = "athena") -> dict:
    task = IcebergMergeOperator(task_id="merge", location="unused", export=export, conversion=conversion, state=state,
                                merge_engine=engine_setting, athena_min_rows=60, athena_output_location=OUTPUT,
                                athena_poll_seconds=0.2, **WHERE)
    task.log.disabled = True
    context = {"run_id": f"run-{state['export_time']}", "ti": SimpleNamespace(try_number=try_number)}
    return task.execute(context)


def athena_queries(athena_url: str) -> list[str]:
    client = boto3.client("athena", endpoint_url=athena_url, region_name=REGION, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    ids = client.list_query_executions()["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


def test_windows_merged_by_athena_equal_the_items_and_validate(tmp_path, catalog, athena_url):
    rng = random.Random(5)
    model, table = bootstrap(tmp_path, catalog, rng)
    deleted: list[dict] = []
    start = T0
    for number in range(2):
        change_window(model, rng, start, number, deleted)
        export, conversion, state = window(tmp_path, model, table, number, start)
        merged = merge(export, conversion, state, engine_setting=["auto", "athena"][number])  # auto: 60 rows >= 60
        assert (merged["action"], merged["engine"]) == ("merged", "athena")
        verdict = IcebergValidationOperator(task_id="validate", merge=merged, **WHERE).execute({})
        assert verdict["ok"] and verdict["rows"] == len(model.items)
        table.refresh()
        assert iceberg_items(table, engine.stored_schema(table)) == sorted_items(list(model.items.values()),
                                                                                 export_plain), number
        summary = table.current_snapshot().summary.additional_properties
        assert (summary[EXPORT_ID], summary[WATERMARK]) == (conversion["export_id"], state["export_time"])
        counts = {k: int(summary[f"ddb-lake.{k}"]) for k in ("rows", "rows-before", "inserts", "deletes", "updates")}
        assert counts["rows"] == counts["rows-before"] + counts["inserts"] - counts["deletes"] == len(model.items)
        assert min(counts["inserts"], counts["deletes"], counts["updates"]) > 0
        start += timedelta(hours=1)
    columns = [f.name for f in data_schema(engine.stored_schema(table)).fields]
    sent = athena_queries(athena_url)
    assert merge_into_sql(DATABASE, "books", window_table_name("books"), columns, KEYS) in sent  # the exact request
    assert sum(q.startswith("MERGE INTO") for q in sent) == 2

    snapshot = table.current_snapshot().snapshot_id
    again = merge(export, conversion, state, try_number=2)  # a retried task: already merged, nothing runs
    table.refresh()
    assert again["action"] == "already_applied" and table.current_snapshot().snapshot_id == snapshot
    assert len(athena_queries(athena_url)) == len(sent)


def test_a_retry_after_the_merge_ran_but_before_its_commit_gives_the_same_table(tmp_path, catalog, athena_url):
    from ddb_lake.hooks.iceberg_athena import AthenaMergeRunner
    from ddb_lake.hooks.iceberg_athena_merge import merge_window_athena

    rng = random.Random(6)
    model, table = bootstrap(tmp_path, catalog, rng)
    change_window(model, rng, T0, 0, [])
    export, conversion, state = window(tmp_path, model, table, 0, T0)
    before = table.current_snapshot().snapshot_id

    class CrashAfterMerge(AthenaMergeRunner):
        def query(self, sql, database, purpose, fetch=True):
            rows = super().query(sql, database, purpose, fetch)
            if sql.startswith("MERGE INTO"):
                raise RuntimeError("worker lost after the MERGE")
            return rows

    schema = LakeSchema.from_json(conversion["schema"])
    rows = engine.read_parquet_files(table.io, [f["path"] for f in conversion["files"]], schema.to_arrow())
    runner = CrashAfterMerge(aws_conn_id="aws_default", region_name=REGION, output_location=OUTPUT,
                             workgroup="primary", attempt=("run", 1), table=f"{DATABASE}.books",
                             poll_seconds=0.2)
    with pytest.raises(RuntimeError, match="worker lost"):
        merge_window_athena(table, rows, schema, export_id=conversion["export_id"], window_start=T0,
                            window_end=T0 + timedelta(hours=1), key_columns=KEYS, database=DATABASE,
                            table_name="books", window_url=f"{state['changes_url']}/merge_window", runner=runner)
    table.refresh()
    assert table.current_snapshot().snapshot_id != before  # Athena's commit landed, ddb-lake's did not
    assert engine.state_snapshot(table).snapshot_id == before
    assert engine.committed_state(table).watermark == T0

    merged = merge(export, conversion, state, try_number=2)
    verdict = IcebergValidationOperator(task_id="validate", merge=merged, **WHERE).execute({})
    assert merged["action"] == "merged" and merged["parent_snapshot_id"] == before and verdict["ok"]
    table.refresh()
    assert iceberg_items(table, engine.stored_schema(table)) == sorted_items(list(model.items.values()), export_plain)
    assert engine.committed_state(table).watermark == T0 + timedelta(hours=1)
