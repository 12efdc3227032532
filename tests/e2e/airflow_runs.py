"""Run DAGs with ``airflow dags test`` in an Airflow home of the test's own, on the session's local stack.

The ``airflow`` commands run as children of a fork server for the Airflow home (``airflow_fork_server.py``): Airflow
is imported and its in-process Execution API built once per home instead of once per command (docs/local-stack.md).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from ddb_lake.compat import AIRFLOW_V3

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
# docs/deploy.md recommends it: botocore's service data parsed once per process, not once per hook
AWS_SESSION_FACTORY = "ddb_lake.aws_session.SharedDataSessionFactory"


def table_file(tables_dir: Path, name: str, **overrides: dict) -> Path:
    """The demo table's settings renamed to ``name`` (own DynamoDB table, bucket, database), with overrides."""
    settings = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    settings.update(name=name, tags=["e2e"])
    settings["dynamodb"]["table_name"] = name.replace("_", "-")
    settings["lake"] = {"bucket": name.replace("_", "-"), "prefix": "lake"}
    settings["glue"]["database"] = f"{name}_db"
    settings["athena"]["output_location"] = f"s3://{name.replace('_', '-')}/athena-results/"
    settings["bigquery"].update(dataset=f"{name}_ds", gcs_bucket=f"{name.replace('_', '-')}-staging")
    for section, values in overrides.items():
        if values is None:
            settings.pop(section, None)
        elif isinstance(values, dict):
            settings[section].update(values)
        else:
            settings[section] = values
    tables_dir.mkdir(parents=True, exist_ok=True)
    path = tables_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def airflow_env(root: Path, tables_dir: Path) -> dict[str, str]:
    """An initialised Airflow home under ``root``: the project's DAGs folder, table files from ``tables_dir``."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__AWS__SESSION_FACTORY": AWS_SESSION_FACTORY,
        "DDB_LAKE_TABLES_DIR": str(tables_dir),
    }
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_database(env), home / "airflow.db")
    return env


_TEMPLATE_DB: list[Path] = []
# tests/conftest.py names a folder all xdist workers of the session share: the first worker to get here migrates
# the template there, the others wait on its lock and copy it.
TEMPLATE_DIR_ENV = "DDB_LAKE_AIRFLOW_DB_TEMPLATE_DIR"


def _migrated_database(env: dict[str, str]) -> Path:
    """An empty metadata database, migrated by ``airflow db migrate`` once per test session (about 7 s of CPU);
    every Airflow home starts from a copy of its sqlite file."""
    if not _TEMPLATE_DB:
        import fcntl

        shared = os.environ.get(TEMPLATE_DIR_ENV)
        template_home = Path(shared) if shared else Path(tempfile.mkdtemp(prefix="ddb-lake-airflow-db-"))
        template_home.mkdir(parents=True, exist_ok=True)
        with (template_home / "migrate.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (template_home / "migrated").exists():
                subprocess.run([AIRFLOW, "db", "migrate"], env={**env, "AIRFLOW_HOME": str(template_home)},
                               check=True, capture_output=True, timeout=300)
                (template_home / "migrated").touch()
        _TEMPLATE_DB.append(template_home / "airflow.db")
    return _TEMPLATE_DB[0]


def dags_test(env: dict[str, str], dag_id: str, logical_date: str, log: Path) -> str:
    """Run one interval inline (deferred tasks' triggers included); return the log text."""
    start_airflow(env, ["dags", "test", dag_id, logical_date], log).wait(timeout=600)
    return log.read_text()


class AirflowCommand:
    """One ``airflow`` CLI command running in a child of the Airflow home's fork server (its own session)."""

    def __init__(self, server: _ForkServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """The exit status (negative: the signal that ended it); on timeout the command is killed and
        ``subprocess.TimeoutExpired`` raised, as ``subprocess.run`` would."""
        if self.returncode is None:
            try:
                self.returncode = self.server.exit_status(self.pid, timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.returncode = self.server.exit_status(self.pid, 60)
                raise
        return self.returncode


def start_airflow(env: dict[str, str], argv: list[str], log: Path, err: Path | None = None) -> AirflowCommand:
    """Start ``airflow <argv>`` with ``env``, its output appended to ``log`` (stderr too, unless ``err``), as a child
    of the fork server of that Airflow home (tests/e2e/airflow_fork_server.py: Airflow imported once, a fresh child
    per command)."""
    return _fork_server(env).start(argv, env, log, err)


_SERVERS: list[_ForkServer] = []  # at most one at a time per test process: the Airflow home used last


def _fork_server(env: dict[str, str]) -> _ForkServer:
    key = _server_key(env)
    if _SERVERS and _SERVERS[0].key != key:
        _SERVERS.pop().close()
    if not _SERVERS:
        _SERVERS.append(_ForkServer(key, env))
    return _SERVERS[0]


def _server_key(env: dict[str, str]) -> dict[str, str]:
    """What the server's imports may depend on: the env without connections (read when a task asks for one) and
    pytest's per-phase marker."""
    return {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_") and k != "PYTEST_CURRENT_TEST"}


class _ForkServer:
    """The client of one tests/e2e/airflow_fork_server.py process; its protocol lines and output go to
    ``<Airflow home>/../airflow-fork-server.log``."""

    def __init__(self, key: dict[str, str], env: dict[str, str]) -> None:
        self.key = key
        self.log = Path(env["AIRFLOW_HOME"]).parent / "airflow-fork-server.log"
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("airflow_fork_server.py"))], env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=out, text=True, bufsize=1,
                start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        atexit.register(self.close)
        self._expect("ready", timeout=300)

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.log.open("a") as out:
                out.write(f"[fork server] {line}")
            self.lines.put(line.strip())
        self.lines.put("")  # the server's end

    def _expect(self, word: str, timeout: float | None) -> list[str]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                raise subprocess.TimeoutExpired(f"airflow fork server ({word})", timeout) from None
            if not line:
                raise RuntimeError(f"the airflow fork server ended (expecting {word!r}): see {self.log}")
            if line.split(" ", 1)[0] == word:
                return line.split()[1:]

    def start(self, argv: list[str], env: dict[str, str], log: Path, err: Path | None) -> AirflowCommand:
        command = {"argv": argv, "env": env, "log": str(log), "err": str(err or log)}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return AirflowCommand(self, int(self._expect("started", timeout=60)[0]))

    def exit_status(self, pid: int, timeout: float | None) -> int:
        done_pid, status = self._expect("exited", timeout)[:2]
        assert int(done_pid) == pid, (done_pid, pid)
        return int(status)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def run_states(env: dict[str, str], dag_id: str) -> list[tuple[str, str]]:
    """(logical date, state) of every run of ``dag_id``, oldest first, from ``airflow dags list-runs``."""
    with tempfile.TemporaryDirectory(prefix="ddb-lake-list-runs-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        if AIRFLOW_V3:
            command = ["dags", "list-runs", dag_id, "-o", "json"]
        else:  # Airflow 2 lists runs only of DAGs in its dag table, which `dags test` leaves empty; -d names the DAG
            _check(start_airflow(env, ["dags", "reserialize"], out, err).wait(timeout=300), out, err)
            out.unlink()
            command = ["dags", "list-runs", "-d", dag_id, "-o", "json"]
        _check(start_airflow(env, command, out, err).wait(timeout=120), out, err)
        stdout = out.read_text()
    # Airflow may print warnings and (Airflow 2) "[<time>] ..." log lines first; the JSON is the line that is a list.
    runs = next(_json_list(line) for line in stdout.splitlines() if _json_list(line) is not None)
    return sorted((run.get("logical_date", run.get("execution_date")), run["state"]) for run in runs)


def _check(status: int, out: Path, err: Path) -> None:
    if status != 0:
        raise RuntimeError(f"airflow exited with {status}:\n{out.read_text()}\n{err.read_text()}")


def _json_list(line: str) -> list | None:
    """The line as a JSON list, or None when it is not one."""
    if not line.startswith("["):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def extra_link_urls(env: dict[str, str], dag_id: str) -> dict[tuple[str, str], str]:
    """``{(task_id, link xcom key): url}`` of every operator extra link the run's tasks stored (Airflow 3: the worker
    resolves the links when a task finishes and stores each URL as an XCom ``_link_<class>``; the UI reads those)."""
    import sqlite3

    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT task_id, key, value FROM xcom WHERE dag_id = ? AND key LIKE '\\_link\\_%' "
                            "ESCAPE '\\'", (dag_id,)).fetchall()
    return {(task, key): json.loads(value) for task, key, value in rows}


def rendered_fields(env: dict[str, str], dag_id: str, task_id: str) -> dict:
    """The task's rendered template fields as the UI's "Rendered Templates" shows them (the run's last row)."""
    import sqlite3

    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ? AND task_id = ?",
                           (dag_id, task_id)).fetchone()
    return json.loads(row[0]) if row else {}


def xcom_value(env: dict[str, str], dag_id: str, task_id: str, key: str = "return_value"):
    """The JSON value a task of the run pushed under ``key`` (Airflow 2 and 3 both store it as JSON)."""
    import sqlite3

    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ?",
                           (dag_id, task_id, key)).fetchone()
    return json.loads(row[0]) if row else None
