"""Where an export writes and where its files are: the ``<S3Prefix>/AWSDynamoDB/<ExportId>/`` folder.

Pure: the operator lists the folders through its hook and hands the listing in.
"""

from __future__ import annotations

from typing import Any

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.failures import ExportRetryableError
from ddb_lake.core.export.rules import FULL_EXPORT
from ddb_lake.core.lake.layout import join_key

EXPORT_DATA_FOLDER = "AWSDynamoDB"


def export_id_of(export_arn: str) -> str:
    """``arn:...:table/T/export/01700000000000-abcdef12`` -> ``01700000000000-abcdef12``."""
    return export_arn.rstrip("/").rsplit("/", 1)[-1]


def table_name_of(arn: str | None) -> str | None:
    """``arn:aws:dynamodb:<region>:<account>:table/T`` (or a table's export ARN) -> ``T``; None when not a table ARN."""
    resource = (arn or "").split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind != "table":
        return None
    return rest.partition("/")[0] or None


def is_export_at(description: dict[str, Any], s3_bucket: str, s3_prefix: str, export_type: str) -> bool:
    """True when the export description is of ``export_type`` and writes to exactly ``s3://s3_bucket/s3_prefix``."""
    return (
        description.get("S3Bucket") == s3_bucket
        and (description.get("S3Prefix") or "").strip("/") == s3_prefix.strip("/")
        and (description.get("ExportType") or FULL_EXPORT) == export_type
    )


def listing_root(description: dict[str, Any]) -> str | None:
    """The key whose sub-folders to list to find the export's folder; None when its ``ExportManifest`` names it."""
    if description.get("ExportManifest"):
        return None
    return join_key(description.get("S3Prefix") or "", EXPORT_DATA_FOLDER)


def export_folder(description: dict[str, Any], folders: list[str], table_name: str | None = None) -> str:
    """``s3://bucket/<prefix>/AWSDynamoDB/<id>/`` of a completed export, from its manifest key or the listing.

    ``folders`` are the keys (ending in ``/``) listed under :func:`listing_root`; the one named by the export id
    wins, else the only one. Several candidates (stale folders of earlier exports) or none raise a retryable error.
    """
    bucket = description["S3Bucket"]
    manifest_key = description.get("ExportManifest")
    if manifest_key:
        return f"s3://{bucket}/{manifest_key.rsplit('/', 1)[0]}/"
    export_id = export_id_of(description["ExportArn"])
    named = [f for f in folders if f.rstrip("/").endswith(f"/{export_id}")]
    chosen = named or folders
    if len(chosen) != 1:
        raise ExportRetryableError(
            f"Export {description['ExportArn']} of table {table_name or '?'}: expected one export folder under "
            f"s3://{bucket}/{listing_root(description)}/, found {len(folders)}: {folders}. "
            "Remove stale folders there and retry."
        )
    return f"s3://{bucket}/{chosen[0]}"


def finished_export(export: Any, task_id: str) -> dict[str, Any]:
    """The export task's result, checked: a dict that names the completed export's folder."""
    if not isinstance(export, dict):
        raise ConfigError(
            f"Task {task_id}: export must be the export task's result (a dict, e.g. export_task.output), got "
            f"{type(export).__name__} {str(export)[:200]!r}. Pass the XComArg itself, not a template rendering it."
        )
    if not export.get("export_folder"):
        raise ConfigError(
            f"Export {export.get('export_arn')} of table {export.get('table_name')} has no export_folder: "
            "it has not completed. Run the export task with wait_for_completion=True first."
        )
    return export
