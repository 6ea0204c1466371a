#!/usr/bin/env bash
# The whole test suite. Run through `make test`, which first installs the
# dependencies (scripts/deps.sh) and builds build/prefix + build/bin.
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

step "cargo test: unit, integration on veth pairs, C programs (plain + ASan/UBSan)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace --all-targets -- --test-threads=2 2>&1 | tee "$log"
passed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i) ~ /^passed;?$/) s += $(i-1)} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i) ~ /^failed;?$/) s += $(i-1)} END {print s + 0}' "$log")
[ "$passed" -gt 100 ] || { echo "only $passed tests ran: the suite is broken" >&2; exit 1; }

step "fuzz: every target a few seconds (coverage-guided, no crash)"
bash scripts/fuzz.sh "${TEST_FUZZ_SECS:-5}"

step "soak, 30 s: capture, AF_XDP, bridge and injection at full rate, counts add up, RSS flat"
SOAK_SECS=${TEST_SOAK_SECS:-30} bash scripts/soak.sh

step "cargo cinstall (cargo-c 0.10.24): SONAME, header, pkg-config"
bash scripts/check-cinstall.sh

step "demo (the README's first command): trafgen -> veth -> nrcap, exact count"
bash scripts/demo.sh

step "bench-smoke: every benchmark once (RX, AF_XDP, TX, micro, memory) produces numbers"
make --no-print-directory bench-smoke

echo
echo "make test: all steps passed"
echo "tests: $passed passed, $failed failed"
