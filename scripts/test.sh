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

echo
echo "make test: all steps passed"
echo "tests: $passed passed, $failed failed"
printf '%s' "$bindings"
