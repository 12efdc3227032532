"""One Airflow DAG per table file in include/tables/ (built by plugins/ddb_lake/dag_factory/table_dag.py).

A bad table file does not stop this file: the good tables' DAGs load, and each bad file shows as a DAG
``ddb_lake__config_error__<file>`` whose description and failing task name the file and the field (an import error
here would hide every table). The file names both "airflow" and "dag" so Airflow's safe-mode scan parses it.
"""

from __future__ import annotations

from pathlib import Path

from ddb_lake.dag_factory.table_dag import build_table_dags, default_tables_dir

globals().update(build_table_dags(default_tables_dir(Path(__file__).resolve().parent)))
