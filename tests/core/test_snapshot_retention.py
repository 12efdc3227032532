"""Retention planning: only superseded or abandoned folders go, never the current one, never inside the grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.lake.retention import FolderTimes, check_grace, current_snapshot, plan_retention, snapshot_folders

S19, S20, S21, S22 = "20261119T000000Z", "20261120T000000Z", "20261121T000000Z", "20261122T000000Z"
T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
GRACE = timedelta(hours=6)
# S19 and S20 were published in turn, S21 is current (published at T0), S22 is a newer run still validating.
PUBLISHED = T0
FOLDERS = {
    S19: FolderTimes(T0 - timedelta(days=3), published=T0 - timedelta(days=3), superseded=T0 - timedelta(days=2)),
    S20: FolderTimes(T0 - timedelta(days=2), published=T0 - timedelta(days=2), superseded=T0 + timedelta(minutes=1)),
    S21: FolderTimes(T0 - timedelta(hours=1), published=T0),
    S22: FolderTimes(T0 + timedelta(hours=1)),
}


def plan(now: datetime, folders=FOLDERS, current: str | None = S21, keep_last: int = 1, published=PUBLISHED):
    return plan_retention(folders, current=current, published_at=published, now=now, grace=GRACE,
                          keep_last=keep_last)


def test_a_superseded_snapshot_stays_for_the_grace_counted_from_its_own_supersede_marker():
    result = plan(T0 + timedelta(hours=6))
    assert result.delete == {S19: "published, not current since 2026-11-20T00:00:00+00:00, grace 6:00:00 passed"}
    assert result.keep[S20] == ("grace period: not current since 2026-11-22T00:01:00+00:00, readers may hold its "
                                "files until 2026-11-22T06:01:00+00:00")
    assert result.keep[S21] == "the current table points at it"
    assert result.keep[S22] == "one of the newest 1"
    assert sorted(plan(T0 + timedelta(hours=6, minutes=1)).delete) == [S19, S20]


def test_a_sibling_snapshot_never_published_is_kept_while_young_and_deleted_once_abandoned():
    sibling = {**FOLDERS, S20: FolderTimes(T0 + timedelta(hours=2))}  # an older interval's backfill, validating
    assert "within the grace period" in plan(T0 + timedelta(hours=7), sibling).keep[S20]
    result = plan(T0 + timedelta(hours=8), sibling)
    assert result.delete[S20] == "never published, last written 2026-11-22T02:00:00+00:00, grace 6:00:00 passed"
    assert result.keep[S22] == "one of the newest 1"


def test_a_publish_between_decision_and_switch_keeps_its_folder_for_the_grace():
    # S20's data is old but a publish wrote its _published.json at T0+1h and has not switched yet.
    held = {**FOLDERS, S20: FolderTimes(T0 - timedelta(days=2), published=T0 + timedelta(hours=1))}
    assert "not current since 2026-11-22T01:00:00+00:00" in plan(T0 + timedelta(hours=6, minutes=30), held).keep[S20]
    assert S20 in plan(T0 + timedelta(hours=7), held).delete


def test_without_a_supersede_marker_the_current_publish_time_bounds_it():
    # The publish that replaced S20 died after its switch, before writing S20's _superseded.json.
    lost = {**FOLDERS, S20: FolderTimes(T0 - timedelta(days=2), published=T0 - timedelta(days=2))}
    assert "not current since 2026-11-22T00:00:00+00:00" in plan(T0 + timedelta(hours=5), lost).keep[S20]
    assert plan(T0 + timedelta(days=9), lost, published=None).keep[S20] == (
        "published, and when it stopped being current is unknown"
    )
    # republished after its last supersede: _published.json is newer, so the marker says nothing
    again = {**FOLDERS, S19: FolderTimes(T0 - timedelta(days=3), published=T0 - timedelta(hours=1),
                                        superseded=T0 - timedelta(days=2))}
    assert "not current since 2026-11-22T00:00:00+00:00" in plan(T0 + timedelta(hours=5), again).keep[S19]


def test_keep_last_counts_from_the_newest():
    result = plan(T0 + timedelta(days=9), keep_last=3)
    assert sorted(result.delete) == [S19]
    assert result.keep[S20] == "one of the newest 3"


def test_unknown_current_deletes_nothing():
    result = plan(T0 + timedelta(days=9), current=None)
    assert result.delete == {}
    assert result.keep[S19] == "nothing is published yet, or the current table reads another folder"


def test_grace_must_be_more_than_zero():
    assert check_grace(timedelta(seconds=1)) == timedelta(seconds=1)
    for grace in (timedelta(0), timedelta(hours=-1)):
        with pytest.raises(ConfigError, match=r"grace period must be more than 0, got .*retention\.grace_hours"):
            check_grace(grace)
    with pytest.raises(ConfigError, match="grace period must be more than 0, got 0:00:00"):
        plan_retention(FOLDERS, current=S21, published_at=T0, now=T0, grace=timedelta(0), keep_last=1)


def test_bad_input():
    with pytest.raises(ConfigError, match="keep_last must be at least 1, got 0"):
        plan(T0, keep_last=0)
    with pytest.raises(ValueError):
        plan_retention({"nope": FolderTimes()}, current=None, published_at=None, now=T0, grace=GRACE, keep_last=1)


def test_folder_times_of_listed_objects():
    objects = [("p/snapshot=x/part-00000.parquet", T0), ("p/snapshot=x/_manifest.json", T0 + timedelta(seconds=5)),
               ("p/snapshot=x/_published.json", T0 + timedelta(hours=1)),
               ("p/snapshot=x/_superseded.json", T0 + timedelta(hours=2))]
    assert FolderTimes.of_objects(objects) == FolderTimes(
        T0 + timedelta(seconds=5), published=T0 + timedelta(hours=1), superseded=T0 + timedelta(hours=2)
    )
    assert FolderTimes.of_objects([]) == FolderTimes()
    assert not FolderTimes(T0).was_published()
    assert FolderTimes(T0, superseded=T0).was_published()


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
