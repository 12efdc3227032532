"""A DAG per bad table file, whose only task fails with the file's errors: how a bad file shows beside good tables.

Why not raise from the DAG file: Airflow records an import error per *Python* file and then keeps no DAG of it
(``PythonDagImporter`` drops the module on any exception), so one bad YAML would hide every table. Why not a Python
warning: Airflow 3 keeps warnings in the processor's logs, where nobody looks. A DAG named after the file is listed in
the UI with the error as its description and docs, is created unpaused so its one run fails at once (red in the DAG
list, failure alerts fire), and it fails with the error in the task log. Fixing the file replaces it with the table's
own DAGs on the next parse.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ddb_lake.compat import DAG, AirflowFailException, BaseOperator
from ddb_lake.core.config.table_config import TableConfigError

CONFIG_ERROR_TAG = "config-error"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class TableFileErrorOperator(BaseOperator):
    """Fails at once (no retries) with the table file's errors."""

    ui_color = "#f4a6a6"

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def execute(self, context: Any) -> None:
        raise AirflowFailException(self.message)


def config_error_dag_id(path: str) -> str:
    """``ddb_lake__config_error__payments.yaml`` for ``include/tables/payments.yaml``."""
    return f"ddb_lake__config_error__{_UNSAFE.sub('_', Path(path).name)}"


def build_config_error_dag(path: str, errors: list[TableConfigError]) -> DAG:
    """The DAG that stands for one bad table file until it is fixed."""
    message = "\n".join(str(e) for e in errors) + "\nFix the file; the table's DAGs appear on the next parse."
    with DAG(
        dag_id=config_error_dag_id(path),
        description=f"ddb-lake table file is invalid: {errors[0]}"[:1000],
        doc_md=f"### ddb-lake: `{Path(path).name}` is invalid\n\n```\n{message}\n```\n",
        schedule="@daily",
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        auto_register=False,
        default_args={"owner": "ddb-lake", "retries": 0, "execution_timeout": timedelta(minutes=1)},
        tags=["ddb-lake", CONFIG_ERROR_TAG],
    ) as dag:
        TableFileErrorOperator(task_id="table_file_error", message=message)
    return dag
