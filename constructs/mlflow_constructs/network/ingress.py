"""Routing from outside the cluster: a networking.k8s.io Ingress or a Traefik IngressRoute."""

from __future__ import annotations

from typing import Protocol

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.network import Ingress
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import meta


class Backend(Protocol):
    """What a route sends traffic to: a Service and its port (an ``MlflowServer`` or ``OAuth2ProxyFront``)."""

    service_name: str
    port: int
    port_name: str


class KubernetesIngress(Construct):
    """One Ingress with a rule per host, all routed to ``backend``'s named port."""

    def __init__(self, scope: Construct, id: str, *, config: Ingress, naming: Naming, backend: Backend) -> None:
        super().__init__(scope, id)
        target = k8s.IngressBackend(
            service=k8s.IngressServiceBackend(
                name=backend.service_name, port=k8s.ServiceBackendPort(name=backend.port_name)
            )
        )
        k8s.KubeIngress(
            self,
            "ingress",
            metadata=meta(naming.name(), naming.labels("mlflow"), config.annotations),
            spec=k8s.IngressSpec(
                ingress_class_name=config.class_name,
                rules=[
                    k8s.IngressRule(
                        host=host,
                        http=k8s.HttpIngressRuleValue(
                            paths=[k8s.HttpIngressPath(path="/", path_type="Prefix", backend=target)]
                        ),
                    )
                    for host in config.hosts
                ],
                tls=[k8s.IngressTls(hosts=list(config.hosts), secret_name=config.tls.secret_name)]
                if config.tls
                else None,
            ),
        )


class TraefikIngressRoute(Construct):
    """A Traefik ``IngressRoute`` (traefik.io/v1alpha1) matching the hosts, to ``service:port``."""

    def __init__(self, scope: Construct, id: str, *, config: Ingress, naming: Naming, backend: Backend) -> None:
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
                                name=backend.service_name,
                                port=IngressRouteSpecRoutesServicesPort.from_number(backend.port),
                            )
                        ],
                    )
                ],
                tls=IngressRouteSpecTls(secret_name=config.tls.secret_name) if config.tls else None,
            ),
        )


def ingress_for(scope: Construct, id: str, *, config: Ingress, naming: Naming, backend: Backend) -> Construct:
    """The route ``config.kind`` selects: a Kubernetes Ingress or a Traefik IngressRoute."""
    route = TraefikIngressRoute if config.kind == "traefik" else KubernetesIngress
    return route(scope, id, config=config, naming=naming, backend=backend)
