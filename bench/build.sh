#!/usr/bin/env bash
# build.sh - build the peer programs the benchmark compares netring with:
#   min_v3, min_xsk, min_tx (libc only), min_pcap, pcap_inject, pcap_latency (libpcap)
# into $CB_BIN (default build/bench/bin).  netring's own programs (nrcap,
# nrsend, nrxdp) come from `make` (build/bin) and the micro benchmark from
# `cargo build --release --features bench-fixtures --example micro`; the Makefile's bench targets
# build both first.  Needs gcc and libpcap-dev (scripts/deps.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CB_BIN=${CB_BIN:-$ROOT/build/bench/bin}
mkdir -p "$CB_BIN"
# Same optimisation level as the C examples (Makefile CFLAGS): -O2.
CFLAGS=${BENCH_CFLAGS:-"-O2 -g -Wall -Wextra"}
CC=${CC:-cc}
for p in min_v3 min_xsk min_tx; do
    $CC $CFLAGS -o "$CB_BIN/$p" "$HERE/$p.c"
done
for p in min_pcap pcap_inject pcap_latency; do
    $CC $CFLAGS -o "$CB_BIN/$p" "$HERE/$p.c" -lpcap
done
