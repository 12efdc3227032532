"""What the triggerer's shared event loop pays for ddb-lake's triggers, and the deferral-race mitigations.

The triggerer imports a trigger's module inside its event loop (``TriggerRunner.create_triggers``): a module that
imports boto3 or the google BigQuery stack there stalls every other trigger for 1-4 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.triggers.dynamodb_export import DynamoDBExportTrigger

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys, time
import airflow.triggers.base, ddb_lake.compat
took = {}
for name in ("ddb_lake.triggers.dynamodb_export", "ddb_lake.destinations.bigquery.job_trigger"):
    start = time.perf_counter()
    __import__(name)
    took[name] = time.perf_counter() - start
heavy = sorted(m for m in ("boto3", "botocore", "aiobotocore", "google.cloud.bigquery") if m in sys.modules)
print("PROBE:" + json.dumps({"heavy": heavy, "seconds": took}))
"""


def test_trigger_modules_import_no_sdk(tmp_path):
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False,
                            env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(REPO_ROOT / "plugins"),
                                 "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow")})
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE:")]
    assert lines, result.stderr[-3000:]
    report = json.loads(lines[0][len("PROBE:"):])
    assert report["heavy"] == []
    assert max(report["seconds"].values()) < 0.5, report  # boto3 alone took ~1.0 s here


@pytest.mark.integration
def test_first_poll_comes_one_interval_after_deferring(aws, trigger_event):
    from test_export_wait import start_export

    export_arn = start_export(aws)  # already COMPLETED: an immediate poll would fire at once
    started = time.monotonic()
    event = trigger_event(DynamoDBExportTrigger(export_arn, waiter_delay=2, waiter_max_attempts=3))
    assert event.payload == {"status": "success", "export_arn": export_arn}
    assert time.monotonic() - started >= 2.0


def test_deferrable_tasks_keep_a_retry():
    export = DynamoDBExportOperator(task_id="export", table_name="t", s3_bucket="b", s3_prefix="p", deferrable=True,
                                    retries=0)
    load = BigQueryLoadSnapshotOperator(task_id="load", snapshot={}, transfer={}, project_id="p", dataset="d",
                                        table="t", deferrable=True, retries=0)
    sync = DynamoDBExportOperator(task_id="sync", table_name="t", s3_bucket="b", s3_prefix="p", retries=0)
    assert (export.retries, load.retries, sync.retries) == (1, 1, 0)
    assert DynamoDBExportOperator(task_id="e3", table_name="t", s3_bucket="b", s3_prefix="p", deferrable=True,
                                  retries=3).retries == 3
