"""The ``airflow`` section (pool, queue, priority, alerting, run timeout), the export wait cap and quoted dates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ddb_lake.core.config.table_config import TableConfigError, load_table_config
from ddb_lake.core.export.waiting import polls_within

REPO_ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, **overrides) -> object:
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_table_config(path)


@pytest.mark.parametrize(("text", "expected"), [
    ("start_date: '2026-11-01'", datetime(2026, 11, 1, tzinfo=UTC)),
    ("start_date: \"2026-11-01T06:30:00Z\"", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ("start_date: 2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
])
def test_quoted_and_bare_start_dates(tmp_path, text, expected):
    base = (REPO_ROOT / "include" / "tables" / "orders.yaml").read_text()
    base = "\n".join(line for line in base.splitlines() if not line.startswith("start_date:"))
    path = tmp_path / "orders.yaml"
    path.write_text(base + "\n" + text + "\n")
    assert load_table_config(path).start_date == expected


def test_a_start_date_that_is_no_date_names_the_field(tmp_path):
    with pytest.raises(TableConfigError, match=r"orders.yaml: start_date: expected a date like 2026-11-01, got "
                                               r"'first of november'"):
        load(tmp_path, start_date="first of november")


def test_export_wait_cap_is_its_own_setting():
    assert polls_within(240, 30) == 480  # the former fixed 480 polls at the default 30 s
    assert polls_within(240, 2) == 7200  # poll_seconds 2 no longer caps the wait at 16 minutes
    assert polls_within(10, 7) == 86
    assert polls_within(0.01, 30) == 1


def test_airflow_section_defaults_and_values(tmp_path):
    assert load(tmp_path).airflow.priority_weight == 1
    config = load(tmp_path, airflow={"pool": "ddb_lake", "queue": "io", "priority_weight": 5,
                                     "email": ["data@example.com"], "email_on_retry": True,
                                     "on_failure_callback": "alerts.notify", "run_timeout_minutes": 90},
                  export={"max_wait_minutes": 30})
    assert (config.airflow.pool, config.airflow.queue, config.airflow.priority_weight) == ("ddb_lake", "io", 5)
    assert config.airflow.email == ("data@example.com",) and config.airflow.run_timeout_minutes == 90.0
    assert config.export.max_wait_minutes == 30.0


@pytest.mark.parametrize(("overrides", "message"), [
    ({"airflow": {"priority_weight": 0}}, "airflow.priority_weight: 0 must be >= 1"),
    ({"airflow": {"email": ["data.example.com"]}}, "airflow.email: 'data.example.com' is not an e-mail address"),
    ({"airflow": {"on_failure_callback": "notify"}}, "airflow.on_failure_callback: 'notify' must be a dotted path"),
    ({"airflow": {"run_timeout_minutes": 0}}, "airflow.run_timeout_minutes: 0 must be > 0"),
    ({"airflow": {"pol": "x"}}, "airflow.pol: unknown setting"),
    ({"export": {"poll_seconds": 120, "max_wait_minutes": 1}},
     "export.max_wait_minutes: 1 must be at least one poll (export.poll_seconds 120 s)"),
])
def test_bad_airflow_settings_name_file_and_field(tmp_path, overrides, message):
    with pytest.raises(TableConfigError) as raised:
        load(tmp_path, **overrides)
    assert str(raised.value).startswith(f"{tmp_path / 'orders.yaml'}: {message}")
