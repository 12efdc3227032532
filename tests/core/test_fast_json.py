"""The native DynamoDB-JSON parser gives exactly pyarrow's table, declines what it does not handle, and converts
exports to the same Parquet as pyarrow's reader."""

from __future__ import annotations

import base64
import io
import json
import os
import random
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert import ddb_profile, fast_json
from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.errors import MalformedLineError

needs_native = pytest.mark.skipif(not fast_json.NATIVE, reason="native parser not built")


def test_native_parser_is_built():
    """The suite runs against the native parser; a machine without a C compiler must say so on purpose."""
    if os.environ.get("DDB_LAKE_ALLOW_NO_NATIVE") == "1":
        pytest.skip("DDB_LAKE_ALLOW_NO_NATIVE=1")
    assert fast_json.NATIVE, "ddb_lake.core.convert._ddb_json is not built: run scripts/bootstrap.sh (needs gcc)"


TEXTS = ["plain", "", "Köln", "東京", "emoji 😀", 'quote " and \\ backslash', "tab\tnew\nline", "ctl \x01\x1f",
         "nul \x00 inside", "slash /", "2026-11-01", "2026-11-01T10:00:00Z"]


def _text(rng: random.Random) -> str:
    return rng.choice(TEXTS) if rng.random() < 0.6 else "".join(
        rng.choice("abcxyz019 -_#äß東😀\"\\\n") for _ in range(rng.randint(0, 12)))


def _value(rng: random.Random, depth: int) -> dict:
    tag = rng.choice(["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"] if depth < 3 else
                     ["S", "N", "BOOL", "NULL"])
    if tag == "S":
        return {"S": _text(rng)}
    if tag == "N":
        return {"N": rng.choice(["0", "-1", "3.14", "1E-130", "12345678901234567890123456789012345678"])}
    if tag == "B":
        return {"B": base64.b64encode(rng.randbytes(rng.randint(0, 9))).decode()}
    if tag == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if tag == "NULL":
        return {"NULL": True}
    if tag in ("SS", "NS", "BS"):
        member = {"SS": lambda: _text(rng), "NS": lambda: str(rng.randint(-9, 9)),
                  "BS": lambda: base64.b64encode(rng.randbytes(3)).decode()}[tag]
        return {tag: [member() for _ in range(rng.randint(1, 3))]}
    if tag == "L":
        return {"L": [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]}
    return {"M": {rng.choice(["a", "b", "ü", "k y"]): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}}


def _lines(seed: int, items: int, ensure_ascii: bool) -> bytes:
    """Items whose attributes come and go, each attribute keeping one tag (else pyarrow's reader refuses too)."""
    rng = random.Random(seed)
    tags: dict[str, str] = {}
    out = []
    for i in range(items):
        item = {"pk": {"S": f"k{i}"}}
        for _ in range(rng.randint(0, 6)):
            name = rng.choice(["a", "b", "c", "d", "é", "with space", "x" * 40])
            value = _value(rng, 1)
            tag = next(iter(value))
            if tags.setdefault(name, tag) == tag:
                item[name] = value
        out.append(json.dumps({"Item": item}, ensure_ascii=ensure_ascii))
    return ("\n".join(out) + "\n").encode()


@needs_native
@pytest.mark.parametrize("seed", range(12))
def test_same_table_as_pyarrow(seed):
    """Generated DynamoDB JSON, every type nested and sparse: the same schema (field order too) and values."""
    data = _lines(seed, 300, ensure_ascii=seed % 2 == 0)
    native = fast_json.read_json_lines(data)
    assert native is not None
    # pyarrow infers timestamps from some strings; the converter turns that off with a schema of strings
    expected = pj.read_json(io.BytesIO(data), parse_options=pj.ParseOptions(explicit_schema=native.schema))
    assert native.schema == expected.schema
    assert native.equals(expected.combine_chunks())
    inferred = pj.read_json(io.BytesIO(data))  # field order is pyarrow's own (first seen), not taken from ours
    assert _names(inferred.schema.field("Item").type) == _names(native.schema.field("Item").type)


def _names(kind: pa.DataType) -> list:
    if pa.types.is_struct(kind):
        return [(f.name, _names(f.type)) for f in kind]
    if pa.types.is_list(kind):
        return ["[]", _names(kind.value_type)]
    return []


@needs_native
@pytest.mark.parametrize("lines", [
    b'{"Item":{"a":{"L":[]}}}\n{"Item":{"a":{"L":[{"S":"x"}]}}}\n',  # an empty list first: list<null>, then typed
    b'{"Item":{"a":{"M":{}}}}\n{"Item":{"a":{"M":{"b":{"N":"1"}}}}}\n',  # an empty map, then fields
    b'{"Item":{"a":null}}\n{"Item":{}}\n{"Item":{"a":{"S":"late"}}}\n',  # null and absent before the first value
    b'{"Item":{"a":{"S":"x"}}}\n\n  \n{"Item":{"b":{"BOOL":false}}}\r\n',  # blank lines, CRLF
    b'{ "Item" : { "a" : { "SS" : [ "x" , "y" ] } } }\n',  # whitespace everywhere
    b'{"Item":{"a":{"S":"\\ud83d\\ude00 \\u00e9 \\u0000 \\/"}}}\n',  # escapes: surrogate pair, NUL, solidus
])
def test_edge_lines(lines):
    native = fast_json.read_json_lines(lines)
    assert native is not None
    expected = pj.read_json(io.BytesIO(lines), parse_options=pj.ParseOptions(explicit_schema=native.schema))
    assert native.equals(expected.combine_chunks())
    assert native.num_rows == expected.num_rows


@needs_native
@pytest.mark.parametrize(("lines", "reason"), [
    (b'{"Item":{"a":{"N":1}}}\n', "bare number"),
    (b'{"Item":{"a":{"S":"x"}}}\n{"Item":{"a":{"S":true}}}\n', "changes its JSON type"),
    (b'{"Item":{"a":{"S":"\xff"}}}\n', "invalid UTF-8"),
    (b'{"Item":{"a":{"S":"x\x01"}}}\n', "control character"),
    (b'{"Item":{"a":{"S":"\\ud800"}}}\n', "lone high surrogate"),
    (b'{"Item":{"a":{"S":"x"},"a":{"S":"y"}}}\n', "duplicate key"),
    (b'{"Item":\n{"a":{"S":"x"}}}\n', "line ends inside"),
    (b'{"Item":{}} {"Item":{}}\n', "more than one JSON value"),
    (b'[1]\n', "not a JSON object"),
    (b'{"Item":' * 70 + b'{}' + b'}' * 70 + b'\n', "nested deeper"),
    (b'{"Item":{"a":{"S":"x"}}\n', "expected ',' or '}'"),
])
def test_declines_what_it_does_not_handle(lines, reason):
    result = fast_json.parse_json_lines(lines)
    assert result[0] == "unsupported"
    assert reason in result[1]
    assert fast_json.read_json_lines(lines) is None


def test_line_lengths_native_and_numpy_agree(monkeypatch):
    rng = random.Random(3)
    cases = [b"", b"abc", b"a\n", b"a\nbb\n", b"a\nbbbbbb\nc", b"\n\n", b"xxxxxxxxx\n" * 3,
             bytes(rng.choice(b"ab\n") for _ in range(5000))]
    native = [[fast_json.line_lengths(case, limit) for limit in (0, 1, 3, 5)] for case in cases]
    monkeypatch.setattr(fast_json, "_ddb_json", None)
    numpy = [[fast_json.line_lengths(case, limit) for limit in (0, 1, 3, 5)] for case in cases]
    assert native == numpy
    assert numpy[3][0] == (2, 2, [(0, 0, 1), (1, 2, 2)])


def test_number_stats_native_and_python_agree(monkeypatch):
    rng = random.Random(5)

    def number():
        roll = rng.random()
        if roll < 0.3:
            return str(rng.randint(-10**20, 10**20))
        if roll < 0.5:
            return f"{rng.choice(['', '-'])}{rng.randint(0, 10**rng.randint(0, 30))}.{rng.randint(0, 10**20)}"
        if roll < 0.6:
            return f"{rng.randint(1, 9)}.{rng.randint(0, 999)}E{rng.choice(['+', '-', ''])}{rng.randint(0, 125)}"
        if roll < 0.65:
            return None
        if roll < 0.7:
            return "0" * rng.randint(0, 4) + str(rng.randint(0, 99))
        return "".join(rng.choice("0123456789-.") for _ in range(rng.randint(0, 6)))

    columns = []
    for _ in range(1500):
        column = pa.array([number() for _ in range(rng.randint(0, 8))], pa.string())
        columns.append(column.slice(1) if len(column) > 2 and rng.random() < 0.3 else column)

    def stats():
        out = []
        for column in columns:
            try:
                out.append(ddb_profile.number_stats(column))
            except ddb_profile.RawShapeError as err:
                out.append(str(err))
        return out

    native = stats()
    monkeypatch.setattr(ddb_profile, "native_number_stats", lambda texts: None)
    assert native == stats()
    assert fast_json.native_number_stats(pa.array(["1", "x"])) is None  # not a number: the Python path decides


ITEMS = [
    {"pk": {"S": "order#1"}, "qty": {"N": "3"}, "price": {"N": "19.99"}, "flag": {"BOOL": True},
     "blob": {"B": "AAECAwQ="}, "tags": {"SS": ["a", "b"]}, "scores": {"NS": ["1", "2.5", "-3"]},
     "items": {"L": [{"S": "x"}, {"M": {"q": {"N": "1"}}}]}, "at": {"S": "2026-11-01T10:00:00Z"},
     "addr": {"M": {"city": {"S": "Köln \"Süd\""}, "geo": {"M": {"lat": {"N": "50.94"}}}}}, "tiny": {"N": "1E-130"}},
    {"pk": {"S": "order#2"}, "qty": {"NULL": True}, "price": {"N": "-0.5"}, "mixed": {"N": "42"}},
    {"pk": {"S": "order#3"}, "qty": {"N": "-9223372036854775808"}, "mixed": {"BOOL": True}, "items": {"L": []}},
]


@needs_native
def test_convert_gives_the_same_parquet_with_either_parser(tmp_path: Path, caplog):
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-abcdef12",
                       [[item_line(i) for i in ITEMS * 40], [item_line(i) for i in ITEMS[::-1] * 7]])
    caplog.set_level("DEBUG", logger=fast_json.__name__)
    native = convert_export(str(src), str(tmp_path / "native"), workers=1)
    assert "declined" not in caplog.text  # every chunk went through the native parser
    reader = convert_export(str(src), str(tmp_path / "pyarrow"), workers=1, json_parser="pyarrow")
    assert native["schema"] == reader["schema"]
    assert native["items"] == reader["items"] == 141
    for mine, other in zip(native["files"], reader["files"], strict=True):  # part names differ per conversion
        ours, theirs = pq.read_table(mine["path"]), pq.read_table(other["path"])
        assert ours.schema.equals(theirs.schema, check_metadata=True)
        assert ours.equals(theirs)


def test_malformed_line_still_named_after_the_native_parser_declines(tmp_path: Path):
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-abcdef12",
                       [[item_line(ITEMS[0]), b'{"Item":{"pk":{"S":"x"}\n', item_line(ITEMS[1])]])
    with pytest.raises(MalformedLineError) as caught:
        convert_export(str(src), str(tmp_path / "out"), workers=1)
    assert caught.value.line == 2


def test_unknown_parser_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="json_parser must be one of auto, pyarrow"):
        convert_export(str(tmp_path), str(tmp_path / "out"), json_parser="simd")


@needs_native
def test_mutated_lines_parse_as_pyarrow_or_are_declined():
    """Differential fuzz: lines with random bytes changed, inserted or cut. Whatever the native parser accepts,
    pyarrow's reader reads to the same table; the rest is declined (never a crash, never a different table)."""
    rng = random.Random(20261202)
    seeds = [b'{"Item":{"a":{"S":"x\\u00e9\\ud83d\\ude00"},"b":{"L":[{"N":"1"},{"M":{"c":{"BOOL":true}}}]},'
             b'"c":{"SS":["p","q"]},"d":{"NULL":true}}}\n',
             b'{"Keys":{"pk":{"S":"1"}},"NewImage":{"pk":{"S":"1"},"x":{"NS":["1","2"]}},'
             b'"Metadata":{"WriteTimestampMicros":{"N":"1"}}}\n',
             b'{"Item":{"a":{"M":{}},"b":{"L":[]},"c":null}}\n', '{"Item":{"ü":{"S":"東京"}}}\n'.encode()]
    alphabet = b'{}[]":,\\ \n\tnulltruefalseSNBML0123456789u\xff\xc3\xa9'
    accepted = declined = 0
    for _ in range(3000):
        data = bytearray(b"".join(rng.choice(seeds) for _ in range(rng.randint(1, 5))))
        for _ in range(rng.randint(1, 4)):
            roll, at = rng.random(), rng.randrange(len(data) + 1)
            if roll < 0.4 and data:
                data[min(at, len(data) - 1)] = rng.choice(alphabet)
            elif roll < 0.7:
                data[at:at] = bytes([rng.choice(alphabet)]) * rng.randint(1, 3)
            elif data:
                del data[at:at + rng.randint(1, 4)]
        native = fast_json.read_json_lines(bytes(data))
        if native is None:
            declined += 1
            continue
        accepted += 1
        expected = pj.read_json(io.BytesIO(bytes(data)), parse_options=pj.ParseOptions(explicit_schema=native.schema))
        assert native.schema == expected.schema and native.equals(expected.combine_chunks()), bytes(data)
    assert accepted > 200 and declined > 2000  # both sides of the line were exercised


@needs_native
def test_native_decimals_equal_arrow_cast_or_decline():
    """Plain number texts to decimal128(p, s): the native conversion gives Arrow's cast exactly; what it declines
    (exponents, too many digits, not a number) is left to that cast."""
    rng = random.Random(7)

    def number():
        roll = rng.random()
        if roll < 0.05:
            return None
        whole = rng.choice(["", "-"]) + "0" * rng.randint(0, 2) + str(rng.randint(0, 10 ** rng.randint(0, 20)))
        if roll < 0.5:
            return whole
        if roll < 0.95:
            return whole + "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
        return rng.choice(["1E5", "-1.5e-3", ".5", "5.", "", "-", "+1", "1..2", "abc"])

    native_used = 0
    for _ in range(3000):
        precision = rng.randint(1, 38)
        kind = pa.decimal128(precision, rng.randint(0, precision))
        texts = pa.array([number() for _ in range(rng.randint(0, 10))], pa.string())
        if len(texts) > 3 and rng.random() < 0.4:
            texts = texts.slice(rng.randint(1, 3))
        native = fast_json.native_decimals(texts, kind)
        if native is None:
            continue
        native_used += 1
        native.validate(full=True)
        assert native.equals(pa.compute.cast(texts, kind)), (texts.to_pylist(), kind)
    assert native_used > 400
    assert fast_json.native_decimals(pa.array(["1E5"]), pa.decimal128(10, 0)) is None
    assert fast_json.native_decimals(pa.array(["123.4"]), pa.decimal128(4, 2)) is None  # 3 + 2 digits: Arrow says
    assert fast_json.native_decimals(pa.array(["-0.50", None, "12"]), pa.decimal128(4, 2)).to_pylist() == [
        Decimal("-0.50"), None, Decimal("12.00")]


@needs_native
def test_wide_sparse_items_and_escaped_keys():
    """Past 16 fields a struct finds its keys by hash: 300 sparse attributes in shuffled order, and keys with escapes
    (a quote, a backslash, \\u-escaped letters) give pyarrow's table."""
    rng = random.Random(11)
    names = [f"attr{i:03d}" for i in range(300)] + ['quo"te', "back\\slash", "\u00fcml\u00e4ut"]
    lines = []
    for i in range(400):
        chosen = rng.sample(names, rng.randint(1, 40))
        item = {"pk": {"S": str(i)}, **{name: {"N": str(rng.randint(0, 9))} for name in chosen}}
        lines.append(json.dumps({"Item": item}, ensure_ascii=True))
    data = ("\n".join(lines) + "\n").encode()
    native = fast_json.read_json_lines(data)
    assert native is not None and native.schema.field("Item").type.num_fields == len(names) + 1
    expected = pj.read_json(io.BytesIO(data), parse_options=pj.ParseOptions(explicit_schema=native.schema))
    assert native.equals(expected.combine_chunks())
    assert _names(pj.read_json(io.BytesIO(data)).schema.field("Item").type) == _names(
        native.schema.field("Item").type)
