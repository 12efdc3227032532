"""The Athena stand-in (scripts/athena_local.py) over HTTP through AthenaHook: real SQL on Parquet in moto S3 + Glue."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from ddb_lake.core.lake import athena_sql

pytestmark = pytest.mark.integration

BUCKET = "athena-lake"
DATABASE = "lake_db"
TABLE = "events_snapshots"
ROOT = f"s3://{BUCKET}/events/"
OUTPUT = f"s3://{BUCKET}/athena-results/"
COLUMNS = [{"Name": "pk", "Type": "string"}, {"Name": "qty", "Type": "bigint"},
           {"Name": "price", "Type": "decimal(12,2)"}, {"Name": "note", "Type": "string"}]


def _clients(moto_url: str) -> dict[str, Any]:
    options = {"endpoint_url": moto_url, "region_name": "us-east-1", "aws_access_key_id": "testing",
               "aws_secret_access_key": "testing"}
    return {"s3": boto3.client("s3", **options), "glue": boto3.client("glue", **options)}


@dataclass
class AthenaLake:
    """A partitioned Glue table over Parquet snapshots in moto S3, and the sizes of the files written."""

    s3: Any
    glue: Any
    sizes: dict[str, int]
    rows: dict[str, int]

    def write_snapshot(self, stamp: str, parts: tuple[int, ...], start: int = 0) -> int:
        """Write one Parquet file per count in ``parts`` (plus a hidden _manifest.json) under snapshot=<stamp>/."""
        from decimal import Decimal

        total = 0
        for index, count in enumerate(parts):
            ids = range(start, start + count)
            start += count
            table = pa.table({
                "pk": [f"event-{i:04d}" for i in ids],
                "qty": pa.array(list(ids), pa.int64()),
                "price": pa.array([Decimal(f"{i}.50") for i in ids], pa.decimal128(12, 2)),
                # "note" is in Glue but in no file: Athena shows it as null
                "extra": [f"not in glue {i}" for i in ids],  # in the files but not in Glue: Athena does not show it
            })
            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            body = buffer.getvalue()
            self.s3.put_object(Bucket=BUCKET, Key=f"events/snapshot={stamp}/part-{index:05d}.parquet", Body=body)
            total += len(body)
        self.s3.put_object(Bucket=BUCKET, Key=f"events/snapshot={stamp}/_manifest.json", Body=b'{"hidden": true}')
        self.sizes[stamp] = total
        self.rows[stamp] = sum(parts)
        return total

    def add_glue_partition(self, stamp: str) -> None:
        descriptor = {"Columns": COLUMNS, "Location": f"{ROOT}snapshot={stamp}/"}
        self.glue.create_partition(DatabaseName=DATABASE, TableName=TABLE,
                                   PartitionInput={"Values": [stamp], "StorageDescriptor": descriptor})

    def glue_partitions(self) -> dict[str, str]:
        listed = self.glue.get_partitions(DatabaseName=DATABASE, TableName=TABLE)["Partitions"]
        return {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in listed}


@pytest.fixture
def lake(moto_reset, athena_url) -> AthenaLake:
    """Snapshots s1 (3 + 4 rows, two files) and s2 (5 rows) registered in Glue; the files' sizes recorded."""
    clients = _clients(moto_reset)
    clients["s3"].create_bucket(Bucket=BUCKET)
    clients["glue"].create_database(DatabaseInput={"Name": DATABASE})
    clients["glue"].create_table(DatabaseName=DATABASE, TableInput={
        "Name": TABLE, "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {"Columns": COLUMNS, "Location": ROOT},
        "PartitionKeys": [{"Name": "snapshot", "Type": "string"}],
    })
    lake = AthenaLake(clients["s3"], clients["glue"], {}, {})
    lake.write_snapshot("s1", (3, 4))
    lake.write_snapshot("s2", (5,), start=100)
    lake.add_glue_partition("s1")
    lake.add_glue_partition("s2")
    return lake


@pytest.fixture
def hook():
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    return AthenaHook(aws_conn_id="aws_default", log_query=False)


def run(hook, sql: str, token: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """Start ``sql``, wait for a final state; return (id, state, QueryExecution)."""
    query_id = hook.run_query(sql, {"Database": DATABASE}, {"OutputLocation": OUTPUT}, client_request_token=token)
    state = hook.poll_query_status(query_id, max_polling_attempts=500, sleep_time=0.02)
    return query_id, state, hook.get_query_info(query_id)["QueryExecution"]


def values(rows: list[dict[str, Any]]) -> list[list[str | None]]:
    return [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows]


def test_aws_default_routes_athena_to_the_stand_in_and_the_rest_to_moto(hook, athena_url, moto_url, local_stack_state):
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    assert hook.conn._endpoint.host == athena_url
    assert S3Hook(aws_conn_id="aws_default").conn._endpoint.host == moto_url
    # Glue goes through the VersionId lock shim in front of moto (scripts/glue_version_lock.py), which forwards to it.
    glue_lock = local_stack_state.services["glue_version_lock"]["url"]
    assert GlueCatalogHook(aws_conn_id="aws_default").conn._endpoint.host == glue_lock


def test_count_of_one_partition_is_exact_and_scans_only_its_files(lake, hook):
    query_id, state, execution = run(hook, athena_sql.count_rows(DATABASE, TABLE, "s1"))

    assert state == "SUCCEEDED", execution["Status"]
    assert values(hook.get_query_results(query_id)["ResultSet"]["Rows"]) == [["row_count"], ["7"]]
    assert execution["Statistics"]["DataScannedInBytes"] == lake.sizes["s1"] > 0
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{query_id}.csv"
    assert execution["QueryExecutionContext"]["Database"] == DATABASE and execution["WorkGroup"] == "primary"
    assert execution["Query"] == athena_sql.count_rows(DATABASE, TABLE, "s1")
    csv_body = lake.s3.get_object(Bucket=BUCKET, Key=f"athena-results/{query_id}.csv")["Body"].read()
    assert csv_body == b'"row_count"\n"7"\n'

    _, _, whole = run(hook, f'SELECT COUNT(*) FROM "{DATABASE}"."{TABLE}"')
    assert whole["Statistics"]["DataScannedInBytes"] == lake.sizes["s1"] + lake.sizes["s2"]


def test_group_by_shows_glue_columns_and_partition_values_like_athena(lake, hook):
    query_id, state, execution = run(
        hook,
        f"SELECT snapshot, COUNT(*) AS n, SUM(qty), MAX(price) AS top, COUNT(note) AS notes "
        f"FROM {TABLE} WHERE qty >= 1 GROUP BY snapshot ORDER BY snapshot",
    )
    assert state == "SUCCEEDED", execution["Status"]
    result = hook.get_query_results(query_id)["ResultSet"]
    assert values(result["Rows"]) == [
        ["snapshot", "n", "_col2", "top", "notes"],
        ["s1", "6", "21", "6.50", "0"],
        ["s2", "5", "510", "104.50", "0"],
    ]
    types = [(c["Name"], c["Type"]) for c in result["ResultSetMetadata"]["ColumnInfo"]]
    assert types == [("snapshot", "varchar"), ("n", "bigint"), ("_col2", "bigint"), ("top", "decimal"),
                     ("notes", "bigint")]
    _, state, execution = run(hook, f"SELECT extra FROM {TABLE}")
    assert state == "FAILED" and "extra" in execution["Status"]["StateChangeReason"], "a column not in Glue is hidden"


def test_add_partition_if_not_exists_twice_is_idempotent_and_lands_in_glue(lake, hook):
    lake.write_snapshot("s3", (2,), start=500)
    location = f"{ROOT}snapshot=s3"
    sql = athena_sql.add_partition(DATABASE, TABLE, {"snapshot": "s3"}, location)

    first_id, first, _ = run(hook, sql)
    second_id, second, _ = run(hook, sql)

    assert (first, second) == ("SUCCEEDED", "SUCCEEDED") and first_id != second_id
    assert lake.glue_partitions() == {"s1": f"{ROOT}snapshot=s1/", "s2": f"{ROOT}snapshot=s2/", "s3": f"{location}/"}
    query_id, _, _ = run(hook, athena_sql.count_rows(DATABASE, TABLE, "s3"))
    assert values(hook.get_query_results(query_id)["ResultSet"]["Rows"]) == [["row_count"], ["2"]]

    strict = sql.replace(" IF NOT EXISTS", "")
    _, state, execution = run(hook, strict)
    assert state == "FAILED"
    assert "Partition already exists" in execution["Status"]["StateChangeReason"]


def test_msck_repair_adds_the_partitions_glue_is_missing(lake, hook):
    lake.write_snapshot("s4", (1,), start=700)
    lake.write_snapshot("s5", (2,), start=800)
    assert set(lake.glue_partitions()) == {"s1", "s2"}

    query_id, state, execution = run(hook, athena_sql.msck_repair(DATABASE, TABLE))

    assert state == "SUCCEEDED", execution["Status"]
    assert lake.glue_partitions()["s4"] == f"{ROOT}snapshot=s4/" and set(lake.glue_partitions()) == {
        "s1", "s2", "s4", "s5"}
    report = values(hook.get_query_results(query_id)["ResultSet"]["Rows"])
    assert ["Repair: Added partition to metastore events_snapshots:snapshot=s5"] in report
    shown_id, _, _ = run(hook, f"SHOW PARTITIONS `{DATABASE}`.`{TABLE}`")
    assert values(hook.get_query_results(shown_id)["ResultSet"]["Rows"]) == [
        ["snapshot=s1"], ["snapshot=s2"], ["snapshot=s4"], ["snapshot=s5"]]
    count_id, _, _ = run(hook, f"SELECT COUNT(*) FROM {TABLE} WHERE snapshot IN ('s4', 's5')")
    assert values(hook.get_query_results(count_id)["ResultSet"]["Rows"]) == [["_col0"], ["3"]]


def test_trino_functions_are_written_as_duckdb(lake, hook):
    query_id, state, execution = run(
        hook,
        "SELECT element_at(ARRAY[10, 20, 30], 2) AS second, "
        "date_format(date_parse('2026-11-22', '%Y-%m-%d'), '%Y/%m') AS month, "
        "approx_distinct(u.tag) AS tags, try_cast('x' AS integer) AS nothing "
        f"FROM {TABLE} CROSS JOIN UNNEST(ARRAY['a', pk]) AS u(tag) WHERE snapshot = 's2'",
    )
    assert state == "SUCCEEDED", execution["Status"]
    assert values(hook.get_query_results(query_id)["ResultSet"]["Rows"]) == [
        ["second", "month", "tags", "nothing"], ["20", "2026/11", "6", None]]


def test_injected_partition_projection_reads_the_templated_location(lake, hook):
    from ddb_lake.core.lake.glue_table import injected_projection_parameters

    lake.glue.create_table(DatabaseName=DATABASE, TableInput={
        "Name": "events_projected", "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", **injected_projection_parameters(ROOT)},
        "StorageDescriptor": {"Columns": COLUMNS, "Location": ROOT},
        "PartitionKeys": [{"Name": "snapshot", "Type": "string"}],
    })
    query_id, state, execution = run(hook, athena_sql.count_rows(DATABASE, "events_projected", "s2"))
    assert state == "SUCCEEDED", execution["Status"]
    assert values(hook.get_query_results(query_id)["ResultSet"]["Rows"]) == [["row_count"], ["5"]]
    assert execution["Statistics"]["DataScannedInBytes"] == lake.sizes["s2"]

    _, state, execution = run(hook, "SELECT COUNT(*) FROM events_projected")
    assert state == "FAILED" and "CONSTRAINT_VIOLATION" in execution["Status"]["StateChangeReason"]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT COUNT(*) FROM no_such_table", "TABLE_NOT_FOUND"),
        ("SELECT COUNT(* FROM events_snapshots", "SYNTAX_ERROR"),
        ("SELECT no_such_column FROM events_snapshots", "no_such_column"),
        ("DROP TABLE events_snapshots", "NOT_SUPPORTED"),
    ],
)
def test_a_bad_query_fails_with_a_reason(lake, hook, sql, reason):
    query_id, state, execution = run(hook, sql)

    assert state == "FAILED"
    assert reason in hook.get_state_change_reason(query_id)
    assert execution["Status"]["AthenaError"]["ErrorMessage"] == execution["Status"]["StateChangeReason"]
    assert hook.get_query_results(query_id) is None
    with pytest.raises(ClientError, match="Final query state: FAILED"):
        hook.conn.get_query_results(QueryExecutionId=query_id)


def test_same_client_request_token_gives_the_same_query(lake, hook):
    token = athena_sql.client_request_token("count", DATABASE, TABLE, "s2", attempt=("run-1", 1))
    sql = athena_sql.count_rows(DATABASE, TABLE, "s2")

    first_id, state, _ = run(hook, sql, token)
    again_id, _, _ = run(hook, sql, token)
    other_id, _, _ = run(hook, sql, athena_sql.client_request_token("another", attempt=("run-1", 1)))

    assert state == "SUCCEEDED" and first_id == again_id != other_id
    with pytest.raises(ClientError, match="already used with different parameters"):
        hook.run_query("SELECT 1", {"Database": DATABASE}, {"OutputLocation": OUTPUT}, client_request_token=token)


def test_results_come_in_pages(lake, hook):
    query_id, state, _ = run(hook, f"SELECT pk FROM {TABLE} ORDER BY pk")
    assert state == "SUCCEEDED"

    pages, token = [], None
    while True:
        page = hook.get_query_results(query_id, next_token_id=token, max_results=5)
        pages.append(values(page["ResultSet"]["Rows"]))
        token = page.get("NextToken")
        if not token:
            break

    expected = [["pk"]] + [[f"event-{i:04d}"] for i in (*range(7), *range(100, 105))]
    assert [len(p) for p in pages] == [5, 5, 3]
    assert [row for page in pages for row in page] == expected
    paginated = hook.get_query_results_paginator(query_id, page_size=4).build_full_result()
    assert values(paginated["ResultSet"]["Rows"]) == expected


def test_states_move_from_queued_to_running_to_succeeded_and_stop_cancels(moto_reset):
    import athena_local

    clients = _clients(moto_reset)
    clients["s3"].create_bucket(Bucket=BUCKET)
    service = athena_local.AthenaService(
        athena_local.Lake(moto_reset, "us-east-1", "testing", "testing"), workers=1, min_run_seconds=0.3
    )
    server = athena_local.serve("127.0.0.1", 0, service)
    try:
        athena = boto3.client("athena", endpoint_url=f"http://127.0.0.1:{server.server_port}", region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")

        def start(sql: str) -> str:
            return athena.start_query_execution(QueryString=sql, ResultConfiguration={"OutputLocation": OUTPUT},
                                                QueryExecutionContext={"Database": "default"})["QueryExecutionId"]

        def state(query_id: str) -> str:
            return athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]

        first, second, third = start("SELECT 1 AS one"), start("SELECT 2 AS two"), start("SELECT 3 AS three")
        seen = {first: [], second: []}
        athena.stop_query_execution(QueryExecutionId=third)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and state(second) not in ("SUCCEEDED", "FAILED"):
            for query_id, states in seen.items():
                current = state(query_id)
                if not states or states[-1] != current:
                    states.append(current)
            time.sleep(0.02)
        for query_id, states in seen.items():
            if states[-1] != state(query_id):
                states.append(state(query_id))

        assert seen[first] in (["QUEUED", "RUNNING", "SUCCEEDED"], ["RUNNING", "SUCCEEDED"])
        assert seen[second] == ["QUEUED", "RUNNING", "SUCCEEDED"], "one worker: the second waits for the first"
        assert state(third) == "CANCELLED"
        rows = athena.get_query_results(QueryExecutionId=second)["ResultSet"]["Rows"]
        assert values(rows) == [["two"], ["2"]]
        execution = athena.get_query_execution(QueryExecutionId=second)["QueryExecution"]
        assert execution["Statistics"]["QueryQueueTimeInMillis"] >= 250
        assert execution["Statistics"]["EngineExecutionTimeInMillis"] >= 300
        assert athena.list_query_executions()["QueryExecutionIds"] == [third, second, first]
    finally:
        server.shutdown()
        server.server_close()
