"""A small DAG of the mapped engine's operators over a four-file export on moto's S3, shared by the ``dags test``
check (tests/e2e/test_mapped_convert.py: slice 1's first try raises) and the real-scheduler one
(tests/scheduler/test_parallel_backfill.py: slice 1's first try is SIGKILLed, as an OOM killer would end it).

The DAG converts the export twice: ``worker`` (the one-task path) and ``slice_plan`` → ``convert_slice`` (3 mapped
tasks, ``retries=1``) → ``convert`` (the commit). moto's export writes one data file, so the table DAG would make one
slice; this one has four.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.core.convert.export_writer import item_line, write_export

EXPORT_ID = "01700000000000-mapped01"
ITEMS = 160

DAG_FILE = '''
import os
import signal
from datetime import datetime, timedelta

from airflow import DAG

from ddb_lake.operators.export_slices import ConvertSliceOperator, ExportSlicePlanOperator, UnifySlicesOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

EXPORT = {{"export_folder": "s3://{bucket}/exports/AWSDynamoDB/{export_id}", "table_name": "mapped",
          "item_count": {items}}}
AWS = {{"aws_conn_id": "aws_default", "region_name": "us-east-1"}}
COMMON = {{"export": EXPORT, "snapshot": "s1", "converter_options": {{"workers": 1}}, **AWS}}


def fail_first_try_of_slice_1(context):
    ti = context["ti"]
    if ti.map_index == 1 and ti.try_number == 1:
        if "{fault}" == "kill":
            os.kill(os.getpid(), signal.SIGKILL)  # the task's own process dies: no exception, no cleanup
        raise RuntimeError("injected: slice 1 dies on its first try")


with DAG("{dag_id}", start_date=datetime(2026, 11, 1), schedule=None, catchup=False):
    ExportToParquetOperator(task_id="worker", dest_url="s3://{bucket}/worker", **COMMON)
    plan = ExportSlicePlanOperator(task_id="slice_plan", slices=3, attempts_url="s3://{bucket}/attempts", **COMMON)
    slices = ConvertSliceOperator.partial(
        task_id="convert_slice", attempts_url="s3://{bucket}/attempts", retries=1, retry_delay=timedelta(0),
        pre_execute=fail_first_try_of_slice_1, **COMMON).expand(data_slice=plan.output)
    UnifySlicesOperator(task_id="convert", slices=slices.output, attempts_url="s3://{bucket}/attempts", **COMMON)
'''


def files() -> list[list[dict]]:
    """Four data files whose slices disagree: numbers int64 vs decimal, a sparse column, colliding names."""
    return [
        [{"pk": {"S": f"a{i}"}, "n": {"N": str(i)}, "userId": {"S": "camel"}} for i in range(40)],
        [{"pk": {"S": f"b{i}"}, "n": {"N": f"{i}.25"}, "extra": {"BOOL": i % 2 == 0}} for i in range(40)],
        [{"pk": {"S": f"c{i}"}, "n": {"N": "7"}, "userid": {"S": "lower"}, "tags": {"SS": ["x", "y"]}}
         for i in range(40)],
        [{"pk": {"S": f"d{i}"}, "n": {"N": str(-i)}, "userId": {"S": "x"}} for i in range(40)],
    ]


def write_dag(s3, folder: Path, *, bucket: str, dag_id: str, fault: str, work: Path) -> Path:
    """Create ``bucket``, upload the export to it and write the DAG file into ``folder``; return the file."""
    s3.create_bucket(Bucket=bucket)
    export = write_export(work / "export" / EXPORT_ID, [[item_line(i) for i in f] for f in files()])
    for path in sorted(export.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"exports/AWSDynamoDB/{EXPORT_ID}/{path.relative_to(export)}")
    folder.mkdir(parents=True, exist_ok=True)
    dag_file = folder / f"{dag_id}.py"
    dag_file.write_text(textwrap.dedent(DAG_FILE).format(bucket=bucket, export_id=EXPORT_ID, items=ITEMS,
                                                         dag_id=dag_id, fault=fault))
    return dag_file


def parquet_of(s3, bucket: str, prefix: str, folder_suffix: str = "") -> tuple[pa.Table, set[str]]:
    """Every part under ``prefix`` (in folders ending ``folder_suffix``) as one table sorted by pk, and the set of
    their schemas (with metadata)."""
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
                  if o["Key"].endswith(".parquet") and o["Key"].rsplit("/", 2)[-2].endswith(folder_suffix))
    tables = [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys]
    schemas = {t.schema.to_string(show_schema_metadata=True) for t in tables}
    return pa.concat_tables(tables).sort_by("pk"), schemas


def check_copies(s3, bucket: str) -> None:
    """The mapped engine's commit equals the one-task conversion: values, schema and its metadata in every part."""
    worker, worker_schemas = parquet_of(s3, bucket, "worker/")
    mapped, mapped_schemas = parquet_of(s3, bucket, "attempts/", "-try1")  # the commit's folder, not the slices'
    assert len(worker_schemas) == 1 and mapped_schemas == worker_schemas
    assert mapped.equals(worker) and mapped.num_rows == ITEMS
    assert {"userid", "extra", "tags", "n"} <= set(mapped.column_names)
