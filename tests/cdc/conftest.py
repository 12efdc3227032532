"""Fixtures of the CDC tests: a clean moto account (DynamoDB with Streams, S3, Glue) with the lake bucket and the
Glue database; the handler (``include/cdc``), the stream driver (``scripts``) and the Iceberg tests' helpers
importable."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "include", ROOT / "scripts", ROOT / "tests" / "iceberg", ROOT / "tests" / "core"):
    sys.path.insert(0, str(folder))

BUCKET = "lake"
DATABASE = "lake_db"
REGION = "us-east-1"


@dataclass
class Aws:
    dynamodb: Any
    streams: Any
    s3: Any
    glue: Any


@pytest.fixture
def aws(moto_reset: str) -> Aws:
    options = {"endpoint_url": moto_reset, "region_name": REGION, "aws_access_key_id": "testing",
               "aws_secret_access_key": "testing"}
    clients = Aws(*(boto3.client(name, **options) for name in ("dynamodb", "dynamodbstreams", "s3", "glue")))
    clients.s3.create_bucket(Bucket=BUCKET)
    clients.glue.create_database(DatabaseInput={"Name": DATABASE})
    return clients
