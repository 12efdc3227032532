"""Benchmark: ddb-lake convert vs DuckDB, the pyarrow JSON floor and the naive per-item path, on a generated export.

    .venv/bin/python bench/convert.py [--items 1000000] [--files 8] [--naive-items N] [--keep DIR]
                                      [--paths floor,ddb-lake,duckdb,naive] [--item-kb 100] [--scaling 1,2,4,8]

``--keep bench/out/1m`` generates the export once and reuses it on later runs (bench/out/ is git-ignored).

Each path runs in its own subprocess; peak RSS is the sum over that process tree, sampled every 50 ms, and CPU is
the CPU seconds (user + system) of that tree: on a loaded machine compare CPU, which load hardly changes.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from process_tree import run_with_usage

HERE = Path(__file__).resolve()


def order_item(i: int, rng: random.Random) -> dict:
    """An orders-like item using every type, sparse attributes and edge cases."""
    item = {
        "pk": {"S": f"CUSTOMER#{i % 50_000:06d}"}, "sk": {"S": f"ORDER#{i:09d}"},
        "orderId": {"N": str(i)}, "total": {"N": f"{rng.randint(0, 10**7)}.{rng.randint(0, 99):02d}"},
        "status": {"S": rng.choice(("NEW", "PAID", "SHIPPED", "CANCELLED"))},
        "paid": {"BOOL": rng.random() < 0.7}, "createdAt": {"S": f"2026-11-{1 + i % 28:02d}T10:00:00Z"},
        "lines": {"L": [{"M": {"sku": {"S": f"SKU-{rng.randint(1, 9999)}"}, "qty": {"N": str(rng.randint(1, 5))},
                                "price": {"N": f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"}}}
                        for _ in range(rng.randint(1, 4))]},
        "address": {"M": {"city": {"S": rng.choice(("Berlin", "Köln", "東京", "São Paulo"))},
                          "zip": {"S": f"{rng.randint(10000, 99999)}"}}},
        "tags": {"SS": sorted({rng.choice(("gift", "prime", "b2b", "promo")) for _ in range(2)})},
    }
    if i % 3 == 0:
        item["couponCodes"] = {"NS": [str(rng.randint(1, 10**6)) for _ in range(2)]}
    if i % 5 == 0:
        item["signature"] = {"B": base64.b64encode(rng.randbytes(rng.randint(1, 40))).decode()}
        item["attachments"] = {"BS": [base64.b64encode(rng.randbytes(8)).decode()]}
    if i % 7 == 0:
        item["note"] = {"NULL": True}
    if i % 11 == 0:
        item["ledgerBalance"] = {"N": "1234567890123456789012345678.0123456789"}  # needs 38 digits
    if i % 13 == 0:
        item["legacyRef"] = {"S": "R-1"} if i % 2 else {"N": "17"}  # mixed type tag
    if i % 1000 == 0:
        item["physicsConst"] = {"N": "6.02214076E+123"}  # beyond decimal128: exact text
        item["userId"], item["userid"] = {"S": "camel"}, {"S": "lower"}  # colliding names
    return item


def big_item(i: int, rng: random.Random, item_kb: int) -> dict:
    """An item of about ``item_kb`` KB of JSON: an order with a long text body and many line maps."""
    item = order_item(i, rng)
    lines = max(1, item_kb * 1024 // 3 // 110)
    item["lines"] = {"L": [{"M": {"sku": {"S": f"SKU-{rng.randint(1, 9999)}"}, "qty": {"N": str(rng.randint(1, 5))},
                                  "price": {"N": f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"}}}
                           for _ in range(lines)]}
    body = item_kb * 1024 * 2 // 3
    item["body"] = {"S": base64.b64encode(rng.randbytes(body * 3 // 4)).decode()}
    return item


def ion_value(value: dict) -> str:
    """A typed DynamoDB JSON value as DynamoDB's ION export writes it (numbers as Ion decimals, sets annotated)."""
    ((tag, inner),) = value.items()
    if tag in ("S", "BOOL"):
        return json.dumps(inner, ensure_ascii=False)
    if tag == "N":
        return ion_decimal(inner)
    if tag == "B":
        return "{{" + inner + "}}"
    if tag == "NULL":
        return "null"
    if tag in ("SS", "NS", "BS"):
        members = [ion_value({tag[0]: member}) for member in inner]
        return f"$dynamodb_{tag}::[{','.join(members)}]"
    if tag == "L":
        return "[" + ",".join(ion_value(v) for v in inner) + "]"
    return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{ion_value(v)}" for k, v in inner.items()) + "}"


def ion_decimal(text: str) -> str:
    mantissa, _, exponent = text.upper().partition("E")
    return f"{mantissa}d{exponent}" if exponent else (mantissa if "." in mantissa else mantissa + ".")


def make_export(folder: Path, items: int, files: int, output_format: str = "DYNAMODB_JSON", item_kb: int = 0) -> Path:
    sys.path.insert(0, str(HERE.parent.parent / "plugins"))
    from ddb_lake.core.convert.export_writer import write_export

    rng = random.Random(7)
    per_file = -(-items // files)

    def lines(f: int):
        for i in range(f * per_file, min(items, (f + 1) * per_file)):
            item = big_item(i, rng, item_kb) if item_kb else order_item(i, rng)
            if output_format == "ION":
                yield f"$ion_1_0 {{Item:{ion_value({'M': item})}}}\n".encode()
            else:
                yield (json.dumps({"Item": item}, separators=(",", ":"), ensure_ascii=False) + "\n").encode()

    return write_export(folder / "AWSDynamoDB" / "01700000000000-bench000", (lines(f) for f in range(files)),
                        compresslevel=1, output_format=output_format,
                        suffix=".ion.gz" if output_format == "ION" else ".json.gz")


# ---- the three paths, each run as `python bench/convert.py --run <path> SRC DEST` --------------------------------

def run_naive(src: Path, dest: Path, limit: int | None) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from boto3.dynamodb.types import TypeDeserializer

    class ExportDeserializer(TypeDeserializer):
        """Export JSON carries binary as base64 text; the SDK's deserializer wants bytes."""

        def _deserialize_b(self, value):
            return super()._deserialize_b(base64.b64decode(value))

    deserializer = ExportDeserializer()
    rows = []
    for path in sorted((src / "data").glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)["Item"]
                rows.append({k: _plain(deserializer.deserialize(v)) for k, v in item.items()})
                if limit and len(rows) >= limit:
                    break
        if limit and len(rows) >= limit:
            break
    table = pa.Table.from_pylist(rows)
    dest.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, dest / "naive.parquet", compression="zstd")
    return len(rows)


def _plain(value):
    """What blog posts do next: sets to lists, Decimal to str (pyarrow cannot infer mixed Decimals)."""
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, bytes):
        return value.value
    if type(value).__name__ == "Decimal":
        return str(value)
    return value


def run_floor(src: Path) -> int:
    import io

    import pyarrow.json as pj

    rows = 0
    for path in sorted((src / "data").glob("*.json.gz")):
        with gzip.open(path, "rb") as handle:
            rows += pj.read_json(io.BytesIO(handle.read())).num_rows
    return rows


def run_native_floor(src: Path) -> int:
    """gunzip + the native JSON parser on both cores (a file per process): the floor of the converter's own parse.

    Not the issue's floor (that is pyarrow's reader, above); printed beside it to show what the conversion adds to
    its own parser.
    """
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        return sum(pool.map(_native_parse_file, sorted((src / "data").glob("*.json.gz"))))


def _native_parse_file(path: Path) -> int:
    from ddb_lake.core.convert.fast_json import read_json_lines

    with gzip.open(path, "rb") as handle:
        table = read_json_lines(handle.read())
    if table is None:
        raise SystemExit(f"the native parser declined {path}")
    return table.num_rows


def run_ddb_lake(src: Path, dest: Path) -> int:
    from ddb_lake.core.convert.converter import convert_export

    return convert_export(str(src), str(dest))["items"]


def run_duckdb(src: Path, dest: Path) -> int:
    """DuckDB's best path on the same files: read_json (auto-detected structs of type tags) straight to zstd Parquet.

    It keeps DynamoDB's type tags (no unwrapping, no exact number rules): a lower bound of a DuckDB-based converter.
    DuckDB's structs are case-insensitive: an item holding both ``userId`` and ``userid`` fails the whole read
    ("Duplicate name in struct"), so ``ignore_errors`` is on and such items are dropped (the item count shows it).
    """
    import duckdb

    dest.mkdir(parents=True, exist_ok=True)
    db = duckdb.connect()
    db.execute(f"SET threads = {os.cpu_count() or 1}")
    files = str(src / "data" / "*.json.gz")
    db.execute(f"COPY (SELECT * FROM read_json('{files}', format = 'newline_delimited', maximum_object_size = "
               f"16777216, ignore_errors = true)) TO '{dest / 'duckdb.parquet'}' (FORMAT parquet, COMPRESSION zstd)")
    return pq_rows(dest / "duckdb.parquet")


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def run_slices(src: Path, dest: Path, slices: int) -> int:
    """The mapped engine on this machine: ``slices`` slice tasks at once (one process each), then the commit."""
    from concurrent.futures import ProcessPoolExecutor

    from ddb_lake.core.convert.export_slices import export_slice_plan, unify_slices
    from ddb_lake.core.convert.storage import Storage

    plan = export_slice_plan(str(src), slices, Storage())
    with ProcessPoolExecutor(len(plan)) as pool:
        records = list(pool.map(_one_slice, [(str(src), str(dest / "slices"), s["slice"], s["files"]) for s in plan]))
    return unify_slices(str(src), str(dest / "out"), records, storage=Storage())["items"]


def _one_slice(task: tuple) -> dict:
    from ddb_lake.core.convert.export_slices import convert_slice
    from ddb_lake.core.convert.storage import Storage

    source, slices_url, number, files = task
    return convert_slice(source, slices_url, number, files, storage=Storage(), workers=1)


def timed(kind: str, src: Path, dest: Path, extra: list[str]) -> dict:
    started = time.monotonic()
    peak, cpu, result = run_with_usage([sys.executable, str(HERE), "--run", kind, str(src), str(dest), *extra],
                                       interval=0.05, show_stderr=True)
    if result.returncode:
        raise SystemExit(f"{kind} failed with {result.returncode}")
    return {"items": int(result.stdout.strip().splitlines()[-1]), "seconds": time.monotonic() - started,
            "cpu_seconds": round(cpu, 2), "peak_rss": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--naive-items", type=int, help="time the naive path on this many items (default: all)")
    parser.add_argument("--keep", help="reuse/keep the export in this folder")
    parser.add_argument("--paths", default="floor,native-floor,ddb-lake,duckdb,naive",
                        help="which paths to time (comma-separated)")
    parser.add_argument("--suite", action="store_true", help="300k, 1M and 100 KB-item exports in one run (--keep: "
                        "their parent folder)")
    parser.add_argument("--scaling", default="", help="slice counts for the mapped engine's curve, e.g. 1,2,4,8")
    parser.add_argument("--format", default="DYNAMODB_JSON", choices=("DYNAMODB_JSON", "ION"),
                        help="export format to generate (ION: only the ddb-lake path applies)")
    parser.add_argument("--item-kb", type=int, default=0, help="generate items of about this many KB (0: orders-like)")
    parser.add_argument("--run", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        kind, src, dest, *rest = args.run
        n = {"naive": lambda: run_naive(Path(src), Path(dest), int(rest[0]) if rest else None),
             "floor": lambda: run_floor(Path(src)),
             "native-floor": lambda: run_native_floor(Path(src)),
             "ddb-lake": lambda: run_ddb_lake(Path(src), Path(dest)),
             "duckdb": lambda: run_duckdb(Path(src), Path(dest)),
             "slices": lambda: run_slices(Path(src), Path(dest), int(rest[0]))}[kind]()
        print(n)
        return
    if args.suite:  # 300k and 1M orders-like items and 3000 items of 100 KB, one after the other
        root = Path(args.keep or tempfile.mkdtemp(prefix="ddb-lake-bench-"))
        for name, items, files, item_kb in (("300k", 300_000, 8, 0), ("1m", 1_000_000, 8, 0),
                                            ("100kb", 3000, 4, 100)):
            print(f"== {name}", file=sys.stderr)
            bench(argparse.Namespace(**{**vars(args), "items": items, "files": files, "item_kb": item_kb,
                                        "keep": str(root / name)}))
        return
    bench(args)


def bench(args: argparse.Namespace) -> None:
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ddb-lake-bench-"))
    try:
        src = work / "export" / "AWSDynamoDB" / "01700000000000-bench000"
        if not (src / "manifest-summary.json").exists():
            t0 = time.monotonic()
            make_export(work / "export", args.items, args.files, args.format, args.item_kb)
            print(f"generated {args.items} items in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        summary = json.loads((src / "manifest-summary.json").read_text())
        items = summary["itemCount"]
        raw = sum(len(gzip.open(p).read()) for p in (src / "data").glob("*.gz"))
        results = {}
        wanted = args.paths.split(",")
        for kind, extra in (("floor", []), ("native-floor", []), ("ddb-lake", []), ("duckdb", []),
                            ("naive", [str(args.naive_items)] if args.naive_items else [])):
            if kind not in wanted:
                continue
            shutil.rmtree(work / f"out-{kind}", ignore_errors=True)
            r = timed(kind, src, work / f"out-{kind}", extra)
            share = r["items"] / items
            r["items_per_s"] = r["items"] / r["seconds"]
            r["mb_per_s"] = raw * share / r["seconds"] / 1e6
            r["peak_rss_mib"] = r.pop("peak_rss") / 2**20
            results[kind] = r
            print(f"{kind:12s} {r['items']:>9d} items {r['seconds']:7.1f}s {r['items_per_s']:>10.0f} items/s "
                  f"{r['mb_per_s']:7.1f} MB/s  peak RSS {r['peak_rss_mib']:7.0f} MiB  CPU {r['cpu_seconds']:6.1f}s",
                  file=sys.stderr)
        for count in [int(n) for n in args.scaling.split(",") if n]:
            shutil.rmtree(work / "out-slices", ignore_errors=True)
            r = timed("slices", src, work / "out-slices", [str(count)])
            r["items_per_s"] = r["items"] / r["seconds"]
            r["peak_rss_mib"] = r.pop("peak_rss") / 2**20
            base = results.get("slices-1", r)
            r["speedup"] = base["seconds"] / r["seconds"]
            results[f"slices-{count}"] = r
            print(f"slices={count} {r['items']:>9d} items {r['seconds']:7.1f}s {r['items_per_s']:>10.0f} items/s "
                  f"x{r['speedup']:.2f}  peak RSS {r['peak_rss_mib']:7.0f} MiB", file=sys.stderr)
        report = {"items": items, "uncompressed_json_mb": raw / 1e6, "cores": os.cpu_count(), **results}
        lake, naive, floor = results.get("ddb-lake"), results.get("naive"), results.get("floor")
        if lake and naive:
            report["speedup_vs_naive"] = lake["items_per_s"] / naive["items_per_s"]
        if lake and floor:
            report["time_vs_floor"] = lake["seconds"] / floor["seconds"]
            report["cpu_vs_floor"] = lake["cpu_seconds"] / floor["cpu_seconds"]
        if lake and results.get("native-floor"):
            report["time_vs_native_floor"] = lake["seconds"] / results["native-floor"]["seconds"]
        if lake and results.get("duckdb"):
            report["speedup_vs_duckdb"] = results["duckdb"]["seconds"] / lake["seconds"]
        print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
