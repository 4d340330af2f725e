#!/usr/bin/env bash
# Builds Helm 3 from its Go module into .tools/helm/ for `make bench-helm` (synthesis timed against
# `helm template`). Needs Go; not part of `make tools` (no test calls helm). Idempotent: a helm already
# built at the pinned version is left alone.
set -euo pipefail

HELM_VERSION="v3.21.4"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${TOOLS_DIR:-$repo/.tools}"
bin="$tools/helm"
if [ -x "$bin/helm" ] && "$bin/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  echo "helm $HELM_VERSION already installed in $bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "error: go not found; install Go to build helm" >&2; exit 1; }
echo "installing helm $HELM_VERSION into $bin"
# helm's version string is set at link time in its release builds; a plain `go install` leaves it empty.
GOBIN="$bin" go install -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
"$bin/helm" version --short
