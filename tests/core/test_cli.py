"""The ddb-lake CLI on a local export and, over HTTP, on a moto-S3 export."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.cli import main
from ddb_lake.core.convert.export_writer import item_line, write_export


@pytest.fixture(autouse=True)
def _fresh_process_logging(monkeypatch):
    """Run main() with the root logger a fresh ``ddb-lake`` process has: Airflow 2, once imported, logs to stdout."""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def _export(root: Path, **kwargs) -> Path:
    items = [item_line({"pk": {"S": f"k{i}"}, "n": {"N": str(i)}, "m": {"M": {"a": {"BOOL": True}}}}) for i in range(4)]
    return write_export(root / "exp" / "AWSDynamoDB" / "01700000000000-cli00000", [items], **kwargs)


def test_cli_local(tmp_path: Path, capsys):
    src = _export(tmp_path)
    assert main(["convert", str(src), str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["items"] == 4 and summary["files"][0]["rows"] == 4
    assert "ddb-lake:" in captured.err
    assert pq.read_table(tmp_path / "out").column("n").to_pylist() == [0, 1, 2, 3]


def test_cli_bad_export_exits_non_zero(tmp_path: Path, capsys):
    src = _export(tmp_path, manifest=False, suffix=".gz")
    assert main(["convert", str(src), str(tmp_path / "out"), "--expected-items", "5"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "ItemCountMismatchError" and error["export_id"] == "01700000000000-cli00000"
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_cli_on_moto_s3(tmp_path: Path, moto_reset: str):
    import boto3

    src = _export(tmp_path, manifest=False, suffix=".gz")
    s3 = boto3.client("s3", endpoint_url=moto_reset, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="lake")
    for path in src.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "lake", f"exports/t/AWSDynamoDB/{src.name}/{path.relative_to(src)}")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "ddb_lake.core.cli", "convert", f"s3://lake/exports/t/AWSDynamoDB/{src.name}/",
         "s3://lake/snapshots/t/snapshot=1", "--expected-items", "4", "--endpoint-url", moto_reset],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["items"] == 4 and summary["files"][0]["path"] == "s3://lake/snapshots/t/snapshot=1/part-00000.parquet"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="snapshots/")["Contents"])
    assert keys == ["snapshots/t/snapshot=1/_manifest.json", "snapshots/t/snapshot=1/part-00000.parquet"]
    body = s3.get_object(Bucket="lake", Key="snapshots/t/snapshot=1/part-00000.parquet")["Body"].read()
    (tmp_path / "back.parquet").write_bytes(body)
    assert pq.read_table(tmp_path / "back.parquet").column("pk").to_pylist() == ["k0", "k1", "k2", "k3"]
