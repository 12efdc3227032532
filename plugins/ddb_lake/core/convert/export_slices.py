"""One export converted as slices of its data files (Airflow mapped tasks, ``convert.engine: mapped``), then unified.

1. :func:`plan_slices`: the data files split into slices of about equal gzip bytes (largest first, deterministic).
2. :func:`convert_slice` (one mapped task each): the slice's files → Parquet in ``<slices_url>/slice=<n>/`` with the
   slice's own schema, plus ``_slice.json`` (its value profile and what it was converted with). A rerun of a finished
   slice with the same inputs returns that record and converts nothing.
3. :func:`unify_slices` (one commit task): the profiles merge into the schema the whole export would get in one
   process (same names, same types, under the contract); each slice whose schema already is that schema has its
   parts copied as they are; one that lacks columns, or holds a number column as int64 or a narrower decimal, has its
   parts rewritten with Arrow casts (no second parse); any other difference (a column becomes json or decimal_text,
   a struct gains members) re-converts that slice's files with the unified schema. Each part goes to ``dest`` as soon
   as it is ready (named ``part-<token>-<slice>-<sequence>.parquet``), ``_manifest.json`` last, under the converter's
   ownership rules (``dest_writer``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.core.convert.converter import Tuning, _check_total, convert_export, export_schema, export_shape
from ddb_lake.core.convert.ddb_profile import merge_attribute_maps
from ddb_lake.core.convert.dest_ownership import RECORD_NAMES, check_destination, foreign_names
from ddb_lake.core.convert.dest_writer import DestinationWriter, ownership, place_part
from ddb_lake.core.convert.engine_choice import choose_slices
from ddb_lake.core.convert.export_manifest import FULL_EXPORT, INCREMENTAL_EXPORT, read_manifest
from ddb_lake.core.convert.storage import Storage, is_s3, join_url, local_path
from ddb_lake.core.errors import ManifestError
from ddb_lake.core.schema.lake_schema import LakeSchema, LakeType
from ddb_lake.core.schema.pins import pin_types

SLICE_RECORD = "_slice.json"
log = logging.getLogger(__name__)


def plan_slices(sizes: Sequence[int], slices: int) -> list[list[int]]:
    """File indexes per slice: largest file first into the lightest slice; empty slices dropped, indexes sorted."""
    bins: list[tuple[int, int, list[int]]] = [(0, n, []) for n in range(max(1, slices))]
    for index in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        load, number, files = min(bins)
        files.append(index)
        bins[bins.index((load, number, files))] = (load + sizes[index], number, files)
    return [sorted(files) for _, _, files in sorted(bins, key=lambda b: b[1]) if files] or [[]]


def export_slice_plan(source: str, slices: int, storage: Storage, *, auto: bool = False,
                      note: Callable[[str], None] = log.info) -> list[dict[str, Any]]:
    """``[{"slice": n, "files": [index, ...], "names": [...], "bytes": b}]`` for the export folder ``source``.

    :param auto: ``convert.engine: auto``: ``slices`` is the most there may be; how many is chosen from the data
        files' gzip bytes (``engine_choice.choose_slices``) and the reason passed to ``note``.
    """
    manifest = read_manifest(source, storage)
    sizes = storage.sizes([f.url for f in manifest.files])
    if auto:
        choice = choose_slices(sum(sizes.values()), files=len(manifest.files), max_slices=slices)
        note(f"export {manifest.export_id}: {choice.reason}")
        slices = choice.slices
    plan = plan_slices([sizes[f.url] for f in manifest.files], slices)
    return [{"slice": n, "files": files, "names": [manifest.files[i].name for i in files],
             "bytes": sum(sizes[manifest.files[i].url] for i in files)} for n, files in enumerate(plan)]


def slice_url(slices_url: str, number: int) -> str:
    return join_url(slices_url, f"slice={number:05d}")


def slice_inputs(source: str, files: Sequence[int], options: Mapping[str, Any]) -> str:
    """A fingerprint of what a slice is converted from and with (a rerun with the same one is a no-op)."""
    text = json.dumps({"source": source.rstrip("/"), "files": sorted(files), **options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def convert_slice(source: str, slices_url: str, number: int, files: Sequence[int], *, storage: Storage,
                  numbers: str = "exact", previous_schema: LakeSchema | None = None,
                  key_attributes: Sequence[Mapping[str, str]] | None = None, pins: Mapping[str, str] | None = None,
                  progress: Callable[[str], None] | None = None, **tuning: Any) -> dict:
    """Convert one slice into ``<slices_url>/slice=<n>/``; return its record (the earlier one when inputs match)."""
    folder = slice_url(slices_url, number)
    inputs = slice_inputs(source, files, {"numbers": numbers, "pins": dict(pins or {}), "tuning": tuning,
                                          "previous": previous_schema.to_json() if previous_schema else None})
    done = storage.read_text(join_url(folder, SLICE_RECORD))
    if done is not None and json.loads(done).get("inputs") == inputs:
        if progress is not None:
            progress(f"slice {number}: already converted with these inputs; nothing to do")
        return {**json.loads(done), "reused": True}
    storage.delete([join_url(folder, SLICE_RECORD)])
    summary = convert_export(source, folder, numbers=numbers, storage_options=storage.storage_options,
                             s3_client=storage.s3_client, previous_schema=previous_schema,
                             key_attributes=key_attributes, pins=pins, progress=progress, only_files=list(files),
                             **tuning)
    record = {**summary, "slice_number": number, "inputs": inputs}
    _put_text(storage, join_url(folder, SLICE_RECORD), json.dumps(record, sort_keys=True))
    return {**record, "reused": False}


def unify_slices(source: str, dest: str, records: Sequence[Mapping[str, Any]], *, storage: Storage,
                 expected_items: int | None = None, numbers: str = "exact",
                 previous_schema: LakeSchema | None = None, key_attributes: Sequence[Mapping[str, str]] | None = None,
                 pins: Mapping[str, str] | None = None, progress: Callable[[str], None] | None = None,
                 **tuning: Any) -> dict:
    """Unify the slices' schemas; place every part in ``dest`` in exactly that schema; write ``_manifest.json``."""
    note = progress or (lambda message: None)
    knobs = Tuning(**tuning)
    manifest = read_manifest(source, storage)
    records = sorted(records, key=lambda r: r["slice_number"])
    _check_cover(records, len(manifest.files), manifest.export_id)
    rows = sum(r["items"] for r in records)
    _check_total(rows, manifest, expected_items, note)
    attributes: dict = {}
    for record in records:
        attributes = merge_attribute_maps(attributes, record["slice"]["profile"])
    incremental = export_shape([r["slice"]["shape"] for r in records], manifest.export_id) == "incremental"
    schema, drift, incremental = export_schema(
        attributes, rows=rows, incremental=incremental, manifest=manifest, previous_schema=previous_schema,
        numbers=numbers, knobs=knobs, key_attributes=key_attributes or (), pins=pin_types(pins), note=note)
    dest = dest.rstrip("/") or dest
    listed, owned = ownership(dest, storage)
    check_destination(dest, foreign_names(listed, owned), RECORD_NAMES, keep_foreign=False)
    work = Path(tempfile.mkdtemp(prefix="ddb-lake-unify-", dir=knobs.work_dir))
    try:
        with DestinationWriter(dest, storage, work) as writer:
            writer.claim(len(records))
            files = []
            for group, record in enumerate(records):
                files.extend(_placed_parts(record, schema, source, storage, work, writer, group, numbers=numbers,
                                           previous_schema=previous_schema, key_attributes=key_attributes, pins=pins,
                                           note=note, tuning=tuning))
            export_type = manifest.export_type or (INCREMENTAL_EXPORT if incremental else FULL_EXPORT)
            summary = {
                "export_id": manifest.export_id, "export_type": export_type, "output_view": manifest.output_view,
                "source": manifest.folder, "dest": dest, "items": rows, "source_files": len(manifest.files),
                "bytes_in": sum(r["bytes_in"] for r in records),
                "bytes_uncompressed": sum(r["bytes_uncompressed"] for r in records), "numbers": numbers,
                "schema": schema.to_json(), "drift": drift,
                "verified": {"manifest": manifest.has_manifest, "expected_items": expected_items},
                "engine": "mapped", "slices": len(records),
                "files": [{k: f[k] for k in ("path", "rows", "bytes")} for f in files],
                "bytes_out": sum(f["bytes"] for f in files),
            }
            writer.commit(summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    note(f"unified {len(records)} slice(s): {rows} items in {len(files)} part(s) at {dest} ("
         + ", ".join(f"{how}: {sum(1 for f in files if f['how'] == how)}" for how in ("copied", "cast", "reconverted")
                     if any(f["how"] == how for f in files)) + ")")
    return summary


def _check_cover(records: Sequence[Mapping[str, Any]], file_count: int, export_id: str) -> None:
    covered = sorted(i for r in records for i in r["slice"]["files"])
    if covered != list(range(file_count)):
        raise ManifestError(f"the slices cover data files {covered}, not each of the export's {file_count} once: "
                            "plan the slices again from the export (rerun the slice plan task)", export_id=export_id)


def cast_plan(own: LakeSchema, unified: LakeSchema) -> dict[str, LakeType | None] | None:
    """Per unified column: its type in the slice (None: absent, nulls), when Arrow casts reach the unified schema.

    None when they cannot: a column renamed, or whose type changes otherwise than int64/decimal → decimal.
    """
    mine = {f.attribute: f for f in own.fields}
    plan: dict[str, LakeType | None] = {}
    for field in unified.fields:
        have = mine.get(field.attribute)
        if have is not None and have.name != field.name:
            return None
        if have is None or have.type == field.type or _widens_number(have.type, field.type):
            plan[field.attribute] = have.type if have is not None else None
        else:
            return None
    return plan if set(mine) <= set(plan) else None


def _widens_number(have: LakeType, want: LakeType) -> bool:
    """int64 or decimal → decimal: a safe Arrow cast (it raises rather than lose a digit; then the slice is re-read)."""
    return want.kind == "decimal" and have.kind in ("int64", "decimal")


def _placed_parts(record: Mapping[str, Any], schema: LakeSchema, source: str, storage: Storage, work: Path,
                  writer: DestinationWriter, group: int, *, note: Callable[[str], None], tuning: Mapping[str, Any],
                  **convert: Any) -> list[dict[str, Any]]:
    """Place the slice's parts in ``dest`` as files of ``schema`` (parts of write group ``group``), each as soon as
    it is ready: copied, cast, or (else) converted again from its data files; return the manifest's file entries."""
    own = LakeSchema.from_json(record["schema"])
    number = record["slice_number"]
    names = writer.parts
    assert names is not None, "claim() first"
    if own == schema:
        return [_copied(f, writer.url(names.name(group, n)), storage, "copied") for n, f in enumerate(record["files"])]
    plan = cast_plan(own, schema)
    if plan is not None:
        placed: list[dict[str, Any]] = []
        try:
            for n, f in enumerate(record["files"]):
                local = writer.staging / names.name(group, n)  # type: ignore[operator]
                cast = _cast_part(f, plan, schema, storage, work, local)
                place_part(storage, local, writer.url(local.name))
                placed.append({**cast, "path": writer.url(local.name)})
            return placed
        except pa.ArrowInvalid as error:
            note(f"slice {number}: a cast to the unified schema would lose digits ({error})")
            storage.delete([p["path"] for p in placed])
    note(f"slice {number}: its schema differs from the unified one beyond a cast; converting its files again")
    folder = join_url(record["dest"].rsplit("/slice=", 1)[0], f"unified-slice={number:05d}")
    again = convert_export(source, folder, storage_options=storage.storage_options, s3_client=storage.s3_client,
                           only_files=record["slice"]["files"], fixed_schema=schema, **convert, **tuning)
    return [_copied(f, writer.url(names.name(group, n)), storage, "reconverted") for n, f in enumerate(again["files"])]


def _copied(part: Mapping[str, Any], url: str, storage: Storage, how: str) -> dict[str, Any]:
    storage.copy(part["path"], url)
    return {"path": url, "rows": part["rows"], "bytes": part["bytes"], "how": how}


def _cast_part(part: Mapping[str, Any], plan: Mapping[str, LakeType | None], schema: LakeSchema, storage: Storage,
               work: Path, out: Path) -> dict[str, Any]:
    """Rewrite one Parquet part into ``schema`` as ``out``, row group by row group (missing columns null, numbers
    widened)."""
    local = _local_copy(part["path"], storage, work)
    target = schema.to_arrow()
    target = target.with_metadata({**(target.metadata or {}), b"ddb_lake.schema": schema.dumps().encode()})
    reader = pq.ParquetFile(local)
    by_attribute = {f.attribute: f.name for f in schema.fields}
    with pq.ParquetWriter(out, target, compression=_compression(reader)) as writer:
        for index in range(reader.num_row_groups):
            group = reader.read_row_group(index)
            columns = [_cast(group.column(by_attribute[a]), target.field(by_attribute[a]).type) if have is not None
                       else pa.nulls(group.num_rows, target.field(by_attribute[a]).type)
                       for a, have in plan.items()]
            writer.write_table(pa.Table.from_arrays(columns, schema=target))
    if local.parent == work:  # a downloaded copy
        local.unlink()
    return {"rows": part["rows"], "bytes": out.stat().st_size, "how": "cast"}


def _cast(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """A safe cast; int64 → decimal goes through decimal(38, s), so that values (not the type) decide the fit."""
    if pa.types.is_integer(column.type) and pa.types.is_decimal(kind):
        column = column.cast(pa.decimal128(38, kind.scale))
    return column.cast(kind)


def _compression(reader: pq.ParquetFile) -> str:
    meta = reader.metadata
    if meta.num_row_groups and meta.num_columns:
        return meta.row_group(0).column(0).compression.lower()
    return "zstd"


def _local_copy(url: str, storage: Storage, work: Path) -> Path:
    if not is_s3(url):
        return local_path(url)
    target = work / f"in-{hashlib.sha1(url.encode()).hexdigest()[:12]}.parquet"
    storage.download(url, target)
    return target


def _put_text(storage: Storage, url: str, text: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ddb-lake-") as folder:
        path = Path(folder) / "record.json"
        path.write_text(text)
        storage.put_copy(path, url)
