"""DynamoDBExportOperator against moto server: full and incremental exports, the three ways to wait, reattach, failures.

moto's point-in-time-recovery window is a single instant (Earliest == Latest == the moment PITR was enabled), so
full exports here run at exactly that instant; incremental exports (>= 15 min long) can only run on moto with
``check_recovery_window=False``. The window checks themselves are tested against the same moto-reported window.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from ddb_lake.compat import AirflowException, AirflowFailException, TaskDeferred
from ddb_lake.core.export.rules import normalize_export_type
from ddb_lake.core.lake.layout import TableLayout
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.triggers.dynamodb_export import DynamoDBExportTrigger

pytestmark = pytest.mark.integration

ITEMS = [{"pk": {"S": f"order-{i}"}, "amount": {"N": f"{i}.25"}, "tags": {"SS": ["a", f"t{i}"]}} for i in range(5)]
RESULT_KEYS = {
    "export_arn", "table_name", "export_type", "export_time", "window_start", "s3_bucket", "s3_prefix",
    "export_folder", "item_count", "manifest_key",
}


def export_operator(dag, interval=None, **kwargs) -> DynamoDBExportOperator:
    """An export task as the DAG would hold it; the DAG reaches it through the run context (as in a worker).

    ``s3_prefix`` defaults to what the run plan hands the task for ``interval``: the lake layout's export prefix.
    """
    kwargs.setdefault("task_id", "export")
    kwargs.setdefault("table_name", "orders")
    kwargs.setdefault("s3_bucket", "lake")
    if interval is not None:
        export_type = kwargs.get("export_type", "FULL")
        kwargs.setdefault("s3_prefix", planned_prefix(kwargs["table_name"], export_type, interval))
    kwargs.setdefault("s3_prefix", "mirror/exports/orders/full/unused")
    kwargs.setdefault("waiter_delay", 1)
    kwargs.setdefault("waiter_max_attempts", 10)
    return DynamoDBExportOperator(**kwargs)


def planned_prefix(table: str, export_type: str, interval) -> str:
    """The run plan's export_prefix of an interval (TableLayout under the lake prefix ``mirror``)."""
    kind = normalize_export_type(export_type)
    start, end = interval
    window_start = start if kind == "INCREMENTAL_EXPORT" else None
    return TableLayout("lake", "mirror", table).export_prefix(kind, end, window_start)


def exported_items(aws, result) -> list[dict]:
    """Read back the DynamoDB JSON lines moto wrote into the export folder."""
    folder_key = result["export_folder"].removeprefix("s3://lake/")
    items = []
    for key in aws.keys("lake", folder_key):
        body = aws.s3.get_object(Bucket="lake", Key=key)["Body"].read()
        items.extend(json.loads(line)["Item"] for line in gzip.decompress(body).decode().splitlines() if line)
    return items


def test_full_export_waits_in_worker_and_reports_where_it_landed(aws, dag, context_for, capsys):
    pitr_time = aws.create_table("orders", items=ITEMS)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    operator = export_operator(dag, interval)
    capsys.readouterr()
    result = operator.execute(context_for(dag, operator, *interval))
    # the export hook and the lake storage hook share one connection lookup: one "credentials retrieved" line
    assert capsys.readouterr().out.count("credentials retrieved") == 1

    assert RESULT_KEYS <= set(result)
    expected_prefix = TableLayout("lake", "mirror", "orders").export_prefix("FULL_EXPORT", pitr_time)
    assert result["s3_prefix"] == expected_prefix
    assert result["export_type"] == "FULL_EXPORT" and result["window_start"] is None
    assert result["export_time"] == pitr_time.isoformat()
    assert result["export_arn"] == aws.export_arns("orders")[0]
    assert result["item_count"] == 5
    assert result["export_folder"].startswith(f"s3://lake/{expected_prefix}/AWSDynamoDB/")
    assert result["export_folder"].endswith("/")
    assert sorted(item["pk"]["S"] for item in exported_items(aws, result)) == [f"order-{i}" for i in range(5)]
    assert aws.dynamodb.describe_export(ExportArn=result["export_arn"])["ExportDescription"]["S3Prefix"] == (
        expected_prefix
    )


def deferred_export(aws, dag, context_for, **kwargs):
    """Run a deferrable export until it defers; return (operator, context, TaskDeferred, table name).

    moto finishes an export in a thread that sometimes beats the start response (then the operator rightly returns
    without deferring; measured 15-35% of starts): each attempt uses a fresh table so it is a fresh export.
    """
    for attempt in range(8):
        table = f"orders_{attempt}"
        pitr_time = aws.create_table(table, items=ITEMS)
        interval = (pitr_time - timedelta(days=1), pitr_time)
        operator = export_operator(dag, interval, table_name=table, deferrable=True, **kwargs)
        context = context_for(dag, operator, *interval)
        try:
            operator.execute(context)
        except TaskDeferred as deferred:
            return operator, context, deferred, table
    raise AssertionError("moto finished all 8 exports before answering the start call")


def test_full_export_deferrable_defers_to_trigger_and_completes(aws, dag, context_for, trigger_event):
    operator, context, deferred, table = deferred_export(aws, dag, context_for, waiter_delay=1, waiter_max_attempts=20)
    trigger = deferred.trigger
    assert isinstance(trigger, DynamoDBExportTrigger)
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=1 * 20 + 60)
    assert trigger.export_arn == aws.export_arns(table)[0]

    event = trigger_event(trigger)
    assert event.payload == {"status": "success", "export_arn": trigger.export_arn}
    result = operator.execute_complete(context, event.payload, **deferred.kwargs)
    assert result["export_arn"] == trigger.export_arn
    # `airflow dags test` resumes with the event alone: the request is recomputed from the run context
    assert operator.execute_complete(context, event.payload) == result
    assert result["item_count"] == 5
    assert len(exported_items(aws, result)) == 5


def test_retry_reattaches_and_never_starts_a_second_export(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    first = export_operator(dag, interval)
    first_result = first.execute(context_for(dag, first, *interval))

    retry = export_operator(dag, interval)  # a fresh operator object, as a retry in a new worker process gets
    retry_result = retry.execute(context_for(dag, retry, *interval))

    assert retry_result == first_result
    assert aws.export_arns("orders") == [first_result["export_arn"]]


def test_a_different_interval_is_a_different_export(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    full_interval, hour = (pitr_time - timedelta(days=1), pitr_time), (pitr_time - timedelta(hours=1), pitr_time)
    first = export_operator(dag, full_interval)
    first.execute(context_for(dag, first, *full_interval))
    incremental = export_operator(dag, hour, export_type="INCREMENTAL_EXPORT", check_recovery_window=False)
    incremental.execute(context_for(dag, incremental, *hour))
    assert len(aws.export_arns("orders")) == 2


def test_incremental_export_of_the_interval(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    start, end = pitr_time - timedelta(hours=1), pitr_time
    operator = export_operator(
        dag, (start, end), export_type="incremental", export_view_type="NEW_IMAGE", check_recovery_window=False
    )
    result = operator.execute(context_for(dag, operator, start, end))

    assert result["export_type"] == "INCREMENTAL_EXPORT"
    assert result["window_start"] == start.isoformat() and result["export_time"] == end.isoformat()
    layout = TableLayout("lake", "mirror", "orders")
    assert result["s3_prefix"] == layout.export_prefix("INCREMENTAL_EXPORT", end, start)
    assert "/incremental/" in result["s3_prefix"]
    description = aws.dynamodb.describe_export(ExportArn=result["export_arn"])["ExportDescription"]
    assert description["ExportType"] == "INCREMENTAL_EXPORT"
    assert len(exported_items(aws, result)) == 5


def test_export_without_waiting_returns_the_started_export(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    operator = export_operator(dag, interval, wait_for_completion=False)
    result = operator.execute(context_for(dag, operator, *interval))
    assert result["export_arn"] == aws.export_arns("orders")[0]
    # moto finishes the export in a thread that can beat the start response: the folder is named only when done
    if result["export_folder"] is None:
        assert result["item_count"] is None
    else:
        assert len(exported_items(aws, result)) == 5


def test_missing_table_fails_naming_it(aws, dag, context_for):
    aws.create_table("orders", items=ITEMS)
    operator = export_operator(dag, _some_interval(), table_name="no_such_table")
    with pytest.raises(AirflowFailException, match="DynamoDB table no_such_table does not exist"):
        operator.execute(context_for(dag, operator, *_some_interval()))


def test_pitr_disabled_fails_with_the_fix(aws, dag, context_for):
    aws.create_table("orders", pitr=False, items=ITEMS)
    operator = export_operator(dag, _some_interval())
    with pytest.raises(AirflowFailException) as failure:
        operator.execute(context_for(dag, operator, *_some_interval()))
    assert "orders has point-in-time recovery disabled" in str(failure.value)
    assert "update-continuous-backups --table-name orders" in str(failure.value)
    assert aws.export_arns("orders") == []


def test_backfill_older_than_the_recovery_window_says_so(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    old_end = pitr_time - timedelta(days=40)
    operator = export_operator(dag, (old_end - timedelta(days=1), old_end))
    with pytest.raises(AirflowFailException) as failure:
        operator.execute(context_for(dag, operator, old_end - timedelta(days=1), old_end))
    message = str(failure.value)
    assert f"at {old_end.isoformat()} is before its EarliestRestorableDateTime {pitr_time.isoformat()}" in message
    assert "older than the point-in-time recovery window" in message
    assert aws.export_arns("orders") == []


def test_time_after_latest_restorable_is_a_retryable_error(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    later = pitr_time + timedelta(minutes=10)
    operator = export_operator(dag, (later - timedelta(days=1), later))
    with pytest.raises(AirflowException) as failure:
        operator.execute(context_for(dag, operator, later - timedelta(days=1), later))
    assert not isinstance(failure.value, AirflowFailException)
    # moto reports LatestRestorableDateTime as the clock at DescribeContinuousBackups, so read the stated time back
    stated = re.search(r"at (\S+) is after its LatestRestorableDateTime (\S+):", str(failure.value))
    assert stated, str(failure.value)
    assert datetime.fromisoformat(stated.group(1)) == later
    assert pitr_time <= datetime.fromisoformat(stated.group(2)) < later
    assert aws.export_arns("orders") == []


def test_incremental_window_too_late_for_recovery_window_is_checked_on_both_ends(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    operator = export_operator(dag, (pitr_time - timedelta(hours=1), pitr_time), export_type="INCREMENTAL_EXPORT")
    with pytest.raises(AirflowFailException, match="is before its EarliestRestorableDateTime"):
        operator.execute(context_for(dag, operator, pitr_time - timedelta(hours=1), pitr_time))


@pytest.mark.parametrize(("length", "shown"), [(timedelta(minutes=10), "0:10:00"), (timedelta(hours=25), "1 day")])
def test_incremental_window_outside_15_minutes_to_24_hours_fails(aws, dag, context_for, length, shown):
    pitr_time = aws.create_table("orders", items=ITEMS)
    operator = export_operator(dag, export_type="INCREMENTAL_EXPORT", check_recovery_window=False)
    with pytest.raises(AirflowFailException) as failure:
        operator.execute(context_for(dag, operator, pitr_time - length, pitr_time))
    assert "Incremental export of table orders" in str(failure.value)
    assert f"is {shown}" in str(failure.value)
    assert "DynamoDB accepts 15 minutes to 24 hours" in str(failure.value)
    assert aws.export_arns("orders") == []


def test_missing_bucket_fails_before_any_export_is_started(aws, dag, context_for):
    """The export record is written to the export bucket first: a missing bucket fails there, terminally."""
    pitr_time = aws.create_table("orders", items=ITEMS)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    operator = export_operator(dag, interval, s3_bucket="bucket-that-does-not-exist")
    with pytest.raises(AirflowFailException) as failure:
        operator.execute(context_for(dag, operator, *interval))
    assert "NoSuchBucket" in str(failure.value)
    assert "create the bucket or fix its name in the table's YAML" in str(failure.value)
    assert aws.export_arns("orders") == []


def test_a_wait_that_ends_failed_surfaces_failure_code_and_message(aws, dag, context_for):
    aws.create_table("orders", items=ITEMS)
    failed = aws.dynamodb.export_table_to_point_in_time(
        TableArn=aws.table_arn("orders"), S3Bucket="bucket-that-does-not-exist", S3Prefix="mirror/x"
    )["ExportDescription"]["ExportArn"]
    operator = export_operator(dag)
    with pytest.raises(Exception) as failure:
        operator.wait(failed)
    assert f"DynamoDB export {failed} of table orders FAILED: S3NoSuchBucket" in str(failure.value)
    assert "The specified bucket does not exist" in str(failure.value)


def test_failed_export_in_deferrable_mode_surfaces_failure_code(aws, dag, context_for, trigger_event):
    pitr_time = aws.create_table("orders", items=ITEMS)
    started = aws.dynamodb.export_table_to_point_in_time(
        TableArn=aws.table_arn("orders"), S3Bucket="bucket-that-does-not-exist", S3Prefix="mirror/x"
    )["ExportDescription"]
    event = trigger_event(DynamoDBExportTrigger(started["ExportArn"], waiter_delay=1, waiter_max_attempts=10))
    assert event.payload == {
        "status": "failed",
        "export_arn": started["ExportArn"],
        "failure_code": "S3NoSuchBucket",
        "failure_message": "The specified bucket does not exist",
    }
    interval = (pitr_time - timedelta(days=1), pitr_time)
    operator = export_operator(dag, interval, s3_bucket="bucket-that-does-not-exist", deferrable=True)
    context = context_for(dag, operator, *interval)
    with pytest.raises(AirflowFailException, match="FAILED: S3NoSuchBucket: The specified bucket does not exist"):
        operator.execute_complete(context, event.payload, request={"table_name": "orders"})


def test_retry_after_a_failed_export_starts_a_fresh_one_with_a_new_token(aws, dag, context_for):
    """The record names a FAILED export: the retry is attempt 1, with its own ClientToken, and a new export."""
    pitr_time = aws.create_table("orders", items=ITEMS)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    prefix = planned_prefix("orders", "FULL", interval)
    failed = aws.dynamodb.export_table_to_point_in_time(
        TableArn=aws.table_arn("orders"), S3Bucket="bucket-that-does-not-exist", S3Prefix=prefix
    )["ExportDescription"]["ExportArn"]
    record = {"table_name": "orders", "export_type": "FULL_EXPORT", "s3_bucket": "lake", "s3_prefix": prefix,
              "attempt": 0, "client_token": "ddb-lake-attempt-0", "export_arn": failed}
    aws.s3.put_object(Bucket="lake", Key=f"{prefix}/_ddb_lake_export.json", Body=json.dumps(record))

    retry = export_operator(dag, interval)
    result = retry.execute(context_for(dag, retry, *interval))
    assert result["export_arn"] != failed and len(aws.export_arns("orders")) == 2  # a FAILED export is not reused
    remembered = json.loads(aws.s3.get_object(Bucket="lake", Key=f"{prefix}/_ddb_lake_export.json")["Body"].read())
    assert remembered["attempt"] == 1 and remembered["export_arn"] == result["export_arn"]
    assert remembered["client_token"].startswith("ddb-lake-") and remembered["client_token"] != "ddb-lake-attempt-0"


def test_templated_fields_render_from_the_run(dag, context_for):
    operator = export_operator(
        dag,
        table_name="{{ params.table }}",
        s3_prefix="mirror/{{ ds }}",
        export_time="{{ data_interval_end }}",
        window_start="{{ data_interval_start }}",
        export_type="{{ params.kind }}",
        params={"table": "orders", "kind": "INCREMENTAL_EXPORT"},
    )
    start, end = _some_interval()
    context = context_for(dag, operator, start, end)
    operator.render_template_fields(context)
    assert set(DynamoDBExportOperator.template_fields) == {
        "table_name", "s3_bucket", "s3_prefix", "export_type", "export_time", "window_start",
    }
    assert operator.table_name == "orders"
    assert operator.s3_prefix == "mirror/2026-11-20"
    assert operator.export_type == "INCREMENTAL_EXPORT"
    assert operator.requested_interval(context, "INCREMENTAL_EXPORT") == (start, end)


def test_no_io_at_construction(dag):
    operator = export_operator(dag, aws_conn_id="connection_that_does_not_exist")
    assert "hook" not in operator.__dict__


def _some_interval():
    from datetime import datetime

    end = datetime(2026, 11, 21, tzinfo=UTC)
    return end - timedelta(days=1), end


def test_the_export_goes_to_exactly_the_planned_prefix(dag, context_for):
    """The run plan names the export prefix (by the lake's table name); the operator hands it to DynamoDB as is."""
    operator = export_operator(dag, table_name="demo-orders", s3_prefix="lake/exports/orders/full/20261121T000000Z")
    start, end = _some_interval()
    request = operator.request_for(context_for(dag, operator, start, end))
    assert request["table_name"] == "demo-orders"
    assert request["s3_prefix"] == "lake/exports/orders/full/20261121T000000Z"
    assert "lake_table" not in request and "lake_prefix" not in request


def count_dynamodb_calls(operator) -> list[str]:
    """The names of the DynamoDB calls the operator's own hook client makes from now on (a botocore event hook)."""
    calls: list[str] = []
    operator.hook.conn.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


def start_older_exports(aws, table: str, count: int) -> None:
    for n in range(count):
        aws.dynamodb.export_table_to_point_in_time(
            TableArn=aws.table_arn(table), S3Bucket="lake", S3Prefix=f"mirror/exports/{table}/full/older-{n:02d}"
        )


@pytest.mark.parametrize("older", [0, 20])
def test_retry_reattaches_with_calls_that_do_not_grow_with_the_export_history(aws, dag, context_for, older):
    pitr_time = aws.create_table("orders", items=ITEMS)
    start_older_exports(aws, "orders", older)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    first = export_operator(dag, interval)
    first_calls = count_dynamodb_calls(first)
    first_result = first.execute(context_for(dag, first, *interval))
    assert "ListExports" not in first_calls  # nothing remembered at the prefix: nothing to look up

    record = json.loads(aws.s3.get_object(Bucket="lake", Key=f"{first_result['s3_prefix']}/_ddb_lake_export.json")
                        ["Body"].read())
    assert record["export_arn"] == first_result["export_arn"] and record["attempt"] == 0

    retry = export_operator(dag, interval)
    retry_calls = count_dynamodb_calls(retry)
    assert retry.execute(context_for(dag, retry, *interval)) == first_result
    assert retry_calls == ["DescribeTable", "DescribeExport"]  # the table, then the export the record names
    assert len(aws.export_arns("orders")) == older + 1


def test_a_try_that_died_between_start_and_record_is_found_by_a_bounded_listing(aws, dag, context_for):
    """The record was written before the start but never got the ARN: the listing is searched, newest first."""
    pitr_time = aws.create_table("orders", items=ITEMS)
    start_older_exports(aws, "orders", 3)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    prefix = planned_prefix("orders", "FULL", interval)
    started = aws.dynamodb.export_table_to_point_in_time(
        TableArn=aws.table_arn("orders"), S3Bucket="lake", S3Prefix=prefix, ExportTime=pitr_time
    )["ExportDescription"]["ExportArn"]
    unstarted = {"table_name": "orders", "export_type": "FULL_EXPORT", "s3_bucket": "lake", "s3_prefix": prefix,
                 "attempt": 0, "client_token": "ddb-lake-x", "export_arn": None}
    aws.s3.put_object(Bucket="lake", Key=f"{prefix}/_ddb_lake_export.json", Body=json.dumps(unstarted))

    retry = export_operator(dag, interval, wait_for_completion=False)
    calls = count_dynamodb_calls(retry)
    assert retry.execute(context_for(dag, retry, *interval))["export_arn"] == started
    assert calls.count("ListExports") == 1 and 1 <= calls.count("DescribeExport") <= 4 + 1
    assert len(aws.export_arns("orders")) == 4
    record = json.loads(aws.s3.get_object(Bucket="lake", Key=f"{prefix}/_ddb_lake_export.json")["Body"].read())
    assert record["export_arn"] == started


def test_the_listing_fallback_describes_a_bounded_number_of_exports(aws, dag, context_for):
    pitr_time = aws.create_table("orders", items=ITEMS)
    start_older_exports(aws, "orders", 20)
    interval = (pitr_time - timedelta(days=1), pitr_time)
    prefix = planned_prefix("orders", "FULL", interval)
    unstarted = {"table_name": "orders", "export_type": "FULL_EXPORT", "s3_bucket": "lake", "s3_prefix": prefix,
                 "attempt": 0, "client_token": "ddb-lake-x", "export_arn": None}
    aws.s3.put_object(Bucket="lake", Key=f"{prefix}/_ddb_lake_export.json", Body=json.dumps(unstarted))

    retry = export_operator(dag, interval, wait_for_completion=False)
    calls = count_dynamodb_calls(retry)
    retry.execute(context_for(dag, retry, *interval))
    assert calls.count("ListExports") == 1
    assert calls.count("DescribeExport") == 5  # DESCRIBED_EXPORTS of the 20 listed, none at this prefix
    assert calls.count("ExportTableToPointInTime") == 1

