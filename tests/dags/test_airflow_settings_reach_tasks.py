"""The ``airflow`` section and the export wait cap reach the DAG and its tasks; a callback that cannot be imported is
an error naming the file and the field (the table's other DAGs are unaffected: see test_bad_table_files)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from ddb_lake.core.config.table_config import TableConfigError, load_table_config
from ddb_lake.dag_factory.table_dag import build_table_dag

REPO_ROOT = Path(__file__).resolve().parents[2]


def build(tmp_path: Path, **overrides):
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values}
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    return build_table_dag(load_table_config(path))


def notify(context):  # the callback the table file names
    return None


def test_pool_queue_priority_alerts_and_timeouts(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ddb_lake_test_alerts", sys.modules[__name__])
    dag = build(tmp_path, airflow={"pool": "ddb_lake", "queue": "io", "priority_weight": 7,
                                   "email": ["data@example.com"], "on_failure_callback": "ddb_lake_test_alerts.notify",
                                   "run_timeout_minutes": 45},
                export={"poll_seconds": 2, "max_wait_minutes": 60})
    tasks = dag.task_dict
    assert {(t.pool, t.queue, t.priority_weight) for t in tasks.values()} == {("ddb_lake", "io", 7)}
    assert tasks["validate"].email == ["data@example.com"] and tasks["validate"].email_on_failure is True
    assert tasks["validate"].email_on_retry is False
    callbacks = tasks["publish"].on_failure_callback
    assert notify in (callbacks if isinstance(callbacks, list) else [callbacks])
    assert dag.dagrun_timeout == timedelta(minutes=45)
    assert (tasks["export"].waiter_delay, tasks["export"].waiter_max_attempts) == (2, 1800)


def test_defaults(tmp_path):
    dag = build(tmp_path)
    export = dag.task_dict["export"]
    assert (export.pool, export.priority_weight) == ("default_pool", 1)
    assert dag.dagrun_timeout == timedelta(minutes=4 * 120)
    assert export.waiter_max_attempts == 240 * 60 // export.waiter_delay


def test_a_callback_that_cannot_be_imported_names_file_and_field(tmp_path):
    with pytest.raises(TableConfigError, match=r"orders.yaml: airflow.on_failure_callback: 'no_such_mod.notify' "
                                               r"cannot be imported"):
        build(tmp_path, airflow={"on_failure_callback": "no_such_mod.notify"})


def test_dag_docs_show_the_effective_settings(tmp_path):
    doc = build(tmp_path, airflow={"pool": "ddb_lake"}).doc_md
    settings = yaml.safe_load(doc.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert settings["airflow"]["pool"] == "ddb_lake" and settings["airflow"]["priority_weight"] == 1
    assert settings["export"]["max_wait_minutes"] == 240.0 and settings["retries"] == 1  # the demo file's
    assert settings["start_date"] == "2026-11-01 00:00:00+00:00" and "source_path" not in settings
