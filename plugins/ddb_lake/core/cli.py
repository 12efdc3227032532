"""``ddb-lake convert SOURCE DEST``: convert a DynamoDB export folder to typed Parquet; JSON summary on stdout.

Exit codes: 0 converted; 2 the export cannot be converted; 3 DEST holds objects an earlier conversion to exactly DEST
did not write, or is a folder a table may read (published, or a DAG try's attempt folder): nothing written or deleted.
Either error also prints its JSON on stdout. The CLI writes straight into DEST (it has no pointer to switch);
the DAG's convert writes attempt folders instead (docs/conversion.md).
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
from ddb_lake.core.errors import ExportFormatError
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
    convert.add_argument("--workers", type=int, help="processes (default: cores, 1 for small exports)")
    convert.add_argument("--target-file-mb", type=int, default=256, help="approximate Parquet file size")
    convert.add_argument("--max-depth", type=int, default=8, help="nesting kept typed; deeper becomes JSON text")
    convert.add_argument("--endpoint-url", help="S3 endpoint (e.g. moto); also AWS_ENDPOINT_URL_S3")
    convert.add_argument("--region", help="S3 region")
    convert.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _previous_schema(path: str | None) -> LakeSchema | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return LakeSchema.from_json(data.get("schema", data))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"ddb-lake: {message}", file=sys.stderr, flush=True)

    tuning: dict[str, Any] = {"target_file_bytes": args.target_file_mb << 20, "max_depth": args.max_depth}
    if args.workers:
        tuning["workers"] = args.workers
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
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
