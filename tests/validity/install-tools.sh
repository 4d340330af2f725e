#!/usr/bin/env bash
# Installs the external tools the validity tests call, each in its own virtual environment under
# .tools/ so their many dependencies cannot clash with the project's pinned packages.
# Idempotent: a tool already installed at the pinned version is left alone.
set -euo pipefail

CHECKOV_VERSION="3.3.30"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${TOOLS_DIR:-$repo/.tools}"
python="${PYTHON:-python3}"

venv="$tools/checkov"
if [ -x "$venv/bin/checkov" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null)" = "$CHECKOV_VERSION" ]; then
  echo "checkov $CHECKOV_VERSION already installed in $venv"
  exit 0
fi

echo "installing checkov $CHECKOV_VERSION into $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
"$venv/bin/checkov" --version
