"""Errors become Airflow's retry decision in one place: terminal -> AirflowFailException, transient -> retry."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ddb_lake.compat import AirflowException, AirflowFailException, BaseOperator
from ddb_lake.core.errors import ConfigError, TransientError
from ddb_lake.operators.base import ClassifiedErrors, airflow_error


class Raising(ClassifiedErrors, BaseOperator):
    def __init__(self, *, error: BaseException, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def execute(self, context):
        raise self.error

    def execute_complete(self, context, event=None):
        raise self.error


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "GetTable")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConfigError("orders.yaml: bad"), AirflowFailException),
        (TransientError("later"), AirflowException),
        (client_error("AccessDeniedException", 400), AirflowFailException),
        (client_error("ThrottlingException", 400), AirflowException),
        (client_error("InternalServerError", 500), AirflowException),
    ],
)
def test_operator_raises_the_airflow_decision(error, expected):
    for method in ("execute", "execute_complete"):
        with pytest.raises(expected) as raised:
            getattr(Raising(error=error, task_id="t"), method)({})
        assert type(raised.value) is expected
        assert raised.value.__cause__ is error


def test_google_api_errors_are_sorted_by_reason():
    from google.api_core.exceptions import Forbidden, NotFound

    throttled = Forbidden("quota", errors=[{"reason": "rateLimitExceeded"}])
    assert type(airflow_error(throttled)) is AirflowException
    assert type(airflow_error(NotFound("no table", errors=[{"reason": "notFound"}]))) is AirflowFailException
    assert type(airflow_error(Forbidden("no role", errors=[{"reason": "accessDenied"}]))) is AirflowFailException


def test_other_errors_pass_through_unchanged():
    assert airflow_error(KeyError("x")) is None
    assert airflow_error(AirflowFailException("already decided")) is None
    with pytest.raises(KeyError):
        Raising(error=KeyError("x"), task_id="t").execute({})
