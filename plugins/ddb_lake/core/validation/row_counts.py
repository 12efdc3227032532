"""Row counts of one snapshot in every copy, compared; plus the key checksum and the Parquet footer reader.

Each copy reports a :class:`CountSource`. Exact sources (the export's item count, Parquet footers, Athena, each
destination's loaded copy) must all agree with the reference within ``tolerance``; approximate ones (DescribeTable's
``ItemCount``, refreshed about every six hours) are shown with their delta but never fail the check.

The key checksum is a contract between the lake and each destination: :func:`key_text` and :func:`key_hash` say how
one row's key is hashed, and a destination computes the same sum in its own SQL (BigQuery's is in
``ddb_lake.destinations.bigquery.count_sql``).
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.schema.lake_schema import LakeSchema

PARQUET_MAGIC = b"PAR1"
KEY_SEPARATOR = "|"
KEY_HASH_HEX_DIGITS = 8
"""Each key contributes the first 8 hex digits of its MD5 (a 32-bit number), so a sum over 2**31 rows fits INT64."""


@dataclass(frozen=True)
class CountSource:
    """One copy's row count: ``exact`` ones gate the check, approximate ones are only reported."""

    source: str
    count: int | None
    exact: bool = True
    note: str = ""


@dataclass(frozen=True)
class CountRow:
    source: str
    count: int | None
    delta: int | None
    exact: bool
    status: str
    note: str = ""


@dataclass(frozen=True)
class CountReport:
    """The compared counts of one snapshot: rows for the table, whether they agree, and what does not."""

    table: str
    snapshot: str
    reference: str
    tolerance: int
    rows: tuple[CountRow, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        """A fixed-width table a person reads at a glance (source, count, delta vs the reference, status)."""
        header = ("source", "count", f"delta vs {self.reference}", "status", "note")
        lines = [header] + [
            (r.source, _fmt(r.count), _fmt_delta(r.delta), r.status, r.note) for r in self.rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
        out = [f"Row counts of {self.table} snapshot {self.snapshot} (tolerance {self.tolerance}):"]
        for i, line in enumerate(lines):
            cells = [line[0].ljust(widths[0]), *(line[c].rjust(widths[c]) for c in (1, 2)), line[3].ljust(widths[3])]
            out.append(("  " + "  ".join(cells) + (f"  {line[4]}" if line[4] else "")).rstrip())
            if i == 0:
                out.append("  " + "  ".join("-" * w for w in widths))
        out.append("RESULT: " + ("all exact counts agree" if self.ok else "; ".join(self.problems)))
        return "\n".join(out)

    def headline(self) -> str:
        """One line for the run's page: ``3,000 rows, 5 sources agree`` or what disagrees."""
        exact = [r for r in self.rows if r.exact]
        reference = next(r for r in exact if r.source == self.reference)
        if self.ok:
            return f"{_fmt(reference.count)} rows, {len(exact)} sources agree"
        bad = [r for r in exact if r.status != "ok"]
        return (f"{_fmt(reference.count)} rows in {self.reference}; {len(bad)} of {len(exact)} sources disagree: "
                + ", ".join(f"{r.source} {_fmt(r.count)}" for r in bad))

    def to_xcom(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "snapshot": self.snapshot,
            "reference": self.reference,
            "tolerance": self.tolerance,
            "ok": self.ok,
            "rows": [asdict(r) for r in self.rows],
            "problems": list(self.problems),
        }


def compare_counts(
    sources: Sequence[CountSource], *, table: str, snapshot: str, reference: str | None = None, tolerance: int = 0
) -> CountReport:
    """Compare every count with the reference (the first exact source unless named); exact misses become problems."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    exact = [s for s in sources if s.exact]
    if not exact:
        raise ValueError(f"{table} snapshot {snapshot}: no exact row count to compare")
    ref = next((s for s in exact if s.source == reference), None) if reference else exact[0]
    if ref is None:
        raise ValueError(f"reference {reference!r} is not an exact source; sources are {[s.source for s in exact]}")
    problems: list[str] = []
    rows: list[CountRow] = []
    for src in sources:
        delta = None if src.count is None or ref.count is None else src.count - ref.count
        if src.count is None:
            status = "MISSING" if src.exact else "n/a"
        elif not src.exact:
            status = "info"
        else:
            status = "ok" if delta is not None and abs(delta) <= tolerance else "MISMATCH"
        if src.exact and status != "ok":
            shown = "no count" if src.count is None else f"{src.count} ({delta:+d})"
            problems.append(f"{src.source} has {shown} vs {ref.source} {_fmt(ref.count)}")
        rows.append(CountRow(src.source, src.count, delta, src.exact, status, src.note))
    return CountReport(table, snapshot, ref.source, tolerance, tuple(rows), tuple(problems))


def key_part_text(value: Any) -> str:
    """One key value's text, the same for every lake type a DynamoDB key takes.

    string and decimal_text (exact number text): the text itself; int64: its digits; decimal(p, s): plain digits,
    no exponent, trailing fractional zeros and a bare point dropped (``1.50`` → ``1.5``, ``100.0`` → ``100``, zero
    → ``0``), as BigQuery's ``CAST(NUMERIC AS STRING)`` writes it; binary: lower-case hex; null: empty.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    return str(value)


def decimal_text(value: Decimal) -> str:
    """``value`` as plain decimal digits without trailing fractional zeros (``Decimal("1.50")`` → ``"1.5"``)."""
    if value == 0:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def key_text(values: Sequence[Any]) -> str:
    """The text of one row's key, ``|``-joined: what ``count_sql.key_checksum_sql`` builds in BigQuery."""
    return KEY_SEPARATOR.join(key_part_text(value) for value in values)


def key_hash(values: Sequence[Any]) -> int:
    return int(hashlib.md5(key_text(values).encode()).hexdigest()[:KEY_HASH_HEX_DIGITS], 16)


def key_checksum_of_batches(batches: Iterable[pa.RecordBatch], key_columns: Sequence[str]) -> tuple[int, int]:
    """(rows, sum of key hashes) over record batches holding the key columns."""
    rows = total = 0
    for batch in batches:
        columns = [batch.column(batch.schema.get_field_index(k)).to_pylist() for k in key_columns]
        for values in zip(*columns, strict=True):
            total += key_hash(values)
            rows += 1
    return rows, total


def parquet_footer_length(tail: bytes) -> int:
    """Length of the footer (Thrift metadata) from the last 8 bytes of a Parquet file."""
    if len(tail) < 8 or tail[-4:] != PARQUET_MAGIC:
        raise ValueError("not a Parquet file: the last 4 bytes are not 'PAR1'")
    return struct.unpack("<I", tail[-8:-4])[0]


def parquet_metadata_from_tail(tail: bytes) -> pq.FileMetaData:
    """The file metadata from a Parquet file's last bytes (at least footer length + 8), without the data pages."""
    needed = parquet_footer_length(tail) + 8
    if len(tail) < needed:
        raise ValueError(f"need the last {needed} bytes of the file to read its footer, got {len(tail)}")
    return pq.read_metadata(io.BytesIO(PARQUET_MAGIC + tail[-needed:]))


def _fmt(count: int | None) -> str:
    return "-" if count is None else f"{count:,}"


def _fmt_delta(delta: int | None) -> str:
    return "-" if delta is None else f"{delta:+,d}"


def require_key_columns(key_columns: Sequence[str], schema: LakeSchema) -> None:
    """Raise :class:`ConfigError` naming the key columns the snapshot does not have."""
    names = [f.name for f in schema.fields]
    missing = [k for k in key_columns if k not in names]
    if missing:
        raise ConfigError(f"key column(s) {missing} are not in the snapshot; columns: {sorted(names)}")


def compare_key_checksums(
    key_columns: Sequence[str], parquet: tuple[int, int], copies: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    """The key checksum verdict: each copy's (rows, sum of key hashes) against the Parquet files'.

    Returns ``{"columns", "parquet", <copy name>: sum, ..., "ok", "message"}``; ``ok`` only when every copy has the
    same rows and the same sum as the Parquet files.
    """
    parquet_rows, parquet_sum = parquet
    ok = all(copy == (parquet_rows, parquet_sum) for copy in copies.values())
    shown = [f"parquet {parquet_sum} ({parquet_rows} rows)"]
    shown += [f"{name} {total} ({rows} rows)" for name, (rows, total) in copies.items()]
    message = f"key checksum over ({', '.join(key_columns)}): {', '.join(shown)}: {'match' if ok else 'DIFFER'}"
    sums = {name: total for name, (_, total) in copies.items()}
    return {"columns": list(key_columns), "parquet": parquet_sum, **sums, "ok": ok, "message": message}
