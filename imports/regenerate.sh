#!/usr/bin/env bash
# Regenerates the cdk8s Python bindings in imports/ from the CRD manifests in
# crds/ (override with CRDS_DIR). See imports/README.md.
#
#   npm ci                                  # once: installs the pinned cdk8s-cli
#   bash imports/regenerate.sh              # all modules
#   bash imports/regenerate.sh sealedsecrets cnpg_databases   # only these
#
# Each module is one `cdk8s import NAME:=FILE` (the NAME:= prefix keeps CRDs
# of the same API group, e.g. the three external-secrets.io ones, from
# overwriting each other). The CRD files are only read, never modified.
set -euo pipefail
cd "$(dirname "$0")/.."
CRDS_DIR="${CRDS_DIR:-crds}"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

# module name -> CRD file
declare -A CRD=(
  [externalsecrets]=external-secrets.io_externalsecrets.yaml
  [secretstores]=external-secrets.io_secretstores.yaml
  [sealedsecrets]=bitnami.com_sealedsecrets.yaml
  [servicemonitors]=monitoring.coreos.com_servicemonitors.yaml
  [ingressroutes]=traefik.io_ingressroutes.yaml
  [middlewares]=traefik.io_middlewares.yaml
  [httproutes]=gateway.networking.k8s.io_httproutes.yaml
  [cnpg_clusters]=postgresql.cnpg.io_clusters.yaml
  [cnpg_databases]=postgresql.cnpg.io_databases.yaml
  [cnpg_scheduledbackups]=postgresql.cnpg.io_scheduledbackups.yaml
  [barman_objectstores]=barmancloud.cnpg.io_objectstores.yaml
)
ORDER=(externalsecrets secretstores sealedsecrets
       servicemonitors ingressroutes middlewares httproutes cnpg_clusters cnpg_databases
       cnpg_scheduledbackups barman_objectstores)

# jsii refuses properties named getXxx (JSII5000, Java getter clash; known
# cdk8s issue cdk8s-team/cdk8s#1323). The ESO SecretStore
# CRD has one: spec.provider.keepersecurity.getByTitleFallback. For those
# files we import a filtered copy (in a temp dir) without such properties.
NEEDS_FILTER=" secretstores "

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

strip_getters() { # in out
  node - "$1" "$2" <<'EOF'
const fs = require('fs');
const YAML = require(require.resolve('yaml', { paths: [require.resolve('cdk8s-cli/package.json')] }));
const [src, dst] = process.argv.slice(2);
const docs = YAML.parseAllDocuments(fs.readFileSync(src, 'utf8')).map(d => d.toJS());
const walk = (node, path) => {
  if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${path}[${i}]`)); return; }
  if (!node || typeof node !== 'object') return;
  if (node.properties && typeof node.properties === 'object' && !Array.isArray(node.properties)) {
    for (const key of Object.keys(node.properties)) {
      if (/^get[A-Z0-9_]/.test(key)) {
        delete node.properties[key];
        if (Array.isArray(node.required)) node.required = node.required.filter(r => r !== key);
        console.error(`  dropped property ${path}.properties.${key}`);
      }
    }
  }
  for (const [k, v] of Object.entries(node)) walk(v, `${path}.${k}`);
};
docs.forEach((d, i) => walk(d, `doc${i}`));
fs.writeFileSync(dst, docs.map(d => JSON.stringify(d)).join('\n---\n') + '\n');
EOF
}

modules=("$@")
[ ${#modules[@]} -eq 0 ] && modules=("${ORDER[@]}")
for m in "${modules[@]}"; do
  file="${CRD[$m]:?unknown module $m (known: ${ORDER[*]})}"
  src="$CRDS_DIR/$file"
  if [[ "$NEEDS_FILTER" == *" $m "* ]]; then
    strip_getters "$src" "$tmp/$file"
    src="$tmp/$file"
  fi
  echo "== $m <- $file"
  npx --no-install cdk8s import "$m:=$src" --language python --output imports \
    --no-save --no-check-upgrade
done
