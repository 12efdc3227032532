"""``ddb-lake convert SOURCE DEST``: convert a DynamoDB export folder to typed Parquet; JSON summary on stdout.
``ddb-lake schema TABLE_YAML|SNAPSHOT_URL``: print a table's schema contract and the history of its changes.
``ddb-lake validate-config [FOLDER]``: check every table file of a folder offline (exit 1, one line per problem).
``ddb-lake config-schema``: print the JSON Schema of a table file (generated from the model; docs/table-settings.md).

Exit codes: 0 done; 2 the export cannot be converted; 3 DEST holds objects an earlier conversion to exactly DEST
did not write, or is a folder a table may read (published, or a DAG try's attempt folder): nothing written or deleted.
Either error also prints its JSON on stdout. 4 no schema contract there (the table is not published yet, or the
folder holds no ``_contract.json`` / ``_manifest.json``). 5 the work folder's disk is too small for the export
(``InsufficientDiskError``: what it needs, what is free). The CLI writes straight into DEST (it has no pointer to
switch); the DAG's convert writes attempt folders instead (docs/conversion.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.dest_ownership import DestinationNotOwnedError, check_unpublished
from ddb_lake.core.convert.storage import Storage
from ddb_lake.core.convert.worker_budget import InsufficientDiskError
from ddb_lake.core.errors import ExportFormatError, NotFoundError
from ddb_lake.core.schema.lake_schema import LakeSchema


def _storage_options(args: argparse.Namespace) -> dict[str, Any] | None:
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint and not args.region:
        return None
    client_kwargs = {k: v for k, v in {"endpoint_url": endpoint, "region_name": args.region}.items() if v}
    return {"client_kwargs": client_kwargs}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddb-lake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert one export folder (local path or s3://) to Parquet")
    convert.add_argument("source", help="export folder: .../AWSDynamoDB/<ExportId>/ (local or s3://)")
    convert.add_argument("dest", help="output folder (local or s3://): empty, new, or written by an earlier conversion "
                         "to exactly it (whose files are replaced); anything else there is refused, never deleted")
    convert.add_argument("--keep-foreign", action="store_true",
                         help="write into a DEST holding objects ddb-lake did not write; they are kept (never "
                              "deleted or overwritten)")
    convert.add_argument("--expected-items", type=int, help="item count to verify when the export has no manifest")
    convert.add_argument("--numbers", choices=("exact", "float"), default="exact")
    convert.add_argument("--previous-schema", help="a _manifest.json or schema JSON of an earlier run (drift)")
    convert.add_argument("--workers", type=int, help="processes (default: the cgroup CPU quota or cores, "
                         "capped by --memory-mb; 1 for small exports)")
    convert.add_argument("--memory-mb", type=int, default=1024,
                         help="memory budget of the conversion's process tree; caps the worker count")
    convert.add_argument("--work-dir", help="local folder for staging files (default: the system temp folder)")
    convert.add_argument("--target-file-mb", type=int, default=256, help="approximate Parquet file size")
    convert.add_argument("--max-depth", type=int, default=8, help="nesting kept typed; deeper becomes JSON text")
    convert.add_argument("--endpoint-url", help="S3 endpoint (e.g. moto); also AWS_ENDPOINT_URL_S3")
    convert.add_argument("--region", help="S3 region")
    convert.add_argument("--quiet", action="store_true", help="no progress on stderr")
    schema = commands.add_parser("schema", help="print a table's schema contract and its change history")
    schema.add_argument("target", help="the table's YAML file (reads the contract its current Glue table names), or "
                        "a snapshot folder / _contract.json (local or s3://)")
    schema.add_argument("--json", action="store_true", help="print the contract as JSON")
    schema.add_argument("--endpoint-url", help="AWS endpoint for Glue and S3 (e.g. moto); also AWS_ENDPOINT_URL")
    schema.add_argument("--region", help="AWS region (default: the table's dynamodb.region)")
    check = commands.add_parser("validate-config", help="check every table YAML of a folder (as the DAG file would)")
    check.add_argument("folder", nargs="?", default="include/tables", help="the table files' folder")
    commands.add_parser("config-schema", help="print the JSON Schema of a table YAML file (for editors: "
                        "# yaml-language-server: $schema=<file>)")
    return parser


def _previous_schema(path: str | None) -> LakeSchema | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return LakeSchema.from_json(data.get("schema", data))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "schema":
        return _schema(args)
    if args.command == "validate-config":
        return _validate_config(args.folder)
    if args.command == "config-schema":
        from ddb_lake.core.config.settings_reference import json_schema_text

        sys.stdout.write(json_schema_text())
        return 0

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"ddb-lake: {message}", file=sys.stderr, flush=True)

    tuning: dict[str, Any] = {"target_file_bytes": args.target_file_mb << 20, "max_depth": args.max_depth}
    if args.workers:
        tuning["workers"] = args.workers
    tuning["memory_budget_bytes"] = args.memory_mb << 20
    if args.work_dir:
        tuning["work_dir"] = args.work_dir
    try:
        options = _storage_options(args)
        check_unpublished(args.dest, Storage(options).list_names(args.dest), attempts_too=True)
        summary = convert_export(args.source, args.dest, expected_items=args.expected_items, numbers=args.numbers,
                                 storage_options=options,
                                 previous_schema=_previous_schema(args.previous_schema), progress=progress,
                                 keep_foreign=args.keep_foreign, **tuning)
    except DestinationNotOwnedError as err:
        print(f"ddb-lake: error: {err}", file=sys.stderr)
        print(json.dumps(err.to_json()), file=sys.stdout)
        return 3
    except ExportFormatError as err:
        print(f"ddb-lake: error: {err}", file=sys.stderr)
        print(json.dumps(err.to_json()), file=sys.stdout)
        return 2
    except InsufficientDiskError as err:
        print(f"ddb-lake: error: {err}", file=sys.stderr)
        print(json.dumps({"error": type(err).__name__, "message": str(err)}), file=sys.stdout)
        return 5
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _validate_config(folder: str) -> int:
    from ddb_lake.core.config.table_config import read_table_folder

    found = read_table_folder(folder)
    for error in found.errors:
        print(f"ddb-lake: {error}", file=sys.stderr)
    bad = len({e.path for e in found.errors})
    if not found.configs and not bad:
        print(f"ddb-lake: no table files (*.yaml, *.yml) in {folder}", file=sys.stderr)
        return 1
    print(f"ddb-lake: {len(found.configs)} table file(s) valid, {bad} invalid in {folder}")
    return 1 if bad else 0


# ---- ddb-lake schema --------------------------------------------------------------------------------------------

def _schema(args: argparse.Namespace) -> int:
    from ddb_lake.core.errors import DdbLakeError
    from ddb_lake.core.schema.contract_report import contract_lines

    try:
        found = _contract_of(args)
    except DdbLakeError as err:
        print(f"ddb-lake: error: {err}", file=sys.stderr)
        return 4
    contract, source = found
    if args.json:
        print(json.dumps(contract.to_json(), indent=2, sort_keys=True))
    else:
        print("\n".join(contract_lines(contract, source)))
    return 0


def _contract_of(args: argparse.Namespace) -> tuple[Any, str]:
    """(the contract, where it was read) for a table YAML or a snapshot folder / contract file."""
    if args.target.endswith((".yaml", ".yml")):
        return _contract_of_table(args)
    return _contract_in_folder(args.target, Storage(_storage_options(args)))


def _contract_of_table(args: argparse.Namespace) -> tuple[Any, str]:
    """The contract the table's current Glue table names (``core.lake.contract_store``)."""
    import boto3

    from ddb_lake.core.config.table_config import load_table_config
    from ddb_lake.core.lake.catalog_tables import current_table_name
    from ddb_lake.core.lake.contract_store import contract_source, stored_contract

    config = load_table_config(args.target)
    region = args.region or config.dynamodb.region
    endpoint = {"endpoint_url": args.endpoint_url} if args.endpoint_url else {}
    glue = boto3.client("glue", region_name=region, **endpoint)
    glue_table = f"{config.glue.database}.{current_table_name(config.glue_table)}"
    try:
        table = glue.get_table(DatabaseName=config.glue.database, Name=current_table_name(config.glue_table))
    except glue.exceptions.EntityNotFoundException:
        raise NotFoundError(f"table {config.name}: Glue table {glue_table} does not exist: the table is not "
                            "published yet, so it has no schema contract") from None
    source = contract_source(table["Table"])
    assert source is not None
    storage = Storage({"client_kwargs": {"region_name": region, **endpoint}})
    text = storage.read_text(source.url)
    return stored_contract(source, text, table=config.name, glue_table=glue_table), source.url


def _contract_in_folder(target: str, storage: Storage) -> tuple[Any, str]:
    """The ``_contract.json`` of a snapshot folder (or the file named); a ``_manifest.json`` alone is adopted."""
    from ddb_lake.core.lake.contract_store import CONTRACT, CONTRACT_NAME, MANIFEST, ContractSource, stored_contract
    from ddb_lake.core.lake.glue_table import stamp_of_location
    from ddb_lake.core.lake.snapshot_manifest import MANIFEST_NAME

    folder, _, name = target.rpartition("/") if target.endswith(".json") else (target.rstrip("/"), "", "")
    names = [name] if name else [CONTRACT_NAME, MANIFEST_NAME]
    for name in names:
        text = storage.read_text(f"{folder}/{name}")
        if text is not None:
            source = ContractSource(MANIFEST if name == MANIFEST_NAME else CONTRACT, f"{folder}/{name}",
                                    stamp_of_location(folder) or "")
            table = folder.rsplit("/", 2)[-2] if source.snapshot else folder
            return stored_contract(source, text, table=table, glue_table="(none: read from the folder)"), source.url
    raise NotFoundError(f"{target}: no {' or '.join(names)} there; give a snapshot folder of the lake "
                        "(.../snapshots/<table>/snapshot=<stamp>/) or the table's YAML file")
