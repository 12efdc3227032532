"""The lake schema: the converter's typed description of a table, shared by Parquet, Glue, Athena and BigQuery.

It is a small tree of :class:`LakeType` and :class:`LakeField`, serialised as JSON in ``_manifest.json`` and
in XCom. Every destination mapping (Arrow, Glue/Hive type strings, BigQuery fields) starts from it.

Kinds:

- ``string``, ``int64``, ``float64``, ``bool``, ``binary``
- ``decimal`` with ``precision`` (1..38) and ``scale``
- ``decimal_text``: a DynamoDB number kept as its exact decimal text (no decimal128 holds every value)
- ``json``: a value kept as canonical JSON text (mixed element types, nesting over the limit)
- ``list`` with ``item``; ``struct`` with ``fields``
- ``timestamp_us``: UTC timestamp, microseconds (change metadata)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SCALAR_KINDS = ("string", "int64", "float64", "bool", "binary", "decimal_text", "json", "timestamp_us")
KINDS = (*SCALAR_KINDS, "decimal", "list", "struct")


@dataclass(frozen=True)
class LakeType:
    """One column's type."""

    kind: str
    precision: int | None = None
    scale: int | None = None
    item: LakeType | None = None
    fields: tuple[LakeField, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown lake type kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind == "decimal" and (self.precision is None or self.scale is None):
            raise ValueError("a decimal lake type needs precision and scale")
        if self.kind == "list" and self.item is None:
            raise ValueError("a list lake type needs an item type")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "decimal":
            out["precision"] = self.precision
            out["scale"] = self.scale
        if self.item is not None:
            out["item"] = self.item.to_json()
        if self.kind == "struct":
            out["fields"] = [f.to_json() for f in self.fields]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LakeType:
        return cls(
            kind=data["kind"],
            precision=data.get("precision"),
            scale=data.get("scale"),
            item=cls.from_json(data["item"]) if data.get("item") else None,
            fields=tuple(LakeField.from_json(f) for f in data.get("fields", ())),
        )

    def to_arrow(self) -> pa.DataType:
        return _ARROW_SCALARS[self.kind] if self.kind in _ARROW_SCALARS else self._nested_to_arrow()

    def _nested_to_arrow(self) -> pa.DataType:
        if self.kind == "decimal":
            return pa.decimal128(self.precision, self.scale)
        if self.kind == "list":
            return pa.list_(self.item.to_arrow())  # type: ignore[union-attr]
        return pa.struct([pa.field(f.name, f.type.to_arrow()) for f in self.fields])


@dataclass(frozen=True)
class LakeField:
    """A column (or struct member): its sanitised ``name``, the DynamoDB ``attribute`` it holds, its type, and why.

    ``pinned``: the type is fixed by the table's YAML (``columns:``, see ``core.schema.pins``), never inferred.
    """

    name: str
    attribute: str
    type: LakeType
    note: str = ""
    pinned: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "attribute": self.attribute, "type": self.type.to_json()}
        if self.note:
            out["note"] = self.note
        if self.pinned:
            out["pinned"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LakeField:
        return cls(data["name"], data["attribute"], LakeType.from_json(data["type"]), data.get("note", ""),
                   bool(data.get("pinned", False)))


@dataclass(frozen=True)
class LakeSchema:
    """The ordered columns of one table snapshot."""

    fields: tuple[LakeField, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"fields": [f.to_json() for f in self.fields]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LakeSchema:
        return cls(tuple(LakeField.from_json(f) for f in data["fields"]))

    def to_arrow(self) -> pa.Schema:
        mapping = {f.name: f.attribute for f in self.fields}
        return pa.schema(
            [pa.field(f.name, f.type.to_arrow()) for f in self.fields],
            metadata={"ddb_lake.columns": json.dumps(mapping, sort_keys=True)},
        )

    def field_named(self, name: str) -> LakeField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"no column {name!r} in schema; columns are {', '.join(f.name for f in self.fields)}")


_ARROW_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "binary": pa.binary(),
    "decimal_text": pa.string(),
    "json": pa.string(),
    "timestamp_us": pa.timestamp("us", tz="UTC"),
}
