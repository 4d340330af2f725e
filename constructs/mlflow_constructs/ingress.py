"""Routing from outside the cluster: a networking.k8s.io Ingress or a Traefik IngressRoute."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config import Ingress
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object


class KubernetesIngress(Construct):
    """One Ingress with a rule per host, all routed to ``service``'s named port."""

    def __init__(
        self, scope: Construct, id: str, *, config: Ingress, naming: Naming, service: str, port_name: str
    ) -> None:
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


class TraefikIngressRoute(Construct):
    """A Traefik ``IngressRoute`` (traefik.io/v1alpha1) matching the hosts, to ``service:port``."""

    def __init__(self, scope: Construct, id: str, *, config: Ingress, naming: Naming, service: str, port: int) -> None:
        super().__init__(scope, id)
        from imports.ingressroutes.io.traefik import (  # noqa: PLC0415  (CRD bindings load slowly)
            IngressRoute,
            IngressRouteSpec,
            IngressRouteSpecRoutes,
            IngressRouteSpecRoutesKind,
            IngressRouteSpecRoutesServices,
            IngressRouteSpecRoutesServicesPort,
            IngressRouteSpecTls,
        )

        match = " || ".join(f"Host(`{host}`)" for host in config.hosts)
        IngressRoute(
            self,
            "ingressroute",
            metadata={
                "name": naming.name(),
                "labels": naming.labels("mlflow"),
                "annotations": dict(config.annotations),
            },
            spec=IngressRouteSpec(
                entry_points=list(config.traefik_entry_points),
                routes=[
                    IngressRouteSpecRoutes(
                        match=match,
                        kind=IngressRouteSpecRoutesKind.RULE,
                        services=[
                            IngressRouteSpecRoutesServices(
                                name=service, port=IngressRouteSpecRoutesServicesPort.from_number(port)
                            )
                        ],
                    )
                ],
                tls=IngressRouteSpecTls(secret_name=config.tls.secret_name) if config.tls else None,
            ),
        )


def build_ingress(
    scope: Construct, *, config: Ingress, naming: Naming, service: str, port_name: str, port: int
) -> Construct:
    if config.kind == "traefik":
        return TraefikIngressRoute(scope, "ingress", config=config, naming=naming, service=service, port=port)
    return KubernetesIngress(scope, "ingress", config=config, naming=naming, service=service, port_name=port_name)
