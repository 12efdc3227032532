"""export.mode scan under faults, through the fault proxy: throttled Scan calls, and a try killed half-way.

Readers check over clean connections: every item once (none missing, none twice), the manifests' counts exact.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import readers
from fault_proxy import Rule

pytestmark = [pytest.mark.integration, pytest.mark.faults]

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLE, BUCKET, ITEMS = "scan-faults", "lake", 200
PREFIX = "lake/exports/scan_faults/full/20261122T000000Z"
END = datetime(2026, 11, 22, tzinfo=UTC)
# on-demand table, 8 read units/s over 4 segments: 2 units/s each; moto charges 1 unit per Scan page of 10 items
SCAN = {"segments": 4, "page_items": 10, "file_items": 20, "target_read_units_per_second": 8}
RUN_SCAN = f"""
import json, sys
from ddb_lake.operators.dynamodb_scan_export import DynamoDBScanExportOperator
task = DynamoDBScanExportOperator(task_id="export", table_name={TABLE!r}, s3_bucket={BUCKET!r}, s3_prefix={PREFIX!r},
                                  export_time={END.isoformat()!r}, scan=json.loads(sys.argv[1]))
print(json.dumps(task.execute({{}})["item_count"]))
"""


@pytest.fixture
def table(proxy):
    """A table without PITR (on-demand) with ITEMS items and the lake bucket, set up straight on moto."""
    dynamodb = readers.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    for start in range(0, ITEMS, 25):
        batch = [{"PutRequest": {"Item": {"pk": {"S": f"item-{n:04d}"}, "n": {"N": f"{n}.{n:03d}"}}}}
                 for n in range(start, min(start + 25, ITEMS))]
        dynamodb.batch_write_item(RequestItems={TABLE: batch})
    readers.client("s3").create_bucket(Bucket=BUCKET)
    return proxy


def scan_export(**scan):
    from ddb_lake.operators.dynamodb_scan_export import DynamoDBScanExportOperator

    task = DynamoDBScanExportOperator(task_id="export", table_name=TABLE, s3_bucket=BUCKET, s3_prefix=PREFIX,
                                      export_time=END.isoformat(), scan={**SCAN, **scan})
    return task.execute({})


def exported_keys(result: dict) -> list[str]:
    """The ``pk`` of every item in the data files manifest-files.json lists (read straight from moto)."""
    import gzip

    s3 = readers.client("s3")
    folder = result["export_folder"].removeprefix(f"s3://{BUCKET}/")
    listed = s3.get_object(Bucket=BUCKET, Key=f"{folder}manifest-files.json")["Body"].read().decode().splitlines()
    keys = []
    for entry in map(json.loads, listed):
        body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=entry["dataFileS3Key"])["Body"].read()).decode()
        lines = [json.loads(line)["Item"] for line in body.splitlines()]
        assert len(lines) == entry["itemCount"]
        keys.extend(item["pk"]["S"] for item in lines)
    return keys


def test_throttled_scan_backs_off_and_finishes_within_its_read_budget(table, injected, monkeypatch):
    injected("throttle 8 Scan calls in a row (ThrottlingException), then 4 more after 13 good ones")
    extra = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    extra["extra"]["config_kwargs"] = {"retries": {"mode": "standard", "max_attempts": 2}}  # botocore retries once:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(extra))  # the throttles reach the hook's backoff
    table.add(Rule("dynamodb:Scan", "throttle", times=8))
    table.add(Rule("dynamodb:Scan", "throttle", times=4, after=13))
    started = time.monotonic()
    result = scan_export()
    seconds = time.monotonic() - started
    assert table.faults["throttle dynamodb:Scan"] == 12
    keys = exported_keys(result)
    assert sorted(keys) == [f"item-{n:04d}" for n in range(ITEMS)]  # none missing, none twice
    scan = result["scan"]
    assert result["item_count"] == ITEMS and scan["pages"] == table.calls["dynamodb:Scan"] - 12
    assert scan["units_per_second"] <= 8.0  # the average over the scan stays under the configured rate
    assert seconds >= scan["read_units"] / 8.0 - 0.5


def test_scan_killed_half_way_resumes_with_no_duplicate_and_no_missing_item(table, injected, tmp_path):
    injected("kill -9 the scan export's process after its first checkpoints, leave a stray data file, resume")
    s3 = readers.client("s3")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "plugins")}
    log = (tmp_path / "killed.log").open("w")
    process = subprocess.Popen([sys.executable, "-c", RUN_SCAN, json.dumps(SCAN)], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    checkpoints_prefix = f"{PREFIX}/_ddb_lake_scan/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        found = s3.list_objects_v2(Bucket=BUCKET, Prefix=checkpoints_prefix).get("Contents", [])
        if len(found) >= 4:  # every segment has finished a data file
            break
        time.sleep(0.2)
    assert process.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    export_folder = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/AWSDynamoDB/")["Contents"][0]["Key"]
    folder = export_folder.split("/data/")[0]
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{folder}/manifest-summary.json").get("Contents")
    done_before = [json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())
                   for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=checkpoints_prefix)["Contents"]]
    pages_before = sum(c["pages"] for c in done_before)
    assert pages_before > 0 and not all(c["done"] for c in done_before)
    stray = f"{folder}/data/segment-00000-part-00099.json.gz"  # as if written by the killed try after its checkpoint
    s3.put_object(Bucket=BUCKET, Key=stray, Body=b"not counted")
    calls_before = table.calls["dynamodb:Scan"]

    result = scan_export(target_read_units_per_second=1000)  # the same interval, faster: the same export folder
    assert result["export_folder"] == f"s3://{BUCKET}/{folder}/"
    keys = exported_keys(result)
    assert sorted(keys) == [f"item-{n:04d}" for n in range(ITEMS)]  # none missing, none twice
    assert result["item_count"] == ITEMS
    resumed_calls = table.calls["dynamodb:Scan"] - calls_before
    assert resumed_calls == result["scan"]["pages"] - pages_before  # only pages after the checkpoints were read
    assert resumed_calls < ITEMS // 10 + 4  # fewer than a scan from the start (20 pages + 4 segment ends)
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix=stray).get("Contents"), "the stray data file was deleted"
