"""What a conversion owns under its destination: only the files an earlier conversion to exactly that folder wrote.

Ownership is read from two records the converter keeps in the destination folder:

- ``_manifest.json``: the finished conversion's summary; its ``files`` are owned when its ``dest`` is this folder;
- ``_writing.json``: written *before* any Parquet file, naming every file the conversion may leave there: those it
  owned before, by exact name, and its own parts by their rule (:class:`PartNames`: ``part-<token>-GGGGG-SSSSS.parquet``
  with this conversion's random token and a group below its group count, so parts keep the name they are uploaded
  under); deleted last. A conversion killed half way thus leaves a record that lets the next one replace its files
  instead of refusing them.

The files the lake's publish step keeps beside a snapshot (``_published.json``, ``_superseded.json``,
``_contract.json``; their names are in ``core.lake.layout``, which imports nothing else of the lake) are neither
owned nor foreign: a rerun into a published snapshot's folder keeps them. (The DAG's convert never reruns into a
folder: each try writes a new attempt folder; the CLI writes straight into its ``DEST``.)
Everything else under the folder is foreign: never replaced, never deleted. A folder holding foreign objects is
refused unless the caller keeps them (``keep_foreign``), and even then a foreign object is never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.lake.layout import (
    MANIFEST_NAME,
    PUBLISH_SIDECARS,
    PUBLISHED_MARKER,
    SUPERSEDED_MARKER,
    WRITING_NAME,
    attempt_of_folder,
)

RECORD_NAMES = frozenset((MANIFEST_NAME, WRITING_NAME))
SIDECAR_NAMES = PUBLISH_SIDECARS
"""Files other ddb-lake steps keep beside a snapshot: never deleted by a conversion, never a reason to refuse one."""
SHOWN_FOREIGN = 3
TOKEN_PATTERN = re.compile(r"[0-9a-f]{12}")
PART_PATTERN = re.compile(r"part-([0-9a-f]{12})-([0-9]{5})-([0-9]{5})\.parquet")


@dataclass(frozen=True)
class PartNames:
    """How one conversion names its Parquet parts: ``part-<token>-<group>-<sequence>.parquet``.

    ``token`` (12 hex digits, random per conversion) makes the names this conversion's alone; ``groups`` is the number
    of write groups, known before the first part is written. A name is this conversion's exactly when it matches
    that shape with this token and a group below ``groups``: a rule that claims no name another writer would choose.
    """

    token: str
    groups: int

    @classmethod
    def new(cls, groups: int = 0) -> PartNames:
        return cls(uuid.uuid4().hex[:12], groups)

    def name(self, group: int, sequence: int) -> str:
        return f"part-{self.token}-{group:05d}-{sequence:05d}.parquet"

    def owns(self, name: str) -> bool:
        found = PART_PATTERN.fullmatch(name)
        return found is not None and found[1] == self.token and int(found[2]) < self.groups

    def to_json(self) -> dict:
        return {"token": self.token, "groups": self.groups}

    @classmethod
    def from_json(cls, data: object) -> PartNames | None:
        """The rule a record holds; None when it is missing or malformed (then it claims nothing)."""
        if not isinstance(data, dict):
            return None
        token, groups = data.get("token"), data.get("groups")
        if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token) or type(groups) is not int:
            return None
        return cls(token, groups)


class DestinationNotOwnedError(ConfigError):
    """The destination holds objects this converter did not write; nothing was written or deleted."""

    def __init__(self, message: str, *, dest: str, foreign: list[str]):
        self.dest = dest
        self.foreign = foreign
        super().__init__(message)

    def to_json(self) -> dict:
        return {"error": type(self).__name__, "message": str(self), "dest": self.dest,
                "foreign": self.foreign[:SHOWN_FOREIGN], "foreign_count": len(self.foreign)}


def same_folder(a: str, b: str) -> bool:
    """``a`` and ``b`` name the same folder: equal ``s3://`` URLs, or equal absolute local paths."""
    if a.startswith("s3://") or b.startswith("s3://"):
        return a.rstrip("/") == b.rstrip("/")
    return os.path.abspath(a.removeprefix("file://")) == os.path.abspath(b.removeprefix("file://"))


def _record_of(text: str | None, dest: str) -> dict | None:
    """The record's JSON when it is one written for ``dest``; None when missing, unreadable or for another folder."""
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("dest"), str) or not same_folder(data["dest"], dest):
        return None
    return data


def owned_names(record: str | None, dest: str, listed: Iterable[str] = ()) -> frozenset[str]:
    """Names (relative to ``dest``) of the files a ``_manifest.json``/``_writing.json`` text records in ``dest``.

    Empty when the record is missing, unreadable, or written for another folder (e.g. a snapshot copied here).
    A recorded path counts only when it lies directly in ``dest``: nothing elsewhere is ever owned. A record's part
    rules (``parts``: :class:`PartNames`) own exactly the ``listed`` names (found in ``dest``) they match.
    """
    data = _record_of(record, dest)
    if data is None:
        return frozenset()
    prefix = data["dest"].rstrip("/") + "/"
    names = set()
    for entry in data.get("files") or ():
        path = entry.get("path") if isinstance(entry, dict) else entry
        if isinstance(path, str) and path.startswith(prefix) and path[len(prefix):] and "/" not in path[len(prefix):]:
            names.add(path[len(prefix):])
    parts = data.get("parts")
    rules = [rule for rule in map(PartNames.from_json, parts if isinstance(parts, list) else ()) if rule is not None]
    names.update(name for name in listed if any(rule.owns(name) for rule in rules))
    return frozenset(names)


def owned_by_records(dest: str, records: dict[str, str | None], listed: Iterable[str] = ()) -> frozenset[str]:
    """Every name the converter owns in ``dest``: the records written for ``dest`` and the files they name.

    :param records: the text of each record found in ``dest`` (``_manifest.json``, ``_writing.json``), None if absent.
    :param listed: every name found in ``dest`` (what a record's part rules are matched against).
    """
    listed = tuple(listed)
    owned: set[str] = set()
    for name, text in records.items():
        if name in RECORD_NAMES and _record_of(text, dest) is not None:
            owned |= owned_names(text, dest, listed) | {name}
    return frozenset(owned)


def foreign_names(listed: Iterable[str], owned: frozenset[str]) -> list[str]:
    """The listed names the converter does not own and did not leave to another ddb-lake step, sorted."""
    return sorted(set(listed) - owned - SIDECAR_NAMES)


def check_destination(dest: str, foreign: list[str], writes: Iterable[str], *, keep_foreign: bool,
                      parts: PartNames | None = None) -> None:
    """Raise :class:`DestinationNotOwnedError` unless writing ``writes`` (names) into ``dest`` touches nothing foreign.

    Without ``keep_foreign`` any foreign object refuses the folder; with it, only a foreign object of the same name
    as one to be written does (it would be overwritten), or one the part rule ``parts`` would claim.
    """
    if foreign and not keep_foreign:
        raise DestinationNotOwnedError(
            f"{dest} is not empty and holds {len(foreign)} object(s) that no earlier conversion to exactly this "
            f"folder wrote, e.g. {_some(foreign)}. Nothing was written or deleted. Fix: convert to an empty or new "
            "folder (e.g. one per snapshot), or keep them beside the new files with keep_foreign "
            "(--keep-foreign); they are never deleted.", dest=dest, foreign=foreign)
    clash = sorted((set(foreign) & set(writes)) | {name for name in foreign if parts is not None and parts.owns(name)})
    if clash:
        raise DestinationNotOwnedError(
            f"{dest} holds {_some(clash)}, which ddb-lake did not write there and would overwrite. Nothing was "
            "written or deleted. Fix: convert to an empty or new folder.", dest=dest, foreign=clash)


def is_attempt_folder(dest: str) -> bool:
    """``dest`` is a DAG convert try's folder: ``.../_attempts/snapshot=<stamp>/attempt=<id>``."""
    return attempt_of_folder(dest) is not None


def check_unpublished(dest: str, listed: Iterable[str], *, attempts_too: bool) -> None:
    """Raise :class:`DestinationNotOwnedError` when ``dest`` is a folder a table may read: rewriting it in place
    would change what readers see.

    Such a folder holds a publish marker (``_published.json``/``_superseded.json``: a current table read or reads
    it) or, with ``attempts_too``, it is a non-empty DAG attempt folder (a history partition may read it).
    """
    names = set(listed)
    why = next((f"holds {name} (a table was switched to it)" for name in (PUBLISHED_MARKER, SUPERSEDED_MARKER)
                if name in names), None)
    if why is None and attempts_too and names and is_attempt_folder(dest):
        why = "is a DAG convert try's attempt folder (a history partition may read it)"
    if why is not None:
        raise DestinationNotOwnedError(
            f"{dest} {why}: ddb-lake never rewrites a folder readers may use. Nothing was written or deleted. Fix: "
            "convert to an empty or new folder.", dest=dest, foreign=sorted(names))


def stale_names(owned: frozenset[str], written: Iterable[str]) -> list[str]:
    """Own files the new conversion did not write again, to delete once its manifest is in place (records excepted)."""
    return sorted(owned - set(written) - RECORD_NAMES - SIDECAR_NAMES)


def writing_record(dest: str, names: Iterable[str], parts: PartNames | None = None) -> str:
    """The ``_writing.json`` text: ``dest``, the URLs of the files this conversion may leave there, and the rule
    naming the parts it will write (``parts``: their names are not known before they are written)."""
    base = dest.rstrip("/")
    record: dict = {"dest": base, "files": [f"{base}/{name}" for name in sorted(set(names) - RECORD_NAMES)]}
    if parts is not None:
        record["parts"] = [parts.to_json()]
    return json.dumps(record, indent=2)


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_FOREIGN])
    return shown + (f" (and {len(names) - SHOWN_FOREIGN} more)" if len(names) > SHOWN_FOREIGN else "")
