"""Pod Security Standards "restricted" settings and small pod-spec builders shared by every workload."""

from __future__ import annotations

from typing import Any

from mlflow_constructs.config import Resources

# Non-root IDs for images that default to root; bundled PostgreSQL keeps its image's own user (999).
DEFAULT_UID = 10001


def pod_security_context(uid: int = DEFAULT_UID) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def resources(res: Resources) -> dict[str, Any]:
    return res.model_dump(mode="json")


def secret_env(name: str, secret: dict[str, str]) -> dict[str, Any]:
    """An env var read from a Secret key (``secret`` is ``{"name": ..., "key": ...}``)."""
    return {"name": name, "valueFrom": {"secretKeyRef": dict(secret)}}


def literal_env(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": key, "value": value} for key, value in values.items()]


def http_probe(path: str, port: str, *, period: int, failures: int, timeout: int = 5) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def exec_probe(command: list[str], *, period: int, failures: int, timeout: int = 5) -> dict[str, Any]:
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def empty_dir(name: str, size: str = "256Mi") -> dict[str, Any]:
    return {"name": name, "emptyDir": {"sizeLimit": size}}


def fixed_resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    """Resources of a helper container (init steps, Jobs) that are not configurable."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}
