"""The periodic full-export check on the local stack, run in-process: with ``verify_full_every_runs: 2`` the second
window after the bootstrap also takes a real (moto) full export at the window's end, and validate compares the
committed snapshot's rows with that export's ItemCount: equal → the run passes and says so. Then an item written to
DynamoDB outside the chain (in no window's changes) makes the next checked window's full export hold one item more
than the table: validate fails terminally, the merge is rolled back and the watermark does not move."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from conftest import BUCKET
from generated_changes import change_window
from test_iceberg_table_runs import LAYOUT, TABLE, WHERE, _table, context, create_source, dynamodb_items, window_export

from ddb_lake.compat import DAG, AirflowFailException
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
from ddb_lake.operators.iceberg_table import (
    IcebergChainStateOperator,
    IcebergFullCheckExportOperator,
    IcebergMergeOperator,
    IcebergValidationOperator,
)

pytestmark = pytest.mark.integration

LOCATION = f"s3://{BUCKET}/lake/iceberg/{TABLE}"


def state_at(end: datetime) -> dict:
    return IcebergChainStateOperator(task_id="state", dynamodb_table=TABLE, layout=LAYOUT, interval_end=end,
                                     check_recovery_window=False, verify_full_every_runs=2, **WHERE).execute({})


def full_check_export(dag, state: dict, end: datetime) -> dict:
    task = IcebergFullCheckExportOperator(
        task_id="full_check_export", due=state["full_check"], table_name=TABLE, s3_bucket=BUCKET,
        s3_prefix=state["full_check_prefix"] or "", export_time=state["export_time"], waiter_delay=1,
        check_recovery_window=False)
    return task.execute(context(dag, task, end))


def run(dag, state: dict, export: dict, full: dict, end: datetime) -> tuple[dict, dict]:
    convert = ExportToParquetOperator(task_id="convert", export=export, dest_url=state["changes_url"],
                                      snapshot=state["snapshot"], previous_schema=state["previous_schema"])
    summary = convert.execute(context(dag, convert, end))
    merged = IcebergMergeOperator(task_id="merge", location=LOCATION, export=export, conversion=summary,
                                  state=state, **WHERE).execute({})
    return merged, IcebergValidationOperator(task_id="validate", merge=merged, full_check=full, **WHERE).execute({})


def test_every_second_window_is_proved_against_a_full_export_and_drift_fails_without_moving_the_watermark(
        aws, tmp_path):
    rng = random.Random(5)
    model, t0 = create_source(aws, rng)
    dag = DAG("ddb_lake_iceberg_full_check", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))
    state = state_at(t0)
    assert (state["action"], state["full_check"], state["full_check_prefix"]) == ("bootstrap", False, None)
    task = DynamoDBExportOperator(task_id="export", table_name=TABLE, s3_bucket=BUCKET,
                                  s3_prefix=state["export_prefix"], export_time=state["export_time"], waiter_delay=1)
    merged, verdict = run(dag, state, task.execute(context(dag, task, t0)), {"due": False}, t0)
    assert merged["properties"]["ddb-lake.windows"] == "0" and verdict["full_check"] is None

    deleted: list[dict] = []
    end = t0
    for number, due in ((1, False), (2, True)):
        end = end + timedelta(hours=1)
        state = state_at(end)
        assert state["full_check"] is due, number
        change_window(model, rng, end - timedelta(hours=1), number, deleted)
        export = window_export(aws, tmp_path, model, state, number)
        full = full_check_export(dag, state, end)
        merged, verdict = run(dag, state, export, full, end)
        assert merged["properties"]["ddb-lake.windows"] == str(number)
        assert verdict["ok"] and verdict["rows"] == len(dynamodb_items(aws))
        if due:
            assert state["full_check_prefix"] == LAYOUT.export_prefix("FULL_EXPORT", end)
            assert full["due"] and full["export_type"] == "FULL_EXPORT" and full["export_time"] == end.isoformat()
            assert verdict["full_check"] == full["item_count"] == verdict["rows"]
            assert f"holds {verdict['rows']} items: match" in verdict["report_text"]
        else:
            assert full == {"due": False} and verdict["full_check"] is None

    # an item written outside the chain: window 3 is not checked, window 4 is, and its full export holds one more
    aws.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "stray#1"}, "sk": {"N": "1"}})
    end = end + timedelta(hours=1)
    state = state_at(end)
    change_window(model, rng, end - timedelta(hours=1), 3, deleted)
    merged, verdict = run(dag, state, window_export(aws, tmp_path, model, state, 3), {"due": False}, end)
    assert not state["full_check"] and verdict["ok"]
    snapshot = _table().current_snapshot().snapshot_id
    end4 = end + timedelta(hours=1)
    state = state_at(end4)
    assert state["full_check"]
    change_window(model, rng, end, 4, deleted)
    export = window_export(aws, tmp_path, model, state, 4)
    full = full_check_export(dag, state, end4)
    with pytest.raises(AirflowFailException, match=r"full export .* holds \d+ items: MISMATCH \(-1 rows\)"):
        run(dag, state, export, full, end4)
    table = _table()
    assert engine.committed_state(table).watermark == end and engine.committed_state(table).windows == 3
    assert table.current_snapshot().snapshot_id == snapshot
    # the retry of that run is checked again (the counter did not move) against the same full export
    again = state_at(end4)
    assert again["full_check"] and again["full_check_prefix"] == state["full_check_prefix"]
    assert full_check_export(dag, again, end4)["export_arn"] == full["export_arn"]
