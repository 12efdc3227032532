"""ION exports: hand-written Ion lines convert to the same typed Parquet as the equivalent DynamoDB JSON export."""

from __future__ import annotations

import base64
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core import errors
from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.schema.column_names import sanitize

EXPORT_ID = "01700000000000-10n10n10"

# Each pair: a line as DynamoDB writes it in an ION export, and the same item in DynamoDB JSON.
PAIRS = [
    ('$ion_1_0 {Item:{pk:"order#1",qty:3.,price:19.99,count:5,flag:true,blob:{{AAECAwQ=}},'
     'tags:$dynamodb_SS::["a","b"],scores:$dynamodb_NS::[1.,2.5,-3.],blobs:$dynamodb_BS::[{{AA==}},{{AAE=}}],'
     'items:["x",7.,null],addr:{city:"Köln",zip:50667.,geo:{lat:50.94}},huge:12345678901234567890123456789012345678.,'
     'tiny:1d-130,hundreds:6d2,nothing:null,"ünï cödé":"✓",empty:[],mixed:"text",'
     'deep:[{a:[1.,2.]}]}}',
     {"pk": {"S": "order#1"}, "qty": {"N": "3"}, "price": {"N": "19.99"}, "count": {"N": "5"},
      "flag": {"BOOL": True}, "blob": {"B": "AAECAwQ="}, "tags": {"SS": ["a", "b"]},
      "scores": {"NS": ["1", "2.5", "-3"]}, "blobs": {"BS": ["AA==", "AAE="]},
      "items": {"L": [{"S": "x"}, {"N": "7"}, {"NULL": True}]},
      "addr": {"M": {"city": {"S": "Köln"}, "zip": {"N": "50667"}, "geo": {"M": {"lat": {"N": "50.94"}}}}},
      "huge": {"N": "12345678901234567890123456789012345678"}, "tiny": {"N": "1E-130"}, "hundreds": {"N": "600"},
      "nothing": {"NULL": True}, "ünï cödé": {"S": "✓"}, "empty": {"L": []}, "mixed": {"S": "text"},
      "deep": {"L": [{"M": {"a": {"L": [{"N": "1"}, {"N": "2"}]}}}]}}),
    ('$ion_1_0 {Item:{pk:"order#2",qty:null.decimal,price:-0.5,flag:false,mixed:42.,'
     'addr:{city:"Paris",extra:true},tags:$dynamodb_SS::["only"],hundreds:-7}}',
     {"pk": {"S": "order#2"}, "qty": {"NULL": True}, "price": {"N": "-0.5"}, "flag": {"BOOL": False},
      "mixed": {"N": "42"}, "addr": {"M": {"city": {"S": "Paris"}, "extra": {"BOOL": True}}},
      "tags": {"SS": ["only"]}, "hundreds": {"N": "-7"}}),
    ('$ion_1_0 {Item:{pk:"order#3",mixed:{{/w==}},createdAt:"2026-11-01T10:00:00Z"}}',
     {"pk": {"S": "order#3"}, "mixed": {"B": "/w=="}, "createdAt": {"S": "2026-11-01T10:00:00Z"}}),
]


def _ion_export(root: Path, lines: list[str], *, manifest: bool = True) -> Path:
    data = [(line + "\n").encode() for line in lines]
    return write_export(root / "ion" / "AWSDynamoDB" / EXPORT_ID, [data], manifest=manifest, suffix=".ion.gz",
                        output_format="ION")


def _json_export(root: Path) -> Path:
    return write_export(root / "json" / "AWSDynamoDB" / EXPORT_ID, [[item_line(item) for _, item in PAIRS]])


def test_ion_export_matches_the_json_export(tmp_path: Path):
    ion = convert_export(str(_ion_export(tmp_path, [line for line, _ in PAIRS])), str(tmp_path / "out-ion"))
    ddb_json = convert_export(str(_json_export(tmp_path)), str(tmp_path / "out-json"))
    assert ion["items"] == ddb_json["items"] == 3
    assert ion["schema"] == ddb_json["schema"]
    ion_rows = pq.read_table(tmp_path / "out-ion").to_pylist()
    assert ion_rows == pq.read_table(tmp_path / "out-json").to_pylist()
    first, second, third = ion_rows
    assert first["price"] == Decimal("19.99") and second["price"] == Decimal("-0.50")
    assert first["huge"] == Decimal("12345678901234567890123456789012345678")
    assert first["tiny"] == "1E-130" and first["hundreds"] == 600 and first["count"] == 5
    assert first["blob"] == b"\x00\x01\x02\x03\x04" and first["blobs"] == [b"\x00", b"\x00\x01"]
    assert first["tags"] == ["a", "b"] and first["scores"] == [Decimal("1.0"), Decimal("2.5"), Decimal("-3.0")]
    assert first["addr"] == {"city": "Köln", "extra": None, "geo": {"lat": Decimal("50.94")}, "zip": 50667}
    assert first["nothing"] is None and second["qty"] is None and first["empty"] == []
    assert first[sanitize("ünï cödé")] == "✓"
    assert [json.loads(r["mixed"]) for r in ion_rows] == [{"S": "text"}, {"N": "42"}, {"B": "/w=="}]
    assert third["createdat"] == "2026-11-01T10:00:00Z"
    assert json.loads(first["items"]) == {"L": [{"S": "x"}, {"N": "7"}, {"NULL": True}]}


def test_pure_python_ion_reader_gives_the_same_rows(tmp_path: Path, monkeypatch):
    from amazon.ion import simpleion

    with_c = convert_export(str(_ion_export(tmp_path, [line for line, _ in PAIRS])), str(tmp_path / "out-c"))
    monkeypatch.setattr(simpleion, "c_ext", False)
    without_c = convert_export(str(_ion_export(tmp_path / "py", [line for line, _ in PAIRS])), str(tmp_path / "out-py"))
    assert with_c["schema"] == without_c["schema"]
    assert pq.read_table(tmp_path / "out-c").to_pylist() == pq.read_table(tmp_path / "out-py").to_pylist()


def test_ion_without_manifest_is_detected_by_suffix(tmp_path: Path):
    src = _ion_export(tmp_path, [line for line, _ in PAIRS], manifest=False)
    summary = convert_export(str(src), str(tmp_path / "out"), expected_items=3)
    assert summary["items"] == 3
    assert pq.read_table(tmp_path / "out").column("pk").to_pylist() == ["order#1", "order#2", "order#3"]


@pytest.mark.parametrize(("bad_line", "message"), [
    ('$ion_1_0 {Item:{pk:"x", n:1.5,,}}', "could not be read"),
    ('$ion_1_0 {Item:{pk:"x", when:2026-01-01T}}', "timestamp is not a DynamoDB type"),
    ('$ion_1_0 {Item:{pk:"x", f:1.5e0}}', "float is not a DynamoDB type"),
    ('$ion_1_0 {Item:{pk:"x", s:$dynamodb_XS::["a"]}}', "unknown annotation"),
    ('$ion_1_0 {Item:{pk:"x", s:$dynamodb_NS::["a"]}}', "NS member is an Ion string"),
    ('$ion_1_0 ["not", "a", "struct"]', "not an Ion struct"),
])
def test_malformed_ion_line_is_named(tmp_path: Path, bad_line: str, message: str):
    good = '$ion_1_0 {Item:{pk:"ok"}}'
    src = _ion_export(tmp_path, [good, good, bad_line, good])
    with pytest.raises(errors.MalformedLineError) as caught:
        convert_export(str(src), str(tmp_path / "out"))
    err = caught.value
    assert err.export_id == EXPORT_ID and err.line == 3 and err.file.startswith("data/part00000")
    assert err.file.endswith(".ion.gz") and message in str(err)
    assert not (tmp_path / "out").exists()


def test_ion_item_over_400_kb_is_refused(tmp_path: Path):
    src = _ion_export(tmp_path, ['$ion_1_0 {Item:{pk:"ok"}}', '$ion_1_0 {Item:{pk:"%s"}}' % ("x" * 420_000)])
    with pytest.raises(errors.ItemTooLargeError) as caught:
        convert_export(str(src), str(tmp_path / "out"))
    assert caught.value.line == 2


def test_ion_md5_is_still_checked(tmp_path: Path):
    src = _ion_export(tmp_path, ['$ion_1_0 {Item:{pk:"a"}}'])
    data = next((src / "data").iterdir())
    data.write_bytes(gzip.compress(b'$ion_1_0 {Item:{pk:"b"}}\n'))
    with pytest.raises(errors.ChecksumMismatchError):
        convert_export(str(src), str(tmp_path / "out"))


def test_blob_bytes_survive_exactly(tmp_path: Path):
    raw = bytes(range(256))
    src = _ion_export(tmp_path, ['$ion_1_0 {Item:{pk:"b",blob:{{' + base64.b64encode(raw).decode() + '}}}}'])
    convert_export(str(src), str(tmp_path / "out"))
    assert pq.read_table(tmp_path / "out").column("blob").to_pylist() == [raw]


def test_an_ion_export_through_autos_one_slice_equals_the_one_task_conversion(tmp_path: Path):
    from ddb_lake.core.convert.export_slices import convert_slice, export_slice_plan, unify_slices
    from ddb_lake.core.convert.storage import Storage

    source = str(_ion_export(tmp_path, [line for line, _ in PAIRS]))
    whole = convert_export(source, str(tmp_path / "worker"), workers=1)
    storage, notes = Storage(), []
    plan = export_slice_plan(source, 4, storage, auto=True, note=notes.append)
    assert [s["files"] for s in plan] == [[0]] and "auto: one slice" in notes[0]
    record = convert_slice(source, str(tmp_path / "slices"), 0, [0], storage=storage, workers=1)
    mapped = unify_slices(source, str(tmp_path / "auto"), [record], storage=storage)
    assert (mapped["items"], mapped["schema"], mapped["slices"]) == (3, whole["schema"], 1)
    assert pq.read_table(tmp_path / "auto").to_pylist() == pq.read_table(tmp_path / "worker").to_pylist()
