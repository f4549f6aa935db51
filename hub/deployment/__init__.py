"""Running the hub beyond one machine: generated deployment files (``hub deploy``)."""
