#!/usr/bin/env bash
# Build the real API server the tests in tests/apiserver/ run against. Idempotent.
#
#   kube-apiserver and kubectl from k8s.io/kubernetes, etcd from go.etcd.io/etcd/server/v3, all at the
#   versions pinned in tests/apiserver/build/go.mod (that module replaces the staging modules, which the
#   k8s.io/kubernetes module download does not carry, with their published versions), into
#   <repo>/.runtime/apiserver/<kubernetes version>/ (or $MLFLOW_K8S_RUNTIME_DIR/apiserver/...).
#
# A stamp file holds the hash of go.mod, go.sum, targets and link flags: binaries are rebuilt only when those change.
# First build ~40 minutes on 2 cores (modules downloaded once to ~/go/pkg/mod, objects cached in
# ~/.cache/go-build, so a rebuild takes about a minute); afterwards this script returns at once.
#
# Usage: bash tests/apiserver/install.sh [--print-dir]
set -euo pipefail

main() {
  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  REPO="$(cd "$HERE/../.." && pwd)"
  BUILD="$HERE/build"
  VERSION="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$BUILD/go.mod")"
  RUNTIME_DIR="${MLFLOW_K8S_RUNTIME_DIR:-$REPO/.runtime}"
  DEST="$RUNTIME_DIR/apiserver/$VERSION"
  if [ "${1:-}" = "--print-dir" ]; then echo "$DEST"; return; fi

  started=$(date +%s)
  log() { echo "[apiserver-install +$(( $(date +%s) - started ))s] $*"; }

  TARGETS=(
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver
    kubectl=k8s.io/kubernetes/cmd/kubectl
    etcd=go.etcd.io/etcd/server/v3
  )
  LDFLAGS="-s"
  # What `kubectl version` and /version report (a module build has no git tree to read it from).
  local x major minor
  IFS=. read -r major minor _ <<< "${VERSION#v}"
  for x in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDFLAGS+=" -X $x.gitVersion=$VERSION -X $x.gitMajor=$major -X $x.gitMinor=$minor -X $x.gitTreeState=clean"
  done
  stamp="$( (cat "$BUILD/go.mod" "$BUILD/go.sum"; echo "${TARGETS[*]} $LDFLAGS") | sha256sum | cut -d' ' -f1)"
  if [ -x "$DEST/kube-apiserver" ] && [ -x "$DEST/kubectl" ] && [ -x "$DEST/etcd" ] \
    && [ "$(cat "$DEST/.stamp" 2>/dev/null)" = "$stamp" ]; then
    log "kube-apiserver, kubectl and etcd $VERSION present in $DEST"
    return
  fi

  if ! command -v go >/dev/null 2>&1; then
    echo "go not found: install Go >= $(awk '$1 == "go" { print $2 }' "$BUILD/go.mod") (https://go.dev/dl/)" >&2
    exit 1
  fi
  # Keep .runtime/ out of git.
  if ! grep -qxF '.runtime/' "$REPO/.gitignore" 2>/dev/null; then
    echo '.runtime/' >> "$REPO/.gitignore"
  fi

  mkdir -p "$DEST"
  # -p=2: the build is memory hungry; two packages at a time fits a small machine and loses little.
  export GOFLAGS="-p=${GO_BUILD_PARALLEL:-2} -mod=readonly -buildvcs=false"
  cd "$BUILD"
  log "go mod download ($(go version | cut -d' ' -f3))"
  go mod download
  for target in "${TARGETS[@]}"; do
    name="${target%%=*}"
    log "go build $name (${target#*=})"
    go build -trimpath -ldflags="$LDFLAGS" -o "$DEST/$name.new" "${target#*=}"
    mv "$DEST/$name.new" "$DEST/$name"
  done
  echo "$stamp" > "$DEST/.stamp"
  log "done: $("$DEST/kube-apiserver" --version), $("$DEST/etcd" --version | head -1)"
}

main "$@"
