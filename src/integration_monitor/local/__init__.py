"""Running the monitor on one machine: the stub server, a local Airflow and the demo sweep."""
