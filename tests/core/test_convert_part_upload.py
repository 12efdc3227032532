"""Parts go to S3 as they close: the work folder never holds more than one finished part per process."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from boto3.exceptions import S3UploadFailedError

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.dest_writer import OwnerGoneError, place_part
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.convert.storage import Storage

pytestmark = pytest.mark.integration
WORKERS = 2

# bench/process_tree.py by its path: bench/ on sys.path would shadow include/cdc with bench/cdc.py
_spec = importlib.util.spec_from_file_location(
    "process_tree", Path(__file__).resolve().parents[2] / "bench" / "process_tree.py")
process_tree = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(process_tree)


def test_the_work_folder_holds_at_most_one_part_per_process(tmp_path: Path, moto_reset: str):
    options = {"key": "testing", "secret": "testing",
               "client_kwargs": {"endpoint_url": moto_reset, "region_name": "us-east-1"}}
    s3 = boto3.client("s3", endpoint_url=moto_reset, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="lake")
    files = [[item_line({"pk": {"S": f"f{f}-{i:04d}"}, "pad": {"S": f"{i * 7919:040d}"}}) for i in range(300)]
             for f in range(12)]
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-upload01", files)
    work = tmp_path / "work"
    work.mkdir()
    with process_tree.FolderPeak(work, interval=0.001) as watch:
        summary = convert_export(str(src), "s3://lake/snap/1", storage_options=options, work_dir=str(work),
                                 workers=WORKERS, target_file_bytes=4 << 10, row_group_rows=100)
    parts = summary["files"]
    assert len(parts) >= 12 and summary["items"] == 3600  # one part or more per data file: 12 or more in all
    peak = watch.peak
    assert 1 <= peak["parquet_files"] <= WORKERS, (peak, watch.polls)  # staged all at once before: len(parts)
    assert peak["parquet_bytes"] <= WORKERS * max(p["bytes"] for p in parts)
    assert list(work.iterdir()) == []  # the work folder is gone with its raw chunks
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="snap/1/")["Contents"])
    assert keys == sorted(["snap/1/_manifest.json", *(p["path"].removeprefix("s3://lake/") for p in parts)])
    body = s3.get_object(Bucket="lake", Key=parts[0]["path"].removeprefix("s3://lake/"))["Body"].read()
    (tmp_path / "first.parquet").write_bytes(body)
    assert pq.read_metadata(tmp_path / "first.parquet").num_rows == parts[0]["rows"]


def test_a_part_that_cannot_be_placed_names_itself_and_a_killed_owner_places_nothing(tmp_path: Path,
                                                                                     moto_reset: str):
    storage = Storage({"key": "testing", "secret": "testing",
                       "client_kwargs": {"endpoint_url": moto_reset, "region_name": "us-east-1"}})
    local = tmp_path / "part-0123456789ab-00000-00003.parquet"
    local.write_bytes(b"PAR1")
    url = f"s3://no-such-bucket/snap/1/{local.name}"
    with pytest.raises(S3UploadFailedError, match="NoSuchBucket") as caught:
        place_part(storage, local, url)
    assert caught.value.__notes__ == [f"ddb-lake: placing Parquet part {local.name} at {url} failed"]
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that has ended: the converting process of a worker it left behind
    with pytest.raises(OwnerGoneError, match=f"the converting process {gone.pid} ended; {local.name} was not placed"):
        place_part(storage, local, url, owner_pid=gone.pid)
    assert not local.exists()
