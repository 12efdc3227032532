"""S3 -> GCS transfer against moto server and the GCS emulator: streamed, verified, and idempotent."""

from __future__ import annotations

import os

import pytest
from bq_snapshots import LAKE_BUCKET, SNAPSHOT_PREFIX, s3_client

from ddb_lake.destinations.bigquery.transfer_hook import (
    SnapshotTransferHook,
    destination_name,
    is_plain_md5_etag,
    summarize,
)

pytestmark = pytest.mark.integration


def test_destination_name_and_etag_kinds():
    src = "s3://lake/p/snapshots/t/snapshot=S/part-00000.parquet"
    assert (
        destination_name(src, "s3://lake/p/snapshots/t/snapshot=S", "bq/t/snapshot=S")
        == "bq/t/snapshot=S/part-00000.parquet"
    )
    with pytest.raises(ValueError, match="is not under the snapshot prefix"):
        destination_name(src, "s3://lake/other", "x")
    assert is_plain_md5_etag('"9e107d9d372bb6826bd81d3542a419d6"')
    assert not is_plain_md5_etag('"9e107d9d372bb6826bd81d3542a419d6-3"')
    with pytest.raises(ValueError, match="multiple of 256 KiB"):
        SnapshotTransferHook(chunk_bytes=1000)


def test_copy_then_rerun_copies_nothing_and_a_changed_file_is_copied_again(snapshot_on_s3, gcs_bucket, gcs_object_root):
    hook = SnapshotTransferHook(chunk_bytes=256 * 1024)
    sources = snapshot_on_s3.files
    first = summarize(
        hook.copy_files(sources, gcs_bucket, "orders/snapshot=X", snapshot_on_s3.summary["snapshot_prefix"])
    )
    assert (first["copied"], first["skipped"]) == (2, 0)
    assert first["bytes_copied"] == sum(f["bytes"] for f in snapshot_on_s3.summary["files"])
    # Byte-for-byte the same as in S3 (the emulator keeps objects as plain files).
    s3 = s3_client()
    for f in snapshot_on_s3.summary["files"]:
        key = f["path"].split("/", 3)[3]
        on_disk = (gcs_object_root / gcs_bucket / "orders/snapshot=X" / key.rsplit("/", 1)[1]).read_bytes()
        assert on_disk == s3.get_object(Bucket=LAKE_BUCKET, Key=key)["Body"].read()

    second = summarize(
        hook.copy_files(sources, gcs_bucket, "orders/snapshot=X", snapshot_on_s3.summary["snapshot_prefix"])
    )
    assert (second["copied"], second["skipped"], second["bytes_copied"]) == (0, 2, 0)

    # A rewritten source (new ETag, same size or not) is copied again; the other file is still skipped.
    s3.put_object(Bucket=LAKE_BUCKET, Key=f"{SNAPSHOT_PREFIX}/part-00001.parquet", Body=b"PAR1 changed PAR1")
    third = summarize(
        hook.copy_files(sources, gcs_bucket, "orders/snapshot=X", snapshot_on_s3.summary["snapshot_prefix"])
    )
    assert [f["action"] for f in third["files"]] == ["skipped", "copied"]


def test_multipart_source_streams_in_chunks_and_is_skipped_by_recorded_etag(moto_reset, gcs_bucket):
    s3 = s3_client()
    s3.create_bucket(Bucket=LAKE_BUCKET)
    key = f"{SNAPSHOT_PREFIX}/part-big.parquet"
    payload = os.urandom(6 * 1024 * 1024 + 123)
    upload = s3.create_multipart_upload(Bucket=LAKE_BUCKET, Key=key)
    parts = []
    for number, start in enumerate((0, 5 * 1024 * 1024), start=1):
        part = s3.upload_part(
            Bucket=LAKE_BUCKET,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=payload[start : start + 5 * 1024 * 1024],
        )
        parts.append({"ETag": part["ETag"], "PartNumber": number})
    s3.complete_multipart_upload(
        Bucket=LAKE_BUCKET, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert not is_plain_md5_etag(s3.head_object(Bucket=LAKE_BUCKET, Key=key)["ETag"])

    hook = SnapshotTransferHook(chunk_bytes=1024 * 1024)  # 7 chunks for this file
    source = f"s3://{LAKE_BUCKET}/{key}"
    prefix = f"s3://{LAKE_BUCKET}/{SNAPSHOT_PREFIX}"
    assert [r.action for r in hook.copy_files([source], gcs_bucket, "big", prefix)] == ["copied"]
    listed = {b.name: int(b.size) for b in hook.gcs_client.list_blobs(gcs_bucket, prefix="big/")}
    assert listed == {"big/part-big.parquet": len(payload)}
    assert hook.gcs_client.bucket(gcs_bucket).blob("big/part-big.parquet").download_as_bytes() == payload
    assert [r.action for r in hook.copy_files([source], gcs_bucket, "big", prefix)] == ["skipped"]
