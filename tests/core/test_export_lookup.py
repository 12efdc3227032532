"""The export record and the bounded listing a retry uses to find the export of its interval."""

from __future__ import annotations

import json

import pytest

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.lookup import DESCRIBED_EXPORTS, ExportRecord, newest_first, read_record, record_key

PREFIX = "mirror/exports/orders/full/20261121T000000Z"
WHERE = {"s3_bucket": "lake", "s3_prefix": PREFIX, "export_type": "FULL_EXPORT"}


def test_record_sits_beside_the_export_folder():
    assert record_key(PREFIX) == f"{PREFIX}/_ddb_lake_export.json"
    assert record_key(PREFIX + "/") == f"{PREFIX}/_ddb_lake_export.json"


def test_record_round_trips_and_remembers_the_arn():
    record = ExportRecord(table_name="orders", attempt=1, client_token="ddb-lake-abc", **WHERE)
    assert json.loads(record.to_json()) == {
        "table_name": "orders", "export_type": "FULL_EXPORT", "s3_bucket": "lake", "s3_prefix": PREFIX,
        "attempt": 1, "client_token": "ddb-lake-abc", "export_arn": None,
    }
    started = record.started("arn:aws:dynamodb:us-east-1:1:table/orders/export/01700000000000-aa")
    assert read_record(started.to_json(), **WHERE) == started
    assert read_record(record.to_json(), **WHERE).export_arn is None


@pytest.mark.parametrize("other", [{"s3_bucket": "copy"}, {"s3_prefix": "mirror/other"},
                                   {"export_type": "INCREMENTAL_EXPORT"}])
def test_a_record_of_another_place_is_ignored(other):
    record = ExportRecord(table_name="orders", attempt=0, client_token="t", **WHERE)
    assert read_record(record.to_json(), **{**WHERE, **other}) is None


def test_a_broken_record_names_the_object_and_the_fix():
    with pytest.raises(ConfigError) as raised:
        read_record(b'{"attempt": 0}', **WHERE)
    assert f"Export record s3://lake/{PREFIX}/_ddb_lake_export.json is not a ddb-lake export record" in str(
        raised.value
    )
    assert "Delete it and clear the export task" in str(raised.value)


def test_listing_is_described_newest_first_and_bounded():
    arns = [f"arn:aws:dynamodb:us-east-1:1:table/orders/export/0170000000{n:04d}-ab" for n in range(20)]
    summaries = [{"ExportArn": arn, "ExportType": "FULL_EXPORT"} for arn in arns]
    summaries.append({"ExportArn": arns[0] + "9", "ExportType": "INCREMENTAL_EXPORT"})
    picked = newest_first(summaries, "FULL_EXPORT")
    assert DESCRIBED_EXPORTS == 5
    assert [s["ExportArn"] for s in picked] == arns[19:14:-1]
    assert newest_first([{"ExportArn": arns[3]}], "INCREMENTAL_EXPORT") == [{"ExportArn": arns[3]}]
