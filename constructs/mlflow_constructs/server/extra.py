"""Settings the config model does not name, added to the server pod with guard rails (``server.extra_env``,
``extra_volumes``, ``extra_mounts``): never a name or path the environment uses itself, never a secret value in
the output."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.errors import ConfigError, required
from mlflow_constructs.config.server import EnvFrom, ExtraVolume, Server
from mlflow_constructs.k8s.naming import EXTRA_ENV_ANNOTATION, EXTRA_VOLUMES_ANNOTATION
from mlflow_constructs.k8s.pods import SecretRef, mount, quantity, secret_env


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
            found.append(secret_env(name, SecretRef(value.secret_key_ref.name, value.secret_key_ref.key)))
        elif value.config_map_key_ref is not None:
            ref = value.config_map_key_ref
            source = k8s.EnvVarSource(config_map_key_ref=k8s.ConfigMapKeySelector(name=ref.name, key=ref.key))
            found.append(k8s.EnvVar(name=name, value_from=source))
    return found


def with_extra_volumes(
    config: Server, volumes: list[k8s.Volume], mounts: list[k8s.VolumeMount], *, also: Iterable[k8s.Volume] = ()
) -> tuple[list[k8s.Volume], list[k8s.VolumeMount]]:
    """``volumes`` and ``mounts`` with ``server.extra_volumes`` and ``extra_mounts``; a volume name the pod
    already uses (in ``volumes`` or ``also``) or a mount path of ``mounts`` is a :class:`ConfigError` (the API
    server refuses both twice)."""
    for volume in config.extra_volumes:
        if volume.name in {v.name for v in [*volumes, *also]}:
            raise ConfigError(
                f"server.extra_volumes: {volume.name!r} names a volume of this environment's server pod; give yours "
                "another name"
            )
    for extra in config.extra_mounts:
        if extra.mount_path in {m.mount_path for m in mounts}:
            raise ConfigError(
                f"server.extra_mounts: {extra.mount_path} is where this environment mounts a volume of its own; "
                "mount yours at another folder"
            )
    added = [mount(m.name, m.mount_path, read_only=m.read_only) for m in config.extra_mounts]
    return [*volumes, *map(_volume, config.extra_volumes)], [*mounts, *added]


def _volume(config: ExtraVolume) -> k8s.Volume:
    if config.config_map is not None:
        return k8s.Volume(name=config.name, config_map=k8s.ConfigMapVolumeSource(name=config.config_map.name))
    if config.secret is not None:
        return k8s.Volume(name=config.name, secret=k8s.SecretVolumeSource(secret_name=config.secret.secret_name))
    if config.empty_dir is not None:
        scratch = config.empty_dir
        source = k8s.EmptyDirVolumeSource(size_limit=quantity(scratch.size_limit), medium=scratch.medium or None)
        return k8s.Volume(name=config.name, empty_dir=source)
    if config.persistent_volume_claim is not None:
        claim = config.persistent_volume_claim
        source = k8s.PersistentVolumeClaimVolumeSource(claim_name=claim.claim_name, read_only=claim.read_only or None)
        return k8s.Volume(name=config.name, persistent_volume_claim=source)
    csi = required(config.csi, f"server.extra_volumes[{config.name}].csi")
    attributes = dict(csi.volume_attributes) or None
    return k8s.Volume(
        name=config.name,
        csi=k8s.CsiVolumeSource(driver=csi.driver, read_only=csi.read_only, volume_attributes=attributes),
    )


def extra_annotations(config: Server) -> dict[str, str]:
    """The server Deployment's record of what was added by hand (what ``python app.py explain`` shows)."""
    found = {EXTRA_ENV_ANNOTATION: ",".join(config.extra_env)}
    found[EXTRA_VOLUMES_ANNOTATION] = ",".join(volume.name for volume in config.extra_volumes)
    return {key: value for key, value in found.items() if value}


def extra_prerequisites(config: Server) -> list[str]:
    """The Secrets, ConfigMaps and claims ``server.extra_env`` and ``extra_volumes`` read, which the user creates."""
    found = []
    for value in config.extra_env.values():
        if isinstance(value, EnvFrom) and value.secret_key_ref is not None:
            found.append(f"Secret/{value.secret_key_ref.name}")
        if isinstance(value, EnvFrom) and value.config_map_key_ref is not None:
            found.append(f"ConfigMap/{value.config_map_key_ref.name}")
    for volume in config.extra_volumes:
        found += [f"ConfigMap/{volume.config_map.name}"] if volume.config_map else []
        found += [f"Secret/{volume.secret.secret_name}"] if volume.secret else []
        claim = volume.persistent_volume_claim
        found += [f"PersistentVolumeClaim/{claim.claim_name}"] if claim else []
    return sorted(set(found))
