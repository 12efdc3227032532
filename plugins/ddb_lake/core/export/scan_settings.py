"""``export.scan``: the settings of ``export.mode: scan`` (a rate-limited parallel Scan written as an export).

Pure: imports no Airflow. The YAML model (``core.config.table_config``) holds these under ``export.scan`` and adds
:func:`scan_problems` to its checks; docs/export-modes.md explains each key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ATTRIBUTE_VALUE_TYPES = ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M")
MAX_SEGMENTS = 1_000_000  # DynamoDB's limit on TotalSegments


@dataclass(frozen=True)
class ScanSettings:
    """How a scan export reads the table; every field has a default, so ``export.scan`` may be left out."""

    segments: int = 4  # TotalSegments: parallel readers, each with an equal share of the read budget
    segment_groups: int = 1  # Airflow tasks (mapped) that read the segments; 1: one task reads them all
    read_capacity_share: float = 0.25  # provisioned tables: the share of the table's read capacity the scan spends
    target_read_units_per_second: float = 100.0  # on-demand tables: read units per second the scan spends at most
    consistent_read: bool = False  # strongly consistent reads cost twice the read units
    page_items: int | None = None  # Scan Limit per call (null: DynamoDB's 1 MB pages)
    file_items: int = 100_000  # items per data file; each finished file is a checkpoint a retry resumes after
    projection_expression: str = ""  # ProjectionExpression: only these attributes (must include the key)
    filter_expression: str = ""  # FilterExpression: only matching items (every item read still costs read units)
    expression_attribute_names: dict[str, str] = field(default_factory=dict)  # "#s": status
    expression_attribute_values: dict[str, Any] = field(default_factory=dict)  # ":s": {S: PAID}


def scan_problems(scan: ScanSettings, mode: str) -> list[tuple[str, str | None]]:
    """``(dotted field, problem)`` of the scan settings; checked whatever the mode, so a typo fails early."""
    where = "export.scan."
    problems: list[tuple[str, str | None]] = [
        (where + "segments", f"{scan.segments} must be between 1 and {MAX_SEGMENTS}"
         if not 1 <= scan.segments <= MAX_SEGMENTS else None),
        (where + "segment_groups", f"{scan.segment_groups} must be between 1 and segments ({scan.segments})"
         if not 1 <= scan.segment_groups <= max(1, scan.segments) else None),
        (where + "read_capacity_share", f"{scan.read_capacity_share:g} must be > 0 and <= 1 (a share of the "
         "table's provisioned read capacity)" if not 0 < scan.read_capacity_share <= 1 else None),
        (where + "target_read_units_per_second", f"{scan.target_read_units_per_second:g} must be > 0"
         if scan.target_read_units_per_second <= 0 else None),
        (where + "page_items", f"{scan.page_items} must be >= 1 (or null for 1 MB pages)"
         if scan.page_items is not None and scan.page_items < 1 else None),
        (where + "file_items", f"{scan.file_items} must be >= 1" if scan.file_items < 1 else None),
    ]
    for name, value in scan.expression_attribute_values.items():
        problems.append((f"{where}expression_attribute_values.{name}", attribute_value_problem(value)))
    for name in scan.expression_attribute_names:
        problems.append((f"{where}expression_attribute_names.{name}",
                         None if name.startswith("#") else "names start with # (e.g. \"#s\": status)"))
    for name in scan.expression_attribute_values:
        problems.append((f"{where}expression_attribute_values.{name}",
                         None if name.startswith(":") else "names start with : (e.g. \":s\": {S: PAID})"))
    used = f"{scan.projection_expression} {scan.filter_expression}"
    unused = [n for n in (*scan.expression_attribute_names, *scan.expression_attribute_values) if n not in used]
    problems.append((where + "expression_attribute_names", f"{', '.join(unused)} not used by projection_expression "
                     "or filter_expression (DynamoDB refuses unused names and values)" if unused else None))
    if mode != "scan" and scan != ScanSettings():
        problems.append(("export.scan", f"is set but export.mode is {mode!r}: set export.mode: scan, or remove it"))
    return problems


def attribute_value_problem(value: Any) -> str | None:
    """Why ``value`` is not a DynamoDB-typed value like ``{S: PAID}`` or ``{N: "10"}``; None when it is one."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ATTRIBUTE_VALUE_TYPES:
        return f"{value!r} is not a typed value: write one of {', '.join(ATTRIBUTE_VALUE_TYPES)}, e.g. {{S: PAID}}"
    kind, inner = next(iter(value.items()))
    if kind == "N" and not isinstance(inner, str):
        return f"write numbers as strings ({{N: \"{inner}\"}}): YAML numbers pass through float and lose digits"
    if kind == "NS" and not (isinstance(inner, list) and all(isinstance(n, str) for n in inner)):
        return "write NS members as strings: YAML numbers pass through float and lose digits"
    return None
