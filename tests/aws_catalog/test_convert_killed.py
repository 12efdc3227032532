"""A convert killed at a random moment never shows a reader a duplicate or a missing row (moto + the Athena stand-in).

Each killed try runs the convert operator over aws_default in a process of its own (``convert_attempt_runner``:
forked from a server that imported it once, as a worker forks task processes) and SIGKILLs it at a random point:
half after a random delay anywhere in the run (measured on an uncut run first), half once its attempt folder holds a
random number of its files (so the kill lands while it uploads). After every kill, the Athena stand-in reads the
current table and the snapshot's history partition: nothing on a first run, exactly the published rows on a rerun. A
completed try then goes through catalog, Athena partition, validation and publish, and readers see exactly its
export's rows; retention then leaves only the folder the readers use.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from catalog_lake import BUCKET, DATABASE, TABLE
from convert_attempt_runner import start_try

from ddb_lake.core.lake.layout import attempt_id
from ddb_lake.operators.athena_partitions import AthenaPartitionRepairOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator
from ddb_lake.operators.row_count_validation import RowCountValidationOperator
from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator, SnapshotRetentionOperator

pytestmark = pytest.mark.integration
STAMP = "20261122T000000Z"
ATTEMPTS = f"s3://{BUCKET}/mirror/snapshots/{TABLE}/_attempts/snapshot={STAMP}"
OUTPUT = f"s3://{BUCKET}/athena-results/"
NAMES = {"database": DATABASE, "table_name": TABLE, "bucket": BUCKET}
OPTIONS = {"workers": 1, "target_file_bytes": 4 << 10, "row_group_rows": 1000}  # one part per data file
FIRST_ITEMS, RERUN_ITEMS = 6000, 6007
DATA_FILES = 40  # one Parquet part each: the upload takes a while
KILLS = 4  # per scenario: half after a random delay, half after a random number of uploaded files
HERE = Path(__file__).resolve().parent


@pytest.fixture
def dynamodb_table(lake) -> None:
    lake.create_dynamodb_table()


def export_items(count: int, version: int) -> list[dict]:
    return [{"pk": {"S": f"item-{n:06d}"}, "v": {"N": str(version)}, "pad": {"S": f"{n * 7919:012d}"}}
            for n in range(count)]


def upload_export(lake, tmp_path: Path, name: str, items: list[dict]) -> dict:
    """A finished export's folder in S3 (``DATA_FILES`` data files), and the export task's result naming it."""
    files = [items[k::DATA_FILES] for k in range(DATA_FILES)]
    return lake.upload_export(tmp_path / name, f"01700000000000-{name}", f"mirror/exports/{TABLE}/full/{STAMP}/{name}",
                              files)


def start_convert(export: dict, run_id: str, try_number: int):
    spec = {"export": export, "attempts_url": ATTEMPTS, "snapshot": STAMP, "run_id": run_id,
            "try_number": try_number, "options": OPTIONS}
    return start_try(spec)


def attempt_keys(lake) -> list[str]:
    prefix = ATTEMPTS.removeprefix(f"s3://{BUCKET}/") + "/"
    pages = lake.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def written(lake, run_id: str, try_number: int) -> str:
    """What a try left in its attempt folder: ``<objects>`` and ``+manifest`` when it got that far."""
    names = [k.rsplit("/", 1)[1] for k in attempt_keys(lake) if f"/attempt={attempt_id(run_id, try_number)}/" in k]
    return f"{len(names)}{'+manifest' if '_manifest.json' in names else ''}"


def uncut_run(lake, export: dict) -> tuple[float, int]:
    """(seconds, files written before the manifest) of one convert subprocess that nobody kills."""
    started = time.monotonic()
    process = start_convert(export, "calibration__run", 1)
    process.join(timeout=300)
    assert process.exitcode == 0
    return time.monotonic() - started, int(written(lake, "calibration__run", 1).split("+")[0])


def kill_convert(lake, export: dict, run_id: str, try_number: int, *, delay: float | None = None,
                 files: int | None = None) -> bool:
    """Run a convert try; SIGKILL it after ``delay`` seconds or once its folder holds ``files`` objects.

    True when it was killed (not finished before).
    """
    process = start_convert(export, run_id, try_number)
    started = time.monotonic()
    while process.is_alive():
        if delay is not None and time.monotonic() - started >= delay:
            break
        if files is not None and int(written(lake, run_id, try_number).split("+")[0]) >= files:
            break
        time.sleep(0.02)
    if process.is_alive():
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the try's own session: it and nothing else
        except ProcessLookupError:  # not its own session yet, or it ended a moment ago
            process.kill()
    process.join(timeout=30)
    return process.exitcode == -signal.SIGKILL


def athena(lake, sql: str) -> list[tuple] | str:
    """The rows the Athena stand-in returns for ``sql``, sorted; the failure reason when the query failed."""
    query_id = lake.athena.start_query_execution(QueryString=sql, ResultConfiguration={"OutputLocation": OUTPUT},
                                                 QueryExecutionContext={"Database": DATABASE})["QueryExecutionId"]
    for _ in range(600):
        status = lake.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    if status["State"] != "SUCCEEDED":
        return status.get("StateChangeReason", status["State"])
    rows: list[tuple] = []
    for page in lake.athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows.extend(tuple(cell.get("VarCharValue") for cell in row["Data"]) for row in page["ResultSet"]["Rows"])
    return sorted(rows[1:])  # the first row is the header


def readers_see(lake) -> tuple[list[tuple] | str, list[tuple] | str]:
    """(current table rows, history partition rows) as ``(pk, v)``."""
    current = athena(lake, f'SELECT pk, CAST(v AS varchar) FROM "{DATABASE}"."{TABLE}"')
    history = athena(lake, f'SELECT pk, CAST(v AS varchar) FROM "{DATABASE}"."{TABLE}_snapshots" '
                           f"WHERE snapshot = '{STAMP}'")
    return current, history


def expected(items: list[dict]) -> list[tuple]:
    return sorted((item["pk"]["S"], item["v"]["N"]) for item in items)


def complete_run(export: dict, run_id: str, try_number: int) -> dict:
    """A try that finishes, then the lake tasks of its run: catalog, Athena partition, validation, publish."""
    context = {"run_id": run_id, "ti": SimpleNamespace(try_number=try_number)}
    summary = ExportToParquetOperator(task_id="convert", export=export, attempts_url=ATTEMPTS, snapshot=STAMP,
                                      converter_options=OPTIONS).execute(context)
    GlueSnapshotCatalogOperator(task_id="catalog", convert_summary=summary, **NAMES).execute(context)
    AthenaPartitionRepairOperator(task_id="athena_partitions", database=DATABASE, table=f"{TABLE}_snapshots",
                                  output_location=OUTPUT, convert_summary=summary, poll_interval=0).execute(context)
    RowCountValidationOperator(task_id="validate", export=export, snapshot=summary, athena_database=DATABASE,
                               athena_table=f"{TABLE}_snapshots", athena_output_location=OUTPUT).execute(context)
    SnapshotPublishOperator(task_id="publish", convert_summary=summary, **NAMES).execute(context)
    return summary


def kill_points(rng: random.Random, seconds: float, files: int) -> list[dict]:
    """``KILLS`` kill points: half ``{"delay": s}`` anywhere in the run, half ``{"files": n}`` while it uploads."""
    return ([{"delay": round(rng.uniform(0.5, seconds), 2)} for _ in range(KILLS // 2)]
            + [{"files": rng.randint(1, files - 1)} for _ in range(KILLS // 2)])


def test_a_killed_convert_never_shows_a_duplicate_or_a_missing_row(lake, dynamodb_table, tmp_path):
    seed = int(os.environ.get("DDB_LAKE_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    first_items, rerun_items = export_items(FIRST_ITEMS, 1), export_items(RERUN_ITEMS, 2)
    first_export = upload_export(lake, tmp_path, "first", first_items)
    seconds, files = uncut_run(lake, first_export)  # leaves a complete attempt no pointer names
    print(f"kill seed {seed}; an uncut convert subprocess ran {seconds:.2f}s and wrote {files} files + manifest")
    kills: list[tuple[str, dict, str, bool]] = []

    for try_number, point in enumerate(kill_points(rng, seconds, files), start=1):  # a first run, killed at each try
        killed = kill_convert(lake, first_export, "scheduled__2026-11-22T00:00:00+00:00", try_number, **point)
        kills.append(("first run", point, written(lake, "scheduled__2026-11-22T00:00:00+00:00", try_number), killed))
        current, history = readers_see(lake)
        assert f"TABLE_NOT_FOUND: line 1:54: Table 'awsdatacatalog.{DATABASE}.{TABLE}' does not exist" == current
        assert f"Table 'awsdatacatalog.{DATABASE}.{TABLE}_snapshots' does not exist" in history, (seed, kills)

    first = complete_run(first_export, "scheduled__2026-11-22T00:00:00+00:00", KILLS + 1)
    assert readers_see(lake) == (expected(first_items), expected(first_items))

    rerun_export = upload_export(lake, tmp_path, "rerun", rerun_items)
    for try_number, point in enumerate(kill_points(rng, seconds, files), start=1):  # a rerun of the published interval
        killed = kill_convert(lake, rerun_export, "manual__2026-11-23T08:00:00+00:00", try_number, **point)
        kills.append(("rerun", point, written(lake, "manual__2026-11-23T08:00:00+00:00", try_number), killed))
        assert readers_see(lake) == (expected(first_items), expected(first_items)), f"seed {seed}: kills {kills}"

    rerun = complete_run(rerun_export, "manual__2026-11-23T08:00:00+00:00", KILLS + 1)
    assert rerun["snapshot_prefix"] != first["snapshot_prefix"]
    assert readers_see(lake) == (expected(rerun_items), expected(rerun_items))
    print(f"kills (run, kill point, objects its attempt folder holds, killed): {kills}")
    partial = [kill for kill in kills if kill[3] and kill[2] != "0" and "manifest" not in kill[2]]
    assert partial, f"seed {seed}: no kill left a half-written attempt folder: {kills}"

    time.sleep(3.1)  # past a 2-second grace: retention removes what no reader uses, and only that
    result = SnapshotRetentionOperator(task_id="retention", grace_period=2, keep_last=1, prefix="mirror",
                                       **NAMES).execute({})
    assert result["kept"] == {f"{STAMP}/attempt={rerun['attempt']}": "the current table points at it"}
    assert f"{STAMP}/attempt={first['attempt']}" in result["deleted"]
    assert readers_see(lake) == (expected(rerun_items), expected(rerun_items))
    assert {key.split("/")[5] for key in attempt_keys(lake)} == {f"attempt={rerun['attempt']}"}
