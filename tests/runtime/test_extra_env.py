"""``server.extra_env`` as the kubelet resolves it for the server container (``pod_env.resolve_env``, no process
started: always runs): the settings a seed of the oidc plugin sets by hand (``SESSION_TYPE: cachelib``,
``SESSION_CACHE_DIR``) and a value read from a Secret of the user's reach the server process's environment."""

from __future__ import annotations

from pod_env import ObjectStore, PodInfo, resolve_env
from podrunner import find_object
from scenario import container_of, placeholder_secret_values, shipped_config, synth_environment


def test_extra_env_reaches_the_oidc_servers_environment(tmp_path):
    """The shipped oidc environment with the seed's settings added: the server container's resolved env holds
    them as written, the Secret key's value, and the settings the environment sets itself, unchanged."""
    config = shipped_config("oidc-keycloak")
    config.setdefault("server", {})["extra_env"] = {
        "SESSION_TYPE": "cachelib",
        "SESSION_CACHE_DIR": "/tmp/session",
        "UPSTREAM_TOKEN": {"secret_key_ref": {"name": "upstream", "key": "token"}},
    }
    objects = synth_environment(config, "extra-env", tmp_path)
    deployment = find_object(objects, "Deployment", "mlflow")
    values = placeholder_secret_values(objects)
    pod = PodInfo(name="mlflow-0", namespace=deployment["metadata"]["namespace"])
    env = resolve_env(container_of(deployment, "mlflow"), ObjectStore(objects, values, pod.namespace), pod)
    assert env["SESSION_TYPE"] == "cachelib" and env["SESSION_CACHE_DIR"] == "/tmp/session"
    assert env["UPSTREAM_TOKEN"] == values["upstream"]["token"]
    settings = find_object(objects, "ConfigMap", "mlflow-settings")["data"]
    assert all(env[name] == value for name, value in settings.items())
