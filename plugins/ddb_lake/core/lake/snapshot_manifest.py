"""Is a converted snapshot complete? Its ``_manifest.json`` against the convert summary and the files in S3.

Pure: the caller reads the manifest and the size of each listed file; these functions say which files to look at
and raise :class:`~ddb_lake.core.errors.ValidationFailedError` naming the snapshot, the file and both sizes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ddb_lake.core.convert.storage import split_url
from ddb_lake.core.errors import ValidationFailedError
from ddb_lake.core.lake.layout import MANIFEST_NAME  # written last by ddb_lake.core.convert.converter


@dataclass(frozen=True)
class ListedFile:
    """One file the manifest lists: its path as written there, where it is, and its size in bytes."""

    path: str
    bucket: str
    key: str
    size: int


def manifest_key(location: str) -> tuple[str, str]:
    """(bucket, key) of the ``_manifest.json`` of the snapshot folder at ``location`` (an ``s3://`` URL ending in /)."""
    bucket, prefix = split_url(location, "s3")
    return bucket, prefix + MANIFEST_NAME


def manifest_files(location: str, manifest: str | None, summary: dict[str, Any]) -> list[ListedFile]:
    """The files ``manifest`` (the ``_manifest.json`` text, None when missing) lists in the snapshot at ``location``.

    :raises ValidationFailedError: no manifest, or it lists other files than the convert summary.
    """
    if manifest is None:
        raise ValidationFailedError(f"snapshot {location} has no {MANIFEST_NAME}: the convert task did not finish it")
    bucket, prefix = split_url(location, "s3")
    entries = json.loads(manifest).get("files", [])
    listed = sorted(entry["path"] for entry in entries)
    if summary.get("files") is not None and listed != sorted(f["path"] for f in summary["files"]):
        raise ValidationFailedError(f"snapshot {location}: {MANIFEST_NAME} lists other files than the convert summary")
    return [ListedFile(entry["path"], *file_key(bucket, prefix, entry["path"]), entry["bytes"]) for entry in entries]


def file_key(bucket: str, prefix: str, path: str) -> tuple[str, str]:
    """A manifest file path (an ``s3://`` URL, or relative to the snapshot prefix) as (bucket, key)."""
    return split_url(path, "s3") if path.startswith("s3://") else (bucket, prefix + path.lstrip("/"))


def check_file_sizes(location: str, files: list[ListedFile], sizes: dict[str, int | None]) -> None:
    """Raise unless every listed file was found (``sizes[path]`` not None) with the size the manifest lists."""
    for listed in files:
        size = sizes.get(listed.path)
        if size != listed.size:
            found = "missing" if size is None else f"{size} bytes"
            raise ValidationFailedError(
                f"snapshot {location}: file {listed.path} is {found}, the manifest says {listed.size} bytes"
            )
