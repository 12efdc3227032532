"""Faults injected into single steps (operators, the CLI) on the local stack, through the fault proxy.

Each test injects one fault scenario (``injected``), runs the step as a task would, and asserts what readers see
over clean connections: the step survived (the SDK's or the task's retry absorbed the fault), or it failed with a
clear error and left nothing half-published.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import readers
from fault_proxy import Rule

from ddb_lake.compat import AirflowException, AirflowFailException
from ddb_lake.core.lake import glue_table
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

pytestmark = [pytest.mark.integration, pytest.mark.faults]

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET, DATABASE, TABLE, ROOT = "lake", "ddb_lake", "orders", "mirror/snapshots/orders/"
OUTPUT = "s3://lake/athena-results/"
S0, S1, S2 = "20261120T000000Z", "20261121T000000Z", "20261122T000000Z"
SCHEMA = LakeSchema((LakeField("pk", "pk", LakeType("string")), LakeField("qty", "qty", LakeType("int64")),
                     LakeField("amount", "amount", LakeType("decimal", precision=10, scale=2))))


@pytest.fixture(autouse=True)
def lake_sql_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    from ddb_lake.core.lake.sql_templates import SQL_DIR_ENV

    monkeypatch.setenv(SQL_DIR_ENV, str(REPO_ROOT / "include" / "sql"))


@pytest.fixture
def lake(proxy):
    """A clean moto account with the lake bucket (set up straight on moto, not through the proxy)."""
    readers.client("s3").create_bucket(Bucket=BUCKET)
    return proxy


def write_snapshot(stamp: str, count: int, start: int = 0) -> dict:
    """A converted snapshot (one Parquet file and its manifest) as the converter leaves it; its convert summary."""
    prefix = f"{ROOT}snapshot={stamp}"
    rows = [{"pk": f"order-{i}", "qty": i, "amount": Decimal(f"{i}.25")} for i in range(start, start + count)]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA.to_arrow()), buffer)
    s3 = readers.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/part-00000.parquet", Body=buffer.getvalue())
    summary = {"export_id": f"export-{stamp}", "items": count, "schema": SCHEMA.to_json(),
               "files": [{"path": "part-00000.parquet", "rows": count, "bytes": len(buffer.getvalue())}]}
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/_manifest.json", Body=json.dumps(summary).encode())
    return {**summary, "snapshot_prefix": prefix, "snapshot": stamp}


def publish(summary: dict) -> dict:
    from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator

    return SnapshotPublishOperator(task_id="publish", convert_summary=summary, database=DATABASE, table_name=TABLE,
                                   bucket=BUCKET).execute({})


def current_rows() -> int:
    return readers.athena_count(DATABASE, TABLE, OUTPUT)


# --- case 2: two intervals publishing at once, the older one held between its decision and its switch ---------------

def test_older_publish_held_at_its_switch_leaves_the_newer_current(lake, injected):
    injected("hold Glue UpdateTable of the older interval's publish while the newer publishes (case 2)")
    publish(write_snapshot(S0, 1))
    older, newer = write_snapshot(S1, 2, start=10), write_snapshot(S2, 3, start=20)
    release = threading.Event()
    held = lake.add(Rule("glue:UpdateTable", "hold", times=1, release=release, seconds=60))
    with ThreadPoolExecutor(1) as pool:
        older_publish = pool.submit(publish, older)
        assert held.held.wait(30), "the older publish never reached its switch"
        newer_result = publish(newer)
        release.set()
        older_result = older_publish.result(timeout=60)
    assert newer_result["action"] == "published"
    assert older_result["action"] == "kept_newer" and older_result["attempts"] == 2
    assert readers.current_snapshot(DATABASE, TABLE) == f"snapshot={S2}"
    assert current_rows() == 3


# --- publish under Glue faults ----------------------------------------------------------------------------------------

def test_publish_survives_throttled_and_reset_glue_reads(lake, injected):
    injected("throttle Glue GetTable twice during publish")
    injected("reset the connection of one Glue UpdateTable before it reaches Glue")
    publish(write_snapshot(S1, 2))
    lake.add(Rule("glue:GetTable", "throttle", times=2))
    lake.add(Rule("glue:UpdateTable", "reset", times=1))
    result = publish(write_snapshot(S2, 4))
    assert result["action"] == "published"
    assert lake.faults["throttle glue:GetTable"] == 2 and lake.faults["reset glue:UpdateTable"] == 1
    assert readers.current_snapshot(DATABASE, TABLE) == f"snapshot={S2}"
    assert current_rows() == 4
    # the snapshot's manifest is read with GETs alone (no HEAD before each): what is missing answers NoSuchKey
    manifest_calls = {name: n for name, n in lake.calls.items() if S2 in name and name.endswith("_manifest.json")}
    assert manifest_calls and all(name.startswith("s3:GET ") for name in manifest_calls), manifest_calls


def test_publish_whose_switch_keeps_failing_leaves_readers_on_the_previous_snapshot(lake, injected):
    injected("Glue UpdateTable answers 500 on every call during publish")
    publish(write_snapshot(S1, 2))
    lake.add(Rule("glue:UpdateTable", "fail", times=None))
    with pytest.raises(AirflowException) as failed:
        publish(write_snapshot(S2, 4))
    assert not isinstance(failed.value, AirflowFailException), "a service fault is retried, not terminal"
    assert "UpdateTable" in str(failed.value) or "InternalServerError" in str(failed.value), str(failed.value)
    lake.clear()
    assert readers.current_snapshot(DATABASE, TABLE) == f"snapshot={S1}"
    assert current_rows() == 2
    assert publish(write_snapshot(S2, 4))["action"] == "published"  # the task's retry, once the fault is gone
    assert current_rows() == 4


def test_publish_switch_lost_after_glue_applied_it_is_retried_to_the_same_result(lake, injected):
    injected("reset the connection after Glue applied UpdateTable (the client never sees the answer)")
    publish(write_snapshot(S1, 2))
    lake.add(Rule("glue:UpdateTable", "reset", times=1, after_forward=True))
    result = publish(write_snapshot(S2, 4))
    assert result["action"] in ("published", "unchanged"), result  # the retry finds its own switch applied
    assert readers.current_snapshot(DATABASE, TABLE) == f"snapshot={S2}"
    assert current_rows() == 4


# --- case 7: retention under faults -----------------------------------------------------------------------------------

def retention(grace: timedelta):
    from ddb_lake.operators.snapshot_publish import SnapshotRetentionOperator

    return SnapshotRetentionOperator(task_id="retention", database=DATABASE, table_name=TABLE, bucket=BUCKET,
                                     prefix="mirror", grace_period=grace, keep_last=1).execute({})


def test_retention_whose_deletes_fail_leaves_every_snapshot_whole_and_the_current_readable(lake, injected):
    injected("S3 DeleteObject(s) answer 500 on every call during retention (case 7)")
    for stamp, count in ((S0, 1), (S1, 2), (S2, 3)):
        publish(write_snapshot(stamp, count))
    before = readers.snapshot_folders(BUCKET, ROOT)
    lake.add(Rule(r"s3:(DELETE |POST /lake\?delete)", "fail", times=None))
    with pytest.raises(AirflowException):
        retention(timedelta(milliseconds=1))
    lake.clear()
    assert readers.snapshot_folders(BUCKET, ROOT) == before  # nothing half-deleted
    assert readers.current_snapshot(DATABASE, TABLE) == f"snapshot={S2}" and current_rows() == 3
    # within the grace nothing superseded goes; past it (the fault gone) the superseded ones go, the current stays
    assert readers.snapshot_folders(BUCKET, ROOT) == before
    retention(timedelta(hours=1))
    assert readers.snapshot_folders(BUCKET, ROOT) == before
    retention(timedelta(milliseconds=1))
    assert list(readers.snapshot_folders(BUCKET, ROOT)) == [f"snapshot={S2}"]
    assert current_rows() == 3


# --- case 6: a failed Athena query, its cause fixed, a new try --------------------------------------------------------

def repair(try_number: int, run_id: str):
    from ddb_lake.operators.athena_partitions import AthenaPartitionRepairOperator

    return AthenaPartitionRepairOperator(
        task_id="repair", database=DATABASE, table=f"{TABLE}_snapshots", snapshot=S2,
        location=f"s3://{BUCKET}/{ROOT}snapshot={S2}", output_location=OUTPUT, poll_interval=0,
    ).execute({"ti": SimpleNamespace(try_number=try_number), "run_id": run_id})


def test_athena_repair_after_a_fixed_cause_reruns_clean_and_survives_a_throttled_start(lake, injected):
    injected("Athena repair query FAILED (its table missing), then the cause fixed (case 6)")
    injected("throttle Athena StartQueryExecution and reset one GetQueryExecution")
    write_snapshot(S2, 3)
    with pytest.raises(AirflowFailException, match="ended FAILED"):
        repair(1, "scheduled__2026-11-22T00:00:00+00:00")
    glue = readers.client("glue")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(DatabaseName=DATABASE, TableInput=glue_table.table_input(
        f"{TABLE}_snapshots", glue_table.glue_columns(SCHEMA), f"s3://{BUCKET}/{ROOT}", partitioned=True))
    lake.add(Rule("athena:StartQueryExecution", "throttle", times=2))
    lake.add(Rule("athena:GetQueryExecution", "reset", times=1))
    result = repair(2, "scheduled__2026-11-22T00:00:00+00:00")  # the task's retry: a new attempt, a new query
    assert result["state"] == "SUCCEEDED"
    assert lake.faults["throttle athena:StartQueryExecution"] == 2
    rows = readers.athena(f"SELECT snapshot, COUNT(*) FROM {TABLE}_snapshots GROUP BY snapshot", DATABASE, OUTPUT)
    assert rows == [[S2, "3"]]


# --- cases 10 and 12: the export wait's bound on 5xx, and an O(1) reattach -------------------------------------------

def export_task(table: str, prefix: str):
    from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator

    return DynamoDBExportOperator(task_id="export", table_name=table, s3_bucket=BUCKET, s3_prefix=prefix,
                                  check_recovery_window=False, waiter_delay=0, waiter_max_attempts=20,
                                  max_server_errors=3)


def export_context(task) -> dict:
    from ddb_lake.compat import DAG

    end = datetime.now(UTC).replace(microsecond=0)
    dag = DAG("ddb_lake_fault_export", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=UTC))
    return {"dag": dag, "task": task, "data_interval_start": end - timedelta(days=1), "data_interval_end": end,
            "logical_date": end - timedelta(days=1), "params": {}, "ti": SimpleNamespace(try_number=1),
            "run_id": "scheduled__fault"}


def pitr_table(name: str, items: int, older_exports: int = 0) -> None:
    dynamodb = readers.client("dynamodb")
    dynamodb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    for i in range(items):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
    dynamodb.update_continuous_backups(TableName=name,
                                       PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    for n in range(older_exports):
        dynamodb.export_table_to_point_in_time(TableArn=arn, S3Bucket=BUCKET, S3Prefix=f"old/{n}")


def test_export_wait_ends_after_bounded_5xx_with_a_clear_message_then_finds_the_export(lake, injected):
    from ddb_lake.core.export.failures import ExportRetryableError
    from ddb_lake.hooks.dynamodb_export import DynamoDBExportHook

    injected("DynamoDB DescribeExport answers 500 on every call while the export is waited for (case 10)")
    pitr_table("orders", 4)
    task = export_task("orders", "mirror/exports/orders/full/20261122T000000Z")
    arn = task.execute(export_context(task))["export_arn"]  # moto's export is COMPLETED at once: wait on it now
    lake.calls.clear()
    lake.add(Rule("dynamodb:DescribeExport", "fail", times=None))
    hook = DynamoDBExportHook(aws_conn_id="aws_default")
    with pytest.raises(ExportRetryableError) as failed:
        hook.wait_for_export(arn, delay=0, max_attempts=50, max_server_errors=3)
    message = str(failed.value)
    assert arn in message and "3 server errors in a row" in message and "reattaches" in message, message
    # bounded: 3 polls in a row, each tried 10 times by the SDK (botocore's default for DynamoDB)
    assert lake.calls["dynamodb:DescribeExport"] == 3 * 10
    lake.clear()  # the service recovers: the next wait (the task's retry) ends at once
    hook.wait_for_export(arn, delay=0, max_attempts=5, max_server_errors=3)
    assert lake.calls["dynamodb:DescribeExport"] == 1


def test_the_export_tasks_retry_after_20_older_exports_makes_o1_calls(lake, injected):
    injected("the export task's retry, 20 older exports on the table, its DescribeExport throttled once (case 12)")
    pitr_table("orders", 4, older_exports=20)
    task = export_task("orders", "mirror/exports/orders/full/20261122T000000Z")
    first = task.execute(export_context(task))
    lake.clear()
    lake.add(Rule("dynamodb:DescribeExport", "throttle", times=1))
    task = export_task("orders", "mirror/exports/orders/full/20261122T000000Z")
    result = task.execute(export_context(task))  # the task's retry (or a rerun of the interval)
    dynamodb_calls = {name: n for name, n in lake.calls.items() if name.startswith("dynamodb:")}
    assert dynamodb_calls.get("dynamodb:ExportTableToPointInTime", 0) == 0, "no second export"
    assert dynamodb_calls.get("dynamodb:ListExports", 0) == 0, "the retry reads its record, lists nothing"
    assert dynamodb_calls.get("dynamodb:DescribeExport", 0) == 2, "one DescribeExport, retried once by the SDK"
    assert sum(dynamodb_calls.values()) <= 4, dynamodb_calls
    assert result["export_arn"] == first["export_arn"] and result["item_count"] == 4
    arn = readers.client("dynamodb").describe_table(TableName="orders")["Table"]["TableArn"]
    assert len(readers.client("dynamodb").list_exports(TableArn=arn)["ExportSummaries"]) == 21


def test_export_start_survives_throttling(lake, injected):
    injected("throttle DynamoDB ExportTableToPointInTime twice and DescribeTable once")
    pitr_table("orders", 2)
    lake.add(Rule("dynamodb:ExportTableToPointInTime", "throttle", times=2))
    lake.add(Rule("dynamodb:DescribeTable", "throttle", times=1))
    task = export_task("orders", "mirror/exports/orders/full/20261122T000000Z")
    result = task.execute(export_context(task))
    assert result["item_count"] == 2
    arn = readers.client("dynamodb").describe_table(TableName="orders")["Table"]["TableArn"]
    assert len(readers.client("dynamodb").list_exports(TableArn=arn)["ExportSummaries"]) == 1


# --- case 12 (storage policy): lifecycle rules written under throttling ---------------------------------------------

def test_lifecycle_rules_are_written_through_throttling_and_keep_the_buckets_other_rules(lake, injected):
    from ddb_lake.operators.lake_lifecycle import LakeLifecycleOperator

    injected("S3 PutBucketLifecycleConfiguration answers 503 SlowDown twice (case 12, storage policy)")
    s3 = readers.client("s3")
    other = {"ID": "someone-elses", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [other]})
    lake.add(Rule(r"s3:PUT /lake\?lifecycle", "slowdown", times=2))
    operator = LakeLifecycleOperator(task_id="lifecycle", bucket=BUCKET, prefix="mirror", table="orders",
                                     raw_export_days=7, changes_days=None)
    operator.execute({})
    assert sum(n for name, n in lake.faults.items() if name.startswith("slowdown s3:PUT /lake?lifecycle")) == 2
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert {r["ID"] for r in rules} >= {"someone-elses", "ddb-lake-orders-raw-exports"}


# --- case 1: the CLI owns only what it wrote, under S3 faults ---------------------------------------------------------

def cli_export(tmp_path: Path) -> str:
    from ddb_lake.core.convert.export_writer import item_line, write_export

    files = [[item_line({"pk": {"S": f"f{f}-{i}"}, "n": {"N": str(i)}}) for i in range(20)] for f in range(3)]
    src = write_export(tmp_path / "AWSDynamoDB" / "01700000000000-fault0001", files)
    s3 = readers.client("s3")
    for path in src.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"exports/t/AWSDynamoDB/{src.name}/{path.relative_to(src)}")
    s3.put_object(Bucket=BUCKET, Key="README.txt", Body=b"not ours")
    s3.put_object(Bucket=BUCKET, Key="snapshots/t/snapshot=0/part-00000.parquet", Body=b"older snapshot")
    return f"s3://{BUCKET}/exports/t/AWSDynamoDB/{src.name}/"


def convert_cli(source: str, dest: str, endpoint: str, *extra: str) -> tuple[int, str, str]:
    import os
    import subprocess

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-m", "ddb_lake.core.cli", "convert", source, dest, "--endpoint-url",
                           endpoint, "--quiet", *extra], env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("dest", ["s3://lake", "s3://lake/snapshots/t"], ids=["bucket-root", "table-folder"])
def test_cli_into_a_folder_it_does_not_own_refuses_under_throttling_and_touches_nothing(lake, injected, tmp_path,
                                                                                        dest):
    injected(f"CLI convert into {dest} holding foreign objects, S3 reads throttled (case 1)")
    source = cli_export(tmp_path)
    before = readers.keys(BUCKET)
    lake.add(Rule(r"s3:GET /lake", "slowdown", times=2))
    status, out, err = convert_cli(source, dest, lake.url)
    assert status == 3, err[-2000:]
    assert json.loads(out.splitlines()[-1])["error"] == "DestinationNotOwnedError"
    assert "is not empty" in err and "Fix:" in err
    assert readers.keys(BUCKET) == before  # nothing written, nothing deleted


def test_cli_into_its_own_folder_survives_put_faults_and_leaves_siblings_alone(lake, injected, tmp_path):
    injected("CLI convert with Parquet PUTs answering 503 SlowDown and one reset (case 1)")
    source = cli_export(tmp_path)
    before = readers.keys(BUCKET)
    folder = r"s3:PUT /lake/snapshots/t/snapshot(=|%3D)1/"  # the proxy sees keys URL-quoted
    slowed = lake.add(Rule(folder + "part-", "slowdown", times=2))
    reset = lake.add(Rule(folder + "_manifest", "reset", times=1))
    status, out, err = convert_cli(source, "s3://lake/snapshots/t/snapshot=1", lake.url, "--workers", "2")
    assert status == 0, err[-2000:]
    assert json.loads(out.splitlines()[-1])["items"] == 60
    assert (slowed.hits, reset.hits) == (2, 1)
    after = readers.keys(BUCKET)
    assert {k: after[k] for k in before} == before  # README.txt, the sibling snapshot and the export untouched
    written = sorted(k for k in after if k.startswith("snapshots/t/snapshot=1/"))
    assert written[0] == "snapshots/t/snapshot=1/_manifest.json"
    s3 = readers.client("s3")
    rows = sum(pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())).num_rows
               for k in written if k.endswith(".parquet"))
    assert rows == 60


def test_cli_killed_while_placing_its_parts_leaves_them_owned_by_its_rerun(lake, injected, tmp_path):
    injected("CLI convert SIGKILLed while a Parquet part's PUT is in flight; its rerun replaces what it left (case 1)")
    import os
    import signal
    import subprocess

    source, dest = cli_export(tmp_path), "s3://lake/snapshots/t/snapshot=1"
    before = readers.keys(BUCKET)
    release = threading.Event()
    rule = lake.add(Rule(r"s3:PUT /lake/snapshots/t/snapshot(=|%3D)1/part-", "hold", after=1, release=release,
                         seconds=120, drop=True))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    process = subprocess.Popen([sys.executable, "-m", "ddb_lake.core.cli", "convert", source, dest, "--endpoint-url",
                                lake.url, "--quiet", "--workers", "3"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert rule.held.wait(120), process.stderr.read()[-2000:] if process.poll() is not None else "no part PUT"
        os.killpg(process.pid, signal.SIGKILL)  # the CLI and its pool: a worker killed mid-upload
        process.wait(timeout=60)
    finally:
        release.set()
        lake.clear()
    for _ in range(100):  # the PUTs that reached the proxy before the kill land in moto
        left = sorted(k.rsplit("/", 1)[1] for k in readers.keys(BUCKET, "snapshots/t/snapshot=1/"))
        if len(left) >= 2:
            break
        time.sleep(0.05)
    assert left[0] == "_writing.json" and len(left) >= 2 and "_manifest.json" not in left, left  # parts, no manifest
    status, out, err = convert_cli(source, dest, lake.url, "--workers", "1")
    assert status == 0, err[-2000:]
    summary = json.loads(out.splitlines()[-1])
    after = readers.keys(BUCKET)
    written = sorted(k.rsplit("/", 1)[1] for k in after if k.startswith("snapshots/t/snapshot=1/"))
    assert written == sorted(["_manifest.json", *(f["path"].rsplit("/", 1)[1] for f in summary["files"])])
    assert not set(written) & set(left)  # every part the killed run placed was its own: replaced, none left over
    assert {k: after[k] for k in before} == before  # README.txt, the sibling snapshot and the export untouched
