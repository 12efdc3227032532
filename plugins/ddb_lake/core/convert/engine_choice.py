"""``convert.engine: auto``: how many slices an export is converted in, chosen from its size when the run has it.

``auto`` is what a Parquet table gets when its YAML leaves ``convert.engine`` unset
(``core.config.table_config.default_convert_engine``); ``engine: worker`` keeps the one-task ``convert``.

The DAG's shape is fixed when Airflow parses the file, before any export exists, so ``auto`` has the mapped engine's
shape (``convert_slice_plan`` → ``convert_slice[n]`` → ``convert``) and its plan task chooses ``n`` from the gzip
bytes of the export's data files: up to :data:`ONE_TASK_MAX_BYTES`, one slice (the whole export in one task, as
``engine: worker`` converts it); past that, slices of about :data:`SLICE_BYTES` each, at most ``convert.slices``.
Spark is never chosen by ``auto`` (it needs an EMR Serverless application, so it is a per-table decision); the
reason names it when the slices would exceed :data:`SLICE_BYTES`.

The thresholds come from the measured per-core rate (docs/scaling.md): about 60 MB/s of JSON per core and ~5.7 bytes
of JSON per byte of gzip on orders-like items, so 4 GiB of gzip is ~25 GB of JSON: ~3.5 minutes on a 2-vCPU worker,
up to ~17 minutes for items of ~100 KB (2-5x slower per byte), well inside the 120-minute task timeout; a 2 GiB
slice is half that, so a failed slice costs minutes to retry.
"""

from __future__ import annotations

from dataclasses import dataclass

ONE_TASK_MAX_BYTES = 4 << 30  # gzip bytes one task converts (as engine worker) before auto splits the export
SLICE_BYTES = 2 << 30  # gzip bytes per slice once the export is split


@dataclass(frozen=True)
class EngineChoice:
    """How ``auto`` converts one export: ``slices`` (1: one task) and why, for the task log."""

    slices: int
    reason: str


def choose_slices(gzip_bytes: int, *, files: int, max_slices: int, one_task_max_bytes: int = ONE_TASK_MAX_BYTES,
                  slice_bytes: int = SLICE_BYTES) -> EngineChoice:
    """The slice count for an export of ``gzip_bytes`` in ``files`` data files, at most ``max_slices``."""
    size = _gib(gzip_bytes)
    if gzip_bytes <= one_task_max_bytes or files <= 1 or max_slices <= 1:
        why = (f"{size} of gzip is at most {_gib(one_task_max_bytes)}" if gzip_bytes <= one_task_max_bytes
               else f"{size} of gzip, but {'one data file' if files <= 1 else 'convert.slices is 1'}")
        return EngineChoice(1, f"auto: one slice (the whole export in one task): {why}")
    wanted = -(-gzip_bytes // slice_bytes)
    slices = min(wanted, max_slices, files)
    reason = (f"auto: {slices} slices: {size} of gzip is over {_gib(one_task_max_bytes)}; about "
              f"{_gib(slice_bytes)} per slice")
    if wanted > slices:
        cap = "convert.slices" if max_slices <= files else "the data file count"
        reason += (f" would take {wanted}, capped at {slices} by {cap} ({_gib(-(-gzip_bytes // slices))} per "
                   "slice); raise convert.slices or use engine spark for exports this size")
    return EngineChoice(slices, reason)


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"
