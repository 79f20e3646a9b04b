#!/usr/bin/env bash
# Builds helm from the Go module proxy into a cache outside the repository, keyed by version, as
# build-control-plane.sh does for the control plane. A warm cache returns at once. The chart in
# deploy/helm/kubeusers is checked with it (helm lint, helm template, an install against the real
# apiserver). The build uses a small wrapper module that requires helm.sh/helm/v3 (as `go install`
# would resolve it: helm's go.mod has no replace directives), so the packages can be counted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=build-lib.sh
. "$here/build-lib.sh"
label=helm
steps=2
cache=${KUBEUSERS_CACHE:-$HOME/.cache/kubeusers}
out="$cache/helm/v$HELM_VERSION"

if [ -x "$out/bin/helm" ]; then echo "helm: cached in $out/bin"; exit 0; fi

command -v go >/dev/null || { echo "helm: Go is missing; install Go 1.26 or newer (the toolchain that builds helm $HELM_VERSION)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}
work=$(mktemp -d "${TMPDIR:-/tmp}/kubeusers-helm.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/bin.partial"
echo "helm: not cached; building helm $HELM_VERSION into $out (cold: 3-8 min on 2 cores; a progress line every ${progress_every} s)"

step "resolving and downloading helm.sh/helm/v3 v$HELM_VERSION and its modules"
modfile=$( (cd "$work" && go mod download -json "helm.sh/helm/v3@v$HELM_VERSION") | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -s "$modfile" ] || { echo "helm: could not fetch helm.sh/helm/v3 v$HELM_VERSION from the Go module proxy" >&2; exit 1; }
cat > "$work/go.mod" <<MOD
module kubeusers.local/helm

$(grep -m1 '^go ' "$modfile")

require helm.sh/helm/v3 v$HELM_VERSION
MOD
cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "helm.sh/helm/v3/cmd/helm"
GO
(cd "$work" && go mod tidy 2>&1) | count_downloads

step "compiling helm $HELM_VERSION, then linking it"
# As helm's Makefile does: its version, and the Kubernetes version of its client libraries as the
# default for `helm template` and `helm lint` (otherwise 1.20, which a chart's kubeVersion refuses).
client_go=$(cd "$work" && go list -m -f '{{.Version}}' k8s.io/client-go) # v0.M.P
IFS=. read -r _ k8s_minor _ <<<"$client_go"
ld="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
done
total=$(cd "$work" && go list -deps helm.sh/helm/v3/cmd/helm | wc -l)
(cd "$work" && go build -v -trimpath -ldflags "$ld" -o "$out/bin.partial/helm" helm.sh/helm/v3/cmd/helm 2>&1) |
  count_packages "$total"

rm -rf "${out:?}/bin" && mv "$out/bin.partial" "$out/bin"
echo "helm: built in $(elapsed) into $out/bin"
