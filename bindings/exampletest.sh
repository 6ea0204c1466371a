#!/usr/bin/env bash
# A binding's README example against an independent generator: the example
# captures on A (`PROGRAM A COUNT`), trafgen (netsniff-ng) sends COUNT UDP
# frames of 60 and 1514 bytes on B. The example must exit 0 having printed
# exactly COUNT lines "<len> bytes: 02 cb 00 00 00 ff ..." (60 or 1514) and
# "stats: packets=COUNT drops=0". Prints one "PASS name" or "FAIL name"
# line; exits non-zero on a failure. Needs root.
#
#   bindings/exampletest.sh NAME PROGRAM [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
. bindings/lib.sh
name=$1; shift
COUNT=${COUNT:-5}
if [ -z "${NR_TEST_NS:-}" ]; then
    exec bash bindings/netns.sh bash "$0" "$name" "$@"
fi
out=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"' EXIT
"$@" "$NR_TEST_IF_A" "$COUNT" >"$out/stdout" 2>"$out/stderr" &
pid=$!
wait_bound || true # the count check below says what was lost
trafgen --no-sock-mem -q -i scripts/trafgen/udp-mixed.cfg -o "$NR_TEST_IF_B" -n "$COUNT" >/dev/null 2>&1
if ! timeout 20 tail --pid="$pid" -f /dev/null; then
    echo "$name did not finish; stopping it" >>"$out/stderr"; kill -INT "$pid" 2>/dev/null || true
fi
st=0; wait "$pid" || st=$?
pid=""
lines=$(grep -cE '^(60|1514) bytes: 02 cb 00 00 00 ff 02 cb 00 00 00 01 08 00' "$out/stdout" || true)
if [ "$st" = 0 ] && [ "$lines" = "$COUNT" ] && grep -qx "stats: packets=$COUNT drops=0" "$out/stdout"; then
    echo "PASS $name: trafgen $COUNT frames -> $lines packet lines, '$(tail -n1 "$out/stdout")', exit 0"
    sed 's/^/    /' "$out/stdout"
else
    echo "FAIL $name: exit $st, $lines packet lines of $COUNT expected; stdout:"
    cat "$out/stdout"; echo "stderr:"; cat "$out/stderr"
    exit 1
fi
