"""Log the run's short report (items, bytes at each step, estimated cost) and return it as XCom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddb_lake.compat import BaseOperator, Context
from ddb_lake.core.validation.run_report import RunVolumes, render_report, report_dict


class RunReportOperator(BaseOperator):
    """Sum up what the run moved from its tasks' XCom results and log an estimated cost.

    :param export: the export task's result (``item_count``, ``export_type``, ``bytes_exported`` when known)
    :param conversion: the convert task's summary (``items``, ``bytes_in``, ``bytes_out``, ``snapshot``)
    :param validation: the validation task's result; its Athena statistics, when present, give bytes scanned
    :param transfer: the S3 → GCS transfer result (``bytes_copied``), if the table goes to BigQuery
    :param load: the BigQuery load result (``bytes_loaded`` / ``input_bytes``), if the table goes to BigQuery
    """

    template_fields: Sequence[str] = ("table", "export", "conversion", "validation", "transfer", "load")
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        table: str,
        export: Any = None,
        conversion: Any = None,
        validation: Any = None,
        transfer: Any = None,
        load: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.export = export
        self.conversion = conversion
        self.validation = validation
        self.transfer = transfer
        self.load = load

    def execute(self, context: Context) -> dict[str, Any]:
        volumes = volumes_from_results(self.export, self.conversion, self.validation, self.transfer, self.load)
        snapshot = str((self.conversion or {}).get("snapshot", ""))
        text = render_report(self.table, snapshot, volumes)
        self.log.info("%s", text)
        return {**report_dict(self.table, snapshot, volumes), "report_text": text}


def volumes_from_results(export: Any, conversion: Any, validation: Any, transfer: Any, load: Any) -> RunVolumes:
    """Pick each figure from the task result that knows it; a missing result counts as zero."""
    export, conversion = export or {}, conversion or {}
    validation, transfer, load = validation or {}, transfer or {}, load or {}
    athena = validation.get("athena_statistics") or {}
    return RunVolumes(
        items=int(conversion.get("items", export.get("item_count") or 0)),
        export_bytes=int(export.get("billed_size_bytes") or conversion.get("bytes_uncompressed") or 0),
        parquet_bytes=int(conversion.get("bytes_out") or 0),
        athena_bytes_scanned=int(athena.get("data_scanned_bytes") or 0),
        athena_queries=int(athena.get("queries") or (1 if athena else 0)),
        # A load job reads exactly the staged files: their total is the bytes loaded when the job does not say.
        bigquery_bytes_loaded=int(load.get("bytes_loaded") or transfer.get("bytes_total") or 0) if load else 0,
        transfer_bytes=int(transfer.get("bytes_copied") or 0),
        incremental=str(export.get("export_type", "")).upper().startswith("INCREMENTAL"),
    )
