"""The ``cdc:`` section: its checks name file and field, and a table with it gets the CDC DAG instead of the
incremental one (schedule, no overlap, tasks and trigger rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ddb_lake.core.config.cron_schedule import cdc_schedule_problem
from ddb_lake.core.config.table_config import TableConfigError, load_table_config

YAML = """\
name: books
dynamodb: {table_name: prod-books, region: eu-west-1}
export: {mode: incremental, incremental_schedule: "*/30 * * * *"}
lake: {bucket: acme-data-lake, prefix: dynamodb, format: iceberg}
glue: {database: catalog}
athena: {output_location: "s3://acme-athena-results/ddb-lake/"}
"""


def write(tmp_path, text: str):
    path = tmp_path / "books.yaml"
    path.write_text(text)
    return path


def test_the_cdc_section_is_read_with_its_defaults(tmp_path):
    config = load_table_config(write(tmp_path, YAML + "cdc: {}\n"))
    assert (config.cdc.schedule, config.cdc.settle_seconds, config.cdc.cleanup_grace_hours) == ("*/2 * * * *", 60, 24)
    assert load_table_config(write(tmp_path, YAML)).cdc is None


@pytest.mark.parametrize(("extra", "field", "message"), [
    ("cdc: {schedule: '*/10 * * * *'}", "cdc.schedule", "leaves 10 minutes between runs; the CDC merge runs every 1 "
                                                        "to 5 minutes"),
    ("cdc: {settle_seconds: 0}", "cdc.settle_seconds", "0 must be >= 1"),
    ("cdc: {cleanup_grace_hours: 0}", "cdc.cleanup_grace_hours", "0 must be > 0"),
    ("cdc: {merge_every: 2}", "cdc.merge_every", "unknown setting"),
])
def test_a_bad_cdc_setting_names_file_and_field(tmp_path, extra, field, message):
    with pytest.raises(TableConfigError, match=message) as caught:
        load_table_config(write(tmp_path, YAML + extra + "\n"))
    assert caught.value.field_name == field and caught.value.path.endswith("books.yaml")


def test_cdc_needs_the_iceberg_table(tmp_path):
    text = YAML.replace("format: iceberg", "format: parquet") + "cdc: {}\n"
    with pytest.raises(TableConfigError, match=r"needs lake\.format: iceberg") as caught:
        load_table_config(write(tmp_path, text))
    assert caught.value.field_name == "cdc"


def test_a_cdc_table_with_a_bigquery_section_applies_its_changes_to_bigquery_before_cleanup(tmp_path):
    from ddb_lake.dag_factory.table_dag import build_table_dags

    bigquery = "bigquery: {project: p, dataset: d, gcs_bucket: acme-staging, layout: latest, table: books_now}\n"
    write(tmp_path, YAML + "cdc: {}\n" + bigquery)
    tasks = build_table_dags(tmp_path)["ddb_lake__books__cdc"].task_dict
    apply = tasks["bigquery"]
    assert apply.upstream_task_ids == {"validate_changes"} and apply.trigger_rule == "none_failed"
    assert tasks["cleanup"].upstream_task_ids == tasks["expire"].upstream_task_ids == {"bigquery"}
    assert (apply.project_id, apply.dataset, apply.table, apply.location) == ("p", "d", "books_now", "US")
    assert apply.cdc_prefix == "dynamodb/cdc/prod-books" and apply.table_name == "books"
    with pytest.raises(TableConfigError, match=r"bigquery\.layout.*Set bigquery\.layout: latest"):
        load_table_config(write(tmp_path, YAML + "cdc: {}\n" + bigquery.replace("latest", "partitioned")))


def test_cdc_schedules_every_one_to_five_minutes():
    assert [cdc_schedule_problem(s) for s in ("* * * * *", "*/5 * * * *", "*/2 * * * *")] == [None, None, None]
    assert "leaves 7 minutes" in cdc_schedule_problem("0,7,14,21,28,35,42,49,56 * * * *")  # 56 → 0 is 4, 0 → 7 is 7


def test_a_cdc_table_gets_the_cdc_dag_instead_of_the_incremental_one(tmp_path):
    from ddb_lake.dag_factory.table_dag import build_table_dags

    text = YAML.replace('incremental_schedule: "*/30 * * * *"',
                        'incremental_schedule: "*/30 * * * *", max_wait_minutes: 60')
    write(tmp_path, text + "cdc: {schedule: '*/3 * * * *', settle_seconds: 45}\ncolumns: {price: 'decimal(18,4)'}\n")
    dags = build_table_dags(tmp_path)
    assert sorted(dags) == ["ddb_lake__books__cdc"]
    dag = dags["ddb_lake__books__cdc"]
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.timetable.expression == "*/3 * * * *"
    tasks = dag.task_dict
    assert sorted(tasks) == ["changes", "cleanup", "convert", "expire", "export", "merge", "state", "validate",
                             "validate_changes"]
    assert {t: tasks[t].trigger_rule for t in ("changes", "cleanup", "expire", "validate_changes")} == {
        "changes": "none_failed", "cleanup": "none_failed", "expire": "none_failed", "validate_changes": "all_success"}
    assert tasks["changes"].upstream_task_ids == {"validate"}
    # the same export and convert as the Iceberg DAG: the wait cap (60 minutes at 30 s polls) and the YAML pins
    assert tasks["export"].waiter_max_attempts == 120 and tasks["export"].waiter_delay == 30
    assert tasks["convert"].columns == {"price": "decimal(18,4)"}
    assert tasks["changes"].cdc_prefix == "dynamodb/cdc/prod-books" and tasks["changes"].settle == timedelta(seconds=45)
