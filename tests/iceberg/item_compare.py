"""Items of an Iceberg table and of DynamoDB in one comparable form (an independent decoding, value by value)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from ddb_reference import lake_to_plain, plain, strip_null_members

from ddb_lake.core.schema.lake_schema import LakeSchema

SET_TAGS = ("SS", "NS", "BS")


def client_plain(value: dict[str, Any]) -> Any:
    """A value as boto3's low-level client returns it (``B`` as bytes) in the reference form; sets sorted."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return bytes(inner)
    if tag == "BS":
        return sorted(bytes(b) for b in inner)
    if tag in SET_TAGS:
        return sorted(plain(value))
    if tag == "L":
        return [client_plain(v) for v in inner]
    if tag == "M":
        return {k: client_plain(v) for k, v in inner.items()}
    return plain(value)


def export_plain(value: dict[str, Any]) -> Any:
    """A value as export JSON holds it (``B`` base64) in the reference form."""
    return plain(value)


def item_form(item: dict[str, Any], decode=client_plain) -> dict[str, Any]:
    return strip_null_members({name: decode(value) for name, value in item.items()})


def iceberg_items(table: Any, schema: LakeSchema, set_attributes: frozenset[str] = frozenset()) -> list[dict]:
    """Every row of the table's current snapshot as ``{attribute: value}`` (nulls dropped), sorted by key text.

    ``set_attributes``: top-level attributes that are DynamoDB sets (unordered): their lists are sorted.
    """
    rows = table.scan().to_arrow().to_pylist()
    out = []
    for row in rows:
        item = {f.attribute: lake_to_plain(row[f.name], f.type.to_json()) for f in schema.fields}
        for name in set_attributes:
            if item.get(name) is not None:
                item[name] = sorted(item[name])
        out.append(strip_null_members(item))
    return sorted(out, key=sort_key)


def sort_key(item: dict[str, Any]) -> str:
    return repr(sorted((k, _key_text(v)) for k, v in item.items() if k in ("pk", "sk")))


def _key_text(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value.normalize())
    return str(value)


def sorted_items(items: list[dict[str, Any]], decode=client_plain) -> list[dict[str, Any]]:
    return sorted((item_form(i, decode) for i in items), key=sort_key)


def scanned_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of the DynamoDB table (a paginated Scan), in the comparison form, sorted by key."""
    items, kwargs = [], {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted_items(items)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def set_attributes_of(items: list[dict[str, Any]]) -> frozenset[str]:
    """Top-level attributes holding a set (SS/NS/BS) in any of the items."""
    return frozenset(name for item in items for name, value in item.items() if next(iter(value)) in SET_TAGS)
