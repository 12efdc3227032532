"""Google BigQuery: schema mapping, load job, S3 -> GCS transfer, counts, and their hooks and operators.

Pure modules (no Airflow): ``schema``, ``load_job``, ``transfer_job``.
"""
