"""The converter on Spark (``convert.engine: spark``): a job script run by EMR Serverless or ``spark-submit``."""
