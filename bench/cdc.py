"""Benchmark: DynamoDB Streams change capture on this machine — write-to-visible latency and sustained changes/s.

    .venv/bin/python bench/cdc.py [--rate 20] [--seconds 30] [--changes 5000] [--batch 1000]

Starts its own moto server and BigQuery stand-in (scripts/local_stack.py), creates a table with a NEW_AND_OLD_IMAGES
stream and PITR, bootstraps the Iceberg table from a (moto) full export with the CDC DAG's own operators (and loads
it into BigQuery), then:

- **throughput**: ``--changes`` writes (60 % updates, 25 % inserts, 15 % deletes) in one burst; the stream driver
  (scripts/stream_driver.py, batches of ``--batch``) hands them to the unchanged handler (include/cdc), which writes
  gzip JSON-lines objects to S3; one CDC merge (CdcMergeOperator: list, read, reduce, convert, merge, commit) then
  applies them, and the CDC DAG's ``bigquery`` task (BigQueryCdcApplyOperator: read, reduce, convert, load the staging
  table, MERGE + position in one transaction, check) applies them to BigQuery. Printed: handler, merge and BigQuery
  apply changes/s, and all together (sustained).
- **latency**: a writer puts ``--rate`` items per second for ``--seconds`` (each a new version of one of 200 keys)
  while the main loop runs the pipeline back to back (drain the stream → merge with settle 0 → read the table).
  A write is visible when the Iceberg table (a pyiceberg scan, what a reader gets) holds its version; its latency is
  that moment minus the write's. Each cycle then applies the merge to BigQuery and queries it: the same measure for
  BigQuery. p50/p95/max over all writes, for the lake and for BigQuery.

The latency is the pipeline's own work with no waiting. In production add the event source mapping's batching
window (``MaximumBatchingWindowInSeconds``), the merge's ``cdc.settle_seconds`` and on average half the
``cdc.schedule`` interval (docs/cdc.md, "Latency").
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in ("plugins", "include", "scripts"):
    sys.path.insert(0, str(ROOT / folder))

TABLE, BUCKET, DATABASE, DATASET = "bench", "lake", "lake_db", "bench_cdc"
PROJECT = "ddb-lake-local"  # scripts/local_stack.py's GCP_PROJECT


def start_stack(work: Path) -> dict:
    import local_stack

    state = local_stack.up(work / "stack", ["aws", "bigquery"])
    os.environ.update(state.env)
    os.environ.setdefault("AIRFLOW_HOME", str(work / "airflow"))
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    return {"endpoint_url": state.services["moto"]["url"], "region_name": "us-east-1"}


def item(key: int, version: int, rng: random.Random) -> dict:
    return {"pk": {"S": f"user#{key:05d}"}, "sk": {"N": str(key % 7)}, "v": {"N": str(version)},
            "amount": {"N": f"{rng.randint(0, 10**9)}.{rng.randint(0, 99):02d}"}, "blob": {"B": os.urandom(8)},
            "tags": {"L": [{"S": "a"}, {"N": "1.50"}]}, "addr": {"M": {"city": {"S": "Köln"}}}}


def setup(clients: dict, rng: random.Random):
    from cdc.stream_handler import ChangeWriter, handle_stream_event
    from stream_driver import StreamDriver

    ddb = clients["dynamodb"]
    ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    clients["s3"].create_bucket(Bucket=BUCKET)
    clients["glue"].create_database(DatabaseInput={"Name": DATABASE})
    for key in range(1000):
        ddb.put_item(TableName=TABLE, Item=item(key, 0, rng))
    ddb.update_continuous_backups(TableName=TABLE,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    writer = ChangeWriter(clients["s3"], BUCKET, "lake/cdc")
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    return writer, StreamDriver(clients["streams"], arn, lambda event, _: handle_stream_event(event, writer))


def bootstrap(clients: dict) -> None:
    from ddb_lake.compat import DAG
    from ddb_lake.core.lake.layout import TableLayout
    from ddb_lake.operators.cdc_merge import CdcStateOperator
    from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
    from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
    from ddb_lake.operators.iceberg_table import IcebergMergeOperator

    pitr = clients["dynamodb"].describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["LatestRestorableDateTime"].astimezone(UTC)
    now = pitr + timedelta(minutes=5)
    state = CdcStateOperator(task_id="state", layout=TableLayout(BUCKET, "lake", TABLE), now=now, **where()).execute({})
    dag = DAG("bench_cdc", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))
    ctx = {"dag": dag, "data_interval_start": now, "data_interval_end": now, "logical_date": now, "params": {}}
    export_task = DynamoDBExportOperator(task_id="export", table_name=TABLE, s3_bucket=BUCKET,
                                         s3_prefix=state["export_prefix"], export_type=state["export_type"],
                                         export_time=state["export_time"], waiter_delay=1)
    export = export_task.execute({**ctx, "task": export_task})
    convert = ExportToParquetOperator(task_id="convert", export=export, dest_url=state["changes_url"],
                                      snapshot=state["snapshot"], previous_schema=state["previous_schema"])
    summary = convert.execute({**ctx, "task": convert})
    IcebergMergeOperator(task_id="merge", location=f"s3://{BUCKET}/lake/iceberg/{TABLE}", export=export,
                         conversion=summary, state=state, database=DATABASE, table_name=TABLE).execute({})


def create_dataset() -> None:
    from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook

    BigQueryLoadHook(api_deadline=10.0).client(PROJECT).create_dataset(f"{PROJECT}.{DATASET}")


def where() -> dict:
    from ddb_lake.core.cdc.change_files import cdc_prefix

    return {"database": DATABASE, "table_name": TABLE, "bucket": BUCKET, "cdc_prefix": cdc_prefix("lake", TABLE),
            "settle": timedelta(0)}


def bigquery_apply() -> dict | None:
    from ddb_lake.compat import AirflowSkipException
    from ddb_lake.destinations.bigquery.cdc_operator import BigQueryCdcApplyOperator

    try:
        return BigQueryCdcApplyOperator(task_id="bigquery", project_id=PROJECT, dataset=DATASET, table=TABLE,
                                        api_deadline=10.0, **where()).execute({})
    except AirflowSkipException:
        return None


def bigquery_versions() -> dict[str, int]:
    """``{pk: v}`` as a BigQuery reader sees them now."""
    from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook

    hook = BigQueryLoadHook(api_deadline=10.0)
    rows = hook.client(PROJECT).query(f"SELECT pk, v FROM `{PROJECT}.{DATASET}.{TABLE}`", retry=hook.retry,
                                      job_retry=None).result()
    return {row["pk"]: int(row["v"]) for row in rows}


def merge() -> dict | None:
    from ddb_lake.compat import AirflowSkipException
    from ddb_lake.operators.cdc_merge import CdcMergeOperator

    try:
        return CdcMergeOperator(task_id="changes", **where()).execute({})
    except AirflowSkipException:
        return None


def throughput(clients: dict, driver, rng: random.Random, changes: int) -> None:
    ddb, live, next_key = clients["dynamodb"], set(range(1000)), 1000
    for number in range(changes):
        roll = rng.random()
        if roll < 0.15 and live:
            key = rng.choice(sorted(live))
            live.discard(key)
            ddb.delete_item(TableName=TABLE, Key={"pk": {"S": f"user#{key:05d}"}, "sk": {"N": str(key % 7)}})
        elif roll < 0.40:
            live.add(next_key)
            ddb.put_item(TableName=TABLE, Item=item(next_key, 1, rng))
            next_key += 1
        else:
            key = rng.choice(sorted(live))
            ddb.put_item(TableName=TABLE, Item=item(key, number + 1, rng))
    started, inside = time.monotonic(), driver.handler_seconds
    delivered = driver.drain()
    drain_s, handler_s = time.monotonic() - started, driver.handler_seconds - inside
    started = time.monotonic()
    result = merge()
    merge_s = time.monotonic() - started
    started = time.monotonic()
    applied = bigquery_apply()
    bigquery_s = time.monotonic() - started
    assert result is not None and delivered >= changes and applied is not None and applied["action"] == "changes"
    print(f"throughput: {delivered} changes; handler (change lines, gzip, PUT to S3) {handler_s:.2f} s = "
          f"{delivered / handler_s:,.0f} changes/s (reading them from moto's stream took {drain_s - handler_s:.1f} s "
          f"more: moto's GetRecords, not the handler);\n  merge (list, read, reduce, convert, merge, commit) "
          f"{merge_s:.2f} s "
          f"= {delivered / merge_s:,.0f} changes/s (reduced to {result['properties']['ddb-lake.changes']} keys, "
          f"{result['files']} file(s)); sustained through both: {delivered / (handler_s + merge_s):,.0f} changes/s;\n"
          f"  BigQuery apply (read, reduce, convert, load staging, MERGE + position, check) {bigquery_s:.2f} s = "
          f"{delivered / bigquery_s:,.0f} changes/s ({applied['upserts']} upserts, {applied['deletes']} deletes); "
          f"sustained through all three: {delivered / (handler_s + merge_s + bigquery_s):,.0f} changes/s")


def latency(clients: dict, driver, rng: random.Random, rate: float, seconds: float) -> None:
    from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook

    catalog = IcebergCatalogHook(aws_conn_id="aws_default", region_name="us-east-1").get_catalog()
    writes: list[tuple[str, int, float]] = []  # (pk, version, wall time of the write)
    done = threading.Event()

    def writer() -> None:
        ddb, version, start = clients["writer_dynamodb"], 10**9, time.time()
        while time.time() - start < seconds:
            key = rng.randrange(200)
            version += 1
            ddb.put_item(TableName=TABLE, Item=item(key, version, rng))
            writes.append((f"user#{key:05d}", version, time.time()))
            time.sleep(max(0.0, start + len(writes) / rate - time.time()))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen: dict[int, float] = {}
    seen_bq: dict[int, float] = {}
    cycles, spent = 0, {"drain": 0.0, "merge": 0.0, "scan": 0.0, "bigquery": 0.0, "bq_query": 0.0}
    while True:
        finished = done.is_set()
        lap = time.monotonic()
        driver.drain()
        spent["drain"] += time.monotonic() - lap
        lap = time.monotonic()
        merge()
        spent["merge"] += time.monotonic() - lap
        lap = time.monotonic()
        table = catalog.load_table((DATABASE, TABLE))
        rows = table.scan(selected_fields=("pk", "v")).to_arrow()
        spent["scan"] += time.monotonic() - lap
        now = time.time()
        current = dict(zip(rows.column("pk").to_pylist(), (int(v) for v in rows.column("v").to_pylist()), strict=True))
        for number, (pk, version, _) in enumerate(writes):  # a newer version of the key holds this write's effect
            if number not in seen and current.get(pk, -1) >= version:
                seen[number] = now
        lap = time.monotonic()
        bigquery_apply()
        spent["bigquery"] += time.monotonic() - lap
        lap = time.monotonic()
        in_bigquery = bigquery_versions()
        spent["bq_query"] += time.monotonic() - lap
        now = time.time()
        for number, (pk, version, _) in enumerate(writes):
            if number not in seen_bq and in_bigquery.get(pk, -1) >= version:
                seen_bq[number] = now
        cycles += 1
        if finished and len(seen) == len(seen_bq) == len(writes):
            break
    thread.join()
    lags = sorted(seen[n] - writes[n][2] for n in range(len(writes)))
    lags_bq = sorted(seen_bq[n] - writes[n][2] for n in range(len(writes)))
    print(f"latency: {len(writes)} writes at {rate:g}/s for {seconds:g} s, {cycles} pipeline cycles back to back:\n"
          f"  lake:     p50 {statistics.median(lags):.2f} s, p95 {_p95(lags):.2f} s, max {lags[-1]:.2f} s "
          f"(write → visible in a pyiceberg scan)\n"
          f"  BigQuery: p50 {statistics.median(lags_bq):.2f} s, p95 {_p95(lags_bq):.2f} s, max {lags_bq[-1]:.2f} s "
          f"(write → visible in a BigQuery query)\n"
          f"  per cycle: stream read + handler {spent['drain'] / cycles:.2f} s, merge {spent['merge'] / cycles:.2f} s, "
          f"reader's scan {spent['scan'] / cycles:.2f} s, BigQuery apply {spent['bigquery'] / cycles:.2f} s, "
          f"BigQuery query {spent['bq_query'] / cycles:.2f} s")


def _p95(lags: list[float]) -> float:
    return lags[max(0, round(0.95 * len(lags)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--changes", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    import boto3
    import local_stack

    work = Path(tempfile.mkdtemp(prefix="ddb-lake-bench-cdc-"))
    options = start_stack(work)
    try:
        clients = {name: boto3.client(service, **options) for name, service in (
            ("dynamodb", "dynamodb"), ("writer_dynamodb", "dynamodb"), ("streams", "dynamodbstreams"), ("s3", "s3"),
            ("glue", "glue"))}
        rng = random.Random(14)
        _, driver = setup(clients, rng)
        driver.batch_size = args.batch
        started = time.monotonic()
        bootstrap(clients)
        driver.drain()
        merge()
        create_dataset()
        bigquery_apply()  # the first apply loads the whole table (a reload)
        print(f"bootstrap (full export of 1000 items), first merge and BigQuery load: "
              f"{time.monotonic() - started:.1f} s; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        throughput(clients, driver, rng, args.changes)
        latency(clients, driver, rng, args.rate, args.seconds)
    finally:
        local_stack.down(work / "stack")


if __name__ == "__main__":
    main()
