# shellcheck shell=bash
# Sourced by the bindings' test scripts (bash). The callers define
# ok/ko (one PASS/FAIL line each, counted in $pass/$fail) where needed.

# Wait up to 10 s until a packet socket bound to ETH_P_ALL exists in this
# network namespace ("ready" = bound: traffic before that is lost).
wait_bound() {
    local _
    for _ in $(seq 200); do
        awk 'NR > 1 && $4 == "0003" {found = 1} END {exit !found}' /proc/net/packet && return 0
        sleep 0.05
    done
    return 1
}

# add_counts LOG: add LOG's "PASS ..." and "FAIL ..." lines to $pass/$fail.
add_counts() {
    pass=$((pass + $(grep -c '^PASS' <<<"$1")))
    fail=$((fail + $(grep -c '^FAIL' <<<"$1")))
}

# run_harness CMD...: run a harness (exampletest.sh, tooltest.sh), show its
# output and add its PASS/FAIL lines to $pass/$fail.
run_harness() {
    local log
    log=$("$@" 2>&1)
    echo "$log"
    add_counts "$log"
}

# readme_shows README FILE...: the README shows each FILE verbatim (a reader
# copies the example from there), as one ok/ko line.
readme_shows() {
    local readme=$1; shift
    if python3 -c 'import sys; r = open(sys.argv[1]).read(); sys.exit(any(open(f).read() not in r for f in sys.argv[2:]))' \
        "$readme" "$@"; then
        ok "$readme shows $* verbatim"
    else
        ko "$readme does not show $* verbatim"
    fi
}
