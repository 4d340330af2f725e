"""Routing from outside the cluster: a networking.k8s.io Ingress, a Traefik IngressRoute or a Gateway API
HTTPRoute."""

from __future__ import annotations

from typing import Protocol

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.errors import required
from mlflow_constructs.config.network import NGINX_BODY_SIZE, Ingress
from mlflow_constructs.config.types import byte_count
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import meta


class Backend(Protocol):
    """What a route sends traffic to: a Service and its port (an ``MlflowServer`` or ``OAuth2ProxyFront``), and
    the path it serves under (``""``: the root)."""

    service_name: str
    port: int
    port_name: str
    path_prefix: str


def route_path(backend: Backend) -> str:
    """The path a route matches (with its sub-paths): the backend's prefix, or everything."""
    return backend.path_prefix or "/"


def nginx_size(quantity: str) -> str:
    """A size as nginx writes it (``k``, ``m``, ``g`` are powers of 1024): ``1Gi`` is ``1g``, ``500M`` is
    ``500000000``."""
    count = byte_count(quantity)
    for suffix, unit in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if count and count % unit == 0:
            return f"{count // unit}{suffix}"
    return str(count)


def route_metadata(config: Ingress, naming: Naming) -> dict:
    """Metadata of a route backed by a CRD binding (which takes a plain mapping): name, labels, annotations."""
    return {"name": naming.name(), "labels": naming.labels("mlflow"), "annotations": dict(config.annotations)}


class KubernetesIngress(Construct):
    """One Ingress with a rule per host, the backend's path routed to its named port."""

    def __init__(self, scope: Construct, id: str, *, config: Ingress, naming: Naming, backend: Backend) -> None:
        super().__init__(scope, id)
        target = k8s.IngressBackend(
            service=k8s.IngressServiceBackend(
                name=backend.service_name, port=k8s.ServiceBackendPort(name=backend.port_name)
            )
        )
        annotations = dict(config.annotations)
        if config.max_body_size is not None:
            annotations[NGINX_BODY_SIZE] = nginx_size(config.max_body_size)
        k8s.KubeIngress(
            self,
            "ingress",
            metadata=meta(naming.name(), naming.labels("mlflow"), annotations),
            spec=k8s.IngressSpec(
                ingress_class_name=config.class_name,
                rules=[
                    k8s.IngressRule(
                        host=host,
                        http=k8s.HttpIngressRuleValue(
                            paths=[k8s.HttpIngressPath(path=route_path(backend), path_type="Prefix", backend=target)]
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
    """A Traefik ``IngressRoute`` (traefik.io/v1alpha1) matching the hosts and the backend's path, to
    ``service:port``; with ``config.max_body_size``, through a Buffering ``Middleware`` that refuses larger
    request bodies with 413."""

    def __init__(self, scope: Construct, id: str, *, config: Ingress, naming: Naming, backend: Backend) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.ingressroutes.io.traefik import (  # noqa: PLC0415  (CRD bindings load slowly)
            IngressRoute,
            IngressRouteSpec,
            IngressRouteSpecRoutes,
            IngressRouteSpecRoutesKind,
            IngressRouteSpecRoutesMiddlewares,
            IngressRouteSpecRoutesServices,
            IngressRouteSpecRoutesServicesPort,
            IngressRouteSpecTls,
        )

        match = " || ".join(f"Host(`{host}`)" for host in config.hosts)
        if backend.path_prefix:  # the prefix and what is below it, as an Ingress's Prefix path matches
            prefix = backend.path_prefix
            hosts = f"({match})" if len(config.hosts) > 1 else match
            match = f"{hosts} && (Path(`{prefix}`) || PathPrefix(`{prefix}/`))"
        limit = byte_count(config.max_body_size) if config.max_body_size is not None else 0
        middlewares = None
        if limit:  # 0 is Traefik's own "no limit": no middleware, no buffering
            from mlflow_constructs.imports.middlewares.io.traefik import (  # noqa: PLC0415  (CRD bindings load slowly)
                Middleware,
                MiddlewareSpec,
                MiddlewareSpecBuffering,
            )

            name = naming.name("body-limit")
            Middleware(
                self,
                "body-limit",
                metadata={"name": name, "labels": naming.labels("mlflow")},
                spec=MiddlewareSpec(buffering=MiddlewareSpecBuffering(max_request_body_bytes=limit)),
            )
            middlewares = [IngressRouteSpecRoutesMiddlewares(name=name)]
        IngressRoute(
            self,
            "ingressroute",
            metadata=route_metadata(config, naming),
            spec=IngressRouteSpec(
                entry_points=list(config.traefik_entry_points),
                routes=[
                    IngressRouteSpecRoutes(
                        match=match,
                        kind=IngressRouteSpecRoutesKind.RULE,
                        middlewares=middlewares,
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


class GatewayHttpRoute(Construct):
    """A Gateway API ``HTTPRoute`` (gateway.networking.k8s.io/v1) attached to ``config.gateway.parent_refs``:
    the hosts and the backend's path (a PathPrefix match), to ``service:port``. TLS is the Gateway's."""

    def __init__(self, scope: Construct, id: str, *, config: Ingress, naming: Naming, backend: Backend) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.httproutes.io.k8s.networking.gateway import (  # noqa: PLC0415  (CRD bindings load slowly)
            HttpRoute,
            HttpRouteSpec,
            HttpRouteSpecParentRefs,
            HttpRouteSpecRules,
            HttpRouteSpecRulesBackendRefs,
            HttpRouteSpecRulesMatches,
            HttpRouteSpecRulesMatchesPath,
            HttpRouteSpecRulesMatchesPathType,
            HttpRouteSpecRulesTimeouts,
        )

        gateway = required(config.gateway, "ingress.gateway")
        timeout = gateway.request_timeout
        HttpRoute(
            self,
            "httproute",
            metadata=route_metadata(config, naming),
            spec=HttpRouteSpec(
                parent_refs=[
                    HttpRouteSpecParentRefs(name=p.name, namespace=p.namespace, section_name=p.section_name)
                    for p in gateway.parent_refs
                ],
                hostnames=list(config.hosts),
                rules=[
                    HttpRouteSpecRules(
                        matches=[
                            HttpRouteSpecRulesMatches(
                                path=HttpRouteSpecRulesMatchesPath(
                                    type=HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value=route_path(backend)
                                )
                            )
                        ],
                        backend_refs=[HttpRouteSpecRulesBackendRefs(name=backend.service_name, port=backend.port)],
                        timeouts=HttpRouteSpecRulesTimeouts(request=timeout) if timeout else None,
                    )
                ],
            ),
        )


ROUTES: dict[str, type[Construct]] = {
    "ingress": KubernetesIngress,
    "traefik": TraefikIngressRoute,
    "httproute": GatewayHttpRoute,
}


def routes_for(scope: Construct, id: str, *, config: Ingress, naming: Naming, backend: Backend) -> list[Construct]:
    """The routes ``config`` asks for: its ``kind``, and while moving to an HTTPRoute the route it replaces."""
    return [
        ROUTES[kind](scope, id if i == 0 else f"{id}-{kind}", config=config, naming=naming, backend=backend)
        for i, kind in enumerate(config.route_kinds)
    ]
