"""The one place where errors become Airflow's retry decision: terminal -> fail now, transient -> retry.

Operators and sensors inherit :class:`ClassifiedErrors`; it wraps their ``execute`` and resume methods
(``execute_*``, ``resume_*``) so that, whatever they raise,
- a :class:`~ddb_lake.core.errors.TerminalError` becomes ``AirflowFailException`` (no retries: fix, then clear),
- a :class:`~ddb_lake.core.errors.TransientError` becomes ``AirflowException`` (retried with backoff),
- a botocore ``ClientError`` or a Google API error is sorted by its reason code (``core.errors.classify_reason``),
- Airflow's own exceptions (including deferral) and anything else pass through unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ddb_lake.compat import AirflowException, AirflowFailException
from ddb_lake.core.errors import ServiceError, TerminalError, TransientError, service_error


def taxonomy_error(error: BaseException) -> BaseException | None:
    """The ddb-lake taxonomy error for a cloud SDK exception, or None when it is not one."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        service = getattr(error, "operation_name", None) or "AWS"
        return service_error(service, details.get("Code"), details.get("Message") or str(error), status)
    google = _google_error(error)
    if google is not None:
        reasons = [e.get("reason") for e in (getattr(error, "errors", None) or []) if isinstance(e, dict)]
        status = getattr(error, "code", None)
        return service_error("Google API", next((r for r in reasons if r), None), str(error),
                             status if isinstance(status, int) else None)
    return None


def _google_error(error: BaseException) -> BaseException | None:
    try:
        from google.api_core.exceptions import GoogleAPICallError
    except ImportError:  # pragma: no cover - the google provider is optional
        return None
    return error if isinstance(error, GoogleAPICallError) else None


def airflow_error(error: BaseException) -> BaseException | None:
    """The Airflow exception that carries ``error``'s retry decision, or None to let it through unchanged."""
    if isinstance(error, AirflowException) or not isinstance(error, Exception):
        return None
    classified = error if isinstance(error, (TerminalError, TransientError)) else taxonomy_error(error)
    if classified is None:
        return None
    if isinstance(classified, TerminalError):
        return AirflowFailException(f"{classified} [terminal: not retried]")
    suffix = "" if isinstance(classified, ServiceError) else " [transient: retried]"
    return AirflowException(f"{classified}{suffix}")


def _classified(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            mapped = airflow_error(error)
            if mapped is None:
                raise
            raise mapped from error

    run.__ddb_lake_classified__ = True  # type: ignore[attr-defined]
    return run


def _is_entry_point(name: str) -> bool:
    return name == "execute" or name.startswith(("execute_", "resume_"))


class ClassifiedErrors:
    """Mixin: the class's ``execute``/``execute_*``/``resume_*`` methods raise Airflow's retry decision."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if _is_entry_point(name) and callable(value) and not getattr(value, "__ddb_lake_classified__", False):
                setattr(cls, name, _classified(value))


DEFERRAL_MIN_RETRIES = 1


def keep_a_retry_for_deferral(operator: Any) -> None:
    """Give a deferrable operator at least one retry: Airflow 3.3 can mark a task failed although its trigger fired
    with success (apache/airflow#71580, #72716, a trigger firing within about 2 s); the retry reattaches to the same
    export or job (deterministic token / job id), so nothing runs twice."""
    if getattr(operator, "deferrable", False) and (operator.retries or 0) < DEFERRAL_MIN_RETRIES:
        operator.retries = DEFERRAL_MIN_RETRIES
