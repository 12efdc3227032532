"""Every DynamoDB type through convert_export, checked value by value against an independent decoding."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ddb_reference import lake_to_plain, plain, strip_null_members

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.schema.lake_schema import LakeSchema

ITEMS = [
    {"pk": {"S": "order#1"}, "qty": {"N": "3"}, "price": {"N": "19.99"}, "flag": {"BOOL": True},
     "blob": {"B": "AAECAwQ="}, "tags": {"SS": ["a", "b"]}, "scores": {"NS": ["1", "2.5", "-3"]},
     "blobs": {"BS": ["AA==", "AAE=", "AAEC"]}, "items": {"L": [{"S": "x"}, {"S": "y"}]},
     "addr": {"M": {"city": {"S": "Köln"}, "zip": {"N": "50667"}, "geo": {"M": {"lat": {"N": "50.94"}}}}},
     "huge": {"N": "12345678901234567890123456789012345678"}, "tiny": {"N": "1E-130"},
     "mixed": {"S": "text"}, "nothing": {"NULL": True}, "ünï cödé": {"S": "✓"}, "empty_list": {"L": []},
     "deep": {"L": [{"M": {"a": {"L": [{"N": "1"}, {"N": "2"}]}}}]}, "big_int": {"N": "9223372036854775808"}},
    {"pk": {"S": "order#2"}, "qty": {"NULL": True}, "price": {"N": "-0.5"}, "flag": {"BOOL": False},
     "mixed": {"N": "42"}, "addr": {"M": {"city": {"S": "Paris"}, "extra": {"BOOL": True}}},
     "items": {"L": [{"S": "z"}, {"NULL": True}]}, "tiny": {"N": "99999999999999999999999999999999999999E+125"},
     "big_int": {"N": "-1"}, "sparse_only_here": {"SS": ["only"]}},
    {"pk": {"S": "order#3"}, "qty": {"N": "-9223372036854775808"}, "mixed": {"BOOL": True}},
]


@pytest.fixture
def converted(tmp_path: Path):
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-abcdef12", [[item_line(i) for i in ITEMS]])
    summary = convert_export(str(src), str(tmp_path / "out"))
    table = pq.read_table(tmp_path / "out")
    return summary, table


def _kinds(summary):
    return {f["attribute"]: f["type"] for f in summary["schema"]["fields"]}


def test_types_follow_the_rules(converted):
    summary, _ = converted
    kinds = _kinds(summary)
    assert kinds["pk"] == {"kind": "string"}
    assert kinds["qty"] == {"kind": "int64"}
    assert kinds["price"] == {"kind": "decimal", "precision": 4, "scale": 2}
    assert kinds["flag"] == {"kind": "bool"}
    assert kinds["blob"] == {"kind": "binary"}
    assert kinds["tags"] == {"kind": "list", "item": {"kind": "string"}}
    assert kinds["scores"] == {"kind": "list", "item": {"kind": "decimal", "precision": 2, "scale": 1}}
    assert kinds["blobs"] == {"kind": "list", "item": {"kind": "binary"}}
    assert kinds["items"] == {"kind": "json"}  # one list holds a NULL element: REPEATED cannot (issue 11)
    assert kinds["huge"] == {"kind": "decimal", "precision": 38, "scale": 0}
    assert kinds["big_int"] == {"kind": "decimal", "precision": 19, "scale": 0}
    assert kinds["tiny"] == {"kind": "decimal_text"}
    assert kinds["mixed"] == {"kind": "json"}
    assert kinds["addr"]["kind"] == "struct"
    assert [f["attribute"] for f in kinds["addr"]["fields"]] == ["city", "extra", "geo", "zip"]
    notes = {f["attribute"]: f.get("note", "") for f in summary["schema"]["fields"]}
    assert "mixed type tags" in notes["mixed"] and "38 digits" in notes["tiny"]


def test_every_value_round_trips(converted):
    summary, table = converted
    fields = summary["schema"]["fields"]
    rows = table.to_pylist()
    assert len(rows) == len(ITEMS) == summary["items"]
    for item, row in zip(ITEMS, rows, strict=True):
        for f in fields:
            expected = plain(item[f["attribute"]]) if f["attribute"] in item else None
            got = lake_to_plain(row[f["name"]], f["type"])
            if f["type"]["kind"] == "json" and expected is not None:
                assert json.loads(row[f["name"]]) == item[f["attribute"]]  # typed, canonical JSON
            assert strip_null_members(got) == strip_null_members(expected), f["attribute"]


def test_exact_numbers_keep_every_digit(converted):
    _, table = converted
    rows = table.to_pylist()
    assert rows[0]["huge"] == Decimal("12345678901234567890123456789012345678")
    assert rows[1]["tiny"] == "99999999999999999999999999999999999999E+125"
    assert rows[0]["tiny"] == "1E-130"
    assert rows[2]["qty"] == -9223372036854775808


def test_columns_metadata_maps_every_column(converted):
    summary, table = converted
    mapping = json.loads(table.schema.metadata[b"ddb_lake.columns"])
    assert set(mapping) == set(table.column_names)
    assert mapping["_n__c_d_"] == "ünï cödé"
    assert all(name == name.lower() and name.replace("_", "a").isalnum() and name.isascii() for name in mapping)
    assert LakeSchema.from_json(summary["schema"]).to_arrow().names == table.column_names


def test_float_option(tmp_path: Path):
    src = write_export(tmp_path / "AWSDynamoDB" / "e1", [[item_line({"pk": {"S": "a"}, "v": {"N": "0.1"}})]])
    summary = convert_export(str(src), str(tmp_path / "out"), numbers="float")
    assert _kinds(summary)["v"] == {"kind": "float64"}
    assert pq.read_table(tmp_path / "out").column("v").to_pylist() == [0.1]


def test_depth_limit_keeps_deep_values_as_json(tmp_path: Path):
    deep = {"M": {"a": {"M": {"b": {"M": {"c": {"S": "x"}}}}}}}
    src = write_export(tmp_path / "AWSDynamoDB" / "e1", [[item_line({"pk": {"S": "a"}, "d": deep})]])
    summary = convert_export(str(src), str(tmp_path / "out"), max_depth=2)
    d = _kinds(summary)["d"]
    assert d["fields"][0]["type"]["kind"] == "json"
    row = pq.read_table(tmp_path / "out").to_pylist()[0]
    assert json.loads(row["d"]["a"]) == deep["M"]["a"]


def test_moto_layout_with_expected_items(tmp_path: Path):
    src = write_export(tmp_path / "AWSDynamoDB" / "moto-id", [[item_line({"pk": {"S": str(i)}}) for i in range(5)]],
                       manifest=False, suffix=".gz")
    messages: list[str] = []
    summary = convert_export(str(src), str(tmp_path / "out"), expected_items=5, progress=messages.append)
    assert summary["items"] == 5 and summary["export_type"] == "FULL_EXPORT"
    assert any("no manifest" in m and "expected" in m for m in messages)


def test_incremental_export_operations(tmp_path: Path):
    lines = [
        {"Metadata": {"WriteTimestampMicros": {"N": "1700000000000001"}}, "Keys": {"pk": {"S": "a"}},
         "NewImage": {"pk": {"S": "a"}, "v": {"N": "1"}}},
        {"Metadata": {"WriteTimestampMicros": {"N": "1700000000000002"}}, "Keys": {"pk": {"S": "b"}},
         "NewImage": {"pk": {"S": "b"}, "v": {"N": "2"}}, "OldImage": {"pk": {"S": "b"}, "v": {"N": "1"}}},
        {"Metadata": {"WriteTimestampMicros": {"N": "1700000000000003"}}, "Keys": {"pk": {"S": "c"}},
         "OldImage": {"pk": {"S": "c"}, "v": {"N": "9"}}},
    ]
    src = write_export(tmp_path / "AWSDynamoDB" / "inc", [[json.dumps(x).encode() + b"\n" for x in lines]],
                       export_type="INCREMENTAL_EXPORT", output_view="NEW_AND_OLD_IMAGES")
    summary = convert_export(str(src), str(tmp_path / "out"))
    assert summary["export_type"] == "INCREMENTAL_EXPORT"
    rows = pq.read_table(tmp_path / "out").to_pylist()
    assert [r["_ddb_operation"] for r in rows] == ["INSERT", "MODIFY", "REMOVE"]
    assert [r["pk"] for r in rows] == ["a", "b", "c"]
    assert [r["v"] for r in rows] == [1, 2, None]
    assert rows[2]["_ddb_write_ts"].timestamp() == pytest.approx(1700000000.000003)


def test_new_image_only_upserts_are_modify(tmp_path: Path):
    lines = [{"Metadata": {"WriteTimestampMicros": {"N": "1"}}, "Keys": {"pk": {"S": "a"}},
              "NewImage": {"pk": {"S": "a"}, "_ddb_operation": {"S": "clash"}}}]
    src = write_export(tmp_path / "AWSDynamoDB" / "inc", [[json.dumps(x).encode() + b"\n" for x in lines]],
                       export_type="INCREMENTAL_EXPORT", output_view="NEW_IMAGE")
    convert_export(str(src), str(tmp_path / "out"))
    row = pq.read_table(tmp_path / "out").to_pylist()[0]
    assert row["_ddb_operation"] == "MODIFY"
    assert row["c_ddb_operation"] == "clash"  # an attribute never takes a metadata column's name


def test_parallel_multi_file_and_file_size(tmp_path: Path):
    files = [[item_line({"pk": {"S": f"{f}-{i}"}, "n": {"N": str(i)}, "pad": {"S": "x" * 200}})
              for i in range(3000)] for f in range(3)]
    src = write_export(tmp_path / "AWSDynamoDB" / "multi", files)
    summary = convert_export(str(src), str(tmp_path / "out"), workers=2, target_file_bytes=20_000,
                             row_group_rows=1000, chunk_bytes=200_000)
    assert summary["items"] == 9000 and len(summary["files"]) > 2
    assert sum(f["rows"] for f in summary["files"]) == 9000
    table = pq.read_table(tmp_path / "out")
    assert sorted(table.column("pk").to_pylist()) == sorted(f"{f}-{i}" for f in range(3) for i in range(3000))
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["files"] == summary["files"] and manifest["schema"] == summary["schema"]


def test_drift_evolves_additively(tmp_path: Path):
    first = write_export(tmp_path / "AWSDynamoDB" / "e1", [[item_line({"pk": {"S": "a"}, "n": {"N": "1"}})]])
    one = convert_export(str(first), str(tmp_path / "out1"))
    second = write_export(tmp_path / "AWSDynamoDB" / "e2",
                          [[item_line({"pk": {"S": "b"}, "n": {"N": "1.5"}, "new": {"BOOL": True}})]])
    two = convert_export(str(second), str(tmp_path / "out2"), previous_schema=LakeSchema.from_json(one["schema"]))
    assert two["drift"]["added"] == ["new"]
    assert two["drift"]["widened"] == [{"column": "n", "from": {"kind": "int64"},
                                        "to": {"kind": "decimal", "precision": 20, "scale": 1}}]
    third = write_export(tmp_path / "AWSDynamoDB" / "e3", [[item_line({"pk": {"S": "c"}})]])
    three = convert_export(str(third), str(tmp_path / "out3"), previous_schema=LakeSchema.from_json(two["schema"]))
    assert three["drift"]["missing"] == ["n", "new"]
    assert [f["name"] for f in three["schema"]["fields"]] == ["n", "pk", "new"]
    assert pq.read_table(tmp_path / "out3").to_pylist() == [{"n": None, "pk": "c", "new": None}]


def test_date_like_strings_stay_exact_text(tmp_path: Path):
    stamps = ["2026-11-01T10:00:00Z", "2026-11-01T10:00:00.000Z", "2026-11-01", "2026-11-01 10:00:00"]
    files = [[item_line({"pk": {"S": s}, "l": {"L": [{"S": s}]}}) for s in stamps[:2]],
             [item_line({"pk": {"S": s}, "l": {"L": []}}) for s in stamps[2:]]]
    src = write_export(tmp_path / "AWSDynamoDB" / "dates", files)
    convert_export(str(src), str(tmp_path / "out"), chunk_bytes=64)
    table = pq.read_table(tmp_path / "out")
    assert sorted(table.column("pk").to_pylist()) == sorted(stamps)
    assert table.schema.field("pk").type == "string"


def test_canonical_json_of_scalars_matches_json_dumps():
    import pyarrow as pa

    from ddb_lake.core.convert.arrow_unwrap import canonical_json, canonical_json_text

    values = [{"S": 'quote " and \\ backslash'}, {"N": "-1.5E+3"}, None, {"NULL": True}, {"BOOL": True},
              {"BOOL": False}, {"S": "new\nline\ttab\x01"}, {"B": "AAE="}, {"S": "Köln ✓ \u2028"}, {"S": ""}]
    kind = pa.struct([("S", pa.string()), ("N", pa.string()), ("NULL", pa.bool_()), ("BOOL", pa.bool_()),
                      ("B", pa.string())])
    expected = [None if v is None or v == {"NULL": True} else canonical_json_text(v) for v in values]
    assert canonical_json(pa.array(values, kind)).to_pylist() == expected
    assert canonical_json(pa.array(values, kind).slice(5, 4)).to_pylist() == expected[5:9]
    assert json.loads(expected[0]) == values[0] and expected[6] == '{"S":"new\\nline\\ttab\\u0001"}'


def test_a_list_holding_null_is_exact_json_text_and_stays_json(tmp_path: Path):
    lines = [item_line({"pk": {"S": "a"}, "xs": {"L": [{"N": "1.50"}, {"NULL": True}, {"S": "t"}]},
                        "m": {"M": {"ys": {"L": [{"NULL": True}]}}}, "ok": {"L": [{"M": {"a": {"NULL": True}}}]}}),
             item_line({"pk": {"S": "b"}, "xs": {"L": [{"N": "-12345678901234567890.000000000000000001"}]}})]
    src = write_export(tmp_path / "AWSDynamoDB" / "e1", [lines])
    summary = convert_export(str(src), str(tmp_path / "out"))
    kinds = _kinds(summary)
    assert kinds["xs"] == {"kind": "json"} and kinds["m"]["fields"][0]["type"] == {"kind": "json"}
    assert kinds["ok"]["kind"] == "list"  # a NULL member inside a list's struct is fine: the element is not NULL
    rows = pq.read_table(tmp_path / "out").to_pylist()
    assert [r["xs"] for r in rows] == ['{"L":[{"N":"1.50"},{"NULL":true},{"S":"t"}]}',
                                       '{"L":[{"N":"-12345678901234567890.000000000000000001"}]}']
    assert rows[0]["m"] == {"ys": '{"L":[{"NULL":true}]}'}
    # a later day without NULL elements converts into the contract: the column stays json, nothing narrows
    later = write_export(tmp_path / "AWSDynamoDB" / "e2", [[item_line({"pk": {"S": "c"}, "xs": {"L": [{"N": "2"}]}})]])
    again = convert_export(str(later), str(tmp_path / "o2"), previous_schema=LakeSchema.from_json(summary["schema"]))
    assert _kinds(again)["xs"] == {"kind": "json"}
    assert pq.read_table(tmp_path / "o2").column("xs").to_pylist() == ['{"L":[{"N":"2"}]}']
