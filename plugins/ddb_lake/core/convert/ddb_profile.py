"""What the values of an export look like, found column by column on the raw Arrow form of DynamoDB JSON.

pyarrow's JSON reader turns ``{"a": {"N": "1"}}`` into ``a: struct<N: string>``; a profile records, per attribute
path, which type tags occur and, for numbers, the widest integer part and scale. Profiles of chunks merge, and the
unified lake schema is built from the merged profile (:mod:`ddb_lake.core.schema.inference`).

A profile node is a plain dict (picklable, JSON-able): ``{"tags": {tag: info}}`` where ``info`` holds ``count`` and,
for ``N``/``NS`` the number stats, for ``L`` an ``item`` node, for ``M`` a ``fields`` dict of nodes.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ddb_lake.core.convert.fast_json import native_number_stats
from ddb_lake.core.convert.item_validation import TYPE_TAGS

INT64_SAFE_DIGITS = 18
_STRING_TAGS = ("S", "N", "B")
_LIST_OF_STRING_TAGS = ("SS", "NS", "BS")


class RawShapeError(Exception):
    """The raw Arrow data does not have DynamoDB JSON's shape at ``row``; the caller finds the exact line."""

    def __init__(self, message: str, row: int | None):
        super().__init__(message)
        self.row = row


def first_valid_row(arr: pa.Array) -> int | None:
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    hits = np.flatnonzero(valid)
    return int(hits[0]) if len(hits) else None


def number_stats(texts: pa.Array) -> dict[str, Any]:
    """Count, integer-ness, int64 fit, widest integer part and scale of DynamoDB number texts (nulls ignored).

    Regex-free (RE2 over every value was most of the profiling time): integers are ``-?[0-9]+`` checked with
    ``ascii_is_decimal`` on the text without its sign; exponents are found by plain substring search.
    """
    native = native_number_stats(texts)
    if native is not None:
        count, all_int, max_int, max_scale, exponent_rows = native
        exponent_texts = [texts[row].as_py() for row in exponent_rows]
    else:
        count, all_int, max_int, max_scale, exponent_texts = _digits_with_arrow(texts)
    if count == 0:
        return {"count": 0, "all_int": True, "fits_int64": True, "int_digits": 0, "scale": 0}
    for text in exponent_texts:  # exponent forms are rare: exact digits via Decimal
        digits, exponent = _digits_exponent(text)
        max_int = max(max_int, max(digits + exponent, 0))
        max_scale = max(max_scale, max(-exponent, 0))
    fits = all_int and (max_int <= INT64_SAFE_DIGITS or _casts_to_int64(pc.drop_null(texts)))
    return {"count": count, "all_int": all_int, "fits_int64": bool(fits), "int_digits": int(max_int),
            "scale": int(max_scale)}


def _digits_with_arrow(texts: pa.Array) -> tuple[int, bool, int, int, list[str]]:
    """What the native pass gives, with Arrow compute: (count, all integers, widest integer part and scale of the
    forms without an exponent, the texts with one), nulls ignored."""
    texts = pc.drop_null(texts)
    if len(texts) == 0:
        return 0, True, 0, 0, []
    signed = pc.starts_with(texts, "-")
    magnitude = pc.if_else(signed, pc.utf8_slice_codeunits(texts, 1), texts) if pc.any(signed).as_py() else texts
    if pc.all(pc.ascii_is_decimal(magnitude)).as_py():  # ASCII digits only: no dot, no exponent, a byte per digit
        return len(texts), True, pc.max(pc.binary_length(pc.utf8_ltrim(magnitude, "0"))).as_py() or 0, 0, []
    unsigned = pc.utf8_ltrim(pc.utf8_ltrim(texts, "-"), "0")
    has_exp = pc.or_(pc.match_substring(texts, "e"), pc.match_substring(texts, "E"))
    plain = pc.filter(unsigned, pc.invert(has_exp))
    dot = pc.find_substring(plain, ".")
    length = pc.utf8_length(plain)
    int_digits = pc.if_else(pc.less(dot, 0), length, dot)
    scale = pc.if_else(pc.less(dot, 0), 0, pc.subtract(pc.subtract(length, dot), 1))
    return (len(texts), False, pc.max(int_digits).as_py() or 0, pc.max(scale).as_py() or 0,
            pc.filter(texts, has_exp).to_pylist())


def _digits_exponent(text: str) -> tuple[int, int]:
    try:
        parts = Decimal(text).normalize().as_tuple()
    except InvalidOperation:
        raise RawShapeError(f"N value {text!r} is not a number", None) from None
    return len(parts.digits), int(parts.exponent)


def _casts_to_int64(texts: pa.Array) -> bool:
    try:
        pc.cast(texts, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def merge_number_stats(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None or b is None:
        return a or b
    return {"count": a["count"] + b["count"], "all_int": a["all_int"] and b["all_int"],
            "fits_int64": a["fits_int64"] and b["fits_int64"], "int_digits": max(a["int_digits"], b["int_digits"]),
            "scale": max(a["scale"], b["scale"])}


def _check_one_tag_per_value(arr: pa.Array, children: list[pa.Array]) -> None:
    """Every valid value has exactly one tag, checked on validity bitmaps (children hold the parent's nulls)."""
    if len(children) == 1 and children[0].null_count == arr.null_count:
        return
    seen = twice = None
    for child in children:
        valid = child.is_valid()
        if seen is None:
            seen = valid
            continue
        both = pc.and_(seen, valid)
        twice = both if twice is None else pc.or_(twice, both)
        seen = pc.or_(seen, valid)
    bad = pc.xor(seen, arr.is_valid()) if seen is not None else arr.is_valid()
    if twice is not None:
        bad = pc.or_(bad, twice)
    if pc.any(bad).as_py():
        raise RawShapeError("a value must carry exactly one DynamoDB type tag",
                            int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0]))


def _expect(child: pa.Array, ok: bool, tag: str) -> None:
    if not ok:
        raise RawShapeError(f"{tag} value has JSON type {child.type}", first_valid_row(child))


def profile_values(arr: pa.Array) -> dict[str, Any]:
    """Profile an array of typed values (``struct<S, N, ...>``; a null-typed array holds no values)."""
    if pa.types.is_null(arr.type):
        return {"tags": {}}
    if not pa.types.is_struct(arr.type):
        raise RawShapeError(f"expected a {{\"TAG\": value}} object, found JSON type {arr.type}", first_valid_row(arr))
    names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
    children = arr.flatten()
    _check_one_tag_per_value(arr, children)
    tags: dict[str, Any] = {}
    for tag, child in zip(names, children, strict=True):
        count = len(child) - child.null_count
        if count == 0:
            continue
        if tag not in TYPE_TAGS:
            raise RawShapeError(f"unknown DynamoDB type tag {tag!r}", first_valid_row(child))
        tags[tag] = _profile_tag(tag, child, count)
    return {"tags": tags}


def _profile_tag(tag: str, child: pa.Array, count: int) -> dict[str, Any]:
    kind = child.type
    if tag in _STRING_TAGS:
        _expect(child, pa.types.is_string(kind), tag)
        return number_stats(child) if tag == "N" else {"count": count}
    if tag in ("BOOL", "NULL"):
        _expect(child, pa.types.is_boolean(kind), tag)
        if tag == "NULL" and not pc.all(pc.drop_null(child)).as_py():
            rows = np.flatnonzero(pc.fill_null(pc.invert(child), False).to_numpy(zero_copy_only=False))
            raise RawShapeError("NULL value must be true", int(rows[0]))
        return {"count": count}
    if tag in _LIST_OF_STRING_TAGS:
        _expect(child, pa.types.is_list(kind) and (pa.types.is_string(kind.value_type)
                                                   or pa.types.is_null(kind.value_type)), tag)
        members = child.flatten()
        if tag == "NS":
            return {**number_stats(members.cast(pa.string())), "count": count}
        return {"count": count}
    if tag == "L":
        _expect(child, pa.types.is_list(kind), tag)
        return {"count": count, "item": profile_values(child.flatten())}
    _expect(child, pa.types.is_struct(kind), tag)  # M
    fields = {kind.field(i).name: profile_values(part) for i, part in enumerate(child.flatten())}
    return {"count": count, "fields": fields}


def merge_nodes(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    """Union of two profile nodes."""
    if not a:
        return b or {"tags": {}}
    if not b:
        return a
    tags = dict(a["tags"])
    for tag, info in b["tags"].items():
        tags[tag] = _merge_info(tag, tags.get(tag), info)
    return {"tags": tags}


def _merge_info(tag: str, a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    if a is None:
        return b
    if tag in ("N", "NS"):
        return merge_number_stats(a, b)  # type: ignore[return-value]
    out = {"count": a["count"] + b["count"]}
    if tag == "L":
        out["item"] = merge_nodes(a["item"], b["item"])
    if tag == "M":
        fields = dict(a["fields"])
        for name, node in b["fields"].items():
            fields[name] = merge_nodes(fields.get(name), node)
        out["fields"] = fields
    return out


def merge_attribute_maps(a: dict[str, dict], b: dict[str, dict]) -> dict[str, dict]:
    out = dict(a)
    for name, node in b.items():
        out[name] = merge_nodes(out.get(name), node)
    return out


def profile_attributes(items: pa.Array) -> dict[str, dict]:
    """Profile a ``struct<attribute: struct<TAG...>>`` array (an ``Item``, ``Keys`` or ``NewImage`` column)."""
    if pa.types.is_null(items.type):
        return {}
    if not pa.types.is_struct(items.type):
        raise RawShapeError("expected an object of attributes", first_valid_row(items))
    return {items.type.field(i).name: profile_values(part) for i, part in enumerate(items.flatten())}
