"""YAML pins (``columns:``) on the Iceberg path: the DAG's convert task takes them, the table is created with the
pinned types, windows convert into exactly those types, and a value that does not fit fails the convert before
anything is merged (the watermark stays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import yaml
from change_exports import ItemModel, write_incremental_export
from conftest import BUCKET, DATABASE

from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

T0 = datetime(2026, 11, 22, tzinfo=UTC)
PINS = {"price": "decimal(18,4)", "note": "string"}
KEY_SCHEMA = [{"attribute": "pk", "type": "S"}]


def test_the_iceberg_dags_tasks_take_the_pins_and_iceberg_settings(tmp_path):
    from ddb_lake.dag_factory.table_dag import build_table_dags

    (tmp_path / "books.yaml").write_text(yaml.safe_dump({
        "dynamodb": {"table_name": "Books"}, "lake": {"bucket": "lake-bucket", "format": "iceberg"},
        "export": {"mode": "incremental"}, "glue": {"database": "lake_db"},
        "athena": {"output_location": "s3://lake-bucket/athena/", "workgroup": "etl"}, "columns": PINS,
        "iceberg": {"merge_engine": "auto", "athena_min_rows": 5, "compact_every_runs": 6, "small_file_mb": 8,
                    "verify_full_every_runs": 3},
        "retention": {"grace_hours": 3}}))
    dag = build_table_dags(tmp_path)["ddb_lake__books__incremental"]
    assert dag.get_task("convert").columns == PINS
    merge = dag.get_task("merge")
    assert (merge.merge_engine, merge.athena_min_rows, merge.athena_output_location, merge.athena_workgroup) == (
        "auto", 5, "s3://lake-bucket/athena/", "etl")
    compact = dag.get_task("compact")
    assert (compact.every_runs, compact.small_file_mb) == (6, 8)
    assert dag.get_task("state").verify_full_every_runs == 3
    assert dag.get_task("remove_orphans").grace_period == timedelta(hours=3)


def convert(folder, dest, previous) -> tuple[dict, LakeSchema]:
    task = ExportToParquetOperator(task_id="convert", dest_url=str(dest), snapshot="s", columns=PINS,
                                   previous_schema=previous.to_json() if previous else None,
                                   export={"export_arn": "arn", "table_name": "books", "export_folder": str(folder),
                                           "key_schema": KEY_SCHEMA})
    summary = task.execute({})
    return summary, LakeSchema.from_json(summary["schema"])


@pytest.mark.integration
def test_pinned_types_hold_through_bootstrap_and_windows(tmp_path, catalog):
    from ddb_lake.compat import AirflowFailException

    model = ItemModel(("pk",))
    for i, price in enumerate(["1.5", "20", "0.0001"]):
        model.put({"pk": {"S": f"b{i}"}, "price": {"N": price}}, T0 - timedelta(hours=1))
    model.take_lines()
    full = write_export(tmp_path / "full" / "AWSDynamoDB" / "01700000000000-full0001",
                        [[item_line(i) for i in model.items.values()]])
    summary, schema = convert(full, tmp_path / "full-out", None)
    table = engine.create_table(catalog, (DATABASE, "books"), engine.data_schema(schema),
                                f"s3://{BUCKET}/lake/iceberg/books", ["pk"])
    rows = engine.read_parquet_files(table.io, [f["path"] for f in summary["files"]], schema.to_arrow())
    engine.bootstrap(table, rows, engine.data_schema(schema), export_id=summary["export_id"], export_time=T0,
                     key_columns=["pk"])
    iceberg_types = {f.name: str(f.field_type) for f in table.schema().fields}
    assert iceberg_types == {"pk": "string", "price": "decimal(18, 4)", "note": "string"}  # note: before any item
    assert [f.pinned for f in engine.stored_schema(table).fields if f.name in PINS] == [True, True]

    model.put({"pk": {"S": "b0"}, "price": {"N": "7"}, "note": {"S": "n"}}, T0 + timedelta(minutes=1))
    folder = write_incremental_export(tmp_path / "w0" / "AWSDynamoDB" / "01700000000001-w0", model.take_lines(),
                                      T0, T0 + timedelta(hours=1))
    summary, schema = convert(folder, tmp_path / "w0-out", engine.stored_schema(table))
    changes = engine.read_parquet_files(table.io, [f["path"] for f in summary["files"]], schema.to_arrow())
    engine.merge_window(table, changes, schema, export_id=summary["export_id"], window_start=T0,
                        window_end=T0 + timedelta(hours=1), key_columns=["pk"])
    assert sorted((r["pk"], r["price"], r["note"]) for r in table.scan().to_arrow().to_pylist()) == [
        ("b0", Decimal("7.0000"), "n"), ("b1", Decimal("20.0000"), None), ("b2", Decimal("0.0001"), None)]

    model.put({"pk": {"S": "b1"}, "price": {"N": "4.123456"}}, T0 + timedelta(hours=1, minutes=1))
    folder = write_incremental_export(tmp_path / "w1" / "AWSDynamoDB" / "01700000000002-w1", model.take_lines(),
                                      T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    with pytest.raises(AirflowFailException, match=r"'price' holds 4\.123456, which does not fit .*columns\.price"):
        convert(folder, tmp_path / "w1-out", engine.stored_schema(table))
    assert engine.committed_state(table).watermark == T0 + timedelta(hours=1)
