"""A table's settings: the YAML file per table, validated strictly."""
