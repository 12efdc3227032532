"""The S3 lake's rules: key layout, Glue tables, publish and completeness, retention, crawler, Athena SQL.

``layout`` (S3 keys), ``glue_table`` (Hive types, TableInput, schema widening, snapshot locations),
``catalog_tables`` (the two Glue tables per DynamoDB table), ``publish`` and ``snapshot_manifest`` (the publish
decision and the completeness check), ``retention``, ``crawler``, ``athena_sql`` / ``athena_query`` /
``sql_templates`` (statements, query outcomes, the ``include/sql`` templates), ``convert_summary``, ``errors``.
"""
