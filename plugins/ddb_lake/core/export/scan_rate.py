"""How fast a scan export may read: the read budget from the table's capacity, the pause that keeps a segment
under its share, the read units of a page, and the backoff on throttling. Pure: imports no Airflow."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ddb_lake.core.export.scan_settings import ScanSettings

THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                            "Throttling", "TooManyRequestsException"})
MAX_THROTTLED_TRIES = 12  # throttled answers in a row on one page before the task fails (retryable) and resumes later
THROTTLE_BASE_SECONDS = 0.5
THROTTLE_MAX_SECONDS = 20.0
READ_UNIT_BYTES = 4096


@dataclass(frozen=True)
class ReadBudget:
    """Read units per second the whole scan may spend, and how that number was reached (for the log and report)."""

    units_per_second: float
    on_demand: bool
    basis: str


def read_budget(table: dict[str, Any], scan: ScanSettings) -> ReadBudget:
    """The scan's budget from DescribeTable's ``Table``.

    Provisioned: ``read_capacity_share`` of the table's ReadCapacityUnits. On-demand: ``target_read_units_per_second``,
    capped by the table's ``OnDemandThroughput.MaxReadRequestUnits`` when one is set.
    """
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode")
    provisioned = int((table.get("ProvisionedThroughput") or {}).get("ReadCapacityUnits") or 0)
    if billing != "PAY_PER_REQUEST" and provisioned > 0:
        rate = provisioned * scan.read_capacity_share
        return ReadBudget(rate, False, f"{scan.read_capacity_share:g} of {provisioned} provisioned read units/s")
    cap = int((table.get("OnDemandThroughput") or {}).get("MaxReadRequestUnits") or 0)
    if cap > 0 and cap < scan.target_read_units_per_second:
        return ReadBudget(float(cap), True, f"on-demand, the table's maximum of {cap} read units/s")
    return ReadBudget(scan.target_read_units_per_second, True,
                      f"on-demand, target {scan.target_read_units_per_second:g} read units/s")


def segments_of_group(segments: int, groups: int, group: int | None) -> list[int]:
    """The segments one task reads: every ``groups``-th from ``group`` (a mapped task), or all (``group`` None)."""
    return list(range(segments)) if group is None else list(range(group, segments, groups))


def segment_rate(budget: ReadBudget, segments: int, workers: int, groups: int = 1) -> float:
    """Each running segment's share: the budget split over the ``groups`` tasks, then over the segments each task
    reads at the same time (``segments`` it reads, ``workers`` threads)."""
    return budget.units_per_second / max(1, groups) / max(1, min(segments, workers))


def pause_seconds(units_spent: float, elapsed_seconds: float, rate: float) -> float:
    """How long to wait so that ``units_spent`` since the segment started averages at most ``rate`` per second."""
    return max(0.0, units_spent / rate - elapsed_seconds)


def page_read_units(response: dict[str, Any], raw_bytes: int, consistent_read: bool) -> float:
    """The read units a Scan page cost: its ``ConsumedCapacity`` when DynamoDB sent one, else the estimate from the
    bytes read (4 KB per unit, half a unit when eventually consistent)."""
    consumed = response.get("ConsumedCapacity") or {}
    if consumed.get("CapacityUnits") is not None:
        return float(consumed["CapacityUnits"])
    units = math.ceil(raw_bytes / READ_UNIT_BYTES) or 1
    return units * (1.0 if consistent_read else 0.5)


def throttle_delay(tries: int) -> float:
    """Seconds to wait after the ``tries``-th throttled answer in a row (1-based): 0.5, 1, 2, ... up to 20."""
    return min(THROTTLE_MAX_SECONDS, THROTTLE_BASE_SECONDS * 2 ** (tries - 1))
