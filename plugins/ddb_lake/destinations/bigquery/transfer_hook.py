"""Copy a snapshot's Parquet files from S3 to GCS through the worker in bounded memory, skipping copied files."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from ddb_lake.compat import AirflowException, BaseHook
from ddb_lake.core.convert.storage import split_url

log = logging.getLogger(__name__)

SOURCE_ETAG_KEY = "ddb-lake-source-etag"
SOURCE_URL_KEY = "ddb-lake-source"
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
"""GCS resumable upload chunk; the worker holds about one chunk per file in memory. Must be a multiple of 256 KiB."""


@dataclass(frozen=True)
class TransferredFile:
    source: str
    destination: str
    bytes: int
    action: str  # "copied" or "skipped"
    crc32c: str = ""


def is_plain_md5_etag(etag: str) -> bool:
    """True for a single-part upload's ETag (the object's MD5); multipart ETags end in ``-<parts>`` and are not MD5s."""
    etag = etag.strip('"')
    return len(etag) == 32 and "-" not in etag


class SnapshotTransferHook(BaseHook):
    """Streams S3 objects into GCS: S3 GetObject body -> GCS resumable upload with a crc32c check, chunk by chunk.

    A file is skipped when the GCS object has the same size and was copied from the same S3 object version (the S3
    ETag recorded in the GCS object's metadata) or, for single-part S3 objects, has the same MD5. So a retry or a
    rerun copies nothing twice, and a file rewritten in S3 (new ETag) is copied again.
    """

    def __init__(
        self,
        aws_conn_id: str | None = "aws_default",
        gcp_conn_id: str = "google_cloud_default",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        super().__init__()
        if chunk_bytes <= 0 or chunk_bytes % (256 * 1024):
            raise ValueError(f"chunk_bytes must be a positive multiple of 256 KiB, got {chunk_bytes}")
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.chunk_bytes = chunk_bytes

    @cached_property
    def s3_client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id).get_conn()

    @cached_property
    def gcs_client(self) -> Any:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        return GCSHook(gcp_conn_id=self.gcp_conn_id).get_conn()

    def copy_files(
        self, sources: list[str], gcs_bucket: str, gcs_prefix: str, source_prefix: str
    ) -> list[TransferredFile]:
        """Copy each ``s3://`` source to ``gs://gcs_bucket/gcs_prefix/<path under source_prefix>``."""
        bucket = self.gcs_client.bucket(gcs_bucket)
        results: list[TransferredFile] = []
        total = len(sources)
        for index, source in enumerate(sources, start=1):
            name = destination_name(source, source_prefix, gcs_prefix)
            result = self.copy_file(source, bucket, name)
            results.append(result)
            log.info(
                "%s/%s %s %s -> gs://%s/%s (%s bytes)",
                index,
                total,
                result.action,
                source,
                gcs_bucket,
                name,
                result.bytes,
            )
        return results

    def copy_file(self, source: str, bucket: Any, name: str) -> TransferredFile:
        s3_bucket, s3_key = split_url(source, "s3")
        head = self.s3_client.head_object(Bucket=s3_bucket, Key=s3_key)
        size, etag = int(head["ContentLength"]), head["ETag"].strip('"')
        destination = f"gs://{bucket.name}/{name}"
        existing = bucket.get_blob(name)
        if existing is not None and _same_object(existing, size, etag):
            return TransferredFile(source, destination, size, "skipped", existing.crc32c or "")
        body = self.s3_client.get_object(Bucket=s3_bucket, Key=s3_key)["Body"]
        blob = bucket.blob(name, chunk_size=self.chunk_bytes)
        blob.metadata = {SOURCE_ETAG_KEY: etag, SOURCE_URL_KEY: source}
        try:
            blob.upload_from_file(
                body, size=size, rewind=False, checksum="crc32c", content_type="application/octet-stream"
            )
        finally:
            body.close()
        return TransferredFile(source, destination, size, "copied", blob.crc32c or "")

    def verify_copies(
        self, files: list[dict[str, Any]], gcs_bucket: str, gcs_prefix: str, source_prefix: str, action: str
    ) -> list[TransferredFile]:
        """Each ``{"path", "bytes"}`` file as found in GCS after another party copied it (size checked, crc32c read).

        Raises naming every file that is missing or has another size, so nothing incomplete reaches the load.
        """
        found = {b.name: b for b in self.gcs_client.list_blobs(gcs_bucket, prefix=gcs_prefix.strip("/") + "/")}
        results: list[TransferredFile] = []
        problems: list[str] = []
        for f in files:
            name = destination_name(f["path"], source_prefix, gcs_prefix)
            blob = found.get(name)
            if blob is None or int(blob.size) != int(f["bytes"]):
                got = "missing" if blob is None else f"{blob.size} bytes"
                problems.append(f"{f['path']} -> gs://{gcs_bucket}/{name}: expected {f['bytes']} bytes, {got}")
                continue
            results.append(
                TransferredFile(f["path"], f"gs://{gcs_bucket}/{name}", int(f["bytes"]), action, blob.crc32c or "")
            )
        if problems:
            raise AirflowException(
                f"{len(problems)} of {len(files)} snapshot file(s) not in GCS as expected:\n  " + "\n  ".join(problems)
            )
        return results


def destination_name(source: str, source_prefix: str, gcs_prefix: str) -> str:
    """The GCS object name of one S3 file: its path under the snapshot prefix, placed under ``gcs_prefix``."""
    _, key = split_url(source, "s3")
    _, base = (
        split_url(source_prefix.rstrip("/") + "/", "s3") if source_prefix.startswith("s3://") else ("", source_prefix)
    )
    base = base.strip("/")
    if base and not key.startswith(base + "/"):
        raise ValueError(f"{source} is not under the snapshot prefix {source_prefix}")
    relative = key[len(base) + 1 :] if base else key
    return "/".join(p for p in (gcs_prefix.strip("/"), relative) if p)


def _same_object(blob: Any, size: int, etag: str) -> bool:
    if int(blob.size or -1) != size:
        return False
    if (blob.metadata or {}).get(SOURCE_ETAG_KEY) == etag:
        return True
    if is_plain_md5_etag(etag) and blob.md5_hash:
        import base64

        return base64.b64decode(blob.md5_hash).hex() == etag.lower()
    return False


def summarize(results: list[TransferredFile]) -> dict[str, Any]:
    """The XCom of a transfer: counts, bytes and each file's action."""
    copied = [r for r in results if r.action == "copied"]
    return {
        "files": [asdict(r) for r in results],
        "copied": len(copied),
        "skipped": len(results) - len(copied),
        "bytes_copied": sum(r.bytes for r in copied),
        "bytes_total": sum(r.bytes for r in results),
        "uris": [r.destination for r in results],
    }
