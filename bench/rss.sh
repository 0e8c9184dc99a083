#!/usr/bin/env bash
# Peak resident memory of a whole `xds-hook apply` run on a generated request, checked against
# the target: at most 3x the request size + 30 MiB. Usage: bench/rss.sh [preset] (default fleet).
# Uses GNU time (`/usr/bin/time -v`); installs Debian's `time` package when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

preset="${1:-fleet}"
if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (Debian package 'time')" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null
fi

cargo build --release --quiet --bin xds-hook
bin=target/release/xds-hook
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$bin" gen --preset "$preset" --output "$work/request.pb"
request_bytes=$(stat -c %s "$work/request.pb")
/usr/bin/time -v "$bin" --log warn apply --input "$work/request.pb" --output "$work/response.pb" \
  2>"$work/time.txt"
rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
limit_kib=$(( request_bytes * 3 / 1024 + 30 * 1024 ))

awk -v p="$preset" -v req="$request_bytes" -v rss="$rss_kib" -v lim="$limit_kib" -v wall="$elapsed" \
  'BEGIN { printf "preset %s: request %.2f MiB, peak RSS %.1f MiB (%.2fx request), limit %.1f MiB (3x request + 30 MiB), wall %s\n", p, req / 1048576, rss / 1024, rss * 1024 / req, lim / 1024, wall }'
if [ "$rss_kib" -gt "$limit_kib" ]; then
  echo "FAIL: peak RSS over the limit" >&2
  exit 1
fi
echo "ok: within the limit"
