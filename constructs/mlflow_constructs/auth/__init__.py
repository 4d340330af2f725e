"""Auth modes: MLflow's basic-auth app, the mlflow-oidc-auth plugin, or an OAuth2-Proxy in front."""
