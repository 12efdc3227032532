"""Pure rules of the staged load and the publish step: names, the copy job, force_rerun from conf, newest interval."""

from __future__ import annotations

from datetime import date

import pytest

from ddb_lake.destinations.bigquery.load_job import (
    BigQueryDestination,
    attempt_seed,
    conf_forces_rerun,
    copy_job_configuration,
    interval_label,
    newer_interval_live,
    staging_table_id,
)


def test_staging_table_id_is_per_snapshot_and_safe():
    assert staging_table_id("orders", "20261122T000000Z") == "orders__stage_20261122t000000z"
    assert staging_table_id("My Orders", "20261121T000000Z-20261122T000000Z") == (
        "my_orders__stage_20261121t000000z-20261122t000000z"
    )


@pytest.mark.parametrize(
    ("layout", "table_id"), [("partitioned", "orders$20261122"), ("sharded", "orders_20261122"), ("latest", "orders")]
)
def test_copy_job_truncates_exactly_the_day_or_table(layout, table_id):
    staging = BigQueryDestination("p", "d", "orders__stage_20261122t000000z", "latest")
    config = copy_job_configuration(staging, BigQueryDestination("p", "d", "orders", layout), date(2026, 11, 22))
    assert config == {
        "copy": {
            "sourceTable": {"projectId": "p", "datasetId": "d", "tableId": "orders__stage_20261122t000000z"},
            "destinationTable": {"projectId": "p", "datasetId": "d", "tableId": table_id},
            "writeDisposition": "WRITE_TRUNCATE",
            "createDisposition": "CREATE_NEVER",
        }
    }


@pytest.mark.parametrize(
    ("conf", "forced"),
    [
        ({"force_rerun": True}, True), ({"force_rerun": "true"}, True), ({"force_rerun": "1"}, True),
        ({"force_rerun": False}, False), ({"force_rerun": "no"}, False), ({}, False), (None, False),
        ({"other": True}, False),
    ],
)
def test_run_conf_force_rerun(conf, forced):
    assert conf_forces_rerun(conf) is forced


def test_attempt_seed_differs_per_run_and_try():
    assert attempt_seed("manual__1", 1) == "attempt:manual__1:1"
    assert len({attempt_seed("a", 1), attempt_seed("a", 2), attempt_seed("b", 1)}) == 3


def test_newest_interval_wins_in_latest():
    assert interval_label("2026-11-22T00:00:00+00:00", "20261122T000000Z") == "20261122t000000"
    assert interval_label(None, "20261121T060000Z") == "20261121t060000"
    assert newer_interval_live(None, "20261121t000000", "d.orders") is None
    assert newer_interval_live("20261121t000000", "20261121t000000", "d.orders") is None  # a rerun republishes
    assert newer_interval_live("20261120t000000", "20261121t000000", "d.orders") is None
    assert newer_interval_live("20261122t000000", "20261121t000000", "d.orders") == (
        "BigQuery table d.orders holds interval 20261122t000000, newer than this run's 20261121t000000: the older "
        "snapshot is not copied over it (newest interval wins). Its staging table is dropped; nothing else changes."
    )


def test_the_run_report_lists_each_publish_and_its_widenings():
    from ddb_lake.core.validation.run_report import render_publishes

    published = {
        "destination": "bigquery", "table": "p.d.orders$20261122", "rows": 80,
        "widenings": [{"change": "qty: INT64 -> NUMERIC (ALTER COLUMN SET DATA TYPE)"}],
    }
    assert render_publishes([published, {**published, "widenings": []}]) == (
        "  published to bigquery p.d.orders$20261122: 80 rows\n"
        "    widened p.d.orders$20261122: qty: INT64 -> NUMERIC (ALTER COLUMN SET DATA TYPE)\n"
        "  published to bigquery p.d.orders$20261122: 80 rows"
    )
    assert render_publishes([]) == ""
