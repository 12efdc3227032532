"""End to end on the local stack: three intervals give three snapshots, partitions and BigQuery tables; rerunning
the same three intervals starts no new export, rewrites and deletes no file, and readers see the same snapshots
(each rerun converts into an attempt folder of its own, to which the partitions and the current table move).

Each interval runs with ``airflow dags test`` (deferred tasks' triggers run inline), as a backfill would run it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from airflow_runs import airflow_env, dags_test, run_states, table_file

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DATES = ["2026-11-19", "2026-11-20", "2026-11-21"]
DAG_ID = "ddb_lake__bf_orders"


@pytest.fixture(scope="module")
def backfill_env(local_stack_state, tmp_path_factory):
    """An Airflow home whose DAGs folder builds one table's DAG, the table seeded on the stack."""
    root = tmp_path_factory.mktemp("backfill")
    config = load_table_config(table_file(root / "tables", "bf_orders"))
    env = airflow_env(root, root / "tables")
    seed_demo.seed_aws(config, 400)
    seed_demo.seed_google(config)
    return {"env": env, "config": config, "root": root}


def run_interval(backfill_env: dict, date: str) -> str:
    return dags_test(backfill_env["env"], DAG_ID, date, backfill_env["root"] / f"dags-test-{date}.log")


def states_by_date(backfill_env: dict) -> dict[str, str]:
    return {logical[:10]: state for logical, state in run_states(backfill_env["env"], DAG_ID)}


def lake_state(config) -> dict:
    """Everything a rerun must leave alone: exports, S3 objects with ETags, Glue partitions, BigQuery row counts."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

    def client(kind: str):
        return AwsBaseHook(aws_conn_id="aws_default", client_type=kind, region_name="us-east-1").conn

    dynamodb, s3, glue = client("dynamodb"), client("s3"), client("glue")
    table_arn = dynamodb.describe_table(TableName=config.dynamodb.table_name)["Table"]["TableArn"]
    exports = sorted(e["ExportArn"] for e in dynamodb.list_exports(TableArn=table_arn)["ExportSummaries"])
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=config.lake.bucket, Prefix="lake/snapshots/"):
        objects.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    found = glue.get_partitions(DatabaseName=config.glue.database, TableName="bf_orders_snapshots")["Partitions"]
    partitions = sorted(tuple(p["Values"]) for p in found)
    bq = BigQueryHook(gcp_conn_id="google_cloud_default").get_client(project_id=config.bigquery.project)
    counts = {}
    dataset = f"{config.bigquery.project}.{config.bigquery.dataset}"
    for table in bq.list_tables(dataset):  # the partitioned table (staging tables are dropped at publish)
        rows = bq.query(
            f"SELECT FORMAT_DATE('%Y%m%d', _PARTITIONDATE) AS day, COUNT(*) AS n FROM `{dataset}.{table.table_id}` "
            "GROUP BY day"
        ).result()
        counts.update({f"{table.table_id}${row['day']}": row["n"] for row in rows})
    current_table = glue.get_table(DatabaseName=config.glue.database, Name="bf_orders")["Table"]
    current = current_table["StorageDescriptor"]["Location"]
    return {"exports": exports, "objects": objects, "partitions": partitions, "bigquery": counts, "current": current}


def test_three_intervals_then_the_same_three_again(backfill_env):
    for date in DATES:
        log = run_interval(backfill_env, date)
        assert states_by_date(backfill_env)[date] == "success", log[-4000:]
    first = lake_state(backfill_env["config"])
    stamps = [d.replace("-", "") for d in ("2026-11-19", "2026-11-20", "2026-11-21")]
    assert first["partitions"] == [(f"{s}T000000Z",) for s in stamps]
    assert len(first["exports"]) == 3
    # lake/snapshots/bf_orders/_attempts/snapshot=<stamp>/attempt=<id>/<file> (paths updated for attempt folders)
    snapshot_folders = {tuple(key.split("/")[3:5]) for key in first["objects"]}
    assert snapshot_folders == {("_attempts", f"snapshot={s}T000000Z") for s in stamps}
    assert first["bigquery"] == {f"bf_orders${s}": 400 for s in stamps}, first["bigquery"]
    assert f"/_attempts/snapshot={stamps[-1]}T000000Z/attempt=" in first["current"]

    for date in DATES:  # `dags test` of a logical date replaces that date's run: still one run per interval
        log = run_interval(backfill_env, date)
        assert states_by_date(backfill_env)[date] == "success", log[-4000:]
    assert states_by_date(backfill_env) == dict.fromkeys(DATES, "success")
    again = lake_state(backfill_env["config"])
    # nothing the first runs wrote is rewritten or deleted (only the markers publish and the catalog keep beside the
    # data, _superseded.json, are written again when a pointer leaves a folder)
    changed = {key for key, etag in first["objects"].items()
               if again["objects"].get(key) != etag and not key.endswith("/_superseded.json")}
    assert changed == set(), changed
    # the reruns converted into new attempt folders of the same three snapshots; readers now read those
    assert {tuple(key.split("/")[3:5]) for key in again["objects"]} == snapshot_folders
    assert f"/_attempts/snapshot={stamps[-1]}T000000Z/attempt=" in again["current"]
    assert again["current"] != first["current"]
    assert {**again, "objects": None, "current": None} == {**first, "objects": None, "current": None}
