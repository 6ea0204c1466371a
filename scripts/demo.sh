#!/usr/bin/env bash
# Capture demo: a throwaway pair of namespaces joined by a veth pair,
# traffic from trafgen (netsniff-ng, an independent generator) on one side,
# nrcap on the other. Everything is removed on exit, ^C included.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/netns.sh

COUNT=${COUNT:-20000}
tag=$(nr_tag)
GEN=nrdemo-gen-$tag CAP=nrdemo-cap-$tag
GIF=nrdg$tag CIF=nrdc$tag
trap nr_netns_cleanup EXIT INT TERM

nr_netns_add "$GEN" "$CAP"
NR_VETH_DOWN=1 nr_veth_add "$GEN" "$GIF" "$CAP" "$CIF"
ip -n "$GEN" link set "$GIF" address 02:cb:00:00:00:01 up
ip -n "$CAP" link set "$CIF" address 02:cb:00:00:00:02 up

out=$(mktemp)
echo "== nrcap on $CIF (namespace $CAP), waiting for $COUNT packets"
ip netns exec "$CAP" build/bin/nrcap -i "$CIF" -c "$COUNT" -B 1024 -n 16 >"$out" 2>"$out.err" &
pid=$!
nr_wait_bound "$CAP" "$CIF" || echo "nrcap is not bound yet; sending anyway"
echo "== trafgen sends $COUNT frames (60 and 1514 bytes) from $GIF"
ip netns exec "$GEN" trafgen --no-sock-mem -q -i scripts/trafgen/udp-mixed.cfg -o "$GIF" -n "$COUNT" >/dev/null 2>&1
if ! timeout 20 tail --pid="$pid" -f /dev/null; then
    echo "nrcap did not finish; stopping it"; kill -INT "$pid" || true
fi
wait "$pid" || true
echo "== first and last packet lines"
head -n 3 "$out"
echo "..."
tail -n 3 "$out"
echo "== nrcap summary"
cat "$out.err"
result=$(grep '^RESULT' "$out.err" || true)
rm -f "$out" "$out.err"
if [ "$result" != "RESULT packets=$COUNT drops=0" ]; then
    echo "demo: expected 'RESULT packets=$COUNT drops=0', got '$result'" >&2
    exit 1
fi
echo "== demo ok: all $COUNT generated frames captured, none dropped"
