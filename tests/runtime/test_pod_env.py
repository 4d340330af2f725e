"""Kubelet environment rules as the pod runner applies them (no processes started: always runs)."""

from __future__ import annotations

import base64

import pytest
from pod_env import (
    CreateContainerConfigError,
    ObjectStore,
    PodInfo,
    expand,
    expand_command,
    mapping_func_for,
    parse_quantity,
    resolve_env,
)
from pod_images import ImageRuntime, parse_dockerfile
from pod_sandbox import SandboxSpec, bwrap_args
from pod_volumes import Mount

POD = PodInfo(name="mlflow-abc", namespace="mlflow", labels={"app": "mlflow"})
VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    "text, expected",
    [
        # Cases from Kubernetes' expansion tests.
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_B)", "A-B"),
        ("$(VAR_EMPTY)", ""),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$(VAR_A", "$(VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("$", "$"),
        ("x$", "x$"),
        ("$()", "$()"),
        ("$(VAR_A)$(VAR_A)", "AA"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
    ],
)
def test_expand_follows_kubernetes(text, expected):
    assert expand(text, mapping_func_for(VARS)) == expected


def _secret(name, **data):
    return {
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _store(secret_values=None):
    objects = [
        {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"HOST": "db", "bad=key": "x", "PORT": "5432"}},
        _secret("db", password="pw", user="u"),
        {"kind": "Service", "metadata": {"name": "mlflow"}, "spec": {"ports": [{"name": "http", "port": 5000}]}},
        {"kind": "Service", "metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}},
    ]
    return ObjectStore(objects, secret_values or {}, "mlflow")


def test_env_order_sources_and_expansion():
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "DB_"}, {"secretRef": {"name": "db"}}],
        "env": [
            {"name": "URI", "value": "postgresql://$(user):$(password)@$(DB_HOST):$(DB_PORT)/$(LATER)"},
            {"name": "LATER", "value": "mlflow"},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "NOT_EXPANDED", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "HOST"}}},
            {"name": "OPTIONAL", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "EMPTY", "value": ""},
            {"name": "DB_HOST", "value": "override"},
            {"name": "SVC", "value": "$(MLFLOW_SERVICE_HOST):$(MLFLOW_SERVICE_PORT_HTTP)"},
        ],
    }
    env = resolve_env(container, _store(), POD)
    assert env["URI"] == "postgresql://u:pw@db:5432/$(LATER)"  # LATER is declared after URI
    assert env["FROM_SECRET"] == "pw" and env["NOT_EXPANDED"] == "db"
    assert "OPTIONAL" not in env and "DB_bad=key" not in env
    assert env["POD"] == "mlflow-abc" and env["APP"] == "mlflow" and env["EMPTY"] == ""
    assert env["DB_HOST"] == "override"
    assert env["MLFLOW_PORT"].startswith("tcp://10.96.") and env["MLFLOW_PORT"].endswith(":5000")
    assert env["SVC"].endswith(":5000") and env["SVC"].startswith("10.96.")
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert not any(k.startswith("HEADLESS_") for k in env)


def test_service_links_can_be_disabled_but_not_the_master_service():
    env = resolve_env({"name": "c"}, _store(), POD, enable_service_links=False)
    assert "MLFLOW_PORT" not in env
    assert env["KUBERNETES_SERVICE_PORT"] == "443"


def test_declared_variables_win_over_service_links():
    env = resolve_env({"name": "c", "env": [{"name": "MLFLOW_PORT", "value": "5000"}]}, _store(), POD)
    assert env["MLFLOW_PORT"] == "5000"


@pytest.mark.parametrize(
    "ref",
    [
        {"secretKeyRef": {"name": "absent", "key": "k"}},
        {"secretKeyRef": {"name": "db", "key": "absent"}},
        {"configMapKeyRef": {"name": "cm", "key": "absent"}},
    ],
)
def test_missing_required_reference_is_a_config_error(ref):
    with pytest.raises(CreateContainerConfigError):
        resolve_env({"name": "c", "env": [{"name": "X", "valueFrom": ref}]}, _store(), POD)


def test_secret_values_stand_in_for_referenced_secrets():
    store = _store({"external": {"token": "t0k"}})
    env = resolve_env(
        {"name": "c", "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "external", "key": "token"}}}]},
        store,
        POD,
    )
    assert env["T"] == "t0k"
    with pytest.raises(ValueError):
        _store({"db": {"password": "other"}})  # synthesized and given: ambiguous


def test_command_and_args_expansion():
    container = {"command": ["mlflow", "db", "upgrade", "$(URI)"], "args": ["$$(URI)", "$(NOPE)"]}
    assert expand_command(container, {"URI": "sqlite://"}) == (
        ["mlflow", "db", "upgrade", "sqlite://"],
        ["$(URI)", "$(NOPE)"],
    )


def test_image_command_rules():
    image = ImageRuntime(ref="x", entrypoint=("ep",), cmd=("default",))
    assert image.argv([], []) == ["ep", "default"]
    assert image.argv([], ["a"]) == ["ep", "a"]
    assert image.argv(["c"], []) == ["c"]
    assert image.argv(["c"], ["a"]) == ["c", "a"]


def test_parse_dockerfile(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        'FROM python:3.12 AS build\nUSER 5\nFROM python:3.12-slim\nENV A=1 B="two words"\n'
        'ENV C 3\nWORKDIR /app\nUSER 1000:1000\nENTRYPOINT ["mlflow-oidc-server"]\n'
    )
    config = parse_dockerfile(dockerfile)
    assert config["env"] == {"A": "1", "B": "two words", "C": "3"}
    assert (config["workdir"], config["user"], config["entrypoint"], config["cmd"]) == (
        "/app",
        "1000:1000",
        ("mlflow-oidc-server",),
        None,
    )


def test_quantities():
    assert parse_quantity("512Mi") == 512 * 2**20
    assert parse_quantity("500m") * 1000 == 500
    assert parse_quantity("1e3") == 1000


def test_bwrap_mounts_and_read_only_root(tmp_path):
    spec = SandboxSpec(
        argv=["true"],
        env={"A": "1"},
        read_only_root=True,
        mounts=[Mount(tmp_path, "/podrunner-test-absent/a", False), Mount(tmp_path, "/var/run/secrets/x", True)],
    )
    args = bwrap_args(spec)
    assert args[args.index("--bind") + 2] == "/podrunner-test-absent/a"
    # /var/run is a symlink on Debian: the target is resolved as a container runtime would.
    assert args[args.index("--ro-bind", args.index("/sys") + 1) + 2] in ("/run/secrets/x", "/var/run/secrets/x")
    i = args.index("--dir")
    assert args[i - 2 : i + 2] == ["--perms", "0755", "--dir", "/podrunner-test-absent"]
    assert args.index("--remount-ro", args.index("/podrunner-test-absent/a")) > args.index("/podrunner-test-absent/a")
    assert args[-2:] == ["--", "true"]
