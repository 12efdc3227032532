"""The export wait's bound: polls while IN_PROGRESS, and server errors in a row."""

from __future__ import annotations

from ddb_lake.core.export.waiting import AGAIN, OTHER_ERROR, OUT_OF_POLLS, SERVER_ERRORS, ExportWait, server_fault

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/01700000000000-deadbeef"
RUNNING = {"ExportDescription": {"ExportStatus": "IN_PROGRESS"}, "ResponseMetadata": {"HTTPStatusCode": 200}}
BARE_500 = {"Error": {"Code": "500", "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": 500}}
NAMED_5XX = {"Error": {"Code": "InternalServerError"}}
DENIED = {"Error": {"Code": "AccessDeniedException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}


def test_server_faults_by_status_or_code():
    assert server_fault(BARE_500) == "HTTP 500 500"
    assert server_fault(NAMED_5XX) == "HTTP 5xx InternalServerError"
    assert server_fault(DENIED) is None
    assert server_fault(RUNNING) is None
    assert server_fault(None) is None


def test_server_errors_in_a_row_end_the_wait_and_do_not_use_polls():
    wait = ExportWait(ARN, max_polls=3, max_server_errors=3)
    assert [wait.after(BARE_500), wait.after(NAMED_5XX)] == [AGAIN, AGAIN]
    assert wait.polls == 0
    assert wait.after(BARE_500) == SERVER_ERRORS
    message = str(wait.server_errors_error())
    assert message == (
        f"Stopped waiting for DynamoDB export {ARN} of table orders: DescribeExport answered 3 server errors in a "
        "row (last: HTTP 500 500). The export itself may still be running: a retry of the export task reattaches to "
        "it and never starts a second one. If this repeats, check DynamoDB's health in the table's region."
    )


def test_a_good_answer_ends_the_streak_and_counts_a_poll():
    wait = ExportWait(ARN, max_polls=2, max_server_errors=2)
    assert [wait.after(BARE_500), wait.after(RUNNING), wait.after(BARE_500)] == [AGAIN, AGAIN, AGAIN]
    assert wait.after(RUNNING) == OUT_OF_POLLS
    assert (wait.polls, wait.server_errors) == (2, 0)


def test_other_errors_are_handed_back():
    assert ExportWait(ARN, max_polls=5).after(DENIED) == OTHER_ERROR
