"""The run plan: one pure function from a table's settings and a data interval to every name and key of a run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ddb_lake.core.config.table_config import load_table_config
from ddb_lake.core.errors import ConfigError, TerminalError
from ddb_lake.core.export.rules import client_token, export_window
from ddb_lake.core.run_plan import RunPlan, table_plan

TABLES = Path(__file__).resolve().parents[2] / "include" / "tables"
START = datetime(2026, 11, 22, tzinfo=UTC)
END = datetime(2026, 11, 23, tzinfo=UTC)


def test_full_plan_names_every_key_of_the_run():
    plan = table_plan(load_table_config(TABLES / "orders.yaml"), "full").for_interval(START, END)
    assert plan.export_type == "FULL_EXPORT"
    assert plan.export_time == "2026-11-23T00:00:00+00:00"
    assert plan.window_start is None
    assert plan.export_prefix == "lake/exports/orders/full/20261123T000000Z"
    assert plan.snapshot == "20261123T000000Z"
    assert plan.snapshot_url == "s3://ddb-lake-demo/lake/snapshots/orders/snapshot=20261123T000000Z"
    assert plan.attempts_url == "s3://ddb-lake-demo/lake/snapshots/orders/_attempts/snapshot=20261123T000000Z"
    assert plan.lake_root_url == "s3://ddb-lake-demo/lake/snapshots/orders"
    assert (plan.glue_database, plan.current_table) == ("ddb_lake_demo", "orders")
    assert plan.history_table == "orders_snapshots"
    assert (plan.bigquery_project, plan.bigquery_dataset, plan.bigquery_table) == (
        "ddb-lake-demo", "ddb_lake_demo", "orders",
    )
    assert plan.bigquery_day == "2026-11-23"
    assert plan.gcs_staging_prefix == "orders/20261123T000000Z"


def test_incremental_plan_covers_the_window_and_writes_changes():
    hour_start = datetime(2026, 11, 22, 5, tzinfo=UTC)
    plan = table_plan(load_table_config(TABLES / "customers.yaml"), "incremental").for_interval(
        hour_start, datetime(2026, 11, 22, 6, tzinfo=UTC)
    )
    assert plan.export_type == "INCREMENTAL_EXPORT"
    assert plan.window_start == "2026-11-22T05:00:00+00:00"
    assert plan.export_prefix == "dynamodb/exports/customers/incremental/20261122T050000Z-20261122T060000Z"
    assert plan.snapshot == "20261122T050000Z-20261122T060000Z"
    assert plan.snapshot_url == (
        "s3://acme-data-lake/dynamodb/changes/customers/snapshot=20261122T050000Z-20261122T060000Z"
    )
    assert plan.attempts_url == (
        "s3://acme-data-lake/dynamodb/changes/customers/_attempts/snapshot=20261122T050000Z-20261122T060000Z"
    )
    assert plan.history_table == "customers_changes"
    assert plan.bigquery_project is None


def test_plan_round_trips_through_xcom_and_is_the_same_for_every_try():
    tplan = table_plan(load_table_config(TABLES / "orders.yaml"), "full")
    first = tplan.for_interval(START, END)
    assert RunPlan.from_xcom(first.to_xcom()) == first
    assert tplan.for_interval(START.isoformat(), END.isoformat()) == first
    assert all(isinstance(v, (str, type(None))) for v in first.to_xcom().values())


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (START, START.replace(minute=10), "is 0:10:00, but DynamoDB accepts 15 minutes to 24 hours"),
        (START, END.replace(hour=1), "is 1 day, 1:00:00"),
        (None, END, "no window_start and no data interval start"),
        (START, None, "no export_time and no data interval end"),
    ],
)
def test_incremental_window_outside_dynamodb_limits_is_a_terminal_config_error(start, end, message):
    with pytest.raises(ConfigError, match=message) as raised:
        export_window("orders", "INCREMENTAL_EXPORT", start, end)
    assert isinstance(raised.value, TerminalError)


def test_window_limits_are_inclusive():
    assert export_window("t", "incremental", START, START.replace(minute=15)) == (START, START.replace(minute=15))
    assert export_window("t", "INCREMENTAL_EXPORT", START, END) == (START, END)
    assert export_window("t", "full", None, END) == (None, END)


def test_client_token_is_deterministic_and_distinguishes_parts():
    assert client_token("d", "t", 1) == client_token("d", "t", 1)
    assert client_token("d", "t", 1) != client_token("d", "t", 2)
    assert client_token("a").startswith("ddb-lake-") and len(client_token("a")) == 49
