"""Which schema changes an Iceberg table can take in place, following Iceberg's type promotion rules.

The converter evolves a table's :class:`LakeSchema` additively (``core.schema.inference.evolve``): new columns and
struct members are appended, types widen. In the Parquet snapshot lake every snapshot is rewritten whole, so any
widening is fine; an Iceberg table keeps its old data files, so only Iceberg's promotions apply in place
(int → long, float → double, decimal(P, S) → decimal(P', S) with P' > P). ddb-lake's numbers are already long and
double, so the one widening left is a decimal's precision at the same scale. Any other change (long → decimal,
a new scale, decimal → exact text, a kind turning into ``json``) is refused with a :class:`SchemaError` naming the
column and the fix — the contract path of docs/conversion.md: a column's type never changes under its readers.
"""

from __future__ import annotations

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

SCHEMA_PROPERTY = "ddb-lake.schema"
KEY_COLUMNS_PROPERTY = "ddb-lake.key-columns"


def promotion_problem(old: LakeType, new: LakeType, path: str) -> str | None:
    """Why ``old`` cannot become ``new`` in place (None: it can)."""
    if old == new:
        return None
    if old.kind == new.kind == "decimal":
        if old.scale == new.scale and (new.precision or 0) >= (old.precision or 0):
            return None
        return (f"{path}: decimal({old.precision},{old.scale}) → decimal({new.precision},{new.scale}) changes the "
                "scale; Iceberg widens a decimal's precision only at the same scale")
    if old.kind == new.kind == "list":
        return promotion_problem(old.item, new.item, f"{path}[]")  # type: ignore[arg-type]
    if old.kind == new.kind == "struct":
        return _struct_problem(old.fields, new.fields, path)
    return f"{path}: {_shown(old)} → {_shown(new)} is not an Iceberg type promotion"


def _struct_problem(old: tuple[LakeField, ...], new: tuple[LakeField, ...], path: str) -> str | None:
    by_attribute = {f.attribute: f for f in new}
    for field in old:
        match = by_attribute.get(field.attribute)
        if match is None:
            return f"{path}.{field.name}: the member is gone from the evolved schema"
        problem = promotion_problem(field.type, match.type, f"{path}.{field.name}")
        if problem:
            return problem
    return None


def _shown(kind: LakeType) -> str:
    return f"decimal({kind.precision},{kind.scale})" if kind.kind == "decimal" else kind.kind


def check_evolution(table: str, old: LakeSchema, new: LakeSchema) -> list[str]:
    """The columns ``new`` adds to ``old``; raise :class:`SchemaError` when a kept column changes illegally."""
    by_attribute = {f.attribute: f for f in new.fields}
    for field in old.fields:
        match = by_attribute.get(field.attribute)
        if match is None:
            raise SchemaError(f"Iceberg table {table}: column {field.name} (attribute {field.attribute!r}) is missing "
                              "from the evolved schema; columns are never dropped")
        if match.name != field.name:
            raise SchemaError(f"Iceberg table {table}: attribute {field.attribute!r} moved from column {field.name} "
                              f"to {match.name}; a column keeps its attribute")
        problem = promotion_problem(field.type, match.type, field.name)
        if problem:
            raise SchemaError(
                f"Iceberg table {table}: column {field.name} (attribute {field.attribute!r}) cannot change type in "
                f"place: {problem}. The merge was not committed and the watermark did not move. Fix: rebuild the "
                "table with the wider type — drop the Iceberg table (its data stays in S3 until removed) and the "
                "next run bootstraps it from a full export, typed from all current values (docs/iceberg.md)")
    known = {f.attribute for f in old.fields}
    return [f.name for f in new.fields if f.attribute not in known]


def key_columns_of(schema: LakeSchema, key_attributes: list[str]) -> list[str]:
    """The columns holding the DynamoDB key attributes (partition key first)."""
    by_attribute = {f.attribute: f.name for f in schema.fields}
    missing = [a for a in key_attributes if a not in by_attribute]
    if missing:
        raise SchemaError(f"key attribute(s) {missing} have no column; columns: {sorted(by_attribute.values())}")
    return [by_attribute[a] for a in key_attributes]
