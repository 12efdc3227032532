"""The merge engine on pyiceberg's Glue catalog (moto) with the warehouse in moto S3: bootstrap from a full export,
then windows of real incremental exports (AWS layout) converted by the project's converter; after each merge the
Iceberg table equals the model's items value by value, and its snapshot carries export id and watermark."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from change_exports import ItemModel, write_incremental_export
from conftest import BUCKET, DATABASE
from generated_changes import change_window, seed_items
from item_compare import export_plain, iceberg_items, sorted_items

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.errors import ConfigError, SchemaError
from ddb_lake.core.iceberg.watermark import EXPORT_ID, WATERMARK
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks import iceberg_merge as engine

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
KEYS = ["pk", "sk"]


def convert(folder, dest, previous: LakeSchema | None):
    summary = convert_export(str(folder), str(dest), previous_schema=previous)
    return summary, LakeSchema.from_json(summary["schema"])


def read_changes(table, summary, schema):
    return engine.read_parquet_files(table.io, [f["path"] for f in summary["files"]], schema.to_arrow())


@pytest.fixture(params=["copy-on-write", "merge-on-read"])
def bootstrapped(request, tmp_path, catalog):
    rng = random.Random(7)
    model = ItemModel(("pk", "sk"))
    seed_items(model, rng, 120, T0 - timedelta(hours=1))
    full = write_export(tmp_path / "full" / "AWSDynamoDB" / "01700000000000-full0001",
                        [[item_line(i) for i in model.items.values()]])
    summary, schema = convert(full, tmp_path / "full-out", None)
    table = engine.create_table(catalog, (DATABASE, "books"), schema, f"s3://{BUCKET}/lake/iceberg/books", KEYS)
    table.transaction().set_properties({"write.delete.mode": request.param}).commit_transaction()
    items = read_changes(table, summary, schema)
    result = engine.bootstrap(table, items, schema, export_id=summary["export_id"], export_time=T0, key_columns=KEYS)
    return model, rng, table, result


def test_bootstrap_then_chained_windows_equal_the_items(tmp_path, bootstrapped):
    model, rng, table, result = bootstrapped
    assert result.action == "bootstrapped"
    assert iceberg_items(table, engine.stored_schema(table)) == sorted_items(list(model.items.values()), export_plain)
    deleted: list[dict] = []
    start = T0
    for window in range(4):
        end = start + timedelta(hours=1)
        change_window(model, rng, start, window, deleted)
        lines = model.take_lines()
        folder = write_incremental_export(tmp_path / f"w{window}" / "AWSDynamoDB" / f"0170000000000{window}-inc",
                                          lines, start, end, seed=window)
        summary, schema = convert(folder, tmp_path / f"w{window}-out", engine.stored_schema(table))
        changes = read_changes(table, summary, schema)
        merged = engine.merge_window(table, changes, schema, export_id=summary["export_id"],
                                     window_start=start, window_end=end, key_columns=KEYS)
        assert merged.action == "merged" and merged.properties["ddb-lake.changes"] == str(len(lines))
        assert iceberg_items(table, engine.stored_schema(table)) == sorted_items(list(model.items.values()),
                                                                                 export_plain), f"window {window}"
        summary_props = table.current_snapshot().summary.additional_properties
        assert summary_props[EXPORT_ID] == summary["export_id"] and summary_props[WATERMARK] == end.isoformat()
        totals = engine.table_key_totals(table, KEYS)
        assert (totals.rows, totals.checksum) == (int(summary_props["ddb-lake.rows"]),
                                                  int(summary_props["ddb-lake.key-checksum"]))
        assert totals.rows == len(model.items)
        if table.metadata.properties["write.delete.mode"] == "merge-on-read" and window == 0:
            assert merged.timings["files_with_deletes"] == 1 and merged.files_rewritten == 0  # a delete file
        start = end
    # a replayed export changes nothing: same snapshot, same rows
    snapshot = table.current_snapshot().snapshot_id
    replay = engine.merge_window(table, changes, schema, export_id=summary["export_id"],
                                 window_start=start - timedelta(hours=1), window_end=start, key_columns=KEYS)
    table.refresh()
    assert replay.action == "already_applied" and table.current_snapshot().snapshot_id == snapshot


def test_a_window_that_does_not_start_at_the_watermark_is_refused(tmp_path, bootstrapped):
    model, rng, table, _ = bootstrapped
    change_window(model, rng, T0 + timedelta(minutes=5), 0, [])
    folder = write_incremental_export(tmp_path / "gap" / "AWSDynamoDB" / "01700000000009-gap", model.take_lines(),
                                      T0 + timedelta(minutes=5), T0 + timedelta(hours=1))
    summary, schema = convert(folder, tmp_path / "gap-out", engine.stored_schema(table))
    snapshot = table.current_snapshot().snapshot_id
    with pytest.raises(ConfigError, match="gap or apply changes twice"):
        engine.merge_window(table, read_changes(table, summary, schema), schema,
                            export_id=summary["export_id"], window_start=T0 + timedelta(minutes=5),
                            window_end=T0 + timedelta(hours=1), key_columns=KEYS)
    table.refresh()
    assert table.current_snapshot().snapshot_id == snapshot


def test_new_attribute_is_added_and_an_illegal_widening_is_refused(tmp_path, bootstrapped):
    model, _, table, _ = bootstrapped
    item = dict(next(iter(model.items.values())))
    item["extra"] = {"SS": ["x"]}
    model.put(item, T0 + timedelta(minutes=1))
    folder = write_incremental_export(tmp_path / "add" / "AWSDynamoDB" / "01700000000010-add", model.take_lines(),
                                      T0, T0 + timedelta(hours=1))
    summary, schema = convert(folder, tmp_path / "add-out", engine.stored_schema(table))
    engine.merge_window(table, read_changes(table, summary, schema), schema,
                        export_id=summary["export_id"], window_start=T0, window_end=T0 + timedelta(hours=1),
                        key_columns=KEYS)
    assert "extra" in [f.name for f in table.schema().fields]
    assert iceberg_items(table, engine.stored_schema(table)) == sorted_items(list(model.items.values()), export_plain)
    bad = dict(item)
    bad["qty"] = {"N": "1.5"}  # long → decimal: no Iceberg promotion
    model.put(bad, T0 + timedelta(hours=1, minutes=1))
    folder = write_incremental_export(tmp_path / "bad" / "AWSDynamoDB" / "01700000000011-bad", model.take_lines(),
                                      T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    summary, schema = convert(folder, tmp_path / "bad-out", engine.stored_schema(table))
    snapshot = table.current_snapshot().snapshot_id
    with pytest.raises(SchemaError, match=r"column qty .*int64 → decimal"):
        engine.merge_window(table, read_changes(table, summary, schema), schema,
                            export_id=summary["export_id"], window_start=T0 + timedelta(hours=1),
                            window_end=T0 + timedelta(hours=2), key_columns=KEYS)
    table.refresh()
    assert table.current_snapshot().snapshot_id == snapshot
    assert json.loads(table.metadata.properties["ddb-lake.schema"]) == engine.stored_schema(table).to_json()


def test_new_image_exports_merge_the_same(tmp_path, bootstrapped):
    model, rng, table, _ = bootstrapped
    change_window(model, rng, T0, 0, [])
    folder = write_incremental_export(tmp_path / "ni" / "AWSDynamoDB" / "01700000000020-ni", model.take_lines(),
                                      T0, T0 + timedelta(hours=1), view="NEW_IMAGE")
    summary, schema = convert(folder, tmp_path / "ni-out", engine.stored_schema(table))
    engine.merge_window(table, read_changes(table, summary, schema), schema, export_id=summary["export_id"],
                        window_start=T0, window_end=T0 + timedelta(hours=1), key_columns=KEYS)
    assert iceberg_items(table, engine.stored_schema(table)) == sorted_items(list(model.items.values()), export_plain)
