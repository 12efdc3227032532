"""Table DAG runs for the fault suite: one Airflow home (sqlite, ``airflow dags test``) per module, one table per test.

The run's ``aws_default`` is the one the test process holds when the run starts (the ``proxy`` fixture points it at
the fault proxy), so faults reach the tasks of ``airflow dags test`` as they would reach a worker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from airflow_runs import AirflowCommand, airflow_env, run_states, start_airflow, table_file  # noqa: E402

__all__ = ["DagRunner", "airflow_env", "table_file"]


class DagRunner:
    """Runs intervals of the tables in ``tables_dir`` with ``airflow dags test`` in one Airflow home."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tables_dir = root / "tables"
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        self.env = airflow_env(root, self.tables_dir)

    def table(self, name: str, **overrides):
        """The demo table renamed to ``name`` (tests/e2e's ``table_file``); ``overrides`` may add whole sections."""
        import yaml

        from ddb_lake.core.config.table_config import load_table_config

        path = table_file(self.tables_dir, name)
        settings = yaml.safe_load(path.read_text())
        for section, values in overrides.items():
            if isinstance(values, dict):
                settings.setdefault(section, {}).update(values)
            else:
                settings[section] = values
        path.write_text(yaml.safe_dump(settings))
        return load_table_config(path)

    def run_env(self) -> dict[str, str]:
        return {**self.env, "AIRFLOW_CONN_AWS_DEFAULT": os.environ["AIRFLOW_CONN_AWS_DEFAULT"]}

    def start(self, dag_id: str, date: str) -> AirflowCommand:
        """``airflow dags test`` of one interval in its own process group; output to ``<root>/<dag>-<date>.log``."""
        return start_airflow(self.run_env(), ["dags", "test", dag_id, date], self.root / f"{dag_id}-{date}.log")

    def run(self, dag_id: str, date: str, timeout: float = 600) -> tuple[str, str]:
        """Run one interval to its end; (state of that run, the run's log)."""
        self.start(dag_id, date).wait(timeout=timeout)
        return self.state(dag_id, date), self.log(dag_id, date)

    def log(self, dag_id: str, date: str) -> str:
        return (self.root / f"{dag_id}-{date}.log").read_text(errors="replace")

    def state(self, dag_id: str, date: str) -> str:
        states = {logical[:10]: state for logical, state in run_states(self.run_env(), dag_id)}
        return states.get(date, "absent")
