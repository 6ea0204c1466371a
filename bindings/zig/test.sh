#!/usr/bin/env bash
# Zig binding tests (Zig 0.17.1 from PyPI: python3 -m ziglang): `zig build
# test` (no network), the same test binary inside a throwaway namespace on
# a veth pair (as root), zigcap (ReleaseFast) against trafgen, then the
# README's example project (bindings/zig/example, a package depending on
# bindings/zig by path) built in place and from a copy outside the
# repository, and run against trafgen.
# Prints "zig: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
. bindings/lib.sh
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
    case $name in *veth*) fail=$((fail + s)) ;; esac # on the veth pair nothing may skip
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
    run_harness bash bindings/tooltest.sh zigcap build/bin/zigcap
else
    ko "build zigcap"
fi
# The README's "Start here": the example project as is, then a copy in a
# directory of its own (as a user's project would be) whose dependency is the
# relative path to bindings/zig; then the program against trafgen.
if (cd bindings/zig/example && $ZIG build -j1 --prefix "$OUT/example"); then
    ok "build bindings/zig/example (zig build, dependency .path = \"..\")"
    run_harness bash bindings/exampletest.sh zig-example "$OUT/example/bin/capture"
else
    ko "build bindings/zig/example"
fi
# Without PKG_CONFIG_PATH: netring's build says what to set (and a cached
# configuration does not hide it).
log=$(cd bindings/zig/example && env -u PKG_CONFIG_PATH $ZIG build -j1 --prefix "$OUT/example-nopc" 2>&1)
if [ $? != 0 ] && grep -q "set PKG_CONFIG_PATH=<prefix>/lib/pkgconfig" <<<"$log"; then
    ok "example without PKG_CONFIG_PATH -> $(grep -m1 -o 'netring: .*failed' <<<"$log")"
else
    ko "example without PKG_CONFIG_PATH: expected the PKG_CONFIG_PATH sentence, got: $log"
fi
own=$(mktemp -d /tmp/nr-zig-example.XXXXXX)
cp -r bindings/zig/example/build.zig bindings/zig/example/build.zig.zon bindings/zig/example/src "$own/"
rel=$(realpath --relative-to="$own" bindings/zig)
sed -i "s|\.path = \"\.\.\"|.path = \"$rel\"|" "$own/build.zig.zon"
if grep -q "\.path = \"$rel\"" "$own/build.zig.zon" && (cd "$own" && $ZIG build -j1) && [ -x "$own/zig-out/bin/capture" ]; then
    ok "build a copy of the example in $own (.path = \"$rel\")"
else
    ko "build a copy of the example in $own (.path = \"$rel\")"
fi
rm -rf "$own"
# The README's alternative: the dependency recorded by zig fetch --save.
own=$(mktemp -d /tmp/nr-zig-example.XXXXXX)
cp -r bindings/zig/example/build.zig bindings/zig/example/build.zig.zon bindings/zig/example/src "$own/"
sed -i '/\.netring = \.{ \.path = "\.\." },/d' "$own/build.zig.zon"
pkg=$PWD/bindings/zig
if ! grep -q '\.netring =' "$own/build.zig.zon" && (cd "$own" && $ZIG fetch --save=netring "$pkg" && $ZIG build -j1) \
    && grep -q '\.hash = "netring-' "$own/build.zig.zon" && [ -x "$own/zig-out/bin/capture" ]; then
    ok "build a copy of the example in $own (zig fetch --save=netring $pkg)"
else
    ko "build a copy of the example in $own (zig fetch --save=netring $pkg)"
fi
rm -rf "$own"
# The README shows the example's files verbatim: a reader copies them from there.
readme_shows bindings/zig/README.md bindings/zig/example/build.zig.zon bindings/zig/example/build.zig bindings/zig/example/src/main.zig
echo "zig: $pass passed, $fail failed"
[ "$fail" = 0 ]
