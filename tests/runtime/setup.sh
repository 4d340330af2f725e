#!/usr/bin/env bash
# Prepare this machine for the runtime tests (tests/runtime/). Idempotent; safe in CI as root.
#
#   - bubblewrap (the pod runner's sandbox) and busybox (stands in for busybox/alpine images) (apt)
#   - PostgreSQL 16, the bundled image's major, into <runtime dir>/postgresql-16/: Debian 12's apt has
#     15 only, so the build inside PyPI's pgserver wheel (PG_WHEEL, PostgreSQL 16.2) is unpacked there
#   - one venv per ImageSpec in constructs/mlflow_constructs/images.py, plus a test-client venv and the
#     old releases the upgrade scenarios start from (venvs.OLD_RELEASES), under <repo>/.runtime/venvs/,
#     or $MLFLOW_K8S_RUNTIME_DIR/venvs (see tests/runtime/venvs.py)
#   - the programs of Go images (OAuth2-Proxy; MinIO and mc at the pseudo-versions images.py names), built
#     with `go install <module>@<version>` into <runtime dir>/images/<name>/<version>/bin/ (go_images.py);
#     Go from the machine, or apt's golang-go
#   - Redis (redis-server, stands in for the redis image), Chromium (driven by Playwright in the
#     browser scenarios) and nginx (Ingress-NGINX's data plane, nginx_ingress.py) from apt
#   - npm packages of tests/runtime/package.json (oidc-provider, playwright-core) from the lock file
#
# Usage: bash tests/runtime/setup.sh [--no-venvs] [--no-npm]
set -euo pipefail

# Everything is in main() so bash parses the whole file before running any of it.
main() {

  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  REPO="$(cd "$HERE/../.." && pwd)"
  DO_VENVS=1
  DO_NPM=1
  for arg in "$@"; do
    case "$arg" in
      --no-venvs) DO_VENVS=0 ;;
      --no-npm) DO_NPM=0 ;;
      *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
  done

  started=$(date +%s)
  log() { echo "[runtime-setup +$(( $(date +%s) - started ))s] $*"; }

  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

  apt_packages=()
  command -v bwrap >/dev/null 2>&1 || apt_packages+=(bubblewrap)
  command -v busybox >/dev/null 2>&1 || apt_packages+=(busybox)
  [ -x /usr/bin/redis-server ] || apt_packages+=(redis-server)
  [ -x /usr/bin/chromium ] || apt_packages+=(chromium)
  [ -x /usr/sbin/nginx ] || apt_packages+=(nginx)
  command -v go >/dev/null 2>&1 || apt_packages+=(golang-go)
  if [ ${#apt_packages[@]} -gt 0 ]; then
    log "apt-get install ${apt_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y --no-install-recommends "${apt_packages[@]}"; then
      $SUDO apt-get update
      $SUDO apt-get install -y --no-install-recommends "${apt_packages[@]}"
    fi
    # Likewise the Debian redis-server service (it would hold 6379, the Redis Service port).
    if [[ " ${apt_packages[*]} " == *" redis-server "* ]]; then
      $SUDO systemctl stop redis-server 2>/dev/null || $SUDO service redis-server stop 2>/dev/null || true
      $SUDO systemctl disable redis-server 2>/dev/null || true
    fi
    # And the Debian nginx service (port 80); the tests start nginx with a configuration of their own.
    if [[ " ${apt_packages[*]} " == *" nginx "* ]]; then
      $SUDO systemctl stop nginx 2>/dev/null || $SUDO service nginx stop 2>/dev/null || true
      $SUDO systemctl disable nginx 2>/dev/null || true
    fi
  else
    log "apt packages present (bwrap, busybox, redis, chromium, nginx, go)"
  fi

  # busybox applets for images like busybox/alpine (pod_images.py): PATH=<dir> gives busybox semantics.
  RUNTIME_DIR="${MLFLOW_K8S_RUNTIME_DIR:-$REPO/.runtime}"
  BUSYBOX_DIR="$RUNTIME_DIR/images/busybox/bin"
  if [ ! -e "$BUSYBOX_DIR/sh" ]; then
    mkdir -p "$BUSYBOX_DIR"
    "$(command -v busybox)" --install -s "$BUSYBOX_DIR"
    log "busybox applets in $BUSYBOX_DIR"
  fi

  # PostgreSQL 16 (postgres.py): the server and client programs of the pgserver wheel, readable by the
  # postgres user the tests run the server as.
  PG_DIR="$RUNTIME_DIR/postgresql-16"
  PG_WHEEL="pgserver==0.1.4"
  if [ ! -x "$PG_DIR/bin/initdb" ]; then
    PY="$(command -v python3.11 || command -v python3)"
    wheel_dir="$(mktemp -d)"
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.11 --platform manylinux2014_x86_64 -d "$wheel_dir" "$PG_WHEEL"
    "$PY" - "$wheel_dir"/pgserver-*.whl "$PG_DIR" <<'PY'
import sys, zipfile
from pathlib import Path
# The programs find their libraries at $ORIGIN/../../../pgserver.libs: keep the wheel's layout.
wheel, target = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member.startswith(("pgserver/pginstall/", "pgserver.libs/")) and not member.endswith("/"):
            path = target / member
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(member))
            path.chmod(0o755 if member.startswith("pgserver/pginstall/bin/") else 0o644)
(target / "bin").symlink_to("pgserver/pginstall/bin")
PY
    rm -rf "$wheel_dir"
    chmod -R a+rX "$PG_DIR"
    log "PostgreSQL $("$PG_DIR/bin/postgres" --version) in $PG_DIR"
  fi

  # Keep .runtime/ out of git.
  if ! grep -qxF '.runtime/' "$REPO/.gitignore" 2>/dev/null; then
    echo '.runtime/' >> "$REPO/.gitignore"
    log "added .runtime/ to .gitignore"
  fi

  if [ "$DO_VENVS" = 1 ]; then
    PY="$(command -v python3.11 || command -v python3)"
    log "building venvs (driver: $PY)"
    "$PY" "$HERE/venvs.py"
  fi

  # Go images (OAuth2-Proxy, MinIO, mc): one build per version; a Go older than the module's `go` line fetches
  # the toolchain it names through the module proxy (GOTOOLCHAIN=auto, the default).
  if [ "$DO_VENVS" = 1 ]; then
    PY="$(command -v python3.11 || command -v python3)"
    log "Go images"
    "$PY" "$HERE/go_images.py"
  fi

  if [ "$DO_NPM" = 1 ]; then
    if command -v npm >/dev/null 2>&1; then
      if [ ! -d "$HERE/node_modules/oidc-provider" ] || [ ! -d "$HERE/node_modules/playwright-core" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
        log "npm ci (tests/runtime)"
        (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
      else
        log "npm packages present"
      fi
    else
      log "WARNING: npm not found; OIDC scenarios will be skipped"
    fi
  fi

  log "done"
}

main "$@"
