"""Issue 12's cases 3 and 4 under faults, written against the promised behaviour before it landed.

Case 3 (branch wt-attempts): every conversion writes to a location of its own and becomes visible only by a pointer
switch, so a convert killed at any point (first run or rerun) never leaves a reader seeing a duplicate or missing row.
Case 4 (branch wt-bqgate): BigQuery is loaded into staging, validated, then moved into place, so a validation failure
leaves BigQuery consumers on the previous data, a repaired cause reruns green, and in the ``latest`` layout an older
interval never replaces newer data.
The tests only look where readers look: the Glue current table and the history table through Athena, and the BigQuery
tables consumers query (the default ``partitioned`` layout, which the BigQuery stand-in runs through the
partition-decorator shim, scripts/bqemulator_partitions.py).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
import readers
from dag_runs import DagRunner
from fault_proxy import Rule

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.e2e]

D1, D2 = "2026-11-20", "2026-11-21"
ITEMS = 150



def stamp(date: str) -> str:
    return f"{date.replace('-', '')}T000000Z"


@pytest.fixture(scope="module")
def runner(local_stack_state, tmp_path_factory) -> DagRunner:
    return DagRunner(tmp_path_factory.mktemp("pending-dags"))


def lake_readers(config) -> dict:
    """The current table's rows and distinct keys, and the history's rows per snapshot, as Athena shows them."""
    database, name, output = config.glue.database, config.glue_table, config.athena.output_location
    view: dict = {"current": readers.current_snapshot(database, name), "history": []}
    if view["current"] is not None:
        rows, keys = readers.athena(f'SELECT COUNT(*), COUNT(DISTINCT concat(pk, \'|\', sk)) FROM "{name}"',
                                    database, output)[0]
        view["current_rows"], view["current_keys"] = int(rows), int(keys)
    if readers.current_snapshot(database, f"{name}_snapshots") is not None:
        view["history"] = readers.athena(
            f'SELECT snapshot, COUNT(*), COUNT(DISTINCT concat(pk, \'|\', sk)) FROM "{name}_snapshots" '
            "GROUP BY snapshot ORDER BY snapshot", database, output)
    return view


def kill_when_held(runner: DagRunner, proxy, dag_id: str, date: str, match: str) -> None:
    """Start the interval, hold its first call matching ``match``, SIGKILL the whole run, drop the held call."""
    release = threading.Event()
    rule = proxy.add(Rule(match, "hold", times=1, release=release, seconds=120, drop=True))
    process = runner.start(dag_id, date)
    try:
        assert rule.held.wait(300), f"the run never reached {match!r}:\n{runner.log(dag_id, date)[-3000:]}"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        release.set()
        proxy.clear()


# The `convert` task's own attempt folder (`attempt=<run>-try<N>/`): with convert.engine auto (the default) the slices
# write theirs first under `attempt=<run>-slices/`, and the kill must land where `convert` writes the snapshot.
def part_put(config) -> str:
    return rf"s3:PUT /{config.lake.bucket}/{config.lake.prefix}/.*-try\d+/part-[^/]*\.parquet"


def manifest_put(config) -> str:
    return rf"s3:PUT /{config.lake.bucket}/{config.lake.prefix}/.*-try\d+/_manifest\.json"


@pytest.mark.parametrize("at", ["manifest"])  # killed after its parts, before its manifest; random points: aws_catalog
def test_a_first_run_killed_in_convert_shows_readers_nothing_then_its_rerun_shows_every_row_once(
        runner, proxy, injected, at):
    injected(f"SIGKILL of a first run while convert writes its {at} (case 3)")
    name = f"kill_first_{at}"
    config = runner.table(name)
    seed_demo.seed_aws(config, ITEMS)
    seed_demo.seed_google(config)
    dag_id = f"ddb_lake__{name}"
    kill_when_held(runner, proxy, dag_id, D2, part_put(config) if at == "part" else manifest_put(config))
    killed = lake_readers(config)
    assert killed["current"] is None
    assert all(rows == keys == str(ITEMS) for _snapshot, rows, keys in killed["history"]), killed

    state, log = runner.run(dag_id, D2)
    assert state == "success", log[-5000:]
    assert lake_readers(config) == {"current": f"snapshot={stamp(D2)}", "current_rows": ITEMS,
                                    "current_keys": ITEMS, "history": [[stamp(D2), str(ITEMS), str(ITEMS)]]}


@pytest.mark.parametrize("at", ["part"])  # killed while writing a part (tests/aws_catalog/test_convert_killed.py)
def test_a_rerun_killed_in_convert_leaves_readers_on_the_exact_published_rows(runner, proxy, injected, at):
    injected(f"SIGKILL of a rerun of a published interval while convert writes its {at} (case 3)")
    name = f"kill_rerun_{at}"
    config = runner.table(name, convert={"workers": 1})
    seed_demo.seed_aws(config, ITEMS)
    seed_demo.seed_google(config)
    dag_id = f"ddb_lake__{name}"
    state, log = runner.run(dag_id, D2)
    assert state == "success", log[-5000:]
    published = lake_readers(config)
    assert published["current_rows"] == published["current_keys"] == ITEMS

    # the rerun splits its files differently (more workers): a rewrite in place would mix the two splits
    runner.table(name, convert={"workers": 3})
    kill_when_held(runner, proxy, dag_id, D2, part_put(config) if at == "part" else manifest_put(config))
    assert lake_readers(config) == published

    state, log = runner.run(dag_id, D2)
    assert state == "success", log[-5000:]
    assert lake_readers(config) == published


def one_row_short(answer: bytes) -> bytes:
    """An Athena GetQueryResults answer whose single count cell is one less: a copy that disagrees."""
    body = json.loads(answer)
    rows = body.get("ResultSet", {}).get("Rows", [])
    if len(rows) == 2 and len(rows[1]["Data"]) >= 1 and str(rows[1]["Data"][0].get("VarCharValue", "")).isdigit():
        rows[1]["Data"][0]["VarCharValue"] = str(int(rows[1]["Data"][0]["VarCharValue"]) - 1)
    return json.dumps(body).encode()


def bigquery_days(config) -> dict[str, int]:
    """What BigQuery consumers query in the partitioned layout: ``<table>$<YYYYMMDD>`` -> rows."""
    counts = readers.bigquery_counts(config.bigquery.project, config.bigquery.dataset)
    prefix = f"{config.bigquery_table}$"
    return {table: rows for table, rows in counts.items() if table.startswith(prefix)}


def test_a_validation_failure_leaves_bigquery_consumers_on_the_previous_data_and_the_fixed_rerun_is_green(
        runner, proxy, injected):
    injected("Athena's count of the new snapshot one row short: validation fails (case 4)")
    name = "gate_orders"
    config = runner.table(name)
    seed_demo.seed_aws(config, ITEMS)
    seed_demo.seed_google(config)
    dag_id = f"ddb_lake__{name}"
    state, log = runner.run(dag_id, D1)
    assert state == "success", log[-5000:]
    before = bigquery_days(config)
    assert before == {f"{name}${stamp(D1)[:8]}": ITEMS}

    proxy.add(Rule("athena:GetQueryResults", "rewrite", times=None, transform=one_row_short))
    state, log = runner.run(dag_id, D2)
    proxy.clear()
    assert state == "failed", log[-5000:]
    assert "count" in log.lower() and name in log
    assert bigquery_days(config) == before  # consumers still see only the previous data
    assert lake_readers(config)["current"] == f"snapshot={stamp(D1)}"

    state, log = runner.run(dag_id, D2)  # the cause repaired: the rerun of the interval repairs every copy
    assert state == "success", log[-5000:]
    assert bigquery_days(config) == {**before, f"{name}${stamp(D2)[:8]}": ITEMS}
    assert lake_readers(config)["current"] == f"snapshot={stamp(D2)}"


def test_in_the_latest_layout_a_backfilled_older_interval_never_replaces_newer_data(runner, proxy, injected):
    injected("a backfill of an older interval after a newer one, latest layout (case 4)")
    name = "latest_orders"
    config = runner.table(name, bigquery={"layout": "latest"})
    seed_demo.seed_aws(config, ITEMS)
    seed_demo.seed_google(config)
    dag_id = f"ddb_lake__{name}"
    state, log = runner.run(dag_id, D2)
    assert state == "success", log[-5000:]
    dynamodb = readers.client("dynamodb")
    for i in range(10):  # the older interval's export (moto exports the table as it is now) has 10 more items
        dynamodb.put_item(TableName=config.dynamodb.table_name,
                          Item={"pk": {"S": "LATE"}, "sk": {"S": f"ORDER#{i}"}, "orderId": {"N": str(i)}})
    state, log = runner.run(dag_id, D1)
    assert state in ("success", "failed"), log[-5000:]
    counts = readers.bigquery_counts(config.bigquery.project, config.bigquery.dataset)
    assert counts.get(config.bigquery_table) == ITEMS, counts
    assert lake_readers(config)["current"] == f"snapshot={stamp(D2)}"
