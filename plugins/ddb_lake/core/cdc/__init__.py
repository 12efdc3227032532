"""Change data capture from DynamoDB Streams: the merge side's rules (change files, reduction, gap healing)."""
