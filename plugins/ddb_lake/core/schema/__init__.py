"""The lake schema (typed columns of a table), its inference from values and the column naming rules."""
