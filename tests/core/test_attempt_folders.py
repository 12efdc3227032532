"""Attempt folders: their names, where they sit, how the catalog reads them, and retention over them (exact values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.lake.glue_table import attempt_of_location, parent_location, snapshot_location
from ddb_lake.core.lake.layout import TableLayout, attempt_id, attempt_url, attempts_key
from ddb_lake.core.lake.retention import (
    FolderPlan,
    FolderTimes,
    SnapshotFolder,
    converted_folders,
    folder_name,
    folder_stamp,
    plan_folder_retention,
)

RUN = "scheduled__2026-11-22T00:00:00+00:00"
S19, S20, S21, S22 = "20261119T000000Z", "20261120T000000Z", "20261121T000000Z", "20261122T000000Z"
ROOT = "s3://b/p/snapshots/t/"
T0 = datetime(2026, 11, 22, tzinfo=UTC)
GRACE = timedelta(hours=6)


def attempt(stamp: str, name: str) -> str:
    return f"{ROOT}_attempts/snapshot={stamp}/attempt={name}/"


def test_attempt_id_is_the_run_and_the_try():
    first = attempt_id(RUN, 1)
    assert first == "scheduled-2026-11-22t00-00-00-00-00-71bbca42-try1"
    assert attempt_id(RUN, 2) == "scheduled-2026-11-22t00-00-00-00-00-71bbca42-try2"  # a retry: same run part
    assert attempt_id("manual__2026-11-22T00:00:00+00:00", 1) == "manual-2026-11-22t00-00-00-00-00-4131cba4-try1"
    assert attempt_id("A" * 80, 3) == "a" * 40 + "-d9b1f3e2-try3"  # long run ids: slug cut, hash kept
    assert attempt_id("::", 1) == "run-71546855-try1"
    assert attempt_id(RUN, 1) == first  # the same try always names the same folder
    for run_id, try_number in (("", 1), (RUN, 0)):
        with pytest.raises(ValueError, match="an attempt needs a run id and a try number >= 1"):
            attempt_id(run_id, try_number)


def test_attempt_folders_sit_beside_the_snapshots_in_a_hidden_folder():
    layout = TableLayout("b", "p", "t")
    assert layout.attempts_prefix(T0) == f"p/snapshots/t/_attempts/snapshot={S22}"
    assert attempts_key(f"p/changes/t/snapshot={S21}-{S22}") == f"p/changes/t/_attempts/snapshot={S21}-{S22}"
    assert attempt_url(f"s3://b/p/snapshots/t/_attempts/snapshot={S22}/", "x-try1") == (
        f"s3://b/p/snapshots/t/_attempts/snapshot={S22}/attempt=x-try1"
    )


def test_the_catalog_reads_an_attempt_folder_as_its_snapshot():
    url = attempt(S22, "r-try1").rstrip("/")
    assert snapshot_location({"snapshot": S22, "snapshot_prefix": url}) == (S22, url + "/")
    assert attempt_of_location(url) == "r-try1"
    assert attempt_of_location(f"{ROOT}snapshot={S22}/") is None
    assert attempt_of_location(f"{ROOT}other/snapshot={S22}/attempt=x/") is None  # not under _attempts
    assert parent_location(url) == ROOT  # the history table stays at the snapshots' root
    with pytest.raises(ConfigError, match=f"does not end in snapshot={S21}/"):
        snapshot_location({"snapshot": S21, "snapshot_prefix": url})


def test_listed_objects_group_into_converted_folders():
    objects = [
        (f"p/snapshots/t/snapshot={S19}/part-00000.parquet", T0),
        (f"p/snapshots/t/_attempts/snapshot={S22}/attempt=a/part-00000.parquet", T0),
        (f"p/snapshots/t/_attempts/snapshot={S22}/attempt=a/_manifest.json", T0),
        (f"p/snapshots/t/_attempts/snapshot={S22}/stray.json", T0),
        ("p/snapshots/t/notes.txt", T0),
    ]
    grouped, skipped = converted_folders("p/snapshots/t", objects)
    assert sorted(grouped) == [f"p/snapshots/t/_attempts/snapshot={S22}/attempt=a/", f"p/snapshots/t/snapshot={S19}/"]
    assert len(grouped[f"p/snapshots/t/_attempts/snapshot={S22}/attempt=a/"]) == 2
    assert skipped == [f"p/snapshots/t/_attempts/snapshot={S22}/stray.json", "p/snapshots/t/notes.txt"]
    assert folder_stamp(attempt(S22, "a")) == S22 and folder_stamp(f"{ROOT}snapshot={S19}/") == S19
    assert folder_name(attempt(S22, "a")) == f"{S22}/attempt=a" and folder_name(f"{ROOT}snapshot={S19}/") == S19


def test_publish_files_do_not_date_a_folder():
    objects = [("f/part-00000.parquet", T0), ("f/_manifest.json", T0 + timedelta(seconds=3)),
               ("f/_contract.json", T0 + timedelta(hours=5)), ("f/_published.json", T0 + timedelta(hours=5))]
    assert FolderTimes.of_objects(objects) == FolderTimes(T0 + timedelta(seconds=3), published=T0 + timedelta(hours=5))


# S19: a fixed folder from before attempts, published then superseded; its partition reads it.
# S20: attempt a was published and superseded; a rerun wrote attempt b (never published: it kept the newer
#      snapshot current) and the catalog moved the partition to b, writing a's _superseded.json at T0-1d.
# S21: attempt a is current (published at T0); attempt b is a killed rerun written at T0+1h that nothing reads.
# S22: attempt a is a killed first run: no partition, never published.
FOLDERS = [
    SnapshotFolder(f"{ROOT}snapshot={S19}/", S19, FolderTimes(T0 - timedelta(days=3), published=T0 - timedelta(days=3),
                                                              superseded=T0 - timedelta(days=2))),
    SnapshotFolder(attempt(S20, "a"), S20, FolderTimes(T0 - timedelta(days=2), published=T0 - timedelta(days=2),
                                                       superseded=T0 - timedelta(days=1))),
    SnapshotFolder(attempt(S20, "b"), S20, FolderTimes(T0 - timedelta(days=1))),
    SnapshotFolder(attempt(S21, "a"), S21, FolderTimes(T0 - timedelta(hours=1), published=T0)),
    SnapshotFolder(attempt(S21, "b"), S21, FolderTimes(T0 + timedelta(hours=1))),
    SnapshotFolder(attempt(S22, "a"), S22, FolderTimes(T0 - timedelta(days=1))),
]
PARTITIONS = {S19: f"{ROOT}snapshot={S19}", S20: attempt(S20, "b"), S21: attempt(S21, "a")}


def plan(now: datetime, keep_last: int = 1, current: str | None = attempt(S21, "a")) -> FolderPlan:
    return plan_folder_retention(FOLDERS, current_location=current, partitions=PARTITIONS, published_at=T0, now=now,
                                 grace=GRACE, keep_last=keep_last)


def test_retention_deletes_superseded_and_abandoned_attempts_and_drops_their_partitions():
    result = plan(T0 + timedelta(hours=8))
    assert result.keep == {attempt(S21, "a"): "the current table points at it"}
    assert result.delete == {
        attempt(S22, "a"): "never published, last written 2026-11-21T00:00:00+00:00, grace 6:00:00 passed",
        attempt(S21, "b"): "never published, last written 2026-11-22T01:00:00+00:00, grace 6:00:00 passed",
        attempt(S20, "b"): "never published, last written 2026-11-21T00:00:00+00:00, grace 6:00:00 passed",
        attempt(S20, "a"): "published, not current since 2026-11-21T00:00:00+00:00, grace 6:00:00 passed",
        f"{ROOT}snapshot={S19}/": "published, not current since 2026-11-20T00:00:00+00:00, grace 6:00:00 passed",
    }
    assert result.drop_partitions == (S19, S20)  # the folders their partitions read go: partitions first


def test_a_killed_rerun_of_the_current_snapshot_is_kept_for_the_grace():
    result = plan(T0 + timedelta(hours=6))
    assert result.keep[attempt(S21, "b")] == (
        "written at 2026-11-22T01:00:00+00:00, within the grace period: a run may still use it"
    )
    assert attempt(S21, "b") not in result.delete and attempt(S21, "a") in result.keep


def test_keep_last_protects_the_folder_a_partition_reads_not_its_sibling_attempts():
    result = plan(T0 + timedelta(hours=8), keep_last=3)
    assert result.keep[f"{ROOT}snapshot={S19}/"] == "one of the newest 3"
    assert result.keep[attempt(S20, "b")] == "one of the newest 3"
    assert sorted(result.delete) == [attempt(S20, "a"), attempt(S21, "b"), attempt(S22, "a")]
    assert result.drop_partitions == ()
    # a killed first run (S22, no partition) is no "newest snapshot": keep_last counts snapshots something reads
    assert attempt(S22, "a") in plan(T0 + timedelta(hours=8), keep_last=1).delete


def test_a_partition_move_starts_the_grace_of_the_folder_it_left():
    moved = [*FOLDERS[:1], SnapshotFolder(attempt(S20, "a"), S20, FolderTimes(
        T0 - timedelta(days=2), published=T0 - timedelta(days=2), superseded=T0 + timedelta(hours=3))), *FOLDERS[2:]]
    result = plan_folder_retention(moved, current_location=attempt(S21, "a"), partitions=PARTITIONS,
                                   published_at=T0, now=T0 + timedelta(hours=8), grace=GRACE, keep_last=1)
    assert result.keep[attempt(S20, "a")] == ("grace period: not current since 2026-11-22T03:00:00+00:00, readers "
                                             "may hold its files until 2026-11-22T09:00:00+00:00")


def test_nothing_is_deleted_when_the_current_table_reads_no_listed_folder():
    for current in (None, "s3://elsewhere/x/"):
        result = plan(T0 + timedelta(days=30), current=current)
        assert result.delete == {} and result.drop_partitions == ()
        assert set(result.keep.values()) == {"nothing is published yet, or the current table reads another folder"}
