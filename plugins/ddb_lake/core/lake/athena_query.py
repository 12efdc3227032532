"""What an Athena query's end means: success, or a taxonomy error that says whether a retry can help.

Athena reports a failed query's ``AthenaError``: ``ErrorCategory`` 1 (system), 2 (user: the statement or the
catalog must change) or 3 (other), and ``Retryable``. Only a user error Athena does not call retryable is terminal;
anything else (a system fault, a cancelled or timed-out query, no error details) is retried.
"""

from __future__ import annotations

from typing import Any

from ddb_lake.core.errors import ServiceError, TerminalServiceError, TransientServiceError

SUCCEEDED = "SUCCEEDED"
USER_ERROR = 2


def query_failure(query_id: str, table: str, state: str | None, status: dict[str, Any], sql: str) -> ServiceError:
    """The error of query ``query_id`` on ``table`` that ended ``state`` (not SUCCEEDED); ``status`` is its Status."""
    details = status.get("AthenaError") or {}
    terminal = state == "FAILED" and details.get("ErrorCategory") == USER_ERROR and not details.get("Retryable")
    error_class = TerminalServiceError if terminal else TransientServiceError
    message = f"Athena query {query_id} on {table} ended {state}: {status.get('StateChangeReason')}\nSQL: {sql}"
    return error_class(message, service="Athena", reason=str(details.get("ErrorType") or state))
