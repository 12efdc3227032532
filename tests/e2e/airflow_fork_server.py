"""A fork server for ``airflow`` CLI commands in one Airflow home: imports once, forks one child per command.

    python tests/e2e/airflow_fork_server.py        # with the Airflow home's env; commands on stdin, JSON lines

Every ``airflow dags test`` process spends about 25 s of CPU before its first task runs: importing Airflow, the
provider and the DAG's libraries (~13 s) and building the in-process Execution API (~10 s, Cadwyn's versioned
routers). A test that runs several intervals in one Airflow home pays that once here: this process imports all of
it and builds that API, then forks a child per command. The child is the command's own process, as the ``airflow``
script would be: its own session (a test may SIGKILL its group), its own output file, the command's environment,
``airflow.__main__.main()`` run from the start (the DAG folder parsed, the run created and executed), and nothing it
does reaches the next command's child (each is a fresh copy of this one as it was before any command ran).

Protocol (one line each): in ``{"argv": [...], "env": {...}, "log": path, "err": path}`` (stdout appended to
``log``, stderr to ``err``); out ``ready`` once, then per command ``started <pid>`` and ``exited <pid> <status> cpu
<seconds>s <argv>`` (status as ``os.waitstatus_to_exitcode`` gives it: 0 success, -N the signal that ended it; cpu:
the child's user + system time).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

# What a table DAG's run imports after the DAG file (its tasks import these lazily), measured with py-spy.
LAZY_IMPORTS = (
    "ddb_lake.operators.export_to_parquet", "ddb_lake.operators.schema_contract", "ddb_lake.core.convert.converter",
    "pandas", "airflow.providers.google.cloud.hooks.bigquery", "alembic", "aiobotocore.session",
)


def preload() -> None:
    """Import what every ``airflow dags test`` of a table DAG imports, and build the in-process Execution API."""
    import importlib

    import airflow.__main__  # noqa: F401  (configuration, settings, the ORM, the CLI parser)
    from airflow.cli.commands import dag_command  # noqa: F401

    import ddb_lake.dag_factory.table_dag  # noqa: F401  (the operators, pyarrow, boto3, the Google clients)

    for name in LAZY_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # not installed here (e.g. Airflow 2's venv): the child imports what it needs
            continue
    warm_aws_data()
    try:  # Airflow 3 (Airflow 2 has neither asset URI handlers nor an in-process Execution API)
        from airflow.sdk import Asset
        from airflow.sdk.execution_time.supervisor import in_process_api_server
    except ImportError:
        return
    Asset("s3://ddb-lake-fork-server/preload")  # loads every provider's asset URI handlers, as the lake asset does
    app = in_process_api_server().app  # cached; its transport (an event-loop thread) starts in the child
    if getattr(app, "_cadwyn_initialized", True) is False:  # Cadwyn builds its versioned routes on the first request
        app._cadwyn_initialize()


def warm_aws_data() -> None:
    """Parse botocore's data for the clients a table DAG's tasks make, into the process's shared loader (when the
    Airflow home uses ddb_lake.aws_session's factory): each child then finds it parsed, as a later task of the same
    ``dags test`` process would."""
    from airflow.providers.amazon.aws.hooks.base_aws import SessionFactory

    from ddb_lake.aws_session import SharedDataSessionFactory, parse_service_data

    if issubclass(SessionFactory, SharedDataSessionFactory):  # the factory Airflow resolved from [aws] session_factory
        parse_service_data()


def run_child(command: dict) -> None:
    """In the forked child: become the command's own process, run the ``airflow`` CLI, exit with its status."""
    os.setsid()
    os.environ.clear()
    os.environ.update(command["env"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 1)
    os.dup2(os.open(command["err"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
    status = 1
    try:
        import atexit

        from airflow.__main__ import main

        sys.argv = ["airflow", *command["argv"]]
        try:
            main()
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed stream: nothing left to flush
                pass
        os._exit(status)


def serve() -> None:
    preload()
    print("ready", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            run_child(command)
        print(f"started {pid}", flush=True)
        _, status, usage = os.wait4(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(f"exited {pid} {code} cpu {usage.ru_utime + usage.ru_stime:.2f}s {' '.join(command['argv'])}",
              flush=True)


if __name__ == "__main__":
    serve()
