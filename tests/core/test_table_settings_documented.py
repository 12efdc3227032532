"""Every field of the table YAML model is documented in docs/table-settings.md (as `dotted.name`)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import get_type_hints

from ddb_lake.core.config.table_config import TableConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


def dotted_fields(cls: type, prefix: str = "") -> list[str]:
    names: list[str] = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "source_path":
            continue
        nested = next((c for c in getattr(hints[f.name], "__args__", (hints[f.name],)) if dataclasses.is_dataclass(c)),
                      None)
        names += dotted_fields(nested, f"{prefix}{f.name}.") if nested else [prefix + f.name]
    return names


def test_every_setting_has_a_row_in_the_reference():
    text = (REPO_ROOT / "docs" / "table-settings.md").read_text()
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)*)`", text))
    fields = dotted_fields(TableConfig)
    assert len(fields) > 60 and "bigquery.dataset" in fields and "airflow.pool" in fields
    missing = [name for name in fields if name not in documented]
    assert missing == [], f"document these in docs/table-settings.md: {missing}"
