"""A small hardened Redis: the shared session/cache store several oidc replicas need.

The password comes from the Secret and is written to a config file at start, so it never appears in
the container's arguments; nothing is persisted (sessions can be re-established by logging in).
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.auth import RedisCache
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.naming import Naming
from mlflow_constructs.security import CONTAINER_SECURITY_CONTEXT, empty_dir, resources, secret_env
from mlflow_constructs.workloads import deployment, pod_spec, pod_template, service

REDIS_PORT = 6379

START = """\
set -eu
umask 077
printf 'requirepass %s\\nmaxmemory %s\\nmaxmemory-policy allkeys-lru\\n' \\
  "$REDIS_PASSWORD" "$MAX_MEMORY" > /tmp/redis.conf
exec redis-server /tmp/redis.conf --save '' --appendonly no --protected-mode no --port 6379
"""


class BundledRedis(Construct):
    """Redis Deployment and Service; ``self.url`` is the ``CACHE_REDIS_URL`` value (password by $(VAR))."""

    def __init__(
        self, scope: Construct, id: str, *, config: RedisCache, naming: Naming, credentials: Credentials
    ) -> None:
        super().__init__(scope, id)
        self.service_name = naming.name("redis")
        self.selector = naming.selector("redis")
        self.password = credentials.ref("redis_password")
        labels = naming.labels("redis")
        probe = {"tcpSocket": {"port": "redis"}, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
        container = {
            "name": "redis",
            "image": config.image.ref,
            "imagePullPolicy": config.image.pull_policy,
            "command": ["/bin/sh", "-c", START],
            "env": [
                secret_env("REDIS_PASSWORD", self.password),
                {"name": "MAX_MEMORY", "value": config.redis_max_memory},
            ],
            "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
            "resources": resources(config.resources),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "livenessProbe": probe,
            "readinessProbe": probe,
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/data"}],
        }
        volumes = [empty_dir("tmp", "16Mi"), empty_dir("data", "16Mi")]
        deployment(
            self,
            "deployment",
            name=self.service_name,
            labels=labels,
            selector=self.selector,
            template=pod_template(labels, pod_spec(containers=[container], volumes=volumes)),
        )
        service(
            self, "service", name=self.service_name, labels=labels, selector=self.selector, ports={"redis": REDIS_PORT}
        )
        self.url = f"redis://:$(REDIS_PASSWORD)@{self.service_name}:{REDIS_PORT}/0"
