"""The pure core (imports no Airflow), in rooms that name the product's parts.

- ``config``: a table's YAML settings.
- ``convert``: export reading (JSON, Ion), checks, unwrap, Parquet writing: the converter.
- ``schema``: the lake schema, its inference and the column naming rules.
- ``lake``: S3 layout, Glue table model, Athena SQL, retention rules.
- ``validation``: row counts, key checksums, the run report.
- ``errors``: the error taxonomy; ``cli``: ``ddb-lake convert``.
"""
