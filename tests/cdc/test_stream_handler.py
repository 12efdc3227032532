"""The stream handler (include/cdc) without Airflow: change lines exact to the value, dedup ids, the failing record
reported back, object names and sizes, and the Firehose transformation."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cdc.change_lines import UnwritableRecord, change_line, dedup_id
from cdc.stream_handler import ChangeWriter, firehose_records, handle_stream_event

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/prod-books/stream/2026-12-01T00:00:00.000"


def record(seq: str, name: str = "MODIFY", **images) -> dict:
    stream = {"ApproximateCreationDateTime": 1764547200.5, "SequenceNumber": seq,
              "Keys": {"pk": {"S": "a"}, "sk": {"N": "12345678901234567890.5"}}, **images}
    return {"eventID": f"e{seq}", "eventName": name, "eventSourceARN": ARN, "dynamodb": stream}


class FakeS3:
    """Records put_object calls (the handler's only S3 call); fails the first ``fail`` calls."""

    def __init__(self, fail: int = 0) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = fail

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: object) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("S3 unreachable")
        self.objects[Key] = Body

    def lines(self) -> list[dict]:
        return [json.loads(raw) for key in sorted(self.objects)
                for raw in gzip.decompress(self.objects[key]).splitlines()]


def clock_at(*moments: datetime):
    moments_iter = iter(moments)
    return lambda: next(moments_iter)


def test_a_change_line_keeps_numbers_as_text_binary_as_base64_and_has_every_stream_field():
    image = {"pk": {"S": "a"}, "sk": {"N": "12345678901234567890.5"}, "price": {"N": "0.10"},
             "blob": {"B": "AAH/"}, "tags": {"NS": ["1", "1E+2"]}}
    line = change_line("books", record("11000000000000000000017", NewImage=image, OldImage={"pk": {"S": "a"}}))
    assert line == {
        "Metadata": {"WriteTimestampMicros": {"N": "1764547200500000"}},
        "Keys": {"pk": {"S": "a"}, "sk": {"N": "12345678901234567890.5"}},
        "eventName": "MODIFY", "eventID": "e11000000000000000000017", "SequenceNumber": "11000000000000000000017",
        "ApproximateCreationDateTime": "2025-12-01T00:00:00.500000+00:00",
        "dedupId": dedup_id("books", line["Keys"], "11000000000000000000017"), "table": "books",
        "NewImage": image}  # OldImage only on request
    assert change_line("books", record("1", OldImage={"x": {"S": "y"}}, NewImage={}), old_image=True)["OldImage"] \
        == {"x": {"S": "y"}}
    removed = change_line("books", record("2", "REMOVE", OldImage=image))
    assert "NewImage" not in removed and removed["eventName"] == "REMOVE"


def test_dedup_id_is_table_keys_and_sequence_never_the_image():
    keys = {"sk": {"N": "1"}, "pk": {"S": "a"}}
    assert dedup_id("t", keys, "5") == dedup_id("t", {"pk": {"S": "a"}, "sk": {"N": "1"}}, "5")  # key order
    assert dedup_id("t", keys, "5") != dedup_id("t", keys, "6")  # two writes of the same value stay two changes
    assert dedup_id("t", keys, "5") != dedup_id("u", keys, "5")
    assert len(dedup_id("t", keys, "5")) == 32


def test_a_record_that_cannot_be_written_is_named_and_refused():
    with pytest.raises(UnwritableRecord, match=r"table books, event e7, sequence number 7: a MODIFY without "
                                               r"NewImage; the stream's view type must be NEW_IMAGE"):
        change_line("books", record("7"))
    with pytest.raises(UnwritableRecord, match="eventName 'PUT'"):
        change_line("books", record("7", "PUT", NewImage={}))


def test_the_batch_is_written_up_to_the_first_failing_record_which_is_reported_back():
    s3 = FakeS3()
    moment = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
    writer = ChangeWriter(s3, "lake", "lake/cdc", clock=clock_at(moment, moment))
    event = {"Records": [record("100", NewImage={"a": {"N": "1"}}), record("101"),
                         record("102", NewImage={"a": {"N": "2"}})]}
    assert handle_stream_event(event, writer) == {"batchItemFailures": [{"itemIdentifier": "101"}]}
    (key,) = s3.objects
    assert key.startswith("lake/cdc/prod-books/dt=2026-12-01/20261201T100000123456Z-") and key.endswith(".json.gz")
    assert [line["SequenceNumber"] for line in s3.lines()] == ["100"]  # 102 waits for the retry from 101


def test_a_write_failure_reports_the_whole_batch_and_a_slow_write_is_written_again_under_a_newer_name():
    t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    event = {"Records": [record("100", NewImage={"a": {"N": "1"}})]}
    failing = ChangeWriter(FakeS3(fail=1), "lake", clock=clock_at(t0, t0))
    assert handle_stream_event(event, failing) == {"batchItemFailures": [{"itemIdentifier": "100"}]}
    s3 = FakeS3()
    slow = ChangeWriter(s3, "lake", max_write_seconds=30, clock=clock_at(
        t0, t0 + timedelta(seconds=31), t0 + timedelta(seconds=40), t0 + timedelta(seconds=41)))
    assert handle_stream_event(event, slow) == {"batchItemFailures": []}
    assert [k.split("/")[-1][:22] for k in sorted(s3.objects)] == ["20261201T100000000000Z",
                                                                   "20261201T100040000000Z"]
    assert slow.written == [sorted(s3.objects)[1]]


def test_objects_are_split_at_the_size_limit_and_names_sort_by_write_time():
    s3 = FakeS3()
    t0 = datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)
    moments = [t0 + timedelta(microseconds=i) for i in range(20)]
    writer = ChangeWriter(s3, "lake", max_object_bytes=700, clock=clock_at(*moments))
    event = {"Records": [record(str(100 + i), NewImage={"a": {"N": str(i)}}) for i in range(6)]}
    assert handle_stream_event(event, writer) == {"batchItemFailures": []}
    assert len(s3.objects) == 3 and writer.written == sorted(writer.written)
    assert [line["SequenceNumber"] for line in s3.lines()] == [str(100 + i) for i in range(6)]


def test_firehose_transformation_turns_kinesis_records_into_change_lines_and_fails_bad_ones():
    payload = {"eventID": "k1", "eventName": "INSERT", "tableName": "prod-books", "dynamodb": {
        "ApproximateCreationDateTime": 1764547200123, "Keys": {"pk": {"S": "a"}},
        "NewImage": {"pk": {"S": "a"}, "n": {"N": "1.000"}}}}
    event = {"records": [
        {"recordId": "r1", "data": base64.b64encode(json.dumps(payload).encode()).decode(),
         "kinesisRecordMetadata": {"sequenceNumber": "49590338271490256608559692538361571095921575989136588898"}},
        {"recordId": "r2", "data": base64.b64encode(b"not json").decode(), "kinesisRecordMetadata": {}}]}
    out = firehose_records(event)["records"]
    assert [(r["recordId"], r["result"]) for r in out] == [("r1", "Ok"), ("r2", "ProcessingFailed")]
    line = json.loads(base64.b64decode(out[0]["data"]))
    assert line["NewImage"]["n"] == {"N": "1.000"} and line["table"] == "prod-books"
    assert line["Metadata"]["WriteTimestampMicros"] == {"N": "1764547200123000"}
    assert line["dedupId"] == dedup_id("prod-books", {"pk": {"S": "a"}},
                                       "49590338271490256608559692538361571095921575989136588898")


def test_the_handler_imports_without_airflow_or_ddb_lake():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import cdc.stream_handler; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('airflow', 'ddb_lake', 'pyarrow')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code, str(ROOT / "include")], check=True, env={"PATH": ""})


def test_the_cloudformation_template_grants_the_least_and_points_at_the_handler():
    import importlib

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    for tag in ("!Ref", "!Sub", "!GetAtt"):
        Loader.add_constructor(tag, lambda loader, node, tag=tag: f"{tag} {loader.construct_scalar(node)}")
    template = yaml.load((ROOT / "include" / "cdc" / "cloudformation.yaml").read_text(), Loader=Loader)
    resources = template["Resources"]
    (policy,) = resources["HandlerRole"]["Properties"]["Policies"]
    grants = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["PolicyDocument"]["Statement"]}
    assert grants == {
        "ReadThisStreamOnly": (["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                               "!Ref StreamArn"),
        "ListStreamsHasNoResourceLevelPermission": ("dynamodb:ListStreams", "*"),
        "WriteChangeFilesOfThisTableOnly": (
            "s3:PutObject", "!Sub arn:${AWS::Partition}:s3:::${LakeBucket}/${LakePrefix}/cdc/${TableName}/*"),
        "OwnLogsOnly": (["logs:CreateLogStream", "logs:PutLogEvents"], "!GetAtt HandlerLogs.Arn")}
    module, function = resources["Handler"]["Properties"]["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))
    mapping = resources["StreamMapping"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and mapping["MaximumRetryAttempts"] == -1
    assert resources["Handler"]["Properties"]["Timeout"] < int(
        resources["Handler"]["Properties"]["Environment"]["Variables"]["CDC_MAX_WRITE_SECONDS"])
