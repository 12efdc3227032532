"""Where a table's schema contract is kept: ``_contract.json`` in the published snapshot's folder, named by the
current Glue table's parameter ``ddb_lake.contract``.

Publish writes the folder's ``_contract.json`` and sets the parameter in the same UpdateTable call that switches the
current table to that folder, so the contract in force is always the one of the snapshot the current table reads:
a run that fails before publish (validation, a crash) leaves it unchanged. A table published before contracts were
kept has no parameter: its current snapshot's ``_manifest.json`` schema is adopted. A Glue parameter value holds at
most 512,000 characters (Glue API ``TableInput.Parameters``), which a wide table's schema and history can pass:
hence a pointer in the parameter and the contract in S3.
Pure: the caller reads the object this module names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ddb_lake.core.convert.storage import split_url
from ddb_lake.core.errors import NotFoundError
from ddb_lake.core.lake.glue_table import CONTRACT_PARAMETER, SNAPSHOT_PARAMETER, folder_url
from ddb_lake.core.lake.layout import CONTRACT_NAME, MANIFEST_NAME
from ddb_lake.core.schema.contract import SchemaContract, adopted_contract
from ddb_lake.core.schema.lake_schema import LakeSchema

CONTRACT, MANIFEST = "contract", "manifest"


@dataclass(frozen=True)
class ContractSource:
    """The object holding the contract in force: a ``_contract.json``, or (adopted) a ``_manifest.json``."""

    kind: str
    url: str
    snapshot: str

    @property
    def bucket_key(self) -> tuple[str, str]:
        return split_url(self.url, "s3")


def contract_url(location: str) -> str:
    """``s3://.../snapshot=<stamp>/_contract.json`` of the snapshot folder at ``location``."""
    return folder_url(location) + CONTRACT_NAME


def contract_source(table: dict[str, Any] | None) -> ContractSource | None:
    """Where the contract of a current table (a GetTable ``Table``; None: not published yet) is read from."""
    if table is None:
        return None
    location = table["StorageDescriptor"]["Location"]
    parameters = table.get("Parameters", {})
    snapshot = parameters.get(SNAPSHOT_PARAMETER, "")
    if parameters.get(CONTRACT_PARAMETER):
        return ContractSource(CONTRACT, parameters[CONTRACT_PARAMETER], snapshot)
    return ContractSource(MANIFEST, folder_url(location) + MANIFEST_NAME, snapshot)


def stored_contract(source: ContractSource, text: str | None, *, table: str, glue_table: str) -> SchemaContract:
    """The contract from the text of the object ``source`` names (None: the object is missing).

    :raises NotFoundError: the object is missing; the message says how to recover.
    """
    if text is None:
        raise NotFoundError(
            f"table {table}: the schema contract {source.url} that Glue table {glue_table} names "
            f"({CONTRACT_PARAMETER if source.kind == CONTRACT else 'its snapshot manifest'}) is missing. Restore it "
            f"(S3 versioning), or remove the table parameter {CONTRACT_PARAMETER} so the current snapshot's "
            f"{MANIFEST_NAME} schema is adopted; column names then follow that schema."
        )
    data = json.loads(text)
    if source.kind == CONTRACT:
        return SchemaContract.from_json(data)
    return adopted_contract(LakeSchema.from_json(data["schema"]), table=table, snapshot=source.snapshot)
