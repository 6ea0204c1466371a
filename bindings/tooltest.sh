#!/usr/bin/env bash
# A binding's capture tool against an independent generator: trafgen
# (netsniff-ng) sends COUNT frames of 60 and 1514 bytes on B, the tool
# captures on A (-c COUNT -q -w FILE) and must print
# "RESULT packets=COUNT drops=0"; then the tool reads its own file back
# (-r FILE -q) and must count COUNT again. Prints "PASS name" / "FAIL name"
# lines; exits non-zero on a failure. Needs root.
#
#   bindings/tooltest.sh NAME TOOL [TOOL ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
. bindings/lib.sh
harness_init 10000 "$0" "$@"; shift
fail=0
capture_trafgen "$name" "$COUNT" "$@" -i "$NR_TEST_IF_A" -c "$COUNT" -q -B 1024 -n 16 -w "$out/cap.pcap"
result=$(grep '^RESULT' "$out/stderr" || true)
if [ "$result" = "RESULT packets=$COUNT drops=0" ]; then
    echo "PASS $name: trafgen $COUNT frames (60 and 1514 B) -> $result"
else
    echo "FAIL $name: expected 'RESULT packets=$COUNT drops=0', got '$result'"; cat "$out/stderr"; fail=1
fi
"$@" -r "$out/cap.pcap" -q 2>"$out/stderr2" >/dev/null || true
result=$(grep '^RESULT' "$out/stderr2" || true)
if [ "$result" = "RESULT packets=$COUNT drops=0" ]; then
    echo "PASS $name: -r of its own -w file -> $result"
else
    echo "FAIL $name: -r: expected 'RESULT packets=$COUNT drops=0', got '$result'"; cat "$out/stderr2"; fail=1
fi
"$@" -i nrnosuch0 -q 2>"$out/stderr3" >/dev/null && st=0 || st=$?
if [ "$st" != 0 ] && grep -q "nrnosuch0" "$out/stderr3"; then
    echo "PASS $name: unknown interface -> $(head -n1 "$out/stderr3")"
else
    echo "FAIL $name: unknown interface: exit $st, stderr: $(cat "$out/stderr3")"; fail=1
fi
exit $fail
