"""Print what the demo run did: run and task states, the validation and run reports, and where the copies are.

Reads the Airflow metadata DB of the demo's AIRFLOW_HOME and asks the local stack (still up) through the same
Airflow connections the DAG used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from ddb_lake.core.config.table_config import TableConfig, load_table_config


def latest_run(dag_id: str) -> tuple[Any, list[Any], dict[str, Any]]:
    """(dag run, task instances, {task_id: return value}) of the newest run of ``dag_id``."""
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel

        value_of = XComModel.deserialize_value
    except ImportError:  # Airflow 2: the table's model is XCom itself, and a loaded row holds its value deserialized
        from airflow.models.xcom import XCom as XComModel

        def value_of(row: Any) -> Any:
            return row.value

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
        if run is None:
            return None, [], {}
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id).all()
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_id, XComModel.run_id == run.run_id, XComModel.key == "return_value"
        ).all()
        values = {row.task_id: value_of(row) for row in rows}
        session.expunge_all()
    return run, tis, values


def print_states(run: Any, tis: list[Any]) -> None:
    print(f"\nDAG run {run.run_id}: {run.state}")
    for ti in sorted(tis, key=lambda t: (t.start_date is None, t.start_date, t.task_id)):
        seconds = f"{ti.duration:.1f}s" if ti.duration else ""
        print(f"  {ti.task_id:28s} {ti.state!s:10s} {seconds}")


def print_validation(validation: dict | None) -> None:
    if not validation:
        print("\nno validation report (the validate task did not finish)")
        return
    print("\nvalidation report:")
    print(validation.get("report_text") or json.dumps(validation, indent=2, default=str))


def print_locations(config: TableConfig, values: dict[str, Any]) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    convert = values.get("convert") or {}
    print("\nwhere the copies are:")
    for entry in convert.get("files", []):
        print(f"  parquet   {entry['path']}  ({entry['rows']} rows, {entry['bytes']} bytes)")
    glue = AwsBaseHook(aws_conn_id=config.connections.aws, client_type="glue", region_name=config.dynamodb.region).conn
    iceberg = config.lake.format == "iceberg"
    for name in (config.glue_table,) if iceberg else (config.glue_table, f"{config.glue_table}_snapshots"):
        try:
            table = glue.get_table(DatabaseName=config.glue.database, Name=name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            print(f"  glue      {config.glue.database}.{name}: not created")
            continue
        storage = table["StorageDescriptor"]
        print(f"  glue      {config.glue.database}.{name}: {len(storage['Columns'])} columns at {storage['Location']}")
    merge = values.get("merge")
    if merge:
        props = merge.get("properties") or {}
        print(f"  iceberg   {config.glue.database}.{config.glue_table}: snapshot {merge.get('snapshot_id')} "
              f"({merge.get('action')} by the {merge.get('engine')} engine), {props.get('ddb-lake.rows')} rows, "
              f"watermark {props.get('ddb-lake.watermark')}")
    load = values.get("bigquery.load")
    if load:
        summary = {k: load[k] for k in ("destination", "job_id", "layout") if k in load}
        print(f"  bigquery  {json.dumps(summary, default=str)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table-file", required=True)
    parser.add_argument("--dag-id", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--elapsed", type=int, default=0)
    args = parser.parse_args(argv)
    config = load_table_config(args.table_file)
    run, tis, values = latest_run(args.dag_id)
    if run is None:
        print(f"no run of {args.dag_id} was recorded; the last lines of {args.log}:")
        print("\n".join(args.log.read_text(errors="replace").splitlines()[-40:]))
        return 1
    print_states(run, tis)
    print_validation(values.get("validate"))
    report = values.get("report")
    if report:
        print("\nrun report:")
        print(report.get("report_text") or json.dumps(report, indent=2, default=str))
    print_locations(config, values)
    print(f"\ndemo wall time: {args.elapsed}s; full log: {args.log}")
    print(f"DAG RUN STATE: {run.state}")
    return 0 if str(run.state) == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
