r"""The error taxonomy of ddb-lake: terminal errors (retrying will not help) and transient ones (a retry may).

Every error ddb-lake raises on purpose derives from :class:`TerminalError` or :class:`TransientError`; the Airflow
side maps them once (``ddb_lake.task_errors``): terminal -> ``AirflowFailException`` (the task fails at once, no
retries), transient -> ``AirflowException`` (retried with backoff). Errors of the cloud services are sorted by their
reason code with :func:`classify_reason`: throttling, quota and 5xx are transient; permission, not-found, invalid
request and schema are terminal, and the message says what to fix.

Problems with an export's *content* (bad gzip, checksum, JSON, type tag, size, counts, a missing file) are
:class:`ExportFormatError`\s: terminal. Anything else that escapes the converter (network, throttling, disk) is an
ordinary ``OSError``/botocore error, classified by the caller.
"""

from __future__ import annotations


class DdbLakeError(Exception):
    """Base of every error ddb-lake raises on purpose."""

    retryable = False


class TerminalError(DdbLakeError):
    """Retrying will not help: the input, the settings, a permission or the data must change first."""

    retryable = False


class TransientError(DdbLakeError):
    """A later try may succeed: throttling, a full quota, a service fault, a time-out, a not-yet-ready resource."""

    retryable = True


class ConfigError(TerminalError):
    """A setting is missing or invalid: names the table, file or parameter and the fix."""


class SchemaError(TerminalError):
    """A schema change a destination refuses (narrowing, a type switch); names table, column and both types."""


class AccessDeniedError(TerminalError):
    """A service refused for lack of permission; names the resource and the permission to grant."""


class NotFoundError(TerminalError):
    """A table, bucket, export, job or catalog entry that must exist does not."""


class ValidationFailedError(TerminalError):
    """The copies of a snapshot disagree (row counts, key checksums): nothing is published."""


class ServiceError(DdbLakeError):
    """A cloud service's error, sorted by its reason code (see :func:`service_error`)."""

    def __init__(self, message: str, *, service: str, reason: str, status: int | None = None):
        self.service = service
        self.reason = reason
        self.status = status
        super().__init__(message)


class TransientServiceError(ServiceError, TransientError):
    """A service error a retry can get past: throttling, quota, 5xx."""


class TerminalServiceError(ServiceError, TerminalError):
    """A service error a retry cannot get past: permission, not found, invalid request."""


# Reason codes of AWS (botocore ``Error.Code``) and Google (``errors[].reason``) that say "try again later".
TRANSIENT_REASONS = frozenset(
    {
        # AWS
        "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
        "ProvisionedThroughputExceededException", "LimitExceededException", "RequestThrottled", "SlowDown",
        "InternalServerError", "InternalServerException", "InternalFailure", "InternalError", "ServiceUnavailable",
        "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException", "ConcurrentModificationException",
        "OperationTimeoutException", "TooManyUpdates",
        # Google
        "rateLimitExceeded", "quotaExceeded", "backendError", "internalError", "serviceUnavailable",
        "jobBackendError", "jobInternalError", "timeout",
    }
)
# Reason codes that a retry cannot get past, with what to do about them.
TERMINAL_REASONS = {
    "AccessDenied": "grant the connection's identity the permission named above",
    "AccessDeniedException": "grant the connection's identity the permission named above",
    "UnauthorizedOperation": "grant the connection's identity the permission named above",
    "accessDenied": "grant the service account the IAM role named above",
    "forbidden": "grant the service account the IAM role named above",
    "ResourceNotFoundException": "check the name and the connection's region",
    "EntityNotFoundException": "check the Glue database and table names",
    "NoSuchBucket": "create the bucket or fix its name in the table's YAML",
    "NoSuchKey": "the object is gone: rerun the task that writes it",
    "notFound": "check the project, dataset and table names",
    "ValidationException": "the request is invalid: fix the setting named above",
    "InvalidRequestException": "the request is invalid: fix the setting named above",
    "InvalidInputException": "the request is invalid: fix the setting named above",
    "invalid": "the request is invalid: fix the setting or schema named above",
    "invalidQuery": "the SQL is invalid: fix the query named above",
    "duplicate": "the resource already exists with other settings",
}


def classify_reason(reason: str | None, status: int | None = None) -> type[ServiceError]:
    """:class:`TransientServiceError` for throttling, quota and 5xx reasons; :class:`TerminalServiceError` otherwise.

    An unknown reason is terminal only when the HTTP status is a 4xx other than 408/429; without a status it is
    transient, so an unforeseen fault is retried rather than dropped.
    """
    if reason in TRANSIENT_REASONS:
        return TransientServiceError
    if reason in TERMINAL_REASONS:
        return TerminalServiceError
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return TerminalServiceError
    return TransientServiceError


def service_error(service: str, reason: str | None, message: str, status: int | None = None) -> ServiceError:
    """The taxonomy error for a service's reply: ``<service> <reason>: <message>``, plus the fix when one is known."""
    cls = classify_reason(reason, status)
    text = f"{service} {reason or status or 'error'}: {message}"
    fix = TERMINAL_REASONS.get(reason or "")
    if fix:
        text += f". Fix: {fix}"
    elif cls is TransientServiceError:
        text += ". A retry may get past it"
    return cls(text, service=service, reason=reason or "", status=status)


class ExportFormatError(TerminalError):
    """The export cannot be converted as it is; names the export, the file and the line where there is one."""

    reason = "bad export"

    def __init__(self, message: str, *, export_id: str | None = None, file: str | None = None, line: int | None = None):
        self.message = message
        self.export_id = export_id
        self.file = file
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.export_id:
            where.append(f"export {self.export_id}")
        if self.file:
            where.append(f"file {self.file}")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def located(self, *, export_id: str | None = None, file: str | None = None) -> ExportFormatError:
        """Fill in the export id / file when the raising code did not know them; returns self."""
        self.export_id = self.export_id or export_id
        self.file = self.file or file
        self.args = (self._render(),)
        return self

    def to_json(self) -> dict:
        return {"error": type(self).__name__, "message": self.message, "export_id": self.export_id,
                "file": self.file, "line": self.line}

    def __reduce__(self):  # keep keyword attributes across process pools
        return (_rebuild, (type(self), self.message, self.export_id, self.file, self.line))


def _rebuild(cls: type[ExportFormatError], message: str, export_id: str | None, file: str | None, line: int | None):
    return cls(message, export_id=export_id, file=file, line=line)


class TruncatedGzipError(ExportFormatError):
    """A data file's gzip stream ends early or is corrupt."""


class ChecksumMismatchError(ExportFormatError):
    """A data file's MD5 differs from the one in manifest-files.json."""


class ItemCountMismatchError(ExportFormatError):
    """A file or the whole export holds a different number of items than its manifest (or the caller) says."""


class MalformedLineError(ExportFormatError):
    """A line is not valid JSON or not the shape DynamoDB exports write."""


class UnknownTypeTagError(ExportFormatError):
    """A value carries a type tag other than S, N, B, BOOL, NULL, SS, NS, BS, L, M."""


class ItemTooLargeError(ExportFormatError):
    """An item is over DynamoDB's 400 KB item limit."""


class MissingDataFileError(ExportFormatError):
    """The manifest names a data file that is not there."""


class ManifestError(ExportFormatError):
    """The export folder or its manifests cannot be understood."""


class UnsupportedFormatError(ExportFormatError):
    """The export's output format cannot be read here (e.g. ION without the amazon.ion reader)."""
