"""Faults injected into whole table DAG runs (``airflow dags test``) through the fault proxy; readers' view after.

Each test gives its table its own DynamoDB table, bucket, Glue database and BigQuery dataset (tests/e2e's
``table_file``), so one Airflow home serves the module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import readers
from dag_runs import DagRunner
from fault_proxy import Rule

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.e2e]

DATE = "2026-11-21"
STAMP = "20261121T000000Z"
ITEMS = 120


@pytest.fixture(scope="module")
def runner(local_stack_state, tmp_path_factory) -> DagRunner:
    return DagRunner(tmp_path_factory.mktemp("fault-dags"))


def lake_view(config) -> dict:
    database, name = config.glue.database, config.glue_table
    return {
        "current": readers.current_snapshot(database, name),
        "history": readers.athena(f"SELECT snapshot, COUNT(*) FROM {name}_snapshots GROUP BY snapshot", database,
                                  config.athena.output_location)
        if readers.current_snapshot(database, f"{name}_snapshots") else [],
    }


def test_a_run_survives_throttling_resets_and_held_calls_on_every_aws_service(runner, proxy, injected):
    injected("S3 Parquet PUTs of convert answer 503 SlowDown (first 3)")
    injected("DynamoDB DescribeExport: the connection reset once")
    injected("Glue GetTable throttled twice, one BatchCreatePartition answering 500")
    injected("Athena GetQueryExecution held 3 s")
    config = runner.table("fault_green")
    seed_demo.seed_aws(config, ITEMS)
    seed_demo.seed_google(config)
    proxy.add(Rule(r"s3:PUT /fault-green/lake/snapshots/.*part-", "slowdown", times=3))
    proxy.add(Rule("dynamodb:DescribeExport", "reset", times=1))
    proxy.add(Rule("glue:GetTable", "throttle", times=2))
    proxy.add(Rule("glue:BatchCreatePartition", "fail", times=1))
    proxy.add(Rule("athena:GetQueryExecution", "hold", times=1, seconds=3))
    state, log = runner.run("ddb_lake__fault_green", DATE)
    assert state == "success", log[-5000:]
    injected_faults = {name.split(" ", 1)[0] for name in proxy.faults}
    assert {"slowdown", "throttle", "hold"} <= injected_faults, proxy.faults
    view = lake_view(config)
    assert view == {"current": f"snapshot={STAMP}", "history": [[STAMP, str(ITEMS)]]}
    assert readers.athena_count(config.glue.database, "fault_green", config.athena.output_location) == ITEMS
    assert readers.bigquery_counts(config.bigquery.project, config.bigquery.dataset) == {
        f"fault_green${STAMP[:8]}": ITEMS}


def test_a_missing_bigquery_dataset_fails_terminally_naming_it_and_publishes_nothing(runner, proxy, injected):
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    injected("the table's BigQuery dataset does not exist (a typo) (case 8)")
    config = runner.table("fault_nods")
    seed_demo.seed_aws(config, ITEMS)
    GCSHook(gcp_conn_id="google_cloud_default").create_bucket(bucket_name=config.bigquery.gcs_bucket,
                                                             project_id=config.bigquery.project)
    state, log = runner.run("ddb_lake__fault_nods", DATE)
    assert state == "failed"
    dataset = f"{config.bigquery.project}.{config.bigquery.dataset}"
    assert dataset in log and "bigquery.dataset" in log, log[-5000:]
    assert config.bigquery.dataset not in readers.bigquery_datasets(config.bigquery.project), "never created"
    assert readers.current_snapshot(config.glue.database, "fault_nods") is None  # nothing published
