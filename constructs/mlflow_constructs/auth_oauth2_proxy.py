"""OAuth2-Proxy in front of MLflow: browsers log in at the provider, API clients send bearer JWTs.

The Ingress routes only to the proxy, and the chart's NetworkPolicy admits traffic to the MLflow pods
only from the proxy pods (and the metrics scraper), so MLflow cannot be reached around it.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object
from mlflow_constructs.security import CONTAINER_SECURITY_CONTEXT, http_probe, resources, secret_env
from mlflow_constructs.workloads import deployment, disruption_budget, pod_spec, pod_template, service

PORT_NAME = "http"
PROXY_PORT = 80
PUBLIC_CLIENT_DIR = "/etc/oauth2-proxy/public-client"


def proxy_service_name(naming: Naming) -> str:
    """The proxy's Service (and Deployment) name, which MLflow must also accept as a Host header."""
    return naming.name("oauth2-proxy")


class OAuth2ProxyAuth(Construct):
    """The proxy Deployment, its Service (what the Ingress targets) and PDB."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env: Environment,
        naming: Naming,
        credentials: Credentials,
        upstream_service: str,
        upstream_port: int,
    ) -> None:
        super().__init__(scope, id)
        cfg = env.auth.oauth2_proxy
        assert cfg is not None
        self.service_name = proxy_service_name(naming)
        self.port_name = PORT_NAME
        self.selector = naming.selector("oauth2-proxy")
        labels = naming.labels("oauth2-proxy")
        issuer = str(cfg.issuer_url).rstrip("/")
        args = [
            f"--http-address=0.0.0.0:{cfg.port}",
            f"--upstream=http://{upstream_service}:{upstream_port}/",
            f"--provider={cfg.provider}",
            f"--oidc-issuer-url={issuer}",
            f"--client-id={cfg.client_id}",
            f"--scope={cfg.scope}",
            f"--oidc-groups-claim={cfg.groups_claim}",
            *[f"--email-domain={domain}" for domain in cfg.email_domains],
            *[f"--allowed-group={group}" for group in cfg.allowed_groups],
            "--reverse-proxy=true",
            "--skip-provider-button=true",
            "--skip-jwt-bearer-tokens=true",
            *[f"--extra-jwt-issuers={issuer}" for issuer in cfg.extra_jwt_issuers],
            "--code-challenge-method=S256",
            "--cookie-secure=true",
            "--cookie-httponly=true",
            "--cookie-samesite=lax",
            f"--cookie-expire={cfg.cookie_expire}",
            "--set-xauthrequest=true",
            "--ping-path=/ping",
            "--ready-path=/ready",
            "--silence-ping-logging=true",
        ]
        if env.ingress.enabled:
            args.append(f"--redirect-url={env.ingress.scheme}://{env.ingress.hosts[0]}/oauth2/callback")
        env_vars = [secret_env("OAUTH2_PROXY_COOKIE_SECRET", credentials.ref("oauth2_proxy_cookie_secret"))]
        volumes, mounts = [], []
        if cfg.client_type == "confidential":
            env_vars.insert(0, secret_env("OAUTH2_PROXY_CLIENT_SECRET", credentials.ref("oauth2_proxy_client_secret")))
        else:  # a public client (device flow): no secret; PKCE protects the code exchange
            public_client = naming.name("oauth2-proxy-public-client")
            k8s_object(
                self,
                "public-client",
                api_version="v1",
                kind="ConfigMap",
                name=public_client,
                labels=labels,
                data={"client-secret": ""},
            )
            args.append(f"--client-secret-file={PUBLIC_CLIENT_DIR}/client-secret")
            volumes.append({"name": "public-client", "configMap": {"name": public_client}})
            mounts.append({"name": "public-client", "mountPath": PUBLIC_CLIENT_DIR, "readOnly": True})
        container = {
            "name": "oauth2-proxy",
            "image": cfg.image.ref,
            "imagePullPolicy": cfg.image.pull_policy,
            "args": args,
            "env": env_vars,
            "ports": [{"name": PORT_NAME, "containerPort": cfg.port}],
            "resources": resources(cfg.resources),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "livenessProbe": http_probe("/ping", PORT_NAME, period=20, failures=3),
            "readinessProbe": http_probe("/ready", PORT_NAME, period=10, failures=3),
            "volumeMounts": mounts,
        }
        deployment(
            self,
            "deployment",
            name=self.service_name,
            labels=labels,
            selector=self.selector,
            replicas=cfg.replicas,
            template=pod_template(labels, pod_spec(containers=[container], volumes=volumes)),
        )
        service(
            self,
            "service",
            name=self.service_name,
            labels=labels,
            selector=self.selector,
            ports={PORT_NAME: PROXY_PORT},
        )
        self.port = PROXY_PORT
        if cfg.replicas > 1:
            disruption_budget(self, "pdb", name=self.service_name, labels=labels, selector=self.selector)
