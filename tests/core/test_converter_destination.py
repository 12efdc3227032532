"""The converter replaces only its own files in a local destination: after a killed run, a rerun, a copied folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.dest_ownership import DestinationNotOwnedError, writing_record
from ddb_lake.core.convert.export_writer import item_line, write_export


def _export(tmp_path: Path, files: int = 3) -> Path:
    data = [[item_line({"pk": {"S": f"f{f}-{i}"}, "n": {"N": str(i)}}) for i in range(20)] for f in range(files)]
    return write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-dest0000", data)


def test_a_rerun_after_a_killed_run_replaces_what_the_killed_run_left(tmp_path: Path):
    dest = tmp_path / "snapshot=1"
    dest.mkdir()
    # What a run killed after its third part leaves: its _writing.json and parts, no manifest.
    (dest / "_writing.json").write_text(writing_record(str(dest), [f"part-{n:05d}.parquet" for n in range(4)]))
    for n in range(3):
        (dest / f"part-{n:05d}.parquet").write_bytes(b"half written")
    summary = convert_export(str(_export(tmp_path)), str(dest), workers=1)
    assert sorted(p.name for p in dest.iterdir()) == ["_manifest.json", "part-00000.parquet"]
    assert pq.read_table(dest).num_rows == summary["items"] == 60


def test_a_rerun_with_fewer_parts_deletes_its_own_stale_parts_only(tmp_path: Path):
    src, dest = _export(tmp_path), tmp_path / "snapshot=1"
    first = convert_export(str(src), str(dest), workers=3)
    assert len(first["files"]) == 3
    again = convert_export(str(src), str(dest), workers=1)
    assert [f["path"] for f in again["files"]] == [str(dest / "part-00000.parquet")]
    assert sorted(p.name for p in dest.iterdir()) == ["_manifest.json", "part-00000.parquet"]
    assert json.loads((dest / "_manifest.json").read_text())["files"] == again["files"]


def test_a_snapshot_copied_from_elsewhere_is_not_owned(tmp_path: Path):
    src = _export(tmp_path, files=1)
    convert_export(str(src), str(tmp_path / "a"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    with pytest.raises(DestinationNotOwnedError, match=r"b is not empty and holds 2 object\(s\)") as caught:
        convert_export(str(src), str(tmp_path / "b"))
    assert caught.value.foreign == ["_manifest.json", "part-00000.parquet"]
    assert (tmp_path / "b" / "_manifest.json").read_bytes() == (tmp_path / "a" / "_manifest.json").read_bytes()


def test_a_foreign_folder_is_refused_before_the_export_is_read(tmp_path: Path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.csv").write_text("x")
    with pytest.raises(DestinationNotOwnedError):
        convert_export(str(tmp_path / "no-such-export"), str(dest))  # the refusal comes first, not a missing export
    assert [p.name for p in dest.iterdir()] == ["keep.csv"]
