"""Routing from outside the cluster: a networking.k8s.io Ingress or a Traefik IngressRoute."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config import Ingress
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object


class KubernetesIngress(Construct):
    """One Ingress with a rule per host, all routed to ``service``'s named port."""

    def __init__(self, scope: Construct, id: str, *, config: Ingress, naming: Naming, service: str, port_name: str) -> None:
        super().__init__(scope, id)
        backend = {"service": {"name": service, "port": {"name": port_name}}}
        spec: dict = {
            "rules": [
                {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
                for host in config.hosts
            ]
        }
        if config.class_name:
            spec = {"ingressClassName": config.class_name, **spec}
        if config.tls:
            spec["tls"] = [{"hosts": list(config.hosts), "secretName": config.tls.secret_name}]
        k8s_object(
            self,
            "ingress",
            api_version="networking.k8s.io/v1",
            kind="Ingress",
            name=naming.name(),
            labels=naming.labels("mlflow"),
            annotations=config.annotations,
            spec=spec,
        )
