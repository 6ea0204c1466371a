#!/usr/bin/env bash
# Install what the build, the demo or the test suite needs, skipping what is
# already there. Debian, as root. Safe to run again.
#
#   scripts/deps.sh demo    only what `make demo` needs (compiler, iproute2,
#                           trafgen): a minute on a fresh machine
#   scripts/deps.sh         everything `make test` and `make bench` need,
#                           including cargo-c 0.10.24 (built once, ~15 min)
set -euo pipefail
mode=${1:-all}

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have cc || need_apt+=(gcc)
have make || need_apt+=(make)
have pkg-config || need_apt+=(pkg-config)
have ip || need_apt+=(iproute2)
have trafgen || need_apt+=(netsniff-ng)
if [ "$mode" != demo ]; then
    have g++ || need_apt+=(g++)
    have tcpdump || need_apt+=(tcpdump)
    have tshark || need_apt+=(tshark)      # also brings capinfos, editcap, mergecap, dumpcap
    [ -e /usr/include/pcap/pcap.h ] || need_apt+=(libpcap-dev)
    # More unmodified libpcap programs the drop-in is compared on
    # (pcap/tests/fidelity.rs): offline, live and injecting.
    have ngrep || need_apt+=(ngrep)
    have tcpflow || need_apt+=(tcpflow)
    have tcpreplay || need_apt+=(tcpreplay)   # also tcprewrite, tcpprep
    have tcpslice || need_apt+=(tcpslice)
    have p0f || need_apt+=(p0f)
    have tcpstat || need_apt+=(tcpstat)
    have arping || need_apt+=(arping)
    have arp-scan || need_apt+=(arp-scan)
    have tcptrace || need_apt+=(tcptrace)
    have ssldump || need_apt+=(ssldump)
    have tcpick || need_apt+=(tcpick)
    have urlsnarf || need_apt+=(dsniff)       # urlsnarf, dsniff (libnids)
    have tcpxtract || need_apt+=(tcpxtract)
    have httpry || need_apt+=(httpry)
    have ipgrab || need_apt+=(ipgrab)
    have dnscap || need_apt+=(dnscap)
    have softflowd || need_apt+=(softflowd)
    have daemonlogger || need_apt+=(daemonlogger)
    have netdiscover || need_apt+=(netdiscover)
    have setpriv || need_apt+=(util-linux)
    # The C programs' memory checks and the drop-in's symbol/SONAME checks.
    have valgrind || need_apt+=(valgrind)
    { have nm && have readelf; } || need_apt+=(binutils)
    # The benchmarks (make bench, make bench-smoke).
    [ -x /usr/bin/time ] || need_apt+=(time)
    have python3 || need_apt+=(python3)
    have pgrep || need_apt+=(procps)
    have taskset || need_apt+=(util-linux)
    have timeout || need_apt+=(coreutils)
    # cargo-c's own build needs these.
    [ -e /usr/include/openssl/ssl.h ] || need_apt+=(libssl-dev)
    [ -e /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
    # The bindings (bindings/go, bindings/zig, bindings/cpp): Go 1.19 and
    # gopacket's source (with x/net and x/sys for its afpacket package, the
    # Go benchmark peer); Zig comes from PyPI below.
    have go || need_apt+=(golang-go)
    [ -d /usr/share/gocode/src/github.com/google/gopacket ] || need_apt+=(golang-github-google-gopacket-dev)
    [ -d /usr/share/gocode/src/golang.org/x/net ] || need_apt+=(golang-golang-x-net-dev)
    [ -d /usr/share/gocode/src/golang.org/x/sys ] || need_apt+=(golang-golang-x-sys-dev)
    python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
    # The export crate's IPFIX test: nfcapd receives, nfdump reads back.
    { have nfcapd && have nfdump; } || need_apt+=(nfdump)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "deps: apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture: answer no, without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    if [ "$mode" = demo ]; then
        apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
fi
[ "$mode" = demo ] && exit 0

# Suricata 7 (pcap/tests/workers.rs: --pcap with threads: 2 through the
# drop-in): Debian 12 has it in bookworm-backports (1:7.0.10), Debian 13
# in main.
if ! have suricata; then
    export DEBIAN_FRONTEND=noninteractive
    if grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then
        src=/etc/apt/sources.list.d/netring-backports.sources
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            # The same mirror as the system's bookworm suite.
            uri=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
            [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
            if [ -z "$uri" ]; then
                echo "deps: no bookworm source in /etc/apt to add bookworm-backports next to; add it and rerun" >&2
                exit 1
            fi
            echo "deps: enabling bookworm-backports for suricata ($src, $uri)"
            printf '%s\n' 'Types: deb' "URIs: $uri" \
                'Suites: bookworm-backports' 'Components: main' \
                'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >"$src"
        fi
        echo "deps: apt-get install -t bookworm-backports suricata"
        apt-get update -qq
        apt-get install -y -qq -t bookworm-backports suricata >/dev/null
    else
        echo "deps: apt-get install suricata"
        apt-get update -qq
        apt-get install -y -qq suricata >/dev/null
    fi
fi

if ! cargo clippy --version >/dev/null 2>&1 || ! cargo fmt --version >/dev/null 2>&1; then
    echo "deps: rustup component add clippy rustfmt"
    rustup component add clippy rustfmt
fi

# cargo-c, pinned: newer releases need a newer rustc than this toolchain.
if ! cargo cinstall --version 2>/dev/null | grep -q '0\.10\.24'; then
    echo "deps: cargo install cargo-c 0.10.24 (takes several minutes, once)"
    cargo install cargo-c --version 0.10.24 --locked --quiet
fi

# make fuzz (and its short run in make test): libfuzzer-sys compiles
# libFuzzer with the C++ compiler above; fetch its crates once.
if [ ! -d fuzz/target ] && ! (cd "$(dirname "$0")/../fuzz" && cargo fetch --locked --quiet); then
    echo "deps: cargo fetch for fuzz/ failed (crates.io unreachable?)" >&2
    exit 1
fi
# Zig for bindings/zig, pinned: 0.17 is the version whose build API
# (addTranslateC, no @cImport) build.zig is written for.
if ! python3 -m ziglang version 2>/dev/null | grep -qx '0\.17\.1'; then
    echo "deps: pip install ziglang==0.17.1"
    python3 -m pip install -q ziglang==0.17.1 || python3 -m pip install -q --break-system-packages ziglang==0.17.1
fi
# The export crate's tests (export/tests/engines.rs): embedded ClickHouse
# (chdb), DuckDB and pyarrow read nrexport's Arrow streams and Parquet files.
if ! python3 -c 'import chdb, duckdb, pyarrow' 2>/dev/null; then
    echo "deps: pip install chdb duckdb pyarrow"
    python3 -m pip install -q chdb duckdb pyarrow || python3 -m pip install -q --break-system-packages chdb duckdb pyarrow
fi
