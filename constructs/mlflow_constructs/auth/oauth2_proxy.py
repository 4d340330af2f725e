"""OAuth2-Proxy in front of MLflow: browsers log in at the provider, API clients send bearer JWTs (and get
401, not a login redirect, without one).

The Ingress routes only to the proxy, and a NetworkPolicy admits traffic to the MLflow pods only from
the proxy pods (and the metrics scraper), so MLflow cannot be reached around it.
"""

from __future__ import annotations

import re
from typing import Protocol

from constructs import Construct

from mlflow_constructs.config.auth import OAuth2Proxy
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import config_map, deployment, disruption_budget, service
from mlflow_constructs.k8s.pods import (
    Probes,
    SecretRef,
    config_map_volume,
    container,
    http_probe,
    mount,
    pod_template,
    resources,
    secret_env,
)
from mlflow_constructs.secrets.source import SecretSource

COMPONENT = "oauth2-proxy"
PORT_NAME = "http"
PROXY_PORT = 80
PROXY_PAGES = "/oauth2"  # OAuth2-Proxy's default --proxy-prefix: sign-in, callback, sign-out
PUBLIC_CLIENT_DIR = "/etc/oauth2-proxy/public-client"
COOKIE_SECRET_KEY = "oauth2_proxy_cookie_secret"
CLIENT_SECRET_KEY = "oauth2_proxy_client_secret"
# Paths MLflow's clients call (REST API with the artifact proxy, OTLP trace ingestion, the version check the
# tracing client makes first, the AI gateway's invocations), below the static prefix: without a valid token the
# proxy answers them 401 instead of redirecting to the provider. An OTLP exporter counts a 3xx as a successful
# export and would drop the spans silently; MLflow's client would follow the redirect and fail on its HTML.
CLIENT_PATHS = ("api/", "v1/traces", "version", "gateway/")


def api_route(prefix: str) -> str:
    """``--api-route``: a Go regular expression matching the request URIs of :data:`CLIENT_PATHS`."""
    return f"^{re.escape(prefix)}/({'|'.join(re.escape(path) for path in CLIENT_PATHS)})"


class Upstream(Protocol):
    """What the proxy forwards to: a Service (an ``MlflowServer`` is one) and the path it serves under."""

    service_name: str
    port: int
    path_prefix: str


class OAuth2ProxyFront(Construct):
    """The proxy Deployment, its Service (what an Ingress targets) and PDB, forwarding to ``upstream``.

    ``public_url`` (``https://mlflow.example.com``) gives the login callback. The proxy serves under the
    upstream's ``path_prefix``: only that path is forwarded, and its own pages (sign-in, callback) and session
    cookie live below it. Handles: ``service_name``, ``port``, ``port_name``, ``path_prefix``, ``selector``,
    ``secret_keys`` (or, with ``config.credentials``, ``secret_refs``). The upstream must accept the proxy's
    Service name as a Host header: pass ``OAuth2ProxyFront.service_name_for(naming)`` to the server.
    """

    @staticmethod
    def service_name_for(naming: Naming) -> str:
        return naming.name(COMPONENT)

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: OAuth2Proxy,
        naming: Naming,
        secrets: SecretSource,
        upstream: Upstream,
        public_url: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        component = naming.component(COMPONENT)
        self.service_name, self.selector, labels = component.name, component.selector, component.labels
        self.port = PROXY_PORT
        self.port_name = PORT_NAME
        self.path_prefix = prefix = upstream.path_prefix
        issuer = config.issuer_url
        args = [
            f"--http-address=0.0.0.0:{config.port}",
            # The upstream URL's path is the path the proxy forwards (all of it below, with a trailing "/");
            # requests keep their whole path, prefix included.
            f"--upstream=http://{upstream.service_name}:{upstream.port}{prefix}/",
            f"--provider={config.provider}",
            f"--oidc-issuer-url={issuer}",
            f"--client-id={config.client_id}",
            f"--scope={config.scope}",
            f"--oidc-groups-claim={config.groups_claim}",
            *[f"--email-domain={domain}" for domain in config.email_domains],
            *[f"--allowed-group={group}" for group in config.allowed_groups],
            "--reverse-proxy=true",
            "--skip-provider-button=true",
            "--skip-jwt-bearer-tokens=true",
            *[f"--extra-jwt-issuers={issuer}" for issuer in config.extra_jwt_issuers],
            f"--api-route={api_route(prefix)}",
            "--code-challenge-method=S256",
            "--cookie-secure=true",
            "--cookie-httponly=true",
            "--cookie-samesite=lax",
            f"--cookie-expire={config.cookie_expire}",
            "--set-xauthrequest=true",
            "--ping-path=/ping",
            "--ready-path=/ready",
            "--silence-ping-logging=true",
        ]
        if prefix:  # the proxy's own pages and its session cookie below the prefix, like the rest of MLflow
            args += [f"--proxy-prefix={prefix}{PROXY_PAGES}", f"--cookie-path={prefix}"]
        if public_url:
            args.append(f"--redirect-url={public_url}{prefix}{PROXY_PAGES}/callback")
        confidential = config.client_type == "confidential"
        own = config.credentials
        if own:  # a Secret (and keys) of the proxy's own
            refs = {"OAUTH2_PROXY_COOKIE_SECRET": secrets.named(own.secret, own.cookie_secret_key)}
            if confidential:
                refs = {"OAUTH2_PROXY_CLIENT_SECRET": secrets.named(own.secret, own.client_secret_key), **refs}
            env = [secret_env(variable, ref) for variable, ref in refs.items()]
            self.secret_keys: tuple[str, ...] = ()
            self.secret_refs: tuple[SecretRef, ...] = tuple(refs.values())
        else:
            env = [secrets.env("OAUTH2_PROXY_COOKIE_SECRET", COOKIE_SECRET_KEY)]
            self.secret_keys = (COOKIE_SECRET_KEY,)
            if confidential:
                env.insert(0, secrets.env("OAUTH2_PROXY_CLIENT_SECRET", CLIENT_SECRET_KEY))
                self.secret_keys = (CLIENT_SECRET_KEY, *self.secret_keys)
            self.secret_refs = ()
        volumes, mounts = [], []
        if not confidential:  # a public client (device flow): no secret; PKCE protects the code exchange
            public_client = naming.name("oauth2-proxy-public-client")
            config_map(self, "public-client", name=public_client, labels=labels, data={"client-secret": ""})
            args.append(f"--client-secret-file={PUBLIC_CLIENT_DIR}/client-secret")
            volumes.append(config_map_volume("public-client", public_client))
            mounts.append(mount("public-client", PUBLIC_CLIENT_DIR, read_only=True))
        proxy = container(
            "oauth2-proxy",
            config.image,
            args=args,
            env=env,
            ports={PORT_NAME: config.port},
            resources=resources(config.resources),
            probes=Probes(
                liveness=http_probe("/ping", PORT_NAME, period=20, failures=3),
                readiness=http_probe("/ready", PORT_NAME, period=10, failures=3),
            ),
            mounts=mounts,
        )
        deployment(
            self,
            "deployment",
            component=component,
            replicas=config.replicas,
            template=pod_template(labels, containers=[proxy], volumes=volumes),
        )
        service(self, "service", component=component, ports={PORT_NAME: PROXY_PORT})
        if config.replicas > 1:
            disruption_budget(self, "pdb", component=component)
