"""The Athena statements' ``.sql`` templates (``include/sql/``): where they are found, and rendering them.

The templates quote through :data:`ddb_lake.core.lake.athena_sql.SQL_FILTERS`, so each renders to exactly what the
matching builder in ``athena_sql`` returns. Where the folder is, per deployment (first found wins):

- ``$DDB_LAKE_SQL_DIR`` when set;
- ``<dags>/../include/sql``: the repository, the Docker image and docker-compose (``/opt/airflow/include/sql``);
- ``<dags>/sql``: the MWAA and Composer bundles, which carry only the DAGs folder.

jinja2 only, no Airflow: the operator hands in its DAG's environment and folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from ddb_lake.core.lake.athena_sql import SQL_FILTERS
from ddb_lake.core.lake.errors import LakeConfigError

SQL_DIR_ENV = "DDB_LAKE_SQL_DIR"
MODE_TEMPLATES = {"add_partition": "add_snapshot_partition.sql", "msck_repair": "msck_repair_table.sql"}
MODES = tuple(MODE_TEMPLATES)
COUNT_TEMPLATE = "count_snapshot_rows.sql"


def sql_template_dirs(dags_folder: str | None, configured: str | None = None) -> list[str]:
    """The folders searched for the templates: ``configured`` (``$DDB_LAKE_SQL_DIR``), then beside the DAGs."""
    dirs = [configured] if configured else []
    if dags_folder:
        dags = Path(dags_folder)
        dirs += [str(dags.parent / "include" / "sql"), str(dags / "sql")]
    return dirs


def with_sql_templates(env: jinja2.Environment, dirs: list[str]) -> jinja2.Environment:
    """``env`` with the ``athena_*`` quoting filters, finding templates in its own search path first, then ``dirs``."""
    env.filters.update(SQL_FILTERS)
    lake_loader = jinja2.FileSystemLoader(dirs)
    env.loader = jinja2.ChoiceLoader([env.loader, lake_loader]) if env.loader else lake_loader
    return env


def render_sql_template(env: jinja2.Environment, name: str, dirs: list[str], **values: Any) -> str:
    """Render template ``name`` found through ``env`` with ``values``; a missing file names the folders searched."""
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound:
        raise LakeConfigError(
            f"SQL template {name} not found in the DAG's template_searchpath nor in {dirs}: ship include/sql/ "
            f"beside the DAGs folder (<dags>/../include/sql or <dags>/sql) or set ${SQL_DIR_ENV} to it"
        ) from None
    return template.render(**values).strip()
