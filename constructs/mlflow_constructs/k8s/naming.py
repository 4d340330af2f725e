"""Object names and labels of one deployment, derived in one place so every reference agrees."""

from __future__ import annotations

from dataclasses import dataclass

PART_OF = "mlflow"
# On the Namespace: what the environment expects to exist before it works (`Secret/<name>`, operators' CRDs).
PREREQUISITES_ANNOTATION = "mlflow-k8s/prerequisites"
# On the keygen Job (`secrets.generate`): `<Secret>: <key>, <key>`, the keys it generates where absent.
GENERATES_SECRET_ANNOTATION = "mlflow-k8s/generates-secret"
# On the server's Deployment (not its pod template: changing it rolls nothing): the env var names
# `server.extra_env` adds, so a reader of the output tells them from the ones the environment sets.
EXTRA_ENV_ANNOTATION = "mlflow-k8s/extra-env"
# Beside it: the volume names `server.extra_volumes` adds.
EXTRA_VOLUMES_ANNOTATION = "mlflow-k8s/extra-volumes"
# On each object of `extra_objects`: written as the config gave it, not by a construct.
EXTRA_OBJECT_ANNOTATION = "mlflow-k8s/extra-object"
# Kinds whose objects live outside any namespace: the same name collides across namespaces.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterSecretStore",
        "ClusterExternalSecret",
        "ClusterIssuer",
        "CustomResourceDefinition",
        "IngressClass",
        "PersistentVolume",
        "PriorityClass",
        "StorageClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
)
# Label keys `labels` (extra labels on every object) may not set, each with why: the project sets them itself,
# so a user's value would be silently dropped (or, on the Namespace, change its Pod Security).
RESERVED_LABELS = {
    "app.kubernetes.io/name": "mlflow-k8s sets it on every object to the object's component, and it selects the pods",
    "app.kubernetes.io/instance": "mlflow-k8s sets it on every object to the environment's `name`, and it selects "
    "the pods; to rename the objects, set `name` (README, 'Renaming without recreating')",
    "app.kubernetes.io/part-of": f"mlflow-k8s sets it to {PART_OF!r} on every object",
    "app.kubernetes.io/managed-by": "mlflow-k8s sets it to 'cdk8s' on every object",
    "mlflow-k8s/version": "mlflow-k8s sets it on every object to the release that wrote it",
    "app.kubernetes.io/component": "one value on every object would mislabel all components but one; "
    "`app.kubernetes.io/name` already names each object's component",
    "kubernetes.io/metadata.name": "the API server sets it on the Namespace to the Namespace's name",
}
RESERVED_LABEL_PREFIXES = {
    "pod-security.kubernetes.io/": "mlflow-k8s sets Pod Security 'restricted' on the Namespace with these labels",
}


@dataclass(frozen=True)
class Component:
    """One component's object name, its labels and the selector of its pods (see :meth:`Naming.component`)."""

    name: str
    labels: dict[str, str]
    selector: dict[str, str]


@dataclass(frozen=True)
class Naming:
    """Names and labels of one environment's objects."""

    base: str = "mlflow"
    namespace: str = "mlflow"
    cluster_domain: str = "cluster.local"
    extra_labels: tuple[tuple[str, str], ...] = ()

    def name(self, component: str | None = None) -> str:
        return f"{self.base}-{component}" if component else self.base

    def selector(self, component: str) -> dict[str, str]:
        """Labels that select one component's pods; stable, so never change them on a live object."""
        return {
            "app.kubernetes.io/name": component,
            "app.kubernetes.io/instance": self.base,
        }

    def labels(self, component: str) -> dict[str, str]:
        return {
            **dict(self.extra_labels),
            **self.selector(component),
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "cdk8s",
        }

    def service_hosts(self, service: str) -> list[str]:
        """Every DNS name under which a Service is reached from inside the cluster."""
        ns = self.namespace
        return [service, f"{service}.{ns}", f"{service}.{ns}.svc", f"{service}.{ns}.svc.{self.cluster_domain}"]

    def component(self, component: str, *, name: str | None = None) -> Component:
        """Name (default ``<base>-<component>``), labels and pod selector of one component."""
        return Component(
            name=name or self.name(component), labels=self.labels(component), selector=self.selector(component)
        )
