"""Fixtures of the CDC tests: a clean moto account (DynamoDB with Streams, S3, Glue) with the lake bucket and the
Glue database; the handler (``include/cdc``), the stream driver (``scripts``) and the Iceberg tests' helpers
importable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "include", ROOT / "scripts", ROOT / "tests" / "iceberg", ROOT / "tests" / "core"):
    sys.path.insert(0, str(folder))

from lake_account import BUCKET, DATABASE, REGION, Aws, lake_account  # noqa: E402, F401 (tests import them from here)


@pytest.fixture
def aws(moto_reset: str) -> Aws:
    return lake_account(moto_reset)
