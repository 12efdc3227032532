"""The CDC change files in S3: listing from a position, reading gzip JSON lines, deleting merged files."""

from __future__ import annotations

import gzip
from typing import Any

from ddb_lake.core.cdc.reduction import parse_line
from ddb_lake.hooks.lake_storage import LakeStorageHook


class CdcFilesHook(LakeStorageHook):
    """Client-type S3 hook over ``s3://<bucket>/<prefix>/cdc/<table>/``."""

    def list_after(self, bucket: str, prefix: str, start_after: str = "") -> list[str]:
        """Keys under ``prefix/`` after ``start_after`` (S3 lists in key order), over all pages."""
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix.strip("/") + "/"}
        if start_after:
            args["StartAfter"] = start_after
        keys: list[str] = []
        for page in self.conn.get_paginator("list_objects_v2").paginate(**args):
            keys += [entry["Key"] for entry in page.get("Contents", [])]
        return keys

    def read_lines(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """The change lines of one file (gzip JSON lines), each checked to be one the handler writes."""
        body = self.conn.get_object(Bucket=bucket, Key=key)["Body"].read()
        text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        return [parse_line(raw, f"s3://{bucket}/{key} line {number}")
                for number, raw in enumerate(text.splitlines(), start=1) if raw.strip()]

    def delete_keys(self, bucket: str, keys: list[str]) -> int:
        for start in range(0, len(keys), 1000):
            self.conn.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                                                            "Quiet": True})
        return len(keys)
