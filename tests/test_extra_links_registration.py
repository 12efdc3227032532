"""The operator extra links are registered both ways Airflow finds them: the provider info's ``extra-links`` (a wheel
install) and the ``ddb_lake`` plugin (a plugins-folder install, as MWAA's plugins.zip)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ddb_lake.links import EXTRA_LINKS

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(link.__name__ for link in EXTRA_LINKS)

PROBE = """
import json
from airflow import plugins_manager
from airflow.providers_manager import ProvidersManager
plugin = sorted(type(link).__name__ for link in plugins_manager.get_operator_extra_links())
provider = sorted(c.rsplit(".", 1)[1] for c in ProvidersManager().extra_links_class_names if c.startswith("ddb_lake."))
print("PROBE:" + json.dumps({"plugin": plugin, "provider": provider}))
"""


def test_plugin_folder_and_provider_info_register_every_link(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins")}
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300,
                            check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE:")]
    assert lines, result.stderr[-3000:]
    assert json.loads(lines[0][len("PROBE:"):]) == {"plugin": NAMES, "provider": NAMES}
    assert NAMES == ["AthenaQueryLink", "BigQueryJobLink", "BigQueryTableLink", "DynamoDBExportLink", "GlueTableLink",
                     "S3ExportFolderLink", "S3SnapshotLink"]
