"""number_stats (the value profile of N texts) gives exactly what a per-value Decimal reading gives."""

from __future__ import annotations

import re
from decimal import Decimal

import pyarrow as pa
import pytest

from ddb_lake.core.convert.ddb_profile import RawShapeError, number_stats

CASES = ["0", "-0", "007", "-007", "5", "-5", "123456789012345678", "9223372036854775807", "-9223372036854775808",
         "9223372036854775808", "12345678901234567890", "1.5", "-0.25", "00.50", "1234567890123456789012345678.0123",
         "1e5", "1E-5", "-6.02214076E+123", "1.0", ".5", "--5", "+5"]


def reference(texts: list[str]) -> dict:
    """One value at a time: the rules number_stats applies to whole columns."""
    all_int = all(re.fullmatch(r"-?[0-9]+", t) for t in texts)
    int_digits = scale = 0
    for text in texts:
        if "e" in text.lower():
            parts = Decimal(text).normalize().as_tuple()
            int_digits = max(int_digits, len(parts.digits) + parts.exponent)
            scale = max(scale, -parts.exponent)
            continue
        unsigned = text.lstrip("-").lstrip("0")
        whole, dot, fraction = unsigned.partition(".")
        int_digits = max(int_digits, len(whole))
        scale = max(scale, len(fraction) if dot else 0)
    fits = all_int and all(-2**63 <= int(t) < 2**63 for t in texts)
    return {"count": len(texts), "all_int": all_int, "fits_int64": fits, "int_digits": int_digits, "scale": scale}


@pytest.mark.parametrize("text", CASES)
def test_one_value(text):
    assert number_stats(pa.array([text, None])) == reference([text])


@pytest.mark.parametrize("texts", [["1", "-22", "007"], ["1", "2.50"], ["-1", "1e3"], ["9223372036854775807", "-1"],
                                   ["9223372036854775808", "1"], ["1", "--5"]])
def test_columns(texts):
    assert number_stats(pa.array(texts)) == reference(texts)


def test_exact_values():
    assert number_stats(pa.array(["-007", "12", None])) == {
        "count": 2, "all_int": True, "fits_int64": True, "int_digits": 2, "scale": 0}
    assert number_stats(pa.array(["-0.125", "1234.5"])) == {
        "count": 2, "all_int": False, "fits_int64": False, "int_digits": 4, "scale": 3}
    assert number_stats(pa.array([None], pa.string())) == {
        "count": 0, "all_int": True, "fits_int64": True, "int_digits": 0, "scale": 0}


def test_not_a_number_with_exponent():
    with pytest.raises(RawShapeError, match="is not a number"):
        number_stats(pa.array(["1e"]))
