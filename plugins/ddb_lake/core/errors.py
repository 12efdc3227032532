"""Typed errors of the export → Parquet core.

Every problem with the export's *content* (bad gzip, checksum, JSON, type tag, size, counts, a missing file) is an
:class:`ExportFormatError`: terminal, retrying will not help. Anything else that escapes the converter (network,
throttling, disk) is an ordinary ``OSError``/botocore error and may be retried by the caller.
"""

from __future__ import annotations


class ExportFormatError(Exception):
    """The export cannot be converted as it is; names the export, the file and the line where there is one."""

    reason = "bad export"

    def __init__(self, message: str, *, export_id: str | None = None, file: str | None = None, line: int | None = None):
        self.message = message
        self.export_id = export_id
        self.file = file
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.export_id:
            where.append(f"export {self.export_id}")
        if self.file:
            where.append(f"file {self.file}")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def located(self, *, export_id: str | None = None, file: str | None = None) -> ExportFormatError:
        """Fill in the export id / file when the raising code did not know them; returns self."""
        self.export_id = self.export_id or export_id
        self.file = self.file or file
        self.args = (self._render(),)
        return self

    def to_json(self) -> dict:
        return {"error": type(self).__name__, "message": self.message, "export_id": self.export_id,
                "file": self.file, "line": self.line}

    def __reduce__(self):  # keep keyword attributes across process pools
        return (_rebuild, (type(self), self.message, self.export_id, self.file, self.line))


def _rebuild(cls: type[ExportFormatError], message: str, export_id: str | None, file: str | None, line: int | None):
    return cls(message, export_id=export_id, file=file, line=line)


class TruncatedGzipError(ExportFormatError):
    """A data file's gzip stream ends early or is corrupt."""


class ChecksumMismatchError(ExportFormatError):
    """A data file's MD5 differs from the one in manifest-files.json."""


class ItemCountMismatchError(ExportFormatError):
    """A file or the whole export holds a different number of items than its manifest (or the caller) says."""


class MalformedLineError(ExportFormatError):
    """A line is not valid JSON or not the shape DynamoDB exports write."""


class UnknownTypeTagError(ExportFormatError):
    """A value carries a type tag other than S, N, B, BOOL, NULL, SS, NS, BS, L, M."""


class ItemTooLargeError(ExportFormatError):
    """An item is over DynamoDB's 400 KB item limit."""


class MissingDataFileError(ExportFormatError):
    """The manifest names a data file that is not there."""


class ManifestError(ExportFormatError):
    """The export folder or its manifests cannot be understood."""


class UnsupportedFormatError(ExportFormatError):
    """The export's output format cannot be read here (e.g. ION without the amazon.ion reader)."""
