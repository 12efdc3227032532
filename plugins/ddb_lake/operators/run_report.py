"""Log the run's short report (items, bytes at each step, estimated cost) and return it as XCom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddb_lake.compat import BaseOperator, Context
from ddb_lake.core.export.scan_report import render_scan
from ddb_lake.core.validation.run_report import (
    RunVolumes,
    VolumeLine,
    render_contract_changes,
    render_publishes,
    render_report,
    report_dict,
)
from ddb_lake.destinations import destination_named, results_by_destination
from ddb_lake.operators.base import ClassifiedErrors


class RunReportOperator(ClassifiedErrors, BaseOperator):
    """Sum up what the run moved from its tasks' XCom results and log an estimated cost.

    :param export: the export task's result (``item_count``, ``export_type``, ``billed_size_bytes`` when known)
    :param conversion: the convert task's summary (``items``, ``bytes_uncompressed``, ``bytes_out``, ``snapshot``)
    :param validation: the validation task's result; its Athena statistics, when present, give bytes scanned
    :param transfers: the staging transfers' results (each names its ``destination``), if any
    :param loads: the destinations' load results (each names its ``destination``); each destination gives its lines
    :param publishes: the destinations' publish results (table, rows, schema widenings); a skipped publish is None
    :param lake_publish: the lake publish task's result; its ``contract_changes`` give the contract's widenings
    """

    template_fields: Sequence[str] = ("table", "export", "conversion", "validation", "transfers", "loads", "publishes",
                                     "lake_publish")
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        table: str,
        export: Any = None,
        conversion: Any = None,
        validation: Any = None,
        transfers: Sequence[Any] | None = None,
        loads: Sequence[Any] | None = None,
        publishes: Sequence[Any] | None = None,
        lake_publish: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.export = export
        self.conversion = conversion
        self.validation = validation
        self.transfers = transfers
        self.loads = loads
        self.publishes = publishes
        self.lake_publish = lake_publish

    def execute(self, context: Context) -> dict[str, Any]:
        volumes = volumes_from_results(self.export, self.conversion, self.validation, self.transfers, self.loads)
        snapshot = str((self.conversion or {}).get("snapshot", ""))
        publishes = [p for p in self.publishes or () if p]
        changes = (self.lake_publish or {}).get("contract_changes") or []
        text = "\n".join(filter(None, [render_report(self.table, snapshot, volumes), render_scan(self.scan_of()),
                                       render_contract_changes(changes), render_publishes(publishes)]))
        self.log.info("%s", text)
        widenings = [w for p in publishes for w in p.get("widenings") or ()]
        return {**report_dict(self.table, snapshot, volumes), "widenings": widenings,
                "contract_changes": changes, "report_text": text, "scan": self.scan_of()}

    def scan_of(self) -> dict[str, Any] | None:
        """The export's ``scan`` entry (export.mode scan: start, end, read units, not point-in-time), else None."""
        return (self.export or {}).get("scan")


def destination_lines(transfers: Sequence[Any] | None, loads: Sequence[Any] | None) -> tuple[VolumeLine, ...]:
    """Each destination's lines for its loads and transfers, destinations in the order they first appear."""
    loads_by, transfers_by = results_by_destination(loads), results_by_destination(transfers)
    names = dict.fromkeys([*loads_by, *transfers_by])
    return tuple(
        line
        for name in names
        for line in destination_named(name).volume_lines(loads_by.get(name, []), transfers_by.get(name, []))
    )


def volumes_from_results(
    export: Any, conversion: Any, validation: Any, transfers: Sequence[Any] | None, loads: Sequence[Any] | None
) -> RunVolumes:
    """Pick each figure from the task result that knows it; a missing result counts as zero."""
    export, conversion, validation = export or {}, conversion or {}, validation or {}
    athena = validation.get("athena_statistics") or {}
    return RunVolumes(
        items=int(conversion.get("items", export.get("item_count") or 0)),
        export_bytes=int(export.get("billed_size_bytes") or conversion.get("bytes_uncompressed") or 0),
        parquet_bytes=int(conversion.get("bytes_out") or 0),
        athena_bytes_scanned=int(athena.get("data_scanned_bytes") or 0),
        athena_queries=int(athena.get("queries") or (1 if athena else 0)),
        incremental=str(export.get("export_type", "")).upper().startswith("INCREMENTAL"),
        destination_lines=destination_lines(transfers, loads),
        **_scan_volumes(export.get("scan")),
    )


def _scan_volumes(scan: dict[str, Any] | None) -> dict[str, Any]:
    if not scan:
        return {}
    return {"scan": True, "scan_read_units": float(scan.get("read_units") or 0),
            "scan_on_demand": bool(scan.get("on_demand", True))}
