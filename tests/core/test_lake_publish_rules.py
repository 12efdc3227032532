"""Publish rules, exact values: the current table's snapshot, the publish decision, the snapshot completeness check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ddb_lake.core.errors import ConfigError, ValidationFailedError
from ddb_lake.core.lake.convert_summary import require_summary
from ddb_lake.core.lake.publish import (
    KEPT_NEWER,
    PUBLISHED,
    UNCHANGED,
    CurrentSnapshot,
    is_rollback,
    marker_body,
    marker_key,
    publish_action,
)
from ddb_lake.core.lake.snapshot_manifest import (
    ListedFile,
    check_file_sizes,
    file_key,
    manifest_files,
    manifest_key,
)

S1, S2 = "20261121T000000Z", "20261122T000000Z"
ROOT = "s3://lake/p/snapshots/orders/"
LOCATION = f"{ROOT}snapshot={S2}/"


def current_table(location: str, **parameters: str) -> dict:
    return {"Name": "orders", "StorageDescriptor": {"Location": location}, "Parameters": parameters}


def test_current_snapshot_of_a_published_table():
    table = current_table(f"{ROOT}snapshot={S1}/", **{"ddb_lake.snapshot": S1,
                                                      "ddb_lake.published_at": "2026-11-21T00:30:00+00:00"})
    current = CurrentSnapshot.of_table(table)
    assert current == CurrentSnapshot(f"{ROOT}snapshot={S1}/", S1, "2026-11-21T00:30:00+00:00")
    assert current.published_time() == datetime(2026, 11, 21, 0, 30, tzinfo=UTC)


def test_current_snapshot_of_no_table_or_a_foreign_one():
    assert CurrentSnapshot.of_table(None) == CurrentSnapshot(None, None, None)
    foreign = CurrentSnapshot.of_table({"StorageDescriptor": {"Location": "s3://x/y/"}})
    assert foreign == CurrentSnapshot("s3://x/y/", None, None)
    assert foreign.published_time() is None


def test_publish_action():
    assert publish_action(S2, LOCATION, CurrentSnapshot(), False) == PUBLISHED
    assert publish_action(S2, LOCATION, CurrentSnapshot(LOCATION.rstrip("/"), S2), False) == UNCHANGED
    newer = CurrentSnapshot(f"{ROOT}snapshot=20261123T000000Z/", "20261123T000000Z")
    assert publish_action(S2, LOCATION, newer, False) == KEPT_NEWER
    assert publish_action(S2, LOCATION, newer, True) == PUBLISHED
    older = CurrentSnapshot(f"{ROOT}snapshot={S1}/", S1)
    assert publish_action(S2, LOCATION, older, False) == PUBLISHED
    assert publish_action(S2, LOCATION, CurrentSnapshot("s3://x/y/", None), False) == PUBLISHED


def test_publish_markers_sit_in_the_snapshot_folder_with_hidden_names():
    assert marker_key(LOCATION, "_published.json") == ("lake", f"p/snapshots/orders/snapshot={S2}/_published.json")
    assert marker_key(LOCATION.rstrip("/"), "_superseded.json") == (
        "lake", f"p/snapshots/orders/snapshot={S2}/_superseded.json"
    )
    assert marker_body(S1, "db.orders", "2026-11-22T00:00:00+00:00", by=S2) == (
        '{"at": "2026-11-22T00:00:00+00:00", "by": "20261122T000000Z", "snapshot": "20261121T000000Z", '
        '"table": "db.orders"}'
    )
    assert marker_body(None, "db.orders", "t") == '{"at": "t", "snapshot": null, "table": "db.orders"}'


def test_is_rollback():
    assert is_rollback(S1, S2, allow_rollback=False) is True
    assert is_rollback(S1, S2, allow_rollback=True) is False
    assert is_rollback(S2, S1, allow_rollback=False) is False
    assert is_rollback(S2, S2, allow_rollback=False) is False
    assert is_rollback(S1, None, allow_rollback=False) is False


def manifest(*files: tuple[str, int]) -> str:
    import json

    return json.dumps({"files": [{"path": path, "rows": 1, "bytes": size} for path, size in files]})


def test_manifest_key_and_file_keys():
    assert manifest_key(LOCATION) == ("lake", f"p/snapshots/orders/snapshot={S2}/_manifest.json")
    assert file_key("lake", "p/s/", "part-00000.parquet") == ("lake", "p/s/part-00000.parquet")
    assert file_key("lake", "p/s/", "/part-00000.parquet") == ("lake", "p/s/part-00000.parquet")
    assert file_key("lake", "p/s/", "s3://other/x/part.parquet") == ("other", "x/part.parquet")


def test_manifest_files_lists_where_each_file_is():
    summary = {"files": [{"path": "part-00001.parquet"}, {"path": "part-00000.parquet"}]}
    files = manifest_files(LOCATION, manifest(("part-00000.parquet", 10), ("part-00001.parquet", 20)), summary)
    key = f"p/snapshots/orders/snapshot={S2}/"
    assert files == [ListedFile("part-00000.parquet", "lake", key + "part-00000.parquet", 10),
                     ListedFile("part-00001.parquet", "lake", key + "part-00001.parquet", 20)]
    no_files_in_summary = manifest_files(LOCATION, manifest(("a.parquet", 1)), {})
    assert no_files_in_summary == [ListedFile("a.parquet", "lake", key + "a.parquet", 1)]


def test_manifest_missing_or_listing_other_files_is_a_failed_validation():
    with pytest.raises(ValidationFailedError) as missing:
        manifest_files(LOCATION, None, {})
    assert str(missing.value) == f"snapshot {LOCATION} has no _manifest.json: the convert task did not finish it"
    with pytest.raises(ValidationFailedError) as other:
        manifest_files(LOCATION, manifest(("a.parquet", 1)), {"files": [{"path": "b.parquet"}]})
    assert str(other.value) == f"snapshot {LOCATION}: _manifest.json lists other files than the convert summary"


def test_check_file_sizes_names_file_and_both_sizes():
    files = [ListedFile("a.parquet", "lake", "k/a.parquet", 10), ListedFile("b.parquet", "lake", "k/b.parquet", 20)]
    check_file_sizes(LOCATION, files, {"a.parquet": 10, "b.parquet": 20})
    with pytest.raises(ValidationFailedError) as short:
        check_file_sizes(LOCATION, files, {"a.parquet": 10, "b.parquet": 3})
    assert str(short.value) == f"snapshot {LOCATION}: file b.parquet is 3 bytes, the manifest says 20 bytes"
    with pytest.raises(ValidationFailedError) as gone:
        check_file_sizes(LOCATION, files, {"a.parquet": None, "b.parquet": 20})
    assert str(gone.value) == f"snapshot {LOCATION}: file a.parquet is missing, the manifest says 10 bytes"


def test_require_summary():
    summary = {"snapshot": S2}
    assert require_summary(summary, "publish") is summary
    with pytest.raises(ConfigError) as refused:
        require_summary("{'snapshot': 'x'}", "publish")
    assert str(refused.value) == (
        "publish: convert_summary must be the convert task's dict (pass the XComArg, or render templates as native "
        "objects); got str \"{'snapshot': 'x'}\""
    )
