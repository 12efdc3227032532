"""Where snapshots go besides the lake: one folder per destination, each behind the small :class:`Destination` protocol.

A destination folder (``destinations/<name>/``) holds its settings, schema mapping, load, hooks and operators. Its
load operator's result names it (``"destination": "<name>"``, and so does any staging transfer's result); the row
count validator and the run report find it here by that name and ask it only what :class:`Destination` says. So a
second warehouse is one new folder, with its ``destination.py`` registered in :data:`DESTINATIONS`.

Pure: imports no Airflow. A destination's module is imported only when its name is looked up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ddb_lake.core.errors import ConfigError

if TYPE_CHECKING:
    from ddb_lake.core.schema.lake_schema import LakeSchema
    from ddb_lake.core.validation.row_counts import CountSource
    from ddb_lake.core.validation.run_report import VolumeLine


class Destination(Protocol):
    """What the validator and the run report need of a destination that holds a loaded copy of a snapshot.

    ``load`` is one result of the destination's load operator; it says where the copy is. Built by a
    :data:`DestinationFactory` from the validator's connection settings; building it does no I/O.
    """

    name: str

    def row_count(self, load: Mapping[str, Any]) -> CountSource:
        """The exact row count of the loaded snapshot, as a count source named after the destination."""
        ...

    def key_checksum(self, load: Mapping[str, Any], key_columns: Sequence[str], schema: LakeSchema) -> tuple[int, int]:
        """(rows, sum of key hashes) of the loaded snapshot, as ``core.validation.row_counts.key_hash`` defines it."""
        ...

    def volume_lines(
        self, loads: Sequence[Mapping[str, Any]], transfers: Sequence[Mapping[str, Any]]
    ) -> list[VolumeLine]:
        """The run report's figures and priced lines of this run's loads (and staging transfers) to it."""
        ...


DestinationFactory = Callable[[Mapping[str, Any]], Destination]
"""Builds a destination from connection settings (``aws_conn_id``, ``gcp_conn_id``, ``location``, ...)."""

DESTINATIONS: dict[str, str | DestinationFactory] = {
    "bigquery": "ddb_lake.destinations.bigquery.destination:BigQuery",
}
"""Destination name -> its factory, or ``"module:attribute"`` of it (imported on first use)."""


def register_destination(name: str, factory: str | DestinationFactory) -> None:
    """Make results naming ``name`` reach ``factory`` (a callable or ``"module:attribute"``)."""
    DESTINATIONS[name] = factory


def destination_named(name: str, settings: Mapping[str, Any] | None = None) -> Destination:
    """The destination registered as ``name``, built with ``settings``; a :class:`ConfigError` for an unknown name."""
    factory = DESTINATIONS.get(name)
    if factory is None:
        raise ConfigError(f"no destination {name!r} is registered; known: {', '.join(sorted(DESTINATIONS))}")
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    return factory(settings or {})


def destination_name(result: Mapping[str, Any]) -> str:
    """The destination a load (or transfer) result names; a :class:`ConfigError` when it names none."""
    name = result.get("destination") if isinstance(result, Mapping) else None
    if not name:
        raise ConfigError(
            f"result names no destination (keys: {sorted(result) if isinstance(result, Mapping) else result!r}): "
            "pass the load task's result, e.g. load.output"
        )
    return str(name)


def results_by_destination(results: Sequence[Mapping[str, Any]] | None) -> dict[str, list[Mapping[str, Any]]]:
    """The results grouped by the destination each names, in the order the destinations first appear."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for result in results or ():
        grouped.setdefault(destination_name(result), []).append(result)
    return grouped
