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
cargo clippy --locked --all-targets -- -D warnings

step "unsafe blocks all carry a SAFETY comment"
bash scripts/check-safety.sh

step "cargo test: unit, integration on veth pairs, C programs (plain + ASan/UBSan)"
cargo test --locked --all-targets -- --test-threads=2

step "cargo cinstall (cargo-c 0.10.24): SONAME, header, pkg-config"
bash scripts/check-cinstall.sh

step "bench-smoke: every benchmark once (RX, AF_XDP, TX, micro, memory) produces numbers"
make --no-print-directory bench-smoke

echo
echo "make test: all passed"
