"""Fixtures of the Iceberg tests: a clean moto account with the lake bucket and Glue database; pyiceberg's Glue
catalog reached through the ``aws_default`` connection (warehouse in moto S3); item comparison helpers."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

BUCKET = "lake"
DATABASE = "lake_db"
REGION = "us-east-1"


@dataclass
class Aws:
    dynamodb: Any
    s3: Any
    glue: Any


@pytest.fixture
def aws(moto_reset: str) -> Aws:
    options = {"endpoint_url": moto_reset, "region_name": REGION, "aws_access_key_id": "testing",
               "aws_secret_access_key": "testing"}
    clients = Aws(*(boto3.client(name, **options) for name in ("dynamodb", "s3", "glue")))
    clients.s3.create_bucket(Bucket=BUCKET)
    clients.glue.create_database(DatabaseInput={"Name": DATABASE})
    return clients


@pytest.fixture
def catalog(aws: Aws) -> Any:
    from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook

    return IcebergCatalogHook(aws_conn_id="aws_default", region_name=REGION).get_catalog()
