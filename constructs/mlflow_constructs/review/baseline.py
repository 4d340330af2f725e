"""The previous output to compare with: ``dist/`` as it is on disk, or as it is at a git revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.review.environments import output_file, output_names


class DirectoryBaseline:
    """The files in ``outdir`` now."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir

    def names(self) -> list[str]:
        return output_names([p.name for p in self.outdir.iterdir()]) if self.outdir.is_dir() else []

    def text(self, name: str) -> str | None:
        path = output_file(self.outdir, name)
        return path.read_text() if path.is_file() else None

    def describe(self, name: str) -> str:
        return _relative(output_file(self.outdir, name))


class GitBaseline:
    """The files of ``outdir`` at git revision ``rev`` (``git show REV:<path>``)."""

    def __init__(self, outdir: Path, rev: str) -> None:
        self.rev = rev
        anchor = outdir.resolve()
        while not anchor.is_dir():  # outdir may not exist in the work tree
            anchor = anchor.parent
        top = self._git(anchor, "rev-parse", "--show-toplevel")
        if top is None:
            raise ConfigError(f"--base {rev}: {anchor} is not inside a git repository")
        self.top = Path(top.strip())
        if self._git(self.top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}") is None:
            raise ConfigError(f"--base {rev}: no such git revision")
        self.prefix = outdir.resolve().relative_to(self.top.resolve()).as_posix()

    @staticmethod
    def _git(cwd: Path, *args: str) -> str | None:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
        return result.stdout if result.returncode == 0 else None

    def _path(self, name: str) -> str:
        return output_file(Path(self.prefix), name).as_posix()

    def names(self) -> list[str]:
        listing = self._git(self.top, "ls-tree", "--name-only", self.rev, f"{self.prefix}/") or ""
        return output_names([line.rsplit("/", 1)[-1] for line in listing.splitlines()])

    def text(self, name: str) -> str | None:
        return self._git(self.top, "show", f"{self.rev}:{self._path(name)}")

    def describe(self, name: str) -> str:
        return f"{self.rev}:{self._path(name)}"


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)
