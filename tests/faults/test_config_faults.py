"""Faults a person injects: table files that clash or are wrong, a run triggered without a logical date.

Readers must never see one table's items in another's history, a green run into a misspelt place, or a run of an
interval nobody asked for; each case is refused with an error naming the file and the field, or planned exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ddb_lake.core.config.table_config import TableConfigError, load_table_config, read_table_folder
from ddb_lake.dag_factory.table_dag import build_table_dags

pytestmark = pytest.mark.faults

REPO_ROOT = Path(__file__).resolve().parents[2]
ORDERS = (REPO_ROOT / "include" / "tables" / "orders.yaml").read_text()


def table_dags(folder: Path) -> list[str]:
    """The DAG ids the DAGs folder would show: table DAGs, and ``ddb_lake__config_error__<file>`` per bad file."""
    return sorted(build_table_dags(folder))


def test_two_table_files_on_one_lake_prefix_are_both_set_aside(tmp_path, injected):
    injected("a second table file mapping another DynamoDB table to the same lake prefix and Glue table (case 5)")
    (tmp_path / "orders.yaml").write_text(ORDERS)
    (tmp_path / "orders_copy.yaml").write_text(
        ORDERS.replace("name: orders", "name: orders").replace("table_name: demo-orders", "table_name: other-orders"))
    folder = read_table_folder(tmp_path)
    assert folder.configs == ()  # neither table writes: no run can put other-orders' items in orders' history
    messages = "\n".join(str(e) for e in folder.errors)
    assert "orders.yaml" in messages and "orders_copy.yaml" in messages
    assert "lake" in messages or "glue" in messages, messages
    assert table_dags(tmp_path) == ["ddb_lake__config_error__orders.yaml", "ddb_lake__config_error__orders_copy.yaml"]


@pytest.mark.parametrize(("old", "new", "field"), [
    ('schedule: "@daily"', 'schedule: "@dayly"', "schedule"),
    ("bucket: ddb-lake-demo\n", "bucket: Ddb_Lake_Demo\n", "lake.bucket"),
    ("grace_hours: 24", "grace_hours: 0", "retention.grace_hours"),
    ("grace_hours: 24", "grace_hours: -3", "retention.grace_hours"),
], ids=["bad-schedule", "bad-bucket", "grace-zero", "grace-negative"])
def test_a_wrong_setting_names_the_file_and_the_field_and_builds_no_table_dag(tmp_path, injected, old, new, field):
    injected(f"table file with {new.strip()} (cases 7, 9)")
    assert old in ORDERS
    path = tmp_path / "orders.yaml"
    path.write_text(ORDERS.replace(old, new))
    with pytest.raises(TableConfigError) as refused:
        load_table_config(path)
    assert refused.value.path == str(path) and refused.value.field_name == field, str(refused.value)
    assert str(path) in str(refused.value)
    assert table_dags(tmp_path) == ["ddb_lake__config_error__orders.yaml"]


def test_a_run_without_a_logical_date_plans_the_last_complete_interval(injected):
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from test_compat import no_logical_date_context

    from ddb_lake.dag_factory.table_dag import build_table_dag

    injected("a run triggered without a logical date (REST logical_date null, plain dags trigger) (case 11)")
    dag = build_table_dag(load_table_config(REPO_ROOT / "include" / "tables" / "orders.yaml"), "full")
    plan = dag.get_task("plan")
    result = plan.execute(no_logical_date_context(dag))  # run_after 2026-11-20T09:30Z
    assert result["snapshot"] == "20261120T000000Z"
    assert result["window_start"] is None and result["export_time"] == "2026-11-20T00:00:00+00:00"
