#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine as root: install what berth needs, build, start berthd,
# build a busybox image from busybox-static, run a web container with -p 8080:80 and print what
# curl gets from it, on 127.0.0.1 and on the host's address.
#   bash scripts/main-job.sh          do it (berthd keeps running; its log: /var/log/berthd.log)
#   bash scripts/main-job.sh --down   remove berth's containers, stop berthd, remove berth's bridge and rules
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BERTH="node $ROOT/dist/bin/berth.mjs"
PIDFILE=/run/berth/berthd.pid

down() {
  # every container (the clean-up below takes berth's bridge and rules from under any left running)
  ids=$($BERTH ps -aq 2>/dev/null || true)
  [[ -z $ids ]] || $BERTH rm -f $ids >/dev/null 2>&1 || true
  if [[ -s $PIDFILE ]] && kill -0 "$(cat $PIDFILE)" 2>/dev/null; then
    pid=$(cat $PIDFILE); kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  node "$ROOT/dist/bin/berthd-cleanup.mjs" || true   # berth's own bridge, chains and rules; nothing else
}
if [[ ${1:-} == --down ]]; then down; exit 0; fi

[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 1; }
bash scripts/deps.sh

if ! { [[ -s $PIDFILE ]] && kill -0 "$(cat $PIDFILE)" 2>/dev/null; }; then
  echo "starting berthd (log: /var/log/berthd.log)"
  nohup node --single-threaded-gc "$ROOT/dist/bin/berthd.mjs" >>/var/log/berthd.log 2>&1 &
  for _ in $(seq 200); do $BERTH version >/dev/null 2>&1 && break; sleep 0.05; done
fi
$BERTH info | head -12

tar=$(mktemp /tmp/busybox-rootfs.XXXXXX.tar)
bash scripts/mkimage-busybox.sh "$tar"
$BERTH import "$tar" busybox:latest
rm -f "$tar"

$BERTH rm -f web >/dev/null 2>&1 || true
$BERTH run -d -p 8080:80 --name web busybox httpd -f -p 80 -h /www
$BERTH ps
hostip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
for addr in 127.0.0.1 ${hostip:-}; do
  for _ in $(seq 50); do curl -fsS "http://$addr:8080/" >/dev/null 2>&1 && break; sleep 0.05; done
  echo "curl http://$addr:8080/ →"
  curl -fsS "http://$addr:8080/"
done
echo "berth network inspect bridge shows the bridge, the endpoint and the rules berth owns; 'bash scripts/main-job.sh --down' removes it all."
