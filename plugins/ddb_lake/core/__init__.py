"""Pure conversion core: export reading, schema inference, Parquet writing, SQL and schema builders.

Imports no Airflow.
"""
