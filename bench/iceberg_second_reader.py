"""Check: does a second Iceberg reader (DuckDB's iceberg extension) read ddb-lake's tables, position deletes included?

    .venv/bin/python bench/iceberg_second_reader.py [--items 1000] [--windows 2]
                                                    [--duckdb-python /tmp/duckice/bin/python]

The DuckDB side runs in its own venv (the project's venv has DuckDB 2.0 without the iceberg extension packaged):

    python3.11 -m venv /tmp/duckice
    /tmp/duckice/bin/pip install duckdb==1.5.5 duckdb-extension-iceberg==1.5.5 duckdb-extension-avro==1.5.5

Builds a table with ddb-lake's own engine (hooks/iceberg_merge.py) on a local pyiceberg SqlCatalog (sqlite, file://
warehouse): a full export of ``--items`` generated items is converted by the project's converter and bootstrapped,
then ``--windows`` incremental exports (inserts, repeated updates, deletes, re-inserts) are merged merge-on-read, so
the table carries position delete files written by hooks/iceberg_deletes.py. The current snapshot is then read by
pyiceberg and by ``iceberg_scan`` in a DuckDB subprocess; printed: both row counts, whether the rows are equal (by
key, value by value), the rows the model expects, and the delete files (pyiceberg's plan and DuckDB's
``iceberg_metadata``). Exit status 1 if the readers disagree.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
for folder in ("plugins", "tests/iceberg"):
    sys.path.insert(0, str(ROOT / folder))

from change_exports import ItemModel, write_incremental_export  # noqa: E402
from generated_changes import change_window, seed_items  # noqa: E402

from ddb_lake.core.convert.converter import convert_export  # noqa: E402
from ddb_lake.core.convert.export_writer import item_line, write_export  # noqa: E402
from ddb_lake.core.schema.lake_schema import LakeSchema  # noqa: E402
from ddb_lake.hooks import iceberg_merge as engine  # noqa: E402

T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
KEYS = ["pk", "sk"]

# Runs in the DuckDB venv: loads the extensions from their wheel packages (no download), reads the table, writes
# the rows and the manifest entries as Parquet for this process to compare.
DUCKDB_READER = r"""
import json, os, sys
import duckdb, duckdb_extension_avro, duckdb_extension_iceberg
metadata, rows_out, meta_out = sys.argv[1:4]
con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
for module, name in ((duckdb_extension_avro, "avro"), (duckdb_extension_iceberg, "iceberg")):
    folder = os.path.join(os.path.dirname(module.__file__), "extensions", "v" + duckdb.__version__)
    con.execute(f"LOAD '{os.path.join(folder, name + '.duckdb_extension')}'")
con.execute(f"COPY (SELECT * FROM iceberg_scan('{metadata}')) TO '{rows_out}' (FORMAT parquet)")
con.execute(f"COPY (SELECT * FROM iceberg_metadata('{metadata}')) TO '{meta_out}' (FORMAT parquet)")
print(json.dumps({"duckdb": duckdb.__version__}))
"""


def build(work: Path, items: int, windows: int):
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("second_reader", uri=f"sqlite:///{work}/catalog.db", warehouse=f"file://{work}/warehouse")
    catalog.create_namespace("lake")
    rng = random.Random(11)
    model = ItemModel(("pk", "sk"))
    seed_items(model, rng, items, T0 - timedelta(hours=1))
    full = write_export(work / "full" / "AWSDynamoDB" / "01700000000000-full0001",
                        [[item_line(i) for i in model.items.values()]])
    summary = convert_export(str(full), str(work / "full-out"), previous_schema=None)
    schema = LakeSchema.from_json(summary["schema"])
    table = engine.create_table(catalog, ("lake", "books"), schema, f"file://{work}/warehouse/books", KEYS,
                                delete_mode=engine.MERGE_ON_READ)
    rows = engine.read_parquet_files(table.io, [f["path"] for f in summary["files"]], schema.to_arrow())
    engine.bootstrap(table, rows, schema, export_id=summary["export_id"], export_time=T0, key_columns=KEYS)
    start, deleted = T0, []
    for window in range(windows):
        end = start + timedelta(hours=1)
        change_window(model, rng, start, window, deleted)
        folder = write_incremental_export(work / f"w{window}" / "AWSDynamoDB" / f"0170000000000{window}-inc",
                                          model.take_lines(), start, end, seed=window)
        summary = convert_export(str(folder), str(work / f"w{window}-out"),
                                 previous_schema=engine.stored_schema(table))
        schema = LakeSchema.from_json(summary["schema"])
        changes = engine.read_parquet_files(table.io, [f["path"] for f in summary["files"]], schema.to_arrow())
        result = engine.merge_window(table, changes, schema, export_id=summary["export_id"], window_start=start,
                                     window_end=end, key_columns=KEYS, mode=engine.MERGE_ON_READ)
        print(f"window {window}: {result.properties['ddb-lake.changes']} changes, "
              f"{result.timings['files_with_deletes']} file(s) given a delete file, "
              f"{result.files_rewritten} rewritten")
        start = end
    return table, len(model.items)


def keyed(rows: pa.Table) -> dict:
    return {tuple(row[k] for k in KEYS): row for row in rows.to_pylist()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--duckdb-python", default="/tmp/duckice/bin/python")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="second-reader-") as tmp:
        work = Path(tmp)
        table, expected = build(work, args.items, args.windows)
        metadata = table.metadata_location.removeprefix("file://")
        tasks = list(table.scan().plan_files())
        ours = table.scan().to_arrow()
        stored = sum(task.file.record_count for task in tasks)
        print(f"pyiceberg: {ours.num_rows} rows (the model expects {expected}), {len(tasks)} data file(s) holding "
              f"{stored} rows before deletes; delete files per data file:")
        for task in tasks:
            for delete in task.delete_files:
                with table.io.new_input(delete.file_path).open() as stream:
                    content = pq.read_table(stream)
                print(f"  {Path(task.file.file_path).name} ({task.file.record_count} rows) <- "
                      f"{Path(delete.file_path).name}: {delete.record_count} positions, field ids "
                      f"{[f.metadata.get(b'PARQUET:field_id').decode() for f in content.schema]}, sorted "
                      f"{content['pos'].to_pylist() == sorted(content['pos'].to_pylist())}")
        run = subprocess.run([args.duckdb_python, "-c", DUCKDB_READER, metadata, str(work / "duck.parquet"),
                              str(work / "duck-meta.parquet")], capture_output=True, text=True)
        if run.returncode:
            print(f"DuckDB failed on {metadata}:\n{run.stderr.strip()}")
            return 1
        version = json.loads(run.stdout.strip().splitlines()[-1])["duckdb"]
        theirs = pq.read_table(work / "duck.parquet")
        entries = pq.read_table(work / "duck-meta.parquet").to_pylist()
        print(f"duckdb {version} iceberg_scan: {theirs.num_rows} rows; manifest entries (iceberg_metadata):")
        for entry in entries:
            print(f"  {entry.get('manifest_content')} {entry.get('status')} {Path(entry['file_path']).name} "
                  f"({entry.get('record_count')} records)")
        theirs = theirs.select(ours.column_names).cast(ours.schema)
        ours_by_key, theirs_by_key = keyed(ours), keyed(theirs)
        same_keys = ours_by_key.keys() == theirs_by_key.keys()
        differing = [k for k in ours_by_key.keys() & theirs_by_key.keys() if ours_by_key[k] != theirs_by_key[k]]
        equal = same_keys and not differing and ours.num_rows == theirs.num_rows
        print(f"equal by key and values: {equal} (keys only in pyiceberg: "
              f"{len(ours_by_key.keys() - theirs_by_key.keys())}, only in duckdb: "
              f"{len(theirs_by_key.keys() - ours_by_key.keys())}, rows with differing values: {len(differing)})")
        return 0 if equal and ours.num_rows == expected else 1


if __name__ == "__main__":
    sys.exit(main())
