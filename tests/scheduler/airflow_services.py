"""A real Airflow 3 on loopback for tests: PostgreSQL (scripts/postgres.sh), LocalExecutor, api-server (the execution
API the task supervisors talk to), scheduler, triggerer and dag-processor, each its own process group.

Used by tests/scheduler/; the Airflow processes see the session's local stack through the environment (connections
``AIRFLOW_CONN_*`` and the emulator hosts) that tests/conftest.py exported.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
POSTGRES_SH = REPO_ROOT / "scripts" / "postgres.sh"
sys.path.insert(0, str(REPO_ROOT / "scripts"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))

import local_stack  # noqa: E402
from airflow_runs import AWS_SESSION_FACTORY  # noqa: E402

# Airflow 3 creates an async engine next to the sync one at start; on PostgreSQL its driver is asyncpg.
SERVICES = {
    "api-server": ["api-server", "--host", local_stack.HOST, "--port", "{api_port}", "--workers", "1"],
    "scheduler": ["scheduler", "--skip-serve-logs"],  # the log server binds 0.0.0.0 and cannot be moved to loopback
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}


# Airflow imports airflow_local_settings from $AIRFLOW_HOME/config in every process. LocalExecutor workers fork from
# the scheduler and each task forks from its worker (the dag-processor's parsing processes fork from it too), so what
# is built here is built once, not once per task: parsing the DAG file in a task then takes ~0.5 s instead of ~8 s of
# CPU (importing the factory, and the providers manager importing every provider's asset handlers for the lake
# asset's URI) on 2 shared cores.
PRELOAD = '''"""Written by tests/scheduler/airflow_services.py: the scheduler builds the DAGs once, before it forks."""
import os
import sys

if len(sys.argv) > 1 and sys.argv[1] in ("scheduler", "dag-processor"):
    from ddb_lake.dag_factory.table_dag import build_table_dags

    build_table_dags(os.environ["DDB_LAKE_TABLES_DIR"])
if len(sys.argv) > 1 and sys.argv[1] == "scheduler":  # its LocalExecutor workers fork the task processes
    from ddb_lake.aws_session import parse_service_data

    parse_service_data()
'''


class AirflowServices:
    """Start and stop one Airflow deployment under ``root`` on its own PostgreSQL cluster in ``pg_state``."""

    def __init__(self, root: Path, pg_state: Path, tables_dir: Path, *, parallelism: int = 6,
                 extra_dags: Path | None = None) -> None:
        self.root = root
        self.pg_state = pg_state
        self.tables_dir = tables_dir
        self.parallelism = parallelism
        self.extra_dags = extra_dags  # a second DAG bundle (a test's own DAG files) beside the repository's dags/
        self.processes: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}
        self.db_url = ""

    def start_database(self) -> str:
        """Start the cluster with the project's script (initdb on first use); return the SQLAlchemy URL."""
        result = subprocess.run(["bash", str(POSTGRES_SH), "start", str(self.pg_state)], capture_output=True,
                                text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/postgres.sh start failed: {result.stderr[-2000:]}")
        self.db_url = result.stdout.strip().splitlines()[-1]
        return self.db_url

    def configure(self) -> dict[str, str]:
        """The environment every Airflow process of this deployment gets."""
        api_port = local_stack.free_port()
        home = self.root / "airflow-home"
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "airflow_local_settings.py").write_text(PRELOAD)
        api_url = f"http://{local_stack.HOST}:{api_port}"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # only the runs a test asks for (backfills, triggers): no scheduled run of the latest interval
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
            # parse the DAG file once (its table files do not change during a test), not every 30 s
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__AWS__SESSION_FACTORY": AWS_SESSION_FACTORY,  # docs/deploy.md: one botocore data parse per process
            "DDB_LAKE_TABLES_DIR": str(self.tables_dir),
            "_API_PORT": str(api_port),
        }
        if self.extra_dags is not None:
            local = "airflow.dag_processing.bundles.local.LocalDagBundle"
            env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps([
                {"name": "dags-folder", "classpath": local, "kwargs": {}},
                {"name": "test-dags", "classpath": local, "kwargs": {"path": str(self.extra_dags)}},
            ])
        self.env = env
        return env

    def migrate(self) -> None:
        self.cli("db", "migrate", timeout=600)

    def start(self) -> None:
        """Database, migration, then every Airflow service; waits until the api-server answers."""
        self.start_database()
        self.configure()
        self.migrate()
        for name, args in SERVICES.items():
            command = [str(AIRFLOW)] + [a.format(api_port=self.env["_API_PORT"]) for a in args]
            with open(self.root / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    command, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        local_stack.wait_for_http(f"{self.env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health", timeout=120,
                                  process=self.processes["api-server"])

    def stop(self) -> None:
        """Stop exactly the process groups this object started, then the database cluster; ``cpu.json`` in the
        root holds the CPU seconds each service's process group used (its reaped children included)."""
        self.write_cpu_seconds()
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.processes.clear()
        subprocess.run(["bash", str(POSTGRES_SH), "destroy", str(self.pg_state)], capture_output=True, timeout=120,
                       check=False)

    def write_cpu_seconds(self) -> None:
        """``<root>/cpu.json``: user + system CPU seconds of each service's process group until now (the live
        processes and the children they reaped: LocalExecutor workers, task processes, parsing processes)."""
        groups = {process.pid: name for name, process in self.processes.items()}
        used = dict.fromkeys(self.processes, 0.0)
        for cpu in local_stack.every_process_cpu().values():
            name = groups.get(cpu.pgrp)
            if name:
                used[name] += cpu.own_s + cpu.reaped_children_s
        (self.root / "cpu.json").write_text(json.dumps({k: round(v, 1) for k, v in used.items()}, indent=2))

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.root / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{log}")

    def cli(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run([str(AIRFLOW), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stdout

    def health(self) -> dict:
        url = f"{self.env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())

    def query(self, sql: str, *params) -> list[tuple]:
        """Rows from the metadata database (read-only questions: runs, task states)."""
        import psycopg2
        from sqlalchemy.engine import make_url

        url = make_url(self.db_url)
        with psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as conn:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the dag-processor has serialized ``dag_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", dag_id):
                return
            time.sleep(1)
        raise TimeoutError(f"{dag_id} was not serialized within {timeout:.0f}s (see dag-processor.log)")

    def wait_for_runs(self, dag_id: str, count: int, *, since: float = 0.0, timeout: float = 600) -> dict[str, str]:
        """Until ``count`` runs of ``dag_id`` ended after ``since`` (epoch s); {logical date: success/failed}."""
        deadline = time.monotonic() + timeout
        rows: list[tuple] = []
        while time.monotonic() < deadline:
            self.check_alive()
            rows = self.query(
                "SELECT logical_date, state FROM dag_run WHERE dag_id = %s AND end_date IS NOT NULL "
                "AND state IN ('success', 'failed') AND extract(epoch FROM end_date) >= %s ORDER BY logical_date",
                dag_id, since,
            )
            if len(rows) >= count:
                return {logical.strftime("%Y-%m-%d"): state for logical, state in rows}
            time.sleep(2)
        states = self.query("SELECT logical_date, state FROM dag_run WHERE dag_id = %s", dag_id)
        raise TimeoutError(f"{dag_id}: {len(rows)} of {count} runs ended within {timeout:.0f}s; runs: {states}")

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float = 600) -> str:
        """Until the run ``run_id`` ended; its state (success/failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s AND end_date IS NOT NULL "
                              "AND state IN ('success', 'failed')", dag_id, run_id)
            if rows:
                return rows[0][0]
            time.sleep(2)
        states = self.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", dag_id, run_id)
        raise TimeoutError(f"{dag_id} run {run_id} did not end within {timeout:.0f}s; state: {states}")

    def rest(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        """One call of the public REST API ``/api/v2{path}`` (the simple auth manager makes every caller admin)."""
        request = urllib.request.Request(
            f"{self.env['AIRFLOW__API__BASE_URL']}/api/v2{path}", method=method,
            data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} /api/v2{path} answered {error.code}: {error.read()[:2000]!r}") from error

    def failed_tasks(self, dag_id: str) -> list[tuple]:
        return self.query(
            "SELECT run_id, task_id, state, try_number FROM task_instance WHERE dag_id = %s "
            "AND state NOT IN ('success', 'skipped')", dag_id,
        )
