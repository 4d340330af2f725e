"""Materialize a pod's volumes as host directories, and plan the container's mounts.

Supported volume types (best effort where noted):

- ``emptyDir`` (``medium: Memory`` and ``sizeLimit`` are ignored: a plain directory, mode 0777 like
  the kubelet's).
- ``configMap`` / ``secret``: every key (or only ``items``, with ``path`` and ``mode``) as a file,
  ``defaultMode`` (default 0644), ``optional``. Real kubelets write through ``..data`` symlinks; here
  the files are plain.
- ``projected``: ``configMap``, ``secret``, ``downwardAPI`` and ``serviceAccountToken`` sources (the
  token is a fake JWT-shaped string, or the one a real API server issued: see ``pod_env.ApiServer``).
- ``downwardAPI``: ``fieldRef`` and ``resourceFieldRef`` items.
- ``persistentVolumeClaim`` (and StatefulSet ``volumeClaimTemplates``): a directory that the caller can
  keep across pod runs (``pvc_dirs``) to simulate persistence.

With a pod ``fsGroup`` every volume is group-owned by it, group-readable (and group-writable unless
read-only) and its directories setgid, like the kubelet's volume ownership step. Without one, a
secret with ``defaultMode: 0400`` is unreadable to a non-root ``runAsUser``, as in a cluster.

``hostPath`` and anything else raise ``UnsupportedVolume``. configMap, secret, projected and
downwardAPI volumes are always mounted read-only, as the kubelet does.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pod_env import CreateContainerConfigError, ObjectStore, PodInfo, expand, mapping_func_for, resource_field

READ_ONLY_TYPES = ("configMap", "secret", "projected", "downwardAPI")
DEFAULT_MODE = 0o644


class UnsupportedVolume(RuntimeError):
    """A volume type the pod runner does not stand in for."""


@dataclass(frozen=True)
class Mount:
    """One bind mount into the sandbox."""

    source: Path
    target: str
    read_only: bool


def _safe_relpath(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise CreateContainerConfigError(f"invalid volume item path {path!r}")
    return rel


def _write(root: Path, rel: str, data: bytes, mode: int) -> None:
    target = root / _safe_relpath(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    os.chmod(target, mode)


def _write_keys(
    root: Path, data: dict[str, bytes], items: list[dict] | None, *, default_mode: int, what: str, optional: bool
) -> None:
    if items:
        for item in items:
            if item["key"] not in data:
                if optional:
                    continue
                raise CreateContainerConfigError(f"{what}: key {item['key']!r} not found")
            _write(root, item["path"], data[item["key"]], item.get("mode", default_mode))
    else:
        for key, value in data.items():
            _write(root, key, value, default_mode)


def _fake_token(pod: PodInfo, audience: str | None) -> bytes:
    def b64(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": f"system:serviceaccount:{pod.namespace}:{pod.service_account}",
        "aud": [audience or "https://kubernetes.default.svc.cluster.local"],
    }
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.fake".encode()


class VolumeSet:
    """The pod's volumes, materialized under ``root`` (one directory per volume)."""

    def __init__(
        self,
        pod_spec: dict,
        store: ObjectStore,
        pod: PodInfo,
        root: Path,
        *,
        pvc_dirs: dict[str, Path] | None = None,
        containers: list[dict] | None = None,
        fs_group: int | None = None,
    ) -> None:
        self.store = store
        self.pod = pod
        self.root = Path(root)
        self.pvc_dirs = dict(pvc_dirs or {})
        self.containers = containers or []
        self.dirs: dict[str, Path] = {}
        self.types: dict[str, str] = {}
        for volume in pod_spec.get("volumes") or []:
            self._materialize(volume)
            if fs_group is not None:
                self._apply_fs_group(volume["name"], fs_group)

    # -- building ---------------------------------------------------------------------------------
    def _materialize(self, volume: dict) -> None:
        name = volume["name"]
        kinds = [k for k in volume if k != "name"]
        if len(kinds) != 1:
            raise UnsupportedVolume(f"volume {name}: expected exactly one source, got {kinds}")
        kind = kinds[0]
        spec = volume[kind] or {}
        if kind == "persistentVolumeClaim":
            claim = spec["claimName"]
            path = self.pvc_dirs.setdefault(claim, self.root / "pvc" / claim)
            path.mkdir(parents=True, exist_ok=True)
            self.dirs[name], self.types[name] = Path(path), kind
            return
        path = self.root / "volumes" / name
        path.mkdir(parents=True, exist_ok=False)
        if kind == "emptyDir":
            os.chmod(path, 0o777)
        elif kind in ("configMap", "secret"):
            self._key_volume(path, kind, spec, spec.get("defaultMode", DEFAULT_MODE), f"volume {name}")
        elif kind == "projected":
            default_mode = spec.get("defaultMode", DEFAULT_MODE)
            for source in spec.get("sources") or []:
                self._projected_source(path, source, default_mode, f"volume {name}")
        elif kind == "downwardAPI":
            self._downward(path, spec.get("items") or [], spec.get("defaultMode", DEFAULT_MODE))
        else:
            raise UnsupportedVolume(f"volume {name}: type {kind!r} is not supported by the pod runner")
        if kind in READ_ONLY_TYPES:
            os.chmod(path, 0o755)
        self.dirs[name], self.types[name] = path, kind

    def _apply_fs_group(self, name: str, fs_group: int) -> None:
        """What the kubelet does for ``fsGroup``: group-own everything, add group read (and write for
        writable volumes), setgid on directories."""
        mask = 0o440 if self.types[name] in READ_ONLY_TYPES else 0o660
        root = self.dirs[name]
        for path in [root, *root.rglob("*")]:
            mode = path.stat().st_mode & 0o7777
            extra = mask | 0o2000 | 0o110 if path.is_dir() else mask
            os.chown(path, -1, fs_group)
            os.chmod(path, mode | extra)

    def _key_volume(self, path: Path, kind: str, spec: dict, default_mode: int, what: str) -> None:
        obj_name = spec.get("name") or spec.get("secretName") or ""
        data = self.store.configmap(obj_name) if kind == "configMap" else self.store.secret(obj_name)
        optional = bool(spec.get("optional", False))
        if data is None:
            if optional:
                return
            raise CreateContainerConfigError(f"{what}: {kind} {obj_name!r} not found")
        _write_keys(
            path,
            data,
            spec.get("items"),
            default_mode=default_mode,
            what=f"{what}: {kind} {obj_name!r}",
            optional=optional,
        )

    def _projected_source(self, path: Path, source: dict, default_mode: int, what: str) -> None:
        if "configMap" in source:
            self._key_volume(path, "configMap", source["configMap"], default_mode, what)
        elif "secret" in source:
            self._key_volume(path, "secret", source["secret"], default_mode, what)
        elif "downwardAPI" in source:
            self._downward(path, source["downwardAPI"].get("items") or [], default_mode)
        elif "serviceAccountToken" in source:
            token = source["serviceAccountToken"]
            api = self.store.api_server
            issued = api.tokens.get(self.pod.service_account) if api else None
            value = issued.encode() if issued else _fake_token(self.pod, token.get("audience"))
            _write(path, token["path"], value, default_mode)
        else:
            raise UnsupportedVolume(f"{what}: projected source {sorted(source)} not supported")

    def _downward(self, path: Path, items: list[dict], default_mode: int) -> None:
        for item in items:
            if "fieldRef" in item:
                value = self.pod.field(item["fieldRef"]["fieldPath"])
            else:
                ref = item["resourceFieldRef"]
                container = next(
                    (c for c in self.containers if c.get("name") == ref.get("containerName")),
                    self.containers[0] if self.containers else {},
                )
                value = resource_field(container, ref)
            _write(path, item["path"], value.encode(), item.get("mode", default_mode))

    # -- mounting ---------------------------------------------------------------------------------
    @staticmethod
    def _make_subpath_dir(volume_root: Path, path: Path) -> None:
        """The kubelet creates a missing subPath as directories with the volume root's mode (0777 for
        an emptyDir), whatever the umask, so any runAsUser can write there."""
        mode = volume_root.stat().st_mode & 0o7777
        missing = [p for p in [path, *path.parents] if not p.exists() and volume_root in p.parents]
        for directory in reversed(missing):
            directory.mkdir()
            os.chmod(directory, mode)

    def mounts_for(self, container: dict, env: dict[str, str]) -> list[Mount]:
        """The container's ``volumeMounts`` as bind mounts, parents before children."""
        mounts = []
        for vm in container.get("volumeMounts") or []:
            name = vm["name"]
            if name not in self.dirs:
                raise CreateContainerConfigError(f"container {container.get('name')}: no volume {name!r}")
            source = self.dirs[name]
            sub = vm.get("subPath") or ""
            if vm.get("subPathExpr"):
                sub = expand(vm["subPathExpr"], mapping_func_for(env))
            if sub:
                source = source / _safe_relpath(sub)
                if not source.exists():
                    if self.types[name] in READ_ONLY_TYPES:
                        raise CreateContainerConfigError(
                            f"container {container.get('name')}: subPath {sub!r} not in volume {name!r}"
                        )
                    self._make_subpath_dir(self.dirs[name], source)
            read_only = bool(vm.get("readOnly", False)) or self.types[name] in READ_ONLY_TYPES
            mounts.append(Mount(source=source, target=vm["mountPath"], read_only=read_only))
        return sorted(mounts, key=lambda m: len(PurePosixPath(m.target).parts))
