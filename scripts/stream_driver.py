"""Drive a DynamoDB stream (moto's, or a real one) into the CDC handler the way Lambda's event source mapping does.

Per shard: GetShardIterator (TRIM_HORIZON, or LATEST), GetRecords up to ``batch_size`` records, the batch handed to
the handler as a Lambda event (binary as base64 text, ApproximateCreationDateTime as epoch seconds,
``eventSourceARN`` the stream's ARN), then — as the mapping does with ``ReportBatchItemFailures`` — the checkpoint
moves to just before the first reported failure and the next poll re-reads from it (AT_SEQUENCE_NUMBER); an
exception from the handler re-reads the whole batch. The handler is the deployed one (``include/cdc``), unchanged.

Test switches, each standing in for something moto's stream cannot do: ``skip_to_latest()`` drops every unread
record (a stream that trimmed records its reader never got: a gap), and ``creation_shift`` moves the records'
ApproximateCreationDateTime forward (the time a long gap took).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_value(value: Any) -> Any:
    """A boto3 DynamoDB value (``B`` raw bytes) as Lambda's JSON event carries it (``B`` base64 text)."""
    if isinstance(value, dict):
        return {tag: (base64.b64encode(inner).decode("ascii") if tag == "B" else
                      [base64.b64encode(b).decode("ascii") for b in inner] if tag == "BS" else lambda_value(inner))
                for tag, inner in value.items()}
    if isinstance(value, list):
        return [lambda_value(v) for v in value]
    return value


@dataclass
class StreamDriver:
    """One event source mapping on one stream: ``poll()`` delivers every readable batch to ``handler``."""

    streams: Any  # boto3 dynamodbstreams client
    stream_arn: str
    handler: Handler
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    creation_shift: timedelta = timedelta(0)
    max_rounds: int = 1000
    iterators: dict[str, str] = field(default_factory=dict)
    batches: int = 0
    failures_reported: list[str] = field(default_factory=list)
    handler_seconds: float = 0.0  # time spent inside the handler (the rest is reading the stream)

    def shards(self) -> list[str]:
        shards, kwargs = [], {"StreamArn": self.stream_arn}
        while True:
            page = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards += [s["ShardId"] for s in page["Shards"]]
            if not page.get("LastEvaluatedShardId"):
                return shards
            kwargs["ExclusiveStartShardId"] = page["LastEvaluatedShardId"]

    def _iterator(self, shard: str, kind: str, sequence: str | None = None) -> str:
        args = {"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": kind}
        if sequence is not None:
            args["SequenceNumber"] = sequence
        return self.streams.get_shard_iterator(**args)["ShardIterator"]

    def event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        out = []
        for record in records:
            stream = dict(record["dynamodb"])
            created = stream["ApproximateCreationDateTime"]
            if isinstance(created, datetime):
                created = (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()
            stream["ApproximateCreationDateTime"] = float(created) + self.creation_shift.total_seconds()
            for image in ("Keys", "NewImage", "OldImage"):
                if image in stream:
                    stream[image] = lambda_value(stream[image])
            out.append({**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": stream,
                        "eventSourceARN": self.stream_arn})
        return {"Records": out}

    def poll(self) -> int:
        """Deliver batches until every shard is read to its end; the number of records acknowledged."""
        acknowledged = 0
        for shard in self.shards():
            self.iterators.setdefault(shard, self._iterator(shard, self.starting_position))
            for _ in range(self.max_rounds):
                page = self.streams.get_records(ShardIterator=self.iterators[shard], Limit=self.batch_size)
                records = page["Records"]
                if not records:
                    self.iterators[shard] = page.get("NextShardIterator") or self.iterators[shard]
                    break
                self.batches += 1
                event, started = self.event(records), time.perf_counter()
                try:
                    failures = self.handler(event, None).get("batchItemFailures") or []
                except Exception:  # Lambda: a raised error retries the whole batch
                    failures = [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]
                self.handler_seconds += time.perf_counter() - started
                if not failures:
                    acknowledged += len(records)
                    self.iterators[shard] = page["NextShardIterator"]
                    continue
                first = min((f["itemIdentifier"] for f in failures), key=int)
                self.failures_reported.append(first)
                acknowledged += sum(int(r["dynamodb"]["SequenceNumber"]) < int(first) for r in records)
                self.iterators[shard] = self._iterator(shard, "AT_SEQUENCE_NUMBER", first)
                break  # the mapping retries the failed record on its next poll
        return acknowledged

    def drain(self, max_polls: int = 100) -> int:
        """Poll until every shard is read to its end (failed records retried by the next poll, as Lambda does)."""
        total = 0
        for _ in range(max_polls):
            failures = len(self.failures_reported)
            done = self.poll()
            total += done
            if not done and len(self.failures_reported) == failures:
                return total
        raise RuntimeError(f"stream {self.stream_arn} not drained after {max_polls} polls: a record keeps failing "
                           f"({self.failures_reported[-1:]})")

    def skip_to_latest(self) -> None:
        """Drop every unread record (stand-in for records the stream trimmed after 24 hours unread)."""
        for shard in self.shards():
            self.iterators[shard] = self._iterator(shard, "LATEST")
