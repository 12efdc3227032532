"""Gap healing: when the stream may have dropped changes the table never got, the window to fill from an export.

A DynamoDB stream keeps records 24 hours. The table's watermark is the newest change it holds (or the end of the
last export merged into it). When the watermark is older than ``now - retention``, records written after it may
have been trimmed unread (the handler was down, the stream disabled, a shard lost). The missing window is
[watermark, first change the stream still delivered) — or [watermark, now) when no file came yet — and it is filled
from incremental exports (at most 24 hours each, at least 15 minutes) before any newer change file is merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ddb_lake.core.export.rules import MAX_INCREMENTAL_WINDOW, MIN_INCREMENTAL_WINDOW

STREAM_RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class HealWindow:
    start: datetime
    end: datetime
    reason: str


def heal_window(table: str, watermark: datetime, now: datetime, first_new: datetime | None,
                retention: timedelta = STREAM_RETENTION) -> HealWindow | None:
    """The next incremental export window that fills a possible stream gap, or None when the stream covers it.

    :param first_new: approximate creation time of the oldest change in the files waiting to be merged (None: none)
    """
    if watermark >= now - retention:
        return None
    target = first_new if first_new is not None and first_new > watermark else now
    end = min(max(target, watermark + MIN_INCREMENTAL_WINDOW), watermark + MAX_INCREMENTAL_WINDOW, now)
    more = "" if end >= target else f"; {target - end} more by the next run(s)"
    return HealWindow(watermark, end, (
        f"table {table}: its watermark {watermark.isoformat()} is older than the stream's {retention} retention "
        f"(now {now.isoformat()}): changes after it may have been trimmed unread. Healing "
        f"[{watermark.isoformat()}, {end.isoformat()}) from an incremental export"
        f"{' up to the first change the stream still delivered' if target is first_new else ''}{more}"))
