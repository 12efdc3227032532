"""Which export errors a retry can get past: start errors by reason code, FAILED exports by FailureCode, wait events.

Pure: every function takes what DynamoDB answered (a botocore ``ClientError``, an export description, a trigger
event) and returns or raises a taxonomy error whose message names the export, the table and the fix.
"""

from __future__ import annotations

from typing import Any

from ddb_lake.core.errors import (
    TERMINAL_REASONS,
    DdbLakeError,
    ServiceError,
    TerminalError,
    TerminalServiceError,
    TransientError,
    TransientServiceError,
    classify_reason,
)
from ddb_lake.core.export.pitr import RecoveryWindow

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
# An export at the run's S3 prefix in one of these states is reattached to instead of starting another.
LIVE_STATUSES = (IN_PROGRESS, COMPLETED)
# FailureCodes for which a fresh export would fail the same way: fail the task instead of retrying it.
TERMINAL_FAILURE_CODES = frozenset({"S3NoSuchBucket", "S3AccessDenied", "AccessDenied", "KMSAccessDenied"})
# ExportTableToPointInTime refusals a retry cannot get past, with what they mean.
TERMINAL_START_ERRORS = {
    "PointInTimeRecoveryUnavailableException": "point-in-time recovery is not enabled on the table",
    "InvalidExportTimeException": "the export time is outside the table's point-in-time recovery window",
    "ExportConflictException": "an export with the same ClientToken but different parameters already exists",
    "TableNotFoundException": "the table does not exist",
    "ResourceNotFoundException": "the table does not exist",
    "ValidationException": "DynamoDB rejected the request",
}


class ExportFailedError(TerminalError):
    """A DynamoDB export FAILED and a fresh one would fail the same way (or the failing task cannot start one)."""


class ExportRetryableError(TransientError):
    """A DynamoDB export FAILED, or waiting for it ended early: a retry reattaches to it or starts a fresh one."""


def error_reply(error: Exception) -> tuple[str, int | None]:
    """(reason code, HTTP status) of a botocore ``ClientError`` (``("", None)`` for anything else)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")), response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def error_code(error: Exception) -> str:
    return error_reply(error)[0]


def is_transient(error: Exception) -> bool:
    """True for throttling, quota and 5xx errors, which a later retry can get past (``classify_reason``)."""
    return classify_reason(*error_reply(error)).retryable


def start_error(error: Exception, *, table_name: str, destination: str, recovery: RecoveryWindow) -> ServiceError:
    """The taxonomy error for a refused ExportTableToPointInTime of ``table_name`` to ``destination`` (an s3:// URL).

    Throttling, quota and 5xx are transient; the refusals in TERMINAL_START_ERRORS and permission errors are terminal;
    a reason not known here is retried, as a fresh start may get past it.
    """
    code, status = error_reply(error)
    where = f"table {table_name} to {destination}"
    if is_transient(error):
        return TransientServiceError(
            f"ExportTableToPointInTime of {where} hit a transient {code}; retry: {error}",
            service="DynamoDB", reason=code, status=status,
        )
    reason = TERMINAL_START_ERRORS.get(code)
    if reason is not None:
        window = f" (recovery window {recovery.earliest} .. {recovery.latest})" if recovery.enabled else ""
        return TerminalServiceError(
            f"ExportTableToPointInTime of {where} failed: {reason}{window}: {error}",
            service="DynamoDB", reason=code, status=status,
        )
    if code in TERMINAL_REASONS:
        return TerminalServiceError(
            f"ExportTableToPointInTime of {where} failed: {error}. Fix: {TERMINAL_REASONS[code]}",
            service="DynamoDB", reason=code, status=status,
        )
    return TransientServiceError(
        f"ExportTableToPointInTime of {where} failed: {error}", service="DynamoDB", reason=code, status=status
    )


def export_failure(
    export_arn: str, table_name: str | None, code: str | None, message: str | None, *, restartable: bool = True
) -> DdbLakeError:
    """The error for a FAILED export, naming its FailureCode and FailureMessage.

    ``restartable``: the failing task starts exports itself, so for codes outside TERMINAL_FAILURE_CODES a retry
    (which starts a fresh export) may help; a sensor that only watches one export always fails.
    """
    text = f"DynamoDB export {export_arn} of table {table_name or '?'} FAILED: {code or 'no FailureCode'}"
    text += f": {message or 'no FailureMessage'}"
    if code in TERMINAL_FAILURE_CODES:
        return ExportFailedError(f"{text}. Fix the bucket or its permissions, then clear the export task.")
    if not restartable:
        return ExportFailedError(f"{text}. Clear the task that started the export to start a new one.")
    return ExportRetryableError(f"{text}. A retry starts a new export to the same S3 prefix.")


def raise_if_failed(description: dict[str, Any], table_name: str | None, *, restartable: bool = True) -> None:
    """Raise :func:`export_failure` when the export description's status is FAILED."""
    if description.get("ExportStatus") == FAILED:
        raise export_failure(
            description["ExportArn"], table_name, description.get("FailureCode"), description.get("FailureMessage"),
            restartable=restartable,
        )


def raise_for_export_event(
    event: dict[str, Any] | None, table_name: str | None = None, *, restartable: bool = True
) -> str:
    """Raise unless the trigger event reports success; return the export ARN."""
    event = event or {}
    export_arn = event.get("export_arn", "?")
    status = event.get("status")
    if status == "success":
        return export_arn
    if status == "failed":
        raise export_failure(
            export_arn, table_name, event.get("failure_code"), event.get("failure_message"), restartable=restartable
        )
    raise ExportRetryableError(
        f"Waiting for DynamoDB export {export_arn} of table {table_name or '?'} ended with {status}: "
        f"{event.get('message', event)}. A retry reattaches to the export if it is still running."
    )


def still_running_error(export_arn: str, table_name: str, status: str | None, polls: int, delay: int) -> TransientError:
    """The error for a wait that gave up while the export was still running."""
    return ExportRetryableError(
        f"DynamoDB export {export_arn} of table {table_name} is still {status} after {polls} polls "
        f"{delay}s apart. A retry reattaches to it."
    )
