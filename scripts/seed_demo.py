"""Create the demo's cloud resources on the local stack and fill the demo DynamoDB table.

    python scripts/seed_demo.py include/tables/orders.yaml [--items 3000]

Everything goes through Airflow connections (``aws_default``, ``google_cloud_default``), as the DAG does: a
DynamoDB table with point-in-time recovery and items of every DynamoDB type (38-digit numbers, sets, nested maps
and lists, binary, NULL, sparse and oddly named attributes), the lake bucket, and the GCS staging bucket plus the
BigQuery dataset when the table goes to BigQuery.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from ddb_lake.core.config.table_config import TableConfig, load_table_config

STATUSES = ["NEW", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"]


def demo_item(number: int, rng: random.Random) -> dict:
    """One order in DynamoDB's typed JSON; attributes vary from item to item as they do in real tables."""
    item: dict = {
        "pk": {"S": f"CUSTOMER#{number % 97:04d}"},
        "sk": {"S": f"ORDER#{number:08d}"},
        "orderId": {"N": str(number)},
        "amount": {"N": f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}"},
        "status": {"S": STATUSES[number % len(STATUSES)]},
        "paid": {"BOOL": number % 3 != 0},
        "createdAt": {"S": f"2026-11-{1 + number % 28:02d}T{number % 24:02d}:00:00Z"},
        "lines": {"L": [
            {"M": {"sku": {"S": f"SKU-{(number + i) % 500}"}, "qty": {"N": str(1 + i)},
                   "price": {"N": f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}"}}}
            for i in range(1 + number % 3)
        ]},
        "tags": {"SS": sorted({f"tag{number % 5}", f"tag{number % 7}", "all"})},
        "address": {"M": {"city": {"S": ["Lisboa", "Zürich", "東京", "São Paulo"][number % 4]},
                          "zip": {"S": f"{number % 100000:05d}"},
                          "geo": {"M": {"lat": {"N": "38.7223"}, "lon": {"N": "-9.1393"}}}}},
    }
    if number % 10 == 0:
        item["ledgerBalance"] = {"N": "12345678901234567890123456789.123456789"}  # 38 digits: NUMERIC(38, 9)
    if number % 11 == 0:
        item["giftNote"] = {"NULL": True}
    if number % 13 == 0:
        item["signature"] = {"B": bytes(range(number % 7, number % 7 + 16))}
    if number % 17 == 0:
        item["scores"] = {"NS": [str(number % 9), "2.5", "1E+3"]}
        item["blobs"] = {"BS": [b"\x00\x01", b"\xff"]}
    if number % 19 == 0:
        item["userId"] = {"S": f"u{number}"}
        item["userid"] = {"S": f"legacy-{number}"}
        item["Größe (cm)"] = {"N": str(150 + number % 50)}
    if number % 23 == 0:
        item["tiny"] = {"N": "1E-130"}
        item["huge"] = {"N": "9.9999999999999999999999999999999999999E+125"}
    return item


def create_table(dynamodb, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def put_items(dynamodb, name: str, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    batch: list[dict] = []
    for number in range(count):
        batch.append({"PutRequest": {"Item": demo_item(number, rng)}})
        if len(batch) == 25 or number == count - 1:
            pending = {name: batch}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            batch = []


def seed_aws(config: TableConfig, items: int) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    region = config.dynamodb.region
    dynamodb = AwsBaseHook(aws_conn_id=config.connections.aws, client_type="dynamodb", region_name=region).conn
    s3 = AwsBaseHook(aws_conn_id=config.connections.aws, client_type="s3", region_name=region).conn
    existing = dynamodb.list_tables()["TableNames"]
    if config.dynamodb.table_name not in existing:
        create_table(dynamodb, config.dynamodb.table_name)
        put_items(dynamodb, config.dynamodb.table_name, items)
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=config.lake.bucket, **where)  # outside us-east-1 S3 wants the region named
    print(f"DynamoDB table {config.dynamodb.table_name}: {items} items, PITR on; S3 bucket {config.lake.bucket}")


def seed_google(config: TableConfig) -> None:
    if config.bigquery is None:
        return
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    gcs = GCSHook(gcp_conn_id=config.connections.gcp)
    if not gcs.get_conn().bucket(config.bigquery.gcs_bucket).exists():
        gcs.create_bucket(bucket_name=config.bigquery.gcs_bucket, project_id=config.bigquery.project)
    from google.cloud import bigquery

    # ddb-lake never creates datasets (a misspelt bigquery.dataset must fail, not load into a new one): the demo does.
    client = BigQueryHook(gcp_conn_id=config.connections.gcp).get_client(project_id=config.bigquery.project)
    dataset = f"{config.bigquery.project}.{config.bigquery.dataset}"
    spec = bigquery.Dataset(dataset)
    spec.location = config.bigquery.location
    client.create_dataset(spec, exists_ok=True)
    print(f"GCS bucket {config.bigquery.gcs_bucket}; BigQuery dataset {dataset}")


def demo_copy(table_file: Path, folder: Path) -> Path:
    """The table file copied into ``folder`` with the stand-ins' export settings (``check_recovery_window`` off:
    moto's PITR window starts at seeding, after the run's export time; ``poll_seconds`` 2: moto exports at once)."""
    settings = yaml.safe_load(table_file.read_text(encoding="utf-8"))
    settings.setdefault("export", {}).update(check_recovery_window=False, poll_seconds=2)
    target = folder / table_file.name
    target.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    load_table_config(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("table_file", type=Path)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--demo-copy", type=Path, metavar="FOLDER",
                        help="only write the demo's copy of table_file into FOLDER and print its path")
    args = parser.parse_args(argv)
    if args.demo_copy:
        print(demo_copy(args.table_file, args.demo_copy))
        return 0
    config = load_table_config(args.table_file)
    started = time.monotonic()
    seed_aws(config, args.items)
    seed_google(config)
    print(f"seeded in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

