"""Write docs/table-settings.md's settings table and docs/table-settings.schema.json from the table YAML model.

    .venv/bin/python scripts/settings_reference.py          # rewrite both files
    .venv/bin/python scripts/settings_reference.py --check  # exit 1 when either is stale (tests do the same)

The model is ``ddb_lake.core.config.table_config`` (types, defaults, choices) plus ``settings_docs`` (what each key
does): add a setting there, then run this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "plugins"))

from ddb_lake.core.config.settings_reference import json_schema_text, with_reference  # noqa: E402

DOC = REPO_ROOT / "docs" / "table-settings.md"
SCHEMA = REPO_ROOT / "docs" / "table-settings.schema.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that both files are current")
    args = parser.parse_args()
    wanted = {DOC: with_reference(DOC.read_text(encoding="utf-8")), SCHEMA: json_schema_text()}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO_ROOT)} is stale: run python scripts/settings_reference.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
