"""Settings the config model does not name, added to the server container with guard rails
(``server.extra_env``): never a name the environment sets itself, never a secret value in the output."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.config.server import EnvFrom


def with_extra_env(
    env: list[k8s.EnvVar], config: Mapping[str, str | EnvFrom], *, settings: Iterable[str]
) -> list[k8s.EnvVar]:
    """``env`` and ``server.extra_env``; a name in ``env`` or ``settings`` (the settings ConfigMap's keys) is a
    :class:`ConfigError`: an explicit env var would silently override the settings ConfigMap, or be overridden."""
    clash = sorted(set(config) & {*settings, *(e.name for e in env)})
    if clash:
        raise ConfigError(
            f"server.extra_env.{clash[0]}: this environment sets {clash[0]} itself (`python app.py explain` and "
            "the settings ConfigMap show its value); set it through the config key that writes it, or remove it "
            "from server.extra_env"
        )
    found = list(env)
    for name, value in config.items():
        if isinstance(value, str):
            found.append(k8s.EnvVar(name=name, value=value))
        elif value.secret_key_ref is not None:
            ref = value.secret_key_ref
            selector = k8s.SecretKeySelector(name=ref.name, key=ref.key)
            found.append(k8s.EnvVar(name=name, value_from=k8s.EnvVarSource(secret_key_ref=selector)))
        elif value.config_map_key_ref is not None:
            ref = value.config_map_key_ref
            source = k8s.EnvVarSource(config_map_key_ref=k8s.ConfigMapKeySelector(name=ref.name, key=ref.key))
            found.append(k8s.EnvVar(name=name, value_from=source))
    return found


def extra_prerequisites(config: Mapping[str, str | EnvFrom]) -> list[str]:
    """The Secrets and ConfigMaps ``server.extra_env`` reads, which the user creates."""
    found = []
    for value in config.values():
        if isinstance(value, EnvFrom) and value.secret_key_ref is not None:
            found.append(f"Secret/{value.secret_key_ref.name}")
        if isinstance(value, EnvFrom) and value.config_map_key_ref is not None:
            found.append(f"ConfigMap/{value.config_map_key_ref.name}")
    return sorted(set(found))
