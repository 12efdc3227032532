"""Catalog rules, exact values: Glue table names and inputs, the crawler request, Athena outcomes, SQL templates."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from ddb_lake.core.errors import (
    ConfigError,
    SchemaError,
    TerminalError,
    TerminalServiceError,
    TransientServiceError,
)
from ddb_lake.core.lake import athena_sql
from ddb_lake.core.lake.athena_query import query_failure
from ddb_lake.core.lake.catalog_tables import (
    LAKE_DATABASE_DESCRIPTION,
    catalog_holds,
    current_table_input,
    current_table_name,
    evolved_table_input,
    partition_action,
    snapshots_table_input,
    snapshots_table_name,
)
from ddb_lake.core.lake.crawler import GlueCrawlFailed, check_crawl, crawler_request, last_crawl_report
from ddb_lake.core.lake.glue_table import PARQUET_SERDE, parent_location, snapshot_location
from ddb_lake.core.lake.sql_templates import (
    COUNT_TEMPLATE,
    MODE_TEMPLATES,
    render_sql_template,
    sql_template_dirs,
    with_sql_templates,
)
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

SCHEMA = LakeSchema((LakeField("pk", "PK", LakeType("string")), LakeField("qty", "qty", LakeType("int64"))))
COLUMNS = [{"Name": "pk", "Type": "string", "Comment": "DynamoDB attribute 'PK'"},
           {"Name": "qty", "Type": "bigint", "Comment": "DynamoDB attribute 'qty'"}]
ROOT = "s3://lake/p/snapshots/orders/"
STAMP = "20261122T000000Z"
SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"


def test_table_names():
    assert LAKE_DATABASE_DESCRIPTION == "ddb-lake: DynamoDB tables mirrored as Parquet"
    assert snapshots_table_name("Orders") == "orders_snapshots"
    assert snapshots_table_name("orders", "Orders_Changes") == "orders_changes"
    assert current_table_name("Orders") == "orders"
    assert current_table_name("orders", "Orders_Now") == "orders_now"


def test_snapshots_table_input():
    wanted = snapshots_table_input("orders_snapshots", "orders", SCHEMA, ROOT)
    assert wanted["Description"] == "Every published snapshot of DynamoDB table orders, one partition per snapshot"
    assert wanted["Parameters"] == {"classification": "parquet", "EXTERNAL": "TRUE"}
    assert wanted["PartitionKeys"] == [{"Name": "snapshot", "Type": "string"}]
    assert (wanted["StorageDescriptor"]["Location"], wanted["StorageDescriptor"]["Columns"]) == (ROOT, COLUMNS)
    projected = snapshots_table_input("orders_snapshots", "orders", SCHEMA, ROOT, projection=True)
    assert projected["Parameters"] == {
        "classification": "parquet", "EXTERNAL": "TRUE", "projection.enabled": "true",
        "projection.snapshot.type": "injected", "storage.location.template": f"{ROOT}snapshot=${{snapshot}}/",
    }


def test_current_table_input():
    location = f"{ROOT}snapshot={STAMP}/"
    wanted = current_table_input("orders", "orders", SCHEMA, location, snapshot=STAMP,
                                 published_at="2026-11-22T01:00:00+00:00")
    assert wanted == {
        "Name": "orders",
        "Description": "Current snapshot of DynamoDB table orders (switched by ddb-lake on publish)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "ddb_lake.snapshot": STAMP,
                       "ddb_lake.published_at": "2026-11-22T01:00:00+00:00"},
        "StorageDescriptor": {
            "Columns": COLUMNS, "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "Compressed": False,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        },
        "PartitionKeys": [],
    }


def test_partition_action():
    assert partition_action({"created": [[STAMP]], "existing": [], "moved": []}) == "created"
    assert partition_action({"created": [], "existing": [[STAMP]], "moved": []}) == "existing"
    assert partition_action({"created": [], "existing": [], "moved": [[STAMP]]}) == "moved"
    assert partition_action({}) == "projected"


def test_evolved_table_input_keeps_parameters_and_appends_columns():
    existing = {"Name": "orders_snapshots", "PartitionKeys": [{"Name": "snapshot", "Type": "string"}],
                "Parameters": {"owner_note": "kept", "classification": "parquet"},
                "StorageDescriptor": {"Columns": COLUMNS[:1]}}
    wanted = snapshots_table_input("orders_snapshots", "orders", SCHEMA, ROOT)
    evolved = evolved_table_input("db", existing, wanted)
    assert evolved["Parameters"] == {"owner_note": "kept", "classification": "parquet", "EXTERNAL": "TRUE"}
    assert evolved["StorageDescriptor"]["Columns"] == COLUMNS
    assert evolved["StorageDescriptor"]["Location"] == ROOT


def test_evolved_table_input_refuses_other_partition_keys():
    existing = {"PartitionKeys": [{"Name": "dt", "Type": "string"}], "StorageDescriptor": {"Columns": []}}
    with pytest.raises(SchemaError) as refused:
        evolved_table_input("db", existing, snapshots_table_input("orders_snapshots", "orders", SCHEMA, ROOT))
    assert str(refused.value) == (
        "Glue table db.orders_snapshots has partition keys [{'Name': 'dt', 'Type': 'string'}] but ddb-lake needs "
        "[{'Name': 'snapshot', 'Type': 'string'}]; drop the table (its data stays in S3) and rerun to recreate it."
    )


def test_catalog_holds_ignores_keys_glue_adds_and_defaults_it_omits():
    wanted = {"Description": "", "StorageDescriptor": {"Columns": [{"Name": "a", "Comment": ""}], "Compressed": False}}
    answer = {"VersionId": "3", "StorageDescriptor": {"Columns": [{"Name": "a"}]}}
    assert catalog_holds(answer, wanted) is True
    assert catalog_holds({"StorageDescriptor": {"Columns": [{"Name": "b"}]}}, wanted) is False
    assert catalog_holds({"StorageDescriptor": {"Columns": []}}, wanted) is False
    assert catalog_holds({"StorageDescriptor": "x"}, wanted) is False


def test_snapshot_location_takes_stamp_and_folder_from_the_summary():
    summary = {"snapshot": STAMP, "snapshot_prefix": f"{ROOT}snapshot={STAMP}"}
    assert snapshot_location(summary) == (STAMP, f"{ROOT}snapshot={STAMP}/")
    with pytest.raises(ConfigError) as other:
        snapshot_location({**summary, "snapshot_prefix": f"{ROOT}snapshot={STAMP}x/"})
    assert str(other.value) == f"snapshot_prefix {ROOT}snapshot={STAMP}x/ does not end in snapshot={STAMP}/"


def test_parent_location_strips_the_snapshot_folder_only():
    assert parent_location(f"{ROOT}snapshot={STAMP}") == ROOT
    assert parent_location(f"s3://b/snapshot=a/x/snapshot={STAMP}/") == "s3://b/snapshot=a/x/"
    with pytest.raises(ConfigError, match=r"s3://b/p/other/ is not a snapshot=<stamp>/ folder"):
        parent_location("s3://b/p/other/")


def test_crawler_request():
    assert crawler_request("c", "arn:role", "db", ["s3://a/", "s3://b/"]) == {
        "Name": "c", "Role": "arn:role", "DatabaseName": "db",
        "Targets": {"S3Targets": [{"Path": "s3://a/"}, {"Path": "s3://b/"}]},
    }
    policy = {"SchemaChangePolicy": {"DeleteBehavior": "LOG"}}
    assert crawler_request("c", "arn:role", "db", ["s3://a/"], "raw_", policy) == {
        "Name": "c", "Role": "arn:role", "DatabaseName": "db", "Targets": {"S3Targets": [{"Path": "s3://a/"}]},
        "SchemaChangePolicy": {"DeleteBehavior": "LOG"}, "TablePrefix": "raw_",
    }


def test_last_crawl_report_and_check():
    from datetime import datetime

    crawler = {"Name": "c", "State": "READY", "LastCrawl": {
        "Status": "SUCCEEDED", "LogGroup": "/aws-glue/crawlers", "LogStream": "c", "MessagePrefix": "m-1",
        "StartTime": datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)}}
    report = last_crawl_report(crawler)
    assert report == {"crawler_name": "c", "state": "READY", "status": "SUCCEEDED", "error_message": None,
                      "log_group": "/aws-glue/crawlers", "log_stream": "c", "message_prefix": "m-1",
                      "start_time": "2026-11-22T01:02:03+00:00"}
    assert check_crawl(report) is report
    assert last_crawl_report({"Name": "new"})["status"] is None
    cancelled = {**report, "status": "CANCELLED", "error_message": "stopped"}
    with pytest.raises(GlueCrawlFailed) as failed:
        check_crawl(cancelled)
    assert isinstance(failed.value, TerminalError)
    assert str(failed.value) == (
        "Glue crawler c ended CANCELLED: stopped; logs in CloudWatch group /aws-glue/crawlers, stream c"
    )


@pytest.mark.parametrize(
    ("state", "status", "expected", "reason"),
    [
        ("FAILED", {"StateChangeReason": "TABLE_NOT_FOUND: t", "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006,
                                                                               "Retryable": False}},
         TerminalServiceError, "1006"),
        ("FAILED", {"StateChangeReason": "busy", "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006,
                                                                 "Retryable": True}},
         TransientServiceError, "1006"),
        ("FAILED", {"StateChangeReason": "fault", "AthenaError": {"ErrorCategory": 1, "ErrorType": 401}},
         TransientServiceError, "401"),
        ("CANCELLED", {"StateChangeReason": "stopped"}, TransientServiceError, "CANCELLED"),
        ("FAILED", {}, TransientServiceError, "FAILED"),
    ],
)
def test_query_failure_is_terminal_only_for_a_user_error_athena_will_not_retry(state, status, expected, reason):
    error = query_failure("q-1", "db.t", state, status, "MSCK REPAIR TABLE `db`.`t`")
    assert type(error) is expected
    assert (error.service, error.reason) == ("Athena", reason)
    assert str(error) == f"Athena query q-1 on db.t ended {state}: {status.get('StateChangeReason')}\n" \
                         "SQL: MSCK REPAIR TABLE `db`.`t`"


def test_sql_template_dirs():
    assert sql_template_dirs("/opt/airflow/dags") == ["/opt/airflow/include/sql", "/opt/airflow/dags/sql"]
    assert sql_template_dirs("/opt/airflow/dags", "/etc/sql") == [
        "/etc/sql", "/opt/airflow/include/sql", "/opt/airflow/dags/sql"]
    assert sql_template_dirs(None, "/etc/sql") == ["/etc/sql"]
    assert sql_template_dirs(None) == []


class Task:
    database, table, snapshot = "ddb_lake", "orders_snapshots", STAMP
    location = f"{ROOT}snapshot={STAMP}"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (MODE_TEMPLATES["add_partition"],
         athena_sql.add_partition("ddb_lake", "orders_snapshots", {"snapshot": STAMP}, Task.location)),
        (MODE_TEMPLATES["msck_repair"], athena_sql.msck_repair("ddb_lake", "orders_snapshots")),
        (COUNT_TEMPLATE, athena_sql.count_rows("ddb_lake", "orders_snapshots", STAMP)),
    ],
)
def test_templates_render_to_the_builders_sql_without_airflow(template, expected):
    env = with_sql_templates(SandboxedEnvironment(), [str(SQL_DIR)])
    assert render_sql_template(env, template, [str(SQL_DIR)], task=Task) == expected


def test_the_dags_own_search_path_comes_first(tmp_path):
    (tmp_path / "msck_repair_table.sql").write_text("MSCK REPAIR TABLE {{ task.table | athena_ddl_identifier }}\n")
    env = with_sql_templates(jinja2.Environment(loader=jinja2.FileSystemLoader([str(tmp_path)])), [str(SQL_DIR)])
    assert render_sql_template(env, "msck_repair_table.sql", [str(SQL_DIR)], task=Task) == (
        "MSCK REPAIR TABLE `orders_snapshots`"
    )


def test_a_missing_template_names_the_folders_searched(tmp_path):
    env = with_sql_templates(jinja2.Environment(), [str(tmp_path)])
    with pytest.raises(ConfigError) as missing:
        render_sql_template(env, "msck_repair_table.sql", [str(tmp_path)], task=Task)
    assert str(missing.value) == (
        f"SQL template msck_repair_table.sql not found in the DAG's template_searchpath nor in ['{tmp_path}']: "
        "ship include/sql/ beside the DAGs folder (<dags>/../include/sql or <dags>/sql) or set $DDB_LAKE_SQL_DIR "
        "to it"
    )


def test_current_table_takes_its_snapshot_types_exactly():
    """Unpartitioned: Athena reads its files with its columns' types, so a narrower or other type replaces the old."""
    existing = {"PartitionKeys": [], "Parameters": {}, "StorageDescriptor": {"Columns": [
        {"Name": "pk", "Type": "string"}, {"Name": "qty", "Type": "decimal(21,2)"}, {"Name": "old", "Type": "int"}]}}
    wanted = current_table_input("orders", "orders", SCHEMA, f"{ROOT}snapshot={STAMP}/", snapshot=STAMP,
                                 published_at="t")
    columns = evolved_table_input("db", existing, wanted)["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [("pk", "string"), ("qty", "bigint"), ("old", "int")]


def test_history_table_keeps_the_widest_type():
    existing = {"PartitionKeys": [{"Name": "snapshot", "Type": "string"}], "Parameters": {},
                "StorageDescriptor": {"Columns": [{"Name": "pk", "Type": "string"},
                                                  {"Name": "qty", "Type": "decimal(21,2)"}]}}
    wanted = snapshots_table_input("orders_snapshots", "orders", SCHEMA, ROOT)
    columns = evolved_table_input("db", existing, wanted, SCHEMA)["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [("pk", "string"), ("qty", "decimal(21,2)")]
