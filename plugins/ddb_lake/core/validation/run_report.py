"""The short report each run logs: volumes moved and an estimated cost from published per-GB list prices.

The lake's prices live in :data:`PRICES_USD`; each destination prices its own lines (a :class:`VolumeLine` carries
its rate), so the report knows no destination by name. They are the public on-demand list prices (us-east-1 / US
multi-region) as published in 2026, and an estimate, not a bill: free tiers, discounts and request charges are left
out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ddb_lake.core.schema.contract import WIDENED
from ddb_lake.core.schema.contract_report import type_text
from ddb_lake.core.schema.lake_schema import LakeType

GB = 1024**3
TB = 1024**4

PRICES_USD = {
    # DynamoDB export to S3: per GB of table size (full) or of change data processed (incremental).
    "dynamodb_export_full_per_gb": 0.10,
    "dynamodb_export_incremental_per_gb": 0.10,
    # Athena: per TB scanned, 10 MB minimum per query.
    "athena_per_tb_scanned": 5.00,
    "athena_min_bytes_per_query": 10 * 1024**2,
    # Copying a snapshot out of AWS (to another cloud's staging): data transfer out to the internet, first tier.
    "aws_transfer_out_per_gb": 0.09,
    # S3 Standard storage of one snapshot for a month (shown for scale, not added to the run cost).
    "s3_storage_per_gb_month": 0.023,
    # export.mode scan: reads are billed, not exported bytes. On-demand per million read request units; provisioned
    # per read-capacity-unit hour (the scan's units as the capacity-hours they take up).
    "dynamodb_on_demand_per_million_reads": 0.125,
    "dynamodb_provisioned_per_rcu_hour": 0.00013,
}


@dataclass(frozen=True)
class VolumeLine:
    """One figure a destination moved: kept in the report as ``key``, shown as ``label``, priced as ``cost``.

    An empty ``label`` keeps the figure out of the printed rows; an empty ``cost`` keeps it out of the estimate.
    """

    key: str
    bytes: int
    label: str = ""
    cost: str = ""
    usd_per_gb: float = 0.0


@dataclass(frozen=True)
class RunVolumes:
    """What one run moved, in items and bytes; ``destination_lines`` come from each destination it loaded."""

    items: int = 0
    export_bytes: int = 0
    parquet_bytes: int = 0
    athena_bytes_scanned: int = 0
    athena_queries: int = 0
    incremental: bool = False
    destination_lines: tuple[VolumeLine, ...] = ()
    scan: bool = False  # export.mode scan: priced by read units, not per GB exported
    scan_read_units: float = 0.0
    scan_on_demand: bool = True

    @property
    def figures(self) -> dict[str, int]:
        """Each destination figure's bytes by key (summed when several loads report the same key)."""
        totals: dict[str, int] = {}
        for line in self.destination_lines:
            totals[line.key] = totals.get(line.key, 0) + line.bytes
        return totals


def estimate_cost_usd(volumes: RunVolumes) -> dict[str, float]:
    """Cost per line item in USD, rounded to a hundredth of a cent, plus ``total``."""
    export_kind = "incremental" if volumes.incremental else "full"
    export_rate = PRICES_USD[f"dynamodb_export_{export_kind}_per_gb"]
    athena_billed = max(volumes.athena_bytes_scanned, volumes.athena_queries * PRICES_USD["athena_min_bytes_per_query"])
    lines = {
        "dynamodb_export": volumes.export_bytes / GB * export_rate,
        "athena": athena_billed / TB * PRICES_USD["athena_per_tb_scanned"],
    }
    if volumes.scan:
        lines.pop("dynamodb_export")
        lines["dynamodb_scan_reads"] = scan_read_cost_usd(volumes.scan_read_units, volumes.scan_on_demand)
    for line in volumes.destination_lines:
        if line.cost:
            lines[line.cost] = lines.get(line.cost, 0.0) + line.bytes / GB * line.usd_per_gb
    lines = {name: round(value, 4) for name, value in lines.items()}
    lines["total"] = round(sum(lines.values()), 4)
    lines["s3_storage_per_month"] = round(volumes.parquet_bytes / GB * PRICES_USD["s3_storage_per_gb_month"], 4)
    return lines


def scan_read_cost_usd(read_units: float, on_demand: bool) -> float:
    """What a scan's read units cost: on-demand request units, or the provisioned capacity-hours they take up."""
    if on_demand:
        return read_units / 1_000_000 * PRICES_USD["dynamodb_on_demand_per_million_reads"]
    return read_units / 3600 * PRICES_USD["dynamodb_provisioned_per_rcu_hour"]


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def render_report(table: str, snapshot: str, volumes: RunVolumes) -> str:
    """A few aligned lines a person reads at a glance."""
    cost = estimate_cost_usd(volumes)
    rows = [
        ("items", f"{volumes.items:,}"),
        # an export's figure is DynamoDB's BilledSizeBytes (not the files' size); a scan's, the data it converted
        ("export data size" if volumes.scan else "export billed size", human_bytes(volumes.export_bytes)),
        ("parquet bytes", human_bytes(volumes.parquet_bytes)),
        ("athena bytes scanned", human_bytes(volumes.athena_bytes_scanned)),
        *([("read units (scan)", f"{volumes.scan_read_units:,.1f}")] if volumes.scan else []),
        *((line.label, human_bytes(line.bytes)) for line in volumes.destination_lines if line.label),
        ("estimated cost (USD)", f"{cost['total']:.4f}  " + ", ".join(
            f"{k} {v:.4f}" for k, v in cost.items() if k not in ("total", "s3_storage_per_month"))),
        ("s3 storage (USD/month)", f"{cost['s3_storage_per_month']:.4f}"),
    ]
    width = max(len(name) for name, _ in rows)
    header = f"ddb-lake run report: table {table}, snapshot {snapshot}"
    return "\n".join([header, *(f"  {name.ljust(width)}  {value}" for name, value in rows)])


def report_dict(table: str, snapshot: str, volumes: RunVolumes) -> dict[str, Any]:
    """The report's XCom: the lake's figures, each destination figure by its key, and the cost estimate."""
    lake = {name: value for name, value in asdict(volumes).items() if name != "destination_lines"
            and (volumes.scan or not name.startswith("scan"))}  # scan figures only for a scan export
    cost = estimate_cost_usd(volumes)
    return {"table": table, "snapshot": snapshot, **lake, **volumes.figures, "estimated_cost_usd": cost}


def render_publishes(publishes: list[dict[str, Any]]) -> str:
    """One line per destination publish (where, rows) and one per schema widening it made; empty without any."""
    lines = []
    for published in publishes:
        where = published.get("table", "?")
        lines.append(f"  published to {published.get('destination', '?')} {where}: {published.get('rows', '?')} rows")
        lines.extend(f"    widened {where}: {w.get('change', w)}" for w in published.get("widenings") or ())
    return "\n".join(lines)


def render_contract_changes(changes: list[dict[str, Any]] | None) -> str:
    """One line per column the lake's schema contract widened in this run's publish (its ``contract_changes``):
    ``  widened qty: int64 → decimal(21,2)``; struct members as ``address.zip``. Additions are not listed."""
    return "\n".join(
        f"  widened {c['column']}: {type_text(LakeType.from_json(c['previous_type']))} → "
        f"{type_text(LakeType.from_json(c['type']))}"
        for c in changes or () if c.get("change") == WIDENED and c.get("previous_type")
    )

