"""The S3 lake: key layout, Glue table model, Athena SQL and snapshot retention rules."""
