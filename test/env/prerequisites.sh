#!/usr/bin/env bash
# What the real environment needs from the machine: OpenLDAP's slapd (Debian) and Go (to build the
# control plane). Installs slapd when it can (root with apt-get); otherwise says exactly what is missing.
set -euo pipefail
fail() { echo "kubeusers: $*" >&2; exit 1; }

if [ ! -x /usr/sbin/slapd ] || [ ! -x /usr/sbin/slapadd ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "kubeusers: installing slapd and ldap-utils from Debian"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slapd ldap-utils
  else
    fail "OpenLDAP's slapd is missing and cannot be installed here: run 'sudo apt-get install slapd ldap-utils'."
  fi
fi
command -v go >/dev/null || fail "Go 1.26 or newer is missing; it builds etcd and Kubernetes from the Go module proxy."
