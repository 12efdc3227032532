"""Pinned column types: ``columns: {price: "decimal(18,4)", note: string}`` in a table's YAML.

A pin fixes the lake type of one top-level DynamoDB attribute for the table's whole life: the schema contract starts
from the pins (a pinned attribute has its column before any value arrives) and never widens a pinned column. A value
that does not fit its pin fails the run terminally (:class:`PinnedValueError`) naming the item's key, the attribute,
the value and the setting to change; nothing is written. Why fail rather than keep the value in an overflow column:
a pin is the reader's promise that the column holds every value of the attribute with that type; an overflow column
would keep the promise only for readers who know to look beside it, and would silently split one attribute in two.

Pin types: ``string``, ``bool``, ``binary``, ``int64``, ``decimal(p,s)`` (1 ≤ p ≤ 38, 0 ≤ s ≤ p), ``decimal_text``
(any number, exact text), ``json`` (any value, canonical DynamoDB JSON text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.schema.column_names import assign_names
from ddb_lake.core.schema.inference import INT64_DIGITS, merge_types
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.core.schema.pin_spec import parse_pin

_SCALARS = {"string": "S", "bool": "BOOL", "binary": "B"}
_INT64 = (-(2**63), 2**63 - 1)
_PLAIN_INT = re.compile(r"^-?[0-9]+$")


class PinnedValueError(SchemaError):
    """A value does not fit its attribute's pinned type: names the item's key, attribute, value and the setting."""


def pin_type(text: str) -> LakeType:
    """The lake type of one pin (``"decimal(18,4)"``, ``"string"``, ...); raises ValueError (see ``parse_pin``)."""
    kind, precision, scale = parse_pin(text)
    return LakeType(kind, precision=precision, scale=scale)


def pin_types(columns: Mapping[str, str] | None) -> dict[str, LakeType]:
    """``{attribute: LakeType}`` of a table's ``columns`` setting."""
    return {attribute: pin_type(text) for attribute, text in (columns or {}).items()}


def pin_note(attribute: str, kind: LakeType) -> str:
    return f"pinned in the table's YAML: columns.{attribute}: {pin_text(kind)}"


def pin_text(kind: LakeType) -> str:
    return f"decimal({kind.precision},{kind.scale})" if kind.kind == "decimal" else kind.kind


# ---- does a profile (all values of an attribute) fit its pin? ---------------------------------------------------

def profile_fits(node: dict[str, Any], pin: LakeType) -> bool:
    """True when every value the profile node saw fits ``pin`` (NULLs fit every pin)."""
    tags = {tag: info for tag, info in node.get("tags", {}).items() if tag != "NULL"}
    if not tags or pin.kind == "json":
        return True
    if pin.kind in _SCALARS:
        return set(tags) == {_SCALARS[pin.kind]}
    if set(tags) != {"N"}:
        return False
    stats = tags["N"]
    if pin.kind == "decimal_text":
        return True
    if pin.kind == "int64":
        return bool(stats["all_int"] and stats["fits_int64"])
    return stats["int_digits"] <= pin.precision - pin.scale and stats["scale"] <= pin.scale  # type: ignore[operator]


def value_fits(value: dict[str, Any] | None, pin: LakeType) -> bool:
    """True when one typed DynamoDB value (``{"N": "1.5"}``; None or NULL: absent) fits ``pin``."""
    tag, text = typed(value)
    if tag in (None, "NULL") or pin.kind == "json":
        return True
    if pin.kind in _SCALARS:
        return tag == _SCALARS[pin.kind]
    if tag != "N":
        return False
    if pin.kind == "decimal_text":
        return True
    if pin.kind == "int64":
        return bool(_PLAIN_INT.match(text)) and _INT64[0] <= int(text) <= _INT64[1]
    integer_digits, scale = number_digits(text)
    return scale <= pin.scale and integer_digits <= pin.precision - pin.scale  # type: ignore[operator]


def number_digits(text: str) -> tuple[int, int]:
    """(integer digits, scale) of a DynamoDB number text, counted as the converter's profile counts them."""
    if "e" in text.lower():
        _, digits, exponent = Decimal(text).normalize().as_tuple()
        return max(len(digits) + int(exponent), 0), max(-int(exponent), 0)
    integer, _, fraction = text.lstrip("-").lstrip("0").partition(".")
    return len(integer), len(fraction)


def typed(value: dict[str, Any] | None) -> tuple[str | None, Any]:
    """The (tag, value) of a typed DynamoDB value as Arrow's JSON reader gives it (absent tags are None)."""
    for tag, inner in (value or {}).items():
        if inner is not None:
            return tag, inner
    return None, None


def value_text(tag: str | None, value: Any) -> str:
    """A value as the error message shows it: the number's exact text, a string quoted, else its JSON."""
    if tag in ("N", "S"):
        return str(value) if tag == "N" else repr(value)
    return f"{tag}: {value!r}"


# ---- the schema with its pins ----------------------------------------------------------------------------------

def with_pins(schema: LakeSchema, pins: Mapping[str, LakeType]) -> LakeSchema:
    """``schema`` (of one export's values) with pinned attributes typed by their pins; unseen pins appended."""
    fields = [LakeField(f.name, f.attribute, pins[f.attribute], pin_note(f.attribute, pins[f.attribute]), True)
              if f.attribute in pins else f for f in schema.fields]
    seen = {f.attribute for f in schema.fields}
    unseen = [attribute for attribute in pins if attribute not in seen]
    names = assign_names(unseen, taken=[f.name for f in schema.fields])
    fields += [LakeField(names[a], a, pins[a], pin_note(a, pins[a]), True) for a in sorted(unseen, key=names.get)]
    return LakeSchema(tuple(fields))


def check_pins_hold(where: str, previous: LakeSchema | None, merged: LakeSchema,
                    pins: Mapping[str, LakeType]) -> LakeSchema:
    """``merged`` with every pinned column at its pin exactly (marked pinned).

    :raises SchemaError: a pin is narrower than the type the contract already gives its column (earlier snapshots
        hold values the pin cannot type): the pin must be at least that wide.
    """
    before = {f.attribute: f for f in previous.fields} if previous is not None else {}
    fields = []
    for lake_field in merged.fields:
        pin = pins.get(lake_field.attribute)
        if pin is None:
            fields.append(lake_field)
            continue
        old = before.get(lake_field.attribute)
        if old is not None and merge_types(pin, old.type) != pin:
            raise SchemaError(
                f"{where}: columns.{lake_field.attribute} pins {pin_text(pin)}, narrower than the type "
                f"{pin_text(old.type)} column {lake_field.name!r} already has in the schema contract (earlier "
                f"snapshots hold values it cannot type). Fix: pin at least {pin_text(merge_types(pin, old.type))} "
                f"in the table's YAML (columns.{lake_field.attribute}), or remove the pin."
            )
        fields.append(LakeField(lake_field.name, lake_field.attribute, pin, pin_note(lake_field.attribute, pin), True))
    return LakeSchema(tuple(fields))


def wider_pin(value_tag: str | None, value: Any, pin: LakeType) -> str:
    """The pin that would hold ``value`` too (for the error's fix)."""
    if value_tag != "N" or pin.kind not in ("int64", "decimal"):
        return "json"
    integer, scale = number_digits(value)
    scale = max(scale, pin.scale or 0)
    integer = max(integer, (pin.precision or INT64_DIGITS) - (pin.scale or 0))
    return f"decimal({integer + scale},{scale})" if integer + scale <= 38 else "decimal_text"


def misfit_message(*, key: str, attribute: str, tag: str | None, value: Any, pin: LakeType, where: str) -> str:
    """The refusal of one value: item key, attribute, value, pin, and the setting to change."""
    return (
        f"item {key} ({where}): attribute {attribute!r} holds {value_text(tag, value)}, which does not fit its pinned "
        f"type {pin_text(pin)} (columns.{attribute} in the table's YAML). Nothing was written. Fix: change "
        f"columns.{attribute} to a type that holds it (e.g. {wider_pin(tag, value, pin)}) or remove the pin, then "
        "clear the convert task; or correct the item in DynamoDB."
    )
