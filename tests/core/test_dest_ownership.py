"""What a conversion owns in its destination: exact names from its records, nothing else."""

from __future__ import annotations

import json

import pytest

from ddb_lake.core.convert.dest_ownership import (
    DestinationNotOwnedError,
    PartNames,
    check_destination,
    check_unpublished,
    foreign_names,
    is_attempt_folder,
    owned_by_records,
    owned_names,
    same_folder,
    stale_names,
    writing_record,
)

DEST = "s3://lake/snapshots/t/snapshot=1"


def _manifest(dest: str, *names: str) -> str:
    return json.dumps({"dest": dest, "files": [{"path": f"{dest}/{n}", "rows": 1, "bytes": 1} for n in names]})


def test_a_manifest_for_this_folder_owns_its_files_and_itself():
    records = {"_manifest.json": _manifest(DEST, "part-00000.parquet", "part-00001.parquet")}
    assert owned_by_records(DEST, records) == {"_manifest.json", "part-00000.parquet", "part-00001.parquet"}


def test_a_manifest_for_another_folder_owns_nothing():
    copied = _manifest("s3://lake/snapshots/t/snapshot=0", "part-00000.parquet")
    assert owned_by_records(DEST, {"_manifest.json": copied}) == frozenset()
    assert owned_names("{not json", DEST) == frozenset()
    assert owned_names(None, DEST) == frozenset()


def test_listed_paths_outside_the_folder_are_never_owned():
    record = json.dumps({"dest": DEST, "files": [f"{DEST}/part-00000.parquet", f"{DEST}/sub/x.parquet",
                                                 "s3://lake/other.csv", f"{DEST}/"]})
    assert owned_names(record, DEST + "/") == {"part-00000.parquet"}


def test_a_writing_record_of_a_killed_run_owns_what_it_listed():
    record = writing_record(DEST, {"part-00000.parquet", "part-00002.parquet", "_manifest.json"})
    assert json.loads(record) == {"dest": DEST, "files": [f"{DEST}/part-00000.parquet", f"{DEST}/part-00002.parquet"]}
    assert owned_by_records(DEST, {"_writing.json": record}) == {"_writing.json", "part-00000.parquet",
                                                                "part-00002.parquet"}


def test_a_part_rule_owns_exactly_the_listed_names_of_its_token_and_groups():
    rule = PartNames("0123456789ab", groups=2)
    record = writing_record(DEST, ["part-00000.parquet"], rule)
    assert json.loads(record) == {"dest": DEST, "files": [f"{DEST}/part-00000.parquet"],
                                  "parts": [{"token": "0123456789ab", "groups": 2}]}
    listed = ["part-0123456789ab-00000-00000.parquet", "part-0123456789ab-00001-00007.parquet",
              "part-0123456789ab-00002-00000.parquet",  # a group the conversion never had
              "part-0123456789ac-00000-00000.parquet",  # another conversion's token
              "part-0123456789ab-00000-00000.parquet.tmp", "sub/part-0123456789ab-00000-00000.parquet",
              "part-0123456789AB-00000-00000.parquet", "part-0123456789ab-0-0.parquet", "notes.txt"]
    assert owned_by_records(DEST, {"_writing.json": record}, listed) == {
        "_writing.json", "part-00000.parquet", "part-0123456789ab-00000-00000.parquet",
        "part-0123456789ab-00001-00007.parquet"}
    assert owned_by_records(DEST, {"_writing.json": record}) == {"_writing.json", "part-00000.parquet"}
    assert rule.name(1, 7) == "part-0123456789ab-00001-00007.parquet" and not PartNames.new(2).owns(rule.name(0, 0))


@pytest.mark.parametrize("parts", [[{"token": ".*", "groups": 5}], [{"token": "", "groups": 1}],
                                   [{"token": "0123456789ab", "groups": "9"}], [{"token": "0123456789ab"}],
                                   [{"token": "0123456789ab", "groups": True}], ["x"], {"token": "0123456789ab"}, 7])
def test_a_malformed_part_rule_claims_nothing(parts):
    record = json.dumps({"dest": DEST, "files": [], "parts": parts})
    assert owned_names(record, DEST, ["part-0123456789ab-00000-00000.parquet", "x.parquet"]) == frozenset()


def test_keep_foreign_never_lets_a_part_rule_claim_a_foreign_object():
    rule = PartNames("0123456789ab", groups=1)
    check_destination(DEST, ["notes.txt"], ["_writing.json"], keep_foreign=True, parts=rule)
    with pytest.raises(DestinationNotOwnedError, match=r"holds part-0123456789ab-00000-00003\.parquet, which"):
        check_destination(DEST, ["part-0123456789ab-00000-00003.parquet"], [], keep_foreign=True, parts=rule)


def test_local_folders_compare_as_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert same_folder("out", str(tmp_path / "out")) and same_folder("out/", "./out")
    assert not same_folder("out", "s3://out") and not same_folder("s3://lake/a", "s3://lake/a/b")


def test_foreign_objects_refuse_the_folder_naming_it_some_keys_and_the_fix():
    foreign = foreign_names(["_manifest.json", "a.csv", "b.csv", "c.csv", "d.csv", "part-00000.parquet"],
                            frozenset({"_manifest.json", "part-00000.parquet"}))
    assert foreign == ["a.csv", "b.csv", "c.csv", "d.csv"]
    with pytest.raises(DestinationNotOwnedError) as caught:
        check_destination(DEST, foreign, ["part-00000.parquet"], keep_foreign=False)
    assert str(caught.value) == (
        f"{DEST} is not empty and holds 4 object(s) that no earlier conversion to exactly this folder wrote, e.g. "
        "a.csv, b.csv, c.csv (and 1 more). Nothing was written or deleted. Fix: convert to an empty or new folder "
        "(e.g. one per snapshot), or keep them beside the new files with keep_foreign (--keep-foreign); they are "
        "never deleted.")
    assert caught.value.to_json() == {"error": "DestinationNotOwnedError", "message": str(caught.value),
                                      "dest": DEST, "foreign": ["a.csv", "b.csv", "c.csv"], "foreign_count": 4}


def test_keep_foreign_writes_beside_but_never_over_a_foreign_object():
    check_destination(DEST, ["notes.txt"], ["part-00000.parquet", "_manifest.json"], keep_foreign=True)
    with pytest.raises(DestinationNotOwnedError, match=r"holds part-00000\.parquet, which ddb-lake did not write"):
        check_destination(DEST, ["part-00000.parquet"], ["part-00000.parquet"], keep_foreign=True)


def test_stale_files_are_own_files_not_written_again():
    owned = frozenset({"_manifest.json", "_writing.json", "part-00000.parquet", "part-00001.parquet"})
    assert stale_names(owned, ["part-00000.parquet"]) == ["part-00001.parquet"]


def test_publish_markers_are_neither_foreign_nor_deleted():
    """A rerun into a published snapshot's folder keeps the markers retention reads (``core.lake.publish``)."""
    dest = "s3://lake/snapshots/orders/snapshot=20261122T000000Z"
    manifest = json.dumps({"dest": dest, "files": [f"{dest}/part-00000.parquet", f"{dest}/part-00001.parquet"]})
    owned = owned_by_records(dest, {"_manifest.json": manifest, "_writing.json": None})
    listed = ["_manifest.json", "part-00000.parquet", "part-00001.parquet", "_published.json", "_superseded.json"]
    assert foreign_names(listed, owned) == []
    assert stale_names(owned | {"_published.json"}, ["part-00000.parquet"]) == ["part-00001.parquet"]
    assert foreign_names([*listed, "notes.txt"], owned) == ["notes.txt"]


def test_a_folder_a_table_may_read_is_never_rewritten():
    attempt = "s3://lake/snapshots/orders/_attempts/snapshot=20261122T000000Z/attempt=run-0a1b2c3d-try1"
    assert is_attempt_folder(attempt) and is_attempt_folder(attempt + "/")
    assert not is_attempt_folder("s3://lake/snapshots/orders/snapshot=20261122T000000Z")
    assert not is_attempt_folder("s3://lake/x/snapshot=20261122T000000Z/attempt=r")  # not under _attempts
    check_unpublished(attempt, [], attempts_too=True)  # an empty (new) attempt folder is fine
    check_unpublished(attempt, ["_writing.json", "part-00000.parquet"], attempts_too=False)  # its own try's files
    with pytest.raises(DestinationNotOwnedError) as refused:
        check_unpublished(attempt, ["_manifest.json", "part-00000.parquet"], attempts_too=True)
    assert str(refused.value) == (
        f"{attempt} is a DAG convert try's attempt folder (a history partition may read it): ddb-lake never "
        "rewrites a folder readers may use. Nothing was written or deleted. Fix: convert to an empty or new folder."
    )
    fixed = "s3://lake/snapshots/orders/snapshot=20261122T000000Z"
    with pytest.raises(DestinationNotOwnedError, match=f"^{fixed} holds _published.json \\(a table was switched"):
        check_unpublished(fixed, ["_manifest.json", "_published.json"], attempts_too=False)
    check_unpublished(fixed, ["_manifest.json", "part-00000.parquet"], attempts_too=True)
