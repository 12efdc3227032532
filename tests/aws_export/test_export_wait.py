"""Waiting for an export: DynamoDBExportSensor in poke, reschedule and deferrable modes, and the trigger itself."""

from __future__ import annotations

import importlib
import time
from datetime import UTC, timedelta

import pytest
from airflow.providers.amazon.aws.exceptions import WaiterMaxAttemptsError, WaiterTerminalFailure

from ddb_lake.compat import AirflowException, AirflowFailException, TaskDeferred
from ddb_lake.sensors.dynamodb_export import DynamoDBExportSensor
from ddb_lake.triggers.dynamodb_export import DynamoDBExportTrigger, export_event

# moto answers DescribeExport for an unknown ARN with a 500 (real DynamoDB: ExportNotFoundException); one try only.
NO_RETRIES = {"retries": {"max_attempts": 1, "mode": "standard"}}
UNKNOWN_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/01700000000000-deadbeef"


def start_export(aws, bucket: str = "lake") -> str:
    aws.create_table("orders", items=[{"pk": {"S": "a"}}])
    started = aws.dynamodb.export_table_to_point_in_time(
        TableArn=aws.table_arn("orders"), S3Bucket=bucket, S3Prefix="mirror/manual"
    )
    export_arn = started["ExportDescription"]["ExportArn"]
    deadline = time.monotonic() + 10
    while aws.dynamodb.describe_export(ExportArn=export_arn)["ExportDescription"]["ExportStatus"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, "moto export did not finish"
        time.sleep(0.05)
    return export_arn


def test_trigger_serialize_round_trip():
    trigger = DynamoDBExportTrigger(
        UNKNOWN_ARN, waiter_delay=7, waiter_max_attempts=9, aws_conn_id="aws_lake", region_name="eu-west-1",
        verify=False, botocore_config=NO_RETRIES,
    )
    classpath, kwargs = trigger.serialize()
    module_name, class_name = classpath.rsplit(".", 1)
    assert classpath == "ddb_lake.triggers.dynamodb_export.DynamoDBExportTrigger"
    rebuilt = getattr(importlib.import_module(module_name), class_name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "export_arn": UNKNOWN_ARN, "waiter_delay": 7, "waiter_max_attempts": 9, "aws_conn_id": "aws_lake",
        "region_name": "eu-west-1", "verify": False, "botocore_config": NO_RETRIES, "max_server_errors": 5,
    }


@pytest.mark.integration
def test_trigger_reports_completed_export(aws, trigger_event):
    export_arn = start_export(aws)
    event = trigger_event(DynamoDBExportTrigger(export_arn, waiter_delay=0, waiter_max_attempts=3))
    assert event.payload == {"status": "success", "export_arn": export_arn}


def test_waiter_endings_map_to_the_events_the_operator_and_sensor_read():
    timeout = export_event(UNKNOWN_ARN, WaiterMaxAttemptsError("Waiter error: max attempts reached"), 0, 2)
    assert timeout["status"] == "timeout"
    assert timeout["message"] == "still not finished after 2 polls 0s apart"
    failed = export_event(
        UNKNOWN_ARN,
        WaiterTerminalFailure("x", last_response={"ExportDescription": {"ExportStatus": "FAILED",
                                                                        "FailureCode": "S3NoSuchBucket",
                                                                        "FailureMessage": "no bucket"}}),
        0, 2,
    )
    assert failed == {"status": "failed", "export_arn": UNKNOWN_ARN, "failure_code": "S3NoSuchBucket",
                      "failure_message": "no bucket"}
    with pytest.raises(AirflowFailException, match="FAILED: S3NoSuchBucket: no bucket"):
        DynamoDBExportSensor(task_id="wait", export_arn=UNKNOWN_ARN).execute_complete({}, failed)


@pytest.mark.integration
def test_deferred_wait_stops_after_a_bounded_number_of_consecutive_5xx(aws, trigger_event):
    """moto answers DescribeExport of an unknown ARN with a 500: a real, persistent server error.

    The provider's own waiter loop would retry named 5xx codes forever; ours stops after max_server_errors in a row
    (server errors use no polls), and the task's resume raises a retryable error that says a retry reattaches.
    """
    trigger = DynamoDBExportTrigger(UNKNOWN_ARN, waiter_delay=0, waiter_max_attempts=2, botocore_config=NO_RETRIES,
                                    max_server_errors=4)
    event = trigger_event(trigger)
    assert event.payload["status"] == "error" and event.payload["export_arn"] == UNKNOWN_ARN
    assert f"Stopped waiting for DynamoDB export {UNKNOWN_ARN} of table orders" in event.payload["message"]
    assert "answered 4 server errors in a row (last: HTTP 500 500)" in event.payload["message"]
    assert "a retry of the export task reattaches to it" in event.payload["message"]
    with pytest.raises(AirflowException, match=f"Waiting for DynamoDB export {UNKNOWN_ARN}") as raised:
        DynamoDBExportSensor(task_id="wait", export_arn=UNKNOWN_ARN).execute_complete({}, event.payload)
    assert not isinstance(raised.value, AirflowFailException)


@pytest.mark.integration
def test_sync_wait_stops_after_the_same_bound_with_counted_calls(aws):
    from ddb_lake.core.export.failures import ExportRetryableError
    from ddb_lake.hooks.dynamodb_export import DynamoDBExportHook

    hook = DynamoDBExportHook(aws_conn_id="aws_default", config=NO_RETRIES)
    calls: list[str] = []
    hook.conn.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    with pytest.raises(ExportRetryableError) as raised:
        hook.wait_for_export(UNKNOWN_ARN, delay=0, max_attempts=2, max_server_errors=4)
    assert calls == ["DescribeExport"] * 4
    assert "answered 4 server errors in a row (last: HTTP 500 500)" in str(raised.value)
    assert "a retry of the export task reattaches to it" in str(raised.value)


@pytest.mark.integration
def test_sensor_poke_mode_succeeds_on_completed_export(aws, dag, context_for):
    export_arn = start_export(aws)
    sensor = DynamoDBExportSensor(task_id="wait", export_arn=export_arn, poke_interval=1, timeout=30)
    assert sensor.mode == "poke"
    assert sensor.poke({}) is True
    assert sensor.execute({}) is None  # returns at the first successful poke, no sleep


@pytest.mark.integration
def test_sensor_reschedule_mode_pokes_the_same_way(aws):
    export_arn = start_export(aws)
    sensor = DynamoDBExportSensor(task_id="wait", export_arn=export_arn, mode="reschedule", poke_interval=60)
    assert sensor.reschedule is True and sensor.poke_interval == 60
    assert sensor.poke({}) is True
    unknown = DynamoDBExportSensor(task_id="wait2", export_arn=UNKNOWN_ARN, mode="reschedule",
                                   botocore_config=NO_RETRIES)
    assert unknown.poke({}) is False  # a 5xx is transient: poke again at the next reschedule


@pytest.mark.integration
def test_sensor_fails_with_failure_code_of_a_failed_export(aws):
    export_arn = start_export(aws, bucket="bucket-that-does-not-exist")
    sensor = DynamoDBExportSensor(task_id="wait", export_arn=export_arn, poke_interval=1, timeout=30)
    with pytest.raises(AirflowFailException) as failure:
        sensor.execute({})
    assert f"DynamoDB export {export_arn} of table orders FAILED: S3NoSuchBucket" in str(failure.value)
    assert "The specified bucket does not exist" in str(failure.value)


@pytest.mark.integration
def test_sensor_times_out(aws):
    from ddb_lake.compat import AirflowSensorTimeout

    sensor = DynamoDBExportSensor(
        task_id="wait", export_arn=UNKNOWN_ARN, poke_interval=0.1, timeout=0.3, botocore_config=NO_RETRIES
    )
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({})


@pytest.mark.integration
def test_sensor_deferrable_returns_at_once_when_already_done(aws):
    export_arn = start_export(aws)
    sensor = DynamoDBExportSensor(task_id="wait", export_arn=export_arn, deferrable=True)
    assert sensor.execute({}) is None


@pytest.mark.integration
def test_sensor_deferrable_defers_then_handles_the_trigger_event(aws, trigger_event):
    sensor = DynamoDBExportSensor(
        task_id="wait", export_arn=UNKNOWN_ARN, deferrable=True, poke_interval=5, timeout=60,
        botocore_config=NO_RETRIES,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, DynamoDBExportTrigger)
    assert (trigger.waiter_delay, trigger.waiter_max_attempts) == (5, 12)
    assert deferred.value.timeout == timedelta(seconds=60)
    assert trigger.botocore_config == NO_RETRIES

    export_arn = start_export(aws, bucket="bucket-that-does-not-exist")
    failed_event = trigger_event(DynamoDBExportTrigger(export_arn, waiter_delay=0, waiter_max_attempts=3))
    with pytest.raises(AirflowFailException, match="S3NoSuchBucket: The specified bucket does not exist"):
        sensor.execute_complete({}, failed_event.payload)
    done = start_export_again(aws)
    success = trigger_event(DynamoDBExportTrigger(done, waiter_delay=1, waiter_max_attempts=10))
    assert success.payload == {"status": "success", "export_arn": done}
    assert sensor.execute_complete({}, success.payload) is None


def start_export_again(aws) -> str:
    started = aws.dynamodb.export_table_to_point_in_time(
        TableArn=aws.table_arn("orders"), S3Bucket="lake", S3Prefix="mirror/again"
    )
    return started["ExportDescription"]["ExportArn"]


def test_templated_export_arn_renders(dag, context_for):
    sensor = DynamoDBExportSensor(
        task_id="wait", dag=dag, export_arn="{{ params.arn }}", params={"arn": UNKNOWN_ARN}
    )
    from datetime import datetime

    end = datetime(2026, 11, 21, tzinfo=UTC)
    sensor.render_template_fields(context_for(dag, sensor, end - timedelta(days=1), end))
    assert sensor.export_arn == UNKNOWN_ARN
    assert DynamoDBExportSensor.template_fields == ("export_arn",)
