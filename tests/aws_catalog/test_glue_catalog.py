"""Glue catalog registration against moto server: create, rerun, schema evolution, partitions."""

from __future__ import annotations

import json

import pytest
from catalog_lake import DATABASE, SCHEMA_V1, SCHEMA_V2, TABLE, rows

from ddb_lake.compat import AirflowFailException
from ddb_lake.core.lake.catalog_tables import snapshots_table_input
from ddb_lake.core.lake.glue_table import SchemaEvolutionError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.hooks.lake_catalog import LakeCatalogHook
from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator

pytestmark = pytest.mark.integration
S1, S2 = "20261121T000000Z", "20261122T000000Z"


def register(summary, **kwargs) -> dict:
    operator = GlueSnapshotCatalogOperator(
        task_id="catalog", convert_summary=summary, database=DATABASE, table_name=TABLE, bucket="lake", **kwargs
    )
    return operator.execute({})


def test_first_snapshot_creates_database_table_and_partition(lake):
    result = register(lake.write_snapshot(S1, rows(3)))
    assert result["table_action"] == "created" and result["partition_action"] == "created"
    table = lake.glue.get_table(DatabaseName=DATABASE, Name="orders_snapshots")["Table"]
    assert table["PartitionKeys"] == [{"Name": "snapshot", "Type": "string"}]
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == "s3://lake/mirror/snapshots/orders/"
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        ("pk", "string"), ("qty", "bigint"), ("amount", "decimal(10,2)"),
    ]
    assert descriptor["Columns"][0]["Comment"] == "DynamoDB attribute 'PK'"
    partition = lake.glue.get_partition(DatabaseName=DATABASE, TableName="orders_snapshots", PartitionValues=[S1])
    assert partition["Partition"]["StorageDescriptor"]["Location"] == f"s3://lake/mirror/snapshots/orders/snapshot={S1}/"


def test_rerun_is_idempotent(lake):
    summary = lake.write_snapshot(S1, rows(3))
    register(summary)
    version = lake.glue.get_table(DatabaseName=DATABASE, Name="orders_snapshots")["Table"]["VersionId"]
    again = register(summary)
    assert (again["table_action"], again["partition_action"]) == ("unchanged", "existing")
    assert lake.glue.get_table(DatabaseName=DATABASE, Name="orders_snapshots")["Table"]["VersionId"] == version
    partitions = lake.glue.get_partitions(DatabaseName=DATABASE, TableName="orders_snapshots")["Partitions"]
    assert [p["Values"] for p in partitions] == [[S1]]


def test_new_columns_are_appended_and_types_widened(lake):
    register(lake.write_snapshot(S1, rows(2)))
    widened = LakeSchema(
        (SCHEMA_V2.fields[0], SCHEMA_V2.fields[1],
         LakeField("amount", "amount", LakeType("decimal", precision=14, scale=2)), SCHEMA_V2.fields[3])
    )
    rows_v2 = [{**r, "note": "n"} for r in rows(2, start=10)]
    result = register(lake.write_snapshot(S2, rows_v2, widened))
    assert (result["table_action"], result["partition_action"], result["columns"]) == ("updated", "created", 4)
    columns = snapshots_columns(lake)
    assert [(c["Name"], c["Type"]) for c in columns] == [
        ("pk", "string"), ("qty", "bigint"), ("amount", "decimal(14,2)"), ("note", "string"),
    ]
    partitions = lake.glue.get_partitions(DatabaseName=DATABASE, TableName="orders_snapshots")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == [S1, S2]


def test_incompatible_change_fails_and_leaves_the_table_alone(lake):
    register(lake.write_snapshot(S1, rows(2)))
    as_text = LakeSchema((SCHEMA_V1.fields[0], LakeField("qty", "qty", LakeType("string")), SCHEMA_V1.fields[2]))
    summary = lake.write_snapshot(S2, [{"pk": "a", "qty": "many", "amount": None}], as_text)
    with pytest.raises(AirflowFailException, match=r"Glue table 'ddb_lake\.orders_snapshots', column 'qty'") as refused:
        register(summary)
    assert isinstance(refused.value.__cause__, SchemaEvolutionError)  # a schema refusal: terminal, not retried
    columns = snapshots_columns(lake)
    assert columns[1]["Type"] == "bigint"
    partitions = lake.glue.get_partitions(DatabaseName=DATABASE, TableName="orders_snapshots")["Partitions"]
    assert [p["Values"] for p in partitions] == [[S1]]


def test_partition_at_another_location_is_moved(lake):
    summary = lake.write_snapshot(S1, rows(2))
    register(summary)
    lake.glue.update_partition(
        DatabaseName=DATABASE, TableName="orders_snapshots", PartitionValueList=[S1],
        PartitionInput={"Values": [S1], "StorageDescriptor": {"Location": "s3://elsewhere/"}},
    )
    assert register(summary)["partition_action"] == "moved"
    partition = lake.glue.get_partition(DatabaseName=DATABASE, TableName="orders_snapshots", PartitionValues=[S1])
    assert partition["Partition"]["StorageDescriptor"]["Location"].endswith(f"snapshot={S1}/")


def test_partition_projection_adds_no_partitions(lake):
    result = register(lake.write_snapshot(S1, rows(2)), partition_projection=True)
    assert result["partition_action"] == "projected"
    table = lake.glue.get_table(DatabaseName=DATABASE, Name="orders_snapshots")["Table"]
    assert table["Parameters"]["projection.snapshot.type"] == "injected"
    assert lake.glue.get_partitions(DatabaseName=DATABASE, TableName="orders_snapshots")["Partitions"] == []


def test_summary_that_is_not_a_dict_is_refused(lake):
    with pytest.raises(Exception, match="convert_summary must be the convert task's dict"):
        register("{'snapshot': 'x'}")


def snapshots_columns(lake) -> list[dict]:
    return lake.glue.get_table(DatabaseName=DATABASE, Name="orders_snapshots")["Table"]["StorageDescriptor"]["Columns"]


def test_a_rerun_moves_the_partition_to_its_attempt_and_marks_the_folder_it_left(lake):
    first = register(lake.write_snapshot(S1, rows(2), attempt="scheduled-71bbca42-try1"))
    rerun = register(lake.write_snapshot(S1, rows(3), attempt="manual-4131cba4-try1"))
    assert (first["partition_action"], rerun["partition_action"]) == ("created", "moved")
    attempts = f"s3://lake/mirror/snapshots/orders/_attempts/snapshot={S1}/"
    partition = lake.glue.get_partition(DatabaseName=DATABASE, TableName="orders_snapshots", PartitionValues=[S1])
    assert partition["Partition"]["StorageDescriptor"]["Location"] == f"{attempts}attempt=manual-4131cba4-try1/"
    table = lake.glue.get_table(DatabaseName=DATABASE, Name="orders_snapshots")["Table"]
    assert table["StorageDescriptor"]["Location"] == "s3://lake/mirror/snapshots/orders/"  # not the attempts tree
    left = f"mirror/snapshots/orders/_attempts/snapshot={S1}/attempt=scheduled-71bbca42-try1/"
    marker = json.loads(lake.s3.get_object(Bucket="lake", Key=left + "_superseded.json")["Body"].read())
    assert (marker["snapshot"], marker["by"]) == (S1, f"{attempts}attempt=manual-4131cba4-try1/")
    assert lake.keys(f"mirror/snapshots/orders/_attempts/snapshot={S1}/attempt=manual-4131cba4-try1/") == [
        f"mirror/snapshots/orders/_attempts/snapshot={S1}/attempt=manual-4131cba4-try1/_manifest.json",
        f"mirror/snapshots/orders/_attempts/snapshot={S1}/attempt=manual-4131cba4-try1/part-00000.parquet",
    ]  # the folder now read gets nothing


def test_partition_registered_with_other_types_gets_its_files_types(lake):
    summary = lake.write_snapshot(S1, rows(2))
    register(summary)
    lake.glue.update_partition(
        DatabaseName=DATABASE, TableName="orders_snapshots", PartitionValueList=[S1],
        PartitionInput={"Values": [S1], "StorageDescriptor": {
            "Location": f"s3://lake/mirror/snapshots/orders/snapshot={S1}/",
            "Columns": [{"Name": "pk", "Type": "string"}, {"Name": "qty", "Type": "decimal(21,2)"}]}},
    )
    assert register(summary)["partition_action"] == "retyped"
    partition = lake.glue.get_partition(DatabaseName=DATABASE, TableName="orders_snapshots", PartitionValues=[S1])
    assert [(c["Name"], c["Type"]) for c in partition["Partition"]["StorageDescriptor"]["Columns"]] == [
        ("pk", "string"), ("qty", "bigint"), ("amount", "decimal(10,2)")]
    assert register(summary)["partition_action"] == "existing"


class _StaleFirstRead(LakeCatalogHook):
    """A catalog hook whose first GetTable answer is stale: another run creates the table right after that read."""

    def __init__(self, other_writer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.other_writer, self.reads = other_writer, 0

    def get_table(self, database, name):
        self.reads += 1
        if self.reads == 1:
            self.other_writer()  # the overlapping run wins the race to CreateTable
            return None
        return super().get_table(database, name)


def test_a_run_that_loses_the_race_to_create_the_table_reads_again_and_merges(lake):
    lake.glue.create_database(DatabaseInput={"Name": DATABASE})
    location = "s3://lake/mirror/snapshots/orders/"
    theirs = snapshots_table_input("orders_snapshots", TABLE, SCHEMA_V1, location)
    ours = snapshots_table_input("orders_snapshots", TABLE, SCHEMA_V2, location)
    hook = _StaleFirstRead(lambda: lake.glue.create_table(DatabaseName=DATABASE, TableInput=theirs),
                           aws_conn_id="aws_default", region_name="us-east-1")
    action, _ = hook.upsert_table(DATABASE, ours, SCHEMA_V2)
    assert (action, hook.reads) == ("updated", 2)  # AlreadyExists, then a second read and a merge
    assert [c["Name"] for c in snapshots_columns(lake)] == [c["Name"] for c in ours["StorageDescriptor"]["Columns"]]
