"""The watermark chain: what a run of the Iceberg table's DAG exports, from the table's last committed watermark.

The watermark is the end of the last merged window (or the time of the full export the table was bootstrapped
from). It lives in the summary of the snapshot that merged it, committed in the same catalog commit as the data,
so the table and its watermark never disagree. Each window starts exactly at the watermark: no gap, no overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ddb_lake.core.export.rules import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    MAX_INCREMENTAL_WINDOW,
    MIN_INCREMENTAL_WINDOW,
    to_datetime,
)
from ddb_lake.core.lake.layout import SNAPSHOT_PARTITION, TableLayout, join_key, utc_stamp

EXPORT_ID = "ddb-lake.export-id"
EXPORT_TYPE = "ddb-lake.export-type"
WATERMARK = "ddb-lake.watermark"
WINDOW_START = "ddb-lake.window-start"
ROWS = "ddb-lake.rows"
KEY_CHECKSUM = "ddb-lake.key-checksum"
ROWS_BEFORE = "ddb-lake.rows-before"
INSERTS = "ddb-lake.inserts"
UPDATES = "ddb-lake.updates"
DELETES = "ddb-lake.deletes"
CHANGES = "ddb-lake.changes"
WINDOWS = "ddb-lake.windows"  # windows merged since the bootstrap (core/iceberg/full_check.py)

BOOTSTRAP = "bootstrap"
INCREMENTAL = "incremental"
SKIP = "skip"


@dataclass(frozen=True)
class CommittedState:
    """What the table's current snapshot says about the chain (``None`` everywhere: no table or never merged)."""

    watermark: datetime | None = None
    export_id: str | None = None
    rows: int | None = None
    key_checksum: int | None = None
    windows: int = 0  # windows merged since the bootstrap (0 for tables committed before it was recorded)

    @classmethod
    def from_summary(cls, summary: Mapping[str, str] | None) -> CommittedState:
        if not summary or WATERMARK not in summary:
            return cls()
        return cls(
            watermark=to_datetime(summary[WATERMARK]),
            export_id=summary.get(EXPORT_ID),
            rows=int(summary[ROWS]) if summary.get(ROWS) else None,
            key_checksum=int(summary[KEY_CHECKSUM]) if summary.get(KEY_CHECKSUM) else None,
            windows=int(summary[WINDOWS]) if summary.get(WINDOWS) else 0,
        )


@dataclass(frozen=True)
class WindowPlan:
    """This run's export: a bootstrap (full export at ``export_time``), a window [``window_start``, ``export_time``),
    or nothing (``skip``), and why."""

    action: str
    export_type: str | None
    window_start: datetime | None
    export_time: datetime | None
    reason: str

    def to_xcom(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("window_start", "export_time"):
            out[name] = out[name].isoformat() if out[name] else None
        return out


def plan_window(table: str, state: CommittedState, interval_end: datetime | str,
                earliest_restorable: datetime | None = None) -> WindowPlan:
    """The next export of the chain for a run whose data interval ends at ``interval_end``.

    - no watermark (a new table) → bootstrap from a full export at ``interval_end``;
    - watermark older than the PITR window's ``earliest_restorable`` (when known) → re-bootstrap: no incremental
      export can start there any more, so the chain is rebuilt from a full export;
    - less than 15 minutes from the watermark to ``interval_end`` (a rerun, or a backfill of an interval the table
      already holds) → skip;
    - else the window [watermark, min(interval_end, watermark + 24 h)): a chain that fell behind catches up one
      24-hour window per run.
    """
    end = to_datetime(interval_end)
    if state.watermark is None:
        return WindowPlan(BOOTSTRAP, FULL_EXPORT, None, end,
                          f"table {table} has no watermark yet: bootstrap from a full export at {end.isoformat()}")
    start = state.watermark
    if earliest_restorable is not None and start < to_datetime(earliest_restorable):
        return WindowPlan(BOOTSTRAP, FULL_EXPORT, None, end, (
            f"the chain of table {table} fell out of the PITR window: its watermark {start.isoformat()} is before "
            f"EarliestRestorableDateTime {to_datetime(earliest_restorable).isoformat()}, so no incremental export "
            f"can start there; re-bootstrapping from a full export at {end.isoformat()}"))
    if end - start < MIN_INCREMENTAL_WINDOW:
        return WindowPlan(SKIP, None, None, None, (
            f"table {table} is at watermark {start.isoformat()}, {end - start} from this interval's end "
            f"{end.isoformat()} (DynamoDB's shortest incremental export is {MIN_INCREMENTAL_WINDOW}): nothing to do"))
    stop = min(end, start + MAX_INCREMENTAL_WINDOW)
    behind = "" if stop == end else f" (catching up: {end - stop} remain after it, merged by the next runs)"
    return WindowPlan(INCREMENTAL, INCREMENTAL_EXPORT, start, stop,
                      f"table {table}: window [{start.isoformat()}, {stop.isoformat()}) from its watermark{behind}")


def commit_properties(*, export_id: str, export_type: str, watermark: datetime | str,
                      window_start: datetime | str | None, rows: int, key_checksum: int, rows_before: int,
                      inserts: int, updates: int, deletes: int, changes: int, windows: int = 0) -> dict[str, str]:
    """The snapshot summary properties a merge commits together with its data (``windows``: windows merged since
    the bootstrap, this one included; a bootstrap commits 0)."""
    return {
        EXPORT_ID: export_id,
        EXPORT_TYPE: export_type,
        WATERMARK: to_datetime(watermark).isoformat(),
        WINDOW_START: to_datetime(window_start).isoformat() if window_start else "",
        ROWS: str(rows),
        KEY_CHECKSUM: str(key_checksum),
        ROWS_BEFORE: str(rows_before),
        INSERTS: str(inserts),
        UPDATES: str(updates),
        DELETES: str(deletes),
        CHANGES: str(changes),
        WINDOWS: str(windows),
    }


def window_locations(layout: TableLayout, plan: WindowPlan) -> dict[str, str]:
    """Where this run's export lands (``export_prefix``) and its conversion goes (``changes_url``, ``snapshot``).

    A window converts to ``changes/<table>/snapshot=<start>-<end>`` like the change log; a bootstrap's full export
    to ``changes/<table>/snapshot=<time>``.
    """
    assert plan.export_type is not None and plan.export_time is not None
    stamp = utc_stamp(plan.export_time)
    if plan.window_start is not None:
        stamp = f"{utc_stamp(plan.window_start)}-{stamp}"
    return {
        "export_prefix": layout.export_prefix(plan.export_type, plan.export_time, plan.window_start),
        "changes_url": layout.url(join_key(layout.changes_root_prefix(), f"{SNAPSHOT_PARTITION}={stamp}")),
        "snapshot": stamp,
    }
