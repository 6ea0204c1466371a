# lib.sh - shared helpers for run.sh and tx.sh (sourced, not executed).
# shellcheck shell=bash

CB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CB_ROOT=$(cd "$CB_HERE/.." && pwd)
CB_OUT=${CB_OUT:-$CB_ROOT/build/bench}
CB_BIN=${CB_BIN:-$CB_OUT/bin}          # the peers (bench/build.sh)
NR_BIN=${NR_BIN:-$CB_ROOT/build/bin}   # netring's C examples (make)
CB_SETTLE=${CB_SETTLE:-1}              # s between "consumer ready" and traffic
CB_DRAIN=${CB_DRAIN:-2}                # s between end of traffic and the final snapshot
eval "$("$CB_HERE/netenv.sh" env)"
# The namespace/veth harness (nr_bound_count, nr_has_xdp).
. "$CB_ROOT/scripts/netns.sh"

CB_GEN_CPU=${CB_GEN_CPU:-0}   # generator / sender CPU
CB_CAP_CPU=${CB_CAP_CPU:-1}   # consumer CPU

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# Interface counter of an interface inside a namespace.
ifstat() { # ns if counter
    ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

# Sum of the per-CPU "dropped" column of /proc/net/softnet_stat (backlog
# overflow drops; global, not per namespace).
softnet_drops() {
    local s=0 a b rest
    while read -r a b rest; do s=$((s + 16#$b)); done < /proc/net/softnet_stat
    echo "$s"
}

now() { date +%s.%N; }

# CPU time of every thread of every process in process group $1:
# prints "<sum_exec_runtime_ns> <utime_ticks> <stime_ticks>".
pgrp_cpu() {
    local pg=$1 ns=0 ut=0 st=0 pid t a b rest
    for pid in $(pgrep -g "$pg" 2>/dev/null); do
        for t in /proc/"$pid"/task/*; do
            [ -r "$t/schedstat" ] || continue
            read -r a _ < "$t/schedstat" 2>/dev/null || continue
            ns=$((ns + a))
            # utime/stime are fields 14/15; strip "pid (comm) " first (comm may contain spaces)
            rest=$(sed 's/^.*) //' "$t/stat" 2>/dev/null) || continue
            set -- $rest
            a=${12}; b=${13}
            ut=$((ut + a)); st=$((st + b))
        done
    done
    echo "$ns $ut $st"
}

# Memory of every process in process group $1, in KiB:
# "<VmRSS> <Rss of socket mappings (the rings)> <RssAnon>".  The packet/XDP
# rings are mappings of a socket ("socket:[inode]" in smaps); an AF_XDP
# UMEM is ordinary (anonymous) memory and is not part of the second number.
pgrp_mem() {
    local pg=$1 rss=0 ring=0 anon=0 pid a b c
    for pid in $(pgrep -g "$pg" 2>/dev/null); do
        a=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { sock = ($NF ~ /^socket:/) }
                 /^Rss:/ { if (sock) ring += $2 }
                 END { print ring + 0 }' "/proc/$pid/smaps" 2>/dev/null) || continue
        read -r b c < <(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
                             END { print r + 0, a + 0 }' "/proc/$pid/status" 2>/dev/null) || continue
        [ -n "$c" ] || continue
        ring=$((ring + a)); rss=$((rss + b)); anon=$((anon + c))
    done
    echo "$rss $ring $anon"
}

# Number of packet sockets bound to interface $2 in namespace $1, any
# protocol.
packet_socks_on() {
    nr_bound_count "$1" "$2" any
}

# Number of XDP programs attached to interface $2 in namespace $1 (0 or 1;
# any mode: native, generic or offloaded, legacy or bpf_link).
xdp_progs_on() {
    if nr_has_xdp "$1" "$2"; then echo 1; else echo 0; fi
}

# Start consumer command $1 (with `sh -c`) in the capture namespace on the
# consumer CPU, in a process group of its own (setsid: it can be signalled
# and measured as a whole), stdout to $3 and stderr to $4; then wait until
# it is ready: a new packet socket on the capture interface or (AF_XDP) an
# XDP program attached to it.  Sets CB_PG; returns 1 (after printing its
# stderr) if the consumer exited first.  $2 names it in the log.
start_consumer() { # cmd tag out err
    local base xbase i
    base=$(packet_socks_on "$CB_CAP_NS" "$CB_CAP_IF")
    xbase=$(xdp_progs_on "$CB_CAP_NS" "$CB_CAP_IF")
    setsid ip netns exec "$CB_CAP_NS" taskset -c "$CB_CAP_CPU" sh -c "exec $1" > "$3" 2> "$4" < /dev/null &
    CB_PG=$!
    CB_PGRPS+=("$CB_PG")
    for ((i = 0; i < 600; i++)); do
        [ "$(packet_socks_on "$CB_CAP_NS" "$CB_CAP_IF")" -gt "$base" ] && return 0
        [ "$(xdp_progs_on "$CB_CAP_NS" "$CB_CAP_IF")" -gt "$xbase" ] && return 0
        kill -0 "$CB_PG" 2>/dev/null || { log "$2: consumer exited early"; cat "$4" >&2; return 1; }
        sleep 0.1
    done
}

# Stop a process group: SIGINT, then SIGKILL after $2 seconds.
stop_pgrp() {
    local pg=$1 grace=${2:-20} i
    kill -INT -- "-$pg" 2>/dev/null || return 0
    for ((i = 0; i < grace * 10; i++)); do
        pgrep -g "$pg" >/dev/null 2>&1 || return 0
        sleep 0.1
    done
    log "process group $pg did not exit on SIGINT; killing"
    kill -KILL -- "-$pg" 2>/dev/null || true
}

# cb_option ARGS...: if $1 is an option run.sh and tx.sh share (-d -r -s
# -o -R, -h; --rps --queues --gro --mtu for netenv.sh up), take it: sets
# DUR, REPS, SIZES, RESDIR, REF or NETENV_ARGS, and CB_SHIFT to the number
# of words used (0: not one of them).
cb_option() {
    CB_SHIFT=2
    case "$1" in
        -d) DUR=$2 ;;
        -r) REPS=$2 ;;
        -s) SIZES=$2 ;;
        -o) RESDIR=$2 ;;
        -R) REF=$2 ;;
        --rps|--queues|--mtu) NETENV_ARGS+=("$1" "$2") ;;
        --gro) NETENV_ARGS+=(--gro); CB_SHIFT=1 ;;
        -h|--help) cb_help ;;
        *) CB_SHIFT=0 ;;
    esac
}

# cb_help: print the calling script's header comment (its usage) and exit 0.
cb_help() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
}

# cb_args EXTRA ARGS...: run.sh's / tx.sh's command line: the shared
# options (cb_option), then the script's own through the function EXTRA
# (unless ""; it sets CB_SHIFT as cb_option does); any other -X is an
# error (exit 2); the other words go to CB_NAMES, in order.
cb_args() {
    local extra=$1
    shift
    CB_NAMES=()
    while [ $# -gt 0 ]; do
        cb_option "$@"
        if [ "$CB_SHIFT" = 0 ] && [ -n "$extra" ]; then "$extra" "$@"; fi
        if [ "$CB_SHIFT" -gt 0 ]; then shift "$CB_SHIFT"; continue; fi
        case "$1" in
            -*) echo "unknown option $1" >&2; exit 2 ;;
            *) CB_NAMES+=("$1"); shift ;;
        esac
    done
}

# cb_getopts "FLAG VAR ..." ARGS...: the command line of a script with
# options of its own (latency.sh, suricata.sh): each FLAG takes a value,
# stored in the variable VAR; -h/--help prints the usage (cb_help); any
# other -X is an error (exit 2); the other words go to CB_NAMES, in order.
cb_getopts() {
    local -a spec
    local i
    read -r -a spec <<< "$1"
    shift
    CB_NAMES=()
    while [ $# -gt 0 ]; do
        case "$1" in
            -h|--help) cb_help ;;
            -*)
                for ((i = 0; i < ${#spec[@]}; i += 2)); do
                    [ "$1" = "${spec[i]}" ] || continue
                    printf -v "${spec[i + 1]}" '%s' "$2"
                    shift 2
                    continue 2
                done
                echo "unknown option $1" >&2; exit 2 ;;
            *) CB_NAMES+=("$1"); shift ;;
        esac
    done
}

# cb_rotate REPS LIST FN ITEM...: FN REP X ITEM for each repetition REP
# (1..REPS), each X of the comma-separated LIST and each ITEM, the ITEMs'
# order rotating every repetition (no ITEM always runs first).
cb_rotate() {
    local reps=$1 fn=$3 _rep _x _k _n _xs
    IFS=, read -r -a _xs <<< "$2"
    shift 3
    _n=$#
    for ((_rep = 1; _rep <= reps; _rep++)); do
        for _x in "${_xs[@]}"; do
            for ((_k = 0; _k < _n; _k++)); do
                "$fn" "$_rep" "$_x" "${@:$(((_k + _rep - 1) % _n + 1)):1}"
            done
        done
    done
}

# cb_begin KIND HEADER: the start of a run.sh / tx.sh run. Needs root;
# results in $RESDIR (default $CB_OUT/runs/KIND-DATE, with logs/) and $TSV
# ($RESDIR/KIND.tsv, first line HEADER, printf %b escapes); the topology up
# (netenv.sh up "${NETENV_ARGS[@]}") and torn down on exit; meta.txt begun
# with the machine and the command (the caller appends its own lines).
cb_begin() {
    local kind=$1 header=$2
    [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
    RESDIR=${RESDIR:-$CB_OUT/runs/$kind-$(date +%Y%m%d-%H%M%S)}
    mkdir -p "$RESDIR/logs"
    TSV=$RESDIR/$kind.tsv
    printf '%b\n' "$header" > "$TSV"
    trap cb_cleanup EXIT
    trap 'exit 130' INT TERM
    "$CB_HERE/netenv.sh" up "${NETENV_ARGS[@]}"
    log "netenv up ${NETENV_ARGS[*]}; results in $RESDIR"
    {
        echo "date: $(date -Is)"; echo "kernel: $(uname -r)"; echo "cpus: $(nproc)"
        echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
        echo "command: $0 $CB_ARGS"
    } > "$RESDIR/meta.txt"
}

CB_PGRPS=()
cb_cleanup() {
    local pg
    for pg in "${CB_PGRPS[@]}"; do
        kill -KILL -- "-$pg" 2>/dev/null || true
    done
    rm -f /dev/shm/cbcap-*.pcap* 2>/dev/null || true
    "$CB_HERE/netenv.sh" down
}

check_tools() {
    local t missing=0
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1 && [ ! -x "$t" ]; then
            echo "missing: $t" >&2
            missing=1
        fi
    done
    [ "$missing" = 0 ] || { echo "run build.sh / see README.md" >&2; exit 1; }
}
