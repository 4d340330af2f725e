"""What an auth mode adds to the server pod and the migration Job (the handle auth constructs expose)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdk8s_plus_27 import k8s

from mlflow_constructs.k8s.pods import SecretRef
from mlflow_constructs.secrets.plugin_delivery import PluginDelivery


@dataclass(frozen=True)
class SchemaAddon:
    """The auth mode's own store for the schema scripts (default: none): ``store``, ``env`` and ``mounts`` for the
    server's schema gate and the migration Job, the ``migration_*`` fields for the Job alone."""

    store: str | None = None  # the Alembic history it adds beside the tracking store's (schema_scripts)
    env: tuple[k8s.EnvVar, ...] = ()  # what the schema scripts read to find that store
    mounts: tuple[k8s.VolumeMount, ...] = ()
    migration_env: tuple[k8s.EnvVar, ...] = ()  # settings only the migration Job's decisions read
    migration_init_containers: tuple[k8s.Container, ...] = ()  # run before the migration (e.g. render a config)
    migration_volumes: tuple[k8s.Volume, ...] = ()


@dataclass(frozen=True)
class ServerAddon:
    """Extra command, settings, env, volumes and containers for ``mlflow server`` (default: none), and what the
    schema gate and the migration Job need for the auth mode's store (``schema``). The plugin's delivery
    (``plugin``) and the config files whose change must roll pods (``checksum_inputs``) serve both."""

    app_name: str | None = None
    command: tuple[str, ...] = ("mlflow", "server")
    env: tuple[k8s.EnvVar, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)  # non-secret env, in the settings ConfigMap
    volumes: tuple[k8s.Volume, ...] = ()
    mounts: tuple[k8s.VolumeMount, ...] = ()
    init_containers: tuple[k8s.Container, ...] = ()
    liveness_path: str = "/health"
    readiness_path: str = "/health"
    startup_path: str = "/health"
    probes_follow_static_prefix: bool = True  # False for a plugin's routes, which --static-prefix does not move
    checksum_inputs: dict[str, Any] = field(default_factory=dict)  # config files whose change must roll pods
    plugin: PluginDelivery = field(default_factory=PluginDelivery)
    secret_keys: tuple[str, ...] = ()  # logical keys read from the environment's Secret
    schema: SchemaAddon = field(default_factory=SchemaAddon)
    secret_refs: tuple[SecretRef, ...] = ()  # keys of a Secret named in the auth mode's own section


NO_ADDON = ServerAddon()
