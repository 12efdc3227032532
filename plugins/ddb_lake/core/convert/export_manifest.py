"""Find an export's data files and what its manifests promise about them.

Layout (AWS): ``<prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json``, ``manifest-files.json`` (JSON lines with
``itemCount``, ``md5Checksum``, ``dataFileS3Key``) and ``data/*.json.gz``. moto writes only ``data/<uuid>.gz``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass

from ddb_lake.core.convert.storage import Storage, join_url
from ddb_lake.core.errors import ManifestError, MissingDataFileError

log = logging.getLogger(__name__)

FULL_EXPORT = "FULL_EXPORT"
INCREMENTAL_EXPORT = "INCREMENTAL_EXPORT"
EXPORT_ROOT_MARKER = "AWSDynamoDB/"


@dataclass(frozen=True)
class DataFile:
    """One gzipped data file of the export and what the manifest says about it (None where there is no manifest)."""

    url: str
    name: str
    item_count: int | None = None
    md5_hex: str | None = None


@dataclass(frozen=True)
class ExportManifest:
    """What the converter knows about an export before reading its data."""

    export_id: str
    folder: str
    files: tuple[DataFile, ...]
    export_type: str | None
    output_format: str
    output_view: str | None
    item_count: int | None
    has_manifest: bool
    summary: dict


def md5_to_hex(checksum: str) -> str:
    """manifest-files.json carries base64 MD5 digests; hex is accepted too."""
    text = checksum.strip()
    if len(text) == 32 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower()
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError) as err:
        raise ManifestError(f"md5Checksum {checksum!r} is neither base64 nor hex") from err


def export_id_of_folder(folder: str) -> str:
    """``.../AWSDynamoDB/<ExportId>/`` -> ``<ExportId>``: AWS names an export's folder by its id."""
    return folder.rstrip("/").rsplit("/", 1)[-1]


def _relative_to_export(data_key: str, export_id: str) -> str:
    """``<prefix>/AWSDynamoDB/<id>/data/x.json.gz`` -> ``data/x.json.gz``."""
    marker = f"{EXPORT_ROOT_MARKER}{export_id}/"
    if marker in data_key:
        return data_key.split(marker, 1)[1]
    if "/data/" in data_key or data_key.startswith("data/"):
        return "data/" + data_key.split("data/", 1)[1]
    raise ManifestError(f"dataFileS3Key {data_key!r} is not inside export {export_id}")


def read_manifest(folder: str, storage: Storage) -> ExportManifest:
    """Read the export's manifests, or list ``data/`` when there are none (moto)."""
    folder = folder.rstrip("/")
    export_id = export_id_of_folder(folder)
    listing = storage.list_files(folder)
    if not listing:
        raise MissingDataFileError("export folder is empty or does not exist", export_id=export_id, file=folder)
    summary_url = join_url(folder, "manifest-summary.json")
    if summary_url not in listing:
        return _without_manifest(folder, export_id, listing)
    summary = _load_json(storage, summary_url, export_id)
    files_url = join_url(folder, "manifest-files.json")
    files = tuple(_manifest_files(storage, files_url, folder, export_id, set(listing)))
    return ExportManifest(
        export_id=export_id,
        folder=folder,
        files=files,
        export_type=summary.get("exportType") or FULL_EXPORT,
        output_format=(summary.get("outputFormat") or "DYNAMODB_JSON").upper(),
        output_view=summary.get("outputView"),
        item_count=int(summary["itemCount"]) if summary.get("itemCount") is not None else None,
        has_manifest=True,
        summary=summary,
    )


def _without_manifest(folder: str, export_id: str, listing: list[str]) -> ExportManifest:
    data_prefix = join_url(folder, "data") + "/"
    data = [u for u in listing if u.startswith(data_prefix) and (u.endswith(".gz"))]
    if not data:
        raise MissingDataFileError("export folder has no manifest-summary.json and no data/*.gz files",
                                   export_id=export_id, file=folder)
    files = tuple(DataFile(url=u, name=u[len(folder) + 1:]) for u in data)
    output_format = "ION" if all(u.endswith(".ion.gz") for u in data) else "DYNAMODB_JSON"
    return ExportManifest(export_id, folder, files, None, output_format, None, None, False, {})


def _load_json(storage: Storage, url: str, export_id: str) -> dict:
    try:
        return json.loads(storage.read_bytes(url))
    except FileNotFoundError as err:
        raise MissingDataFileError("manifest file is missing", export_id=export_id, file=url) from err
    except ValueError as err:
        raise ManifestError(f"manifest is not valid JSON: {err}", export_id=export_id, file=url) from err


def _manifest_files(storage: Storage, files_url: str, folder: str, export_id: str, listing: set[str]):
    if files_url not in listing:
        raise MissingDataFileError("manifest-summary.json is there but manifest-files.json is not",
                                   export_id=export_id, file=files_url)
    text = storage.read_bytes(files_url).decode("utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            relative = _relative_to_export(entry["dataFileS3Key"], export_id)
            md5_hex = md5_to_hex(entry["md5Checksum"]) if entry.get("md5Checksum") else None
            count = int(entry["itemCount"])
        except ManifestError as err:
            raise err.located(export_id=export_id, file=files_url) from None
        except (ValueError, KeyError, TypeError) as err:
            raise ManifestError(f"bad manifest-files.json entry: {err!r}", export_id=export_id, file=files_url,
                                line=number) from err
        url = join_url(folder, relative)
        if url not in listing:
            raise MissingDataFileError("manifest-files.json names a data file that does not exist",
                                       export_id=export_id, file=url, line=None)
        yield DataFile(url=url, name=relative, item_count=count, md5_hex=md5_hex)
