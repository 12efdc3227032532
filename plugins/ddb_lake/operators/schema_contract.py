"""Read the table's schema contract at the start of a run, for the convert task to convert into."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddb_lake.compat import Context
from ddb_lake.operators.snapshot_publish import LakeFilesOperator


class SchemaContractOperator(LakeFilesOperator):
    """The schema contract the current Glue table names (see ``ddb_lake.core.lake.contract_store``).

    Returns with ``multiple_outputs`` ``{"schema", "snapshot", "columns", "changes"}``: ``schema`` is the contract's
    LakeSchema JSON ("" before the table's first publish), which the convert task takes as ``previous_schema``
    (``contract.output["schema"]``), so every column keeps the attribute it holds.
    """

    template_fields: Sequence[str] = ("database", "table_name", "bucket", "current_table")
    ui_color = "#c7e9c0"

    def __init__(self, *, database: str, table_name: str, current_table: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(database=database, table_name=table_name, current_table=current_table, **kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        glue_table = f"{self.database}.{self.current_table_name()}"
        contract = self.stored_contract(self.hook.get_table(self.database, self.current_table_name()))
        if contract is None:
            self.log.info("%s is not published yet: no schema contract; the first publish writes it", glue_table)
            return {"schema": "", "snapshot": "", "columns": 0, "changes": 0}
        self.log.info("Schema contract of %s: %d columns as published at snapshot %s, %d recorded changes",
                      glue_table, len(contract.schema.fields), contract.snapshot, len(contract.history))
        return {"schema": contract.schema.to_json(), "snapshot": contract.snapshot,
                "columns": len(contract.schema.fields), "changes": len(contract.history)}
