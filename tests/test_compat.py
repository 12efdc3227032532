"""ddb_lake.compat is the one door to Airflow: its names resolve on the installed major version (2.11 or 3.x)."""

from __future__ import annotations

import ast
from pathlib import Path

import pendulum
import pytest

from ddb_lake import compat
from ddb_lake.compat import DAG, CronDataIntervalTimetable, data_interval_of

REPO_ROOT = Path(__file__).resolve().parent.parent
PROVIDER_FILES = sorted((REPO_ROOT / "plugins" / "ddb_lake").rglob("*.py"))
DAG_FILES = sorted((REPO_ROOT / "dags").glob("*.py"))
# Airflow hands tasks pendulum datetimes; the timetables rely on their methods.
DAY_END = pendulum.datetime(2026, 11, 20, tz="UTC")
DAY_START = pendulum.datetime(2026, 11, 19, tz="UTC")


def airflow_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of an ``airflow`` module in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "airflow"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "airflow":
            found.append((node.lineno, node.module))
    return sorted(found)


def test_every_exported_name_resolves_on_this_airflow():
    missing = [name for name in compat.__all__ if getattr(compat, name, None) is None]
    assert missing == []
    assert compat.AIRFLOW_V3 == compat.AIRFLOW_VERSION.startswith("3.")
    assert issubclass(compat.AirflowFailException, compat.AirflowException)


def test_provider_and_dags_take_airflow_core_names_only_from_compat():
    """Core Airflow modules move between 2 and 3; provider packages (amazon, google) keep their paths on both."""
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
        for path in PROVIDER_FILES + DAG_FILES
        if path.name != "compat.py"
        for line, module in airflow_imports(path)
        if not module.startswith("airflow.providers.")
    ]
    assert offenders == [], "import these through ddb_lake.compat:\n" + "\n".join(offenders)


def test_the_import_scan_sees_nested_and_from_imports(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("import os\nfrom airflow.sdk import DAG\ndef f():\n    import airflow.models.dag\n"
                      "from airflow.providers.amazon.aws.hooks.s3 import S3Hook\nfrom .x import airflow\n")
    assert airflow_imports(source) == [(2, "airflow.sdk"), (4, "airflow.models.dag"),
                                       (5, "airflow.providers.amazon.aws.hooks.s3")]


def test_a_real_interval_is_returned_as_it_is():
    """Airflow 2 gives a manual run of an interval timetable its interval; so does any scheduled run."""
    dag = DAG("real_interval", schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"), start_date=DAY_START)
    context = {"dag": dag, "data_interval_start": DAY_START, "data_interval_end": DAY_END, "logical_date": DAY_START}
    assert data_interval_of(context) == (DAY_START, DAY_END)


@pytest.mark.parametrize(("cron", "start"), [("0 0 * * *", DAY_START), ("0 * * * *", DAY_END.subtract(hours=1))])
def test_a_zero_length_interval_is_taken_from_the_dag_timetable(cron, start):
    """Airflow 3 manual runs: start == end; the DAG's interval timetable (SDK definition on 3) names the interval."""
    dag = DAG("zero_interval", schedule=CronDataIntervalTimetable(cron, timezone="UTC"), start_date=DAY_START)
    context = {"dag": dag, "data_interval_start": DAY_END, "data_interval_end": DAY_END, "logical_date": DAY_END}
    assert data_interval_of(context) == (start, DAY_END)


def test_without_a_dag_a_zero_length_interval_stays_as_given():
    context = {"data_interval_start": DAY_END, "data_interval_end": DAY_END}
    assert data_interval_of(context) == (DAY_END, DAY_END)


RUN_AFTER = pendulum.datetime(2026, 11, 20, 9, 30, tz="UTC")


def no_logical_date_context(dag, run_after=RUN_AFTER) -> dict:
    """The context Airflow 3 gives a run triggered without a logical date (REST ``logical_date: null``, plain
    ``airflow dags trigger``): a ``dag_run`` with ``run_after`` and no ``logical_date``/``data_interval_*`` keys."""
    run_id = f"manual__{run_after.isoformat()}"
    fields = {"dag_id": dag.dag_id, "run_id": run_id, "logical_date": None, "data_interval_start": None,
              "data_interval_end": None, "run_after": run_after}
    if compat.AIRFLOW_V3:
        from airflow.sdk.api.datamodels._generated import DagRun, DagRunState, DagRunType

        dag_run = DagRun(**fields, start_date=run_after, end_date=None, run_type=DagRunType.MANUAL,
                         state=DagRunState.RUNNING, consumed_asset_events=[], partition_key=None)
    else:  # pragma: no cover - Airflow 2 always gives a logical date
        from types import SimpleNamespace

        dag_run = SimpleNamespace(**fields)
    return {"dag": dag, "dag_run": dag_run, "run_id": run_id}


@pytest.mark.parametrize(("cron", "interval"), [
    ("0 0 * * *", (DAY_START, DAY_END)),
    ("0 * * * *", (pendulum.datetime(2026, 11, 20, 8, tz="UTC"), pendulum.datetime(2026, 11, 20, 9, tz="UTC"))),
])
def test_a_run_without_a_logical_date_covers_the_last_complete_interval_before_run_after(cron, interval):
    dag = DAG("no_logical_date", schedule=CronDataIntervalTimetable(cron, timezone="UTC"), start_date=DAY_START)
    assert data_interval_of(no_logical_date_context(dag)) == interval


def test_run_attempt_is_the_run_id_and_try_number():
    from types import SimpleNamespace

    dag = DAG("attempt", schedule=None, start_date=DAY_START)
    context = {**no_logical_date_context(dag), "ti": SimpleNamespace(try_number=3)}
    assert compat.run_attempt(context) == ("manual__2026-11-20T09:30:00+00:00", 3)
    assert compat.run_attempt({"dag_run": context["dag_run"]}) == ("manual__2026-11-20T09:30:00+00:00", 1)
