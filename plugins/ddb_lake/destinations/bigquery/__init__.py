"""Google BigQuery: settings, schema mapping, load job, S3 -> GCS transfer, counts, and their hooks and operators.

Pure modules (no Airflow): ``config``, ``schema``, ``load_job``, ``count_sql``, ``transfer_job``, ``destination``
(the :class:`ddb_lake.destinations.Destination` the validator and the run report ask; its hook is built on use).
"""
