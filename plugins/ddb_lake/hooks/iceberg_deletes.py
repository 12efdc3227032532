"""Merge-on-read for the in-worker merge: Iceberg v2 position delete files, written with pyiceberg's primitives.

pyiceberg 0.12 reads position deletes but has no API to write them. This module writes one delete file per
affected data file (``file_path`` and ``pos``, field ids 2147483546/2147483545 as the spec fixes them, the path as
both bounds so readers index it by data file), and a snapshot producer that adds them in a delete manifest next to
the commit's data files. Readers that apply position deletes (Athena engine v3, Spark, Trino, pyiceberg) see the
rows gone. Imports no Airflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PATH_FIELD_ID = 2147483546
POS_FIELD_ID = 2147483545
_DELETE_SCHEMA = pa.schema([
    pa.field("file_path", pa.string(), nullable=False, metadata={b"PARQUET:field_id": str(PATH_FIELD_ID).encode()}),
    pa.field("pos", pa.int64(), nullable=False, metadata={b"PARQUET:field_id": str(POS_FIELD_ID).encode()}),
])


def deleted_positions(io: Any, task: Any) -> np.ndarray:
    """Positions of ``task``'s data file that its position delete files already delete."""
    from pyiceberg.io.pyarrow import _read_deletes

    found = [np.asarray(_read_deletes(io, d).get(task.file.file_path, pa.chunked_array([], pa.int64())))
             for d in task.delete_files]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def raw_keys(io: Any, task: Any, key_columns: Sequence[str]) -> pa.Table:
    """The key columns of ``task``'s data file as stored (every row, deleted or not: positions are row numbers)."""
    with io.new_input(task.file.file_path).open() as stream:
        return pq.read_table(stream, columns=list(key_columns))


def write_delete_file(tx: Any, io: Any, data_path: str, positions: np.ndarray) -> Any:
    """One position delete file for ``data_path``; its DataFile (content POSITION_DELETES)."""
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record

    location = tx._table.location_provider().new_data_location(f"{uuid.uuid4()}-deletes.parquet")
    positions = np.sort(positions).astype(np.int64)
    table = pa.table([pa.array([data_path] * len(positions), pa.string()), pa.array(positions)],
                     schema=_DELETE_SCHEMA)
    output = io.new_output(location)
    with output.create(overwrite=True) as stream:
        pq.write_table(table, stream, compression="zstd")
    size = len(io.new_input(location))
    path_bytes = data_path.encode()
    return DataFile.from_args(
        content=DataFileContent.POSITION_DELETES, file_path=location, file_format=FileFormat.PARQUET,
        partition=Record(), record_count=len(positions), file_size_in_bytes=size,
        lower_bounds={PATH_FIELD_ID: path_bytes, POS_FIELD_ID: int(positions[0]).to_bytes(8, "little", signed=True)},
        upper_bounds={PATH_FIELD_ID: path_bytes, POS_FIELD_ID: int(positions[-1]).to_bytes(8, "little", signed=True)},
        spec_id=tx.table_metadata.default_spec_id)


def overwrite_with_deletes(tx: Any, snapshot_properties: dict[str, str]) -> Any:
    """An overwrite snapshot producer that also commits ``producer.delete_files`` in a delete manifest."""
    from pyiceberg.manifest import ManifestContent, ManifestEntry, ManifestEntryStatus, ManifestWriterV2
    from pyiceberg.table.snapshots import Operation
    from pyiceberg.table.update.snapshot import _OverwriteFiles

    class _DeleteManifestWriter(ManifestWriterV2):
        def content(self) -> ManifestContent:
            return ManifestContent.DELETES

        @property
        def _meta(self) -> dict[str, str]:
            return {**super()._meta, "content": "deletes"}

    class _OverwriteWithDeletes(_OverwriteFiles):
        delete_files: list

        def _manifests(self) -> list:
            manifests = super()._manifests()
            if not self.delete_files:
                return manifests
            writer = _DeleteManifestWriter(self._transaction.table_metadata.spec(), self.schema(),
                                           self.new_manifest_output(), self._snapshot_id, self._compression)
            with writer:
                for delete_file in self.delete_files:
                    writer.add(ManifestEntry.from_args(status=ManifestEntryStatus.ADDED, snapshot_id=self._snapshot_id,
                                                       sequence_number=None, file_sequence_number=None,
                                                       data_file=delete_file))
            return [writer.to_manifest_file(), *manifests]

    producer = _OverwriteWithDeletes(operation=Operation.OVERWRITE, transaction=tx, io=tx._table.io,
                                     branch="main", snapshot_properties=snapshot_properties)
    producer.delete_files = []
    return producer
