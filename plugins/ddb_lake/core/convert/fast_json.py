"""DynamoDB JSON lines → the raw Arrow table, with the native parser (``_ddb_json.c``) when it is built.

The native parser gives exactly the table pyarrow's JSON reader infers when every string stays a string (structs in
first-seen field order, lists, strings, booleans, null-typed fields that never held a value), several times faster
and without the timestamp guessing the reader needs hints against. It handles only what DynamoDB's export writes;
for anything else (a bare number, a field changing its JSON type, invalid UTF-8, ...) :func:`read_json_lines`
returns None and the converter parses the chunk with pyarrow's reader, whose table or error is then the answer.

Without a C compiler at install time (a plugins folder copied as it is, as MWAA and Composer load it) the module is
absent, :data:`NATIVE` is False and every chunk goes to pyarrow: the same output, slower.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa

try:
    from ddb_lake.core.convert import _ddb_json
except ImportError:  # not built here: pyarrow's reader parses every chunk
    _ddb_json = None
parse_json_lines = _ddb_json.parse_json_lines if _ddb_json is not None else None

log = logging.getLogger(__name__)

NATIVE = parse_json_lines is not None
PARSERS = ("auto", "pyarrow")


def read_json_lines(data: bytes) -> pa.Table | None:
    """The raw table of ``data`` (complete JSON lines), or None when the native parser is absent or declines."""
    if parse_json_lines is None:
        return None
    tree = parse_json_lines(data)
    if tree[0] == "unsupported":
        log.debug("native JSON parser declined (%s at byte %d); pyarrow's reader parses this chunk", tree[1], tree[2])
        return None
    rows = _array(tree)
    return pa.Table.from_batches([pa.RecordBatch.from_struct_array(rows)])


def line_lengths(data: bytes, limit: int) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(newlines, longest line, ``(index, start, length)`` of each line longer than ``limit``) of ``data``.

    Without a newline the whole of ``data`` is one (uncounted) line; bytes after the last newline are not a line.
    """
    if _ddb_json is not None:
        return _ddb_json.line_lengths(data, limit)
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.array([0])
    lengths = (ends if len(ends) else np.array([len(data)])) - starts
    long_ones = [(int(i), int(starts[i]), int(lengths[i])) for i in np.flatnonzero(lengths > limit)]
    return len(ends), int(lengths.max()) if len(lengths) else 0, long_ones


def native_number_stats(texts: pa.Array) -> tuple[int, bool, int, int, list[int]] | None:
    """(count, all integers, widest integer part, widest scale, rows with an exponent) of a string array's values,
    computed natively; None when not built or a value holds a character no DynamoDB number has."""
    if _ddb_json is None or not pa.types.is_string(texts.type):
        return None
    validity, offsets, data = texts.buffers()
    return _ddb_json.number_stats(validity, offsets, data if data is not None else b"", texts.offset, len(texts))


def native_decimals(texts: pa.Array, kind: pa.Decimal128Type) -> pa.Array | None:
    """Number texts as ``kind``, computed natively for plain ``-?digits[.digits]`` values that fit it; None when not
    built or any value needs more (an exponent, too many digits): Arrow's cast then converts, or says what does not
    fit."""
    if _ddb_json is None or not pa.types.is_string(texts.type):
        return None
    validity, offsets, data = texts.buffers()
    if offsets is None:
        return None
    out = _ddb_json.decimals(validity if texts.null_count else None, offsets, data if data is not None else b"",
                             texts.offset, len(texts), kind.precision, kind.scale)
    if out is None:
        return None
    values, valid, nulls = out
    return pa.Array.from_buffers(kind, len(texts), [pa.py_buffer(valid) if valid is not None else None,
                                                    pa.py_buffer(values)], null_count=nulls)


def _array(node: tuple) -> pa.Array:
    kind, length = node[0], node[1]
    if kind == "null":
        return pa.nulls(length)
    null_count, validity = node[2], node[3]
    bitmap = pa.py_buffer(validity) if validity is not None else None
    if kind == "bool":
        return pa.Array.from_buffers(pa.bool_(), length, [bitmap, pa.py_buffer(node[4])], null_count=null_count)
    if kind == "string":
        return pa.Array.from_buffers(pa.string(), length, [bitmap, pa.py_buffer(node[4]), pa.py_buffer(node[5])],
                                     null_count=null_count)
    if kind == "list":
        item = _array(node[5])
        return pa.Array.from_buffers(pa.list_(item.type), length, [bitmap, pa.py_buffer(node[4])],
                                     null_count=null_count, children=[item])
    children = [_array(child) for _, child in node[4]]
    kind = pa.struct([pa.field(name, child.type) for (name, _), child in zip(node[4], children, strict=True)])
    return pa.Array.from_buffers(kind, length, [bitmap], null_count=null_count, children=children)
