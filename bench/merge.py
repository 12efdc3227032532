"""Benchmark: the in-worker Iceberg merge (ddb_lake.hooks.iceberg_merge) against DuckDB's MERGE on the same data.

    .venv/bin/python bench/merge.py [--changes 100000] [--sizes 500000,2000000,8000000] [--files 4] [--quick]

For each table size: base rows are generated once and written as Parquet files; the Iceberg table registers those
very files (``add_files``, pyiceberg SqlCatalog on sqlite, warehouse on local disk) and DuckDB reads the same files.
One window of changes (70 % updates with some keys changed several times, 20 % inserts, 10 % deletes, each with
``_ddb_operation`` and ``_ddb_write_ts`` as the converter writes them) is then applied by

- ``iceberg CoW``: ``merge_window`` copy-on-write — reduce per key, scan key columns, rewrite files holding changed
  keys, write the upserts, one commit (the result is persisted Parquet + Iceberg metadata);
- ``iceberg MoR``: the same in merge-on-read — a position delete file per affected file instead of its rewrite;
- ``duckdb``: load the Parquet files into a table, reduce with ``QUALIFY row_number()``, ``MERGE INTO`` (update /
  delete / insert), write the table back to Parquet (``COPY``): the same persisted result. Shown as load, merge
  and write, and their total.

Both results are checked to hold the same number of rows. ``--quick`` uses sizes 50k/200k/800k and 10k changes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from ddb_lake.core.iceberg.schema_rules import SCHEMA_PROPERTY
from ddb_lake.core.iceberg.watermark import commit_properties
from ddb_lake.core.schema.inference import metadata_fields
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.hooks import iceberg_merge as engine

T0 = datetime(2026, 11, 22, tzinfo=UTC)
KEYS = ["pk", "sk"]
SCHEMA = LakeSchema((
    LakeField("pk", "pk", LakeType("string")),
    LakeField("sk", "sk", LakeType("int64")),
    LakeField("amount", "amount", LakeType("decimal", precision=14, scale=2)),
    LakeField("status", "status", LakeType("string")),
    LakeField("qty", "qty", LakeType("int64")),
    LakeField("note", "note", LakeType("string")),
))
STATUSES = np.array(["NEW", "PAID", "SHIPPED", "CANCELLED"])


def rows_for(ids: np.ndarray, rng: np.random.Generator) -> dict[str, pa.Array]:
    n = len(ids)
    return {
        "pk": pa.array(np.char.add("CUSTOMER#", np.char.zfill((ids // 4).astype(str), 9))),
        "sk": pa.array(ids % 4, pa.int64()),
        "amount": pa.array(rng.integers(0, 10**9, n), pa.int64()).cast(pa.decimal128(19, 0)).cast(
            pa.decimal128(14, 2), safe=False),
        "status": pa.array(STATUSES[rng.integers(0, 4, n)]),
        "qty": pa.array(rng.integers(1, 100, n), pa.int64()),
        "note": pa.array(np.char.add("note-", rng.integers(0, 10**6, n).astype(str))),
    }


def base_files(folder: Path, size: int, files: int, rng: np.random.Generator) -> list[str]:
    folder.mkdir(parents=True)
    paths = []
    for number, ids in enumerate(np.array_split(np.arange(size, dtype=np.int64), files)):
        path = folder / f"base-{number:03d}.parquet"
        pq.write_table(pa.table(rows_for(ids, rng), schema=SCHEMA.to_arrow().remove_metadata()), path,
                       compression="zstd")
        paths.append(str(path))
    return paths


def change_table(size: int, changes: int, rng: np.random.Generator) -> pa.Table:
    updates, inserts = int(changes * 0.7), int(changes * 0.2)
    deletes = changes - updates - inserts
    updated = rng.integers(0, size, updates)
    updated[: updates // 10] = updated[updates // 10: 2 * (updates // 10)]  # some keys change twice in the window
    ids = np.concatenate([updated, np.arange(size, size + inserts), rng.choice(size, deletes, replace=False)])
    ops = np.array(["MODIFY"] * updates + ["INSERT"] * inserts + ["REMOVE"] * deletes)
    stamps = (T0 + timedelta(minutes=1)).timestamp() * 1e6 + rng.permutation(changes)
    data = rows_for(ids, rng)
    removed = ops == "REMOVE"
    for name in ("amount", "status", "qty", "note"):  # a REMOVE line carries the key only
        data[name] = _null_where(data[name], removed)
    meta = {"_ddb_operation": pa.array(ops), "_ddb_write_ts": pa.array(stamps.astype(np.int64)).cast(
        pa.timestamp("us", tz="UTC"))}
    return pa.table({**meta, **data})


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc

    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def run_iceberg(work: Path, paths: list[str], changes: pa.Table, size: int, mode: str) -> dict[str, float]:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("bench", uri=f"sqlite:///{work}/catalog.db", warehouse=f"file://{work}/warehouse")
    catalog.create_namespace("bench")
    table = engine.create_table(catalog, ("bench", "t"), SCHEMA, f"file://{work}/warehouse/t", KEYS)
    props = commit_properties(export_id="base", export_type="FULL_EXPORT", watermark=T0, window_start=None,
                              rows=size, key_checksum=0, rows_before=0, inserts=size, updates=0, deletes=0,
                              changes=size)
    table.add_files(paths, snapshot_properties=props)
    table.transaction().set_properties({SCHEMA_PROPERTY: SCHEMA.dumps()}).commit_transaction()
    table.refresh()
    change_schema = LakeSchema((*metadata_fields(), *SCHEMA.fields))
    started = time.monotonic()
    result = engine.merge_window(table, changes, change_schema, export_id="window-1", window_start=T0,
                                 window_end=T0 + timedelta(hours=1), key_columns=KEYS, mode=mode)
    seconds = time.monotonic() - started
    rows = table.scan(selected_fields=("sk",)).to_arrow().num_rows  # position deletes applied
    return {"seconds": seconds, "rows": rows, "rewritten": result.files_rewritten, **result.timings,
            "expected_rows": int(result.properties["ddb-lake.rows"])}


def run_duckdb(work: Path, paths: list[str], changes: pa.Table) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    changes_path = work / "changes.parquet"
    pq.write_table(changes, changes_path)
    files = ", ".join(f"'{p}'" for p in paths)
    clock = time.monotonic()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet([{files}])")
    load = time.monotonic() - clock
    clock = time.monotonic()
    con.execute(f"""CREATE TEMP TABLE c AS SELECT * FROM read_parquet('{changes_path}')
                    QUALIFY row_number() OVER (PARTITION BY pk, sk ORDER BY _ddb_write_ts DESC) = 1""")
    con.execute("""MERGE INTO t USING c ON t.pk = c.pk AND t.sk = c.sk
        WHEN MATCHED AND c._ddb_operation = 'REMOVE' THEN DELETE
        WHEN MATCHED THEN UPDATE SET amount = c.amount, status = c.status, qty = c.qty, note = c.note
        WHEN NOT MATCHED AND c._ddb_operation <> 'REMOVE' THEN
            INSERT (pk, sk, amount, status, qty, note) VALUES (c.pk, c.sk, c.amount, c.status, c.qty, c.note)""")
    merge = time.monotonic() - clock
    clock = time.monotonic()
    out = work / "duckdb-out"
    out.mkdir()
    con.execute(f"COPY t TO '{out}/result.parquet' (FORMAT parquet, COMPRESSION zstd)")
    write = time.monotonic() - clock
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    return {"load": load, "merge": merge, "write": write, "seconds": load + merge + write, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--sizes", default="500000,2000000,8000000")
    parser.add_argument("--files", type=int, default=4, help="base Parquet files per table")
    parser.add_argument("--quick", action="store_true", help="sizes 50k/200k/800k, 10k changes")
    args = parser.parse_args(argv)
    sizes = [50_000, 200_000, 800_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    changes = 10_000 if args.quick else args.changes
    print(f"{changes:,} changes per window; {os.cpu_count()} cores; times in seconds")
    header = (f"{'table rows':>11} | {'iceberg CoW':>11} {'(reduce/scan/write)':>21} | "
              f"{'iceberg MoR':>11} {'(reduce/scan/write)':>21} | "
              f"{'duckdb total':>12} {'(load/merge/write)':>20} | {'rows after':>10}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix="ddb-lake-merge-bench-"))
        try:
            rng = np.random.default_rng(size)
            paths = base_files(work / "base", size, args.files, rng)
            window = change_table(size, changes, rng)
            runs = {}
            for mode in (engine.COPY_ON_WRITE, engine.MERGE_ON_READ):
                (work / mode).mkdir()
                runs[mode] = run_iceberg(work / mode, paths, window, size, mode)
            duck = run_duckdb(work, paths, window)
            counts = {runs[m]["rows"] for m in runs} | {duck["rows"]} | {runs[m]["expected_rows"] for m in runs}
            if len(counts) != 1:
                print(f"ROW COUNTS DIFFER: {runs}, duckdb {duck['rows']}")
                return 1
            cells = [f"{r['seconds']:>11.2f} {r['reduce']:.2f}/{r['scan_keys']:.2f}/{r['write_commit']:.2f}".ljust(33)
                     for r in runs.values()]
            dparts = f"{duck['load']:.2f}/{duck['merge']:.2f}/{duck['write']:.2f}"
            print(f"{size:>11,} | {cells[0]} | {cells[1]} | {duck['seconds']:>12.2f} {dparts:>20} | "
                  f"{duck['rows']:>10,}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
