"""Parts go to S3 as they close: the work folder never holds more than one finished part per process."""

from __future__ import annotations

import subprocess
import threading
import time
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


class FolderWatch:
    """The most ``*.parquet`` files (and their bytes) seen at once under ``folder``, polled every millisecond."""

    def __init__(self, folder: Path):
        self.folder, self.files, self.bytes, self.polls = folder, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FolderWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = []
            for part in self.folder.rglob("*.parquet"):
                try:
                    sizes.append(part.stat().st_size)
                except FileNotFoundError:  # placed (uploaded and deleted) while listed
                    pass
            self.files, self.bytes = max(self.files, len(sizes)), max(self.bytes, sum(sizes))
            self.polls += 1
            time.sleep(0.001)


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
    with FolderWatch(work) as watch:
        summary = convert_export(str(src), "s3://lake/snap/1", storage_options=options, work_dir=str(work),
                                 workers=WORKERS, target_file_bytes=4 << 10, row_group_rows=100)
    parts = summary["files"]
    assert len(parts) >= 12 and summary["items"] == 3600  # one part or more per data file: 12 or more in all
    assert 1 <= watch.files <= WORKERS, (watch.files, watch.polls)  # staged all at once before: len(parts)
    assert watch.bytes <= WORKERS * max(p["bytes"] for p in parts)
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
