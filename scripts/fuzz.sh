#!/usr/bin/env bash
# Coverage-guided fuzzing on stable Rust: libFuzzer (libfuzzer-sys) with
# SanitizerCoverage inserted by LLVM's sancov pass (-Cpasses=sancov-module),
# no sanitizer (that part would need nightly); debug assertions and
# overflow checks on, so arithmetic slips crash.
#
#   bash scripts/fuzz.sh [SECS] [TARGET...]     (make fuzz FUZZ_SECS=N)
#
# Each target runs SECS seconds (default 60) over a working corpus in
# fuzz/work/TARGET (not checked in), seeded from fuzz/corpus/TARGET (checked
# in). Prints executions, coverage (sancov edges) and features per target;
# exits non-zero on the first crash, leaving the input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pcap_reader pcapng_reader tpacket_block xdp_desc config bpf_filter)

host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cdebug-assertions -Coverflow-checks"
# --target: the flags apply to the fuzz binaries only, not to build scripts.
cargo build --quiet --release --locked --bins --target "$host"
bin=target/$host/release

mkdir -p artifacts
printf '%-15s %6s %14s %10s %8s %8s\n' target secs executions exec/s cov ft
for t in "${targets[@]}"; do
    mkdir -p "work/$t"
    log=$(mktemp)
    if ! "$bin/$t" "work/$t" "corpus/$t" -max_total_time="$secs" -max_len=65536 \
        -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="artifacts/$t-" \
        >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $t crashed; the input is in fuzz/artifacts/" >&2
        rm -f "$log"
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    printf '%-15s %6s %14s %10s %8s %8s\n' "$t" "$secs" "$execs" "$rate" "${cov:-?}" "${ft:-?}"
    rm -f "$log"
done
