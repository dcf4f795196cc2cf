#!/usr/bin/env bash
# Install what berth needs on Debian 12 (as root): the kernel tools, the OCI runtime and its
# supervisor, busybox-static for images, a registry for the tests; then the npm packages and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(runc crun conmon iproute2 iptables nftables busybox-static curl jq docker-registry openssl util-linux procps)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# docker-registry's package starts a registry on :5000 where systemd runs; tests start their own.
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then npm ci --no-audit --no-fund; fi
npm run build
