#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go module proxy
# into a cache outside the repository, keyed by version. A warm cache returns at once.
# Why wrapper modules: k8s.io/kubernetes replaces its staging modules with local paths,
# so `go install` refuses it; a module that requires it and pins each staging module works.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=build-lib.sh
. "$here/build-lib.sh"
label="control plane"
steps=5
cache=${KUBEUSERS_CACHE:-$HOME/.cache/kubeusers}
out="$cache/control-plane/k8s-v$KUBERNETES_VERSION-etcd-v$ETCD_VERSION"
bins=(etcd kube-apiserver kube-controller-manager kubectl)

have_all() { for b in "${bins[@]}"; do [ -x "$out/bin/$b" ] || return 1; done; }
if have_all; then echo "control plane: cached in $out/bin"; exit 0; fi

command -v go >/dev/null || { echo "control plane: Go is missing; install Go 1.26 or newer (the toolchain that builds Kubernetes $KUBERNETES_VERSION)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}
work=$(mktemp -d "${TMPDIR:-/tmp}/kubeusers-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/bin.partial"
echo "control plane: not cached; building Kubernetes $KUBERNETES_VERSION and etcd $ETCD_VERSION into $out (cold: 10-30 min on 2 cores; a progress line every ${progress_every} s)"

IFS=. read -r _ minor patch <<<"$KUBERNETES_VERSION"
# The staging modules of release 1.M.P are published as v0.M.P.
staging_v="v0.$minor.$patch"
step "fetching k8s.io/kubernetes v$KUBERNETES_VERSION metadata"
modfile=$(cd "$work" && go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -s "$modfile" ] || { echo "control plane: could not fetch k8s.io/kubernetes v$KUBERNETES_VERSION from the Go module proxy" >&2; exit 1; }
goline=$(grep -m1 '^go ' "$modfile")
godebug=$(grep -m1 '^godebug ' "$modfile" || true)

k8s="$work/k8s"; mkdir -p "$k8s"
{
  echo "module kubeusers.local/control-plane"
  echo; echo "$goline"
  [ -n "$godebug" ] && { echo; echo "$godebug"; }
  echo; echo "require k8s.io/kubernetes v$KUBERNETES_VERSION"
  echo; echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_v"'#p' "$modfile"
  echo ")"
} > "$k8s/go.mod"
cat > "$k8s/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO

step "resolving and downloading modules (the first run downloads a few hundred MB)"
(cd "$k8s" && go mod tidy 2>&1) | count_downloads
vpkg=k8s.io/component-base/version
cpkg=k8s.io/client-go/pkg/version
ld="-s -w"
for p in $vpkg $cpkg; do
  ld="$ld -X $p.gitVersion=v$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
k8s_cmds=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
step "compiling kube-apiserver, kube-controller-manager, kubectl, then linking them (cold: 10-25 min on 2 cores)"
total=$(cd "$k8s" && go list -tags selinux,notest -deps "${k8s_cmds[@]}" | wc -l)
(cd "$k8s" && go build -v -trimpath -tags selinux,notest -ldflags "$ld" -o "$out/bin.partial/" "${k8s_cmds[@]}" 2>&1) |
  count_packages "$total"

etcd="$work/etcd"; mkdir -p "$etcd"
cat > "$etcd/go.mod" <<MOD
module kubeusers.local/etcd

$goline

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
MOD
cat > "$etcd/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
step "resolving etcd v$ETCD_VERSION's modules"
(cd "$etcd" && go mod tidy 2>&1) | count_downloads
step "compiling etcd v$ETCD_VERSION"
total=$(cd "$etcd" && go list -deps go.etcd.io/etcd/server/v3 | wc -l)
(cd "$etcd" && go build -v -trimpath -ldflags "-s -w" -o "$out/bin.partial/etcd" go.etcd.io/etcd/server/v3 2>&1) |
  count_packages "$total"

rm -rf "${out:?}/bin" && mv "$out/bin.partial" "$out/bin"
echo "control plane: built in $(elapsed) into $out/bin"
