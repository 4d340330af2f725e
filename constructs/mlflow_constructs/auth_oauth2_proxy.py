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
from mlflow_constructs.security import (
    CONTAINER_SECURITY_CONTEXT,
    http_probe,
    pod_security_context,
    resources,
    secret_env,
)

PORT_NAME = "http"
PUBLIC_CLIENT_DIR = "/etc/oauth2-proxy/public-client"


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
        self.service_name = naming.name("oauth2-proxy")
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
            empty = k8s_object(
                self,
                "public-client",
                api_version="v1",
                kind="ConfigMap",
                name=naming.name("oauth2-proxy-public-client"),
                labels=labels,
                data={"client-secret": ""},
            )
            args.append(f"--client-secret-file={PUBLIC_CLIENT_DIR}/client-secret")
            volumes.append({"name": "public-client", "configMap": {"name": empty.name}})
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
        pod_spec = {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": pod_security_context(),
            "containers": [container],
            "volumes": volumes,
        }
        k8s_object(
            self,
            "deployment",
            api_version="apps/v1",
            kind="Deployment",
            name=self.service_name,
            labels=labels,
            spec={
                "replicas": cfg.replicas,
                "selector": {"matchLabels": self.selector},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        )
        k8s_object(
            self,
            "service",
            api_version="v1",
            kind="Service",
            name=self.service_name,
            labels=labels,
            spec={"selector": self.selector, "ports": [{"name": PORT_NAME, "port": 80, "targetPort": PORT_NAME}]},
        )
        self.port = 80
        if cfg.replicas > 1:
            k8s_object(
                self,
                "pdb",
                api_version="policy/v1",
                kind="PodDisruptionBudget",
                name=self.service_name,
                labels=labels,
                spec={"maxUnavailable": 1, "selector": {"matchLabels": self.selector}},
            )
