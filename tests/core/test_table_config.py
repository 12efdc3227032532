"""Table YAML validation: every error names the file and the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ddb_lake.core.config.table_config import (
    TableConfigError,
    TableFolderError,
    load_table_config,
    load_table_configs,
    read_table_folder,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MINIMAL = {
    "dynamodb": {"table_name": "Orders"},
    "lake": {"bucket": "lake-bucket"},
    "glue": {"database": "lake_db"},
    "athena": {"output_location": "s3://lake-bucket/athena/"},
}


def write(tmp_path: Path, data: dict, name: str = "orders.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_minimal_file_gets_defaults(tmp_path):
    config = load_table_config(write(tmp_path, MINIMAL))
    assert config.name == "orders"
    assert config.glue_table == "orders"
    assert config.export.mode == "full"
    assert config.numbers == "exact"
    assert config.bigquery is None
    assert config.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert config.retries == 3


def test_shipped_table_files_are_valid():
    configs = load_table_configs(REPO_ROOT / "include" / "tables")
    assert [c.name for c in configs] == sorted(c.name for c in configs)
    assert "orders" in [c.name for c in configs]
    orders = next(c for c in configs if c.name == "orders")
    assert orders.bigquery is not None and orders.bigquery_table == "orders"


@pytest.mark.parametrize(
    ("patch", "field_name", "words"),
    [
        ({"schedul": "@daily"}, "schedul", "unknown setting"),
        ({"lake": {"bucket": "b", "prefx": "x"}}, "lake.prefx", "unknown setting"),
        ({"export": {"mode": "weekly"}}, "export.mode", "'weekly' is not one of full, incremental, both"),
        ({"numbers": "fast"}, "numbers", "is not one of exact, float"),
        ({"catchup": "yes"}, "catchup", "expected true or false"),
        ({"retries": "three"}, "retries", "expected a number"),
        ({"retention": {"raw_export_days": "week"}}, "retention.raw_export_days", "expected a number"),
        ({"athena": {"output_location": "/tmp/x"}}, "athena.output_location", "must be an s3:// URL"),
        ({"glue": {"database": "d", "catalog_mode": "crawler"}}, "glue.crawler_role", "needs an IAM role"),
        ({"glue": {"database": "d", "catalog_mode": "crawler", "crawler_role": "r"}}, "glue.catalog_mode",
         "crawler is refused: a crawler infers partitions from the folders it finds and cannot tell which attempt "
         "folder of a snapshot is the complete one to read. Fix: catalog_mode: api"),
        ({"glue": {"database": "d", "partition_projection": True}}, "glue.partition_projection",
         "true is refused: projection reads the fixed folder snapshot=<stamp>/, but each convert try writes its own "
         "folder .../_attempts/snapshot=<stamp>/attempt=<id>/"),
        ({"retention": {"keep_last": 0}}, "retention.keep_last", "at least the current snapshot"),
        ({"name": "Orders-Table"}, "name", "must match"),
        ({"start_date": "soon"}, "start_date", "expected a date"),
    ],
)
def test_bad_settings_name_file_and_field(tmp_path, patch, field_name, words):
    path = write(tmp_path, {**MINIMAL, **patch})
    with pytest.raises(TableConfigError) as caught:
        load_table_config(path)
    assert caught.value.field_name == field_name
    assert str(path) in str(caught.value)
    assert words in str(caught.value)


def test_missing_required_section(tmp_path):
    data = {k: v for k, v in MINIMAL.items() if k != "glue"}
    with pytest.raises(TableConfigError, match=r"glue: required setting is missing"):
        load_table_config(write(tmp_path, data))


def test_duplicate_names_across_files(tmp_path):
    write(tmp_path, {**MINIMAL, "name": "orders"}, "a.yaml")
    write(tmp_path, {**MINIMAL, "name": "orders"}, "b.yaml")
    with pytest.raises(TableConfigError, match=r"b.yaml: name: 'orders' is also used by .*a.yaml"):
        load_table_configs(tmp_path)


def test_broken_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("lake: [unclosed\n")
    with pytest.raises(TableConfigError, match="not valid YAML"):
        load_table_config(path)


def test_conversion_publish_and_catalog_knobs_reach_their_settings(tmp_path):
    data = {
        **MINIMAL,
        "lake": {"bucket": "lake-bucket", "allow_rollback": True},
        "glue": {"database": "lake_db", "partition_projection": False},
        "convert": {"workers": 2, "target_file_mb": 64, "row_group_rows": 1000, "compression": "snappy"},
    }
    config = load_table_config(write(tmp_path, data))
    assert config.lake.allow_rollback is True
    assert config.glue.partition_projection is False  # true is refused (attempt folders): test above
    assert config.convert.converter_options() == {
        "target_file_bytes": 64 << 20, "row_group_rows": 1000, "compression": "snappy", "workers": 2,
    }
    defaults = load_table_config(write(tmp_path, MINIMAL, "plain.yaml"))
    assert defaults.convert.converter_options() == {
        "target_file_bytes": 256 << 20, "row_group_rows": 256 * 1024, "compression": "zstd",
    }
    assert defaults.lake.allow_rollback is False and defaults.glue.partition_projection is False


@pytest.mark.parametrize(
    ("convert", "field_name"),
    [({"compression": "lz4"}, "convert.compression"), ({"target_file_mb": 0}, "convert"), ({"workers": -1}, "convert")],
)
def test_bad_conversion_knobs_name_the_field(tmp_path, convert, field_name):
    with pytest.raises(TableConfigError) as raised:
        load_table_config(write(tmp_path, {**MINIMAL, "convert": convert}))
    assert raised.value.field_name == field_name


def test_bigquery_knobs_are_checked(tmp_path):
    bigquery = {"project": "p", "dataset": "d", "gcs_bucket": "staging-bucket"}
    config = load_table_config(write(tmp_path, {**MINIMAL, "bigquery": bigquery}))
    assert (config.bigquery.transfer_method, config.bigquery.partition_expiration_days) == ("stream", 0)
    assert config.bigquery.force_rerun is False
    assert config.bigquery.staging_days == 7
    kept = load_table_config(write(tmp_path, {**MINIMAL, "bigquery": {**bigquery, "staging_days": None}}))
    assert kept.bigquery.staging_days is None
    for bad, field_name in [({"transfer_method": "rsync"}, "bigquery.transfer_method"),
                            ({"partition_expiration_days": -1}, "bigquery.partition_expiration_days"),
                            ({"staging_days": 0}, "bigquery.staging_days")]:
        with pytest.raises(TableConfigError) as raised:
            load_table_config(write(tmp_path, {**MINIMAL, "bigquery": {**bigquery, **bad}}))
        assert raised.value.field_name == field_name


@pytest.mark.parametrize(
    ("patch", "field_name", "words"),
    [
        ({"schedule": "@dayly"}, "schedule", "'@dayly' is not a cron expression or one of @hourly"),
        ({"schedule": "61 * * * *"}, "schedule", "'61 * * * *' is not a valid cron expression"),
        ({"schedule": "0 0 * * * *"}, "schedule", "must have five fields"),
        ({"export": {"incremental_schedule": "@dayly"}}, "export.incremental_schedule", "is not a cron expression"),
        ({"export": {"incremental_schedule": "*/5 * * * *"}}, "export.incremental_schedule",
         "runs 5 minutes apart; an incremental export covers at least 15 minutes"),
        ({"export": {"incremental_schedule": "@weekly"}}, "export.incremental_schedule",
         "leaves 168 hours between runs; an incremental export covers at most 24 hours"),
        ({"export": {"incremental_schedule": "0 * * * 1-5"}}, "export.incremental_schedule",
         "leaves 49 hours between runs"),
        ({"lake": {"bucket": "Lake_Bucket"}}, "lake.bucket", "only lowercase letters, digits, dots and hyphens"),
        ({"lake": {"bucket": "ab"}}, "lake.bucket", "3 to 63 characters"),
        ({"lake": {"bucket": "lake..bucket"}}, "lake.bucket", "two adjacent dots"),
        ({"lake": {"bucket": "192.168.0.1"}}, "lake.bucket", "IP address"),
        ({"lake": {"bucket": "xn--lake"}}, "lake.bucket", "S3 reserves"),
        ({"athena": {"output_location": "s3://Results/x/"}}, "athena.output_location", "only lowercase"),
        ({"retention": {"grace_hours": 0}}, "retention.grace_hours", "0 must be > 0 and at least the longest query"),
        ({"retention": {"grace_hours": -3}}, "retention.grace_hours", "-3 must be > 0"),
        ({"retention": {"keep_last": -1}}, "retention.keep_last", "at least the current snapshot"),
        ({"retention": {"raw_export_days": 0}}, "retention.raw_export_days", "0 must be >= 1 (or null to keep them)"),
        ({"retention": {"changes_days": -2}}, "retention.changes_days", "-2 must be >= 1"),
        ({"validation": {"tolerance": -1}}, "validation.tolerance", "must be >= 0"),
        ({"validation": {"key_columns": ["pk", ""]}}, "validation.key_columns", "must be non-empty"),
        ({"validation": {"key_columns": ["pk", "sk", "pk"]}}, "validation.key_columns", "pk listed more than once"),
        ({"retries": -1}, "retries", "-1 must be >= 0"),
        ({"retry_delay_minutes": 0}, "retry_delay_minutes", "0 must be > 0"),
        ({"task_timeout_minutes": -5}, "task_timeout_minutes", "-5 must be > 0"),
        ({"bigquery": {"project": "p", "dataset": "d", "gcs_bucket": "my_google_bucket"}}, "bigquery.gcs_bucket",
         "must not start with 'goog' or contain 'google'"),
        ({"bigquery": {"project": "p", "dataset": "d", "gcs_bucket": "-stage"}}, "bigquery.gcs_bucket",
         "start and end with a letter or digit"),
        ({"bigquery": {"project": "p", "dataset": "my-dataset", "gcs_bucket": "stage"}}, "bigquery.dataset",
         "only letters, digits and underscores"),
    ],
)
def test_schedules_buckets_and_bounds_name_file_and_field(tmp_path, patch, field_name, words):
    data = {**MINIMAL, **patch}
    if "export" in patch:
        data["export"] = {"mode": "incremental", **patch["export"]}
    path = write(tmp_path, data)
    with pytest.raises(TableConfigError) as caught:
        load_table_config(path)
    assert caught.value.field_name == field_name
    assert str(caught.value).startswith(f"{path}: {field_name}: ")
    assert words in str(caught.value)


@pytest.mark.parametrize(
    "patch",
    [
        {"schedule": "0 2 * * *"}, {"schedule": "@monthly"}, {"schedule": "@quarterly"},
        {"export": {"incremental_schedule": "*/15 * * * *"}}, {"export": {"incremental_schedule": "@daily"}},
        {"export": {"incremental_schedule": "0 */6 * * *"}},
        {"lake": {"bucket": "my.lake-bucket.2026"}}, {"retries": 0}, {"retention": {"grace_hours": 0.5}},
        {"bigquery": {"project": "p", "dataset": "Lake_1", "gcs_bucket": "stage_bucket.example.com"}},
    ],
)
def test_valid_edges_are_accepted(tmp_path, patch):
    load_table_config(write(tmp_path, {**MINIMAL, **patch}))


def test_incremental_schedule_gaps_are_judged_over_a_week():
    from ddb_lake.core.config.cron_schedule import tick_gaps

    assert tick_gaps("@hourly") == (timedelta(hours=1), timedelta(hours=1))
    assert tick_gaps("0 6,18 * * *") == (timedelta(hours=12), timedelta(hours=12))
    assert tick_gaps("0 0 1 * *")[1] == timedelta(days=31)


def clash_files(tmp_path: Path, first: dict, second: dict) -> tuple[Path, Path]:
    a = write(tmp_path, {**MINIMAL, "name": "orders", **first}, "a.yaml")
    b = write(tmp_path, {**MINIMAL, "name": "payments", **second}, "b.yaml")
    return a, b


@pytest.mark.parametrize(
    ("first", "second", "field_a", "field_b", "words"),
    [
        ({}, {}, "dynamodb.table_name", "dynamodb.table_name", "'Orders (us-east-1)' is also used by"),
        ({"dynamodb": {"table_name": "A"}, "glue": {"database": "db_a", "table": "shared"}},
         {"dynamodb": {"table_name": "B"}, "glue": {"database": "db_b", "table": "shared"}},
         "lake.prefix", "lake.prefix", "share a lake location"),
        ({"dynamodb": {"table_name": "A"}, "glue": {"database": "db", "table": "orders"}},
         {"dynamodb": {"table_name": "B"}, "glue": {"database": "db", "table": "orders_snapshots"},
          "lake": {"bucket": "lake-bucket", "prefix": "other"}},
         "glue.table", "glue.table", "'db.orders_snapshots' is also used by"),
        ({"dynamodb": {"table_name": "A"}},
         {"dynamodb": {"table_name": "B"}, "lake": {"bucket": "lake-bucket", "prefix": "ddb-lake/snapshots/orders"}},
         "lake.prefix", "lake.prefix", "share a lake location"),
        ({"dynamodb": {"table_name": "A"}, "bigquery": {"project": "p", "dataset": "d", "gcs_bucket": "stage",
                                                       "table": "t"}},
         {"dynamodb": {"table_name": "B"}, "bigquery": {"project": "p", "dataset": "d", "gcs_bucket": "stage",
                                                       "table": "t"}},
         "bigquery.table", "bigquery.table", "'p.d.t' is also used by"),
    ],
    ids=["dynamodb", "lake-prefix", "derived-glue-table", "nested-lake-prefix", "bigquery"],
)
def test_files_that_share_a_target_are_both_set_aside(tmp_path, first, second, field_a, field_b, words):
    a, b = clash_files(tmp_path, first, second)
    write(tmp_path, {**MINIMAL, "name": "customers", "dynamodb": {"table_name": "Customers"}}, "c.yaml")
    folder = read_table_folder(tmp_path)
    assert [c.name for c in folder.configs] == ["customers"]
    by_file = {(e.path, e.field_name): str(e) for e in folder.errors}
    assert (str(a), field_a) in by_file and (str(b), field_b) in by_file
    assert words in by_file[(str(b), field_b)] and str(a) in by_file[(str(b), field_b)]
    assert str(b) in by_file[(str(a), field_a)]
    with pytest.raises(TableFolderError) as raised:
        load_table_configs(tmp_path)
    assert len(raised.value.errors) == len(folder.errors)


def test_same_lake_prefix_in_other_bucket_or_region_is_no_clash(tmp_path):
    clash_files(tmp_path, {"dynamodb": {"table_name": "Orders", "region": "eu-west-1"}},
                {"dynamodb": {"table_name": "Orders"}, "glue": {"database": "lake_db", "table": "orders_v2"}})
    assert [c.name for c in load_table_configs(tmp_path)] == ["orders", "payments"]


def test_a_bad_file_does_not_hide_the_others(tmp_path):
    write(tmp_path, MINIMAL, "orders.yaml")
    bad = write(tmp_path, {**MINIMAL, "schedule": "@dayly", "dynamodb": {"table_name": "Other"}}, "payments.yaml")
    folder = read_table_folder(tmp_path)
    assert [c.name for c in folder.configs] == ["orders"]
    assert [str(e) for e in folder.errors] == [
        f"{bad}: schedule: '@dayly' is not a cron expression or one of @hourly, @daily, @weekly, @monthly, "
        "@quarterly, @yearly"
    ]


def test_storage_policy_defaults_and_null(tmp_path):
    from ddb_lake.core.config.table_config import load_table_config

    default = load_table_config(write(tmp_path, MINIMAL)).retention
    assert (default.raw_export_days, default.changes_days) == (7, None)
    kept = load_table_config(write(tmp_path, {**MINIMAL, "retention": {"raw_export_days": None, "changes_days": 30}}))
    assert (kept.retention.raw_export_days, kept.retention.changes_days) == (None, 30)


def test_pinned_columns_are_read_and_checked(tmp_path):
    config = load_table_config(write(tmp_path, {**MINIMAL, "columns": {"price": "decimal(18,4)", "note": "string"}}))
    assert config.columns == {"price": "decimal(18,4)", "note": "string"}
    assert load_table_config(write(tmp_path, MINIMAL)).columns == {}
    with pytest.raises(TableConfigError) as bad:
        load_table_config(write(tmp_path, {**MINIMAL, "columns": {"price": "money"}}))
    assert "columns.price" in str(bad.value)
    assert "'money' is not a column type; use one of string, bool, binary, int64, decimal(p,s)" in str(bad.value)
    with pytest.raises(TableConfigError, match=r"columns.*expected a mapping of attribute name to type"):
        load_table_config(write(tmp_path, {**MINIMAL, "columns": ["price"]}))


def test_memory_budget_and_work_dir_reach_the_converter(tmp_path):
    config = load_table_config(write(tmp_path, {**MINIMAL, "convert": {"memory_mb": 2048, "work_dir": "/mnt/big"}}))
    assert config.convert.converter_options() == {
        "target_file_bytes": 256 << 20, "row_group_rows": 256 * 1024, "compression": "zstd",
        "memory_budget_bytes": 2048 << 20, "work_dir": "/mnt/big",
    }
    with pytest.raises(TableConfigError, match=r"convert.memory_mb: 300 must be 0 .* or at least 512") as raised:
        load_table_config(write(tmp_path, {**MINIMAL, "convert": {"memory_mb": 300}}, "small.yaml"))
    assert raised.value.field_name == "convert.memory_mb"


def test_an_unset_convert_engine_is_auto_for_parquet_and_worker_for_iceberg(tmp_path):
    assert load_table_config(write(tmp_path, MINIMAL)).convert.engine == "auto"
    assert load_table_config(write(tmp_path, {**MINIMAL, "convert": {"workers": 2}})).convert.engine == "auto"
    explicit = load_table_config(write(tmp_path, {**MINIMAL, "convert": {"engine": "worker"}}))
    assert explicit.convert.engine == "worker"
    iceberg = {**MINIMAL, "lake": {"bucket": "lake-bucket", "format": "iceberg"}, "export": {"mode": "incremental"}}
    assert load_table_config(write(tmp_path, iceberg)).convert.engine == "worker"
    with pytest.raises(TableConfigError, match=r"convert.engine: auto converts Parquet snapshots") as raised:
        load_table_config(write(tmp_path, {**iceberg, "convert": {"engine": "auto"}}))
    assert raised.value.field_name == "convert.engine"
