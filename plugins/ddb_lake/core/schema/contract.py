"""The table's schema contract: the published schema (column -> attribute, type) and the history of its changes.

The contract is state the lake keeps with the published snapshot (see ``core.lake.contract_store``). Every run
converts into it (the converter's ``previous_schema``), so existing columns keep their names, their attributes and
their order; new attributes get new names; types only widen. Publishing a validated snapshot makes its schema the
next contract with :func:`next_contract`, which refuses a snapshot that moved a column to another attribute.

Rules (docs/conversion.md, "The schema contract"):

- a column name, once given to an attribute, is never given to another (struct members likewise, by their path);
- an attribute absent from a later export keeps its column (NULL in that snapshot) and gets it back when it returns;
- history: one entry per column path and change, at the snapshot whose publish made it: ``added``, ``widened``
  (with the type before), or ``adopted`` (columns of a table published before contracts were kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

CONTRACT_FORMAT = 1
ADDED, WIDENED, ADOPTED = "added", "widened", "adopted"


@dataclass(frozen=True)
class ContractChange:
    """One change of one column path (``address.city`` for a struct member) at one published snapshot."""

    snapshot: str
    column: str
    attribute: str
    change: str
    type: LakeType
    previous_type: LakeType | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"snapshot": self.snapshot, "column": self.column, "attribute": self.attribute, "change": self.change,
               "type": self.type.to_json()}
        if self.previous_type is not None:
            out["previous_type"] = self.previous_type.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContractChange:
        previous = data.get("previous_type")
        return cls(data["snapshot"], data["column"], data["attribute"], data["change"],
                   LakeType.from_json(data["type"]), LakeType.from_json(previous) if previous else None)


@dataclass(frozen=True)
class SchemaContract:
    """The schema of ``table`` as last published (at ``snapshot``) and every change that led to it, oldest first."""

    table: str
    snapshot: str
    schema: LakeSchema
    history: tuple[ContractChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"format": CONTRACT_FORMAT, "table": self.table, "snapshot": self.snapshot,
                "schema": self.schema.to_json(), "history": [change.to_json() for change in self.history]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SchemaContract:
        if data.get("format") != CONTRACT_FORMAT:
            raise SchemaError(
                f"schema contract of table {data.get('table')} has format {data.get('format')!r}; this ddb-lake reads "
                f"format {CONTRACT_FORMAT}. Upgrade ddb-lake to the version that wrote it."
            )
        return cls(data["table"], data["snapshot"], LakeSchema.from_json(data["schema"]),
                   tuple(ContractChange.from_json(change) for change in data.get("history", ())))


def members(kind: LakeType) -> tuple[LakeField, ...]:
    """The named members under a type: a struct's fields, or those of a list's struct items."""
    if kind.kind == "struct":
        return kind.fields
    if kind.kind == "list" and kind.item is not None:
        return members(kind.item)
    return ()


def _paths(fields: tuple[LakeField, ...], parent: str = "") -> dict[str, LakeField]:
    """``{column path: field}`` of every column and struct member, parents before their members."""
    out: dict[str, LakeField] = {}
    for lake_field in fields:
        path = f"{parent}{lake_field.name}"
        out[path] = lake_field
        out.update(_paths(members(lake_field.type), path + "."))
    return out


def check_columns_kept(table: str, contract: LakeSchema, published: LakeSchema) -> None:
    """Raise unless every column (and struct member) of ``contract`` holds the same attribute in ``published``.

    A struct that widened to JSON text takes its members into the text: they are not looked for.
    :raises SchemaError: a column now holds another attribute, or is missing.
    """
    after = _paths(published.fields)
    for path, lake_field in _paths(contract.fields).items():
        parent = path.rpartition(".")[0]
        if parent and (parent not in after or not members(after[parent].type)):
            continue
        found = after.get(path)
        if found is not None and found.attribute == lake_field.attribute:
            continue
        now = f"puts {found.attribute!r} there" if found is not None else "has no such column"
        raise SchemaError(
            f"table {table}: column {path!r} holds DynamoDB attribute {lake_field.attribute!r} in the schema "
            f"contract, but the snapshot to publish {now}: it was converted without the current contract (another "
            "run published in between). Fix: clear this run's convert task so it converts again into the contract, "
            "then let it publish."
        )


def column_changes(previous: LakeSchema | None, published: LakeSchema, snapshot: str,
                   change: str = ADDED) -> list[ContractChange]:
    """The history entries publishing ``published`` over ``previous`` adds: new column paths, widened types."""
    before = _paths(previous.fields) if previous is not None else {}
    out = []
    for path, lake_field in _paths(published.fields).items():
        old = before.get(path)
        if old is None:
            out.append(ContractChange(snapshot, path, lake_field.attribute, change, lake_field.type))
        elif _own_type(old.type) != _own_type(lake_field.type):
            out.append(ContractChange(snapshot, path, lake_field.attribute, WIDENED, lake_field.type, old.type))
    return out


def _own_type(kind: LakeType) -> Any:
    """A type without its struct members (a member's change is its own entry, not its parent's)."""
    if kind.kind == "struct":
        return "struct"
    if kind.kind == "list" and kind.item is not None:
        return ("list", _own_type(kind.item))
    return kind


def next_contract(previous: SchemaContract | None, published: LakeSchema, *, table: str,
                  snapshot: str) -> SchemaContract:
    """The contract after publishing a snapshot of ``published`` schema (converted into ``previous``)."""
    if previous is None:
        return SchemaContract(table, snapshot, published, tuple(column_changes(None, published, snapshot)))
    check_columns_kept(table, previous.schema, published)
    changes = column_changes(previous.schema, published, snapshot)
    return SchemaContract(table, snapshot, published, (*previous.history, *changes))


def adopted_contract(schema: LakeSchema, *, table: str, snapshot: str) -> SchemaContract:
    """The contract of a table published before contracts were kept: its current snapshot's schema, as adopted."""
    return SchemaContract(table, snapshot, schema, tuple(column_changes(None, schema, snapshot, ADOPTED)))
