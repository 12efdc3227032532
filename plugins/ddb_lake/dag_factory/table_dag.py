"""Build one Airflow DAG per table from its validated YAML settings.

Full mode:   plan → export → convert → lake (catalog → athena) → bigquery (transfer → load) → validate → publish
             → retention, report
Incremental: plan → export → convert → lake (catalog → athena) → validate → report

Nothing here touches the network: operators build their hooks when they run, never at parse time.

A bad table file (or two files that clash) never hides the other tables: their DAGs are built, and each bad file
becomes a DAG of its own whose only task fails with the file's errors (see ``config_error_dag`` for why that form).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from ddb_lake.compat import DAG, Asset, CronDataIntervalTimetable
from ddb_lake.core.config.table_config import TableConfig, TableConfigError, TableFolderError, read_table_folder
from ddb_lake.core.run_plan import TablePlan, table_plan
from ddb_lake.dag_factory.config_error_dag import build_config_error_dag
from ddb_lake.dag_factory.tasks import add_tasks

log = logging.getLogger(__name__)

DAG_ID_PREFIX = "ddb_lake"
TABLES_DIR_ENV = "DDB_LAKE_TABLES_DIR"


def dag_id_for(config: TableConfig, mode: str) -> str:
    """``ddb_lake__orders`` for the full pipeline, ``ddb_lake__orders__incremental`` for the change exports."""
    return f"{DAG_ID_PREFIX}__{config.name}" + ("" if mode == "full" else f"__{mode}")


def default_tables_dir(dags_folder: Path) -> Path:
    """``$DDB_LAKE_TABLES_DIR``, else ``<dags>/../include/tables``, else ``<dags>/tables`` (MWAA/Composer bundles)."""
    if os.environ.get(TABLES_DIR_ENV):
        return Path(os.environ[TABLES_DIR_ENV])
    beside = dags_folder.parent / "include" / "tables"
    return beside if beside.is_dir() else dags_folder / "tables"


def lake_asset(table: TablePlan) -> Asset:
    """The lake's snapshots of the table (always the full-mode root), with the current Glue table's name."""
    full_root = table.lake_root_url if table.mode == "full" else table.layout.url(table.layout.snapshots_prefix())
    return Asset(full_root, extra={"glue_table": f"{table.glue_database}.{table.current_table}"})


def bigquery_asset(table: TablePlan) -> Asset:
    return Asset(f"bigquery://{table.bigquery_project}/{table.bigquery_dataset}/{table.bigquery_table}")


def default_args(config: TableConfig) -> dict:
    return {
        "owner": config.owner,
        "retries": config.retries,
        "retry_delay": timedelta(minutes=config.retry_delay_minutes),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=max(config.retry_delay_minutes * 8, 30)),
        "execution_timeout": timedelta(minutes=config.task_timeout_minutes),
        **airflow_args(config),
    }


def airflow_args(config: TableConfig) -> dict:
    """The ``airflow`` section as task defaults: pool, queue, priority, e-mail and callbacks (only those set)."""
    settings = config.airflow
    args: dict = {"priority_weight": settings.priority_weight}
    args.update({k: v for k, v in (("pool", settings.pool), ("queue", settings.queue)) if v})
    if settings.email:
        args.update(email=list(settings.email), email_on_failure=True, email_on_retry=settings.email_on_retry)
    for name in ("on_failure_callback", "on_retry_callback"):
        if getattr(settings, name):
            args[name] = _callback(config, name)
    return args


def _callback(config: TableConfig, name: str) -> object:
    """The callable (or notifier instance) an ``airflow.on_*_callback`` dotted path names, imported at parse time."""
    import importlib

    target = getattr(config.airflow, name)
    module_name, _, attribute = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise TableConfigError(config.source_path, f"airflow.{name}", f"{target!r} cannot be imported ({exc}); put "
                               "its module on the path of the DAG processor and the workers (e.g. the plugins "
                               "folder) or fix the name") from exc
    if not callable(found):
        raise TableConfigError(config.source_path, f"airflow.{name}", f"{target!r} is not callable")
    return found


def doc_md(config: TableConfig, table: TablePlan) -> str:
    bq = config.bigquery
    target = f"`{bq.project}.{bq.dataset}.{config.bigquery_table}`" if bq else "(lake only)"
    return f"""### ddb-lake: `{config.dynamodb.table_name}` → lake{' and BigQuery' if bq else ''} ({table.mode})

| | |
|---|---|
| DynamoDB table | `{config.dynamodb.table_name}` ({config.dynamodb.region}) |
| export mode | {table.mode} |
| lake | `{table.lake_root_url}/` |
| Glue | `{table.glue_database}.{table.current_table}` (current) and `{table.history_table}` |
| BigQuery | {target} |
| numbers | {config.numbers} |
| retention | {config.retention.grace_hours} h grace, keep last {config.retention.keep_last} |
| settings file | `{Path(config.source_path).name}` |

Each run covers one data interval; reruns and backfills of the same interval produce the same objects and partitions.

#### Effective settings (the file with every default filled in)

```yaml
{effective_settings(config)}```
"""


def effective_settings(config: TableConfig) -> str:
    """The table's settings as YAML, defaults included: what the DAG was built from."""
    import dataclasses
    import json

    import yaml

    data = json.loads(json.dumps(dataclasses.asdict(config), default=str))
    data.pop("source_path", None)
    return yaml.safe_dump(data, sort_keys=False)


def build_table_dag(config: TableConfig, mode: str = "full") -> DAG:
    """The DAG for one table and one export mode (``full`` or ``incremental``)."""
    cron = config.schedule if mode == "full" else config.export.incremental_schedule
    table = table_plan(config, mode)
    with DAG(
        dag_id=dag_id_for(config, mode),
        # Data intervals, not trigger times: each run covers [previous tick, this tick) and exports at its end.
        schedule=CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=config.start_date,
        catchup=config.catchup,
        max_active_runs=1,
        default_args=default_args(config),
        dagrun_timeout=timedelta(minutes=config.airflow.run_timeout_minutes or config.task_timeout_minutes * 4),
        doc_md=doc_md(config, table),
        tags=["ddb-lake", config.name, mode, *config.tags],
        auto_register=False,  # returned to the DAG file; a DAG that failed half-built must not register itself
    ) as dag:
        add_tasks(
            config, table, lake_asset=lake_asset(table),
            bigquery_asset=bigquery_asset(table) if config.bigquery else None,
        )
    return dag


def build_table_dags(tables_dir: str | Path) -> dict[str, DAG]:
    """Every DAG for every valid table file, and one failing DAG per bad file: ``{dag_id: dag}``."""
    folder = read_table_folder(tables_dir)
    errors: dict[str, list[TableConfigError]] = defaultdict(list)
    for error in folder.errors:
        errors[error.path].append(error)
    dags: dict[str, DAG] = {}
    for config in folder.configs:
        try:
            built = config_dags(config)
        except TableConfigError as exc:  # a setting only building the DAG can check (a callback's import)
            errors[config.source_path].append(exc)
            continue
        except Exception as exc:  # one table's unforeseen failure must not hide the others
            errors[config.source_path].append(TableConfigError(config.source_path, "<dag>", f"{type(exc).__name__}: "
                                                               f"{exc}"))
            continue
        dags.update((dag.dag_id, dag) for dag in built)
    for path, file_errors in sorted(errors.items()):
        for error in file_errors:
            log.error("ddb-lake table file skipped: %s", error)
        dag = build_config_error_dag(path, file_errors)
        dags[dag.dag_id] = dag
    return dags


def table_file_dags(file_name: str, dags_folder: str | Path) -> dict[str, DAG]:
    """The DAGs of one table file, for a DAG file of its own (``dags/ddb_lake__orders.py``): ``{dag_id: dag}``.

    A bad file raises :class:`TableConfigError` naming the file and the field, so Airflow records an import error for
    that one DAG file while every other table's DAG file keeps its DAGs. Clashes with the folder's other files count.
    """
    tables_dir = default_tables_dir(Path(dags_folder))
    path = tables_dir / file_name
    if not path.is_file():
        raise TableConfigError(str(path), "<file>", f"no such table file in {tables_dir}: create it, or delete the "
                                                    "DAG file that names it")
    folder = read_table_folder(tables_dir)
    mine = [e for e in folder.errors if Path(e.path).name == file_name]
    if mine:
        raise mine[0] if len(mine) == 1 else TableFolderError(mine)
    config = next(c for c in folder.configs if Path(c.source_path).name == file_name)
    return {dag.dag_id: dag for dag in config_dags(config)}


def config_dags(config: TableConfig) -> list[DAG]:
    """The DAGs one table file gets: full and/or incremental by ``export.mode`` (a scan feeds the full DAG), and the
    CDC DAG in place of the incremental one for a ``cdc:`` table."""
    modes = ["full", "incremental"] if config.export.mode == "both" else [config.export.mode]
    modes = ["full" if m == "scan" else m for m in modes]
    modes = [m for m in modes if not (config.cdc and m == "incremental")]
    dags = [build_table_dag(config, mode) for mode in modes]
    if config.cdc is not None:
        from ddb_lake.dag_factory.cdc_tasks import build_cdc_dag

        dags.append(build_cdc_dag(config))
    return dags
