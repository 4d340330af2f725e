"""Monitoring: a Prometheus Operator ServiceMonitor for MLflow's ``/metrics``."""
