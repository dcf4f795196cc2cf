#!/usr/bin/env bash
# Install berth from this (built) tree: the program under $PREFIX/lib/berth (dist, production
# node_modules), `berthd` and `berth` in $PREFIX/bin, berthd.service and berthd.socket in
# $SYSTEMD_DIR, and $CONFIG_DIR/daemon.json (an existing one is kept). It enables nothing and starts
# nothing: it prints the commands that would.
#
#   npm run build && sudo bash scripts/install.sh
#   DESTDIR=/tmp/pkg bash scripts/install.sh     stage for a package (creates no group)
#
# Settings (environment): PREFIX=/usr/local  SYSTEMD_DIR=/etc/systemd/system  CONFIG_DIR=/etc/berth
#   GROUP=berth (the socket's group; created with groupadd --system unless DESTDIR is set or
#   GROUP is empty, which leaves the socket root's)  NODE=$(command -v node)
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
SYSTEMD_DIR=${SYSTEMD_DIR:-/etc/systemd/system}
CONFIG_DIR=${CONFIG_DIR:-/etc/berth}
GROUP=${GROUP-berth}
DESTDIR=${DESTDIR:-}
NODE=${NODE:-$(command -v node || true)}

die() { echo "install.sh: $*" >&2; exit 1; }
[[ -f dist/bin/berthd.mjs && -f dist/bin/berth.mjs ]] || die "nothing built: run npm run build first"
[[ -d node_modules ]] || die "no node_modules: run npm ci first"
[[ -n $NODE && -x $NODE ]] || die "node not found: set NODE=/path/to/node"
for v in PREFIX SYSTEMD_DIR CONFIG_DIR; do [[ ${!v} =~ ^/[A-Za-z0-9._/+-]*$ ]] || die "$v must be an absolute path of letters, digits and ._/+-"; done
[[ -z $GROUP || $GROUP =~ ^[a-z_][a-z0-9_-]*$ ]] || die "bad GROUP name: $GROUP"

lib=$PREFIX/lib/berth
stage=$DESTDIR$lib
echo "installing berth into $DESTDIR$PREFIX"
install -d -m 0755 "$stage" "$DESTDIR$PREFIX/bin" "$DESTDIR$SYSTEMD_DIR" "$stage/contrib/systemd"
install -d -m 0755 "$DESTDIR$CONFIG_DIR"

# The program: a fresh copy of dist, then node_modules without the development packages.
rm -rf "$stage/dist" "$stage/node_modules"
cp -a dist "$stage/dist"
cp -a node_modules "$stage/node_modules"
install -m 0644 package.json package-lock.json "$stage/"
install -m 0644 contrib/systemd/README.md "$stage/contrib/systemd/README.md"
git rev-parse --short=12 HEAD >"$stage/COMMIT" 2>/dev/null || echo unknown >"$stage/COMMIT"
(cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)

# Wrappers with the node that installed them (systemd's PATH may not have it).
for name in berthd berth; do
  flags=''; [[ $name == berthd ]] && flags=' --single-threaded-gc'
  printf '#!/bin/sh\nexec %q%s %q "$@"\n' "$NODE" "$flags" "$lib/dist/bin/$name.mjs" >"$DESTDIR$PREFIX/bin/$name"
  chmod 0755 "$DESTDIR$PREFIX/bin/$name"
done

# Units, with this install's paths and group.
sed -e "s|/usr/local/bin/berthd|$PREFIX/bin/berthd|g" -e "s|/usr/local/lib/berth|$lib|g" -e "s|/etc/berth/|$CONFIG_DIR/|g" \
  contrib/systemd/berthd.service >"$DESTDIR$SYSTEMD_DIR/berthd.service"
if [[ -n $GROUP ]]; then
  sed -e "s|^SocketGroup=.*|SocketGroup=$GROUP|" contrib/systemd/berthd.socket >"$DESTDIR$SYSTEMD_DIR/berthd.socket"
else
  sed -e '/^SocketGroup=/d' contrib/systemd/berthd.socket >"$DESTDIR$SYSTEMD_DIR/berthd.socket"
fi
chmod 0644 "$DESTDIR$SYSTEMD_DIR/berthd.service" "$DESTDIR$SYSTEMD_DIR/berthd.socket"

# The config file: the defaults written out; an operator's file is never replaced.
if [[ -e $DESTDIR$CONFIG_DIR/daemon.json ]]; then
  echo "kept $DESTDIR$CONFIG_DIR/daemon.json"
else
  cat >"$DESTDIR$CONFIG_DIR/daemon.json" <<'JSON'
{
  "data-root": "/var/lib/berth",
  "exec-root": "/run/berth",
  "log-level": "info",
  "storage-driver": "overlay",
  "runtime": "runc"
}
JSON
  chmod 0644 "$DESTDIR$CONFIG_DIR/daemon.json"
fi

if [[ -z $DESTDIR && -n $GROUP ]] && ! getent group "$GROUP" >/dev/null; then
  groupadd --system "$GROUP"
  echo "created group $GROUP (members may use the berth socket)"
fi

cat <<EOF
installed: $PREFIX/bin/berthd, $PREFIX/bin/berth, $lib, $SYSTEMD_DIR/berthd.{service,socket}, $CONFIG_DIR/daemon.json
nothing was enabled or started. To run berthd under systemd:
  systemctl daemon-reload
  systemctl enable --now berthd.socket     # berthd starts on the first request
The remote API (TCP with client certificates): see $lib/contrib/systemd/README.md
EOF
