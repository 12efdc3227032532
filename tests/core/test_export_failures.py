"""The export's pure rules: PITR window, start errors, FAILED exports, trigger events, and where the files are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from ddb_lake.core.errors import (
    ConfigError,
    TerminalError,
    TerminalServiceError,
    TransientError,
    TransientServiceError,
)
from ddb_lake.core.export.failures import (
    ExportFailedError,
    ExportRetryableError,
    error_reply,
    export_failure,
    is_transient,
    raise_for_export_event,
    raise_if_failed,
    start_error,
    still_running_error,
)
from ddb_lake.core.export.folders import (
    export_folder,
    export_id_of,
    finished_export,
    is_export_at,
    listing_root,
    table_name_of,
)
from ddb_lake.core.export.pitr import (
    OutsideRecoveryWindowError,
    RecoveryWindow,
    RecoveryWindowNotReachedError,
    check_recovery_window,
    recovery_window_of,
)

EARLIEST = datetime(2026, 10, 17, tzinfo=UTC)
LATEST = datetime(2026, 11, 21, 12, tzinfo=UTC)
WINDOW = RecoveryWindow(True, EARLIEST, LATEST)
EXPORT_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/01700000000000-abcdef12"
DESTINATION = "s3://lake/mirror/exports/orders/full/20261121T000000Z"


def client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": f"{code} message"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ExportTableToPointInTime")


# ---- PITR window ----------------------------------------------------------------------------------------------------

def test_recovery_window_is_read_from_describe_continuous_backups():
    naive_earliest = datetime(2026, 10, 17)  # botocore gives aware datetimes; naive ones are taken as UTC
    backups = {"PointInTimeRecoveryDescription": {
        "PointInTimeRecoveryStatus": "ENABLED",
        "EarliestRestorableDateTime": naive_earliest,
        "LatestRestorableDateTime": datetime(2026, 11, 21, 13, tzinfo=timezone(timedelta(hours=1))),
    }}
    assert recovery_window_of(backups) == RecoveryWindow(True, EARLIEST, LATEST)
    assert recovery_window_of({"PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}) == (
        RecoveryWindow(False, None, None)
    )
    assert recovery_window_of({}) == RecoveryWindow(False, None, None)


def test_pitr_disabled_is_a_config_error_with_the_command_that_enables_it():
    with pytest.raises(ConfigError) as raised:
        check_recovery_window("orders", RecoveryWindow(False, None, None), LATEST, LATEST, check_times=False)
    assert str(raised.value) == (
        "DynamoDB table orders has point-in-time recovery disabled, so it cannot be exported. Enable it (aws dynamodb "
        "update-continuous-backups --table-name orders --point-in-time-recovery-specification "
        "PointInTimeRecoveryEnabled=true); only times after that can be exported."
    )


def test_time_before_the_window_is_terminal_and_after_it_transient():
    too_old = EARLIEST - timedelta(seconds=1)
    with pytest.raises(OutsideRecoveryWindowError) as old:
        check_recovery_window("orders", WINDOW, too_old, LATEST)
    assert isinstance(old.value, TerminalError)
    assert str(old.value).startswith(
        "Export of table orders at 2026-10-16T23:59:59+00:00 is before its EarliestRestorableDateTime "
        "2026-10-17T00:00:00+00:00: this interval is older than the point-in-time recovery window"
    )
    too_new = LATEST + timedelta(minutes=1)
    with pytest.raises(RecoveryWindowNotReachedError) as new:
        check_recovery_window("orders", WINDOW, EARLIEST, too_new)
    assert isinstance(new.value, TransientError)
    assert "at 2026-11-21T12:01:00+00:00 is after its LatestRestorableDateTime 2026-11-21T12:00:00+00:00" in str(
        new.value
    )
    assert str(new.value).endswith("A retry a few minutes later will succeed.")


def test_window_edges_are_inside_and_the_check_can_be_switched_off():
    assert check_recovery_window("orders", WINDOW, EARLIEST, LATEST) is None
    far = LATEST + timedelta(days=1)
    assert check_recovery_window("orders", WINDOW, far, far, check_times=False) is None


# ---- start errors ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "status", "kind", "message"),
    [
        ("ThrottlingException", 400, TransientServiceError,
         f"ExportTableToPointInTime of table orders to {DESTINATION} hit a transient ThrottlingException; retry: "),
        ("InternalServerError", 500, TransientServiceError,
         f"ExportTableToPointInTime of table orders to {DESTINATION} hit a transient InternalServerError; retry: "),
        ("InvalidExportTimeException", 400, TerminalServiceError,
         f"ExportTableToPointInTime of table orders to {DESTINATION} failed: the export time is outside the table's "
         "point-in-time recovery window (recovery window 2026-10-17 00:00:00+00:00 .. 2026-11-21 12:00:00+00:00): "),
        ("AccessDeniedException", 400, TerminalServiceError,
         f"ExportTableToPointInTime of table orders to {DESTINATION} failed: "),
        ("SomethingNew", 400, TransientServiceError,
         f"ExportTableToPointInTime of table orders to {DESTINATION} failed: "),
    ],
)
def test_start_errors_are_sorted_by_reason(code, status, kind, message):
    error = start_error(client_error(code, status), table_name="orders", destination=DESTINATION, recovery=WINDOW)
    assert type(error) is kind
    assert (error.service, error.reason, error.status) == ("DynamoDB", code, status)
    assert str(error).startswith(message)
    assert f"An error occurred ({code}) when calling the ExportTableToPointInTime operation" in str(error)


def test_permission_refusal_names_the_fix_and_disabled_pitr_shows_no_window():
    denied = start_error(client_error("AccessDeniedException", 400), table_name="orders", destination=DESTINATION,
                         recovery=WINDOW)
    assert str(denied).endswith(". Fix: grant the connection's identity the permission named above")
    no_pitr = start_error(client_error("PointInTimeRecoveryUnavailableException", 400), table_name="orders",
                          destination=DESTINATION, recovery=RecoveryWindow(False, None, None))
    assert str(no_pitr).startswith(
        f"ExportTableToPointInTime of table orders to {DESTINATION} failed: point-in-time recovery is not enabled on "
        "the table: An error occurred"
    )


def test_error_reply_and_transience():
    assert error_reply(client_error("ThrottlingException", 400)) == ("ThrottlingException", 400)
    assert error_reply(ValueError("not a service error")) == ("", None)
    assert is_transient(client_error("LimitExceededException", 400)) is True
    assert is_transient(client_error("SomethingNew", 503)) is True
    assert is_transient(client_error("ExportNotFoundException", 400)) is False


# ---- FAILED exports and wait events ---------------------------------------------------------------------------------

def test_export_failure_by_failure_code_and_who_can_restart_it():
    bucket = export_failure(EXPORT_ARN, "orders", "S3NoSuchBucket", "The specified bucket does not exist")
    assert type(bucket) is ExportFailedError
    assert str(bucket) == (
        f"DynamoDB export {EXPORT_ARN} of table orders FAILED: S3NoSuchBucket: The specified bucket does not exist. "
        "Fix the bucket or its permissions, then clear the export task."
    )
    other = export_failure(EXPORT_ARN, None, None, None)
    assert type(other) is ExportRetryableError
    assert str(other) == (
        f"DynamoDB export {EXPORT_ARN} of table ? FAILED: no FailureCode: no FailureMessage. "
        "A retry starts a new export to the same S3 prefix."
    )
    watched = export_failure(EXPORT_ARN, "orders", "UNKNOWN", "boom", restartable=False)
    assert type(watched) is ExportFailedError
    assert str(watched).endswith("FAILED: UNKNOWN: boom. Clear the task that started the export to start a new one.")


def test_raise_if_failed_only_for_failed_descriptions():
    failed = {"ExportArn": EXPORT_ARN, "ExportStatus": "FAILED", "FailureCode": "KMSAccessDenied",
              "FailureMessage": "no key"}
    with pytest.raises(ExportFailedError, match=r"FAILED: KMSAccessDenied: no key\. Fix the bucket"):
        raise_if_failed(failed, "orders")
    assert raise_if_failed({"ExportArn": EXPORT_ARN, "ExportStatus": "IN_PROGRESS"}, "orders") is None
    assert raise_if_failed({"ExportArn": EXPORT_ARN, "ExportStatus": "COMPLETED"}, "orders") is None


def test_trigger_events():
    assert raise_for_export_event({"status": "success", "export_arn": EXPORT_ARN}) == EXPORT_ARN
    with pytest.raises(ExportRetryableError) as timeout:
        raise_for_export_event({"status": "timeout", "export_arn": EXPORT_ARN, "message": "still not finished"},
                               "orders")
    assert str(timeout.value) == (
        f"Waiting for DynamoDB export {EXPORT_ARN} of table orders ended with timeout: still not finished. "
        "A retry reattaches to the export if it is still running."
    )
    failed = {"status": "failed", "export_arn": EXPORT_ARN, "failure_code": "S3AccessDenied", "failure_message": "no"}
    with pytest.raises(ExportFailedError, match="FAILED: S3AccessDenied: no"):
        raise_for_export_event(failed, "orders")


def test_still_running_error_is_transient_and_says_a_retry_reattaches():
    error = still_running_error(EXPORT_ARN, "orders", "IN_PROGRESS", 480, 30)
    assert isinstance(error, TransientError)
    assert str(error) == (
        f"DynamoDB export {EXPORT_ARN} of table orders is still IN_PROGRESS after 480 polls 30s apart. "
        "A retry reattaches to it."
    )


# ---- where the files are --------------------------------------------------------------------------------------------

def test_arn_parts():
    assert export_id_of(EXPORT_ARN) == "01700000000000-abcdef12"
    assert table_name_of("arn:aws:dynamodb:us-east-1:123456789012:table/orders") == "orders"
    assert table_name_of(EXPORT_ARN) == "orders"
    assert table_name_of(None) is None
    assert table_name_of("arn:aws:s3:::lake") is None


def test_is_export_at_matches_bucket_prefix_and_type():
    description = {"S3Bucket": "lake", "S3Prefix": "/mirror/exports/orders/full/x/", "ExportType": "FULL_EXPORT"}
    assert is_export_at(description, "lake", "mirror/exports/orders/full/x", "FULL_EXPORT") is True
    assert is_export_at({**description, "ExportType": None}, "lake", "mirror/exports/orders/full/x", "FULL_EXPORT")
    assert is_export_at(description, "lake", "mirror/exports/orders/full/y", "FULL_EXPORT") is False
    assert is_export_at(description, "other", "mirror/exports/orders/full/x", "FULL_EXPORT") is False
    assert is_export_at(description, "lake", "mirror/exports/orders/full/x", "INCREMENTAL_EXPORT") is False


def test_export_folder_from_the_manifest_key_needs_no_listing():
    description = {"S3Bucket": "lake", "ExportArn": EXPORT_ARN, "S3Prefix": "p",
                   "ExportManifest": "p/AWSDynamoDB/01700000000000-abcdef12/manifest-summary.json"}
    assert listing_root(description) is None
    assert export_folder(description, []) == "s3://lake/p/AWSDynamoDB/01700000000000-abcdef12/"


def test_export_folder_from_a_listing_prefers_the_export_id():
    description = {"S3Bucket": "lake", "ExportArn": EXPORT_ARN, "S3Prefix": "p/"}
    assert listing_root(description) == "p/AWSDynamoDB"
    assert listing_root({"S3Bucket": "lake", "ExportArn": EXPORT_ARN}) == "AWSDynamoDB"
    named = ["p/AWSDynamoDB/01600000000000-old/", "p/AWSDynamoDB/01700000000000-abcdef12/"]
    assert export_folder(description, named) == "s3://lake/p/AWSDynamoDB/01700000000000-abcdef12/"
    assert export_folder(description, ["p/AWSDynamoDB/moto-id/"]) == "s3://lake/p/AWSDynamoDB/moto-id/"


@pytest.mark.parametrize("folders", [[], ["p/AWSDynamoDB/a/", "p/AWSDynamoDB/b/"]])
def test_no_or_several_unnamed_folders_are_a_retryable_error(folders):
    description = {"S3Bucket": "lake", "ExportArn": EXPORT_ARN, "S3Prefix": "p"}
    with pytest.raises(ExportRetryableError) as raised:
        export_folder(description, folders, "orders")
    assert str(raised.value) == (
        f"Export {EXPORT_ARN} of table orders: expected one export folder under s3://lake/p/AWSDynamoDB/, "
        f"found {len(folders)}: {folders}. Remove stale folders there and retry."
    )


def test_finished_export_is_a_dict_naming_its_folder():
    done = {"export_arn": EXPORT_ARN, "table_name": "orders", "export_folder": "s3://lake/p/AWSDynamoDB/x/"}
    assert finished_export(done, "convert") is done
    with pytest.raises(ConfigError) as not_dict:
        finished_export('{"table_name": "orders"}', "convert")
    assert str(not_dict.value) == (
        "Task convert: export must be the export task's result (a dict, e.g. export_task.output), got str "
        "'{\"table_name\": \"orders\"}'. Pass the XComArg itself, not a template rendering it."
    )
    with pytest.raises(ConfigError, match=f"Export {EXPORT_ARN} of table orders has no export_folder: it has not"):
        finished_export({**done, "export_folder": None}, "convert")
