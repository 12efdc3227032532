"""The convert task's summary as the tasks after it read it: checked once, with an error that says what arrived.

The summary (``files``, ``snapshot``, ``snapshot_prefix``, ``schema``, ``table_name``, ...) reaches the transfer,
load and validation tasks as an XComArg; a wiring mistake (another task's result, an empty snapshot) is a
:class:`ConfigError` naming the missing keys instead of a ``KeyError`` deep inside a task. Pure: imports no Airflow.
"""

from __future__ import annotations

from typing import Any

from ddb_lake.core.errors import ConfigError


def snapshot_summary(value: Any, *needed: str) -> dict[str, Any]:
    """``value`` when it is a summary with every ``needed`` key set (non-empty); else a :class:`ConfigError`."""
    if not isinstance(value, dict):
        raise ConfigError(f"snapshot must be the convert task's summary (a dict), got {type(value).__name__}")
    missing = [key for key in needed if not value.get(key)]
    if missing:
        raise ConfigError(
            f"snapshot summary has no {', '.join(missing)} (keys: {sorted(value)}): pass the convert task's result, "
            "e.g. convert.output"
        )
    return value
