"""Pure parts: the exact load job request sent to BigQuery, its id, and the row count report."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ddb_lake.core.validation.row_counts import (
    CountSource,
    compare_counts,
    key_checksum_of_batches,
    key_hash,
    key_text,
    parquet_metadata_from_tail,
)
from ddb_lake.destinations.bigquery.load_job import (
    BigQueryDestination,
    configuration_fingerprint,
    load_job_configuration,
    load_job_id,
)

DAY = date(2026, 11, 22)
FIELDS = [{"name": "pk", "type": "STRING", "mode": "NULLABLE"}]
URIS = ["gs://lake/orders/snapshot=20261122T000000Z/part-00000.parquet"]


def test_partitioned_load_job_is_a_decorator_truncate_with_explicit_schema():
    dest = BigQueryDestination("proj", "lake", "orders")
    config = load_job_configuration(dest, DAY, URIS, FIELDS, add_fields=True, labels={"ddb_lake_table": "orders"})
    # Field names and values as documented for Job.configuration.load in the BigQuery v2 REST reference.
    assert config == {
        "load": {
            "sourceUris": URIS,
            "sourceFormat": "PARQUET",
            "destinationTable": {"projectId": "proj", "datasetId": "lake", "tableId": "orders$20261122"},
            "schema": {"fields": FIELDS},
            "autodetect": False,
            "writeDisposition": "WRITE_TRUNCATE",
            "createDisposition": "CREATE_IF_NEEDED",
            "parquetOptions": {"enableListInference": True, "enumAsString": True},
            "decimalTargetTypes": ["NUMERIC", "BIGNUMERIC", "STRING"],
            "timePartitioning": {"type": "DAY"},
            "schemaUpdateOptions": ["ALLOW_FIELD_ADDITION"],
        },
        "labels": {"ddb_lake_table": "orders"},
    }


def test_the_google_client_accepts_the_configuration_unchanged():
    from google.cloud.bigquery import LoadJobConfig

    config = load_job_configuration(BigQueryDestination("proj", "lake", "orders"), DAY, URIS, FIELDS, add_fields=True)
    parsed = LoadJobConfig.from_api_repr(config)
    assert parsed.write_disposition == "WRITE_TRUNCATE"
    assert parsed.source_format == "PARQUET"
    assert parsed.schema_update_options == ["ALLOW_FIELD_ADDITION"]
    assert parsed.decimal_target_types == frozenset({"NUMERIC", "BIGNUMERIC", "STRING"})
    assert parsed.parquet_options.enable_list_inference is True
    assert parsed.time_partitioning.type_ == "DAY" and parsed.time_partitioning.field is None
    assert parsed.autodetect is False
    assert [s.name for s in parsed.schema] == ["pk"]


@pytest.mark.parametrize(
    ("layout", "table_id", "where"),
    [
        ("partitioned", "orders$20261122", "_PARTITIONDATE = DATE '2026-11-22'"),
        ("sharded", "orders_20261122", ""),
        ("latest", "orders", ""),
    ],
)
def test_layouts(layout, table_id, where):
    dest = BigQueryDestination("p", "d", "orders", layout)
    config = load_job_configuration(dest, DAY, URIS, FIELDS, add_fields=True)
    assert config["load"]["destinationTable"]["tableId"] == table_id
    assert dest.partition_filter(DAY) == where
    assert dest.base_table_id(DAY) == table_id.split("$")[0]
    # schemaUpdateOptions is valid only for a partition WRITE_TRUNCATE; other truncates replace the schema anyway.
    assert ("schemaUpdateOptions" in config["load"]) == (layout == "partitioned")


def test_bad_layout_and_no_files_are_refused():
    with pytest.raises(ValueError, match="unknown BigQuery layout 'daily'"):
        BigQueryDestination("p", "d", "t", "daily")
    with pytest.raises(ValueError, match=r"no source files to load into d.t\$20261122"):
        load_job_configuration(BigQueryDestination("p", "d", "t"), DAY, [], FIELDS)


def test_job_id_is_deterministic_and_safe():
    config = load_job_configuration(BigQueryDestination("p", "d", "orders"), DAY, URIS, FIELDS)
    fp = configuration_fingerprint(config, ["crc-a", "crc-b"])
    assert fp == configuration_fingerprint(config, ["crc-b", "crc-a"])
    assert fp != configuration_fingerprint(config, ["crc-a", "crc-c"])  # other file contents, other job
    end = datetime(2026, 11, 22, tzinfo=UTC)
    job_id = load_job_id("ddb.lake-daily", "orders", end, fp, 0)
    assert job_id == f"ddb_lake_ddb_lake-daily_orders_20261122T000000_{fp}_g0"
    assert load_job_id("ddb.lake-daily", "orders", end, fp, 1).endswith("_g1")


def test_count_report_passes_when_exact_counts_agree_and_ignores_the_approximate_one():
    report = compare_counts(
        [
            CountSource("dynamodb_export", 1000),
            CountSource("dynamodb_table_approx", 990, exact=False),
            CountSource("bigquery", 1000),
        ],
        table="orders",
        snapshot="20261122T000000Z",
    )
    assert report.ok
    assert [r.status for r in report.rows] == ["ok", "info", "ok"]
    assert report.rows[1].delta == -10
    assert report.render().splitlines()[-1] == "RESULT: all exact counts agree"


def test_count_report_names_the_short_copy():
    report = compare_counts(
        [
            CountSource("dynamodb_export", 1000),
            CountSource("parquet_footers", 1000),
            CountSource("bigquery", 999),
            CountSource("athena", None),
        ],
        table="orders",
        snapshot="20261122T000000Z",
    )
    assert not report.ok
    assert report.problems == (
        "bigquery has 999 (-1) vs dynamodb_export 1,000",
        "athena has no count vs dynamodb_export 1,000",
    )
    lines = report.render().splitlines()
    assert lines[0] == "Row counts of orders snapshot 20261122T000000Z (tolerance 0):"
    assert lines[5].split() == ["bigquery", "999", "-1", "MISMATCH"]
    assert report.to_xcom()["ok"] is False and report.to_xcom()["rows"][2]["delta"] == -1


def test_tolerance_and_reference():
    sources = [CountSource("parquet_footers", 100), CountSource("bigquery", 98)]
    assert compare_counts(sources, table="t", snapshot="s", tolerance=2).ok
    assert not compare_counts(sources, table="t", snapshot="s", tolerance=1).ok
    assert compare_counts(sources, table="t", snapshot="s", reference="bigquery").reference == "bigquery"
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        compare_counts(sources, table="t", snapshot="s", tolerance=-1)


def test_key_hash_matches_the_bigquery_expression_by_hand():
    # BigQuery: CAST(CONCAT('0x', SUBSTR(TO_HEX(MD5('a|7')), 1, 8)) AS INT64); md5('a|7') starts with these 8 digits.
    import hashlib

    assert key_text(["a", 7]) == "a|7"
    assert key_text([b"\x01\xff", None, True]) == "01ff||true"
    assert key_hash(["a", 7]) == int(hashlib.md5(b"a|7").hexdigest()[:8], 16)


def test_key_checksum_of_batches():
    table = pa.table({"pk": ["a", "b"], "sk": [1, 2], "other": [0.5, 1.5]})
    rows, total = key_checksum_of_batches(table.to_batches(), ["pk", "sk"])
    assert rows == 2 and total == key_hash(["a", 1]) + key_hash(["b", 2])


def test_parquet_rows_from_the_tail_alone():
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(12345))}), buf, row_group_size=1000)
    data = buf.getvalue()
    meta = parquet_metadata_from_tail(data[-4096:])
    assert meta.num_rows == 12345 and meta.num_row_groups == 13
    with pytest.raises(ValueError, match="need the last"):
        parquet_metadata_from_tail(data[-20:])
    with pytest.raises(ValueError, match="not a Parquet file"):
        parquet_metadata_from_tail(b"hello world, not parquet")


def test_count_sql_parses_as_bigquery_and_selects_one_day():
    import sqlglot

    from ddb_lake.destinations.bigquery.count_sql import count_sql, key_checksum_sql

    dest = BigQueryDestination("p", "d", "orders")
    count = sqlglot.parse_one(count_sql(dest.qualified(DAY), dest.partition_filter(DAY)), read="bigquery")
    assert count.sql("bigquery") == (
        "SELECT COUNT(*) AS row_count FROM `p.d.orders` WHERE _PARTITIONDATE = CAST('2026-11-22' AS DATE)"
    )
    checksum = key_checksum_sql(dest.qualified(DAY), [("pk", "STRING"), ("sk", "INT64")], dest.partition_filter(DAY))
    parsed = sqlglot.parse_one(checksum, read="bigquery")
    assert [s.alias for s in parsed.selects] == ["row_count", "key_sum"]
    assert "CONCAT(COALESCE(`pk`, ''), '|', COALESCE(CAST(`sk` AS STRING), ''))" in checksum  # key_text's shape
    assert "SUBSTR(TO_HEX(MD5(" in checksum and ", 1, 8)) AS INT64)" in checksum  # key_hash: 8 hex digits
    with pytest.raises(ValueError, match="key column 'f' is FLOAT64"):
        key_checksum_sql("`t`", [("f", "FLOAT64")])


def test_job_id_time_prefers_the_interval_end_over_the_snapshot_stamp():
    from ddb_lake.destinations.bigquery.load_job import job_id_time

    six = datetime(2026, 11, 22, 6, tzinfo=UTC)
    assert job_id_time("2026-11-22T06:00:00+00:00", "20261122T000000Z") == six
    assert job_id_time(None, "20261122T000000Z") == datetime(2026, 11, 22, tzinfo=UTC)


def test_a_bad_layout_is_a_config_error():
    from ddb_lake.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown BigQuery layout"):
        BigQueryDestination("p", "d", "t", "weekly")


def test_failed_jobs_are_sorted_by_reason():
    from google.api_core.exceptions import BadRequest, InternalServerError

    from ddb_lake.core.errors import TerminalServiceError, TransientServiceError
    from ddb_lake.destinations.bigquery.load_hook import job_error

    invalid = job_error("j1", BadRequest("bad file", errors=[{"reason": "invalid", "message": "bad file"}]))
    assert type(invalid) is TerminalServiceError and str(invalid).startswith("BigQuery job j1 failed: 400 bad file")
    assert invalid.reason == "invalid" and "Fix: the request is invalid" in str(invalid)
    backend = job_error("j2", InternalServerError("oops", errors=[{"reason": "backendError"}]))
    assert type(backend) is TransientServiceError and backend.status == 500


def test_storage_transfer_api_errors_are_sorted_by_status():
    import json

    from googleapiclient.errors import HttpError
    from httplib2 import Response

    from ddb_lake.core.errors import TerminalServiceError, TransientServiceError
    from ddb_lake.destinations.bigquery.storage_transfer_hook import api_error

    def http_error(status: int, name: str) -> HttpError:
        body = {"error": {"code": status, "message": "m", "status": name}}
        return HttpError(Response({"status": status}), json.dumps(body).encode())

    denied = api_error(http_error(403, "PERMISSION_DENIED"))
    assert type(denied) is TerminalServiceError and denied.reason == "PERMISSION_DENIED" and denied.status == 403
    assert type(api_error(http_error(503, "UNAVAILABLE"))) is TransientServiceError
    assert type(api_error(http_error(429, "RESOURCE_EXHAUSTED"))) is TransientServiceError


def test_bigquery_report_lines_price_the_staging_copy_and_the_load():
    from ddb_lake.core.validation.run_report import GB, RunVolumes, estimate_cost_usd, render_report
    from ddb_lake.destinations.bigquery.destination import volume_lines

    lines = volume_lines([{"destination": "bigquery"}], [{"bytes_copied": GB, "bytes_total": 3 * GB}])
    # The job does not say what it read: the staged files' total is the bytes loaded.
    assert [(line.key, line.bytes, line.cost) for line in lines] == [
        ("transfer_bytes", GB, "s3_to_gcs_transfer"),
        ("bigquery_bytes_loaded", 3 * GB, "bigquery_load"),
    ]
    assert volume_lines([], [{"bytes_copied": GB, "bytes_total": GB}])[1].bytes == 0  # staged but not loaded
    volumes = RunVolumes(destination_lines=tuple(lines))
    assert estimate_cost_usd(volumes)["s3_to_gcs_transfer"] == 0.09
    assert "  bigquery bytes loaded   3.00 GiB" in render_report("orders", "S", volumes).splitlines()
