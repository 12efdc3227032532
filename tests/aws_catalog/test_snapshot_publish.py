"""Atomic publish and retention against moto server, with DuckDB reading the lake as a query engine would."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import duckdb
import pytest
import sqlglot
from catalog_lake import DATABASE, TABLE, rows
from duckdb_on_moto import duckdb_on_moto

from ddb_lake.compat import AirflowException
from ddb_lake.core.errors import ConfigError, ValidationFailedError
from ddb_lake.core.lake import athena_sql
from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator
from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator, SnapshotRetentionOperator

pytestmark = pytest.mark.integration
S0, S1, S2, S3 = "20261119T000000Z", "20261120T000000Z", "20261121T000000Z", "20261122T000000Z"
ROOT = "s3://lake/mirror/snapshots/orders/"
GRACE_SECONDS = 2


def publish(summary: dict, **kwargs) -> dict:
    operator = SnapshotPublishOperator(
        task_id="publish", convert_summary=summary, database=DATABASE, table_name=TABLE, bucket="lake", **kwargs
    )
    return operator.execute({})


def register(summary: dict) -> dict:
    return GlueSnapshotCatalogOperator(
        task_id="catalog", convert_summary=summary, database=DATABASE, table_name=TABLE, bucket="lake"
    ).execute({})


def retention(grace_seconds: float, keep_last: int = 1) -> dict:
    return SnapshotRetentionOperator(
        task_id="retention", database=DATABASE, table_name=TABLE, bucket="lake", prefix="mirror",
        grace_period=grace_seconds, keep_last=keep_last,
    ).execute({})


def current_table(lake) -> dict:
    return lake.glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]


def duck(lake) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    return duckdb_on_moto(lake.url)


def read_pks(connection, files_glob: str | list[str]) -> list[str]:
    return sorted(r[0] for r in connection.execute("SELECT pk FROM read_parquet(?)", [files_glob]).fetchall())


def test_publish_switches_current_table_in_one_call(lake):
    first = publish(lake.write_snapshot(S1, rows(3)))
    assert (first["action"], first["previous_location"]) == ("published", None)
    second = publish(lake.write_snapshot(S2, rows(2, start=100)))
    assert second["previous_snapshot"] == S1 and second["action"] == "published"
    table = current_table(lake)
    assert table["StorageDescriptor"]["Location"] == f"{ROOT}snapshot={S2}/"
    assert table["PartitionKeys"] == []
    assert table["Parameters"]["ddb_lake.snapshot"] == S2
    assert table["Parameters"]["ddb_lake.published_at"] == second["published_at"]
    with duck(lake) as connection:
        assert read_pks(connection, table["StorageDescriptor"]["Location"] + "*.parquet") == ["order-100", "order-101"]


def test_republishing_the_current_snapshot_changes_nothing(lake):
    summary = lake.write_snapshot(S1, rows(3))
    publish(summary)
    version = current_table(lake)["VersionId"]
    assert publish(summary)["action"] == "unchanged"
    assert current_table(lake)["VersionId"] == version


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("delete_file", "file part-00000.parquet is missing"),
        ("truncate_file", r"file part-00000.parquet is 3 bytes, the manifest says \d+ bytes"),
        ("delete_manifest", "has no _manifest.json"),
    ],
)
def test_an_incomplete_snapshot_is_never_published(lake, damage, message):
    publish(lake.write_snapshot(S1, rows(3)))
    summary = lake.write_snapshot(S2, rows(2))
    key = summary["snapshot_prefix"] + ("/_manifest.json" if damage == "delete_manifest" else "/part-00000.parquet")
    if damage == "truncate_file":
        lake.s3.put_object(Bucket="lake", Key=key, Body=b"PAR")
    else:
        lake.s3.delete_object(Bucket="lake", Key=key)
    with pytest.raises(AirflowException, match=message) as refused:
        publish(summary)
    assert isinstance(refused.value.__cause__, ValidationFailedError)  # terminal: not retried
    assert current_table(lake)["StorageDescriptor"]["Location"] == f"{ROOT}snapshot={S1}/"


def test_an_older_snapshot_does_not_roll_the_current_table_back(lake):
    old = lake.write_snapshot(S1, rows(1))
    publish(lake.write_snapshot(S2, rows(2)))
    kept = publish(old)  # a backfill of an older interval succeeds and leaves the newer snapshot current
    assert kept["action"] == "kept_newer" and kept["previous_snapshot"] == S2
    assert current_table(lake)["Parameters"]["ddb_lake.snapshot"] == S2
    assert publish(old, allow_rollback=True)["action"] == "published"
    assert current_table(lake)["Parameters"]["ddb_lake.snapshot"] == S1


def test_retention_keeps_old_snapshot_during_grace_and_deletes_it_after(lake):
    summaries = {stamp: lake.write_snapshot(stamp, rows(2, start=i * 10)) for i, stamp in enumerate((S1, S2, S3))}
    for summary in summaries.values():
        register(summary)
    publish(summaries[S1])
    planned_files = [f"{ROOT}snapshot={S1}/part-00000.parquet"]  # a query planned against S1 before the switch
    publish(summaries[S2])
    assert [key.rsplit("/", 1)[1] for key in lake.keys(f"mirror/snapshots/orders/snapshot={S1}/")] == [
        "_contract.json", "_manifest.json", "_published.json", "_superseded.json", "part-00000.parquet"
    ]

    during = retention(grace_seconds=3600)
    assert during["deleted"] == {} and during["current"] == S2
    assert "within the grace period" in during["kept"][S1]
    assert during["kept"][S3] == "one of the newest 1"
    with duck(lake) as connection:
        assert read_pks(connection, planned_files) == ["order-0", "order-1"]  # no HIVE_CANNOT_OPEN_SPLIT

    time.sleep(GRACE_SECONDS + 1.1)  # S3 LastModified has whole seconds
    after = retention(grace_seconds=GRACE_SECONDS)
    assert list(after["deleted"]) == [S1] and after["deleted"][S1].startswith("published, not current since")
    assert after["kept"][S2] == "the current table points at it" and S3 in after["kept"]
    assert lake.keys(f"mirror/snapshots/orders/snapshot={S1}/") == []
    assert lake.keys(f"mirror/snapshots/orders/snapshot={S2}/") != []
    partitions = lake.glue.get_partitions(DatabaseName=DATABASE, TableName="orders_snapshots")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == [S2, S3]
    with duck(lake) as connection, pytest.raises(Exception):  # noqa: B017 - the engine's own "file not found"
        read_pks(connection, planned_files)

    assert retention(grace_seconds=GRACE_SECONDS)["deleted"] == {}  # rerun: nothing left to do


def test_a_sibling_snapshot_not_yet_published_survives_retention(lake):
    lake.write_snapshot(S0, rows(1))  # an abandoned attempt: never published
    publish(lake.write_snapshot(S1, rows(1)))
    publish(lake.write_snapshot(S3, rows(1, start=30)))
    settled = time.time()  # S0 written and S1 superseded before this
    time.sleep(8)
    lake.write_snapshot(S2, rows(1, start=20))  # a sibling backfill, older than the current one, still validating

    # A grace that S0 and S1 have outlived and S2 has not, whatever the machine's load since S2 was written: S2 is
    # 8 s younger than `settled` (minus 1 s for S3's whole-second LastModified, minus this grace's 1.5 s margin).
    result = retention(grace_seconds=time.time() - settled - 1.5)
    assert sorted(result["deleted"]) == [S0, S1]
    assert result["deleted"][S0].startswith("never published, last written")
    assert result["deleted"][S1].startswith("published, not current since")
    assert "within the grace period" in result["kept"][S2]
    assert result["kept"][S3] == "the current table points at it"
    assert lake.keys(f"mirror/snapshots/orders/snapshot={S2}/") == [
        f"mirror/snapshots/orders/snapshot={S2}/_manifest.json",
        f"mirror/snapshots/orders/snapshot={S2}/part-00000.parquet",
    ]
    assert lake.keys(f"mirror/snapshots/orders/snapshot={S0}/") == []


@pytest.mark.parametrize("grace", [0, -3600, timedelta(0)])
def test_retention_refuses_a_grace_period_of_zero_or_less(grace):
    with pytest.raises(ConfigError, match="grace period must be more than 0"):
        SnapshotRetentionOperator(task_id="retention", database=DATABASE, table_name=TABLE, bucket="lake",
                                  grace_period=grace)


def test_retention_deletes_nothing_when_the_current_table_points_elsewhere(lake):
    lake.write_snapshot(S0, rows(1))
    publish(lake.write_snapshot(S1, rows(1)))
    table = current_table(lake)
    descriptor = {**table["StorageDescriptor"], "Location": "s3://other-bucket/somewhere/"}
    moved = {"Name": TABLE, "StorageDescriptor": descriptor, "Parameters": table["Parameters"]}
    lake.glue.update_table(DatabaseName=DATABASE, TableInput=moved)
    result = retention(grace_seconds=GRACE_SECONDS)
    assert result["deleted"] == {} and result["current"] is None
    assert lake.keys(f"mirror/snapshots/orders/snapshot={S0}/") != []


def test_athena_count_sql_counts_one_snapshot_on_duckdb(lake):
    for i, stamp in enumerate((S1, S2)):
        register(lake.write_snapshot(stamp, rows(3 + i, start=i * 10)))
    count_sql = sqlglot.transpile(athena_sql.count_rows(DATABASE, "orders_snapshots", S2), read="athena",
                                  write="duckdb")[0]
    with duck(lake) as connection:
        connection.execute(f"CREATE SCHEMA {DATABASE}")
        connection.execute(
            f"CREATE VIEW {DATABASE}.orders_snapshots AS "
            f"SELECT * FROM read_parquet('{ROOT}*/*.parquet', hive_partitioning = true)"
        )
        assert connection.execute(count_sql).fetchall() == [(4,)]
