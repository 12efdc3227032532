"""Fixtures of the Iceberg tests: a clean moto account with the lake bucket and Glue database; pyiceberg's Glue
catalog reached through the ``aws_default`` connection (warehouse in moto S3); item comparison helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from lake_account import BUCKET, DATABASE, REGION, Aws, lake_account  # noqa: F401 (tests import them from here)


@pytest.fixture
def aws(moto_reset: str) -> Aws:
    return lake_account(moto_reset)


@pytest.fixture
def catalog(aws: Aws) -> Any:
    from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook

    return IcebergCatalogHook(aws_conn_id="aws_default", region_name=REGION).get_catalog()
