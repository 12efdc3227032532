"""The text of one pinned column type (``"decimal(18,4)"``, ``"string"``), parsed without pyarrow (the table YAML's
check runs at DAG parse time). The pins themselves: ``core.schema.pins``."""

from __future__ import annotations

import re

PIN_KINDS = ("string", "bool", "binary", "int64", "decimal(p,s)", "decimal_text", "json")
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def parse_pin(text: str) -> tuple[str, int | None, int | None]:
    """``(kind, precision, scale)`` of one pin.

    :raises ValueError: not a pin type; the message lists the ones there are.
    """
    spec = text.strip().lower()
    match = _DECIMAL.match(spec)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(f"{text!r}: a decimal needs 1 <= precision <= 38 and scale <= precision")
        return "decimal", precision, scale
    if spec in PIN_KINDS:
        return spec, None, None
    raise ValueError(f"{text!r} is not a column type; use one of {', '.join(PIN_KINDS)}")
