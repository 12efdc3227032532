"""Widening on the local stack: three days of drift published into one ``partitioned`` table with no manual step.

Day 20 sets the table; day 21 widens ``qty`` INT64 → NUMERIC (ALTER COLUMN SET DATA TYPE), adds ``color`` and the
RECORD member ``address.zip``; day 22 turns ``code`` from a number into exact text (no legal ALTER: versioned column
``code__v2`` and the view ``orders__contract``). Every day's values are read back exactly.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bq_runs import BigQueryRun, new_dataset
from bq_snapshots import LAKE_BUCKET, Snapshot, s3_client

from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.operators.run_report import RunReportOperator

pytestmark = pytest.mark.integration


def _f(name: str, kind: LakeType) -> LakeField:
    return LakeField(name, name, kind)


def schema(day: int) -> LakeSchema:
    qty = LakeType("int64") if day == 20 else LakeType("decimal", precision=20, scale=2)
    code = LakeType("decimal_text") if day == 22 else LakeType("decimal", precision=12, scale=2)
    members = (_f("city", LakeType("string")),) + ((_f("zip", LakeType("int64")),) if day > 20 else ())
    address = LakeType("struct", fields=members)
    fields = [_f("pk", LakeType("string")), _f("qty", qty), _f("code", code), _f("address", address)]
    if day > 20:
        fields.append(_f("color", LakeType("string")))
    return LakeSchema(tuple(fields))


def rows(day: int) -> list[dict]:
    out = []
    for i in range(3):
        row = {
            "pk": f"d{day}#{i}",
            "qty": i + 1 if day == 20 else Decimal(f"{i + 1}.50"),
            "code": f"{10**30 + i}" if day == 22 else Decimal(f"{day}.{i}5"),
            "address": {"city": f"c{i}"} | ({"zip": 1000 + i} if day > 20 else {}),
        }
        if day > 20:
            row["color"] = f"red{i}"
        out.append(row)
    return out


def put(day: int) -> Snapshot:
    stamp = f"202611{day}T000000Z"
    key = f"lake/snapshots/orders/widen/snapshot={stamp}/part-00000.parquet"
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows(day), schema=schema(day).to_arrow()), sink)
    s3 = s3_client()
    s3.create_bucket(Bucket=LAKE_BUCKET)
    body = sink.getvalue().to_pybytes()
    s3.put_object(Bucket=LAKE_BUCKET, Key=key, Body=body)
    summary = {
        "items": 3, "files": [{"path": f"s3://{LAKE_BUCKET}/{key}", "rows": 3, "bytes": len(body)}],
        "schema": schema(day).to_json(),
        "snapshot_prefix": f"s3://{LAKE_BUCKET}/{key.rsplit('/', 1)[0]}", "snapshot": stamp, "table_name": "orders",
    }
    return Snapshot(summary, rows(day))


def test_three_days_of_drift_widen_the_table_and_keep_every_value(moto_reset, gcs_bucket, gcp_project):
    bq = BigQueryRun(gcp_project, new_dataset(gcp_project), gcs_bucket)
    published = {day: bq.run(put(day), f"2026-11-{day}")[1] for day in (20, 21, 22)}

    assert published[20]["widenings"] == []
    assert [w["change"] for w in published[21]["widenings"]] == [
        "qty: INT64 -> NUMERIC (ALTER COLUMN SET DATA TYPE)",
        "address.zip: new RECORD (add member)",
        "color: new STRING (add column)",
    ]
    assert [w["change"] for w in published[22]["widenings"]] == [
        "code: NULLABLE NUMERIC -> NULLABLE STRING in new column code__v2 (view reads both)"
    ]
    fields = BigQueryLoadHook(api_deadline=5.0).table_fields(gcp_project, bq.dataset, "orders")  # tables.get
    assert [(f["name"], f["type"]) for f in fields] == [
        ("pk", "STRING"), ("qty", "NUMERIC"), ("code", "NUMERIC"), ("address", "RECORD"), ("color", "STRING"),
        ("code__v2", "STRING"),
    ]
    assert [m["name"] for m in fields[3]["fields"]] == ["city", "zip"]

    got = bq.rows("SELECT pk, qty, code, code__v2, address.zip AS zip, color FROM {t} ORDER BY pk")
    assert got == [
        {"pk": f"d20#{i}", "qty": Decimal(i + 1), "code": Decimal(f"20.{i}5"), "code__v2": None, "zip": None,
         "color": None} for i in range(3)
    ] + [
        {"pk": f"d21#{i}", "qty": Decimal(f"{i + 1}.50"), "code": Decimal(f"21.{i}5"), "code__v2": None,
         "zip": 1000 + i, "color": f"red{i}"} for i in range(3)
    ] + [
        {"pk": f"d22#{i}", "qty": Decimal(f"{i + 1}.50"), "code": None, "code__v2": f"{10**30 + i}",
         "zip": 1000 + i, "color": f"red{i}"} for i in range(3)
    ]
    assert bq.per_day() == {"2026-11-20": 3, "2026-11-21": 3, "2026-11-22": 3}
    # The contract view reads one `code` column: the exact text on day 22, the old numbers (as text) before.
    view = bq.rows(f"SELECT pk, code FROM `{gcp_project}.{bq.dataset}.orders__contract` ORDER BY pk")
    assert [Decimal(r["code"]) for r in view] == [Decimal(f"{d}.{i}5") for d in (20, 21) for i in range(3)] + [
        Decimal(10**30 + i) for i in range(3)
    ]
    assert bq.tables() == {"orders", "orders__contract"}  # staging and reshaped tables dropped

    report = RunReportOperator(task_id="report", table="orders", publishes=[published[21], None]).execute({})
    assert report["widenings"] == published[21]["widenings"]
    assert f"widened {gcp_project}.{bq.dataset}.orders$20261121: qty: INT64 -> NUMERIC" in report["report_text"]
