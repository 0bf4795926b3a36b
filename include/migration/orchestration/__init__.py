"""Airflow: the DAGs built from the configuration, the task bodies, failure classing and alerts."""
