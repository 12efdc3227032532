"""End to end on the local stack: the incremental DAG of a table exports one hour of changes, converts it under
``changes/<table>/_attempts/snapshot=<start>-<end>/attempt=<id>/``, registers it in ``<table>_changes`` and proves
the counts.

moto writes full ``{"Item": ...}`` lines for an incremental export request (it has no change log), so this run
proves the DAG's wiring, layout and catalog for the incremental path; the incremental line format itself
(Keys/NewImage/OldImage, INSERT/MODIFY/REMOVE) is proven by the converter's own tests.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from airflow_runs import airflow_env, dags_test, extra_link_urls, rendered_fields, run_states, table_file, xcom_value

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402

from ddb_lake.compat import AIRFLOW_V3  # noqa: E402
from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "ddb_lake__inc_orders__incremental"
HOUR_END = "2026-11-22T05:00:00+00:00"
WINDOW = "20261122T040000Z-20261122T050000Z"


def test_one_hour_of_changes_lands_in_the_changes_table(local_stack_state, tmp_path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    path = table_file(tmp_path / "tables", "inc_orders", export={"mode": "incremental"}, bigquery=None)
    config = load_table_config(path)
    env = airflow_env(tmp_path, tmp_path / "tables")
    seed_demo.seed_aws(config, 150)

    log = dags_test(env, DAG_ID, HOUR_END, tmp_path / "dags-test.log")
    states = run_states(env, DAG_ID)
    assert [(logical[:16], state) for logical, state in states] == [("2026-11-22T05:00", "success")], log[-4000:]

    glue = AwsBaseHook(aws_conn_id="aws_default", client_type="glue", region_name="us-east-1").conn
    partitions = glue.get_partitions(DatabaseName=config.glue.database, TableName="inc_orders_changes")["Partitions"]
    assert [p["Values"] for p in partitions] == [[WINDOW]]
    location = partitions[0]["StorageDescriptor"]["Location"]  # the attempt folder of the convert try (path updated)
    assert f"/lake/changes/inc_orders/_attempts/snapshot={WINDOW}/attempt=" in location and location.endswith("-try1/")
    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=config.lake.bucket, Prefix="lake/changes/")["Contents"]]
    assert location.removeprefix(f"s3://{config.lake.bucket}/") + "_manifest.json" in keys
    assert "lake/snapshots/" not in " ".join(keys)  # the incremental DAG never publishes a snapshot

    # The task page's buttons: each URL the worker stored for the run. Airflow 3 stores them as XComs when the task
    # ends; Airflow 2's webserver computes them when the page is shown (URL rules: tests/core/test_console_links.py).
    if AIRFLOW_V3:
        links = extra_link_urls(env, DAG_ID)
        s3_console = f"https://s3.console.aws.amazon.com/s3/buckets/{config.lake.bucket}?prefix="
        attempt = location.removeprefix(f"s3://{config.lake.bucket}/")
        assert links[("convert", "_link_S3SnapshotLink")] == (s3_console + quote(attempt, safe="")
                                                              + "&showversions=false")
        assert links[("export", "_link_S3ExportFolderLink")].startswith(
            s3_console + quote(f"lake/exports/inc_orders/incremental/{WINDOW}/AWSDynamoDB/", safe=""))
        assert links[("export", "_link_DynamoDBExportLink")].startswith(
            "https://console.aws.amazon.com/dynamodbv2/home?region=us-east-1#export-details?exportArn=arn%3Aaws%3Adynamodb")
        assert links[("lake.catalog", "_link_GlueTableLink")] == ("https://console.aws.amazon.com/glue/home?region=us-east-1"
                                                                 "#/v2/data-catalog/tables/view/inc_orders_changes"
                                                                 "?database=inc_orders_db")
        assert re.fullmatch(r"https://console\.aws\.amazon\.com/athena/home\?region=us-east-1#/query-editor/history/"
                            r"[0-9a-f-]{36}", links[("lake.athena_partitions", "_link_AthenaQueryLink")])
    # The validation result: the headline is the summary of validate's XCom, and on Airflow 3 the task page's
    # "Rendered Templates" hold it with the count table (the field is rewritten when the task ends).
    assert xcom_value(env, DAG_ID, "validate")["summary"] == "150 rows, 3 sources agree"
    if AIRFLOW_V3:
        report = rendered_fields(env, DAG_ID, "validate")["validation_report"]
        assert report.startswith("150 rows, 3 sources agree\n\nRow counts of inc-orders snapshot "), report
