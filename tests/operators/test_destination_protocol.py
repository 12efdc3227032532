"""The destination protocol without BigQuery: a tiny in-test warehouse registered, then found by the load results.

The validator counts the snapshot on moto S3 (Parquet footers, key checksum) and asks the tiny destination for its
copy's count and checksum; the run report asks it for its volume lines. Nothing here names BigQuery.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ddb_lake import destinations
from ddb_lake.compat import AirflowFailException
from ddb_lake.core.errors import ConfigError, ValidationFailedError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.core.validation.row_counts import CountSource, key_checksum_of_batches
from ddb_lake.core.validation.run_report import GB, VolumeLine
from ddb_lake.operators.row_count_validation import RowCountValidationOperator
from ddb_lake.operators.run_report import RunReportOperator

SCHEMA = LakeSchema((LakeField("pk", "PK", LakeType("string")), LakeField("n", "n", LakeType("int64"))))
ROWS = pa.table({"pk": ["a", "b", "c"], "n": [1, 2, 3]})


class TinyWarehouse:
    """A destination whose load result carries its own count and checksum (what a real one reads back)."""

    name = "tiny"
    built_with: list[Mapping[str, Any]] = []

    def __init__(self, settings: Mapping[str, Any]) -> None:
        TinyWarehouse.built_with.append(dict(settings))

    def row_count(self, load: Mapping[str, Any]) -> CountSource:
        return CountSource(self.name, load["rows"], note=load["where"])

    def key_checksum(self, load: Mapping[str, Any], key_columns: Sequence[str], schema: LakeSchema) -> tuple[int, int]:
        assert list(key_columns) == ["pk"] and schema == SCHEMA
        return load["rows"], load["key_sum"]

    def volume_lines(
        self, loads: Sequence[Mapping[str, Any]], transfers: Sequence[Mapping[str, Any]]
    ) -> list[VolumeLine]:
        loaded = sum(load["bytes"] for load in loads)
        return [VolumeLine("tiny_bytes_loaded", loaded, "tiny bytes loaded", "tiny_load", 1.0)]


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(destinations.DESTINATIONS, "tiny", TinyWarehouse)
    TinyWarehouse.built_with.clear()
    return TinyWarehouse


@pytest.fixture
def snapshot(moto_reset) -> dict:
    """A 3-row snapshot on moto S3, in the convert task's summary shape."""
    s3 = boto3.client("s3", endpoint_url=os.environ["DDB_LAKE_MOTO_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    buf = io.BytesIO()
    pq.write_table(ROWS, buf)
    key = "snapshots/t/snapshot=S/part-00000.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
    files = [{"path": f"s3://{bucket}/{key}", "rows": 3, "bytes": len(buf.getvalue())}]
    return {"files": files, "snapshot": "S", "schema": SCHEMA.to_json(), "snapshot_prefix": f"s3://{bucket}/x"}


def key_sum() -> int:
    return key_checksum_of_batches(ROWS.to_batches(), ["pk"])[1]


def validator(snapshot: dict, loads: list[dict]) -> RowCountValidationOperator:
    return RowCountValidationOperator(
        task_id="validate", export={"item_count": 3}, snapshot=snapshot, loads=loads, key_columns=["pk"],
        gcp_conn_id="gcp_x", location="EU",
    )  # fmt: skip


class Ti:
    try_number = 1


def test_the_validator_counts_every_registered_destination(tiny, snapshot):
    loads = [{"destination": "tiny", "rows": 3, "key_sum": key_sum(), "where": "tiny.t"}]
    result = validator(snapshot, loads).execute({"ti": Ti()})
    counts = {r["source"]: (r["count"], r["status"], r["note"]) for r in result["rows"]}
    assert counts == {
        "dynamodb_export": (3, "ok", "export manifest / DescribeExport"),
        "parquet_footers": (3, "ok", "1 file(s)"),
        "tiny": (3, "ok", "tiny.t"),
    }
    assert result["key_checksum"] == {
        "columns": ["pk"], "parquet": key_sum(), "tiny": key_sum(), "ok": True,
        "message": f"key checksum over (pk): parquet {key_sum()} (3 rows), tiny {key_sum()} (3 rows): match",
    }  # fmt: skip
    assert tiny.built_with[0]["gcp_conn_id"] == "gcp_x" and tiny.built_with[0]["location"] == "EU"


def test_a_short_copy_in_any_destination_fails_terminally_with_the_report(tiny, snapshot):
    loads = [{"destination": "tiny", "rows": 2, "key_sum": key_sum() - 1, "where": "tiny.t"}]
    with pytest.raises(AirflowFailException) as failed:
        validator(snapshot, loads).execute({"ti": Ti()})
    assert isinstance(failed.value.__cause__, ValidationFailedError)
    text = str(failed.value)
    assert "? snapshot S is not published" in text and "RESULT: tiny has 2 (-1) vs dynamodb_export 3" in text
    assert f"tiny {key_sum() - 1} (2 rows): DIFFER" in text


def test_a_load_result_naming_no_known_destination_is_a_config_error(snapshot):
    with pytest.raises(AirflowFailException, match="no destination 'nowhere' is registered") as failed:
        validator(snapshot, [{"destination": "nowhere"}]).execute({"ti": Ti()})
    assert isinstance(failed.value.__cause__, ConfigError)
    with pytest.raises(AirflowFailException, match="result names no destination"):
        validator(snapshot, [{"rows": 3}]).execute({"ti": Ti()})


def test_the_run_report_takes_each_destinations_lines(tiny):
    report = RunReportOperator(
        task_id="report", table="t", conversion={"items": 3, "snapshot": "S"},
        loads=[{"destination": "tiny", "bytes": 2 * GB}, {"destination": "tiny", "bytes": GB}],
    ).execute({})  # fmt: skip
    assert report["tiny_bytes_loaded"] == 3 * GB
    assert report["estimated_cost_usd"]["tiny_load"] == 3.0 and report["estimated_cost_usd"]["total"] == 3.0
    assert "tiny bytes loaded" in report["report_text"] and "bigquery" not in report["report_text"]
