"""Which host programs stand in for a container image.

- Images declared as ``ImageSpec`` in ``constructs/mlflow_constructs/images.py`` run from their venv
  (``venvs.py``): the venv's ``bin`` comes first on ``PATH``. Image config (ENTRYPOINT, CMD, ENV,
  WORKDIR, USER) is read from the spec's Dockerfile when it has one; otherwise the official MLflow
  image's config is assumed (python:3.x-slim base: no ENTRYPOINT, root, WORKDIR /).
- Known helper images (``busybox``, ``alpine``, ``postgres``), used by wait-for-db style init
  containers, run host tools: busybox applets from ``.runtime/images/busybox/bin`` (made by
  ``setup.sh``, so busybox-only flags behave as in the image), and PostgreSQL 16 client binaries for
  ``postgres`` (the tag's major version is not checked; the image's server entrypoint is not
  reproduced: a postgres container without ``command`` is refused, run databases with postgres.py).
- Go images (``ImageSpec`` with ``go_install``: OAuth2-Proxy, MinIO, mc) run the program ``go_images.py``
  built from the same module (at the image's tag, or ``go_version``), as the image's ENTRYPOINT, also
  on ``PATH`` (the mc image's ``/bin/sh`` scripts call ``mc``; ``sh`` is the host's).
- ``redis`` images run the host's ``redis-server`` (Debian package, ``setup.sh``); the image's
  ``/bin/sh`` is busybox here, so shell commands behave as in the alpine variant.
- A pinned ``repo@sha256:...`` reference maps to the ImageSpec of that repository (digest unchecked).
- Any other image raises ``UnknownImage``: pass ``images={ref: ImageRuntime(...)}`` to ``run_pod`` to
  map it, or leave that container out with ``skip_containers``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import go_images
import venvs
from postgres import PG_BIN

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_BIN = venvs.RUNTIME_DIR / "images" / "busybox" / "bin"


class UnknownImage(LookupError):
    """No venv or helper mapping for a container image."""


@dataclass(frozen=True)
class ImageRuntime:
    """How one container image is stood in for on this machine (its runtime config)."""

    ref: str
    path: str = SYSTEM_PATH
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    workdir: str = "/"
    user: str = "0"
    ro_binds: tuple[Path, ...] = ()  # host paths the sandbox must see (venv, base interpreter)

    def argv(self, command: list[str], args: list[str]) -> list[str]:
        """Docker/Kubernetes rule: ``command`` replaces ENTRYPOINT (and drops CMD), ``args`` replace CMD."""
        if command:
            return [*command, *args]
        return [*self.entrypoint, *(args if args else self.cmd)]


def _split_image(ref: str) -> tuple[str, str]:
    """("docker.io/library/busybox:1.36", ...) -> ("busybox", "1.36")."""
    ref = ref.split("@", 1)[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    return name.rsplit("/", 1)[-1], tag


def parse_dockerfile(path: Path) -> dict:
    """ENV, WORKDIR, USER, ENTRYPOINT and CMD of the last stage of a Dockerfile (best effort)."""
    config: dict = {"env": {}, "workdir": None, "user": None, "entrypoint": None, "cmd": None}
    text = re.sub(r"\\\n", " ", path.read_text())
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        instr, rest = instr.upper(), rest.strip()
        if instr == "FROM":
            config = {"env": {}, "workdir": None, "user": None, "entrypoint": None, "cmd": None}
        elif instr == "ENV":
            if "=" in rest.split(" ", 1)[0]:
                for token in shlex.split(rest):
                    key, _, value = token.partition("=")
                    config["env"][key] = value
            else:
                key, _, value = rest.partition(" ")
                config["env"][key] = value.strip()
        elif instr == "WORKDIR":
            config["workdir"] = rest
        elif instr == "USER":
            config["user"] = rest
        elif instr in ("ENTRYPOINT", "CMD"):
            try:
                value = tuple(json.loads(rest))
            except json.JSONDecodeError:
                value = ("/bin/sh", "-c", rest)
            config[instr.lower()] = value
            if instr == "ENTRYPOINT":
                config["cmd"] = None  # a later ENTRYPOINT resets an inherited CMD
    return config


def _venv_runtime(venv: venvs.VenvSpec, dockerfile: str | None) -> ImageRuntime:
    env = {"LANG": "C.UTF-8"}  # python:3.x-slim base image ENV
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ("python3",)
    workdir, user = "/", "0"
    path = SYSTEM_PATH
    df_path = venvs.REPO_ROOT / dockerfile if dockerfile else None
    if df_path and df_path.exists():
        config = parse_dockerfile(df_path)
        env.update(config["env"])
        path = env.pop("PATH", path)
        entrypoint = config["entrypoint"] or ()
        cmd = config["cmd"] or (() if config["entrypoint"] else cmd)
        workdir = config["workdir"] or workdir
        user = config["user"] or user
    base_home = _venv_base_prefix(venv)
    ro_binds = (venv.path,) + ((base_home,) if base_home else ())
    return ImageRuntime(
        ref=venv.image_ref or venv.name,
        path=f"{venv.bin_dir}:{path}",
        env=env,
        entrypoint=entrypoint,
        cmd=cmd,
        workdir=workdir,
        user=user,
        ro_binds=ro_binds,
    )


def _venv_base_prefix(venv: venvs.VenvSpec) -> Path | None:
    """The base interpreter's installation prefix (from pyvenv.cfg), which the venv needs to run."""
    cfg = venv.path / "pyvenv.cfg"
    if not cfg.exists():
        return None
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).resolve().parent
    return None


def helper_runtime(ref: str) -> ImageRuntime | None:
    """Host stand-ins for small helper images, or None."""
    name, _tag = _split_image(ref)
    if name == "redis":
        # redis:<v>-alpine: busybox sh + redis-server/redis-cli; the host's Redis binaries stand in.
        if not Path("/usr/bin/redis-server").exists():
            raise UnknownImage(f"{ref}: redis-server missing; run tests/runtime/setup.sh")
        return ImageRuntime(
            ref=ref, path=f"{BUSYBOX_BIN}:/usr/bin", cmd=("redis-server",), ro_binds=(BUSYBOX_BIN.parent,)
        )
    if name in ("busybox", "alpine"):
        if not BUSYBOX_BIN.exists():
            raise UnknownImage(f"{ref}: busybox applets missing in {BUSYBOX_BIN}; run tests/runtime/setup.sh")
        return ImageRuntime(ref=ref, path=str(BUSYBOX_BIN), cmd=("sh",), ro_binds=(BUSYBOX_BIN.parent,))
    if name in ("postgres", "postgresql"):
        # Client tools only (pg_isready, psql): the image's server entrypoint is not reproduced, so a
        # container without a command is refused. Run databases with postgres.py instead.
        return ImageRuntime(ref=ref, path=f"{PG_BIN}:{SYSTEM_PATH}", env={"LANG": "C.UTF-8"}, ro_binds=(PG_BIN.parent,))
    return None


def _spec_ref_for(ref: str, specs: dict) -> str | None:
    """Match a pinned reference (``repo@sha256:...`` or ``repo:tag@sha256:...``) to an ImageSpec.

    The digest is not verified: the venv stands in for whatever the digest names. ``repo@digest``
    matches when exactly one ImageSpec has that repository.
    """
    if "@" not in ref:
        return None
    base = ref.split("@", 1)[0]
    if base in specs:
        return base
    candidates = [r for r, spec in specs.items() if f"{spec.registry}/{spec.name}" == base]
    return candidates[0] if len(candidates) == 1 else None


def resolve_image(ref: str, overrides: dict[str, ImageRuntime] | None = None) -> ImageRuntime:
    """The stand-in for ``ref``: caller overrides, then ImageSpec venvs, then helper images."""
    if overrides and ref in overrides:
        return overrides[ref]
    specs = {spec.ref: spec for spec in venvs.image_specs().values()}
    ref = _spec_ref_for(ref, specs) or ref
    if ref in specs:
        venv = venvs.venv_for_image(ref)
        assert venv is not None
        if not venv.is_ready():
            raise UnknownImage(f"{ref}: venv {venv.path} is not built; run tests/runtime/setup.sh")
        return _venv_runtime(venv, specs[ref].dockerfile)
    go_image = go_images.go_images().get(ref)
    if go_image is not None:
        if not go_image.is_ready():
            raise UnknownImage(f"{ref}: {go_image.binary} is not built; run tests/runtime/setup.sh")
        return ImageRuntime(
            ref=ref,
            path=f"{go_image.bin_dir}:{SYSTEM_PATH}",
            entrypoint=(str(go_image.binary),),
            user="65532",
            ro_binds=(go_image.bin_dir.parent,),
        )
    helper = helper_runtime(ref)
    if helper is not None:
        return helper
    known = ", ".join(sorted(specs)) or "none"
    raise UnknownImage(
        f"no stand-in for image {ref!r} (ImageSpec images: {known}; helpers: busybox, "
        "alpine, postgres, redis); pass images={...} or skip_containers={...}"
    )
