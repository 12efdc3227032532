"""The converter replaces only its own files in a local destination: after a killed run, a rerun, a copied folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.ddb_profile import RawShapeError
from ddb_lake.core.convert.dest_ownership import DestinationNotOwnedError, PartNames, writing_record
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType


def _export(tmp_path: Path, files: int = 3) -> Path:
    data = [[item_line({"pk": {"S": f"f{f}-{i}"}, "n": {"N": str(i)}}) for i in range(20)] for f in range(files)]
    return write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-dest0000", data)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_rerun_after_a_killed_run_replaces_what_the_killed_run_left(tmp_path: Path):
    dest = tmp_path / "snapshot=1"
    dest.mkdir()
    # What a run killed in pass 2 leaves: its _writing.json (the parts of 2 groups by rule, one older file by name),
    # the parts it had placed, and the older file; no manifest.
    killed = PartNames("0123456789ab", groups=2)
    (dest / "_writing.json").write_text(writing_record(str(dest), ["part-00000.parquet"], killed))
    for name in ("part-00000.parquet", killed.name(0, 0), killed.name(0, 1), killed.name(1, 0)):
        (dest / name).write_bytes(b"half written")
    summary = convert_export(str(_export(tmp_path)), str(dest), workers=1)
    (part,) = [Path(f["path"]).name for f in summary["files"]]
    assert re.fullmatch(r"part-[0-9a-f]{12}-00000-00000\.parquet", part) and not killed.owns(part)
    assert _names(dest) == ["_manifest.json", part]
    assert pq.read_table(dest).num_rows == summary["items"] == 60


def test_a_name_like_a_killed_runs_parts_but_not_its_own_is_foreign(tmp_path: Path):
    dest = tmp_path / "snapshot=1"
    dest.mkdir()
    killed = PartNames("0123456789ab", groups=2)
    (dest / "_writing.json").write_text(writing_record(str(dest), [], killed))
    (dest / killed.name(0, 0)).write_bytes(b"half written")
    (dest / killed.name(2, 0)).write_bytes(b"a group the killed run never had")
    with pytest.raises(DestinationNotOwnedError) as caught:
        convert_export(str(_export(tmp_path)), str(dest), workers=1)
    assert caught.value.foreign == [killed.name(2, 0)]
    assert _names(dest) == ["_writing.json", killed.name(0, 0), killed.name(2, 0)]


def test_a_rerun_with_fewer_parts_deletes_its_own_stale_parts_only(tmp_path: Path):
    src, dest = _export(tmp_path), tmp_path / "snapshot=1"
    first = convert_export(str(src), str(dest), workers=3)
    assert len(first["files"]) == 3
    again = convert_export(str(src), str(dest), workers=1)
    (part,) = [Path(f["path"]).name for f in again["files"]]
    assert again["files"][0]["path"] == str(dest / part)
    assert _names(dest) == ["_manifest.json", part]
    assert json.loads((dest / "_manifest.json").read_text())["files"] == again["files"]


def test_a_snapshot_copied_from_elsewhere_is_not_owned(tmp_path: Path):
    src = _export(tmp_path, files=1)
    convert_export(str(src), str(tmp_path / "a"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    with pytest.raises(DestinationNotOwnedError, match=r"b is not empty and holds 2 object\(s\)") as caught:
        convert_export(str(src), str(tmp_path / "b"))
    assert caught.value.foreign == _names(tmp_path / "a")
    assert (tmp_path / "b" / "_manifest.json").read_bytes() == (tmp_path / "a" / "_manifest.json").read_bytes()


def test_a_foreign_folder_is_refused_before_the_export_is_read(tmp_path: Path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.csv").write_text("x")
    with pytest.raises(DestinationNotOwnedError):
        convert_export(str(tmp_path / "no-such-export"), str(dest))  # the refusal comes first, not a missing export
    assert [p.name for p in dest.iterdir()] == ["keep.csv"]


def test_a_conversion_failing_in_pass_2_withdraws_the_parts_it_placed(tmp_path: Path):
    """Parts are placed as they close; when a later group fails, the destination is left as it was found."""
    files = [[item_line({"pk": {"S": f"f{f}-{i}"}, "n": {"N": str(i) if f < 2 else "123456789.5"}})
              for i in range(20)] for f in range(3)]
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-dest0001", files)
    fixed = LakeSchema((LakeField("n", "n", LakeType("decimal", precision=4, scale=2)),
                        LakeField("pk", "pk", LakeType("string"))))
    knobs = {"workers": 1, "target_file_bytes": 256, "row_group_rows": 5, "fixed_schema": fixed}
    placed = convert_export(str(src), str(tmp_path / "first-two"), only_files=[0, 1], **knobs)
    assert len(placed["files"]) >= 2  # the groups before the failing one place parts of their own
    dest = tmp_path / "snapshot=1"
    with pytest.raises(RawShapeError, match="number does not fit"):
        convert_export(str(src), str(dest), **knobs)
    assert list(dest.iterdir()) == [] and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
