#!/usr/bin/env bash
# Installs what tests/docs/test_diagrams.py needs (part of `make tools`): the npm packages of
# tests/docs/package.json (mermaid, playwright-core) from the lock file. Chromium is the Debian package
# tests/runtime/setup.sh installs (/usr/bin/chromium); `npx playwright install` is not needed.
# Idempotent: `npm ci` runs only when node_modules is missing or older than the lock file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v npm >/dev/null 2>&1; then
  echo "WARNING: npm not found; the diagram tests will be skipped" >&2
  exit 0
fi
if [ ! -d "$here/node_modules/mermaid" ] || [ ! -d "$here/node_modules/playwright-core" ] \
  || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "npm ci (tests/docs)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "npm packages present (tests/docs)"
fi
