"""End to end in ``airflow dags test``: one export converted by the one-task path and by mapped slice tasks gives the
same Parquet (values and schema); a slice whose first try fails retries alone, the others run once.

The DAG is a small one of the test's own (moto's export writes one data file, so the table DAG would make one slice):
the same operators the table DAG wires for ``convert.engine: mapped``, over a four-file export written to moto's S3.
"""

from __future__ import annotations

import io
import sqlite3
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow_runs import airflow_env, dags_test, run_states

from ddb_lake.core.convert.export_writer import item_line, write_export

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "mapped_convert_check"
BUCKET = "mapped-convert"
EXPORT_ID = "01700000000000-mapped01"

DAG_FILE = '''
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
        raise RuntimeError("injected: slice 1 dies on its first try")


with DAG("{dag_id}", start_date=datetime(2026, 11, 1), schedule=None, catchup=False):
    ExportToParquetOperator(task_id="worker", dest_url="s3://{bucket}/worker", **COMMON)
    plan = ExportSlicePlanOperator(task_id="slice_plan", slices=3, attempts_url="s3://{bucket}/attempts", **COMMON)
    slices = ConvertSliceOperator.partial(
        task_id="convert_slice", attempts_url="s3://{bucket}/attempts", retries=1, retry_delay=timedelta(0),
        pre_execute=fail_first_try_of_slice_1, **COMMON).expand(data_slice=plan.output)
    UnifySlicesOperator(task_id="convert", slices=slices.output, attempts_url="s3://{bucket}/attempts", **COMMON)
'''


def _files() -> list[list[dict]]:
    """Four data files whose slices disagree: numbers int64 vs decimal, a sparse column, colliding names."""
    return [
        [{"pk": {"S": f"a{i}"}, "n": {"N": str(i)}, "userId": {"S": "camel"}} for i in range(40)],
        [{"pk": {"S": f"b{i}"}, "n": {"N": f"{i}.25"}, "extra": {"BOOL": i % 2 == 0}} for i in range(40)],
        [{"pk": {"S": f"c{i}"}, "n": {"N": "7"}, "userid": {"S": "lower"}, "tags": {"SS": ["x", "y"]}}
         for i in range(40)],
        [{"pk": {"S": f"d{i}"}, "n": {"N": str(-i)}, "userId": {"S": "x"}} for i in range(40)],
    ]


def _table(s3, prefix: str, folder_suffix: str = ""):
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
                  if o["Key"].endswith(".parquet") and o["Key"].rsplit("/", 2)[-2].endswith(folder_suffix))
    tables = [pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())) for k in keys]
    schemas = {t.schema.to_string(show_schema_metadata=True) for t in tables}
    return pa.concat_tables(tables).sort_by("pk"), schemas


def test_mapped_slices_equal_the_worker_and_a_failed_slice_retries_alone(local_stack_state, tmp_path: Path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    s3.create_bucket(Bucket=BUCKET)
    folder = write_export(tmp_path / "export" / EXPORT_ID, [[item_line(i) for i in f] for f in _files()])
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"exports/AWSDynamoDB/{EXPORT_ID}/{path.relative_to(folder)}")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "mapped_convert_check.py").write_text(textwrap.dedent(DAG_FILE).format(
        bucket=BUCKET, export_id=EXPORT_ID, items=160, dag_id=DAG_ID))
    env = airflow_env(tmp_path, tmp_path / "tables")
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    log = dags_test(env, DAG_ID, "2026-11-22T00:00:00+00:00", tmp_path / "dags-test.log")
    assert [state for _, state in run_states(env, DAG_ID)] == ["success"], log[-6000:]

    with sqlite3.connect(tmp_path / "airflow-home" / "airflow.db") as db:
        tries = db.execute("SELECT map_index, state, try_number FROM task_instance WHERE dag_id = ? AND task_id = "
                           "'convert_slice' ORDER BY map_index", (DAG_ID,)).fetchall()
    assert tries == [(0, "success", 1), (1, "success", 2), (2, "success", 1)]  # only slice 1 ran again
    assert "injected: slice 1 dies on its first try" in log

    worker, worker_schemas = _table(s3, "worker/")
    mapped, mapped_schemas = _table(s3, "attempts/", "-try1")  # the commit's attempt folder, not the slices'

    assert len(worker_schemas) == 1 and mapped_schemas == worker_schemas  # schema and its metadata, every part
    assert mapped.equals(worker) and mapped.num_rows == 160
    assert {"userid", "extra", "tags", "n"} <= set(mapped.column_names)
