#!/usr/bin/env bash
# tcpdump's own test suite (tests/TESTrun: `tcpdump -# -n -r FILE OPTIONS`
# compared with the expected .out files) run twice with the system's tcpdump
# binary: once on the real libpcap, once through the netring drop-in. Prints
# both pass/fail counts and every test whose result differs between the two
# runs; exits 1 when the two runs do not pass and fail the same tests.
#
#   scripts/tcpdump-suite.sh TCPDUMP_CHECKOUT [SHIM_DIR]
#
# TCPDUMP_CHECKOUT is a tcpdump source tree (at least its tests/ directory),
# ideally at the tag of the installed binary's version (Debian 12:
# tcpdump-4.99.3), so that the expected outputs match it; with another
# version only the comparison of the two runs means something. This script
# fetches nothing. SHIM_DIR (default build/prefix/lib/netring, from `make`)
# holds libpcap.so.0.8. Not part of `make test`.
#
# Environment: TCPDUMP_BIN (default: tcpdump from PATH); WORK (scratch
# directory, default a new one under /tmp, removed at exit unless KEEP=1).
set -euo pipefail

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

[ $# -ge 1 ] || usage
checkout=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
shim=${2:-$root/build/prefix/lib/netring}
shim=$(cd "$shim" && pwd)
tcpdump_bin=${TCPDUMP_BIN:-$(command -v tcpdump)}

[ -f "$checkout/tests/TESTrun" ] && [ -f "$checkout/tests/TESTLIST" ] || {
    echo "$checkout: no tests/TESTrun and tests/TESTLIST (not a tcpdump checkout?)" >&2
    exit 2
}
[ -f "$shim/libpcap.so.0.8" ] || {
    echo "$shim/libpcap.so.0.8: missing (run make, or pass the directory)" >&2
    exit 2
}
command -v perl >/dev/null || { echo "perl is needed (TESTrun is Perl)" >&2; exit 2; }

if [ -n "${WORK:-}" ]; then
    work=$WORK
    mkdir -p "$work"
else
    work=$(mktemp -d /tmp/tcpdump-suite.XXXXXX)
    if [ "${KEEP:-0}" != 1 ]; then
        trap 'rm -rf "$work"' EXIT
    fi
fi

# TESTrun reads ./config.h for the tests that depend on build options; the
# binary is Debian's, so describe it from its --version output.
config_h() {
    local v
    v=$("$tcpdump_bin" --version 2>&1 || true)
    if grep -qi 'openssl\|libcrypto' <<<"$v"; then
        echo '#define HAVE_LIBCRYPTO 1'
    fi
    if grep -qi 'smi' <<<"$v"; then
        echo '#define USE_LIBSMI 1'
    fi
}

# run NAME LD_LIBRARY_PATH: the suite in $work/NAME; results in NAME.results
# as "name passed|failed" lines.
run() {
    local name=$1 ldpath=$2 dir=$work/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    config_h >"$dir/config.h"
    (
        cd "$dir"
        if [ -n "$ldpath" ]; then
            export LD_LIBRARY_PATH=$ldpath
        else
            unset LD_LIBRARY_PATH
        fi
        unset NETRING_PCAP_ENGINE NETRING_PCAP_FANOUT NETRING_PCAP_RING
        TCPDUMP_BIN=$tcpdump_bin perl "$checkout/tests/TESTrun" >"$dir/log" 2>&1 || true
    )
    grep -q . "$dir/log" || { echo "$name: TESTrun printed nothing" >&2; exit 1; }
    sed -n 's/^    \(.*[^ ]\) *: \(passed\|TEST FAILED\|skipped\).*/\1 \2/p' "$dir/log" |
        sed 's/ TEST FAILED$/ failed/' | sort >"$work/$name.results"
    if ! [ -s "$work/$name.results" ]; then
        # master's TESTrun needs tcpdump 5 (--time-t-size): run TESTLIST's
        # simple tests directly, as that TESTrun does (TZ=GMT0, -# -n -r,
        # -tttt unless the options say SPECIAL_t, stdout compared with the
        # .out file; the .stderr files are not checked).
        echo "[$name] TESTrun ran no test ($(tail -n 1 "$dir/log")); running TESTLIST directly"
        (
            cd "$checkout/tests"
            if [ -n "$ldpath" ]; then
                export LD_LIBRARY_PATH=$ldpath
            else
                unset LD_LIBRARY_PATH
            fi
            export TZ=GMT0
            grep -v '^#' TESTLIST | grep -v '^[[:space:]]*$' |
                while read -r tname input output opts; do
                    if [[ $opts == *SPECIAL_t* ]]; then
                        opts=${opts//SPECIAL_t/}
                    else
                        opts="-tttt $opts"
                    fi
                    # shellcheck disable=SC2086
                    if "$tcpdump_bin" -# -n -r "$input" $opts >"$dir/out" 2>/dev/null &&
                        cmp -s "$dir/out" "$output"; then
                        echo "$tname passed"
                    else
                        echo "$tname failed"
                    fi
                done
        ) | sort >"$work/$name.results"
    fi
    head -n 3 "$dir/log" | sed "s/^/[$name] /"
}

run real ""
run shim "$shim"
grep -q 'netring engine' "$work/shim/log" || {
    echo "the shim run did not load the drop-in (no 'netring engine' in tcpdump --version)" >&2
    exit 1
}

count() { awk -v r="$2" '$NF == r' "$work/$1.results" | wc -l; }
for n in real shim; do
    printf '%-5s %5d passed %5d failed %5d skipped (of %d)\n' "$n" \
        "$(count "$n" passed)" "$(count "$n" failed)" "$(count "$n" skipped)" \
        "$(wc -l <"$work/$n.results")"
done
if diff <(cat "$work/real.results") <(cat "$work/shim.results") >"$work/diff"; then
    echo "same pass/fail set on the real libpcap and through the drop-in"
else
    echo "results differ (< real libpcap, > drop-in):"
    grep '^[<>]' "$work/diff"
    exit 1
fi
