"""From a merged profile to the unified :class:`LakeSchema`; merging with an earlier schema and reporting drift.

Rules (docs/conversion.md has the full text):

- one type tag per attribute path → its lake type; ``NULL`` values are nulls of whatever the other tag is;
- more than one non-NULL tag (``S`` here, ``N`` there) → ``json``: each value as canonical DynamoDB JSON text
  (``{"N":"1"}``, ``{"S":"x"}``), so no value and no type is lost;
- ``N``/``NS``: int64 if every value is an integer that fits; else decimal(p, s) if p ≤ 38; else ``decimal_text``
  (exact text); ``numbers="float"`` gives float64 instead;
- ``M`` → struct of the union of keys; ``L`` → list of the element type, or ``json`` when elements mix tags or an
  element is ``NULL`` (BigQuery's REPEATED columns and Athena's arrays of some readers cannot hold a NULL element);
  deeper than ``max_depth``, an empty struct, or wider than ``max_struct_fields`` → ``json``.
"""

from __future__ import annotations

from typing import Any

from ddb_lake.core.schema.column_names import METADATA_PREFIX, assign_names
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

MAX_DECIMAL_PRECISION = 38
INT64_DIGITS = 19
OPERATION_COLUMN = f"{METADATA_PREFIX}operation"
WRITE_TS_COLUMN = f"{METADATA_PREFIX}write_ts"
OPERATION_ATTRIBUTE = "@operation"
WRITE_TS_ATTRIBUTE = "@Metadata.WriteTimestampMicros"
NULL_ONLY_NOTE = "only NULL values seen; typed string until a value shows up"
LIST_WITH_NULL_NOTE = ("list with NULL elements: canonical DynamoDB JSON text (a REPEATED column cannot hold a NULL "
                       "element)")

STRING, BOOL, BINARY, JSON = (LakeType("string"), LakeType("bool"), LakeType("binary"), LakeType("json"))


def number_type(stats: dict[str, Any], numbers: str) -> tuple[LakeType, str]:
    """The lake type for a set of DynamoDB numbers, and why."""
    if numbers == "float":
        return LakeType("float64"), "float64 by request (numbers=float): values may lose digits"
    if stats["all_int"] and stats["fits_int64"]:
        return LakeType("int64"), ""
    precision = max(stats["int_digits"] + stats["scale"], 1)
    if precision <= MAX_DECIMAL_PRECISION:
        return LakeType("decimal", precision=precision, scale=stats["scale"]), (
            "" if not stats["all_int"] else "integers beyond int64: decimal with scale 0")
    return LakeType("decimal_text"), (
        f"exact decimal text: values need {stats['int_digits']} integer digits and scale {stats['scale']}, "
        f"over decimal128's {MAX_DECIMAL_PRECISION} digits")


class _Builder:
    def __init__(self, numbers: str, max_depth: int, max_struct_fields: int):
        self.numbers = numbers
        self.max_depth = max_depth
        self.max_struct_fields = max_struct_fields

    def value_type(self, node: dict[str, Any], depth: int) -> tuple[LakeType | None, str]:
        """Lake type of one attribute path (None: only NULL seen)."""
        tags = {t: i for t, i in node["tags"].items() if t != "NULL"}
        if not tags:
            return None, NULL_ONLY_NOTE
        if len(tags) > 1:
            return JSON, f"mixed type tags {'/'.join(sorted(tags))}: canonical DynamoDB JSON text"
        ((tag, info),) = tags.items()
        if tag in ("S", "BOOL", "B"):
            return {"S": STRING, "BOOL": BOOL, "B": BINARY}[tag], ""
        if tag == "N":
            return number_type(info, self.numbers)
        if tag in ("SS", "BS"):
            return LakeType("list", item=STRING if tag == "SS" else BINARY), ""
        if tag == "NS":
            item, note = number_type(info, self.numbers)
            return LakeType("list", item=item), note
        if depth >= self.max_depth:
            return JSON, f"nested deeper than max_depth={self.max_depth}: canonical DynamoDB JSON text"
        if tag == "L":
            return self._list_type(info, depth)
        return self._struct_type(info["fields"], depth)

    def _list_type(self, info: dict[str, Any], depth: int) -> tuple[LakeType, str]:
        if "NULL" in info["item"].get("tags", {}):
            return JSON, LIST_WITH_NULL_NOTE
        item, note = self.value_type(info["item"], depth + 1)
        if item is None:
            return LakeType("list", item=STRING), "list elements only NULL or none seen"
        if item.kind == "json" and note.startswith("mixed"):
            return JSON, f"list elements of {note}"
        return LakeType("list", item=item), note

    def _struct_type(self, fields: dict[str, Any], depth: int) -> tuple[LakeType, str]:
        if not fields:
            return JSON, "only empty maps seen: canonical DynamoDB JSON text"
        if len(fields) > self.max_struct_fields:
            return JSON, f"map with {len(fields)} distinct keys, over max_struct_fields={self.max_struct_fields}"
        return LakeType("struct", fields=self.fields(fields, depth + 1)), ""

    def fields(self, nodes: dict[str, Any], depth: int, reserved: tuple[str, ...] = ()) -> tuple[LakeField, ...]:
        names = assign_names(nodes, taken=reserved)
        out = []
        for attribute in sorted(nodes, key=lambda a: names[a]):
            kind, note = self.value_type(nodes[attribute], depth)
            out.append(LakeField(names[attribute], attribute, kind or STRING, note))
        return tuple(out)


def metadata_fields() -> tuple[LakeField, ...]:
    return (
        LakeField(OPERATION_COLUMN, OPERATION_ATTRIBUTE, STRING, "INSERT / MODIFY / REMOVE (see docs/conversion.md)"),
        LakeField(WRITE_TS_COLUMN, WRITE_TS_ATTRIBUTE, LakeType("timestamp_us"), "Metadata.WriteTimestampMicros"),
    )


def build_schema(attributes: dict[str, Any], *, incremental: bool, numbers: str = "exact", max_depth: int = 8,
                 max_struct_fields: int = 1000) -> LakeSchema:
    """The lake schema of one export from its merged attribute profile."""
    builder = _Builder(numbers, max_depth, max_struct_fields)
    fields = builder.fields(attributes, 1)
    return LakeSchema((*metadata_fields(), *fields) if incremental else fields)


# ---- evolving an earlier schema --------------------------------------------------------------------------------

def _decimal_parts(kind: LakeType) -> tuple[int, int] | None:
    if kind.kind == "int64":
        return INT64_DIGITS, 0
    if kind.kind == "decimal":
        return kind.precision - kind.scale, kind.scale  # type: ignore[operator]
    return None


def merge_types(old: LakeType, new: LakeType) -> LakeType:
    """The narrowest type that holds values of both (additive evolution)."""
    if old == new:
        return old
    kinds = {old.kind, new.kind}
    if kinds <= {"int64", "decimal", "decimal_text", "float64"}:
        if "float64" in kinds:
            return LakeType("float64")
        if "decimal_text" in kinds:
            return LakeType("decimal_text")
        (int_old, scale_old), (int_new, scale_new) = _decimal_parts(old), _decimal_parts(new)  # type: ignore[misc]
        integer, scale = max(int_old, int_new), max(scale_old, scale_new)
        if integer + scale <= MAX_DECIMAL_PRECISION:
            return LakeType("decimal", precision=integer + scale, scale=scale)
        return LakeType("decimal_text")
    if old.kind == new.kind == "list":
        item = merge_types(old.item, new.item)  # type: ignore[arg-type]
        return JSON if item.kind == "json" and "json" not in (old.item.kind, new.item.kind) else LakeType(  # type: ignore[union-attr]
            "list", item=item)
    if old.kind == new.kind == "struct":
        return LakeType("struct", fields=merge_fields(old.fields, new.fields))
    return JSON


def merge_fields(old: tuple[LakeField, ...], new: tuple[LakeField, ...]) -> tuple[LakeField, ...]:
    """Old fields keep their names and order (types widened); new attributes are appended with fresh names."""
    new_by_attribute = {f.attribute: f for f in new}
    out = []
    for field in old:
        match = new_by_attribute.get(field.attribute)
        if match is None or match.note == NULL_ONLY_NOTE:
            out.append(field)
            continue
        if field.note == NULL_ONLY_NOTE:
            out.append(LakeField(field.name, field.attribute, match.type, match.note))
            continue
        merged = merge_types(field.type, match.type)
        note = match.note if merged == match.type else f"widened from {field.type.to_json()} ({match.note})".strip()
        out.append(LakeField(field.name, field.attribute, merged, note if merged != field.type else field.note))
    known = {f.attribute for f in old}
    added = [f for f in new if f.attribute not in known]
    names = assign_names([f.attribute for f in added], taken=[f.name for f in old])
    out.extend(LakeField(names[f.attribute], f.attribute, f.type, f.note) for f in sorted(
        added, key=lambda f: names[f.attribute]))
    return tuple(out)


def evolve(previous: LakeSchema | None, current: LakeSchema) -> tuple[LakeSchema, dict[str, Any]]:
    """Evolve ``previous`` additively to hold ``current``; return the schema to write and the drift report."""
    if previous is None:
        return current, {"previous_schema": False, "added": [], "widened": [], "missing": []}
    merged = LakeSchema(merge_fields(previous.fields, current.fields))
    before = {f.attribute: f for f in previous.fields}
    seen = {f.attribute for f in current.fields}
    drift = {
        "previous_schema": True,
        "added": [f.name for f in merged.fields if f.attribute not in before],
        "widened": [{"column": f.name, "from": before[f.attribute].type.to_json(), "to": f.type.to_json()}
                    for f in merged.fields if f.attribute in before and before[f.attribute].type != f.type],
        "missing": [f.name for f in previous.fields if f.attribute not in seen],
    }
    return merged, drift
