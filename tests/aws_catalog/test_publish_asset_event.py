"""The lake publish puts what it published on the lake asset's event: table, snapshot, location, rows, interval and
the validation headline (what the Assets view and asset-triggered DAGs read)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from catalog_lake import DATABASE, TABLE, rows

from ddb_lake.compat import Asset
from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator

pytestmark = pytest.mark.integration
S1, S2 = "20261120T000000Z", "20261121T000000Z"
ASSET = Asset("s3://lake/mirror/snapshots/orders")


class OutletEvents(dict):
    """``context["outlet_events"]`` as Airflow's accessor takes it: ``events[asset].extra = {...}``."""

    def __missing__(self, key: Any) -> SimpleNamespace:
        self[key] = SimpleNamespace(extra=None)
        return self[key]


def publish(summary: dict, day: int) -> tuple[dict, dict]:
    context = {"outlet_events": OutletEvents(),
               "data_interval_start": datetime(2026, 11, day - 1, tzinfo=UTC),
               "data_interval_end": datetime(2026, 11, day, tzinfo=UTC)}
    result = SnapshotPublishOperator(
        task_id="publish", convert_summary=summary, database=DATABASE, table_name=TABLE, bucket="lake",
        validation={"ok": True, "summary": f"{summary['items']} rows, 3 sources agree"}, outlets=[ASSET],
    ).execute(context)
    return result, context["outlet_events"][ASSET].extra


def test_published_and_kept_newer_runs_describe_themselves_on_the_asset_event(lake):
    newer = lake.write_snapshot(S2, rows(4))
    result, extra = publish(newer, 21)
    assert extra == {
        "table": f"{DATABASE}.{TABLE}", "snapshot": S2, "location": result["location"], "rows": 4,
        "action": "published", "interval": ["2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00"],
        "validation": "4 rows, 3 sources agree",
    }
    older = lake.write_snapshot(S1, rows(3))
    result, extra = publish(older, 20)  # a backfill of an older interval: the newer snapshot stays current
    assert (extra["action"], extra["snapshot"], extra["rows"]) == (result["action"], S1, 3)
    assert result["action"] == "kept_newer"
