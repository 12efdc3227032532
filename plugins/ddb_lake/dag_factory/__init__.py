"""Build one Airflow DAG per table file: ``table_dag`` (the DAG), ``tasks`` (its tasks, wired from settings)."""
