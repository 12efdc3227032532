"""Reading a DynamoDB export (JSON or Ion) and writing it as typed Parquet: the converter and its parts."""
