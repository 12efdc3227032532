"""Spark job: convert one DynamoDB export with the core converter inside executors, then unify on the driver.

    spark-submit convert_job.py --source s3://.../AWSDynamoDB/<id> --dest s3://.../attempt=<id> \
        --slices-url s3://.../attempt=<id>-slices [--slices 64] [--options '{"numbers": "exact", ...}']

The driver plans slices of the export's data files (``core.convert.export_slices``), one Spark partition each;
``mapInArrow`` runs :func:`~ddb_lake.core.convert.export_slices.convert_slice` on each partition's slices inside the
executors (each writes its Parquet and ``_slice.json`` to ``--slices-url``; a re-run of the job skips slices already
converted with the same inputs), and the driver unifies the collected records into ``--dest`` with
:func:`~ddb_lake.core.convert.export_slices.unify_slices`: the same files, schema and ``_manifest.json`` the
one-process converter writes. Executors need pyarrow and numpy; packaging: ``scripts/spark_package.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from ddb_lake.core.convert.export_slices import convert_slice, export_slice_plan, unify_slices
from ddb_lake.core.convert.storage import Storage
from ddb_lake.core.schema.lake_schema import LakeSchema

# convert_export keywords the job passes through from --options (everything else is refused, naming the key)
OPTION_KEYS = frozenset({"numbers", "previous_schema", "key_attributes", "pins", "expected_items", "storage_options",
                         "target_file_bytes", "row_group_rows", "row_group_bytes", "compression", "workers",
                         "memory_budget_bytes", "work_dir", "max_depth"})


def convert_on_spark(spark: Any, source: str, dest: str, slices_url: str, *, slices: int,
                     options: dict[str, Any] | None = None) -> dict:
    """Convert ``source`` into ``dest`` with one Spark task per slice; return the summary (``engine: spark``)."""
    import pyarrow as pa

    options = dict(options or {})
    unknown = sorted(set(options) - OPTION_KEYS)
    if unknown:
        raise ValueError(f"--options: unknown keys {unknown}; known: {sorted(OPTION_KEYS)}")
    storage_options = options.pop("storage_options", None)
    expected_items = options.pop("expected_items", None)
    previous = options.pop("previous_schema", None)
    options.setdefault("workers", 1)  # one process per Spark task: Spark spreads the slices over the cores
    plan = export_slice_plan(source, slices, Storage(storage_options))
    rows = [(s["slice"], json.dumps(s["files"])) for s in plan]
    frame = spark.sparkContext.parallelize(rows, len(rows)).toDF("slice int, files string")

    def convert(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        schema = LakeSchema.from_json(previous) if previous else None
        for batch in batches:
            records = [json.dumps(convert_slice(source, slices_url, number, json.loads(files),
                                                storage=Storage(storage_options), previous_schema=schema,
                                                **options))
                       for number, files in zip(batch.column("slice").to_pylist(), batch.column("files").to_pylist(),
                                                strict=True)]
            yield pa.RecordBatch.from_pydict({"record": records}, schema=pa.schema([("record", pa.string())]))

    records = [json.loads(row.record) for row in frame.mapInArrow(convert, "record string").collect()]
    summary = unify_slices(source, dest, records, storage=Storage(storage_options), expected_items=expected_items,
                           previous_schema=LakeSchema.from_json(previous) if previous else None, **options)
    return {**summary, "engine": "spark"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="the export folder .../AWSDynamoDB/<ExportId>")
    parser.add_argument("--dest", required=True, help="the folder to write (empty, new or this job's own)")
    parser.add_argument("--slices-url", required=True, help="a folder for the slices (one per run)")
    parser.add_argument("--slices", type=int, default=64, help="slices of the data files (Spark tasks)")
    parser.add_argument("--options", default="{}", help="JSON: convert_export keywords (numbers, pins, ...)")
    parser.add_argument("--master", help="Spark master for a local run (e.g. local[2]); EMR sets its own")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("ddb-lake-convert")
    if args.master:
        builder = builder.master(args.master).config("spark.ui.enabled", "false") \
            .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
    spark = builder.getOrCreate()
    try:
        summary = convert_on_spark(spark, args.source, args.dest, args.slices_url, slices=args.slices,
                                   options=json.loads(args.options))
    finally:
        spark.stop()
    print(json.dumps({k: summary[k] for k in ("items", "dest", "slices", "bytes_out", "engine")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
