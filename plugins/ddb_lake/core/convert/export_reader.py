"""Stream one gzipped export data file as line-aligned chunks of JSON, checking MD5, gzip integrity and item size.

Nothing here holds a whole file: the compressed stream is read in blocks, hashed as it goes, and decompressed into
chunks of about ``chunk_bytes`` that always end at a line boundary.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from ddb_lake.core.convert.fast_json import line_lengths
from ddb_lake.core.convert.item_validation import dynamodb_item_size
from ddb_lake.core.errors import ChecksumMismatchError, ItemTooLargeError, TruncatedGzipError

try:  # ISA-L's inflate: zlib's API and gzip checks, about 3x faster (the converter's gunzip; ``isal`` on PyPI)
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - isal is in requirements.txt; zlib is the same, only slower
    _inflate = zlib
_INFLATE_ERRORS = (zlib.error, _inflate.error)

MAX_ITEM_BYTES = 400 * 1024
NO_SIZE_CHECK = 1 << 62  # max_item_bytes for lines that are not DynamoDB JSON (ION: checked after conversion)
READ_BLOCK = 1 << 20


@dataclass
class JsonChunk:
    """Complete JSON lines; ``first_line`` is the 1-based number of the first line in the data file."""

    data: bytes
    first_line: int
    lines: int
    max_line: int = 0


class _HashingReader:
    """Reads a binary stream in blocks and keeps an MD5 of everything read."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.md5 = hashlib.md5()
        self.bytes_read = 0

    def read(self, size: int) -> bytes:
        block = self.stream.read(size)
        self.md5.update(block)
        self.bytes_read += len(block)
        return block


def _gunzip_blocks(reader: _HashingReader, file: str) -> Iterator[bytes]:
    """Decompress a (possibly multi-member) gzip stream block by block; raise on truncation or corruption."""
    inflater = _inflate.decompressobj(wbits=31)
    saw_input = False
    while True:
        block = reader.read(READ_BLOCK)
        if not block:
            break
        saw_input = True
        while block:
            try:
                out = inflater.decompress(block)
            except _INFLATE_ERRORS as err:
                raise TruncatedGzipError(f"gzip data is corrupt: {err}", file=file) from err
            if out:
                yield out
            if inflater.eof:
                block = inflater.unused_data
                inflater = _inflate.decompressobj(wbits=31)
                if not block:
                    saw_input = False  # a clean member end; more members may follow
            else:
                block = b""
    if saw_input and not inflater.eof:
        raise TruncatedGzipError("gzip stream ends before its end-of-stream marker (file truncated?)", file=file)


def iter_json_chunks(stream: IO[bytes], *, file: str, md5_hex: str | None = None, chunk_bytes: int = 32 << 20,
                     max_item_bytes: int = MAX_ITEM_BYTES, stats: dict | None = None) -> Iterator[JsonChunk]:
    """Yield line-aligned chunks of the decompressed file; verify MD5 at the end (before the last chunk is yielded).

    ``stats`` (if given) receives ``bytes_in`` and ``bytes_uncompressed``.
    """
    reader = _HashingReader(stream)
    pending: list[bytes] = []  # decompressed blocks not yet in a chunk (joined once per chunk: no regrowing buffer)
    pending_bytes = 0
    line_no = 1
    uncompressed = 0
    held: JsonChunk | None = None
    for block in _gunzip_blocks(reader, file):
        uncompressed += len(block)
        pending.append(block)
        pending_bytes += len(block)
        if pending_bytes < chunk_bytes:
            continue
        data, rest = _cut_at_last_newline(pending)
        if not data:
            _check_sizes(b"".join(pending), line_no, file, max_item_bytes)  # one line longer than a chunk
            continue
        pending, pending_bytes = ([rest], len(rest)) if rest else ([], 0)
        if held is not None:
            yield held
        held = make_chunk(data, line_no, file, max_item_bytes)
        line_no += held.lines
    tail = b"".join(pending)
    if tail and not tail.isspace():
        data = tail if tail.endswith(b"\n") else tail + b"\n"
        if held is not None:
            yield held
        held = make_chunk(data, line_no, file, max_item_bytes)
    if md5_hex is not None and reader.md5.hexdigest() != md5_hex.lower():
        raise ChecksumMismatchError(
            f"MD5 of the file is {reader.md5.hexdigest()} but manifest-files.json says {md5_hex}", file=file)
    if stats is not None:
        stats["bytes_in"] = reader.bytes_read
        stats["bytes_uncompressed"] = uncompressed
    if held is not None:
        yield held


def _cut_at_last_newline(blocks: list[bytes]) -> tuple[bytes, bytes]:
    """``blocks`` joined up to and including the last newline, and what follows it."""
    for index in range(len(blocks) - 1, -1, -1):
        cut = blocks[index].rfind(b"\n") + 1
        if cut:
            head = [*blocks[:index], blocks[index][:cut]] if cut < len(blocks[index]) else blocks[:index + 1]
            return b"".join(head), blocks[index][cut:] + b"".join(blocks[index + 1:])
    return b"", b""


def make_chunk(data: bytes, first_line: int, file: str, max_item_bytes: int) -> JsonChunk:
    """A chunk of complete lines, with every line over ``max_item_bytes`` given DynamoDB's exact item size check."""
    lines, max_line = _check_sizes(data, first_line, file, max_item_bytes)
    return JsonChunk(data=data, first_line=first_line, lines=lines, max_line=max_line)


def _check_sizes(data: bytes, first_line: int, file: str, max_item_bytes: int) -> tuple[int, int]:
    """Count lines; any line whose JSON is over the limit gets an exact DynamoDB size check (JSON >= item size)."""
    lines, longest, long_lines = line_lengths(data, max_item_bytes)
    for index, start, length in long_lines:
        size = dynamodb_item_size(data[start:start + length], file=file, line=first_line + index)
        if size > max_item_bytes:
            raise ItemTooLargeError(f"item is {size} bytes, over DynamoDB's {max_item_bytes}-byte item limit",
                                    file=file, line=first_line + index)
    return lines, longest
