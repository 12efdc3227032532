"""How long an export wait goes on: polls while IN_PROGRESS, and a bound on consecutive server errors.

The amazon provider's waiter loop retries its named 5xx codes (InternalServerError, ServiceUnavailable, ...) without
counting them, so a DescribeExport that keeps failing is polled until the task's time-out; botocore retries inside
each poll as well. Here every unfinished poll is counted: :data:`MAX_SERVER_ERRORS` server errors in a row end the
wait with an error that names the export and says that a retry reattaches. Pure: the hook's and the trigger's loops
hand each answer in.
"""

from __future__ import annotations

import math
from typing import Any

from ddb_lake.core.export.failures import ExportRetryableError
from ddb_lake.core.export.folders import table_name_of

MAX_SERVER_ERRORS = 5
# Reason codes of a server fault when the HTTP status is not at hand.
SERVER_FAULT_CODES = frozenset({
    "InternalServerError", "InternalFailure", "ServerException", "ServiceUnavailable", "ServiceUnavailableException",
    "BadGateway", "GatewayTimeout",
})
AGAIN = "again"
SERVER_ERRORS = "server_errors"
OUT_OF_POLLS = "out_of_polls"
OTHER_ERROR = "other_error"


def polls_within(max_wait_minutes: float, poll_seconds: float) -> int:
    """How many polls ``poll_seconds`` apart fit in ``max_wait_minutes`` (at least one): the export wait's cap."""
    return max(1, math.ceil(max_wait_minutes * 60 / poll_seconds))


def server_fault(response: dict[str, Any] | None) -> str | None:
    """``HTTP <status> <code>`` when the answer is a server error (5xx), else None."""
    response = response or {}
    error = response.get("Error")
    if not isinstance(error, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.get("Code", ""))
    if (isinstance(status, int) and status >= 500) or code in SERVER_FAULT_CODES or code.startswith("5"):
        return f"HTTP {status or '5xx'} {code}".strip()
    return None


class ExportWait:
    """The count of one wait's unfinished polls; :meth:`after` says whether to poll again."""

    def __init__(self, export_arn: str, *, max_polls: int, max_server_errors: int = MAX_SERVER_ERRORS) -> None:
        self.export_arn = export_arn
        self.max_polls = max_polls
        self.max_server_errors = max_server_errors
        self.polls = 0
        self.server_errors = 0
        self.last_fault: str | None = None

    def after(self, response: dict[str, Any] | None) -> str:
        """The next step after an unfinished poll: AGAIN, SERVER_ERRORS, OUT_OF_POLLS or OTHER_ERROR.

        A server error counts towards the streak, not towards the polls; any other answer ends the streak.
        """
        fault = server_fault(response)
        if fault is not None:
            self.server_errors += 1
            self.last_fault = fault
            return SERVER_ERRORS if self.server_errors >= self.max_server_errors else AGAIN
        self.server_errors = 0
        if isinstance((response or {}).get("Error"), dict):
            return OTHER_ERROR
        self.polls += 1
        return OUT_OF_POLLS if self.polls >= self.max_polls else AGAIN

    def server_errors_error(self) -> ExportRetryableError:
        """The error that ends a wait after ``max_server_errors`` server errors in a row."""
        table = table_name_of(self.export_arn) or "?"
        return ExportRetryableError(
            f"Stopped waiting for DynamoDB export {self.export_arn} of table {table}: DescribeExport answered "
            f"{self.server_errors} server errors in a row (last: {self.last_fault}). The export itself may still be "
            "running: a retry of the export task reattaches to it and never starts a second one. If this repeats, "
            "check DynamoDB's health in the table's region."
        )
