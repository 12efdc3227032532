"""Memory bounded by bytes, whatever the item size: row groups by Arrow bytes, the process tree under the budget.

Also: a progress line per parsed data file, and the local-disk preflight refusing before anything is written.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert import worker_budget
from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.convert.worker_budget import InsufficientDiskError

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"

# bench/process_tree.py by its path: bench/ on sys.path would shadow include/cdc with bench/cdc.py
_spec = importlib.util.spec_from_file_location(
    "process_tree", Path(__file__).resolve().parents[2] / "bench" / "process_tree.py")
process_tree = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(process_tree)
run_with_peak_rss = process_tree.run_with_peak_rss


def big_item(i: int, kb: int = 100) -> dict:
    """An item of about ``kb`` KB of JSON: a long text and a list of maps (as a document store holds)."""
    lines = [{"M": {"sku": {"S": f"SKU-{i}-{n}"}, "qty": {"N": str(n % 5 + 1)}, "price": {"N": f"{n}.{i % 100:02d}"}}}
             for n in range(kb * 3)]
    body = base64.b64encode(os.urandom(kb * 1024 * 3 // 4 * 2 // 3)).decode()
    return {"pk": {"S": f"doc#{i:06d}"}, "version": {"N": str(i)}, "body": {"S": body}, "lines": {"L": lines}}


def big_export(folder: Path, items: int, files: int) -> Path:
    per = items // files
    return write_export(folder / "AWSDynamoDB" / "01700000000000-big00001",
                        [[item_line(big_item(f * per + n)) for n in range(per)] for f in range(files)],
                        compresslevel=1)


def test_row_groups_are_bounded_by_bytes_not_rows(tmp_path: Path):
    src = big_export(tmp_path / "in", items=40, files=1)
    convert_export(str(src), str(tmp_path / "out"), row_group_bytes=1 << 20, workers=1)
    (part,) = (tmp_path / "out").glob("part-*.parquet")
    meta = pq.ParquetFile(part).metadata
    rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(rows) == 40
    assert meta.num_row_groups >= 3, rows  # row_group_rows (262144) alone made one group of 40 items (~3 MB)
    assert max(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) < 2 << 20


def test_progress_line_per_parsed_file(tmp_path: Path):
    items = [[item_line({"pk": {"S": f"{f}-{n}"}}) for n in range(50 * (f + 1))] for f in range(3)]
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-abc00001", items)
    lines: list[str] = []
    convert_export(str(src), str(tmp_path / "out"), progress=lines.append, workers=2)
    parsed = sorted(line for line in lines if line.startswith("parsed data/"))
    assert len(parsed) == 3
    for number, line in enumerate(parsed):
        assert f"part{number:05d}-" in line and f": {50 * (number + 1)} items in " in line and "items/s); " in line
    assert any(line.endswith(" files, 300 items, " + line.rsplit(", ", 1)[1].split(" items", 1)[0]
                             + " items/s overall") and " 3/3 files" in line for line in parsed)
    assert any("local disk needed about" in line for line in lines)


def test_disk_preflight_refuses_before_writing(tmp_path: Path, monkeypatch):
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-abc00002", [[item_line({"pk": {"S": "a"}})]])
    monkeypatch.setattr(worker_budget, "DISK_PER_JSON_BYTE", float(1 << 60))
    with pytest.raises(InsufficientDiskError, match=r"export 01700000000000-abc00002: converting .* needs about"):
        convert_export(str(src), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_process_tree_stays_under_the_memory_budget_with_100kb_items(tmp_path: Path):
    budget_mb = 1024  # the default
    src = big_export(tmp_path / "in", items=160, files=4)  # 16 MB of JSON, 4 files: a pool when the budget allows
    env = {**os.environ, "PYTHONPATH": str(PLUGINS)}
    command = [sys.executable, "-m", "ddb_lake.core.cli", "convert", str(src), str(tmp_path / "out"),
               "--memory-mb", str(budget_mb)]
    peak, result = run_with_peak_rss(command, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["items"] == 160
    workers = worker_budget.worker_count(cpus=worker_budget.available_cpus(), files=4,
                                         memory_budget_bytes=budget_mb << 20)
    assert f"with {workers} worker(s)" in result.stderr
    assert peak < budget_mb << 20, f"peak RSS {peak >> 20} MiB over the {budget_mb} MiB budget"
