"""Worker count from the cgroup CPU quota and the memory budget; the local-disk preflight (exact values)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ddb_lake.core.convert.worker_budget import (
    PARENT_BYTES,
    WORKER_BYTES,
    InsufficientDiskError,
    available_cpus,
    cgroup_cpu_limit,
    check_disk,
    disk_needed,
    parse_cfs,
    parse_cpu_max,
    worker_count,
)
from ddb_lake.core.errors import TerminalError


@pytest.mark.parametrize(("text", "cpus"), [
    ("200000 100000\n", 2.0), ("150000 100000", 1.5), ("50000 100000", 0.5), ("max 100000\n", None), ("", None),
    ("300000", 3.0),
])
def test_cgroup_v2_cpu_max(text, cpus):
    assert parse_cpu_max(text) == cpus


@pytest.mark.parametrize(("quota", "period", "cpus"), [
    ("400000\n", "100000\n", 4.0), ("-1\n", "100000\n", None), ("25000", "100000", 0.25), ("0", "100000", None),
])
def test_cgroup_v1_cfs(quota, period, cpus):
    assert parse_cfs(quota, period) == cpus


def test_limit_read_from_v2_then_v1_then_none(tmp_path: Path):
    assert cgroup_cpu_limit(str(tmp_path)) is None
    v1 = tmp_path / "cpu,cpuacct"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("150000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(str(tmp_path)) == 1.5
    (tmp_path / "cpu.max").write_text("300000 100000\n")
    assert cgroup_cpu_limit(str(tmp_path)) == 3.0  # v2 wins where both are mounted


def test_quota_rounds_up_and_caps_the_affinity(tmp_path: Path):
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert available_cpus(str(tmp_path)) == 1  # half a CPU still runs one process
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert available_cpus(str(tmp_path)) == min(2, len(os.sched_getaffinity(0)))
    (tmp_path / "cpu.max").write_text("6400000 100000\n")  # a quota above the host: the host's CPUs
    assert available_cpus(str(tmp_path)) == len(os.sched_getaffinity(0))


def test_worker_count_is_capped_by_cpus_files_and_memory():
    budget = 1 << 30
    assert worker_count(cpus=2, files=8, memory_budget_bytes=budget) == 2
    assert worker_count(cpus=64, files=8, memory_budget_bytes=budget) == (budget - PARENT_BYTES) // WORKER_BYTES == 2
    assert worker_count(cpus=64, files=100, memory_budget_bytes=8 << 30) == 25  # (8192 - 192) // 320 MiB
    assert worker_count(cpus=8, files=3, memory_budget_bytes=8 << 30) == 3
    assert worker_count(cpus=8, files=8, memory_budget_bytes=512 << 20) == 1
    assert worker_count(cpus=8, files=8, memory_budget_bytes=100 << 20) == 1  # never below one


def test_disk_needed_is_raw_ipc_plus_the_open_parts_plus_slack():
    assert disk_needed(0) == 256 << 20
    assert disk_needed(10 << 30) == (10 << 30) + (256 << 20)  # Parquet parts leave as they close: not the output
    assert disk_needed(10 << 30, open_parts_bytes=2 * (320 << 20)) == (10 << 30) + (640 << 20) + (256 << 20)


def test_disk_preflight_says_what_it_needs_and_the_fix(tmp_path: Path):
    assert check_disk(str(tmp_path), compressed_bytes=1 << 20, uncompressed_bytes=4 << 20,
                      export_id="01700000000000-abc") == disk_needed(4 << 20)
    with pytest.raises(InsufficientDiskError) as caught:
        check_disk(str(tmp_path), compressed_bytes=1 << 50, uncompressed_bytes=1 << 52, export_id="01700000000000-abc")
    message = str(caught.value)
    assert isinstance(caught.value, TerminalError)
    assert "export 01700000000000-abc: converting 1048576.00 GiB of gzip (about 4194304.00 GiB of JSON)" in message
    assert f"needs about {disk_needed(1 << 52) / 2**30:.2f} GiB of local disk in {tmp_path}" in message
    assert "convert.work_dir" in message and "--work-dir" in message
