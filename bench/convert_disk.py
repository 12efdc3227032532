"""Benchmark: the local disk a conversion to S3 holds at its peak (its work folder), on a private moto server.

    PYTHONPATH=plugins .venv/bin/python bench/convert_disk.py [--workers 2] [--files 40] [--items 1500]
                                                             [--target-kb 64]

Generates an export of ``--files`` data files, converts it to ``s3://lake/snap/1`` with ``target_file_bytes`` of
``--target-kb`` (many parts), and polls the work folder every 2 ms: the peak of all its bytes (pass 1's raw Arrow
IPC dominates) and the most Parquet files, and their bytes, it held at once (before parts were uploaded as they
close: every part, until the commit). Point ``PYTHONPATH`` at another checkout's ``plugins`` to compare.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from process_tree import FolderPeak

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export


def moto_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    for _ in range(200):
        try:
            s3.create_bucket(Bucket="lake")
            return process, url
        except Exception:  # not listening yet
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"moto_server did not start on {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--items", type=int, default=1500, help="items per data file")
    parser.add_argument("--target-kb", type=int, default=64, help="target_file_bytes in KiB")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ddb-lake-bench-disk-"))
    rows = [[item_line({"pk": {"S": f"f{f}-{i:06d}"}, "n": {"N": str(i)}, "pad": {"S": os.urandom(60).hex()}})
             for i in range(args.items)] for f in range(args.files)]
    source = write_export(root / "in" / "AWSDynamoDB" / "01700000000000-diskbench", rows)
    work = root / "work"
    work.mkdir()
    moto, url = moto_server()
    options = {"key": "testing", "secret": "testing",
               "client_kwargs": {"endpoint_url": url, "region_name": "us-east-1"}}
    try:
        with FolderPeak(work) as watch:
            summary = convert_export(str(source), "s3://lake/snap/1", storage_options=options, work_dir=str(work),
                                     workers=args.workers, target_file_bytes=args.target_kb << 10,
                                     row_group_rows=500, chunk_bytes=256 << 10)
    finally:
        moto.terminate()
    peak = watch.peak
    print(f"{summary['bytes_uncompressed']} B of JSON, {args.workers} worker(s): {len(summary['files'])} parts, "
          f"{summary['bytes_out']} B of Parquet, {summary['seconds']} s; work folder peak {peak['bytes']} B; at once "
          f"at most {peak['parquet_files']} Parquet file(s), {peak['parquet_bytes']} B")


if __name__ == "__main__":
    main()
