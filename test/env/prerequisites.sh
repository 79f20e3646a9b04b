#!/usr/bin/env bash
# What the real environment needs from the machine: OpenLDAP's slapd and nginx (Debian) and Go (to build the
# control plane). Installs slapd when it can (root with apt-get); otherwise says exactly what is missing.
set -euo pipefail
fail() { echo "kubeusers: $*" >&2; exit 1; }

# promtool (Debian's prometheus package) checks the shipped alerting rules; GNU time measures benchmarks;
# curl runs the docs' API examples; nginx runs the shipped gateway configuration (deploy/gateway/)
# in a prefix of its own (the package's own service is not used; in a container it is not started).
missing=()
{ [ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ]; } || missing+=(slapd ldap-utils)
command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/bin/time ] || missing+=(time)
command -v curl >/dev/null || missing+=(curl ca-certificates)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "kubeusers: installing ${missing[*]} from Debian"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    fail "${missing[*]} missing and cannot be installed here: run 'sudo apt-get install ${missing[*]}'."
  fi
fi
command -v go >/dev/null || fail "Go 1.26 or newer is missing; it builds etcd and Kubernetes from the Go module proxy."
