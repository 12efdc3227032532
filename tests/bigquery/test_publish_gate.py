"""The validation gate on the local stack: BigQuery consumers see a snapshot only after validation, via one publish.

The default ``partitioned`` layout runs for real through the stand-in's partition shim
(scripts/bqemulator_partitions.py).
"""

from __future__ import annotations

import pytest
from bq_runs import BigQueryRun, context, new_dataset, snapshot_for

from ddb_lake.compat import AirflowFailException, AirflowSkipException
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook

pytestmark = pytest.mark.integration


def test_a_failed_validation_leaves_consumers_on_the_previous_data_and_a_forced_rerun_repairs_it(
    moto_reset, gcs_bucket, gcp_project
):
    bq = BigQueryRun(gcp_project, new_dataset(gcp_project), gcs_bucket)
    day21, day22 = snapshot_for("2026-11-21", (10, 5)), snapshot_for("2026-11-22", (40, 35))
    bq.run(day21, "2026-11-21")
    load, published, ctx = bq.run(day22, "2026-11-22")
    assert bq.per_day() == {"2026-11-21": 15, "2026-11-22": 75}
    assert published["table"] == f"{gcp_project}.{bq.dataset}.orders$20261122"
    assert ctx["outlet_events"][bq.asset].extra == {
        "destination": "bigquery", "table": f"{gcp_project}.{bq.dataset}.orders$20261122", "location": "US",
        "layout": "partitioned", "snapshot": "20261122T000000Z", "interval_start": "2026-11-21T00:00:00+00:00",
        "interval_end": "2026-11-22T00:00:00+00:00", "rows": 75, "copy_job_id": load["job_id"] + "_publish_g0",
        "load_job_id": load["job_id"], "widenings": [],
    }
    assert bq.tables() == {"orders"}  # the staging table is dropped after the copy

    # A rerun of day 22 with a new snapshot (80 items) whose BigQuery copy comes out one row short.
    fixed = snapshot_for("2026-11-22", (40, 35, 5), version="v2")
    ctx = context("2026-11-22")
    short = bq.load(fixed, ctx)
    staging = short["staging_table"]
    bq.rows(f"DELETE FROM `{gcp_project}.{bq.dataset}.{staging}` WHERE pk = 'order#00003'")
    with pytest.raises(AirflowFailException, match=r"orders snapshot 20261122T000000Z is not published"):
        bq.validate(fixed, short, ctx)
    assert bq.per_day() == {"2026-11-21": 15, "2026-11-22": 75}  # consumers still read the previous snapshot
    assert ctx["outlet_events"] == {}  # no asset event: publish never ran

    # A plain rerun reuses the finished load (its staging table is still there), so it fails the same way.
    ctx = context("2026-11-22")
    again = bq.load(fixed, ctx)
    assert (again["job_id"], again["how"]) == (short["job_id"], "finished")
    with pytest.raises(AirflowFailException):
        bq.validate(fixed, again, ctx)

    # force_rerun in the run's conf reloads under a new job id; validation passes; publish moves it into place.
    ctx = context("2026-11-22", conf={"force_rerun": True})
    forced = bq.load(fixed, ctx)
    assert forced["how"] == "submitted" and forced["job_id"] != short["job_id"]
    assert bq.validate(fixed, forced, ctx)["ok"] is True
    published = bq.publish(forced, ctx)
    assert published["rows"] == 80 and ctx["outlet_events"][bq.asset].extra["rows"] == 80
    assert bq.per_day() == {"2026-11-21": 15, "2026-11-22": 80}
    assert bq.tables() == {"orders"}

    # A backfill of the older day replaces that day only.
    bq.run(snapshot_for("2026-11-21", (12,), version="v3"), "2026-11-21")
    assert bq.per_day() == {"2026-11-21": 12, "2026-11-22": 80}


def test_a_rerun_after_publish_reloads_because_its_staging_table_is_gone(moto_reset, gcs_bucket, gcp_project):
    bq = BigQueryRun(gcp_project, new_dataset(gcp_project), gcs_bucket)
    snap = snapshot_for("2026-11-22", (7,))
    first, _, _ = bq.run(snap, "2026-11-22")
    second, published, _ = bq.run(snap, "2026-11-22")
    assert first["how"] == second["how"] == "submitted" and first["job_id"] != second["job_id"]
    assert published["rows"] == 7 and bq.per_day() == {"2026-11-22": 7}


def test_latest_layout_keeps_the_newest_interval(moto_reset, gcs_bucket, gcp_project):
    bq = BigQueryRun(gcp_project, new_dataset(gcp_project), gcs_bucket, layout="latest")
    bq.run(snapshot_for("2026-11-22", (40, 35)), "2026-11-22")
    assert bq.rows("SELECT COUNT(*) AS n FROM {t}") == [{"n": 75}]
    hook = BigQueryLoadHook(api_deadline=5.0)
    assert hook.table_labels(gcp_project, bq.dataset, "orders")["ddb_lake_interval"] == "20261122t000000"

    older = snapshot_for("2026-11-21", (10,))
    ctx = context("2026-11-21")
    load = bq.load(older, ctx)
    bq.validate(older, load, ctx)
    with pytest.raises(AirflowSkipException, match=r"holds interval 20261122t000000, newer than this run's "):
        bq.publish(load, ctx)
    assert bq.rows("SELECT COUNT(*) AS n FROM {t}") == [{"n": 75}]  # the newer data stays
    assert ctx["outlet_events"] == {} and bq.tables() == {"orders"}  # no event; the staging table is dropped

    bq.run(snapshot_for("2026-11-23", (5,)), "2026-11-23")  # a newer interval replaces it
    assert bq.rows("SELECT COUNT(*) AS n FROM {t}") == [{"n": 5}]
    assert hook.table_labels(gcp_project, bq.dataset, "orders")["ddb_lake_interval"] == "20261123t000000"


def test_a_publish_retried_after_its_staging_table_was_dropped_reports_what_is_in_place(
    moto_reset, gcs_bucket, gcp_project
):
    bq = BigQueryRun(gcp_project, new_dataset(gcp_project), gcs_bucket)
    load, first, _ = bq.run(snapshot_for("2026-11-22", (6,)), "2026-11-22")
    ctx = context("2026-11-22")
    again = bq.publish(load, ctx)  # e.g. the worker died after the drop: the retry finds the finished copy job
    assert (again["rows"], again["copy_job_id"]) == (6, first["copy_job_id"])
    assert ctx["outlet_events"][bq.asset].extra["rows"] == 6 and bq.per_day() == {"2026-11-22": 6}

    load["job_id"] += "_never_copied"  # no copy job of that load: the staging table is really gone
    gone = r"is gone \(expired or dropped\) before publish of .*orders\$20261122"
    with pytest.raises(AirflowFailException, match=gone):
        bq.publish(load, context("2026-11-22"))
