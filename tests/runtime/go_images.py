"""Go programs standing in for Go images: ``ImageSpec``s of images.py with ``go_install``.

Each is built once with ``go install <module>@<tag>`` (through the Go module proxy; ``go_version``
instead of the tag where the tag is no module version, as MinIO's and mc's), statically, into
``<runtime dir>/images/<name>/<version>/bin/`` (keyed by version), with the version stamped where the
module reads it from ``pkg/version.VERSION`` as OAuth2-Proxy's Makefile does (MinIO and mc report
``DEVELOPMENT.GOGET``). ``setup.sh`` runs this module; ``pod_images.py`` maps the image reference to the
binary.

    python tests/runtime/go_images.py          # build what is missing
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import venvs


@dataclass(frozen=True)
class GoImage:
    ref: str
    module: str
    version: str
    program: str
    bin_dir: Path

    @property
    def binary(self) -> Path:
        return self.bin_dir / self.program

    def is_ready(self) -> bool:
        return self.binary.exists()


def go_images() -> dict[str, GoImage]:
    """Image reference -> its Go build, for every ImageSpec with ``go_install``."""
    module = venvs._load_images_module()
    found = {}
    for spec in vars(module).values():
        if isinstance(spec, module.ImageSpec) and spec.go_install:
            program = spec.go_install.rstrip("/").split("/")[-1]
            if program.startswith("v") and program[1:].isdigit():  # .../oauth2-proxy/v7 builds `oauth2-proxy`
                program = spec.go_install.rstrip("/").split("/")[-2]
            version = spec.go_version or spec.tag
            bin_dir = venvs.RUNTIME_DIR / "images" / spec.name / version / "bin"
            found[spec.ref] = GoImage(spec.ref, spec.go_install, version, program, bin_dir)
    return found


def missing_go_images() -> list[GoImage]:
    return [image for image in go_images().values() if not image.is_ready()]


def build(image: GoImage) -> None:
    go = shutil.which("go")
    if not go:
        raise SystemExit(f"go is not installed: cannot build {image.module}@{image.version} for {image.ref}")
    image.bin_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(image.bin_dir), "CGO_ENABLED": "0"}
    ldflags = f"-X {image.module}/pkg/version.VERSION={image.version}"
    cmd = [go, "install", f"-ldflags={ldflags}", f"{image.module}@{image.version}"]
    print("+ GOBIN=" + str(image.bin_dir), "CGO_ENABLED=0", " ".join(cmd), flush=True)
    subprocess.run(cmd, env=env, check=True)


def main() -> int:
    for image in go_images().values():
        if image.is_ready():
            print(f"{image.ref}: {image.binary} present")
            continue
        build(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
