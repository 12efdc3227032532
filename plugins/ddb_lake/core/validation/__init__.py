"""Proving a copy: row counts of every copy compared, key checksums, and the run report."""
