"""The MLflow Tracking Server: its identity, schema migrations and the ``mlflow server`` Deployment."""
