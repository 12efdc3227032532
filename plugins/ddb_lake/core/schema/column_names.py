"""Deterministic column names for DynamoDB attribute names (any UTF-8) that Glue, Athena and BigQuery all accept.

Rule: lower-case; every character outside ``[a-z0-9_]`` becomes ``_``; a leading digit gets a ``_`` prefix;
names BigQuery reserves (``_table_*``, ``_file_*``, ``_partition*``, ``_row_timestamp*``, ``__root__*``,
``_colidentifier*``) and the converter's own prefix ``_ddb_`` get a ``c`` prefix; an empty result is ``_``; over 120
characters is cut to 111 plus ``_`` and 8 hex of SHA-1. When several attributes land on one name, the attribute equal
to the name (else the smallest in code-point order) keeps it, the others get ``_`` plus 8 hex of the SHA-1 of the
attribute name. A name already given in an earlier schema is kept.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_NAME = 120
RESERVED_PREFIXES = ("_table_", "_file_", "_partition", "_row_timestamp", "__root__", "_colidentifier", "_ddb_")
METADATA_PREFIX = "_ddb_"
_BAD = re.compile(r"[^a-z0-9_]")


def attribute_hash(attribute: str) -> str:
    return hashlib.sha1(attribute.encode("utf-8")).hexdigest()[:8]


def sanitize(attribute: str) -> str:
    """The column name for one attribute, before collision handling."""
    name = _BAD.sub("_", attribute.lower())
    if not name:
        name = "_"
    if name[0].isdigit():
        name = "_" + name
    if name.startswith(RESERVED_PREFIXES):
        name = "c" + name
    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME - 9]}_{attribute_hash(attribute)}"
    return name


def assign_names(attributes: Iterable[str], previous: dict[str, str] | None = None,
                 taken: Iterable[str] = ()) -> dict[str, str]:
    """Map each attribute to a unique column name; ``previous`` (attribute -> name) is honoured first."""
    result: dict[str, str] = {}
    used = set(taken)
    for attribute, name in (previous or {}).items():
        result[attribute] = name
        used.add(name)
    pending = sorted(a for a in set(attributes) if a not in result)
    by_name: dict[str, list[str]] = {}
    for attribute in pending:
        by_name.setdefault(sanitize(attribute), []).append(attribute)
    for name, group in sorted(by_name.items()):
        group.sort(key=lambda a: (a != name, a))
        for index, attribute in enumerate(group):
            suffixed = f"{name[:MAX_NAME - 9]}_{attribute_hash(attribute)}"
            candidate = name if index == 0 and name not in used else suffixed
            while candidate in used:  # a hash suffix already taken: extend deterministically
                candidate = f"{candidate}_{attribute_hash(candidate)}"[:MAX_NAME + 20]
            result[attribute] = candidate
            used.add(candidate)
    return {a: result[a] for a in result if a in set(attributes) or a in (previous or {})}
