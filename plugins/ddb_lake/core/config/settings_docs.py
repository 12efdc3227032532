"""What each table YAML setting does: the one text the reference table and the JSON Schema's descriptions share.

Types, defaults, required keys and choices come from the model itself (``table_config``); this module holds only
the prose. ``settings_reference`` joins the two into docs/table-settings.md's table and
docs/table-settings.schema.json; ``tests/core/test_settings_reference.py`` fails when a field of the model has no
text here, when a text names no field, or when either generated file is stale (``scripts/settings_reference.py``
writes them).
"""

from __future__ import annotations

SECTION_DOCS: dict[str, str] = {
    "dynamodb": "the source table",
    "export": "how the table is exported ([export-modes.md](export-modes.md))",
    "export.scan": "`export.mode: scan` only: the rate-limited parallel Scan ([export-modes.md]"
                   "(export-modes.md#settings-exportmode-scan))",
    "lake": "where the lake is written",
    "glue": "the Glue Data Catalog tables",
    "athena": "Athena's query results and partition repair",
    "convert": "the Parquet conversion ([conversion.md](conversion.md), [scaling.md](scaling.md))",
    "bigquery": "without this section the table is lake-only ([bigquery.md](bigquery.md))",
    "retention": "how long snapshots, raw exports and change files are kept",
    "validation": "how copies are proved equal",
    "connections": "Airflow connection ids",
    "iceberg": "`lake.format: iceberg` only ([iceberg.md](iceberg.md))",
    "cdc": "DynamoDB Streams change capture into the Iceberg table; needs `lake.format: iceberg`; the table then gets "
           "the DAG `ddb_lake__<name>__cdc` instead of the incremental one; with a `bigquery:` section "
           "(`layout: latest`) each run applies the same changes to BigQuery by a staged MERGE ([cdc.md](cdc.md))",
    "airflow": "where and how Airflow runs the table's tasks, and who hears of a failure",
}

FIELD_DOCS: dict[str, str] = {
    "name": "names the DAG (`ddb_lake__<name>`), the lake and Glue tables; `[a-z][a-z0-9_]*`",
    "dynamodb.table_name": "the DynamoDB table (point-in-time recovery must be on, except with `export.mode: scan`)",
    "dynamodb.region": "its region",
    "schedule": "cron of the full export (five fields or a preset); each run exports at its data interval's end",
    "start_date": "as in Airflow; a bare or quoted date (`2026-11-01`, `'2026-11-01'`) or an ISO date-time "
                  "(`'2026-11-01T06:00:00Z'`), read as UTC when it names no zone",
    "catchup": "as in Airflow: runs for the intervals since `start_date`",
    "export.mode": "`full` (snapshots), `incremental` (changes), `both` (two DAGs), `scan` (snapshots read by a "
                   "rate-limited parallel Scan: no PITR needed, not point-in-time; `export.scan.*`)",
    "export.view_type": "incremental exports: `NEW_AND_OLD_IMAGES` or `NEW_IMAGE`",
    "export.incremental_schedule": "cron of the incremental DAG: its runs must be 15 minutes to 24 hours apart "
                                   "(DynamoDB's incremental export limits), judged over a sample week",
    "export.check_recovery_window": "check the requested times against the PITR window before exporting",
    "export.poll_seconds": "how often the deferred wait asks for the export's status; the first ask comes one "
                           "interval after the task defers; >= 1",
    "export.max_wait_minutes": "how long the export task waits for the export before it fails with a timeout (a "
                               "retry reattaches to the same export); independent of `poll_seconds` "
                               "(`ceil(max_wait_minutes * 60 / poll_seconds)` polls); at least one poll",
    "export.scan.segments": "TotalSegments: parallel readers, each with an equal share of the read budget; 1..1000000",
    "export.scan.segment_groups": "Airflow tasks (mapped) that read the segments; 1: one task reads them all; "
                                  "1..segments",
    "export.scan.read_capacity_share": "provisioned tables: the share of the table's read capacity the scan "
                                       "spends; > 0 and <= 1",
    "export.scan.target_read_units_per_second": "on-demand tables: read units per second the scan spends at most "
                                                "(capped by the table's maximum); > 0",
    "export.scan.consistent_read": "strongly consistent reads (they cost twice the read units)",
    "export.scan.page_items": "Scan `Limit` per call; null: DynamoDB's 1 MB pages; >= 1",
    "export.scan.file_items": "items per data file; each finished file is a checkpoint a retry resumes after; >= 1",
    "export.scan.projection_expression": "ProjectionExpression: only these attributes (must include the key); a "
                                         "partial export",
    "export.scan.filter_expression": "FilterExpression: only matching items (every item read still costs read units)",
    "export.scan.expression_attribute_names": "names for the expressions, e.g. `{\"#s\": status}`",
    "export.scan.expression_attribute_values": "typed values for the expressions, e.g. `{\":s\": {S: PAID}}`",
    "lake.bucket": "where exports, snapshots and changes are written (a valid S3 bucket name)",
    "lake.prefix": "the key prefix of the table's folders in the bucket",
    "lake.format": "`parquet`: dated Parquet snapshots and a current table (API catalog, partition repair); "
                   "`iceberg`: one Iceberg table `<glue.table>` in the Glue catalog, bootstrapped from a full export "
                   "and kept current by merging every incremental export into it ([iceberg.md](iceberg.md)); needs "
                   "`export.mode: incremental`",
    "lake.allow_rollback": "publishing an older interval (a backfill) moves the current table back to it; by default "
                           "the newer snapshot stays current",
    "glue.database": "the Glue database",
    "glue.table": "the current table's name; history is `<table>_snapshots` / `<table>_changes`",
    "glue.catalog_mode": "`api` (ddb-lake writes tables and partitions); `crawler` is refused: a crawler cannot tell "
                         "which attempt folder of a snapshot to read ([lake-catalog.md]"
                         "(lake-catalog.md#catalog-modes-and-attempt-folders))",
    "glue.crawler_role": "IAM role of a crawler (only with `crawler`, which is refused; kept so a file that names it "
                         "gets the refusal's reason rather than an unknown key)",
    "glue.partition_projection": "`true` is refused: projection reads the fixed `snapshot=<stamp>/` folder, while "
                                 "each run writes an attempt folder ([lake-catalog.md]"
                                 "(lake-catalog.md#catalog-modes-and-attempt-folders))",
    "athena.output_location": "`s3://` URL for query results",
    "athena.workgroup": "the Athena workgroup queries run in",
    "athena.repair": "`add_partition`, `msck` or `none` (then Athena is not counted in validation)",
    "numbers": "`exact` (decimal/text, lossless) or `float` (float64, opt-in loss)",
    "columns": "pinned column types, by top-level DynamoDB attribute name: `{price: \"decimal(18,4)\", note: "
               "string}`. Types: `string`, `bool`, `binary`, `int64`, `decimal(p,s)` (p 1..38, s ≤ p), "
               "`decimal_text` (any number, exact text), `json` (any value as canonical DynamoDB JSON text). See "
               "[Pinned columns](#pinned-columns-columns)",
    "convert.target_file_mb": "size of each Parquet file written; >= 1",
    "convert.row_group_rows": "rows per Parquet row group (row groups are also bounded by bytes); >= 1",
    "convert.compression": "Parquet compression",
    "convert.workers": "parse processes; 0 means one per CPU of the cgroup CPU quota, capped by files and "
                       "`memory_mb` ([conversion.md](conversion.md#memory-workers-and-disk))",
    "convert.memory_mb": "memory budget of the conversion's process tree; caps the worker count; 0 or >= 512",
    "convert.work_dir": "local folder for staging files; needs about 1.6x the export's JSON free (checked before "
                        "parsing)",
    "convert.engine": "`auto` (the default when unset): the mapped tasks, with the slice count chosen at run time "
                      "from the export's gzip bytes (one slice up to 4 GiB, else ~2 GiB per slice, at most `slices`; "
                      "the plan task logs why) ([scaling.md](scaling.md#choosing-the-engine-auto)); `worker`: one "
                      "convert task; `mapped`: mapped tasks over slices of the data files, then one commit task; "
                      "`spark`: an EMR Serverless job; `lake.format: iceberg` takes only `worker` (its default)",
    "convert.slices": "`engine: mapped` / `spark`: slices (mapped tasks / Spark tasks); `auto`: the most slices; "
                      "1..1024",
    "convert.spark_application_id": "`engine: spark`: the EMR Serverless application",
    "convert.spark_role_arn": "`engine: spark`: the job runtime role (reads the export, writes the lake)",
    "convert.spark_code_url": "`engine: spark`: the `s3://` folder of `scripts/spark_package.py`'s output "
                              "([scaling.md](scaling.md#the-spark-engine-sparkconvert_jobpy-sparkjob_driverpy-"
                              "operatorsspark_convertpy))",
    "bigquery.project": "the Google Cloud project loaded into",
    "bigquery.dataset": "the dataset loaded into; it must exist (ddb-lake creates tables, never datasets) and may "
                        "hold only letters, digits and underscores",
    "bigquery.gcs_bucket": "the GCS bucket snapshots are staged in on their way to BigQuery (a valid GCS bucket name)",
    "bigquery.table": "the BigQuery table (letters, digits, underscores, dashes, spaces)",
    "bigquery.location": "the dataset's location; load and copy jobs run there",
    "bigquery.layout": "`partitioned` (one ingestion-time DAY partition per interval), `sharded` (one table per day) "
                       "or `latest` (one table holding only the newest snapshot); see [bigquery.md](bigquery.md)",
    "bigquery.transfer_method": "how snapshots reach GCS: `stream` (through the worker), `storage_transfer` (the "
                                "Storage Transfer Service copies), `auto`",
    "bigquery.partition_expiration_days": "days a partition is kept (`partitioned` layout); 0 never expires; >= 0",
    "bigquery.force_rerun": "load again even when this interval's load job already finished (also run conf "
                            "`{\"force_rerun\": true}`)",
    "bigquery.staging_days": "the staged copies under `gs://<gcs_bucket>/<lake table>/` are deleted this many days "
                             "after upload, by one GCS lifecycle rule (`matchesPrefix: [\"<lake table>/\"]`) the "
                             "`bigquery.staging_lifecycle` task writes every run; the bucket's other rules are kept; "
                             "null keeps staged copies; >= 1 when set. The GCS emulator stores the rule (tested in "
                             "`tests/bigquery/test_staging_lifecycle.py`) but does not apply it",
    "retention.grace_hours": "snapshots are kept this long after a newer one is published; > 0 and **at least the "
                             "longest query on the table**: a reader that planned before a publish keeps reading the "
                             "older snapshot's files for that long. With `lake.format: iceberg` it drives snapshot "
                             "expiry ([iceberg.md](iceberg.md#snapshot-expiry-coreicebergexpirypy-"
                             "hooksiceberg_maintenancepy))",
    "retention.keep_last": "snapshots kept whatever their age (the current one included); >= 1",
    "retention.raw_export_days": "S3 lifecycle rule written by the `lake.lifecycle` task: raw exports under "
                                 "`<prefix>/exports/<table>/` (and the export record beside them) expire after this "
                                 "many days (rule `ddb-lake-<table>-raw-exports`; the bucket's other rules are "
                                 "kept); null keeps them; >= 1 when set",
    "retention.changes_days": "S3 lifecycle rule: change files of incremental runs under `<prefix>/changes/<table>/` "
                              "expire after this many days (rule `ddb-lake-<table>-changes`); null keeps them; >= 1 "
                              "when set. Published snapshots are never expired by a rule (retention deletes them "
                              "after their grace)",
    "validation.tolerance": "allowed difference between exact counts; >= 0",
    "validation.key_columns": "columns whose key checksum must match between Parquet and each destination; "
                              "non-empty names, no duplicates",
    "connections.aws": "the Airflow connection for AWS",
    "connections.gcp": "the Airflow connection for Google Cloud",
    "iceberg.merge_engine": "who merges a window: `worker` (pyiceberg in the task), `athena` (Athena `MERGE INTO`, "
                            "results in `athena.output_location`, workgroup `athena.workgroup`) or `auto` (Athena "
                            "once the table holds `athena_min_rows` rows, as its last commit recorded) "
                            "([iceberg.md](iceberg.md#two-merge-engines-icebergmerge_engine))",
    "iceberg.athena_min_rows": "`merge_engine: auto` switches to Athena from this many rows on; >= 0",
    "iceberg.compact_every_runs": "the `compact` task rewrites the data files below `small_file_mb` MB or carrying "
                                  "delete files after every this many merges (0: never; >= 0), at most 1 GiB per "
                                  "run. The `remove_orphans` task deletes unreferenced files under the table's "
                                  "`data/` once older than `retention.grace_hours` ([iceberg.md]"
                                  "(iceberg.md#compaction-and-orphan-files))",
    "iceberg.small_file_mb": "data files below this size are compacted; >= 1",
    "iceberg.verify_full_every_runs": "every this many merged windows, the run also takes a native full export at the "
                                      "window's end and `validate` requires the table's row count to equal its exact "
                                      "item count (a mismatch fails terminally and the watermark stays); 0: never; "
                                      ">= 0",
    "cdc.schedule": "cron of the CDC DAG: every 1 to 5 minutes",
    "cdc.settle_seconds": "change files written in the last `settle_seconds` wait for the next run; > 0 and above the "
                          "handler's `CDC_MAX_WRITE_SECONDS` (default 30)",
    "cdc.cleanup_grace_hours": "merged change files are deleted this long after they were written; > 0",
    "owner": "the DAG's owner",
    "tags": "extra DAG tags (`ddb-lake` and the mode are always set)",
    "retries": "retries per task; >= 0; the deferrable `export` and `bigquery.load` tasks keep at least 1 (see "
               "[airflow-ui.md](airflow-ui.md#deferrable-tasks-and-the-triggerer))",
    "retry_delay_minutes": "the first retry's delay in minutes (then doubling, up to the larger of 8x the delay and "
                           "30 minutes); > 0",
    "task_timeout_minutes": "each task's `execution_timeout` in minutes; > 0",
    "airflow.pool": "the pool every task of the table runs in (create it first: `airflow pools set ddb_lake 4 "
                    "\"ddb-lake exports\"`; Airflow lists a task whose pool does not exist among the DAG warnings)",
    "airflow.queue": "the queue of every task (Celery / Kubernetes executors)",
    "airflow.priority_weight": "the tasks' priority when slots are short; >= 1",
    "airflow.email": "addresses mailed when a task fails (`email_on_failure`), using Airflow's `[smtp]` settings; "
                     "each must look like an address",
    "airflow.email_on_retry": "also mail on each retry",
    "airflow.on_failure_callback": "dotted path of a callable or a notifier instance (e.g. `my_alerts.notify_slack`, "
                                   "a module in the plugins folder or an installed package), called with the task's "
                                   "context; imported when the DAG file is parsed: a path that does not import makes "
                                   "the table's file invalid, naming the field",
    "airflow.on_retry_callback": "as `on_failure_callback`, called on each retry",
    "airflow.run_timeout_minutes": "a run still going after this fails (the DAG's `dagrun_timeout`); > 0",
}

# How a default is shown where the model's own value would mislead (e.g. an empty string meaning "derived").
DEFAULT_SHOWN: dict[str, str] = {
    "name": "the file's name",
    "glue.table": "`name`",
    "bigquery.table": "`name`",
    "convert.memory_mb": "0 (= 1024)",
    "convert.work_dir": "the system temp folder",
    "convert.engine": "`auto` (`worker` with `lake.format: iceberg`)",
    "airflow.pool": "Airflow's `default_pool`",
    "airflow.queue": "the executor's default",
    "airflow.run_timeout_minutes": "4x `task_timeout_minutes`",
}
