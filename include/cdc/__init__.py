"""ddb-lake's DynamoDB Streams change capture, deployed as a Lambda (docs/cdc.md).

Pure Python plus boto3 (present in every Lambda runtime): no Airflow, no ddb_lake import. ``stream_handler`` holds
the entry points, ``change_lines`` the lossless change-line format the merge reads.
"""
