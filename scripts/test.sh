#!/usr/bin/env bash
# The whole test suite. Run through `make test`, which first installs the
# dependencies (scripts/deps.sh) and builds build/prefix + build/bin (nrexport
# included: `make export`, which nrcap -F arrow|parquet runs).
# Needs root (tests create network namespaces and veth pairs).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "unsafe blocks all carry a SAFETY comment"
bash scripts/check-safety.sh

step "cargo test: unit, integration on veth pairs, C programs (plain + ASan/UBSan + valgrind)"
# scripts/deps.sh installed every tool the tests use: a test that would
# skip for a missing tool or root fails instead (netring_testkit::skip).
export NR_TEST_STRICT=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace --all-targets -- --test-threads=2 2>&1 | tee "$log"
passed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i) ~ /^passed;?$/) s += $(i-1)} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i) ~ /^failed;?$/) s += $(i-1)} END {print s + 0}' "$log")
[ "$passed" -gt 100 ] || { echo "only $passed tests ran: the suite is broken" >&2; exit 1; }

step "the engine's optional tokio feature: clippy, async tests on veth pairs; the C library pulls no tokio"
cargo clippy --locked --workspace --all-targets --features netring-engine/tokio -- -D warnings
# The engine's other tests ran above (--workspace); here what the feature
# adds: its unit tests, tests/asyncio.rs and the doc example.
cargo test --locked -p netring-engine --features tokio --lib --test asyncio -- --test-threads=2
cargo test --locked -p netring-engine --features tokio --doc
if cargo tree --locked -p netring -e normal | grep -q tokio; then
    echo "the C library (package netring) depends on tokio: it must not" >&2
    exit 1
fi

step "fuzz: every target a few seconds (coverage-guided, no crash)"
bash scripts/fuzz.sh "${TEST_FUZZ_SECS:-5}"

step "soak, 30 s: capture, AF_XDP, bridge and injection at full rate, counts add up, RSS flat"
SOAK_SECS=${TEST_SOAK_SECS:-30} bash scripts/soak.sh

step "cargo cinstall (cargo-c 0.10.24): SONAME, header, pkg-config"
bash scripts/check-cinstall.sh

step "demo (the README's first command): trafgen -> veth -> nrcap, exact count"
bash scripts/demo.sh

# The bindings, each on the installed header and pkg-config (build/prefix):
# tests without network, then on throwaway veth pairs, then its capture tool
# against trafgen. Each prints "<binding>: N passed, M failed".
bindings=""
for b in cpp go zig; do
    step "bindings/$b (bash bindings/$b/test.sh)"
    bash "bindings/$b/test.sh" 2>&1 | tee "$log.$b"
    bindings+="$(grep -E "^$b: [0-9]+ passed" "$log.$b" | tail -n1)"$'\n'
    rm -f "$log.$b"
done

step "bench-smoke: every benchmark once (RX, AF_XDP, TX, micro, memory) produces numbers"
make --no-print-directory bench-smoke

# The total: cargo's tests plus each binding's.
bpassed=$(printf '%s' "$bindings" | awk '{s += $2} END {print s + 0}')
bfailed=$(printf '%s' "$bindings" | awk '{s += $4} END {print s + 0}')
echo
echo "make test: all steps passed"
printf '%s' "$bindings"
echo "cargo: $passed passed, $failed failed"
echo "tests: $((passed + bpassed)) passed, $((failed + bfailed)) failed"
