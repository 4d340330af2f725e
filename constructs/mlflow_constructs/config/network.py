"""Config of how traffic reaches MLflow: Ingress, IngressRoute or HTTPRoute, and NetworkPolicies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlflow_constructs.config.base import Model
from mlflow_constructs.config.errors import required
from mlflow_constructs.config.types import (
    Annotations,
    ByteQuantity,
    DnsLabel,
    DnsSubdomain,
    GatewayDuration,
    Hostname,
    Labels,
    NonEmpty,
)

# The Ingress-NGINX annotation `ingress.max_body_size` writes (nginx's client_max_body_size; default 1m).
NGINX_BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size"


class Tls(Model):
    secret_name: DnsSubdomain
    """TLS certificate Secret; turns on `https` origins."""


class GatewayParent(Model):
    """A Gateway the HTTPRoute attaches to (one entry of `spec.parentRefs`)."""

    name: DnsSubdomain
    """Gateway name."""
    namespace: DnsLabel | None = None
    """Gateway namespace; none: the environment's namespace. Admitted to MLflow's port by the NetworkPolicy
    when `network_policies.ingress_from_namespaces` restricts it."""
    section_name: DnsSubdomain | None = None
    """Listener of the Gateway (`sectionName`), e.g. `https`; none: every listener that admits the route."""


class Gateway(Model):
    """The Gateway API side of `ingress.kind: httproute`."""

    parent_refs: tuple[GatewayParent, ...] = Field((), max_length=32)
    """Gateways (and listeners) the HTTPRoute attaches to; at least one. The Gateway is the platform's: it
    must exist and admit routes from this namespace (`allowedRoutes`)."""
    scheme: Literal["https", "http"] = "https"
    """Scheme clients use: `https` when the listener terminates TLS (with its own certificate, not one of this
    environment's) or `http`. The public URLs follow it: allowed CORS origins, OAuth2-Proxy's redirect URL,
    Secure cookies."""
    request_timeout: GatewayDuration | None = None
    """`timeouts.request` of the route, e.g. `10m` for large artifact transfers through MLflow; none: the
    implementation's default (Envoy's is 15 s), `0s`: no timeout. An Extended feature of Gateway API, which
    some implementations do not support."""
    transition_from: Literal["ingress", "traefik"] | None = None
    """While moving from an Ingress (`ingress`) or IngressRoute (`traefik`): write that route too (same
    hosts, path, backend, `class_name`, `tls`, annotations), so both serve until DNS points at the Gateway;
    remove it afterwards (README, "Moving from Ingress to HTTPRoute")."""


class Ingress(Model):
    """How traffic reaches MLflow from outside the cluster."""

    enabled: bool = False
    """Route external traffic to MLflow."""
    kind: Literal["ingress", "traefik", "httproute"] = "ingress"
    """`ingress` (networking.k8s.io/v1), `traefik` (IngressRoute) or `httproute` (Gateway API
    gateway.networking.k8s.io/v1, see `ingress.gateway`)."""
    class_name: DnsSubdomain | None = None
    """`ingressClassName`."""
    hosts: tuple[Hostname, ...] = ()
    """Host names (required when enabled; the HTTPRoute's `hostnames`); also allowed Host headers and CORS origins.
    No IP addresses; `*.example.org` matches one label and gives no CORS origin, and is not first where a login
    callback is derived from the first host (oauth2-proxy, oidc without `redirect_uri`)."""
    tls: Tls | None = None
    """TLS on the Ingress or IngressRoute (an HTTPRoute's TLS is the Gateway listener's: `ingress.gateway.scheme`)."""
    annotations: Annotations = Field(default_factory=dict)
    """Annotations of the route (Ingress, IngressRoute or HTTPRoute)."""
    traefik_entry_points: tuple[NonEmpty, ...] = ("websecure",)
    """Entry points of the IngressRoute."""
    max_body_size: ByteQuantity | None = None
    """Largest request body the route lets through to MLflow (artifact uploads, OTLP trace batches); a larger
    one gets `413 Request Entity Too Large` from the route. `kind: ingress`: Ingress-NGINX's
    `nginx.ingress.kubernetes.io/proxy-body-size` (its default is 1 MiB, too small for most models);
    `traefik`: a Traefik Buffering Middleware `<name>-body-limit` (`maxRequestBodyBytes`; Traefik's default is
    no limit, and with the middleware it buffers each request, above 1 MiB on disk); `0`: no limit. Not with
    `httproute` (Gateway API has no body size: see README, "Request body limits"). None: the controller's default."""
    gateway: Gateway | None = None
    """The Gateway API side of `kind: httproute`."""

    @model_validator(mode="after")
    def _hosts(self) -> Ingress:
        if self.enabled and not self.hosts:
            raise ValueError("hosts must list at least one host name when the ingress is enabled")
        return self

    @model_validator(mode="after")
    def _gateway(self) -> Ingress:
        gateway = self.gateway
        if self.kind != "httproute":
            if gateway is not None:
                raise ValueError(f"gateway applies only to kind: httproute, not {self.kind!r}; remove it")
            return self
        if gateway is None or not gateway.parent_refs:
            raise ValueError(
                "kind httproute needs gateway.parent_refs, the Gateway(s) to attach to, e.g. "
                "gateway: {parent_refs: [{name: public, namespace: gateway-system, section_name: https}]}"
            )
        seen: dict[tuple[str, str | None], list[str | None]] = {}
        for parent in gateway.parent_refs:
            seen.setdefault((parent.name, parent.namespace), []).append(parent.section_name)
        for (name, _), sections in seen.items():
            if len(sections) > 1 and (None in sections or len(set(sections)) < len(sections)):
                raise ValueError(
                    f"gateway.parent_refs: Gateway {name!r} is named more than once; each entry needs its own "
                    "section_name (a listener), as the API server requires"
                )
        if gateway.transition_from is None:
            if self.tls is not None:
                raise ValueError(
                    "tls: an HTTPRoute carries no certificate, TLS terminates at the Gateway listener (its "
                    "certificateRefs); remove ingress.tls and keep ingress.gateway.scheme: https, or set "
                    "gateway.transition_from while an Ingress with this TLS Secret still serves"
                )
            if self.class_name is not None:
                raise ValueError(
                    "class_name: the Gateway's GatewayClass picks the implementation of an HTTPRoute; remove "
                    "ingress.class_name, or set gateway.transition_from while an Ingress of that class still serves"
                )
        elif self.route_scheme(gateway.transition_from) != gateway.scheme:
            raise ValueError(
                f"gateway.scheme: the HTTPRoute serves {gateway.scheme!r} but the {gateway.transition_from} route "
                f"kept during the transition serves {self.route_scheme(gateway.transition_from)!r} (ingress.tls); "
                "clients must find the same URLs on both: keep ingress.tls while the listener is https, or set "
                "gateway.scheme: http for a plain-HTTP ingress"
            )
        return self

    @model_validator(mode="after")
    def _body_size(self) -> Ingress:
        if self.max_body_size is None:
            return self
        if "httproute" in self.route_kinds and len(self.route_kinds) == 1:
            raise ValueError(
                "max_body_size: Gateway API (HTTPRoute v1) has no request body limit; set it on the Gateway's "
                "implementation (e.g. Envoy Gateway's BackendTrafficPolicy, NGINX Gateway Fabric's "
                "ClientSettingsPolicy body.maxSize) and remove ingress.max_body_size"
            )
        if "ingress" in self.route_kinds and NGINX_BODY_SIZE in self.annotations:
            raise ValueError(
                f"annotations: {NGINX_BODY_SIZE} is what max_body_size writes; set the size once, in "
                "ingress.max_body_size, and remove the annotation"
            )
        return self

    def route_scheme(self, kind: str) -> str:
        """The scheme clients use through a route of ``kind``: the Gateway listener's, or the ingress TLS's."""
        if kind == "httproute":
            return required(self.gateway, "ingress.gateway").scheme
        return "https" if self.tls else "http"

    @property
    def scheme(self) -> str:
        return self.route_scheme(self.kind)

    @property
    def route_kinds(self) -> tuple[str, ...]:
        """The routes written: ``kind``, and while moving to an HTTPRoute, the one it replaces."""
        previous = self.gateway.transition_from if self.gateway else None
        return (self.kind, previous) if previous else (self.kind,)


class NetworkPolicies(Model):
    """NetworkPolicies: deny ingress by default, admit only the traffic each pod needs."""

    enabled: bool = True
    """Default-deny ingress in the namespace plus one allow policy per flow."""
    ingress_from_namespaces: Labels = Field(default_factory=dict)
    """Namespace labels allowed to reach MLflow's port (e.g. your ingress controller's); empty: any namespace.
    With `ingress.kind: httproute`, the namespaces of the Gateways are admitted too."""
