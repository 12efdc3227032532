"""Item-by-item checks in plain Python, used only to pin down *which* line is bad once the fast path has failed.

Also DynamoDB's item size rule (names + values), for the 400 KB limit.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ddb_lake.core.errors import ExportFormatError, MalformedLineError, UnknownTypeTagError

TYPE_TAGS = ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M")
NUMBER_TEXT = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
INCREMENTAL_KEYS = frozenset(("Metadata", "Keys", "NewImage", "OldImage"))


def check_number(text: Any, where: str) -> None:
    if not isinstance(text, str) or not NUMBER_TEXT.match(text):
        raise MalformedLineError(f"{where}: N value {text!r} is not a number in DynamoDB's text form")


def check_value(value: Any, where: str) -> None:
    """Raise if ``value`` is not a DynamoDB-JSON typed value ``{"<TAG>": ...}``."""
    if not isinstance(value, dict) or len(value) != 1:
        raise MalformedLineError(f"{where}: expected one {{\"TAG\": value}} object, got {json.dumps(value)[:80]}")
    ((tag, inner),) = value.items()
    if tag not in TYPE_TAGS:
        raise UnknownTypeTagError(f"{where}: unknown DynamoDB type tag {tag!r}; expected one of {', '.join(TYPE_TAGS)}")
    if tag in ("S", "B") and not isinstance(inner, str):
        raise MalformedLineError(f"{where}: {tag} value must be a JSON string")
    if tag == "B" or tag == "BS":
        for blob in [inner] if tag == "B" else (inner if isinstance(inner, list) else []):
            _check_base64(blob, where)
    if tag == "N":
        check_number(inner, where)
    if tag == "BOOL" and not isinstance(inner, bool):
        raise MalformedLineError(f"{where}: BOOL value must be true or false")
    if tag == "NULL" and inner is not True:
        raise MalformedLineError(f"{where}: NULL value must be true")
    if tag in ("SS", "NS", "BS", "L") and not isinstance(inner, list):
        raise MalformedLineError(f"{where}: {tag} value must be a JSON array")
    if tag in ("SS", "BS") and not all(isinstance(v, str) for v in inner):
        raise MalformedLineError(f"{where}: {tag} members must be JSON strings")
    if tag == "NS":
        for member in inner:
            check_number(member, where)
    if tag == "L":
        for index, element in enumerate(inner):
            check_value(element, f"{where}[{index}]")
    if tag == "M":
        check_attributes(inner, where)


def _check_base64(blob: Any, where: str) -> None:
    try:
        base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError, TypeError) as err:
        raise MalformedLineError(f"{where}: binary value is not valid base64") from err


def check_attributes(attributes: Any, where: str) -> None:
    if not isinstance(attributes, dict):
        raise MalformedLineError(f"{where}: expected an object of attributes")
    for name, value in attributes.items():
        check_value(value, f"{where}.{name}" if where else name)


def check_line(raw: bytes) -> None:
    """Validate one export line (full or incremental shape); raise a located-less ExportFormatError."""
    try:
        record = json.loads(raw)
    except ValueError as err:
        raise MalformedLineError(f"line is not valid JSON: {err}") from err
    if not isinstance(record, dict):
        raise MalformedLineError("line is not a JSON object")
    if set(record) == {"Item"}:
        check_attributes(record["Item"], "Item")
        return
    if record and set(record) <= INCREMENTAL_KEYS and "Keys" in record:
        for part in ("Keys", "NewImage", "OldImage"):
            if part in record:
                check_attributes(record[part], part)
        stamp = (record.get("Metadata") or {}).get("WriteTimestampMicros")
        if stamp is not None:
            check_value(stamp, "Metadata.WriteTimestampMicros")
        return
    raise MalformedLineError(f"line has keys {sorted(record)}; expected Item, or Keys/NewImage/OldImage/Metadata")


def find_bad_line(data: bytes, first_line: int) -> ExportFormatError | None:
    """The first invalid line of a chunk as an error carrying its line number, or None if every line is valid."""
    for offset, raw in enumerate(data.split(b"\n")):
        if not raw.strip():
            continue
        try:
            check_line(raw)
        except ExportFormatError as err:
            err.line = first_line + offset
            return err.located()
    return None


def _value_size(value: dict) -> int:
    ((tag, inner),) = value.items()
    if tag == "S":
        return len(inner.encode("utf-8"))
    if tag == "N":
        return _number_size(inner)
    if tag == "B":
        return len(base64.b64decode(inner))
    if tag in ("BOOL", "NULL"):
        return 1
    if tag == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if tag == "NS":
        return sum(_number_size(n) for n in inner)
    if tag == "BS":
        return sum(len(base64.b64decode(b)) for b in inner)
    if tag == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    return 3 + sum(1 + len(k.encode("utf-8")) + _value_size(v) for k, v in inner.items())


def _number_size(text: str) -> int:
    digits = text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def dynamodb_item_size(raw: bytes, *, file: str, line: int) -> int:
    """DynamoDB's size of the item on one export line (attribute names + values), per its documented rules."""
    try:
        check_line(raw)
        record = json.loads(raw)
    except ExportFormatError as err:
        err.line = line
        raise err.located(file=file) from None
    attributes = record.get("Item") or record.get("NewImage") or record.get("Keys") or {}
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in attributes.items())
