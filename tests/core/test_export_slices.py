"""An export converted as slices (mapped tasks) and unified gives exactly what one process gives."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_slices import (
    cast_plan,
    convert_slice,
    export_slice_plan,
    plan_slices,
    unify_slices,
)
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.convert.storage import Storage
from ddb_lake.core.errors import ExportFormatError
from ddb_lake.core.schema.lake_schema import LakeSchema


def test_plan_slices_balances_bytes_deterministically():
    assert plan_slices([10, 40, 20, 30], 2) == [[0, 1], [2, 3]]  # 40+10 and 30+20
    assert plan_slices([5, 5, 5], 8) == [[0], [1], [2]]  # never an empty slice
    assert plan_slices([], 4) == [[]]
    assert plan_slices([1, 2, 3, 4, 5, 6, 7, 8], 1) == [[0, 1, 2, 3, 4, 5, 6, 7]]


FILES = [
    # slice 0: n int64, no extra; userId only
    [{"pk": {"S": f"a{i}"}, "n": {"N": str(i)}, "userId": {"S": "camel"}, "mixed": {"S": "s"}} for i in range(30)],
    # slice 1: n decimal, sparse 'extra' only here
    [{"pk": {"S": f"b{i}"}, "n": {"N": f"{i}.25"}, "extra": {"BOOL": True}, "mixed": {"S": "t"}} for i in range(30)],
    # slice 2: userid too (collides with userId), mixed is a number here: json across the export
    [{"pk": {"S": f"c{i}"}, "n": {"N": "7"}, "userid": {"S": "lower"}, "mixed": {"N": "1.50"}} for i in range(30)],
    # slice 3: same as slice 0's shape: only numbers to widen
    [{"pk": {"S": f"d{i}"}, "n": {"N": str(-i)}, "userId": {"S": "x"}, "mixed": {"S": "u"}} for i in range(30)],
]


def _rows(folder: Path):
    table = pq.read_table(folder)
    return table.sort_by("pk"), pq.ParquetFile(next(folder.glob("part-*.parquet"))).schema_arrow


def test_slices_unify_to_exactly_the_one_process_result(tmp_path: Path):
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-slices01",
                       [[item_line(item) for item in items] for items in FILES])
    whole = convert_export(str(src), str(tmp_path / "worker"), workers=1)
    storage = Storage()
    plan = export_slice_plan(str(src), 4, storage)
    assert sorted(s["files"] for s in plan) == [[0], [1], [2], [3]]
    slices_url = str(tmp_path / "slices")
    records = [convert_slice(str(src), slices_url, s["slice"], s["files"], storage=storage, workers=1) for s in plan]
    notes: list[str] = []
    mapped = unify_slices(str(src), str(tmp_path / "mapped"), records, storage=storage, progress=notes.append)
    assert mapped["schema"] == whole["schema"]
    assert mapped["items"] == whole["items"] == 120
    worker_rows, worker_schema = _rows(tmp_path / "worker")
    mapped_rows, mapped_schema = _rows(tmp_path / "mapped")
    assert mapped_schema.equals(worker_schema, check_metadata=True)
    assert mapped_rows.equals(worker_rows)
    kinds = {f["attribute"]: (f["name"], f["type"]["kind"]) for f in mapped["schema"]["fields"]}
    assert kinds["mixed"] == ("mixed", "json") and kinds["n"] == ("n", "decimal")
    assert kinds["userid"] == ("userid", "string") and kinds["userId"][0].startswith("userid_")
    assert notes[-1].endswith("(reconverted: 4)")  # each slice holds one tag of mixed: json needs the values again


def test_a_rerun_of_a_finished_slice_is_a_no_op_and_a_failed_slice_retries_alone(tmp_path: Path):
    same = [[{"pk": {"S": f"{f}-{i}"}, "n": {"N": str(i)}} for i in range(20)] for f in range(3)]
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-slices02",
                       [[item_line(item) for item in items] for items in same])
    storage = Storage()
    plan = export_slice_plan(str(src), 3, storage)
    slices_url = str(tmp_path / "slices")
    data = sorted((src / "data").iterdir())
    good = data[1].read_bytes()
    data[1].write_bytes(good[:-12])  # slice 1's file is cut short: its try fails, the others finish
    first = {}
    for s in plan:
        try:
            first[s["slice"]] = convert_slice(str(src), slices_url, s["slice"], s["files"], storage=storage)
        except ExportFormatError as error:  # the slice whose file is cut short
            first[s["slice"]] = error
    failing = next(s["slice"] for s in plan if s["files"] == [1])
    assert sorted(k for k, v in first.items() if isinstance(v, dict)) == sorted({0, 1, 2} - {failing})
    assert type(first[failing]).__name__ == "TruncatedGzipError"
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "slices").rglob("*.parquet")}
    data[1].write_bytes(good)
    again = [convert_slice(str(src), slices_url, s["slice"], s["files"], storage=storage) for s in plan]
    assert [r["reused"] for r in again] == [n != failing for n in range(3)]  # only the failed slice converts
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # the finished slices' files untouched
    notes: list[str] = []
    summary = unify_slices(str(src), str(tmp_path / "out"), again, storage=storage, progress=notes.append)
    assert summary["items"] == 60 and "copied: 3" in notes[-1]
    assert pq.read_table(tmp_path / "out").num_rows == 60


def test_cast_plan_widens_numbers_and_adds_nulls_only():
    own = LakeSchema.from_json({"fields": [
        {"name": "pk", "attribute": "pk", "type": {"kind": "string"}},
        {"name": "n", "attribute": "n", "type": {"kind": "int64"}}]})
    wide = LakeSchema.from_json({"fields": [
        {"name": "pk", "attribute": "pk", "type": {"kind": "string"}},
        {"name": "n", "attribute": "n", "type": {"kind": "decimal", "precision": 21, "scale": 2}},
        {"name": "extra", "attribute": "extra", "type": {"kind": "bool"}}]})
    plan = cast_plan(own, wide)
    assert plan is not None and plan["extra"] is None and plan["n"].kind == "int64"
    narrow = LakeSchema.from_json({"fields": [
        {"name": "pk", "attribute": "pk", "type": {"kind": "string"}},
        {"name": "n", "attribute": "n", "type": {"kind": "decimal", "precision": 10, "scale": 2}}]})
    assert cast_plan(own, narrow) is not None  # a safe cast: it raises (and the slice is re-read) if a value overflows
    as_json = LakeSchema.from_json({"fields": [
        {"name": "pk", "attribute": "pk", "type": {"kind": "string"}},
        {"name": "n", "attribute": "n", "type": {"kind": "json"}}]})
    assert cast_plan(own, as_json) is None


@pytest.mark.parametrize("slices", [1, 2, 3])
def test_cast_promotion_keeps_values_exact(tmp_path: Path, slices: int):
    files = [[{"pk": {"S": f"{f}-{i}"}, "n": {"N": str(i * 10**f)}, **({"x": {"S": "y"}} if f == 2 else {})}
              for i in range(10)] for f in range(3)]
    files[1][3]["n"] = {"N": "12345678901234567.5"}
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-slices03",
                       [[item_line(item) for item in items] for items in files])
    convert_export(str(src), str(tmp_path / "worker"), workers=1)
    storage = Storage()
    records = [convert_slice(str(src), str(tmp_path / "slices"), s["slice"], s["files"], storage=storage)
               for s in export_slice_plan(str(src), slices, storage)]
    notes: list[str] = []
    unify_slices(str(src), str(tmp_path / "mapped"), records, storage=storage, progress=notes.append)
    worker_rows, worker_schema = _rows(tmp_path / "worker")
    mapped_rows, mapped_schema = _rows(tmp_path / "mapped")
    assert mapped_schema.equals(worker_schema, check_metadata=True) and mapped_rows.equals(worker_rows)
    how = {1: "(copied: 1)", 2: "cast: ", 3: "(cast: 3)"}[slices]  # no second parse when numbers only widen
    assert how in notes[-1] and "reconverted" not in notes[-1]
