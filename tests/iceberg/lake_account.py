"""A clean moto account for the Iceberg and CDC tests: boto3 clients on the session's moto, the lake bucket and the
Glue database (both conftests' ``aws`` fixture)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

BUCKET = "lake"
DATABASE = "lake_db"
REGION = "us-east-1"


@dataclass
class Aws:
    dynamodb: Any
    streams: Any
    s3: Any
    glue: Any


def lake_account(moto_url: str) -> Aws:
    """Clients on ``moto_url`` (a freshly reset account) with the lake bucket and the Glue database created."""
    options = {"endpoint_url": moto_url, "region_name": REGION, "aws_access_key_id": "testing",
               "aws_secret_access_key": "testing"}
    clients = Aws(*(boto3.client(name, **options) for name in ("dynamodb", "dynamodbstreams", "s3", "glue")))
    clients.s3.create_bucket(Bucket=BUCKET)
    clients.glue.create_database(DatabaseInput={"Name": DATABASE})
    return clients
