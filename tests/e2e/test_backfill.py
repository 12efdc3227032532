"""End to end on the local stack: three intervals give three snapshots, partitions and BigQuery tables; rerunning
the same three intervals changes nothing and starts no new export.

Each interval runs with ``airflow dags test`` (deferred tasks' triggers run inline), as a backfill would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402

from ddb_lake.core.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DATES = ["2026-11-19", "2026-11-20", "2026-11-21"]
DAG_ID = "ddb_lake__bf_orders"


@pytest.fixture(scope="module")
def backfill_env(local_stack_state, tmp_path_factory):
    """An Airflow home and DAGs folder holding one table file, seeded on the stack; the env to run airflow with."""
    root = tmp_path_factory.mktemp("backfill")
    tables = root / "tables"
    tables.mkdir()
    settings = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    settings.update(name="bf_orders", tags=["backfill-test"])
    settings["dynamodb"]["table_name"] = "bf-orders"
    settings["lake"] = {"bucket": "bf-lake", "prefix": "lake"}
    settings["glue"]["database"] = "bf_lake"
    settings["athena"]["output_location"] = "s3://bf-lake/athena-results/"
    settings["bigquery"].update(dataset="bf_lake", gcs_bucket="bf-lake-staging")
    (tables / "bf_orders.yaml").write_text(yaml.safe_dump(settings))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "DDB_LAKE_TABLES_DIR": str(tables),
    }
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    config = load_table_config(tables / "bf_orders.yaml")
    seed_demo.seed_aws(config, 400)
    seed_demo.seed_google(config)
    return {"env": env, "config": config, "airflow": airflow, "root": root}


def run_interval(backfill_env: dict, date: str) -> str:
    log = backfill_env["root"] / f"dags-test-{date}.log"
    with log.open("a") as out:
        subprocess.run([backfill_env["airflow"], "dags", "test", DAG_ID, date], env=backfill_env["env"], stdout=out,
                       stderr=subprocess.STDOUT, timeout=600, check=False)
    return log.read_text()


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
    partitions = sorted(
        tuple(p["Values"]) for p in glue.get_partitions(DatabaseName="bf_lake", TableName="bf_orders_snapshots")[
            "Partitions"]
    )
    bq = BigQueryHook(gcp_conn_id="google_cloud_default").get_client(project_id=config.bigquery.project)
    counts = {}
    for table in bq.list_tables(f"{config.bigquery.project}.bf_lake"):
        rows = bq.query(f"SELECT COUNT(*) AS n FROM `{config.bigquery.project}.bf_lake.{table.table_id}`").result()
        counts[table.table_id] = next(iter(rows))["n"]
    current = glue.get_table(DatabaseName="bf_lake", Name="bf_orders")["Table"]["StorageDescriptor"]["Location"]
    return {"exports": exports, "objects": objects, "partitions": partitions, "bigquery": counts, "current": current}


def run_states(backfill_env: dict) -> list[tuple[str, str]]:
    """(logical date, state) of every run of the DAG, oldest first, from ``airflow dags list-runs``."""
    result = subprocess.run([backfill_env["airflow"], "dags", "list-runs", DAG_ID, "-o", "json"],
                            env=backfill_env["env"], capture_output=True, text=True, timeout=120, check=True)
    # Airflow may print warnings first; the JSON is the line that starts with "[".
    runs = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("[")))
    return sorted((run["logical_date"][:10], run["state"]) for run in runs)


def test_three_intervals_then_the_same_three_again(backfill_env):
    for date in DATES:
        log = run_interval(backfill_env, date)
        assert dict(run_states(backfill_env))[date] == "success", log[-4000:]
    first = lake_state(backfill_env["config"])
    stamps = [d.replace("-", "") for d in ("2026-11-19", "2026-11-20", "2026-11-21")]
    assert first["partitions"] == [(f"{s}T000000Z",) for s in stamps]
    assert len(first["exports"]) == 3
    snapshot_folders = {key.split("/")[3] for key in first["objects"]}
    assert snapshot_folders == {f"snapshot={s}T000000Z" for s in stamps}
    assert first["bigquery"] == {f"bf_orders_{s}": 400 for s in stamps}, json.dumps(first["bigquery"])
    assert first["current"].rstrip("/").endswith(f"snapshot={stamps[-1]}T000000Z")

    for date in DATES:  # `dags test` of a logical date replaces that date's run: still one run per interval
        log = run_interval(backfill_env, date)
        assert dict(run_states(backfill_env))[date] == "success", log[-4000:]
    assert run_states(backfill_env) == [(date, "success") for date in DATES]
    again = lake_state(backfill_env["config"])
    assert again == first
