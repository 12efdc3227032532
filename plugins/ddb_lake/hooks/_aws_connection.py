"""One Airflow connection lookup per task for the several AWS hooks a task uses."""

from __future__ import annotations

from typing import Any, TypeVar

HookT = TypeVar("HookT")


# what an amazon-provider hook's connection wrapper is built from (AwsGenericHook.__init__ keeps them)
_CONNECTION_PARAMETERS = ("aws_conn_id", "_region_name", "_verify", "_config")


def same_connection(hook: HookT, source: Any) -> HookT:
    """``hook`` with the connection ``source`` already resolved, when both were built with the same parameters.

    Each amazon-provider hook looks its connection up once (``conn_config``, cached per hook) and logs "AWS
    Connection ... credentials retrieved" each time: a task using two hooks printed it twice. Only the wrapped
    connection is shared (connection id, region, verify, botocore config all equal); each hook keeps its own session.
    """
    if all(getattr(hook, name, None) == getattr(source, name, None) for name in _CONNECTION_PARAMETERS):
        hook.conn_config = source.conn_config  # type: ignore[attr-defined]  # a cached_property: set on the instance
    return hook
