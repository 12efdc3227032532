"""A parallel backfill through a real Airflow scheduler: 5 intervals of a table DAG at once, then the same 5 again.

Airflow 3.3 (LocalExecutor, api-server, scheduler, triggerer, dag-processor) runs on a PostgreSQL cluster that
scripts/postgres.sh starts, against the session's local stack. `airflow backfill create` runs up to 10 DAG runs at
once whatever the DAG's max_active_runs says, so the 5 intervals export, convert, load, validate and publish
overlapping each other. What is asserted is what readers see: Athena over the history table, the Glue current table,
BigQuery's day tables, and the run states; then a rerun of all 5 (--reprocess-behavior completed) changes none of it.
In the same deployment: the DAG is unpaused through the REST API, a run triggered through the REST API without a
logical date ends green with its interval's objects, the task pages are checked through the REST API and in headless
Chromium (extra links, the validation report; screenshots), and the task logs say each thing once.
"""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
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
from browser import chromium_page, keep_screenshot  # noqa: E402
from mapped_dag import check_copies, write_dag  # noqa: E402

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
MAPPED_DAG_ID, MAPPED_BUCKET = "mapped_convert_killed", "mapped-killed"  # tests/e2e/mapped_dag.py


@pytest.fixture(scope="module")
def airflow(local_stack_state, tmp_path_factory):
    """The table seeded on the stack and an Airflow deployment whose DAGs folder builds its DAG."""
    root = tmp_path_factory.mktemp("scheduler")
    config = load_table_config(table_file(root / "tables", NAME))
    seed_demo.seed_aws(config, ITEMS)
    seed_demo.seed_google(config)
    # the cluster belongs to a non-root OS user when the tests run as root: keep it where every user may enter
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    write_dag(s3, root / "test-dags", bucket=MAPPED_BUCKET, dag_id=MAPPED_DAG_ID, fault="kill", work=root)
    services = AirflowServices(root, REPO_ROOT / ".stack" / f"postgres-{worker}-{root.name}", root / "tables",
                               extra_dags=root / "test-dags")
    try:
        services.start()
        services.wait_for_dag(DAG_ID)
        # as a user would: a new DAG is paused (dags_are_paused_at_creation) and its backfill runs would stay queued
        assert services.rest(f"/dags/{DAG_ID}")["is_paused"] is True
        assert services.rest(f"/dags/{DAG_ID}", "PATCH", {"is_paused": False})["is_paused"] is False
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
        # what a reader can be pointed at: the commits' attempt folders, not the slices' own output (convert.engine
        # auto's `attempt=<run>-slices/`, private to the run, replaced when its slice reruns)
        parquet.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])
                        if o["Key"].endswith(".parquet") and "-slices/" not in o["Key"]})
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


@pytest.mark.usefixtures("mapped_run")  # triggered first: the mapped DAG runs beside the backfill
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
    return services.rest(path)


def newest_backfill_run(services: AirflowServices) -> str:
    """The run id of the newest interval's last successful backfill run (a backfill first when run alone)."""
    latest = f"{DATES[-1]} 00:00:00+00"
    if not services.query("SELECT 1 FROM dag_run WHERE dag_id = %s AND state = 'success' AND logical_date = %s",
                          DAG_ID, latest):
        services.wait_for_runs(DAG_ID, len(DATES), since=backfill(services), timeout=420)  # run alone
    return services.query("SELECT run_id FROM dag_run WHERE dag_id = %s AND state = 'success' AND logical_date = %s "
                          "ORDER BY end_date DESC LIMIT 1", DAG_ID, latest)[0][0]


@pytest.fixture(scope="module")
def triggered_run(airflow) -> dict:
    """A run triggered through the REST API without a logical date (``POST /api/v2/dags/{dag}/dagRuns`` with
    ``logical_date: null``); requested by the task-page tests too, so the run works while they read the backfill's
    pages (one DAG run's time saved on the module)."""
    services, _ = airflow
    return services.rest(f"/dags/{DAG_ID}/dagRuns", "POST", {"logical_date": None})


@pytest.mark.usefixtures("triggered_run")
def test_task_pages_show_console_links_and_the_validation_result(airflow):
    """What the UI's task pages read, through the api-server: each task's console buttons, the validation headline
    and count table (validate's rendered field), and the lake asset's event extra."""
    services, config = airflow
    run_id = newest_backfill_run(services)
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


@pytest.mark.usefixtures("triggered_run")
def test_task_pages_in_a_browser(airflow, tmp_path):
    """The Airflow UI in headless Chromium: each task page's Details tab shows the console buttons under "Extra
    Links" with the hrefs the REST API gives, and validate's Rendered Templates tab shows the validation report (the
    headline "300 rows, N sources agree" and the count table) exactly as the rendered field holds it. Screenshots in
    tmp_path, copied to DDB_LAKE_SCREENSHOTS_DIR when it is set."""
    services, _ = airflow
    run_id = newest_backfill_run(services)
    run = f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"
    task_pages = f"{services.env['AIRFLOW__API__BASE_URL']}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks"
    buttons = {"export": ("DynamoDB export", "S3 export folder"), "convert": ("S3 snapshot",),
               "lake.catalog": ("Glue table",), "lake.athena_partitions": ("Athena query",),
               "bigquery.load": ("BigQuery table", "BigQuery job")}
    with chromium_page() as page:
        for task_id, names in buttons.items():
            expected = api(services, f"{run}/taskInstances/{task_id}/links")["extra_links"]
            page.goto(f"{task_pages}/{task_id}/details")
            page.get_by_text("Extra Links", exact=True).wait_for()
            shown = {name: page.get_by_role("link", name=name, exact=True).get_attribute("href") for name in names}
            assert shown == {name: expected[name] for name in names}, task_id
            shot(page, tmp_path, f"task-{task_id}-details")
        report = api(services, f"{run}/taskInstances/validate")["rendered_fields"]["validation_report"]
        page.goto(f"{task_pages}/validate/rendered_templates")
        row = page.get_by_role("row").filter(has_text="validation_report")
        row.wait_for()
        # the field's code block, line by line without the viewer's line numbers
        shown = row.locator("code").evaluate(
            "code => Array.from(code.children).map(line => Array.from(line.childNodes)"
            ".filter(node => !(node.classList && node.classList.contains('linenumber')))"
            ".map(node => node.textContent).join('')).join('')")
        assert re.match(rf"{ITEMS} rows, \d sources agree\n", shown), shown[:200]
        assert shown.rstrip() == report.rstrip()
        row.scroll_into_view_if_needed()
        shot(page, tmp_path, "task-validate-rendered-templates")


def shot(page, folder: Path, name: str) -> Path:
    """A screenshot of what the browser window shows, kept (see keep_screenshot)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    keep_screenshot(path)
    return path


def test_a_rest_trigger_without_a_logical_date_covers_the_last_complete_interval(airflow, triggered_run):
    """Airflow 3 gives a run triggered without a logical date no data interval; the DAG's tasks take the last
    complete interval before the run's run_after (compat.data_interval_of): for @daily, the day that ended at the
    midnight before the trigger. The run ends green with that interval's snapshot in the lake and BigQuery."""
    services, config = airflow
    assert (triggered_run["logical_date"], triggered_run["data_interval_end"]) == (None, None)
    run_id = triggered_run["dag_run_id"]
    assert services.wait_for_run(DAG_ID, run_id, timeout=420) == "success", services.failed_tasks(DAG_ID)
    end = datetime.fromisoformat(triggered_run["run_after"]).astimezone(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0)
    stamp = end.strftime("%Y%m%dT%H%M%SZ")
    view = readers_view(config)
    assert (stamp, str(ITEMS)) in view["history"]
    assert (view["current"], view["current_rows"]) == (f"snapshot={stamp}", [[str(ITEMS)]])
    assert view["bigquery"][f"{NAME}${stamp[:8]}"] == ITEMS
    assert any(key.split("/")[4] == f"snapshot={stamp}" for key in view["parquet"])
    events = api(services, f"/assets/events?source_dag_id={DAG_ID}&source_task_id=publish"
                           f"&source_run_id={quote(run_id, safe='')}")["asset_events"]
    assert [(e["extra"]["snapshot"], e["extra"]["interval"], e["extra"]["action"]) for e in events] == [
        (stamp, [(end - timedelta(days=1)).isoformat(), end.isoformat()], "published")]


def test_task_logs_say_each_thing_once(airflow):
    """Task logs of every run so far: the AWS connection is looked up once per task execution (not once per hook),
    the converter's progress is printed once, and the run report names the export figure as the billed size."""
    services, _ = airflow
    newest_backfill_run(services)
    folder = services.root / "airflow-home" / "logs" / f"dag_id={DAG_ID}"
    logs = sorted(folder.glob("run_id=*/task_id=*/**/attempt=*.log"))  # a mapped task's: .../map_index=<n>/
    assert logs
    progress_lines, report_lines = 0, 0
    for log in logs:
        text = log.read_text(errors="replace")
        # a resumed deferral is a second execution; a trigger's log (attempt=N.log.trigger.K.log) is one trigger run
        executions = 1 if ".trigger." in log.name else text.count("Worker startup parse complete")
        assert text.count("credentials retrieved") <= executions, log
        if "task_id=convert" in str(log):
            progress_lines += text.count("parsed 300 items from 1 files")
            assert text.count("parsed 300 items from 1 files") <= executions, log
        if "task_id=report" in str(log):
            report_lines += text.count("export billed size")
            assert "bytes exported" not in text, log
    assert progress_lines and report_lines  # the lines counted are there



@pytest.fixture(scope="module")
def mapped_run(airflow) -> dict:
    """The mapped engine's DAG (tests/e2e/mapped_dag.py) triggered once; it runs beside the module's other runs."""
    services, _ = airflow
    services.wait_for_dag(MAPPED_DAG_ID)
    assert services.rest(f"/dags/{MAPPED_DAG_ID}", "PATCH", {"is_paused": False})["is_paused"] is False
    return services.rest(f"/dags/{MAPPED_DAG_ID}/dagRuns", "POST", {"logical_date": "2026-11-22T00:00:00Z"})


def test_a_killed_mapped_slice_retries_alone(airflow, mapped_run):
    """convert_slice[1]'s first try is SIGKILLed in its own task process (the LocalExecutor's supervisor sees it
    die, as after an OOM kill): only that slice runs again, the others once, and the commit equals the one-task
    conversion of the same export."""
    services, _ = airflow
    run_id = mapped_run["dag_run_id"]
    assert services.wait_for_run(MAPPED_DAG_ID, run_id, timeout=420) == "success", services.failed_tasks(
        MAPPED_DAG_ID)
    tries = services.query("SELECT map_index, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s "
                           "AND task_id = 'convert_slice' ORDER BY map_index", MAPPED_DAG_ID, run_id)
    assert tries == [(0, "success", 1), (1, "success", 2), (2, "success", 1)]  # only slice 1 ran again
    first = services.query("SELECT state FROM task_instance_history WHERE dag_id = %s AND run_id = %s "
                           "AND task_id = 'convert_slice' AND map_index = 1 AND try_number = 1", MAPPED_DAG_ID, run_id)
    assert first == [("failed",)]
    others = services.query("SELECT task_id, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s "
                            "AND task_id <> 'convert_slice' ORDER BY task_id", MAPPED_DAG_ID, run_id)
    assert others == [("convert", 1), ("slice_plan", 1), ("worker", 1)]
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    check_copies(AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn,
                 MAPPED_BUCKET)
