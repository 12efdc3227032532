"""How many converter processes a machine can run, and how much local disk a conversion needs.

The CPU count is the container's, not the host's: a Kubernetes pod or Composer worker limited to 2 CPUs on a 64-core
host reads 64 from ``os.cpu_count()``. The limit is the cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us``), rounded up, capped by the CPUs this process may run on. The memory budget caps the count
again: each worker holds about ``WORKER_BYTES``.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from ddb_lake.core.errors import ConfigError

WORKER_BYTES = 320 << 20  # measured peak of one parse/write process with 16 MiB chunks and 64 MiB row groups
PARENT_BYTES = 192 << 20  # the converting process and the pool's forkserver
# Local disk a conversion needs per byte of uncompressed JSON: the raw Arrow IPC of pass 1 (measured 0.73-0.95x on
# orders-like and 100 KB items), with room to spare. Pass 2's Parquet adds only the parts being written: each is
# placed in the destination as soon as it closes (one per process, ``open_parts_bytes``).
DISK_PER_JSON_BYTE = 1.0
DISK_SLACK_BYTES = 256 << 20


def parse_cpu_max(text: str) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` (``"200000 100000"`` → 2.0; ``"max 100000"`` → None: no limit)."""
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    period = int(fields[1]) if len(fields) > 1 else 100_000
    return int(fields[0]) / period if period > 0 else None


def parse_cfs(quota: str, period: str) -> float | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1 → None: no limit)."""
    q, p = int(quota.strip()), int(period.strip())
    return q / p if q > 0 and p > 0 else None


def cgroup_cpu_limit(root: str = "/sys/fs/cgroup") -> float | None:
    """The CPU quota of this process's cgroup (v2, else v1), or None when there is none or it cannot be read."""
    base = Path(root)
    try:
        return parse_cpu_max((base / "cpu.max").read_text())
    except (OSError, ValueError, IndexError):
        pass
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        try:
            return parse_cfs((base / folder / "cpu.cfs_quota_us").read_text(),
                             (base / folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
    return None


def available_cpus(root: str = "/sys/fs/cgroup") -> int:
    """CPUs this process may use: the cgroup quota rounded up, capped by its CPU affinity (else ``os.cpu_count``)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_limit(root)
    return max(1, min(cpus, math.ceil(quota)) if quota is not None else cpus)


def worker_count(*, cpus: int, files: int, memory_budget_bytes: int) -> int:
    """Processes for a conversion: one per CPU, at most one per data file, and as many as the memory budget holds."""
    by_memory = (memory_budget_bytes - PARENT_BYTES) // WORKER_BYTES
    return max(1, min(cpus, files, by_memory))


def disk_needed(uncompressed_bytes: int, open_parts_bytes: int = 0) -> int:
    """Local disk (work folder) a conversion of ``uncompressed_bytes`` of export JSON needs at its peak.

    :param open_parts_bytes: the Parquet parts being written at once (processes times the part size).
    """
    return int(uncompressed_bytes * DISK_PER_JSON_BYTE) + open_parts_bytes + DISK_SLACK_BYTES


def check_disk(work_dir: str, *, compressed_bytes: int, uncompressed_bytes: int, export_id: str,
               open_parts_bytes: int = 0) -> int:
    """Raise :class:`InsufficientDiskError` when ``work_dir``'s file system has less free space than needed."""
    need = disk_needed(uncompressed_bytes, open_parts_bytes)
    free = shutil.disk_usage(work_dir).free
    if free < need:
        raise InsufficientDiskError(
            f"export {export_id}: converting {_gib(compressed_bytes)} of gzip (about {_gib(uncompressed_bytes)} of "
            f"JSON) needs about {_gib(need)} of local disk in {work_dir}, which has {_gib(free)} free. Fix: point "
            f"convert.work_dir (CLI --work-dir, or TMPDIR) at a larger disk (the "
            f"DAG's worker needs it free while the convert task runs)")
    return need


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"


class InsufficientDiskError(ConfigError):
    """The work folder's disk is too small for the export: names what is needed, what is free, and the fix."""
