#!/usr/bin/env bash
# bench/exec.sh — the exec driver (create + start + wait + delete of `true`, median of N) beside the
# physical limit measured in the same run (../shared/bench/limit.sh: a_host = `runc run true`,
# a_none = netns add + runc run + netns del). Needs root and a built tree (npm run build).
# Env: N (20), LIMIT_N (10), SHARED (the shared/ dir beside the repo). Prints one JSON object.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(dirname "$HERE")"
SHARED="${SHARED:-$(dirname "$REPO")/shared}"
N="${N:-20}"; LIMIT_N="${LIMIT_N:-10}"
OUT="$(mktemp -d /tmp/berth-bench-exec-XXXXXX)"; trap 'rm -rf "$OUT"' EXIT
exec_json="$(node "$HERE/exec.mjs" "$N")"
if [[ -f "$SHARED/bench/limit.sh" ]]; then
  N="$LIMIT_N" OUT_DIR="$OUT" bash "$SHARED/bench/limit.sh" >/dev/null 2>"$OUT/limit.err" || { cat "$OUT/limit.err" >&2; exit 1; }
  limit_json="$(jq '{n, a_host: {median: .a_host_median_ms, p90: .a_host_p90_ms, min: .a_host_min_ms}, a_none: {median: .a_none_median_ms, p90: .a_none_p90_ms, min: .a_none_min_ms}}' "$OUT/limit-latest.json")"
else
  limit_json='null'
fi
jq -n --argjson exec "$exec_json" --argjson limit "$limit_json" '{exec: $exec, limit: $limit,
  ratio_host: (if $limit == null then null else ($exec.exec_host.median / $limit.a_host.median * 100 | round / 100) end),
  ratio_none: (if $limit == null then null else ($exec.exec_none.median / $limit.a_none.median * 100 | round / 100) end)}'
