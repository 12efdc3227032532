"""The Airflow plugin of a plugins-folder install (MWAA ``plugins.zip``, a copied ``plugins/ddb_lake``): registers the
operator extra links. Airflow imports every ``.py`` of its plugins folder and picks up this class; a wheel install
registers the same links through the provider info's ``extra-links`` instead.
"""

from __future__ import annotations

from ddb_lake.compat import AirflowPlugin
from ddb_lake.links import EXTRA_LINKS


class DdbLakePlugin(AirflowPlugin):
    name = "ddb_lake"
    operator_extra_links = [link() for link in EXTRA_LINKS]
