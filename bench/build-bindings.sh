#!/usr/bin/env bash
# build-bindings.sh - the bindings' capture tools and the Go peer for the
# RX benchmark, into $CB_BIN (default build/bench/bin):
#   nrgocap (bindings/go), gopacket_afpacket (bench/gopacket_afpacket, on
#   Debian's gopacket), cppcap (bindings/cpp, -O2 like nrcap), zigcap
#   (bindings/zig, ReleaseFast).
# Needs the library installed in build/prefix (make) and the toolchains of
# scripts/deps.sh (go, g++, python3 -m ziglang).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CB_BIN=${CB_BIN:-$ROOT/build/bench/bin}
PREFIX=${PREFIX:-$ROOT/build/prefix}
mkdir -p "$CB_BIN"
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig GOFLAGS=-mod=mod GOPROXY=off
export GOCACHE=${GOCACHE:-$ROOT/build/go/cache} CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib"
(cd "$ROOT/bindings/go" && go build -o "$CB_BIN/nrgocap" ./cmd/nrgocap)
(cd "$HERE/gopacket_afpacket" && go build -o "$CB_BIN/gopacket_afpacket" .)
${CXX:-g++} -std=c++17 -O2 -g -Wall -Wextra -o "$CB_BIN/cppcap" "$ROOT/bindings/cpp/cppcap.cpp" \
    $(pkg-config --cflags --libs netring) -Wl,-rpath,"$PREFIX/lib"
(cd "$ROOT/bindings/zig" && python3 -m ziglang build -j1 -Doptimize=ReleaseFast --prefix "$ROOT/build/zig/release")
cp "$ROOT/build/zig/release/bin/zigcap" "$CB_BIN/zigcap"
