"""The ddb-lake CLI on a local export and, over HTTP, on a moto-S3 export."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.cli import main
from ddb_lake.core.convert.export_writer import item_line, write_export

PART = r"part-[0-9a-f]{12}-[0-9]{5}-[0-9]{5}\.parquet"  # a conversion's part (dest_ownership.PartNames)


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
           "PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    run = subprocess.run(
        [sys.executable, "-m", "ddb_lake.core.cli", "convert", f"s3://lake/exports/t/AWSDynamoDB/{src.name}/",
         "s3://lake/snapshots/t/snapshot=1", "--expected-items", "4", "--endpoint-url", moto_reset],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    (part,) = [f["path"].removeprefix("s3://lake/") for f in summary["files"]]
    assert summary["items"] == 4 and re.fullmatch(rf"snapshots/t/snapshot=1/{PART}", part)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="snapshots/")["Contents"])
    assert keys == ["snapshots/t/snapshot=1/_manifest.json", part]
    body = s3.get_object(Bucket="lake", Key=part)["Body"].read()
    (tmp_path / "back.parquet").write_bytes(body)
    assert pq.read_table(tmp_path / "back.parquet").column("pk").to_pylist() == ["k0", "k1", "k2", "k3"]


def _s3(moto_url: str):
    import boto3

    return boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _keys(s3, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", ()))


@pytest.fixture
def s3_lake(tmp_path: Path, moto_reset: str, monkeypatch):
    """A moto bucket ``lake`` holding an unrelated object, a sibling snapshot and a 3-file export; env for main()."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    s3 = _s3(moto_reset)
    s3.create_bucket(Bucket="lake")
    files = [[item_line({"pk": {"S": f"f{f}-{i}"}, "n": {"N": str(i)}}) for i in range(20)] for f in range(3)]
    src = write_export(tmp_path / "AWSDynamoDB" / "01700000000000-cli00003", files)
    for path in src.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "lake", f"exports/t/AWSDynamoDB/{src.name}/{path.relative_to(src)}")
    s3.put_object(Bucket="lake", Key="README.txt", Body=b"not ours")
    s3.put_object(Bucket="lake", Key="snapshots/t/snapshot=0/part-00000.parquet", Body=b"older snapshot")
    return s3, f"s3://lake/exports/t/AWSDynamoDB/{src.name}/", moto_reset


@pytest.mark.integration
def test_cli_leaves_unrelated_objects_and_sibling_snapshots_and_reruns_without_stale_files(s3_lake, capsys):
    s3, source, endpoint = s3_lake
    before = {k for k in _keys(s3) if not k.startswith("exports/")}
    dest = "s3://lake/snapshots/t/snapshot=1"
    assert main(["convert", source, dest, "--endpoint-url", endpoint, "--workers", "3", "--quiet"]) == 0
    first = _keys(s3, "snapshots/t/snapshot=1/")
    assert first[0] == "snapshots/t/snapshot=1/_manifest.json" and len(first) == 4
    assert all(re.fullmatch(rf"snapshots/t/snapshot=1/{PART}", key) for key in first[1:]), first
    capsys.readouterr()
    # The rerun writes one part under a new name: the first run's are its own, no longer listed, hence deleted.
    assert main(["convert", source, dest + "/", "--endpoint-url", endpoint, "--workers", "1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    (part,) = [f["path"].removeprefix("s3://lake/") for f in summary["files"]]
    assert _keys(s3, "snapshots/t/snapshot=1/") == ["snapshots/t/snapshot=1/_manifest.json", part]
    assert part not in first
    assert summary["items"] == 60 and [f["rows"] for f in summary["files"]] == [60]
    assert before <= set(_keys(s3))  # README.txt and snapshot=0 untouched
    assert s3.get_object(Bucket="lake", Key="snapshots/t/snapshot=0/part-00000.parquet")["Body"].read() == (
        b"older snapshot")


@pytest.mark.integration
@pytest.mark.parametrize(("dest", "first_foreign"), [("s3://lake", "README.txt"), ("s3://lake/", "README.txt"),
                                                     ("s3://lake/snapshots/t", "snapshot=0/part-00000.parquet")])
def test_cli_refuses_a_folder_holding_foreign_objects(s3_lake, capsys, dest, first_foreign):
    s3, source, endpoint = s3_lake
    before = {k: s3.head_object(Bucket="lake", Key=k)["ETag"] for k in _keys(s3)}
    assert main(["convert", source, dest, "--endpoint-url", endpoint, "--quiet"]) == 3
    captured = capsys.readouterr()
    error = json.loads(captured.out)
    assert error["error"] == "DestinationNotOwnedError" and error["dest"] == dest.rstrip("/")
    assert f"ddb-lake: error: {dest.rstrip('/')} is not empty" in captured.err
    assert "Fix: convert to an empty or new folder" in captured.err
    assert error["foreign"][0] == first_foreign
    assert {k: s3.head_object(Bucket="lake", Key=k)["ETag"] for k in _keys(s3)} == before  # nothing written/deleted


@pytest.mark.integration
def test_cli_keep_foreign_writes_beside_foreign_objects_and_never_deletes_them(s3_lake, capsys):
    s3, source, endpoint = s3_lake
    dest = "s3://lake/snapshots/t"
    assert main(["convert", source, dest, "--endpoint-url", endpoint, "--keep-foreign", "--workers", "3",
                 "--quiet"]) == 0
    assert main(["convert", source, dest, "--endpoint-url", endpoint, "--keep-foreign", "--workers", "1",
                 "--quiet"]) == 0
    keys = _keys(s3, "snapshots/t/")
    assert keys[0] == "snapshots/t/_manifest.json" and re.fullmatch(rf"snapshots/t/{PART}", keys[1])
    assert keys[2:] == ["snapshots/t/snapshot=0/part-00000.parquet"]


def test_cli_local_refuses_a_foreign_folder_and_reruns_its_own(tmp_path: Path, capsys):
    src = _export(tmp_path)
    table = tmp_path / "lake" / "t"
    (table / "snapshot=0").mkdir(parents=True)
    (table / "snapshot=0" / "part-00000.parquet").write_bytes(b"older snapshot")
    (table / "notes.txt").write_text("not ours")
    assert main(["convert", str(src), str(table), "--quiet"]) == 3
    error = json.loads(capsys.readouterr().out)
    assert error["foreign"] == ["notes.txt", "snapshot=0/part-00000.parquet"] and error["dest"] == str(table)
    assert sorted(p.relative_to(table).as_posix() for p in table.rglob("*") if p.is_file()) == [
        "notes.txt", "snapshot=0/part-00000.parquet"]

    dest = table / "snapshot=1"
    for _ in range(2):  # first run, then a rerun replacing its own files
        assert main(["convert", str(src), str(dest), "--quiet"]) == 0
        names = sorted(p.name for p in dest.iterdir())
        assert names[0] == "_manifest.json" and len(names) == 2 and re.fullmatch(PART, names[1])
    assert (table / "notes.txt").read_text() == "not ours"
    assert (table / "snapshot=0" / "part-00000.parquet").read_bytes() == b"older snapshot"
    assert not [p for p in table.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_cli_writes_straight_to_dest_and_never_into_a_lake_table_or_an_attempt_folder(tmp_path: Path, capsys):
    """Attempt folders keep the CLI's rules: a table folder and a DAG try's attempt folder are refused, untouched."""
    src = _export(tmp_path)
    table = tmp_path / "lake" / "snapshots" / "t"
    attempt = table / "_attempts" / "snapshot=20261122T000000Z" / "attempt=scheduled-71bbca42-try1"
    assert main(["convert", str(src), str(attempt), "--quiet"]) == 0  # as a DAG try wrote it (a new folder)
    (attempt / "_published.json").write_text("{}")
    capsys.readouterr()
    before = {p.relative_to(table).as_posix(): p.read_bytes() for p in table.rglob("*") if p.is_file()}
    for dest, words in ((table, "is not empty and holds 3 object(s)"),
                        (table / "_attempts", "is not empty and holds 3 object(s)"),
                        (attempt, "holds _published.json (a table was switched to it)")):
        assert main(["convert", str(src), str(dest), "--quiet"]) == 3
        captured = capsys.readouterr()
        assert json.loads(captured.out)["error"] == "DestinationNotOwnedError" and words in captured.err
    (attempt / "_published.json").unlink()  # not yet published, but a history partition may read it
    assert main(["convert", str(src), str(attempt), "--quiet"]) == 3
    assert "is a DAG convert try's attempt folder" in capsys.readouterr().err
    (attempt / "_published.json").write_text("{}")
    assert {p.relative_to(table).as_posix(): p.read_bytes() for p in table.rglob("*") if p.is_file()} == before
    beside = attempt.parent / "attempt=manual-by-hand"  # a new folder: the CLI writes straight into it
    assert main(["convert", str(src), str(beside), "--quiet"]) == 0
    names = sorted(p.name for p in beside.iterdir())
    assert names[0] == "_manifest.json" and len(names) == 2 and re.fullmatch(PART, names[1])
