"""Generated items and windows of changes: inserts, updates (several per key in a window), deletes, re-inserts."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta
from typing import Any

from change_exports import ItemModel


def make_item(rng: random.Random, pk: str, sk: int, version: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": pk}, "sk": {"N": str(sk)},
        "name": {"S": f"{pk}-v{version} ✓"},
        "qty": {"N": str(rng.randint(-5, 10**12))},
        "price": {"N": f"{rng.randint(0, 99999)}.{rng.randint(0, 99):02d}"},
        "blob": {"B": base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randint(0, 6)))).decode()},
        "flag": {"BOOL": rng.random() < 0.5},
        "addr": {"M": {"city": {"S": rng.choice(["Köln", "Paris", "Lagos"])},
                       "zip": {"N": str(rng.randint(1, 99999))}}},
        "tags": {"L": [{"S": f"t{i}"} for i in range(rng.randint(0, 3))]},
    }
    if rng.random() < 0.3:
        item["note"] = {"NULL": True}
    if version > 0 and rng.random() < 0.3:
        item.pop("addr")  # an update may drop an attribute: the new image is the whole item
    return item


def seed_items(model: ItemModel, rng: random.Random, count: int, at: datetime) -> None:
    for i in range(count):
        model.put(make_item(rng, f"user#{i:04d}", i % 7, 0), at)
    model.take_lines()  # the bootstrap reads them from the full export, not as changes


def change_window(model: ItemModel, rng: random.Random, start: datetime, window: int, deleted: list[dict]) -> None:
    """About 60 changes in [start, start + 1 h): inserts, repeated updates, deletes, re-inserts of deleted keys."""
    clock = iter(start + timedelta(seconds=10 * i + 1) for i in range(300))
    for i in range(10):
        model.put(make_item(rng, f"new{window}#{i}", i, 0), next(clock))
    keys = sorted(model.items)
    for key in rng.sample(keys, 15):
        item = model.items[key]
        for version in range(1, rng.randint(2, 4)):  # one to three updates of the same key inside the window
            model.put(make_item(rng, item["pk"]["S"], int(item["sk"]["N"]), version), next(clock))
    for key in rng.sample(sorted(model.items), 6):
        keys_only = model.keys_of(model.items[key])
        model.delete(keys_only, next(clock))
        deleted.append(keys_only)
    if len(deleted) > 6:  # a key deleted in an earlier window comes back
        back = deleted.pop(0)
        model.put(make_item(rng, back["pk"]["S"], int(back["sk"]["N"]), 9), next(clock))
    doomed = model.keys_of(model.items[sorted(model.items)[0]])  # deleted and re-inserted inside this window
    model.delete(doomed, next(clock))
    model.put(make_item(rng, doomed["pk"]["S"], int(doomed["sk"]["N"]), 5), next(clock))
