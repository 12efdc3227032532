"""The convert task's summary as the lake steps receive it: ``schema``, ``files``, ``snapshot``, ``snapshot_prefix``."""

from __future__ import annotations

from typing import Any

from ddb_lake.core.lake.errors import LakeConfigError


def require_summary(summary: Any, task_id: str) -> dict[str, Any]:
    """``summary`` itself when it is the convert task's dict; a rendered string (templates not native) is refused."""
    if not isinstance(summary, dict):
        raise LakeConfigError(
            f"{task_id}: convert_summary must be the convert task's dict (pass the XComArg, or render templates "
            f"as native objects); got {type(summary).__name__} {str(summary)[:80]!r}"
        )
    return summary
