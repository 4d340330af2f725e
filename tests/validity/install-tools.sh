#!/usr/bin/env bash
# Installs the external tools the validity tests call under .tools/, each on its own so their dependencies
# cannot clash with the project's pinned packages:
#   - checkov in a virtual environment of its own (.tools/checkov);
#   - actionlint, the GitHub Actions workflow linter, built from its Go module (.tools/actionlint), when Go is
#     installed (it checks examples/ci/gitops-check.yml; it runs shellcheck on the `run:` scripts when that is
#     on PATH).
# Idempotent: a tool already installed at the pinned version is left alone.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ACTIONLINT_VERSION="v1.7.12"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${TOOLS_DIR:-$repo/.tools}"
python="${PYTHON:-python3}"

venv="$tools/checkov"
if [ -x "$venv/bin/checkov" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null)" = "$CHECKOV_VERSION" ]; then
  echo "checkov $CHECKOV_VERSION already installed in $venv"
else
  echo "installing checkov $CHECKOV_VERSION into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  "$venv/bin/checkov" --version
fi

bin="$tools/actionlint"
if [ -x "$bin/actionlint" ] && [ "$("$bin/actionlint" -version 2>/dev/null | head -n 1)" = "$ACTIONLINT_VERSION" ]; then
  echo "actionlint $ACTIONLINT_VERSION already installed in $bin"
elif command -v go >/dev/null 2>&1; then
  echo "installing actionlint $ACTIONLINT_VERSION into $bin"
  GOBIN="$bin" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  "$bin/actionlint" -version | head -n 1
else
  echo "WARNING: go not found; actionlint not installed (the workflow lint test will be skipped)"
fi
