"""Vectorised unwrapping of raw DynamoDB JSON (Arrow structs of type tags) into typed Arrow columns.

Driven by the target :class:`LakeType`: ``struct<S: string>`` → string, ``struct<N: string>`` → int64 / decimal /
exact text, ``M`` → struct, ``L``/``SS``/``NS``/``BS`` → list, ``B`` → binary (base64 decoded in bulk). ``NULL``
values become nulls. Only ``json`` columns (mixed tags, too deep) take a per-value Python path.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ddb_lake.core.convert.ddb_profile import RawShapeError, first_valid_row
from ddb_lake.core.convert.fast_json import native_decimals
from ddb_lake.core.schema.lake_schema import LakeField, LakeType

_NUMBER_KINDS = ("int64", "decimal", "decimal_text", "float64")
_LIST_TAGS = ("SS", "NS", "BS", "L")


def tag_children(arr: pa.Array) -> dict[str, pa.Array]:
    """The tag → values children of a typed-value struct array, with the parent's nulls applied."""
    if pa.types.is_null(arr.type):
        return {}
    if not pa.types.is_struct(arr.type):
        raise RawShapeError(f"expected a typed value object, found {arr.type}", first_valid_row(arr))
    names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
    return dict(zip(names, arr.flatten(), strict=True))


def _coalesce(parts: list[pa.Array], target: pa.DataType, length: int) -> pa.Array:
    parts = [p for p in parts if p is not None and p.null_count < len(p)]
    if not parts:
        return pa.nulls(length, target)
    out = parts[0]
    for part in parts[1:]:
        out = pc.if_else(out.is_valid(), out, part)
    return out


def convert_values(arr: pa.Array, kind: LakeType) -> pa.Array:
    """Convert an array of typed values to ``kind.to_arrow()``."""
    target = kind.to_arrow()
    if kind.kind == "json":
        return canonical_json(arr)
    children = tag_children(arr)
    if not children:
        return pa.nulls(len(arr), target)
    if kind.kind == "string":
        return _coalesce([children.get("S")], target, len(arr))
    if kind.kind == "bool":
        return _coalesce([children.get("BOOL")], target, len(arr))
    if kind.kind == "binary":
        return _coalesce([decode_base64(children["B"]) if "B" in children else None], target, len(arr))
    if kind.kind in _NUMBER_KINDS:
        return _coalesce([convert_numbers(children["N"], kind) if "N" in children else None], target, len(arr))
    if kind.kind == "list":
        parts = [_convert_list(children[tag], tag, kind) for tag in _LIST_TAGS if tag in children]
        return _coalesce(parts, target, len(arr))
    if kind.kind == "struct":
        return _coalesce([convert_struct(children["M"], kind.fields) if "M" in children else None], target, len(arr))
    if kind.kind == "timestamp_us":
        micros = (convert_numbers(children["N"], LakeType("int64")) if "N" in children
                  else pa.nulls(len(arr), pa.int64()))
        return micros.cast(pa.timestamp("us")).cast(target)
    raise ValueError(f"cannot convert DynamoDB values to lake kind {kind.kind!r}")


def convert_numbers(texts: pa.Array, kind: LakeType) -> pa.Array:
    """DynamoDB number texts → int64 / decimal128(p, s) / exact text / float64."""
    if pa.types.is_null(texts.type):
        return pa.nulls(len(texts), kind.to_arrow())
    if kind.kind == "decimal_text":
        return texts
    target = kind.to_arrow()
    if pa.types.is_decimal128(target) and (native := native_decimals(texts, target)) is not None:
        return native
    try:
        return pc.cast(texts, kind.to_arrow())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise RawShapeError(f"number does not fit {kind.to_json()}: {err}", None) from err


def _convert_list(lists: pa.Array, tag: str, kind: LakeType) -> pa.Array:
    item = kind.item
    assert item is not None
    values = lists.flatten()
    if tag == "L":
        converted = convert_values(values, item)
    elif pa.types.is_null(values.type):
        converted = pa.nulls(0, item.to_arrow())
    elif item.kind == "binary":
        converted = decode_base64(values)
    elif item.kind in _NUMBER_KINDS:
        converted = convert_numbers(values, item)
    elif item.kind == "json":
        converted = canonical_json(pa.StructArray.from_arrays([values], names=[tag[0]]))
    else:
        converted = values.cast(item.to_arrow())
    return rebuild_list(lists, converted, kind.to_arrow())


def rebuild_list(lists: pa.Array, values: pa.Array, target: pa.DataType) -> pa.Array:
    """A list array with the shape (lengths, nulls) of ``lists`` over new flat ``values``.

    Read from the buffers with numpy (``Array.to_numpy`` would import pandas: half a CPU-second per process).
    """
    given = lists.offsets  # a null entry may span values; flatten() skips them, and so does this
    raw = np.frombuffer(given.buffers()[1], dtype=np.int32)[given.offset:given.offset + len(given)]
    lengths = np.diff(raw)
    if lists.null_count:
        bits = np.frombuffer(lists.buffers()[0], dtype=np.uint8)
        lengths[np.unpackbits(bits, bitorder="little")[lists.offset:lists.offset + len(lists)] == 0] = 0
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    mask = pc.is_null(lists) if lists.null_count else None
    out = pa.ListArray.from_arrays(pa.Array.from_buffers(pa.int32(), len(offsets), [None, pa.py_buffer(offsets)]),
                                   values, mask=mask)
    return out.cast(target) if out.type != target else out


def convert_struct(maps: pa.Array, fields: tuple[LakeField, ...]) -> pa.Array:
    """An ``M`` child (struct of attribute → typed value) → the lake struct with ``fields``."""
    present = {}
    if pa.types.is_struct(maps.type):
        present = {maps.type.field(i).name: part for i, part in enumerate(maps.flatten())}
    length = len(maps)
    arrays = [convert_values(present[f.attribute], f.type) if f.attribute in present
              else pa.nulls(length, f.type.to_arrow()) for f in fields]
    mask = pc.is_null(maps) if maps.null_count else None
    return pa.StructArray.from_arrays(arrays, fields=[pa.field(f.name, f.type.to_arrow()) for f in fields], mask=mask)


def decode_base64(texts: pa.Array) -> pa.Array:
    """Decode a string array of base64 values in one ``a2b_base64`` call (padding handled per value)."""
    if pa.types.is_null(texts.type):
        return pa.nulls(len(texts), pa.binary())
    filled = pc.fill_null(texts, "") if texts.null_count else texts
    filled = pa.concat_arrays([filled])  # offset 0, own buffers
    offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)[filled.offset:filled.offset + len(filled) + 1]
    base = int(offsets[0])
    rel = (offsets - base).astype(np.int64)
    raw = np.frombuffer(filled.buffers()[2], dtype=np.uint8)[base:base + int(rel[-1])].copy() if rel[-1] else \
        np.zeros(0, np.uint8)
    lengths = np.diff(rel)
    if np.any(lengths % 4):
        raise RawShapeError("binary value is not valid base64 (length not a multiple of 4)",
                            int(np.flatnonzero(lengths % 4)[0]))
    ends = rel[1:]
    nonempty = lengths > 0
    pad1 = np.zeros(len(lengths), dtype=bool)
    pad2 = np.zeros(len(lengths), dtype=bool)
    pad1[nonempty] = raw[ends[nonempty] - 1] == 61
    pad2[nonempty] = pad1[nonempty] & (raw[ends[nonempty] - 2] == 61)
    raw[ends[pad1] - 1] = 65  # '=' → 'A' so the stream decodes in one go; the padding bytes are cut below
    raw[ends[pad2] - 2] = 65
    try:
        decoded = np.frombuffer(binascii.a2b_base64(raw.tobytes(), strict_mode=True), dtype=np.uint8)
    except binascii.Error as err:
        raise RawShapeError(f"binary value is not valid base64: {err}", None) from err
    decoded_ends = ends // 4 * 3
    keep = np.ones(len(decoded), dtype=bool)
    keep[decoded_ends[pad1] - 1] = False
    keep[decoded_ends[pad2] - 2] = False
    true_lengths = lengths // 4 * 3 - pad1 - pad2
    new_offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(true_lengths, out=new_offsets[1:])
    data = decoded[keep]
    out = pa.Array.from_buffers(pa.binary(), len(lengths), [None, pa.py_buffer(new_offsets), pa.py_buffer(data)])
    if texts.null_count:
        out = pc.if_else(texts.is_valid(), out, pa.scalar(None, pa.binary()))
    return out


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def canonical_json_text(value: dict[str, Any]) -> str:
    """A typed DynamoDB value as canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_SCALAR_TEXT_TAGS = ("S", "N", "B")
_NEEDS_PYTHON_ESCAPE = r"[\x00-\x1f]"  # control characters: json.dumps writes \n, \u0001, ...


def canonical_json(arr: pa.Array) -> pa.Array:
    """Typed values → canonical DynamoDB JSON text (``{"N":"1"}``); a NULL-tagged value is a null."""
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    vectorised = _canonical_scalars(arr)
    if vectorised is not None:
        return vectorised
    return _canonical_json_per_value(arr)


def _canonical_json_per_value(arr: pa.Array) -> pa.Array:
    out = []
    for value in arr.to_pylist():
        value = _strip_nulls(value) if value is not None else None
        out.append(None if not value or value == {"NULL": True} else canonical_json_text(value))
    return pa.array(out, pa.string())


def _canonical_scalars(arr: pa.Array) -> pa.Array | None:
    """Canonical JSON built with Arrow string kernels when every tag is a scalar (S/N/B/BOOL/NULL); else None.

    Values holding control characters (rare) are written by ``json.dumps`` so the escaping is exactly its own.
    """
    if not pa.types.is_struct(arr.type):
        return None
    children = tag_children(arr)
    parts = []
    for tag, child in children.items():
        if tag in _SCALAR_TEXT_TAGS and pa.types.is_string(child.type):
            escaped = pc.replace_substring(pc.replace_substring(child, "\\", "\\\\"), '"', '\\"')
            parts.append(pc.binary_join_element_wise(f'{{"{tag}":"', escaped, '"}', ""))
        elif tag == "BOOL" and pa.types.is_boolean(child.type):
            parts.append(pc.if_else(child, '{"BOOL":true}', '{"BOOL":false}'))
        elif tag == "NULL" or pa.types.is_null(child.type):
            continue  # NULL → null
        else:
            return None
    if not parts:
        return pa.nulls(len(arr), pa.string())
    text = pc.coalesce(*parts) if len(parts) > 1 else parts[0]
    if arr.null_count:
        text = pc.if_else(arr.is_valid(), text, pa.scalar(None, pa.string()))
    special = pc.fill_null(pc.match_substring_regex(text, _NEEDS_PYTHON_ESCAPE), False)
    if pc.any(special).as_py():
        rows = np.flatnonzero(special.to_numpy(zero_copy_only=False))
        exact = _canonical_json_per_value(arr.take(pa.array(rows))).to_pylist()
        values = text.to_pylist()
        for row, value in zip(rows, exact, strict=True):
            values[row] = value
        text = pa.array(values, pa.string())
    return text
