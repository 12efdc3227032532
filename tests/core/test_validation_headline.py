"""The one-line validation result shown on the run's page (the validate task's rendered field and XCom)."""

from __future__ import annotations

from ddb_lake.core.validation.row_counts import CountSource, compare_counts


def _sources(athena: int) -> list[CountSource]:
    return [CountSource("dynamodb_export", 3000), CountSource("dynamodb_table_approx", 2990, exact=False),
            CountSource("parquet_footers", 3000), CountSource("athena", athena), CountSource("bigquery", 3000),
            CountSource("bigquery_staging", 3000)]


def test_agreeing_counts():
    report = compare_counts(_sources(3000), table="orders", snapshot="20261122T000000Z")
    assert report.headline() == "3,000 rows, 5 sources agree"


def test_a_disagreeing_copy_is_named_with_its_count():
    report = compare_counts(_sources(2999), table="orders", snapshot="20261122T000000Z")
    assert report.headline() == "3,000 rows in dynamodb_export; 1 of 5 sources disagree: athena 2,999"
