"""The synthesis cache: an environment whose inputs did not change is written from ``.cache/synth/`` instead of
being synthesized again (a GitOps repository re-synthesizes every environment on every change; most of them
did not change).

An entry is keyed on everything the output is made of: the environment's name and config file bytes, every
file of this package as it is used (its modules, the schema scripts, the CRD bindings under ``imports/``) and
``app.py``, the versions of the libraries that build and print the objects, and the node binary jsii runs.
A hit is the bytes a miss wrote, so the output is the same either way; ``check`` compares ``dist/`` with
them just as it does with a fresh synthesis. An environment's page (``docs/environments/<env>.md``) is kept
the same way, keyed on the manifests it describes and the path it names. Entries are written atomically (a
temporary file renamed into place), so concurrent runs only ever read whole entries; an entry whose checksum
does not match is a miss.

``--no-cache`` or ``MLFLOW_K8S_SYNTH_CACHE=off`` turns it off; ``MLFLOW_K8S_SYNTH_CACHE=<folder>`` moves it.
Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CACHE_ENV = "MLFLOW_K8S_SYNTH_CACHE"
CACHE_DIR = Path(".cache") / "synth"
# The distributions whose code builds, resolves or prints the objects.
DEPENDENCIES = ("cdk8s", "cdk8s-plus-27", "constructs", "jsii", "pydantic", "pyyaml")
# Bumped when the entry format or what a key covers changes.
FORMAT = "1"
PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class SynthCache:
    """Synthesized files by key, in ``folder``; ``fingerprint`` covers everything but the environment itself."""

    folder: Path
    fingerprint: str

    def key(self, name: str, config: bytes) -> str:
        return hashlib.sha256(f"{self.fingerprint}\0{name}\0".encode() + config).hexdigest()

    def restore(self, key: str, target: Path) -> bool:
        """Write the entry ``key`` to ``target``; ``False`` (nothing written) when there is no whole entry."""
        data = self.read(key)
        if data is None:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return True

    def store(self, key: str, source: Path) -> None:
        """Keep ``source`` (a file synthesis just wrote) as the entry ``key``."""
        self.write(key, source.read_bytes())

    def read(self, key: str) -> bytes | None:
        """The entry ``key``, or ``None`` when there is no whole entry."""
        try:
            digest, _, data = (self.folder / key).read_bytes().partition(b"\n")
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest().encode() == digest else None

    def write(self, key: str, data: bytes) -> None:
        """Keep ``data`` as the entry ``key`` (atomically: a reader sees the whole entry or none)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():  # out of `git status` wherever it is (`mlflow-k8s` writes it into your repository)
            ignore.write_text("*\n")
        fd, temporary = tempfile.mkstemp(prefix=f".{key}-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
            os.replace(temporary, self.folder / key)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def cache_for(root: Path, *, disabled: bool = False) -> SynthCache | None:
    """The cache of the project at ``root`` (``.cache/synth/``), or ``None`` when ``disabled`` (``--no-cache``) or
    turned off by ``MLFLOW_K8S_SYNTH_CACHE``."""
    setting = os.environ.get(CACHE_ENV, "")
    if disabled or setting.lower() in ("off", "0", "false", "no"):
        return None
    return SynthCache(Path(setting) if setting else root / CACHE_DIR, fingerprint(root / "app.py"))


@cache
def fingerprint(app: Path) -> str:
    """A hash of everything but the environment that synthesis output depends on (see the module docstring)."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for path in [*_package_files(), app]:
        if path.is_file():
            digest.update(f"{path.relative_to(PACKAGE.parent) if path != app else 'app.py'}\n".encode())
            digest.update(path.read_bytes())
    for name in DEPENDENCIES:
        digest.update(f"{name}=={importlib.metadata.version(name)}\n".encode())
    node = shutil.which(os.environ.get("JSII_NODE", "node"))
    if node:  # its path, size and time stand for its version without starting it
        stat = Path(node).resolve().stat()
        digest.update(f"node {Path(node).resolve()} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    digest.update(f"python {sys.version}\n".encode())
    return digest.hexdigest()


def _package_files() -> list[Path]:
    """Every file of this package (through the ``imports`` link to the CRD bindings), bytecode aside."""
    files = []
    for folder, dirs, names in os.walk(PACKAGE, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files.extend(Path(folder, name) for name in sorted(names) if not name.endswith(".pyc"))
    return files
