"""The Athena stand-in reads an Iceberg table registered in Glue (pyiceberg scan of its current snapshot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from conftest import BUCKET, DATABASE

from ddb_lake.core.schema.inference import metadata_fields
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.hooks import iceberg_merge as engine

pytestmark = pytest.mark.integration

SCHEMA = LakeSchema((LakeField("pk", "pk", LakeType("string")),
                     LakeField("price", "price", LakeType("decimal", precision=6, scale=2))))
T0 = datetime(2026, 11, 22, tzinfo=UTC)


def run(sql: str) -> list[list[str | None]]:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    hook = AthenaHook(aws_conn_id="aws_default", log_query=False)
    query_id = hook.run_query(sql, {"Database": DATABASE}, {"OutputLocation": f"s3://{BUCKET}/athena/"})
    state = hook.poll_query_status(query_id, max_polling_attempts=500, sleep_time=0.05)
    assert state == "SUCCEEDED", hook.get_query_info(query_id)["QueryExecution"]["Status"]
    rows = hook.get_query_results(query_id)["ResultSet"]["Rows"][1:]
    return [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows]


def test_count_and_values_of_the_current_snapshot(catalog, athena_url):
    from decimal import Decimal

    table = engine.create_table(catalog, (DATABASE, "books"), SCHEMA, f"s3://{BUCKET}/lake/iceberg/books", ["pk"])
    items = pa.table({"pk": ["a", "b", "c"], "price": pa.array([Decimal("1.50"), Decimal("2.00"), Decimal("9.99")],
                                                               pa.decimal128(6, 2))})
    engine.bootstrap(table, items, SCHEMA, export_id="full", export_time=T0, key_columns=["pk"])
    assert run("SELECT COUNT(*) FROM books") == [["3"]]
    changes = pa.table({"_ddb_operation": ["REMOVE", "MODIFY"],
                        "_ddb_write_ts": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
                        "pk": ["a", "b"], "price": pa.array([None, Decimal("2.25")], pa.decimal128(6, 2))})
    engine.merge_window(table, changes, LakeSchema((*metadata_fields(), *SCHEMA.fields)), export_id="w1",
                        window_start=T0, window_end=T0 + timedelta(hours=1), key_columns=["pk"])
    assert run("SELECT COUNT(*) FROM books") == [["2"]]
    assert run("SELECT pk, price FROM lake_db.books ORDER BY pk") == [["b", "2.25"], ["c", "9.99"]]
