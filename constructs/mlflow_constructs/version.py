"""The release of mlflow-k8s (semantic versioning; CHANGELOG.md says what each one changes in the output)."""

VERSION = "0.4.2"
# On every object an environment synthesizes (not on pod templates: a new release alone rolls no pod), so a
# cluster says what wrote it: `kubectl get all -n <ns> -L mlflow-k8s/version`.
VERSION_LABEL = "mlflow-k8s/version"
