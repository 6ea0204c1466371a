#!/usr/bin/env bash
# C++ binding tests: test_netring.cpp as C++17 and C++20 with
# -Wall -Wextra -Werror, plain and under ASan/UBSan, first without network,
# then inside a throwaway namespace on a veth pair; cppcap against trafgen;
# the README's example (bindings/cpp/example/main.cpp) built with the
# README's command line (plus warnings as errors) and run against trafgen.
# Prints "cpp: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
. bindings/lib.sh
PREFIX=${PREFIX:-$PWD/build/prefix}
OUT=${OUT:-$PWD/build/cpp}
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
CXX=${CXX:-g++}
mkdir -p "$OUT"
flags=$(pkg-config --cflags --libs netring)
rpath="-Wl,-rpath,$PREFIX/lib"
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
run_counted() { # name, command...: the program prints "cpp tests: N passed, M failed"
    local name=$1; shift
    local log; log=$(mktemp)
    # On the veth pair nothing may skip.
    if "$@" >"$log" 2>&1 && ! { [[ $name == *veth* ]] && grep -q '^skip veth tests' "$log"; }; then ok "$name ($(grep '^cpp tests:' "$log"))"; else ko "$name"; cat "$log"; fi
    rm -f "$log"
}
# The header installed by make must be the one in bindings/cpp.
cmp -s bindings/cpp/netring.hpp "$PREFIX/include/netring.hpp" && ok "netring.hpp installed next to netring.h" \
    || ko "netring.hpp not installed in $PREFIX/include"
for std in 17 20; do
    for v in plain asan; do
        extra=""; [ $v = asan ] && extra=$san
        bin=$OUT/test_netring_cxx${std}_$v
        if $CXX -std=c++$std -O1 -g -Wall -Wextra -Werror -pedantic $extra bindings/cpp/test_netring.cpp -o "$bin" \
            $flags $rpath -lpthread; then
            ok "build test_netring C++$std $v"
        else
            ko "build test_netring C++$std $v"; continue
        fi
        run_counted "test_netring C++$std $v, no network" "$bin"
        run_counted "test_netring C++$std $v, veth pair" bash bindings/netns.sh "$bin"
    done
done
if $CXX -std=c++17 -O2 -g -Wall -Wextra -Werror bindings/cpp/cppcap.cpp -o "$OUT/cppcap" $flags $rpath; then
    ok "build cppcap"
    mkdir -p build/bin && cp "$OUT/cppcap" build/bin/cppcap
    if log=$(bash bindings/tooltest.sh cppcap "$OUT/cppcap" 2>&1); then
        pass=$((pass + $(grep -c '^PASS' <<<"$log"))); echo "$log"
    else
        pass=$((pass + $(grep -c '^PASS' <<<"$log"))); fail=$((fail + $(grep -c '^FAIL' <<<"$log") + 0)); echo "$log"
    fi
else
    ko "build cppcap"
fi
# The README's "Start here": example/main.cpp with the README's command line.
if (cd bindings/cpp/example && $CXX -std=c++17 -Wall -Wextra -Werror -pedantic main.cpp -o "$OUT/example" \
    $(pkg-config --cflags --libs netring) -Wl,-rpath,"$PREFIX/lib"); then
    ok "build bindings/cpp/example/main.cpp"
    run_harness bash bindings/exampletest.sh cpp-example "$OUT/example"
else
    ko "build bindings/cpp/example/main.cpp"
fi
# The README shows the example's files verbatim: a reader copies them from there.
readme_shows bindings/cpp/README.md bindings/cpp/example/main.cpp
echo "cpp: $pass passed, $fail failed"
[ "$fail" = 0 ]
