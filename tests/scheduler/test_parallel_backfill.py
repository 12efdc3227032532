"""A parallel backfill through a real Airflow scheduler: 5 intervals of a table DAG at once, then the same 5 again.

Airflow 3.3 (LocalExecutor, api-server, scheduler, triggerer, dag-processor) runs on a PostgreSQL cluster that
scripts/postgres.sh starts, against the session's local stack. `airflow backfill create` runs up to 10 DAG runs at
once whatever the DAG's max_active_runs says, so the 5 intervals export, convert, load, validate and publish
overlapping each other. What is asserted is what readers see: Athena over the history table, the Glue current table,
BigQuery's day tables, and the run states; then a rerun of all 5 (--reprocess-behavior completed) changes none of it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed_demo  # noqa: E402
from airflow_runs import table_file  # noqa: E402
from airflow_services import AirflowServices  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

# 8.5 min measured with the 2 cores shared by other test runs (load average 8-11): more than scripts/test.sh's 600 s
# One deployment for the module: under xdist both tests go to one worker (the second reads the first's runs).
pytestmark = [pytest.mark.integration, pytest.mark.scheduler, pytest.mark.timeout(1500),
              pytest.mark.xdist_group("scheduler")]

NAME = "sched_orders"
DAG_ID = f"ddb_lake__{NAME}"
DATES = ["2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]  # logical dates: interval starts
STAMPS = [f"{d}T000000Z" for d in ("20261118", "20261119", "20261120", "20261121", "20261122")]  # interval ends
ITEMS = 300


@pytest.fixture(scope="module")
def airflow(local_stack_state, tmp_path_factory):
    """The table seeded on the stack and an Airflow deployment whose DAGs folder builds its DAG."""
    root = tmp_path_factory.mktemp("scheduler")
    config = load_table_config(table_file(root / "tables", NAME))
    seed_demo.seed_aws(config, ITEMS)
    seed_demo.seed_google(config)
    # the cluster belongs to a non-root OS user when the tests run as root: keep it where every user may enter
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    services = AirflowServices(root, REPO_ROOT / ".stack" / f"postgres-{worker}-{root.name}", root / "tables")
    try:
        services.start()
        services.wait_for_dag(DAG_ID)
        services.cli("dags", "unpause", DAG_ID)  # a paused DAG's backfill runs stay queued
        yield services, config
    finally:
        services.stop()


def backfill(services: AirflowServices, *extra: str) -> float:
    """``airflow backfill create`` of the 5 intervals; waits (up to 120 s) while the scheduler has yet to mark an
    earlier backfill of the DAG complete (its runs can be done a loop before it notices: AlreadyRunningBackfill)."""
    started, deadline = time.time(), time.time() + 120
    while True:
        try:
            services.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", DATES[0], "--to-date", DATES[-1],
                         "--max-active-runs", "10", *extra)
            return started
        except RuntimeError as error:
            if "AlreadyRunningBackfill" not in str(error) or time.time() > deadline:
                raise
            time.sleep(3)


def athena_rows(sql: str, database: str, output: str) -> list[list[str]]:
    """Rows of one query run by the Athena stand-in through aws_default (as a reader's client would)."""
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    hook = AthenaHook(aws_conn_id="aws_default", region_name="us-east-1")
    query_id = hook.run_query(sql, {"Database": database}, {"OutputLocation": output})
    state = hook.poll_query_status(query_id, sleep_time=1, max_polling_attempts=120)
    assert state == "SUCCEEDED", (sql, hook.get_state_change_reason(query_id))
    rows = hook.get_query_results(query_id)["ResultSet"]["Rows"][1:]
    return [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows]


def readers_view(config) -> dict:
    """What a reader sees: Athena's history and current table, the Glue current location, BigQuery's day tables."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

    database, output = config.glue.database, config.athena.output_location
    history = athena_rows(f"SELECT snapshot, COUNT(*) FROM {NAME}_snapshots GROUP BY snapshot ORDER BY snapshot",
                          database, output)
    current_rows = athena_rows(f"SELECT COUNT(*) FROM {NAME}", database, output)
    glue = AwsBaseHook(aws_conn_id="aws_default", client_type="glue", region_name="us-east-1").conn
    current = glue.get_table(DatabaseName=database, Name=NAME)["Table"]["StorageDescriptor"]["Location"]
    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    parquet = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=config.lake.bucket, Prefix="lake/snapshots/"):
        parquet.update({o["Key"]: o["ETag"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")})
    bq = BigQueryHook(gcp_conn_id="google_cloud_default").get_client(project_id=config.bigquery.project)
    dataset = f"{config.bigquery.project}.{config.bigquery.dataset}"
    days = {}
    for table in bq.list_tables(dataset):  # the day-partitioned table; staging tables are dropped at publish
        rows = bq.query(f"SELECT FORMAT_DATE('%Y%m%d', _PARTITIONDATE) AS day, COUNT(*) AS n "
                        f"FROM `{dataset}.{table.table_id}` GROUP BY day").result()
        days.update({f"{table.table_id}${row['day']}": row["n"] for row in rows})
    return {
        "history": [tuple(row) for row in history],
        "current_rows": current_rows,
        "current": next(p for p in reversed(current.rstrip("/").split("/")) if p.startswith("snapshot=")),
        "parquet": parquet,
        "bigquery": days,
    }


def test_five_intervals_at_once_then_again(airflow):
    services, config = airflow
    started = backfill(services)
    states = services.wait_for_runs(DAG_ID, len(DATES), since=started, timeout=420)
    assert states == dict.fromkeys(DATES, "success"), services.failed_tasks(DAG_ID)
    first = readers_view(config)
    assert first["history"] == [(stamp, str(ITEMS)) for stamp in STAMPS]
    assert first["current"] == f"snapshot={STAMPS[-1]}"  # the newest interval is current, whatever finished last
    assert first["current_rows"] == [[str(ITEMS)]]
    assert first["bigquery"] == {f"{NAME}${stamp[:8]}": ITEMS for stamp in STAMPS}
    # lake/snapshots/<table>/_attempts/snapshot=<stamp>/attempt=<id>/part-*.parquet
    assert {key.split("/")[4] for key in first["parquet"]} == {f"snapshot={stamp}" for stamp in STAMPS}

    started = backfill(services, "--reprocess-behavior", "completed")
    states = services.wait_for_runs(DAG_ID, len(DATES), since=started, timeout=420)
    assert states == dict.fromkeys(DATES, "success"), services.failed_tasks(DAG_ID)
    again = readers_view(config)
    # readers see exactly what they saw: the same history, current snapshot, rows and BigQuery days; a rerun writes
    # new attempt folders (never into a folder a reader may hold), so no file the first runs wrote changed or went
    assert {k: v for k, v in again.items() if k != "parquet"} == {k: v for k, v in first.items() if k != "parquet"}
    assert {key: again["parquet"].get(key) for key in first["parquet"]} == first["parquet"]


def api(services: AirflowServices, path: str) -> dict:
    """One GET of the public REST API (the simple auth manager makes every caller admin here)."""
    with urllib.request.urlopen(f"{services.env['AIRFLOW__API__BASE_URL']}/api/v2{path}", timeout=30) as response:
        return json.loads(response.read())


def test_task_pages_show_console_links_and_the_validation_result(airflow):
    """What the UI's task pages read, through the api-server: each task's console buttons, the validation headline
    and count table (validate's rendered field), and the lake asset's event extra."""
    services, config = airflow
    latest = f"{DATES[-1]} 00:00:00+00"
    if not services.query("SELECT 1 FROM dag_run WHERE dag_id = %s AND state = 'success'", DAG_ID):
        services.wait_for_runs(DAG_ID, len(DATES), since=backfill(services), timeout=420)  # run alone
    run_id = services.query("SELECT run_id FROM dag_run WHERE dag_id = %s AND state = 'success' AND logical_date = %s "
                            "ORDER BY end_date DESC LIMIT 1", DAG_ID, latest)[0][0]
    run = f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"

    def links(task_id: str) -> dict:
        return api(services, f"{run}/taskInstances/{task_id}/links")["extra_links"]

    bucket, database = config.lake.bucket, config.glue.database
    export = links("export")
    assert export["DynamoDB export"].startswith("https://console.aws.amazon.com/dynamodbv2/home?region=us-east-1"
                                                "#export-details?exportArn=arn%3Aaws%3Adynamodb%3Aus-east-1")
    assert export["S3 export folder"].startswith(f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?prefix=")
    assert quote(f"lake/snapshots/{NAME}/_attempts/snapshot={STAMPS[-1]}/attempt=", safe="") in \
        links("convert")["S3 snapshot"]
    assert links("lake.catalog") == {"Glue table": "https://console.aws.amazon.com/glue/home?region=us-east-1#/v2/"
                                                   f"data-catalog/tables/view/{NAME}_snapshots?database={database}"}
    assert re.fullmatch(r"https://console\.aws\.amazon\.com/athena/home\?region=us-east-1#/query-editor/history/"
                        r"[0-9a-f-]{36}", links("lake.athena_partitions")["Athena query"])
    project = config.bigquery.project
    load = links("bigquery.load")
    dataset = config.bigquery.dataset
    assert load["BigQuery table"].startswith(f"https://console.cloud.google.com/bigquery?project={project}&ws=!1m5!1m4"
                                             f"!4m3!1s{project}!2s{dataset}!3s")
    assert load["BigQuery job"].startswith(f"https://console.cloud.google.com/bigquery?project={project}&j=bq:")

    validate = api(services, f"{run}/taskInstances/validate")
    report = validate["rendered_fields"]["validation_report"]
    assert re.match(rf"{ITEMS} rows, \d sources agree\n\nRow counts of ", report), report

    events = api(services, f"/assets/events?source_dag_id={DAG_ID}&source_task_id=publish"
                           f"&source_run_id={quote(run_id, safe='')}")["asset_events"]
    # one event per publish try of the run (the reprocessed backfill reruns the same run id)
    assert events and {(e["extra"]["snapshot"], e["extra"]["rows"]) for e in events} == {(STAMPS[-1], ITEMS)}
    assert all(re.fullmatch(rf"{ITEMS} rows, \d sources agree", e["extra"]["validation"]) for e in events)
