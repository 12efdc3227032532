"""Where snapshots go besides the lake: one folder per destination."""
