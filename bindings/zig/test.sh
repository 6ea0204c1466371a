#!/usr/bin/env bash
# Zig binding tests (Zig 0.17.1 from PyPI: python3 -m ziglang): `zig build
# test` (no network), the same test binary inside a throwaway namespace on
# a veth pair (as root), zigcap (ReleaseFast) against trafgen.
# Prints "zig: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
PREFIX=${PREFIX:-$PWD/build/prefix}
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
ZIG=${ZIG:-python3 -m ziglang}
OUT=$PWD/build/zig
mkdir -p "$OUT" build/bin
pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
zigtests() { # name, command...: the test binary prints "N/M name...OK|SKIP|FAIL"
    local name=$1; shift
    local log; log=$(mktemp)
    "$@" >"$log" 2>&1; local st=$?
    local p f s
    p=$(grep -c '\.\.\.OK$' "$log"); f=$(grep -c '\.\.\.FAIL' "$log"); s=$(grep -c '\.\.\.SKIP$' "$log")
    pass=$((pass + p)); fail=$((fail + f))
    if [ $st != 0 ] && [ "$f" = 0 ]; then fail=$((fail + 1)); fi
    echo "$name: $p passed, $f failed, $s skipped"
    [ $st = 0 ] || cat "$log"
    rm -f "$log"
}
echo "zig $($ZIG version)"
(cd bindings/zig && $ZIG build test -j1 --summary all) && ok "zig build test" || ko "zig build test"
if (cd bindings/zig && $ZIG build test-bin -j1 --prefix "$OUT/debug"); then
    zigtests "zig tests, no network" "$OUT/debug/bin/test"
    zigtests "zig tests, veth pair" bash bindings/netns.sh "$OUT/debug/bin/test"
else
    ko "build test binary"
fi
if (cd bindings/zig && $ZIG build -j1 -Doptimize=ReleaseFast --prefix "$OUT/release"); then
    ok "build zigcap (ReleaseFast)"
    cp "$OUT/release/bin/zigcap" build/bin/zigcap
    log=$(bash bindings/tooltest.sh zigcap build/bin/zigcap 2>&1)
    echo "$log"
    pass=$((pass + $(grep -c '^PASS' <<<"$log"))); fail=$((fail + $(grep -c '^FAIL' <<<"$log")))
else
    ko "build zigcap"
fi
echo "zig: $pass passed, $fail failed"
[ "$fail" = 0 ]
