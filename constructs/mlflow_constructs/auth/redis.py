"""A small hardened Redis: the shared session/cache store several oidc replicas need.

The password comes from the Secret and is written to a config file at start, so it never appears in
the container's arguments; nothing is persisted (sessions can be re-established by logging in).
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.auth import RedisCache
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import deployment, service
from mlflow_constructs.k8s.pods import (
    TMP_MOUNT,
    Probes,
    container,
    empty_dir,
    env_values,
    mount,
    pod_template,
    resources,
    tcp_probe,
)
from mlflow_constructs.secrets.source import SecretSource

REDIS_PORT = 6379
PASSWORD_KEY = "redis_password"

START = """\
set -eu
umask 077
printf 'requirepass %s\\nmaxmemory %s\\nmaxmemory-policy allkeys-lru\\n' \\
  "$REDIS_PASSWORD" "$MAX_MEMORY" > /tmp/redis.conf
exec redis-server /tmp/redis.conf --save '' --appendonly no --protected-mode no --port 6379
"""


class BundledRedis(Construct):
    """Redis Deployment and Service. Handles: ``selector``, ``port``, ``password_env`` and ``url_env`` (the
    env vars a client sets: the password from the Secret key ``redis_password``, the URL referencing it)."""

    def __init__(self, scope: Construct, id: str, *, config: RedisCache, naming: Naming, secrets: SecretSource) -> None:
        super().__init__(scope, id)
        component = naming.component("redis")
        self.service_name, self.selector, labels = component.name, component.selector, component.labels
        self.port = REDIS_PORT
        self.secret_keys = (PASSWORD_KEY,)
        probe = tcp_probe("redis", period=10, failures=3)
        redis = container(
            "redis",
            config.image,
            command=["/bin/sh", "-c", START],
            env=[
                secrets.env("REDIS_PASSWORD", PASSWORD_KEY),
                *env_values({"MAX_MEMORY": config.redis_max_memory}),
            ],
            ports={"redis": REDIS_PORT},
            resources=resources(config.resources),
            probes=Probes(liveness=probe, readiness=probe),
            mounts=[TMP_MOUNT, mount("data", "/data")],
        )
        deployment(
            self,
            "deployment",
            component=component,
            template=pod_template(
                labels, containers=[redis], volumes=[empty_dir("tmp", "16Mi"), empty_dir("data", "16Mi")]
            ),
        )
        service(self, "service", component=component, ports={"redis": REDIS_PORT})
        self.client_env = (
            secrets.env("REDIS_PASSWORD", PASSWORD_KEY),
            *env_values({"CACHE_REDIS_URL": f"redis://:$(REDIS_PASSWORD)@{self.service_name}:{REDIS_PORT}/0"}),
        )
