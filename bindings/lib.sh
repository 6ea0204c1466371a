# shellcheck shell=bash
# Sourced by the bindings' test scripts (bash). The callers define
# ok/ko (one PASS/FAIL line each, counted in $pass/$fail) where needed.

# The namespace/veth harness and its "ready" checks (nr_wait_bound).
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/netns.sh"

# harness_init DEFAULT_COUNT SCRIPT NAME ARGS...: the start of a harness
# (exampletest.sh, tooltest.sh): $name, $COUNT (the environment's, else
# DEFAULT_COUNT), then enter_test_netns SCRIPT NAME ARGS... The caller
# shifts NAME off its own arguments.
harness_init() {
    COUNT=${COUNT:-$1}
    name=$3
    shift
    enter_test_netns "$@"
}

# enter_test_netns SCRIPT ARGS...: unless already inside one, re-run the
# calling script in a fresh network namespace with a veth pair
# (bindings/netns.sh sets NR_TEST_NS, NR_TEST_IF_A, NR_TEST_IF_B). Then:
# $out, a temporary directory, and $pid, the background capture of
# capture_trafgen, both cleaned up on exit.
enter_test_netns() {
    if [ -z "${NR_TEST_NS:-}" ]; then
        exec bash bindings/netns.sh bash "$@"
    fi
    out=$(mktemp -d)
    pid=""
    trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"' EXIT
}

# capture_trafgen NAME COUNT CMD...: start CMD (stdout and stderr into
# $out/stdout and $out/stderr) in the background, wait until its socket is
# bound, send COUNT UDP frames of 60 and 1514 bytes on $NR_TEST_IF_B with
# trafgen (independent of us), and wait up to 20 s for CMD to exit (then
# SIGINT, and SIGKILL 5 s later: a background job of a script may ignore
# SIGINT; said in $out/stderr). Sets $status to CMD's exit status.
# shellcheck disable=SC2034 # $status is read by the caller
capture_trafgen() {
    local name=$1 count=$2; shift 2
    "$@" >"$out/stdout" 2>"$out/stderr" &
    pid=$!
    nr_wait_bound "" "$NR_TEST_IF_A" || true # the caller's count check says what was lost
    trafgen --no-sock-mem -q -i scripts/trafgen/udp-mixed.cfg -o "$NR_TEST_IF_B" -n "$count" >/dev/null 2>&1
    if ! timeout 20 tail --pid="$pid" -f /dev/null; then
        echo "$name did not finish; stopping it" >>"$out/stderr"; kill -INT "$pid" 2>/dev/null || true
        timeout 5 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    status=0; wait "$pid" || status=$?
    pid=""
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
