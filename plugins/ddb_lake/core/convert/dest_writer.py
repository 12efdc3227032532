"""A conversion's writes into its destination folder: claim it, place each part as it closes, commit, or withdraw.

1. :meth:`DestinationWriter.claim` (once the schema and the write groups are known, before the first part): the folder
   is checked again (``dest_ownership``) and ``_writing.json`` names every file the conversion may leave there: the
   files it owned before, by exact name, and its parts by their rule (:class:`PartNames`).
2. :func:`place_part` (in the process that closed the part: a pool worker or the converting process): the part goes
   to the destination under its final name (an S3 upload, or a rename from a folder beside a local destination), and
   the local file is deleted. Local disk thus holds one open part per process, not the whole output.
3. :meth:`DestinationWriter.commit`: ``_manifest.json`` (what makes the copy complete; readers read only what it
   lists), then the own files it no longer lists, then ``_writing.json``.
   :meth:`DestinationWriter.withdraw` (the conversion failed): its parts are deleted again, best effort; a conversion
   killed before either leaves ``_writing.json``, so the next one owns (and replaces) what it left.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ddb_lake.core.convert.dest_ownership import (
    MANIFEST_NAME,
    RECORD_NAMES,
    WRITING_NAME,
    PartNames,
    check_destination,
    foreign_names,
    owned_by_records,
    stale_names,
    writing_record,
)
from ddb_lake.core.convert.storage import Storage, is_s3, join_url, local_path

log = logging.getLogger(__name__)


def ownership(dest: str, storage: Storage) -> tuple[list[str], frozenset[str]]:
    """(every name under ``dest``, the names this converter owns there)."""
    listed = storage.list_names(dest)
    records = {name: storage.read_text(join_url(dest, name)) for name in RECORD_NAMES if name in listed}
    return listed, owned_by_records(dest, records, listed)


def part_folder(work: Path, dest: str) -> Path:
    """Where parts are written before they are placed: ``work/out`` for S3; beside a local ``dest`` (same file
    system, so that each part lands there by one rename: a reader never sees half a file)."""
    if is_s3(dest):
        folder = work / "out"
    else:
        target = Path(os.path.abspath(local_path(dest)))
        folder = target.with_name(f".{target.name}.staging-{uuid.uuid4().hex[:8]}")
    folder.mkdir(parents=True)
    return folder


class OwnerGoneError(RuntimeError):
    """The converting process ended while a pool worker still wrote: its part is not placed."""


def place_part(storage: Storage, local: Path, url: str, owner_pid: int | None = None) -> None:
    """Place the closed part ``local`` at ``url`` (upload or rename), then delete ``local``.

    :param owner_pid: the converting process; when it has ended (killed), the part is not placed (its claim may
        already be another conversion's).
    """
    if owner_pid is not None and owner_pid != os.getpid() and not _alive(owner_pid):
        local.unlink(missing_ok=True)
        raise OwnerGoneError(f"the converting process {owner_pid} ended; {local.name} was not placed at {url}")
    try:
        storage.put(local, url)  # S3: upload_file (the client's retries); local: one rename
    except Exception as error:
        error.add_note(f"ddb-lake: placing Parquet part {local.name} at {url} failed")
        raise
    local.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process took the id: ours is gone
        return False
    return True


@dataclass
class DestinationWriter:
    """The destination side of one conversion into ``dest``; ``work`` is the conversion's private work folder."""

    dest: str
    storage: Storage
    work: Path
    keep_foreign: bool = False
    owned: frozenset[str] = frozenset()
    parts: PartNames | None = None
    staging: Path | None = None  # where parts are written before they are placed (see :func:`part_folder`)
    _writing_before: bool = field(default=False, repr=False)

    def claim(self, groups: int) -> PartNames:
        """Check ``dest`` again and write ``_writing.json``; return the rule the parts of ``groups`` groups follow."""
        self.staging = part_folder(self.work, self.dest)
        listed, owned = ownership(self.dest, self.storage)
        parts = PartNames.new(max(groups, 1))
        check_destination(self.dest, foreign_names(listed, owned), RECORD_NAMES, keep_foreign=self.keep_foreign,
                          parts=parts)
        self._put_text(WRITING_NAME, writing_record(self.dest, owned, parts))
        self.owned, self.parts, self._writing_before = owned, parts, WRITING_NAME in listed
        return parts

    def url(self, name: str) -> str:
        return join_url(self.dest, name)

    def commit(self, summary: dict) -> list[str]:
        """Write ``_manifest.json``, delete own files it does not list, then ``_writing.json``; return those deleted."""
        names = [f["path"].rsplit("/", 1)[1] for f in summary["files"]]
        self._put_text(MANIFEST_NAME, json.dumps(summary, indent=2, sort_keys=True))
        stale = stale_names(self.owned, names)
        self.storage.delete([self.url(name) for name in stale])
        self.storage.delete([self.url(WRITING_NAME)])
        return stale

    def withdraw(self) -> None:
        """After a failure: delete the parts this conversion placed (and its ``_writing.json`` if it made the only one).

        Best effort: what cannot be deleted stays owned through ``_writing.json``, for the next conversion to replace.
        """
        if self.parts is None:
            return
        try:
            placed = [name for name in self.storage.list_names(self.dest) if self.parts.owns(name)]
            self.storage.delete([self.url(name) for name in placed])
            if not self._writing_before:
                self.storage.delete([self.url(WRITING_NAME)])
        except Exception:  # the conversion's own error is the one to raise
            log.warning("could not delete the parts of a failed conversion in %s; _writing.json keeps them owned by "
                        "the next conversion", self.dest, exc_info=True)

    def close(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> DestinationWriter:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        """Withdraw the placed parts when the block failed (any exception, an interrupt too); drop the staging."""
        try:
            if error_type is not None:
                self.withdraw()
        finally:
            self.close()

    def _put_text(self, name: str, text: str) -> None:
        assert self.staging is not None, "claim() first"
        path = self.staging / name
        path.write_text(text)
        self.storage.put(path, self.url(name))
        path.unlink(missing_ok=True)
