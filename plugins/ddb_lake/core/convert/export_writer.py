"""Write DynamoDB-export-shaped folders (AWS layout with manifests, or moto's bare layout) for tests and benchmarks."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def item_line(item: dict[str, Any]) -> bytes:
    return json.dumps({"Item": item}, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def write_export(folder: Path, files: Iterable[Iterable[bytes]], *, export_type: str = "FULL_EXPORT",
                 manifest: bool = True, output_view: str | None = None, s3_prefix: str = "exports",
                 suffix: str = ".json.gz", compresslevel: int = 6, output_format: str = "DYNAMODB_JSON") -> Path:
    """Write ``folder/data/*`` from lines (one iterable per file) plus manifests; return the folder.

    ``folder`` is the export folder itself (``.../AWSDynamoDB/<ExportId>``).
    """
    export_id = folder.name
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    entries, total = [], 0
    for number, lines in enumerate(files):
        path = data / f"part{number:05d}-{hashlib.sha1(f'{export_id}{number}'.encode()).hexdigest()[:12]}{suffix}"
        count = 0
        with gzip.open(path, "wb", compresslevel=compresslevel) as out:
            for line in lines:
                out.write(line)
                count += 1
        digest = hashlib.md5(path.read_bytes()).digest()
        entries.append({"itemCount": count, "md5Checksum": base64.b64encode(digest).decode(),
                        "etag": digest.hex(), "dataFileS3Key": f"{s3_prefix}/AWSDynamoDB/{export_id}/data/{path.name}"})
        total += count
    if manifest:
        files_key = f"{s3_prefix}/AWSDynamoDB/{export_id}/manifest-files.json"
        (folder / "manifest-files.json").write_text("".join(json.dumps(e) + "\n" for e in entries))
        summary = {"version": "2023-08-01", "exportArn": f"arn:aws:dynamodb:us-east-1:123456789012:table/t/export/"
                   f"{export_id}", "s3Bucket": "bucket", "s3Prefix": s3_prefix, "manifestFilesS3Key": files_key,
                   "itemCount": total, "outputFormat": output_format, "exportType": export_type}
        if output_view:
            summary["outputView"] = output_view
        (folder / "manifest-summary.json").write_text(json.dumps(summary))
    return folder
