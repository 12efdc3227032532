"""Rules of the Iceberg current-state table: change reduction, the watermark chain, schema promotion, validation.

Pure: imports no Airflow and no catalog; the merge engine (``ddb_lake.hooks.iceberg_merge``) and the operators
apply these rules to a pyiceberg table. See docs/iceberg.md.
"""
