"""The export operator's rules that need no AWS: intervals, tokens, and which errors fail fast or retry."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest
from botocore.exceptions import ClientError

from ddb_lake.compat import DAG, AirflowException, AirflowFailException
from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.failures import export_failure, is_transient, raise_for_export_event, start_error
from ddb_lake.core.export.pitr import RecoveryWindow
from ddb_lake.core.export.rules import client_token, normalize_export_type
from ddb_lake.operators.base import airflow_error
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator

END = pendulum.datetime(2026, 11, 21, tz="UTC")  # Airflow hands pendulum datetimes to tasks


def decided(call, *args, **kwargs):
    """Call ``call`` and raise what a task raises for its error: Airflow's retry decision (operators.base)."""
    try:
        return call(*args, **kwargs)
    except Exception as error:
        raise (airflow_error(error) or error) from error


def client_error(code: str, status: int) -> ClientError:
    """A ClientError shaped like botocore builds from a DynamoDB JSON error response."""
    response = {"Error": {"Code": code, "Message": f"{code} message"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ExportTableToPointInTime")


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ThrottlingException", 400, True),
        ("LimitExceededException", 400, True),
        ("InternalServerError", 500, True),
        ("ServiceUnavailable", 503, True),
        ("InvalidExportTimeException", 400, False),
        ("PointInTimeRecoveryUnavailableException", 400, False),
        ("ValidationException", 400, False),
    ],
)
def test_transient_errors_are_throttling_quota_and_5xx(code, status, transient):
    assert is_transient(client_error(code, status)) is transient


def operator(**kwargs) -> DynamoDBExportOperator:
    return DynamoDBExportOperator(
        task_id="export", table_name="orders", s3_bucket="lake", s3_prefix="mirror/exports/orders", **kwargs
    )


@pytest.mark.parametrize(
    ("code", "status", "terminal", "words"),
    [
        ("LimitExceededException", 400, False, "transient LimitExceededException"),
        ("InternalServerError", 500, False, "transient InternalServerError"),
        ("InvalidExportTimeException", 400, True, "outside the table's point-in-time recovery window"),
        ("ExportConflictException", 400, True, "same ClientToken but different parameters"),
        ("PointInTimeRecoveryUnavailableException", 400, True, "point-in-time recovery is not enabled"),
        ("SomethingNew", 400, False, "failed"),
    ],
)
def test_start_errors_fail_fast_only_when_retrying_cannot_help(code, status, terminal, words):
    window = RecoveryWindow(True, END - timedelta(days=35), END)
    error = airflow_error(start_error(
        client_error(code, status), table_name="orders", destination="s3://lake/mirror/exports/orders", recovery=window
    ))
    assert isinstance(error, AirflowFailException) is terminal
    assert isinstance(error, AirflowException)
    assert words in str(error) and "table orders to s3://lake/mirror/exports/orders" in str(error)


def test_client_token_is_deterministic_and_changes_after_a_failed_export():
    parts = ("dag", "export", "orders", "FULL_EXPORT", None, END.isoformat())
    assert client_token(*parts, 0) == client_token(*parts, 0)
    assert client_token(*parts, 0) != client_token(*parts, 1)
    assert client_token(*parts, 0) != client_token("dag", "export", "other", *parts[3:], 0)


def test_export_type_aliases():
    assert normalize_export_type("full") == "FULL_EXPORT"
    assert normalize_export_type(" incremental_export ") == "INCREMENTAL_EXPORT"
    with pytest.raises(ConfigError, match="export_type 'DIFF'"):
        normalize_export_type("DIFF")


def test_bad_view_type_is_refused_at_parse_time():
    with pytest.raises(ConfigError, match="export_view_type 'OLD_IMAGE'"):
        operator(export_view_type="OLD_IMAGE")


def test_incremental_window_comes_from_an_interval_timetable_on_a_manual_run():
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = DAG("hourly", schedule=CronDataIntervalTimetable("0 * * * *", "UTC"), start_date=END - timedelta(days=1))
    context = {"dag": dag, "data_interval_start": END, "data_interval_end": END, "logical_date": END}
    assert operator(export_type="INCREMENTAL_EXPORT").requested_interval(context, "INCREMENTAL_EXPORT") == (
        END - timedelta(hours=1), END,
    )


def test_zero_length_interval_of_a_cron_trigger_schedule_is_refused_for_incremental():
    from airflow.timetables.trigger import CronTriggerTimetable  # what "@daily" means by default in Airflow 3

    dag = DAG("daily", schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC"), start_date=END - timedelta(days=1))
    context = {"dag": dag, "data_interval_start": END, "data_interval_end": END, "logical_date": END}
    with pytest.raises(AirflowFailException, match=r"window \[.*\) is 0:00:00, but DynamoDB accepts 15 minutes"):
        decided(operator(export_type="INCREMENTAL_EXPORT").requested_interval, context, "INCREMENTAL_EXPORT")
    assert operator().requested_interval(context, "FULL_EXPORT") == (None, END)


def test_explicit_times_override_the_interval():
    op = operator(export_type="INCREMENTAL_EXPORT", window_start="2026-11-20T23:00:00Z", export_time="2026-11-21")
    assert op.requested_interval({}, "INCREMENTAL_EXPORT") == (END - timedelta(hours=1), END)


def test_failed_export_messages_and_retry_policy():
    terminal = airflow_error(export_failure("arn:x", "orders", "S3NoSuchBucket", "The specified bucket does not exist"))
    assert isinstance(terminal, AirflowFailException)
    assert str(terminal).startswith("DynamoDB export arn:x of table orders FAILED: S3NoSuchBucket: The specified")
    other = airflow_error(export_failure("arn:x", "orders", "UNKNOWN", "boom"))
    assert not isinstance(other, AirflowFailException) and "A retry starts a new export" in str(other)
    sensor_side = airflow_error(export_failure("arn:x", "orders", "UNKNOWN", "boom", restartable=False))
    assert isinstance(sensor_side, AirflowFailException)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"status": "timeout", "export_arn": "arn:x", "message": "still not finished"}, "ended with timeout"),
        ({"status": "error", "export_arn": "arn:x", "message": "DescribeExport failed"}, "DescribeExport failed"),
        (None, "ended with None"),
    ],
)
def test_unsuccessful_trigger_events_raise_with_the_export_arn(event, expected):
    with pytest.raises(AirflowException, match=expected):
        decided(raise_for_export_event, event, "orders")
    assert raise_for_export_event({"status": "success", "export_arn": "arn:x"}) == "arn:x"
