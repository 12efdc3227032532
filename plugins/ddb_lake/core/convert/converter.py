"""Convert a native DynamoDB export (full or incremental, local or ``s3://``) into typed Parquet + ``_manifest.json``.

Two passes, each spread over this process and a pool of ``workers - 1`` processes (``_shared``):

1. *parse*: each data file is streamed (MD5 + gzip checked), cut into line-aligned JSON chunks, parsed into raw tag
   structs (the native parser of ``fast_json``; pyarrow's JSON reader for what it declines), profiled, and kept as
   Arrow IPC in a private work folder;
2. *write*: the profiles merge into one :class:`LakeSchema`; raw chunks are unwrapped column by column into it and
   written as zstd Parquet parts of about ``target_file_bytes``, each placed in the destination as soon as it is
   closed, by the process that wrote it (``dest_writer``).

The destination changes only after pass 1 succeeded, and only in files an earlier conversion to exactly that folder
wrote (``dest_ownership``): ``_writing.json`` (naming what this conversion may leave), the parts as they close, then
``_manifest.json`` (the copy is complete: readers read only what it lists), then own files no longer listed. A
conversion that fails deletes its parts again. A folder holding anything else is refused before any work
(``keep_foreign`` writes beside it, never deleting it).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from ddb_lake.core.convert.arrow_unwrap import convert_values
from ddb_lake.core.convert.ddb_profile import RawShapeError, merge_attribute_maps, profile_attributes
from ddb_lake.core.convert.dest_ownership import RECORD_NAMES, PartNames, check_destination, foreign_names
from ddb_lake.core.convert.dest_writer import DestinationWriter, ownership, place_part
from ddb_lake.core.convert.export_manifest import FULL_EXPORT, INCREMENTAL_EXPORT, DataFile, read_manifest
from ddb_lake.core.convert.export_reader import MAX_ITEM_BYTES, NO_SIZE_CHECK, JsonChunk, iter_json_chunks, make_chunk
from ddb_lake.core.convert.fast_json import PARSERS, read_json_lines
from ddb_lake.core.convert.ion_export import ION_FORMAT, JSON_FORMAT, ion_lines_to_json, require_supported_format
from ddb_lake.core.convert.item_validation import find_bad_line
from ddb_lake.core.convert.storage import Storage, gzip_ratio, is_s3, join_url
from ddb_lake.core.convert.worker_budget import available_cpus, check_disk, worker_count
from ddb_lake.core.errors import ExportFormatError, ItemCountMismatchError, MalformedLineError, SchemaError
from ddb_lake.core.schema.column_names import assign_names
from ddb_lake.core.schema.inference import (
    OPERATION_ATTRIBUTE,
    WRITE_TS_ATTRIBUTE,
    build_schema,
    evolve,
    metadata_fields,
)
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.core.schema.pins import (
    PinnedValueError,
    check_pins_hold,
    misfit_message,
    pin_types,
    profile_fits,
    typed,
    value_fits,
    with_pins,
)

log = logging.getLogger(__name__)

INCREMENTAL_COLUMNS = frozenset(("Metadata", "Keys", "NewImage", "OldImage"))


@dataclass(frozen=True)
class Tuning:
    """Knobs of one conversion (all have sensible defaults)."""

    workers: int | None = None
    chunk_bytes: int = 16 << 20
    target_file_bytes: int = 256 << 20
    row_group_rows: int = 256 * 1024
    row_group_bytes: int = 64 << 20  # Arrow bytes a row group may hold before it is written (whichever comes first)
    memory_budget_bytes: int = 1 << 30  # caps the worker count (``worker_budget.worker_count``)
    compression: str = "zstd"
    max_depth: int = 8
    max_struct_fields: int = 1000
    max_item_bytes: int = MAX_ITEM_BYTES
    inline_below_bytes: int = 8 << 20
    work_dir: str | None = None
    json_parser: str = "auto"  # auto: the native parser where built (pyarrow's reader for what it declines); pyarrow


@dataclass
class _ParseTask:
    index: int
    data_file: DataFile
    export_id: str
    raw_dir: str
    storage: Storage  # pickled to a worker as its storage_options (fresh credentials when sent)
    tuning: Tuning
    output_format: str = JSON_FORMAT
    json_threads: bool = True


@dataclass
class _ParsedFile:
    index: int
    name: str
    rows: int
    bytes_in: int
    bytes_uncompressed: int
    shape: str | None
    attributes: dict
    old_images: int
    chunks: list[tuple[str, int, int]] = field(default_factory=list)  # (ipc path, rows, json bytes)
    hint: pa.Schema | None = None


# ---- pass 1: parse + profile ------------------------------------------------------------------------------------

def _raise_located(chunk: JsonChunk, file: str, message: str, row: int | None) -> None:
    exact = find_bad_line(chunk.data, chunk.first_line)
    if exact is not None:
        raise exact.located(file=file)
    line = chunk.first_line + row if row is not None else None
    raise MalformedLineError(message, file=file, line=line)


def _string_hint(kind: pa.DataType) -> pa.DataType | None:
    """``kind`` with every inferred timestamp back to string and null-typed parts dropped (None: nothing left)."""
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return pa.string()
    if pa.types.is_null(kind):
        return None
    if pa.types.is_list(kind):
        item = _string_hint(kind.value_type)
        return pa.list_(item) if item is not None else None
    if pa.types.is_struct(kind):
        fields = [pa.field(f.name, h) for f in kind if (h := _string_hint(f.type)) is not None]
        return pa.struct(fields) if fields else None
    return kind


def _has_timestamps(kind: pa.DataType) -> bool:
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return True
    if pa.types.is_list(kind):
        return _has_timestamps(kind.value_type)
    if pa.types.is_struct(kind):
        return any(_has_timestamps(f.type) for f in kind)
    return False


SAMPLE_BYTES = 1 << 20


def _sample_of(data: bytes) -> bytes:
    """The first whole lines of ``data``, about ``SAMPLE_BYTES`` of them (all of it when it is small)."""
    if len(data) <= 2 * SAMPLE_BYTES:
        return data
    cut = data.find(b"\n", SAMPLE_BYTES) + 1
    return data[:cut] if cut else data


def _read_chunk(chunk: JsonChunk, file: str, hint: pa.Schema | None, threads: bool = True,
                native: bool = True) -> tuple[pa.Table, pa.Schema | None]:
    """Parse a chunk into the raw table, every JSON string kept a string (no timestamp inference).

    ``native``: the native parser first (``fast_json``); it declines anything outside DynamoDB JSON, and pyarrow's
    reader parses what it declines (and every chunk where it is not built).

    pyarrow has no switch for timestamp inference, so an explicit schema with those fields as strings is given:
    ``hint``, learnt from earlier chunks or, for a file's first chunk, from a ~1 MB sample of its first lines.
    Only a chunk that still infers a timestamp in a field the hint does not cover is parsed again.
    ``threads``: let the reader use Arrow's thread pool (when the converter runs in one process; with a process
    per core, extra threads only add memory). Returns the table and the hint for the next chunk.
    """
    if native:
        table = read_json_lines(chunk.data)
        if table is not None:
            return table, hint
    block = 8 << 20
    while block < 2 * chunk.max_line + 2:
        block *= 2
    read_options = pj.ReadOptions(block_size=block, use_threads=threads)
    try:
        if hint is None and len(chunk.data) > 2 * SAMPLE_BYTES:
            sample = pj.read_json(io.BytesIO(_sample_of(chunk.data)), read_options=read_options)
            fixed = _string_hint(pa.struct(list(sample.schema)))
            hint = pa.schema(list(fixed)) if fixed is not None else None
        for _ in range(4):
            parse = pj.ParseOptions(explicit_schema=hint, unexpected_field_behavior="infer") if hint else None
            table = pj.read_json(io.BytesIO(chunk.data), read_options=read_options, parse_options=parse)
            fixed = _string_hint(pa.struct(list(table.schema)))
            hint = pa.schema(list(fixed)) if fixed is not None else None
            if not _has_timestamps(pa.struct(list(table.schema))):
                return table, hint
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        _raise_located(chunk, file, f"JSON could not be parsed: {err}", None)
    raise MalformedLineError("JSON strings kept being read as timestamps", file=file, line=chunk.first_line)


def _shape_of(table: pa.Table) -> str:
    names = set(table.column_names)
    if names == {"Item"}:
        return "full"
    if names and names <= INCREMENTAL_COLUMNS and "Keys" in names:
        return "incremental"
    raise RawShapeError(f"lines have keys {sorted(names)}; expected Item, or Keys/NewImage/OldImage/Metadata", 0)


def _profile_chunk(table: pa.Table, shape: str) -> tuple[dict, int]:
    if shape == "full":
        items = table.column("Item").combine_chunks()
        if items.null_count:
            raise RawShapeError("Item is null", int(np.flatnonzero(items.is_null().to_numpy(zero_copy_only=False))[0]))
        return profile_attributes(items), 0
    attributes: dict = {}
    for part in ("Keys", "NewImage"):
        if part in table.column_names:
            attributes = merge_attribute_maps(attributes, profile_attributes(table.column(part).combine_chunks()))
    if "Metadata" in table.column_names:
        meta = table.column("Metadata").combine_chunks()
        profile_attributes(meta)
    old = table.column("OldImage").combine_chunks() if "OldImage" in table.column_names else None
    return attributes, (len(old) - old.null_count) if old is not None else 0


def parse_file(task: _ParseTask) -> _ParsedFile:
    """Pass 1 for one data file: verify, parse, profile, and keep the raw Arrow chunks as IPC files."""
    storage = task.storage
    data_file = task.data_file
    result = _ParsedFile(task.index, data_file.name, 0, 0, 0, None, {}, 0)
    stats: dict[str, int] = {}
    ion = task.output_format == ION_FORMAT
    try:
        with storage.open_read(data_file.url) as stream:
            chunks = iter_json_chunks(stream, file=data_file.name, md5_hex=data_file.md5_hex,
                                      chunk_bytes=task.tuning.chunk_bytes,
                                      max_item_bytes=NO_SIZE_CHECK if ion else task.tuning.max_item_bytes,
                                      stats=stats)
            for number, chunk in enumerate(chunks):
                if ion:
                    chunk = _ion_to_json(chunk, data_file.name, task.tuning.max_item_bytes)
                _parse_chunk(task, chunk, number, result)
    except ExportFormatError as err:
        raise err.located(export_id=task.export_id, file=data_file.name) from None
    result.hint = None  # not needed by the parent
    result.bytes_in = stats.get("bytes_in", 0)
    result.bytes_uncompressed = stats.get("bytes_uncompressed", 0)
    if data_file.item_count is not None and data_file.item_count != result.rows:
        raise ItemCountMismatchError(
            f"file holds {result.rows} items but manifest-files.json says {data_file.item_count}",
            export_id=task.export_id, file=data_file.name)
    return result


def _ion_to_json(chunk: JsonChunk, file: str, max_item_bytes: int) -> JsonChunk:
    """An Ion chunk as the equivalent DynamoDB JSON chunk (same line numbers); item sizes are checked on the JSON."""
    from amazon.ion import simpleion

    data = ion_lines_to_json(chunk.data, file=file, first_line=chunk.first_line, simpleion=simpleion)
    return make_chunk(data, chunk.first_line, file, max_item_bytes)


def _parse_chunk(task: _ParseTask, chunk: JsonChunk, number: int, result: _ParsedFile) -> None:
    name = task.data_file.name
    table, result.hint = _read_chunk(chunk, name, result.hint, threads=task.json_threads,
                                     native=task.tuning.json_parser == "auto")
    try:
        shape = _shape_of(table)
        if result.shape not in (None, shape):
            raise RawShapeError(f"file mixes {result.shape} and {shape} export lines", 0)
        attributes, old_images = _profile_chunk(table, shape)
    except RawShapeError as err:
        _raise_located(chunk, name, str(err), err.row)
    result.shape = shape
    result.attributes = merge_attribute_maps(result.attributes, attributes)
    result.old_images += old_images
    result.rows += table.num_rows
    path = os.path.join(task.raw_dir, f"{task.index:06d}-{number:05d}.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    result.chunks.append((path, table.num_rows, len(chunk.data)))


# ---- pass 2: unwrap + write -------------------------------------------------------------------------------------

@dataclass
class _WriteTask:
    group: int
    raw_paths: list[str]
    out_dir: str  # where parts are written until they are placed (``dest_writer.part_folder``)
    schema_json: dict
    incremental: bool
    old_images_seen: bool
    tuning: Tuning
    dest: str
    parts: PartNames
    storage: Storage  # pickled to a worker as its storage_options (fresh credentials when sent)
    owner_pid: int  # the converting process: a worker that outlives it places no part


def _attribute_arrays(batch: pa.RecordBatch, column: str) -> dict[str, pa.Array]:
    if column not in batch.schema.names:
        return {}
    arr = batch.column(column)
    if not pa.types.is_struct(arr.type):
        return {}
    return {arr.type.field(i).name: part for i, part in enumerate(arr.flatten())}


def _operation(batch: pa.RecordBatch, old_images_seen: bool) -> pa.Array:
    n = batch.num_rows
    new_valid = batch.column("NewImage").is_valid() if "NewImage" in batch.schema.names else pa.array([False] * n)
    if old_images_seen and "OldImage" in batch.schema.names:
        upsert = pc.if_else(batch.column("OldImage").is_valid(), "MODIFY", "INSERT")
    else:
        upsert = pa.array(["INSERT" if old_images_seen else "MODIFY"] * n, pa.string())
    return pc.if_else(new_valid, upsert, "REMOVE")


def convert_batch(batch: pa.RecordBatch, schema: LakeSchema, *, incremental: bool,
                  old_images_seen: bool = False) -> pa.Table:
    """Unwrap one raw batch into the lake schema's Arrow table."""
    arrow_schema = schema.to_arrow()
    n = batch.num_rows
    if incremental:
        images = _attribute_arrays(batch, "NewImage")
        keys = _attribute_arrays(batch, "Keys")
        meta = _attribute_arrays(batch, "Metadata")
    else:
        images, keys, meta = _attribute_arrays(batch, "Item"), {}, {}
    columns = []
    for lake_field in schema.fields:
        if lake_field.attribute == OPERATION_ATTRIBUTE and incremental:
            columns.append(_operation(batch, old_images_seen))
            continue
        if lake_field.attribute == WRITE_TS_ATTRIBUTE and incremental:
            stamp = meta.get("WriteTimestampMicros")
            columns.append(convert_values(stamp, lake_field.type) if stamp is not None
                           else pa.nulls(n, lake_field.type.to_arrow()))
            continue
        parts = [convert_values(source[lake_field.attribute], lake_field.type)
                 for source in (images, keys) if lake_field.attribute in source]
        value = parts[0] if parts else pa.nulls(n, lake_field.type.to_arrow())
        if len(parts) > 1:
            value = pc.if_else(value.is_valid(), value, parts[1])
        columns.append(value)
    return pa.Table.from_arrays(columns, schema=arrow_schema)


class _PartWriter:
    """Writes Parquet parts of about ``target_file_bytes``, flushing row groups of ``row_group_rows``; places each
    part in the destination as soon as it is closed (``dest_writer.place_part``)."""

    def __init__(self, task: _WriteTask, schema: pa.Schema):
        self.task = task
        self.schema = schema
        self.parts: list[dict[str, Any]] = []
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self.sink: pa.OSFile | None = None
        self.writer: pq.ParquetWriter | None = None

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.pending_bytes += table.nbytes
        tuning = self.task.tuning
        if self.pending_rows >= tuning.row_group_rows or self.pending_bytes >= tuning.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self.pending_rows:
            return
        if self.writer is None:
            name = self.task.parts.name(self.task.group, len(self.parts))
            self.sink = pa.OSFile(os.path.join(self.task.out_dir, name), "wb")
            self.writer = pq.ParquetWriter(self.sink, self.schema, compression=self.task.tuning.compression,
                                           use_dictionary=dictionary_columns(self.schema))
            self.parts.append({"name": name, "rows": 0})
        self.writer.write_table(pa.concat_tables(self.pending), row_group_size=self._group_rows())
        self.parts[-1]["rows"] += self.pending_rows
        self.pending, self.pending_rows, self.pending_bytes = [], 0, 0
        if self.sink.tell() >= self.task.tuning.target_file_bytes:  # type: ignore[union-attr]
            self._close()

    def _group_rows(self) -> int:
        """Rows per row group: ``row_group_rows``, fewer when the pending rows hold more than ``row_group_bytes``."""
        tuning = self.task.tuning
        by_bytes = self.pending_rows * tuning.row_group_bytes // max(self.pending_bytes, 1)
        return max(1, min(tuning.row_group_rows, by_bytes, self.pending_rows))

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.sink.close()  # type: ignore[union-attr]
            self.writer = self.sink = None
            part, task = self.parts[-1], self.task
            local = Path(task.out_dir) / part["name"]
            part["bytes"] = local.stat().st_size
            place_part(task.storage, local, join_url(task.dest, part["name"]), task.owner_pid)

    def finish(self) -> list[dict[str, Any]]:
        self._flush()
        self._close()
        return self.parts


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns written with Parquet dictionary encoding: top-level strings (statuses, keys, codes).

    Numbers, binaries and nested columns are written plain: their dictionaries cost about a quarter of the write
    time and zstd already gives the same file size (measured on the orders-like bench export).
    """
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def write_group(task: _WriteTask) -> list[dict[str, Any]]:
    """Pass 2 for a run of raw chunks: unwrap into the lake schema, write Parquet parts and place each in the
    destination; return ``[{"name", "rows", "bytes"}]`` in write order."""
    schema = LakeSchema.from_json(task.schema_json)
    arrow_schema = schema.to_arrow().with_metadata({**schema.to_arrow().metadata,
                                                    b"ddb_lake.schema": schema.dumps().encode()})
    writer = _PartWriter(task, arrow_schema)
    for path in task.raw_paths:
        with pa.memory_map(path) as source:
            for batch in _batches(source):
                writer.add(convert_batch(batch, schema, incremental=task.incremental,
                                         old_images_seen=task.old_images_seen))
        os.unlink(path)
    return writer.finish()


def _batches(source: pa.MemoryMappedFile):
    reader = pa.ipc.open_file(source)
    for i in range(reader.num_record_batches):
        yield reader.get_batch(i)


# ---- an export without items -----------------------------------------------------------------------------------

KEY_TYPE_NOTE = "key attribute (DescribeTable {type}); no item exported yet"


def key_lake_type(dynamodb_type: str, numbers: str) -> LakeType:
    """The lake type of a key attribute whose values are unseen: S → string, B → binary, N → exact decimal text.

    ``N`` is ``decimal_text`` (``float64`` with ``numbers="float"``): the one exact type that holds every DynamoDB
    number (38 digits, exponents -130..+125), so whatever the first items hold fits it, and merging it with the
    int64 / decimal a later export infers widens to it (``merge_types``) instead of narrowing.
    """
    if dynamodb_type == "S":
        return LakeType("string")
    if dynamodb_type == "B":
        return LakeType("binary")
    if dynamodb_type == "N":
        return LakeType("float64" if numbers == "float" else "decimal_text")
    raise SchemaError(f"key attribute type {dynamodb_type!r}: DynamoDB keys are S, N or B")


def empty_export_schema(key_attributes: Sequence[Mapping[str, str]], *, incremental: bool,
                        numbers: str = "exact") -> LakeSchema:
    """The schema of an export holding no item: the key columns (partition key first), typed from DescribeTable."""
    names = assign_names([k["attribute"] for k in key_attributes])
    fields = tuple(LakeField(names[k["attribute"]], k["attribute"], key_lake_type(k["type"], numbers),
                             KEY_TYPE_NOTE.format(type=k["type"])) for k in key_attributes)
    return LakeSchema((*metadata_fields(), *fields) if incremental else fields)


# ---- pinned column types --------------------------------------------------------------------------------------

def _check_pins(parsed: list[_ParsedFile], attributes: dict, pins: Mapping[str, LakeType],
                key_attributes: Sequence[Mapping[str, str]], incremental: bool) -> None:
    """Raise :class:`PinnedValueError` for the first item whose value does not fit its attribute's pin."""
    for attribute, pin in pins.items():
        if attribute in attributes and not profile_fits(attributes[attribute], pin):
            raise PinnedValueError(_first_misfit(parsed, attribute, pin, key_attributes, incremental))


def _first_misfit(parsed: list[_ParsedFile], attribute: str, pin: LakeType,
                  key_attributes: Sequence[Mapping[str, str]], incremental: bool) -> str:
    """The refusal message for the first misfit value of ``attribute``, read back from the raw chunks."""
    for source in sorted(parsed, key=lambda f: f.index):
        row_base = 0
        for path, _, _ in source.chunks:
            with pa.memory_map(path) as stream:
                for batch in _batches(stream):
                    items = _attribute_arrays(batch, "NewImage" if incremental else "Item")
                    values = items[attribute].to_pylist() if attribute in items else []
                    for row, value in enumerate(values):
                        if not value_fits(value, pin):
                            tag, inner = typed(value)
                            key = _item_key(batch, row, key_attributes, incremental)
                            where = f"file {source.name}, item {row_base + row + 1}"
                            return misfit_message(key=key, attribute=attribute, tag=tag, value=inner, pin=pin,
                                                  where=where)
                    row_base += batch.num_rows
    return misfit_message(key="(not found again)", attribute=attribute, tag=None, value=None, pin=pin,
                          where="values of the export")


def _item_key(batch: pa.RecordBatch, row: int, key_attributes: Sequence[Mapping[str, str]], incremental: bool) -> str:
    """``{pk=order-1, sk=5}``: the item's key values as DynamoDB holds them (without a key schema: 5 attributes)."""
    item = _attribute_arrays(batch, "Keys" if incremental else "Item")
    names = [k["attribute"] for k in key_attributes] or sorted(item)[:5]
    parts = [f"{name}={typed(item[name][row].as_py())[1]}" for name in names if name in item]
    return "{" + ", ".join(parts) + "}"


# ---- orchestration ----------------------------------------------------------------------------------------------

def _run(fn: Callable, tasks: list, pool: ProcessPoolExecutor | None, pool_size: int) -> list:
    """``fn`` over ``tasks`` (results in task order), shared between this process and ``pool``."""
    return [result for _, result in sorted(_shared(fn, tasks, pool, pool_size), key=lambda pair: pair[0])]


def _shared(fn: Callable, tasks: list, pool: ProcessPoolExecutor | None,
            pool_size: int) -> Iterator[tuple[int, Any]]:
    """Yield ``(task index, fn(task))`` as they finish; this process runs tasks too, in one thread, beside ``pool``.

    The converting process already has pyarrow imported and warm: it starts on the first file at once, while the
    pool's processes are still starting (about a second each), and with one process fewer the process tree holds
    less memory. Each side takes the next task when it is free, so a slow file does not hold up the others.
    """
    if pool is None or len(tasks) <= 1:
        for index, task in enumerate(tasks):
            yield index, fn(task)
        return
    pending = deque(enumerate(tasks))
    running: dict[Future, tuple[Executor, int]] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="ddb-lake-convert") as here:

        def feed(executor: Executor) -> None:
            if pending:
                index, task = pending.popleft()
                running[executor.submit(fn, task)] = (executor, index)

        feed(here)
        for _ in range(pool_size):
            feed(pool)
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    executor, index = running.pop(future)
                    yield index, future.result()
                    feed(executor)
        finally:
            pending.clear()
            for future in running:
                future.cancel()


def _groups(parsed: list[_ParsedFile], tuning: Tuning, workers: int) -> list[list[str]]:
    chunks = [(path, json_bytes) for f in sorted(parsed, key=lambda f: f.index) for path, _, json_bytes in f.chunks]
    total = sum(b for _, b in chunks)
    per_group = max(min(tuning.target_file_bytes * 6, total // max(workers, 1) + 1), 1)
    groups: list[list[str]] = [[]]
    size = 0
    for path, json_bytes in chunks:
        if groups[-1] and size + json_bytes > per_group:
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += json_bytes
    return [g for g in groups if g]


def _check_total(rows: int, manifest, expected_items: int | None, note: Callable[[str], None]) -> None:
    if manifest.item_count is not None and manifest.item_count != rows:
        raise ItemCountMismatchError(f"export holds {rows} items but manifest-summary.json says {manifest.item_count}",
                                     export_id=manifest.export_id, file="manifest-summary.json")
    if expected_items is not None and expected_items != rows:
        source = "manifest-summary.json and " if manifest.has_manifest else ""
        raise ItemCountMismatchError(f"export holds {rows} items but the caller expected {expected_items}",
                                     export_id=manifest.export_id, file=f"{source}expected_items")
    if not manifest.has_manifest:
        if expected_items is None:
            note("no manifest and no expected item count: item count NOT verified")
        else:
            note(f"no manifest: verified {rows} items against the caller's expected count")


def convert_export(source: str, dest: str, *, expected_items: int | None = None, numbers: str = "exact",
                   storage_options: dict | None = None, s3_client: Any = None,
                   previous_schema: LakeSchema | None = None, progress: Callable[[str], None] | None = None,
                   keep_foreign: bool = False, key_attributes: Sequence[Mapping[str, str]] | None = None,
                   pins: Mapping[str, str] | None = None, only_files: Sequence[int] | None = None,
                   fixed_schema: LakeSchema | None = None, **tuning: Any) -> dict:
    """Convert the export folder ``source`` into Parquet under ``dest``; return (and write) the summary.

    S3 is reached through ``s3_client`` when given (e.g. an Airflow hook's: refreshing credentials, the connection's
    endpoint and botocore config), else through a client built from ``storage_options`` (fsspec/s3fs naming).

    :param keep_foreign: write into a ``dest`` that holds objects no earlier conversion to it wrote (they are kept,
        never overwritten); without it such a ``dest`` raises :class:`DestinationNotOwnedError` before any work.
    :param key_attributes: the table's key, ``[{"attribute": "pk", "type": "S"}, ...]`` (DescribeTable, the export
        task's ``key_schema``): an export holding no item gets these typed columns (:func:`empty_export_schema`);
        a non-empty export ignores them; they also name the item a pinned value does not fit.
    :param pins: pinned column types, ``{attribute: "decimal(18,4)"}`` (the table's ``columns`` setting, see
        ``core.schema.pins``): those columns take exactly that type; a value that does not fit raises
        :class:`PinnedValueError` (terminal) naming the item's key, and nothing is written.
    :param only_files: convert only these data files (indexes into the export's file list): one slice of a
        fanned-out conversion (``core.convert.export_slices``); the summary then carries its ``slice`` profile.
    :param fixed_schema: write exactly this schema (the slices' unified one); data it cannot hold is a SchemaError.
    """
    if numbers not in ("exact", "float"):
        raise ValueError(f"numbers must be 'exact' or 'float', not {numbers!r}")
    knobs = Tuning(**tuning)
    if knobs.json_parser not in PARSERS:
        raise ValueError(f"json_parser must be one of {', '.join(PARSERS)}, not {knobs.json_parser!r}")
    started = time.monotonic()

    def note(message: str) -> None:  # one line per message: the caller's progress callback, else this module's log
        if progress is not None:
            progress(message)
        else:
            log.info("%s", message)

    storage = Storage(storage_options, s3_client=s3_client)
    dest = dest.rstrip("/") or dest
    listed, owned = ownership(dest, storage)
    check_destination(dest, foreign_names(listed, owned), RECORD_NAMES, keep_foreign=keep_foreign)
    manifest = read_manifest(source, storage)
    require_supported_format(manifest.output_format, manifest.export_id)
    note(f"export {manifest.export_id}: {len(manifest.files)} data files"
         f"{'' if manifest.has_manifest else ' (no manifest: moto-style layout)'}")
    work = Path(tempfile.mkdtemp(prefix="ddb-lake-", dir=knobs.work_dir))
    try:
        with DestinationWriter(dest, storage, work, keep_foreign=keep_foreign) as writer:
            summary = _convert(manifest, writer, work, storage, expected_items, numbers, previous_schema, knobs,
                               note, key_attributes or (), pin_types(pins), only_files, fixed_schema)
            stale = writer.commit(summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    note(f"wrote {len(summary['files'])} Parquet file(s), {summary['bytes_out']} bytes, to {dest}"
         + (f"; deleted {len(stale)} own file(s) of the previous conversion" if stale else ""))
    summary["seconds"] = round(time.monotonic() - started, 3)
    return summary


def _pool_size(manifest, compressed_bytes: int, knobs: Tuning) -> int:
    """``workers`` when set; else one process per CPU of the cgroup quota, capped by files and the memory budget."""
    if knobs.workers is not None:
        return max(1, knobs.workers)
    if len(manifest.files) <= 1 or compressed_bytes < knobs.inline_below_bytes:
        return 1
    return worker_count(cpus=available_cpus(), files=len(manifest.files),
                        memory_budget_bytes=knobs.memory_budget_bytes)


def _preflight(manifest, storage: Storage, work: Path, knobs: Tuning, note: Callable[[str], None]) -> int:
    """Check the work folder's free disk against the export's size; return the process count."""
    sizes = storage.sizes([f.url for f in manifest.files])
    compressed = sum(sizes.values())
    workers = _pool_size(manifest, compressed, knobs)
    ratio = gzip_ratio(storage, manifest.files[0].url) if manifest.files else 1.0
    open_parts = workers * (knobs.target_file_bytes + knobs.row_group_bytes)  # a part overshoots by a row group
    need = check_disk(str(work), compressed_bytes=compressed, uncompressed_bytes=int(compressed * ratio),
                      export_id=manifest.export_id, open_parts_bytes=open_parts)
    note(f"export {manifest.export_id}: {compressed} bytes of gzip (about {int(compressed * ratio)} of JSON, "
         f"ratio {ratio:.1f} from the first file); local disk needed about {need} bytes in {work}")
    return workers


def _parse_all(tasks: list[_ParseTask], pool: ProcessPoolExecutor | None, pool_size: int,
               note: Callable[[str], None]) -> list[_ParsedFile]:
    """Pass 1 over every data file, with a progress line per file (items, items/s, files and items so far)."""
    started = time.monotonic()
    done: list[_ParsedFile] = []

    def report(parsed: _ParsedFile, file_started: float) -> None:
        done.append(parsed)
        seconds = max(time.monotonic() - file_started, 1e-6)
        total = sum(p.rows for p in done)
        note(f"parsed {parsed.name}: {parsed.rows} items in {seconds:.1f} s ({parsed.rows / seconds:,.0f} items/s); "
             f"{len(done)}/{len(tasks)} files, {total} items, "
             f"{total / max(time.monotonic() - started, 1e-6):,.0f} items/s overall")

    for _, (parsed, seconds) in _shared(_timed_parse, tasks, pool, pool_size):
        report(parsed, time.monotonic() - seconds)
    return sorted(done, key=lambda p: p.index)


def _timed_parse(task: _ParseTask) -> tuple[_ParsedFile, float]:
    begun = time.monotonic()
    return parse_file(task), time.monotonic() - begun


def export_shape(shapes: Sequence[str | None], export_id: str) -> str | None:
    """``full`` or ``incremental`` (None: no line seen); files of both shapes are a :class:`MalformedLineError`."""
    seen = {shape for shape in shapes if shape}
    if len(seen) > 1:
        raise MalformedLineError("export mixes full ({\"Item\"}) and incremental (Keys/NewImage) files",
                                 export_id=export_id)
    return next(iter(seen), None)


def export_schema(attributes: dict, *, rows: int, incremental: bool, manifest, previous_schema: LakeSchema | None,
                  numbers: str, knobs: Tuning, key_attributes: Sequence[Mapping[str, str]] = (),
                  pins: Mapping[str, LakeType] | None = None,
                  note: Callable[[str], None] = log.info) -> tuple[LakeSchema, dict, bool]:
    """(schema to write, drift, incremental) of an export from its merged value profile, under ``previous_schema``."""
    if rows:
        current = build_schema(attributes, incremental=incremental, numbers=numbers, max_depth=knobs.max_depth,
                               max_struct_fields=knobs.max_struct_fields)
    elif previous_schema is not None:  # nothing seen: the earlier schema stands as it is (no type changes)
        incremental = incremental or manifest.export_type == INCREMENTAL_EXPORT
        current = LakeSchema(())
    else:
        incremental = incremental or manifest.export_type == INCREMENTAL_EXPORT
        current = empty_export_schema(key_attributes, incremental=incremental, numbers=numbers)
        if not key_attributes:
            note("export holds no item and no key schema was given: the snapshot has no data columns")
    if pins:
        current = with_pins(current, pins)
    schema, drift = evolve(previous_schema, current)
    if pins:
        schema = check_pins_hold(f"export {manifest.export_id}", previous_schema, schema, pins)
    return schema, drift, incremental


def _within(fixed: LakeSchema, own: LakeSchema, export_id: str) -> LakeSchema:
    """``fixed`` when it has a column for every attribute of ``own``; else a :class:`SchemaError`.

    Types are not compared: ``fixed`` was built from a value profile that includes these files' (a type narrower
    than ``own``'s, e.g. decimal(4,2) for small integers, still holds every value).
    """
    new = sorted({f.attribute for f in own.fields} - {f.attribute for f in fixed.fields})
    if new:
        raise SchemaError(f"export {export_id}: these data files need columns the given schema does not hold ({new}); "
                          "unify the slices' profiles again (core.convert.export_slices)")
    return fixed


def _pool_context():
    """The forkserver context, its server importing this module once so each worker forks with it loaded.

    Without the preload every worker imports pyarrow, numpy and the converter itself (about 0.7 CPU-seconds each).
    A forkserver that is already running (started by an earlier conversion in this process) keeps what it has.
    """
    context = get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _convert(manifest, writer: DestinationWriter, work: Path, storage: Storage, expected_items: int | None,
             numbers: str,
             previous_schema: LakeSchema | None, knobs: Tuning, note: Callable[[str], None],
             key_attributes: Sequence[Mapping[str, str]] = (), pins: Mapping[str, LakeType] | None = None,
             only_files: Sequence[int] | None = None, fixed_schema: LakeSchema | None = None) -> dict:
    raw_dir = work / "raw"
    raw_dir.mkdir()
    workers = _preflight(manifest, storage, work, knobs, note)
    # ``workers`` processes in all: this one and a pool of the others (see ``_shared``)
    pool = ProcessPoolExecutor(workers - 1, mp_context=_pool_context()) if workers > 1 else None
    if not is_s3(manifest.folder) and not is_s3(writer.dest):  # local files: no S3 client to build for the workers
        storage = Storage(local_only=True)
    try:
        parse_tasks = [_ParseTask(i, f, manifest.export_id, str(raw_dir), storage, knobs,
                                  manifest.output_format, json_threads=pool is None)
                       for i, f in enumerate(manifest.files) if only_files is None or i in only_files]
        parsed = _parse_all(parse_tasks, pool, workers - 1, note)
        rows = sum(p.rows for p in parsed)
        note(f"parsed {rows} items from {len(parsed)} files with {workers} worker(s)")
        if only_files is None:  # a slice's total is checked when the slices are unified
            _check_total(rows, manifest, expected_items, note)
        incremental = export_shape([p.shape for p in parsed], manifest.export_id) == "incremental"
        attributes: dict = {}
        for p in parsed:
            attributes = merge_attribute_maps(attributes, p.attributes)
        if pins:
            _check_pins(parsed, attributes, pins, key_attributes, incremental)
        schema, drift, incremental = export_schema(
            attributes, rows=rows, incremental=incremental, manifest=manifest, previous_schema=previous_schema,
            numbers=numbers, knobs=knobs, key_attributes=key_attributes, pins=pins, note=note)
        if fixed_schema is not None:
            schema, drift = _within(fixed_schema, schema, manifest.export_id), {}
        old_images = sum(p.old_images for p in parsed) > 0 or manifest.output_view == "NEW_AND_OLD_IMAGES"
        groups = _groups(parsed, knobs, workers)
        names = writer.claim(len(groups))  # from here on, the destination changes
        write_tasks = [_WriteTask(g, paths, str(writer.staging), schema.to_json(), incremental, old_images, knobs,
                                  writer.dest, names, storage, os.getpid())
                       for g, paths in enumerate(groups)]
        parts = [part for group in _run(write_group, write_tasks, pool, workers - 1) for part in group]
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if not parts:  # an empty export still gets one (empty) file carrying the schema
        parts = [_empty_part(schema, writer, names, knobs)]
    export_type = manifest.export_type or (INCREMENTAL_EXPORT if incremental else FULL_EXPORT)
    summary = {
        "export_id": manifest.export_id,
        "export_type": export_type,
        "output_view": manifest.output_view,
        "source": manifest.folder,
        "dest": writer.dest,
        "items": rows,
        "source_files": len(parsed),
        "bytes_in": sum(p.bytes_in for p in parsed),
        "bytes_uncompressed": sum(p.bytes_uncompressed for p in parsed),
        "numbers": numbers,
        "schema": schema.to_json(),
        "drift": drift,
        "verified": {"manifest": manifest.has_manifest, "expected_items": expected_items},
    }
    if only_files is not None:  # what unifying the slices needs (core.convert.export_slices)
        summary["slice"] = {"files": sorted(only_files), "profile": attributes, "old_images": old_images,
                            "shape": export_shape([p.shape for p in parsed], manifest.export_id)}
    summary["files"] = [{"path": writer.url(p["name"]), "rows": p["rows"], "bytes": p["bytes"]} for p in parts]
    summary["bytes_out"] = sum(p["bytes"] for p in parts)
    return summary


def _empty_part(schema: LakeSchema, writer: DestinationWriter, names: PartNames, knobs: Tuning) -> dict[str, Any]:
    """Write and place the one (empty) part of an export without items: it carries the schema."""
    name = names.name(0, 0)
    local = writer.staging / name  # type: ignore[operator]
    pq.write_table(schema.to_arrow().empty_table(), local, compression=knobs.compression)
    part = {"name": name, "rows": 0, "bytes": local.stat().st_size}
    place_part(writer.storage, local, writer.url(name))
    return part
