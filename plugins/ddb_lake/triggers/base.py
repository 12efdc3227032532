"""The base of ddb-lake's triggers: ``serialize()`` hands back every constructor argument, so none is forgotten."""

from __future__ import annotations

import inspect
from typing import Any

from ddb_lake.compat import BaseTrigger


class ConstructorArgumentsTrigger(BaseTrigger):
    """A trigger serialized as its classpath and its ``__init__`` arguments, each read from the same-named attribute.

    So ``cls(**kwargs)`` rebuilds it on the triggerer. A subclass keeps every argument as an attribute of that name
    and takes no ``*args`` / ``**kwargs``.
    """

    def serialize(self) -> tuple[str, dict[str, Any]]:
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}", {name: getattr(self, name) for name in _argument_names(cls)}


def _argument_names(cls: type) -> list[str]:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    variadic = [p.name for p in parameters if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if variadic:
        raise TypeError(f"{cls.__qualname__}.__init__ takes *{variadic[0]}: its arguments cannot be serialized")
    return [p.name for p in parameters]
