"""Storage Transfer Service option of SnapshotToGCSOperator: the job resource, and the operator over HTTP.

The operator's google client (the provider's ``CloudDataTransferServiceHook`` discovery client) is pointed at a
recording stand-in of the REST API on 127.0.0.1 (``storage_transfer_stub.py``) through its API endpoint option, the
same one a Private Service Connect endpoint uses; the stand-in copies moto S3 -> GCS emulator for real.
"""

from __future__ import annotations

import json
import re

import pytest
from bq_context import run_context
from bq_snapshots import LAKE_BUCKET, SNAPSHOT, SNAPSHOT_PREFIX, put_snapshot, s3_client
from storage_transfer_stub import StorageTransferStub

from ddb_lake.compat import AirflowException
from ddb_lake.destinations.bigquery.transfer_job import (
    include_prefixes,
    operation_counters,
    operation_errors,
    transfer_job,
    transfer_job_name,
    transfer_method_for,
    transfer_spec,
    update_request,
)
from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator

PROJECT = "ddb-lake-local"
SOURCE_PATH = f"{SNAPSHOT_PREFIX}/"
NAMES = ["part-00000.parquet", "part-00001.parquet"]
API_NAME = re.compile(r"^transferJobs/(?!OPI)[A-Za-z0-9._~-]*[A-Za-z0-9]$")  # the TransferJob.name rule


# --- the job resource (pure) -------------------------------------------------------------------------------------
def test_job_name_is_deterministic_valid_and_bounded():
    name = transfer_job_name("ddb_lake_orders", "orders", SNAPSHOT, "s3://lake/x/ -> gs://b/orders/S/")
    assert name == "transferJobs/ddb-lake-ddb_lake_orders-orders-20261122T000000Z-0f58b024950a-g1"
    assert name == transfer_job_name("ddb_lake_orders", "orders", SNAPSHOT, "s3://lake/x/ -> gs://b/orders/S/")
    assert name != transfer_job_name("ddb_lake_orders", "orders", SNAPSHOT, "s3://lake/x/ -> gs://c/orders/S/")
    assert transfer_job_name("ddb_lake_orders", "orders", SNAPSHOT, "s3://lake/x/ -> gs://b/orders/S/", 2) == (
        "transferJobs/ddb-lake-ddb_lake_orders-orders-20261122T000000Z-0f58b024950a-g2"
    )
    long = transfer_job_name("dag with spaces/" + "x" * 200, "tbl:1", SNAPSHOT, "id")
    assert len(long) == 128 and API_NAME.match(long)
    assert long.startswith("transferJobs/ddb-lake-dag-with-spaces-xxx") and long.endswith("-g1")
    # Two long names that differ only past the cut still differ (the hash covers the whole identity).
    assert long != transfer_job_name("dag with spaces/" + "x" * 201, "tbl:1", SNAPSHOT, "id")


def test_transfer_job_with_access_key_is_the_documented_resource():
    spec = transfer_spec(
        s3_bucket="lake",
        s3_path=SNAPSHOT_PREFIX,
        gcs_bucket="staging",
        gcs_path="orders/20261122T000000Z",
        relative_names=list(reversed(NAMES)),
        aws_access_key=("AKIAEXAMPLE", "s3cr3t"),
    )
    job = transfer_job(project_id=PROJECT, job_name="transferJobs/ddb-lake-x-g1", description="d", spec=spec)
    assert job == {
        "name": "transferJobs/ddb-lake-x-g1",
        "projectId": PROJECT,
        "description": "d",
        "status": "ENABLED",
        "transferSpec": {
            "awsS3DataSource": {
                "bucketName": "lake",
                "path": "lake/snapshots/orders/snapshot=20261122T000000Z/",
                "awsAccessKey": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "s3cr3t"},
            },
            "gcsDataSink": {"bucketName": "staging", "path": "orders/20261122T000000Z/"},
            "transferOptions": {"overwriteWhen": "DIFFERENT", "deleteObjectsFromSourceAfterTransfer": False},
            "objectConditions": {"includePrefixes": ["part-00000.parquet", "part-00001.parquet"]},
        },
    }
    assert update_request(job) == {
        "projectId": PROJECT,
        "transferJob": {"description": "d", "transferSpec": job["transferSpec"], "status": "ENABLED"},
        "updateTransferJobFieldMask": "description,transferSpec,status",
    }


def test_transfer_spec_with_role_arn_and_argument_errors():
    role = "arn:aws:iam::123456789012:role/ddb-lake-sts"
    spec = transfer_spec(
        s3_bucket="lake", s3_path="/p/", gcs_bucket="g", gcs_path="", relative_names=["a"], role_arn=role
    )
    assert spec["awsS3DataSource"] == {"bucketName": "lake", "path": "p/", "roleArn": role}
    assert spec["gcsDataSink"] == {"bucketName": "g", "path": ""}
    with pytest.raises(ValueError, match="exactly one of role_arn or aws_access_key"):
        transfer_spec(s3_bucket="l", s3_path="p", gcs_bucket="g", gcs_path="x", relative_names=["a"])
    with pytest.raises(ValueError, match="exactly one of role_arn or aws_access_key"):
        transfer_spec(
            s3_bucket="l", s3_path="p", gcs_bucket="g", gcs_path="x", relative_names=["a"], role_arn=role,
            aws_access_key=("k", "s"),
        )  # fmt: skip
    with pytest.raises(ValueError, match="starts with 'transferJobs/'"):
        transfer_job(project_id=PROJECT, job_name="ddb-lake-x", description="d", spec=spec)


def test_include_prefixes_obey_the_api_limits():
    assert include_prefixes(["part-00001.parquet", "part-00000.parquet"]) == NAMES
    many = [f"part-{i:05d}.parquet" for i in range(1001)]  # over the API's 1000
    assert include_prefixes(many) == ["part-0"]
    assert include_prefixes(["part-1", "part-10"]) == ["part-1"]  # one may not be a prefix of another
    assert include_prefixes(["b", "a"]) == ["a", "b"]
    assert include_prefixes([f"a{i:04d}" for i in range(1000)] + ["b"]) == []  # no common prefix: the whole folder
    with pytest.raises(ValueError, match="non-empty names"):
        include_prefixes([])


def test_operation_counters_and_errors_read_the_documented_shapes():
    operation = {
        "name": "transferOperations/op-1",
        "done": True,
        "metadata": {
            "@type": "type.googleapis.com/google.storagetransfer.v1.TransferOperation",
            "status": "FAILED",
            "counters": {"objectsCopiedToSink": "1", "bytesCopiedToSink": "6508", "objectsFromSourceFailed": "1"},
            "errorBreakdowns": [
                {
                    "errorCode": "PERMISSION_DENIED",
                    "errorCount": "1",
                    "errorLogEntries": [{"url": "s3://lake/k/part-00001.parquet", "errorDetails": ["Access Denied"]}],
                }
            ],
        },
    }
    assert operation_counters(operation) == {
        "bytesCopiedToSink": 6508,
        "objectsCopiedToSink": 1,
        "objectsFromSourceFailed": 1,
    }
    assert operation_errors(operation) == ["PERMISSION_DENIED s3://lake/k/part-00001.parquet: Access Denied"]


def test_auto_picks_storage_transfer_above_the_threshold_only():
    assert transfer_method_for("auto", 5 * 1024**3 + 1, 5 * 1024**3) == "storage_transfer"
    assert transfer_method_for("auto", 5 * 1024**3, 5 * 1024**3) == "stream"
    assert transfer_method_for("stream", 10**15, 1) == "stream"
    assert transfer_method_for("storage_transfer", 1, 10**15) == "storage_transfer"
    with pytest.raises(ValueError, match="transfer_method must be one of"):
        transfer_method_for("sts", 1, 1)


def test_templated_fields_render():
    op = SnapshotToGCSOperator(
        task_id="t",
        snapshot={},
        gcs_bucket="b",
        gcs_prefix="orders/S",
        transfer_method="{{ params.method }}",
        storage_transfer_role_arn="arn:aws:iam::1:role/{{ params.role }}",
        project_id="{{ params.project }}",
    )
    assert {"transfer_method", "storage_transfer_role_arn", "project_id"} <= set(op.template_fields)
    from jinja2 import Environment

    params = {"method": "auto", "role": "sts", "project": "p1"}
    for name in ("transfer_method", "storage_transfer_role_arn", "project_id"):
        setattr(op, name, Environment().from_string(getattr(op, name)).render(params=params))
    assert (op.transfer_method, op.storage_transfer_role_arn, op.project_id) == (
        "auto",
        "arn:aws:iam::1:role/sts",
        "p1",
    )


# --- the operator over HTTP --------------------------------------------------------------------------------------
@pytest.fixture
def stub(gcs_emulator_host, moto_url):
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    server = StorageTransferStub(s3_client(), GCSHook().get_conn()).start()
    yield server
    server.stop()


def sts_operator(stub: StorageTransferStub, gcs_bucket: str, summary: dict, **kwargs) -> SnapshotToGCSOperator:
    args = {
        "task_id": "transfer_to_gcs",
        "snapshot": summary,
        "gcs_bucket": gcs_bucket,
        "gcs_prefix": f"orders/{summary['snapshot']}",
        "transfer_method": "storage_transfer",
        "storage_transfer_endpoint": stub.url,
        "storage_transfer_poll_seconds": 0.02,
        **kwargs,
    }
    return SnapshotToGCSOperator(**args)


def expected_name(gcs_bucket: str, generation: int = 1) -> str:
    identity = f"s3://{LAKE_BUCKET}/{SOURCE_PATH} -> gs://{gcs_bucket}/orders/{SNAPSHOT}/"
    return transfer_job_name("ddb_lake_orders", "orders", SNAPSHOT, identity, generation)


def calls(stub: StorageTransferStub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in stub.requests]


@pytest.mark.integration
def test_storage_transfer_copies_then_a_rerun_reuses_the_job_and_copies_nothing(stub, snapshot_on_s3, gcs_bucket):
    op = sts_operator(stub, gcs_bucket, snapshot_on_s3.summary)
    first = op.execute(run_context())

    name = expected_name(gcs_bucket)
    job_path, op1 = f"/v1/{name}", f"/v1/transferOperations/{name.replace('/', '-')}-1"
    assert calls(stub) == [
        ("GET", f"{job_path}?projectId={PROJECT}&alt=json"),
        ("POST", "/v1/transferJobs?alt=json"),
        ("POST", f"{job_path}:run?alt=json"),
        ("GET", f"{op1}?alt=json"),  # IN_PROGRESS
        ("GET", f"{op1}?alt=json"),  # SUCCESS
    ]
    identity = f"s3://lake/{SOURCE_PATH} -> gs://{gcs_bucket}/orders/{SNAPSHOT}/"
    assert stub.requests[1].body == {
        "name": name,
        "projectId": PROJECT,
        "description": f"ddb-lake ddb_lake_orders: orders snapshot {SNAPSHOT}, {identity}",
        "status": "ENABLED",
        "transferSpec": {
            "awsS3DataSource": {
                "bucketName": "lake",
                "path": SOURCE_PATH,
                "awsAccessKey": {"accessKeyId": "testing", "secretAccessKey": "testing"},  # aws_default's key
            },
            "gcsDataSink": {"bucketName": gcs_bucket, "path": f"orders/{SNAPSHOT}/"},
            "transferOptions": {"overwriteWhen": "DIFFERENT", "deleteObjectsFromSourceAfterTransfer": False},
            "objectConditions": {"includePrefixes": NAMES},
        },
    }
    assert stub.requests[2].body == {"projectId": PROJECT}

    # The streamed path's result shape (what BigQueryLoadSnapshotOperator and the run report read) plus the job.
    files = snapshot_on_s3.summary["files"]
    total = sum(f["bytes"] for f in files)
    uris = [f"gs://{gcs_bucket}/orders/{SNAPSHOT}/{n}" for n in NAMES]
    assert first["uris"] == uris and [f["destination"] for f in first["files"]] == uris
    assert [f["bytes"] for f in first["files"]] == [f["bytes"] for f in files]
    assert all(re.fullmatch(r"[A-Za-z0-9+/]{6}==", f["crc32c"]) for f in first["files"])  # read back from GCS
    assert (first["copied"], first["skipped"], first["bytes_copied"], first["bytes_total"]) == (2, 0, total, total)
    assert (first["gcs_bucket"], first["gcs_prefix"], first["snapshot"]) == (gcs_bucket, f"orders/{SNAPSHOT}", SNAPSHOT)
    assert first["transfer_method"] == "storage_transfer"
    assert first["storage_transfer"] == {
        "job_name": name,
        "operation_name": op1[len("/v1/") :],
        "how": "created",
        "counters": {
            "bytesCopiedToSink": total,
            "bytesFoundFromSource": total,
            "objectsCopiedToSink": 2,
            "objectsFoundFromSource": 2,
        },
    }
    s3 = s3_client()
    bucket = stub.gcs_client.bucket(gcs_bucket)
    for n in NAMES:
        expected = s3.get_object(Bucket=LAKE_BUCKET, Key=f"{SNAPSHOT_PREFIX}/{n}")["Body"].read()
        assert bucket.blob(f"orders/{SNAPSHOT}/{n}").download_as_bytes() == expected
    assert bucket.get_blob(f"orders/{SNAPSHOT}/_manifest.json") is None  # only the snapshot's Parquet files

    # A rerun (task retry or backfill): same job name, no second job; spec refreshed, run again, nothing copied.
    created = stub.requests[1].body
    del stub.requests[:]
    second = op.execute(run_context())
    op2 = f"/v1/transferOperations/{name.replace('/', '-')}-2"
    assert calls(stub) == [
        ("GET", f"{job_path}?projectId={PROJECT}&alt=json"),
        ("GET", f"{op1}?alt=json"),  # the latest operation finished: run again
        ("PATCH", f"{job_path}?alt=json"),
        ("POST", f"{job_path}:run?alt=json"),
        ("GET", f"{op2}?alt=json"),
        ("GET", f"{op2}?alt=json"),
    ]
    assert stub.requests[2].body == update_request(created)
    assert list(stub.jobs) == [name]
    assert (second["copied"], second["skipped"], second["bytes_copied"]) == (0, 2, 0)
    assert second["storage_transfer"]["how"] == "rerun"
    assert second["storage_transfer"]["counters"] == {
        "bytesFromSourceSkippedBySync": total,
        "objectsFromSourceSkippedBySync": 2,
    }
    assert [f["crc32c"] for f in second["files"]] == [f["crc32c"] for f in first["files"]]


@pytest.mark.integration
def test_a_retry_after_a_timeout_reattaches_to_the_running_operation(stub, snapshot_on_s3, gcs_bucket):
    stub.hold = True
    op = sts_operator(stub, gcs_bucket, snapshot_on_s3.summary, storage_transfer_timeout=0.1)
    with pytest.raises(AirflowException, match=r"operation transferOperations/\S+-g1-1 is still IN_PROGRESS after"):
        op.execute(run_context())
    assert stub.gcs_client.bucket(gcs_bucket).get_blob(f"orders/{SNAPSHOT}/{NAMES[0]}") is None

    stub.hold = False
    del stub.requests[:]
    result = sts_operator(stub, gcs_bucket, snapshot_on_s3.summary).execute(run_context())
    name = expected_name(gcs_bucket)
    op1 = f"/v1/transferOperations/{name.replace('/', '-')}-1?alt=json"
    # No create, no run, no patch: the same operation is waited for.
    assert calls(stub) == [("GET", f"/v1/{name}?projectId={PROJECT}&alt=json"), ("GET", op1), ("GET", op1)]
    assert result["storage_transfer"]["how"] == "reattached"
    assert (result["copied"], result["skipped"]) == (2, 0)
    assert len(stub.operations) == 1


@pytest.mark.integration
def test_a_failing_object_is_named_with_the_job_and_operation(stub, snapshot_on_s3, gcs_bucket):
    denied = f"{SNAPSHOT_PREFIX}/{NAMES[1]}"
    stub.denied_keys = {denied}
    name = expected_name(gcs_bucket)
    with pytest.raises(AirflowException) as caught:
        sts_operator(stub, gcs_bucket, snapshot_on_s3.summary).execute(run_context())
    message = str(caught.value)
    assert (
        f"Storage Transfer job {name} operation transferOperations/{name.replace('/', '-')}-1 ended FAILED" in message
    )
    assert f"PERMISSION_DENIED s3://{LAKE_BUCKET}/{denied}: Access Denied" in message

    # Fixed permissions: the retry patches and reruns the same job; the file already copied is skipped.
    stub.denied_keys = set()
    result = sts_operator(stub, gcs_bucket, snapshot_on_s3.summary).execute(run_context())
    assert (result["copied"], result["skipped"], result["storage_transfer"]["how"]) == (1, 1, "rerun")
    assert list(stub.jobs) == [name]


@pytest.mark.integration
def test_a_file_missing_after_a_successful_operation_fails_the_task(stub, snapshot_on_s3, gcs_bucket):
    # The source file vanished after conversion: the service finds nothing to copy for it and reports SUCCESS.
    s3_client().delete_object(Bucket=LAKE_BUCKET, Key=f"{SNAPSHOT_PREFIX}/{NAMES[1]}")
    with pytest.raises(AirflowException) as caught:
        sts_operator(stub, gcs_bucket, snapshot_on_s3.summary).execute(run_context())
    size = snapshot_on_s3.summary["files"][1]["bytes"]
    assert str(caught.value) == (
        "1 of 2 snapshot file(s) not in GCS as expected:\n"
        f"  s3://{LAKE_BUCKET}/{SNAPSHOT_PREFIX}/{NAMES[1]} -> gs://{gcs_bucket}/orders/{SNAPSHOT}/{NAMES[1]}: "
        f"expected {size} bytes, missing"
    )


@pytest.mark.integration
def test_a_deleted_job_moves_to_the_next_name_and_a_role_arn_replaces_the_key(stub, snapshot_on_s3, gcs_bucket):
    role = "arn:aws:iam::123456789012:role/ddb-lake-sts"
    g1 = expected_name(gcs_bucket, 1)
    stub.jobs[g1] = {"name": g1, "projectId": PROJECT, "status": "DELETED", "transferSpec": {}}
    result = sts_operator(stub, gcs_bucket, snapshot_on_s3.summary, storage_transfer_role_arn=role).execute(
        run_context()
    )
    g2 = expected_name(gcs_bucket, 2)
    assert calls(stub)[:3] == [
        ("GET", f"/v1/{g1}?projectId={PROJECT}&alt=json"),
        ("GET", f"/v1/{g2}?projectId={PROJECT}&alt=json"),
        ("POST", "/v1/transferJobs?alt=json"),
    ]
    source = stub.requests[2].body["transferSpec"]["awsS3DataSource"]
    assert source == {"bucketName": LAKE_BUCKET, "path": SOURCE_PATH, "roleArn": role}
    assert result["storage_transfer"]["job_name"] == g2 and result["copied"] == 2


@pytest.mark.integration
def test_auto_streams_small_snapshots_and_uses_storage_transfer_for_large_ones(stub, moto_reset, gcs_bucket):
    small = put_snapshot()
    total = sum(f["bytes"] for f in small.summary["files"])
    streamed = sts_operator(
        stub, gcs_bucket, small.summary, transfer_method="auto", storage_transfer_threshold_bytes=total
    ).execute(run_context())
    assert stub.requests == []  # exactly at the threshold: streamed through the worker
    assert streamed["transfer_method"] == "stream" and "storage_transfer" not in streamed
    assert [f["action"] for f in streamed["files"]] == ["copied", "copied"]

    large = put_snapshot(prefix="lake/snapshots/orders/snapshot=20261123T000000Z", snapshot="20261123T000000Z")
    moved = sts_operator(
        stub, gcs_bucket, large.summary, transfer_method="auto", storage_transfer_threshold_bytes=total - 1
    ).execute(run_context())
    assert moved["transfer_method"] == "storage_transfer"
    assert [m for m, _ in calls(stub)][:3] == ["GET", "POST", "POST"]
    assert moved["uris"] == [f"gs://{gcs_bucket}/orders/20261123T000000Z/{n}" for n in NAMES]


@pytest.mark.integration
def test_temporary_aws_credentials_are_refused_with_the_fix(stub, snapshot_on_s3, gcs_bucket, monkeypatch):
    conn = {"conn_type": "aws", "login": "ASIAEXAMPLE", "password": "s", "extra": {"aws_session_token": "t"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEMP", json.dumps(conn))
    op = sts_operator(stub, gcs_bucket, snapshot_on_s3.summary, aws_conn_id="aws_temp")
    with pytest.raises(AirflowException, match=r"temporary credentials .* Pass storage_transfer_role_arn"):
        op.execute(run_context())
    assert stub.requests == []


def test_an_unknown_transfer_method_fails_naming_the_task():
    summary = {"files": [{"path": "s3://l/p/t/snapshot=S/part-0.parquet", "bytes": 1}], "snapshot": "S",
               "snapshot_prefix": "s3://l/p/t/snapshot=S"}  # fmt: skip
    op = SnapshotToGCSOperator(task_id="t", snapshot=summary, gcs_bucket="b", gcs_prefix="t/S", transfer_method="sts")
    with pytest.raises(AirflowException, match="task 't': transfer_method must be one of"):
        op.execute(run_context())


@pytest.mark.integration
def test_hook_reads_409_as_taken_and_a_refused_run_as_the_active_operation(stub, snapshot_on_s3, gcs_bucket):
    from ddb_lake.destinations.bigquery.storage_transfer_hook import StorageTransferHook

    hook = StorageTransferHook(api_endpoint=stub.url, poll_seconds=0.02)
    spec = transfer_spec(
        s3_bucket=LAKE_BUCKET, s3_path=SNAPSHOT_PREFIX, gcs_bucket=gcs_bucket, gcs_path="x", relative_names=NAMES,
        role_arn="arn:aws:iam::1:role/r",
    )  # fmt: skip
    job = transfer_job(project_id=PROJECT, job_name="transferJobs/ddb-lake-race-g1", description="d", spec=spec)
    assert hook.create_job(job)["name"] == job["name"]
    assert hook.create_job(job) is None  # 409 ALREADY_EXISTS: a racing worker made it; the caller reads it back
    assert stub.requests[-1].method == "POST" and len(stub.jobs) == 1

    stub.hold = True
    first = hook.start_operation(job)
    # The service refuses a second run while one is active (400 FAILED_PRECONDITION): the active one is returned.
    assert hook.start_operation(job) == first
    op_path = f"/v1/{first}?alt=json"
    assert calls(stub)[-3:] == [
        ("POST", "/v1/transferJobs/ddb-lake-race-g1:run?alt=json"),  # refused
        ("GET", f"/v1/transferJobs/ddb-lake-race-g1?projectId={PROJECT}&alt=json"),  # latestOperationName
        ("GET", op_path),  # still active
    ]
    assert len(stub.operations) == 1
