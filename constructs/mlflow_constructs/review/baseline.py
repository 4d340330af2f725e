"""The previous output to compare with: ``dist/`` as it is on disk, or as it is at a git revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.review.environments import output_files, outputs_in
from mlflow_constructs.synth import OUTPUT_SUFFIX


class DirectoryBaseline:
    """The files in ``outdir`` now."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir

    def names(self) -> list[str]:
        return sorted(outputs_in(self.outdir))

    def text(self, name: str) -> str | None:
        path = outputs_in(self.outdir).get(name)
        return path.read_text() if path else None

    def describe(self, name: str) -> str:
        path = outputs_in(self.outdir).get(name)
        return _relative(path or self.outdir / f"{name}{OUTPUT_SUFFIX}")


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

    def _files(self) -> dict[str, str]:
        """Environment name -> path in the repository at ``rev``."""
        listing = self._git(self.top, "ls-tree", "-r", "--name-only", self.rev, f"{self.prefix}/") or ""
        relative = [line.removeprefix(f"{self.prefix}/") for line in listing.splitlines()]
        return {name: f"{self.prefix}/{path}" for name, path in output_files(relative).items()}

    def names(self) -> list[str]:
        return sorted(self._files())

    def text(self, name: str) -> str | None:
        path = self._files().get(name)
        return self._git(self.top, "show", f"{self.rev}:{path}") if path else None

    def describe(self, name: str) -> str:
        return f"{self.rev}:{self._files().get(name, f'{self.prefix}/{name}{OUTPUT_SUFFIX}')}"


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)
