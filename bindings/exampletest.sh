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
harness_init 5 "$0" "$@"; shift
capture_trafgen "$name" "$COUNT" "$@" "$NR_TEST_IF_A" "$COUNT"
lines=$(grep -cE '^(60|1514) bytes: 02 cb 00 00 00 ff 02 cb 00 00 00 01 08 00' "$out/stdout" || true)
if [ "$status" = 0 ] && [ "$lines" = "$COUNT" ] && grep -qx "stats: packets=$COUNT drops=0" "$out/stdout"; then
    echo "PASS $name: trafgen $COUNT frames -> $lines packet lines, '$(tail -n1 "$out/stdout")', exit 0"
    sed 's/^/    /' "$out/stdout"
else
    echo "FAIL $name: exit $status, $lines packet lines of $COUNT expected; stdout:"
    cat "$out/stdout"; echo "stderr:"; cat "$out/stderr"
    exit 1
fi
