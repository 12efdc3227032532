"""Storage Transfer Service (REST v1) resources for copying one snapshot from S3 to GCS, and reading its results.

Field names are those of the ``storagetransfer/v1`` discovery document: ``TransferJob``, ``TransferSpec``,
``AwsS3Data``, ``GcsData``, ``ObjectConditions``, ``TransferOptions``, ``TransferOperation``, ``TransferCounters``.
"""

from __future__ import annotations

import hashlib
import os
import re
from itertools import pairwise
from typing import Any

JOB_NAME_PREFIX = "transferJobs/"
MAX_JOB_NAME_CHARS = 128
MAX_INCLUDE_PREFIXES = 1000
ACTIVE_STATUSES = frozenset({"IN_PROGRESS", "PAUSED", "QUEUED", "SUSPENDING"})
FAILED_STATUSES = frozenset({"FAILED", "ABORTED"})
UPDATE_FIELD_MASK = "description,transferSpec,status"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")


def transfer_job_name(dag_id: str, table: str, snapshot: str, identity: str, generation: int = 1) -> str:
    """``transferJobs/ddb-lake-<dag>-<table>-<snapshot>-<hash>-g<generation>``, at most 128 characters.

    The API takes ``transferJobs/`` followed by ``[A-Za-z0-9-._~]*[A-Za-z0-9]`` and not starting with ``OPI``; the
    ``ddb-lake-`` lead and the hash tail satisfy both ends. ``identity`` (source and sink) goes into the hash, so the
    same snapshot sent to another bucket is another job, and the hash keeps names distinct when the readable part is
    cut short. ``generation`` moves on only past a soft-deleted job, whose name the service keeps for 30 days.
    """
    digest = hashlib.sha256(f"{dag_id}\n{table}\n{snapshot}\n{identity}".encode()).hexdigest()[:12]
    tail = f"-{digest}-g{generation}"
    readable = _NAME_UNSAFE.sub("-", f"ddb-lake-{dag_id}-{table}-{snapshot}")
    room = MAX_JOB_NAME_CHARS - len(JOB_NAME_PREFIX) - len(tail)
    return f"{JOB_NAME_PREFIX}{readable[:room].rstrip('-._~')}{tail}"


def folder_path(prefix: str) -> str:
    """An ``AwsS3Data.path`` / ``GcsData.path``: no leading slash, one trailing slash (or empty for a bucket root)."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def include_prefixes(relative_names: list[str]) -> list[str]:
    """``ObjectConditions.includePrefixes`` that select exactly these files under the source path.

    Prefixes are relative to the source path. The API takes at most 1000 and none may be a prefix of another: up to
    1000 distinct names are listed as they are; past that, their longest common prefix is used (``part-`` for the
    converter's files), which still leaves out ``_manifest.json``. An empty list means "everything under the path".
    """
    names = sorted(set(relative_names))
    if not names or any(not name for name in names):
        raise ValueError("include_prefixes needs the files' non-empty names relative to the snapshot folder")
    nested = any(later.startswith(earlier) for earlier, later in pairwise(names))
    if len(names) <= MAX_INCLUDE_PREFIXES and not nested:
        return names
    common = os.path.commonprefix(names)  # noqa: RUF071 -- a character prefix is what includePrefixes means
    return [common] if common else []


def transfer_spec(
    *,
    s3_bucket: str,
    s3_path: str,
    gcs_bucket: str,
    gcs_path: str,
    relative_names: list[str],
    role_arn: str | None = None,
    aws_access_key: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A ``TransferSpec``: S3 folder -> GCS folder, only the snapshot's files, overwriting only what differs.

    Exactly one of ``role_arn`` (federated: the service agent assumes the role with ``AssumeRoleWithWebIdentity``) or
    ``aws_access_key`` (``(access key id, secret access key)``) gives the service access to the bucket.
    """
    if (role_arn is None) == (aws_access_key is None):
        raise ValueError("give exactly one of role_arn or aws_access_key for the S3 source of a transfer job")
    source: dict[str, Any] = {"bucketName": s3_bucket, "path": folder_path(s3_path)}
    if role_arn is not None:
        source["roleArn"] = role_arn
    else:
        access_key_id, secret_access_key = aws_access_key  # type: ignore[misc]
        source["awsAccessKey"] = {"accessKeyId": access_key_id, "secretAccessKey": secret_access_key}
    spec: dict[str, Any] = {
        "awsS3DataSource": source,
        "gcsDataSink": {"bucketName": gcs_bucket, "path": folder_path(gcs_path)},
        "transferOptions": {"overwriteWhen": "DIFFERENT", "deleteObjectsFromSourceAfterTransfer": False},
    }
    prefixes = include_prefixes(relative_names)
    if prefixes:
        spec["objectConditions"] = {"includePrefixes": prefixes}
    return spec


def transfer_job(*, project_id: str, job_name: str, description: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The ``transferJobs.create`` body: an ENABLED job with no ``schedule``, so it runs only on ``transferJobs.run``.

    A schedule whose start date is today starts an operation by itself when the job is created, racing the run that
    follows (a second operation, or ``run`` refused while the first is active); without one the run is the only start.
    """
    if not job_name.startswith(JOB_NAME_PREFIX):
        raise ValueError(f"a transfer job name starts with {JOB_NAME_PREFIX!r}, got {job_name!r}")
    return {
        "name": job_name,
        "projectId": project_id,
        "description": description[:1024],
        "status": "ENABLED",
        "transferSpec": spec,
    }


def update_request(job: dict[str, Any]) -> dict[str, Any]:
    """The ``transferJobs.patch`` body that brings an existing job's spec, description and status up to ``job``.

    Used before running an existing job again, so rotated AWS keys or a new role ARN take effect.
    """
    return {
        "projectId": job["projectId"],
        "transferJob": {key: job[key] for key in ("description", "transferSpec", "status")},
        "updateTransferJobFieldMask": UPDATE_FIELD_MASK,
    }


def operation_status(operation: dict[str, Any]) -> str:
    """The ``TransferOperation.status`` inside a long-running ``Operation`` (``STATUS_UNSPECIFIED`` when absent)."""
    return str((operation.get("metadata") or {}).get("status") or "STATUS_UNSPECIFIED")


def operation_counters(operation: dict[str, Any]) -> dict[str, int]:
    """``TransferCounters`` as integers (the API sends int64 counters as strings)."""
    counters = (operation.get("metadata") or {}).get("counters") or {}
    return {name: int(value) for name, value in sorted(counters.items())}


def operation_errors(operation: dict[str, Any], limit: int = 5) -> list[str]:
    """One line per sampled failing object: ``<errorCode> <url>: <details>`` from ``errorBreakdowns``."""
    lines: list[str] = []
    for summary in (operation.get("metadata") or {}).get("errorBreakdowns") or []:
        code, count = summary.get("errorCode", "UNKNOWN"), summary.get("errorCount", "?")
        entries = summary.get("errorLogEntries") or [{}]
        for entry in entries:
            details = "; ".join(entry.get("errorDetails") or []) or f"{count} object(s)"
            lines.append(f"{code} {entry.get('url', '(no object named)')}: {details}")
    error = operation.get("error") or {}
    if error.get("message"):
        lines.append(f"operation error {error.get('code', '?')}: {error['message']}")
    return lines[:limit]


TRANSFER_METHODS = ("stream", "storage_transfer", "auto")


def transfer_method_for(method: str, total_bytes: int, threshold_bytes: int) -> str:
    """``stream`` or ``storage_transfer``; ``auto`` picks Storage Transfer Service above ``threshold_bytes``."""
    if method not in TRANSFER_METHODS:
        raise ValueError(f"transfer_method must be one of {TRANSFER_METHODS}, got {method!r}")
    if method != "auto":
        return method
    return "storage_transfer" if total_bytes > threshold_bytes else "stream"
