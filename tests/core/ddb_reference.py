"""An independent, per-item reference decoding of DynamoDB JSON, to check the converter value by value."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any


def plain(value: dict[str, Any]) -> Any:
    """The lake value a typed DynamoDB value should become (nulls for NULL)."""
    ((tag, inner),) = value.items()
    if tag in ("S", "BOOL"):
        return inner
    if tag == "NULL":
        return None
    if tag == "N":
        return Decimal(inner)
    if tag == "B":
        return base64.b64decode(inner)
    if tag == "SS":
        return list(inner)
    if tag == "NS":
        return [Decimal(n) for n in inner]
    if tag == "BS":
        return [base64.b64decode(b) for b in inner]
    if tag == "L":
        return [plain(v) for v in inner]
    return {k: plain(v) for k, v in inner.items()}


def lake_to_plain(value: Any, kind: dict[str, Any]) -> Any:
    """A Parquet value back to the reference form (numbers as Decimal, json text decoded)."""
    if value is None:
        return None
    k = kind["kind"]
    if k in ("int64", "decimal", "decimal_text", "float64"):
        return Decimal(str(value))
    if k == "json":
        return plain(json.loads(value))
    if k == "list":
        return [lake_to_plain(v, kind["item"]) for v in value]
    if k == "struct":
        return {f["attribute"]: lake_to_plain(value[f["name"]], f["type"]) for f in kind["fields"]
                if value[f["name"]] is not None}
    return value


def strip_null_members(value: Any) -> Any:
    """Struct members that are absent or NULL both read back as null: drop them for comparison."""
    if isinstance(value, dict):
        return {k: strip_null_members(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_null_members(v) for v in value]
    return value
