"""Export rules: export types, the interval each run exports, ClientTokens, PITR and failure classification."""
