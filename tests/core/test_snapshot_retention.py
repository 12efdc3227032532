"""Retention planning: the current snapshot, newer ones and the grace period are never deleted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ddb_lake.core.lake.retention import current_snapshot, plan_retention, snapshot_folders

STAMPS = ["20261119T000000Z", "20261120T000000Z", "20261121T000000Z", "20261122T000000Z"]
PUBLISHED = datetime(2026, 11, 21, 0, 30, tzinfo=timezone.utc)


def plan(now: datetime, current: str | None = "20261121T000000Z", keep_last: int = 1, published=PUBLISHED):
    return plan_retention(STAMPS, current=current, published_at=published, now=now, grace=timedelta(hours=6),
                          keep_last=keep_last)


def test_inside_grace_nothing_is_deleted():
    result = plan(PUBLISHED + timedelta(hours=5, minutes=59))
    assert result.delete == {}
    assert "grace period" in result.keep["20261120T000000Z"]


def test_after_grace_older_snapshots_go_but_current_and_newer_stay():
    result = plan(PUBLISHED + timedelta(hours=6))
    assert sorted(result.delete) == ["20261119T000000Z", "20261120T000000Z"]
    assert result.keep["20261121T000000Z"] == "the current table points at it"
    assert result.keep["20261122T000000Z"].startswith("newer than the current")


def test_keep_last_counts_from_the_newest():
    result = plan(PUBLISHED + timedelta(days=9), keep_last=3)
    assert sorted(result.delete) == ["20261119T000000Z"]
    assert result.keep["20261120T000000Z"] == "one of the newest 3"


def test_unknown_current_or_publish_time_deletes_nothing():
    assert plan(PUBLISHED + timedelta(days=9), current=None).delete == {}
    assert plan(PUBLISHED + timedelta(days=9), published=None).delete == {}


def test_bad_input():
    with pytest.raises(ValueError, match="keep_last"):
        plan(PUBLISHED, keep_last=0)
    with pytest.raises(ValueError):
        plan_retention(["nope"], current=None, published_at=None, now=PUBLISHED, grace=timedelta(0), keep_last=1)


def test_keep_last_below_one_is_a_terminal_config_error():
    from ddb_lake.core.errors import ConfigError

    with pytest.raises(ConfigError, match="keep_last must be at least 1, got 0"):
        plan(PUBLISHED, keep_last=0)


def test_snapshot_folders_keeps_only_snapshot_folders():
    listed = ["p/snapshots/t/snapshot=20261121T000000Z/", "p/snapshots/t/_tmp/", "p/snapshots/t/snapshot=/",
              "p/snapshots/t/snapshot=20261122T000000Z/"]
    assert snapshot_folders(listed) == (
        {"20261121T000000Z": "p/snapshots/t/snapshot=20261121T000000Z/",
         "20261122T000000Z": "p/snapshots/t/snapshot=20261122T000000Z/"},
        ["p/snapshots/t/_tmp/", "p/snapshots/t/snapshot=/"],
    )


def test_current_snapshot_is_the_folder_the_current_table_reads():
    urls = {"20261121T000000Z": "s3://b/p/snapshots/t/snapshot=20261121T000000Z/",
            "20261122T000000Z": "s3://b/p/snapshots/t/snapshot=20261122T000000Z/"}
    assert current_snapshot(urls, "s3://b/p/snapshots/t/snapshot=20261122T000000Z") == "20261122T000000Z"
    assert current_snapshot(urls, "s3://other/p/snapshots/t/snapshot=20261122T000000Z/") is None
    assert current_snapshot(urls, None) is None
    assert current_snapshot({}, "s3://b/p/snapshots/t/snapshot=20261122T000000Z/") is None
