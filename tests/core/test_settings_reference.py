"""The YAML reference and the JSON Schema come from the model that validates table files, and agree with it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from ddb_lake.core.cli import main as cli_main
from ddb_lake.core.config.settings_docs import DEFAULT_SHOWN, FIELD_DOCS, SECTION_DOCS
from ddb_lake.core.config.settings_reference import json_schema, model_sections, model_settings
from ddb_lake.core.config.table_config import TableConfigError, load_table_config

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = sorted((REPO_ROOT / "include" / "tables").glob("*.yaml"))


def test_every_setting_and_section_has_its_text_and_every_text_its_setting():
    settings = [s.dotted for s in model_settings()]
    assert len(settings) > 80 and "bigquery.dataset" in settings and "export.scan.segments" in settings
    assert sorted(set(settings) - set(FIELD_DOCS)) == [], "add these to core/config/settings_docs.py FIELD_DOCS"
    assert sorted(set(FIELD_DOCS) - set(settings)) == [], "these FIELD_DOCS name no setting of the model"
    assert sorted(set(model_sections())) == sorted(SECTION_DOCS)
    assert set(DEFAULT_SHOWN) <= set(settings)


def test_the_generated_reference_and_schema_are_current():
    found = subprocess.run([sys.executable, "scripts/settings_reference.py", "--check"], cwd=REPO_ROOT,
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    doc = (REPO_ROOT / "docs" / "table-settings.md").read_text()
    assert "| `export.max_wait_minutes` | number | 240 |" in doc
    assert "| `bigquery.layout` | one of `partitioned`, `sharded`, `latest` | `partitioned` |" in doc


def test_the_cli_prints_the_schema(capsys):
    assert cli_main(["config-schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((REPO_ROOT / "docs" / "table-settings.schema.json").read_text())
    assert printed["properties"]["export"]["properties"]["mode"]["enum"] == ["full", "incremental", "both", "scan"]
    assert printed["required"] == ["dynamodb", "lake", "glue", "athena"]


def as_editor_reads(data: dict) -> dict:
    """YAML as an editor's language server reads it (YAML 1.2: a bare date is a string), as JSON values."""
    return json.loads(json.dumps(data, default=str))


@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_every_shipped_table_file_passes_both_the_schema_and_the_loader(path):
    load_table_config(path)
    jsonschema.validate(as_editor_reads(yaml.safe_load(path.read_text())), json_schema())


def _orders() -> dict:
    return yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())


def _with(data: dict, dotted: str, value) -> dict:
    changed = copy.deepcopy(data)
    *outer, last = dotted.split(".")
    node = changed
    for part in outer:
        node = node.setdefault(part, {})
    node[last] = value
    return changed


@pytest.mark.parametrize(("dotted", "value"), [
    ("export.mdoe", "full"),  # a typo of a key
    ("export.mode", "ful"),  # a value outside the choices
    ("export.poll_seconds", "30"),  # a number as text
    ("lake.allow_rollback", "yes"),  # not a boolean
    ("convert.spark_role_arn", ""),  # an empty string
    ("validation.key_columns", "pk"),  # a string where a list goes
    ("bigquery", {"dataset": "d", "gcs_bucket": "b"}),  # a required key of an optional section left out
])
def test_what_the_schema_refuses_the_loader_refuses_naming_the_same_field(tmp_path, dotted, value):
    data = _with(_orders(), dotted, value)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(as_editor_reads(data), json_schema())
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TableConfigError) as refused:
        load_table_config(path)
    assert refused.value.field_name.startswith(dotted.split(".")[0])
