#!/usr/bin/env bash
# latency.sh - immediate-mode delivery latency: how long after the kernel
# stamped a frame the capturing program's callback runs.
#
# Paced traffic (trafgen --gap, 60-byte UDP frames, CPU $CB_GEN_CPU in netns
# cbgen) at each rate; one consumer at a time in netns cbcap on CPU
# $CB_CAP_CPU, each taking, per packet, now (CLOCK_REALTIME) minus the
# packet's time stamp:
#   libpcap  build/bench/bin/pcap_latency (bench/pcap_latency.c: snaplen 256,
#            pcap_set_immediate_mode(p, 1), ns time stamps, pcap_loop) on
#            the system libpcap
#   dropin   the same binary on netring's libpcap drop-in
#            (LD_LIBRARY_PATH=build/prefix/lib/netring)
#   nrcap    build/bin/nrcap -i IF -q -s 256 --immediate --latency (the C API)
#   libpcap_spin, dropin_spin  (not by default) libpcap and dropin that never
#            sleep (non-blocking pcap_dispatch in a loop, CB_LAT_SPIN=1): the
#            latency without the consumer's wake-up
#   dropin_busy, nrcap_busy  (not by default) the blocking consumers with the
#            engine's spin before each sleep, 2000 us (NETRING_PCAP_BUSY_POLL,
#            nrcap --busy-poll): unmodified programs without the wake-up
# Each prints "LATENCY n= p50_us= p99_us= max_us=" at exit.
#
# usage: latency.sh [-d SECONDS] [-r RATES] [-n REPS] [-o DIR] [CONSUMER ...]
#   -d SECONDS  traffic per run (default 3): RATE x SECONDS frames
#   -r RATES    frames per second, comma separated (default 1000,10000)
#   -n REPS     interleaved repetitions, the consumer order rotating (default 3)
#   -o DIR      results (default $CB_OUT/runs/latency-<time>)
# Writes DIR/latency.tsv and DIR/summary.txt (a table per rate: medians of
# the repetitions, [min-max]; `python3 bench/summarize.py latency FILE`).
# trafgen's gap is a sleep between sends, so the achieved rate is below the
# asked one at 10 kpps; the table shows the achieved rate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CB_ARGS="$*"

DUR=3 RATES=1000,10000 REPS=3 RESDIR=""
cb_getopts "-d DUR -r RATES -n REPS -o RESDIR" "$@"
CONSUMERS=("${CB_NAMES[@]}")
[ ${#CONSUMERS[@]} -gt 0 ] || CONSUMERS=(libpcap dropin nrcap)

consumer_cmd() {
    case "$1" in
        libpcap) echo "$CB_BIN/pcap_latency {IF}" ;;
        dropin) echo "env LD_LIBRARY_PATH=$CB_ROOT/build/prefix/lib/netring $CB_BIN/pcap_latency {IF}" ;;
        nrcap) echo "$NR_BIN/nrcap -i {IF} -q -s 256 --immediate --latency" ;;
        # Never sleeping (CB_LAT_SPIN=1: non-blocking pcap_dispatch in a
        # loop): the latency without the wake-up, for comparison.
        libpcap_spin) echo "env CB_LAT_SPIN=1 $CB_BIN/pcap_latency {IF}" ;;
        dropin_spin) echo "env CB_LAT_SPIN=1 LD_LIBRARY_PATH=$CB_ROOT/build/prefix/lib/netring $CB_BIN/pcap_latency {IF}" ;;
        # The engine spins up to 2 ms before each sleep (immediate mode's
        # busy_poll_us): at 1 kpps and above the consumer never sleeps.
        dropin_busy) echo "env NETRING_PCAP_BUSY_POLL=2000 LD_LIBRARY_PATH=$CB_ROOT/build/prefix/lib/netring $CB_BIN/pcap_latency {IF}" ;;
        nrcap_busy) echo "$NR_BIN/nrcap -i {IF} -q -s 256 --immediate --busy-poll 2000 --latency" ;;
        *) echo "unknown consumer $1" >&2; exit 2 ;;
    esac
}

check_tools trafgen ip taskset python3 "$CB_BIN/pcap_latency" "$NR_BIN/nrcap" \
    "$CB_ROOT/build/prefix/lib/netring/libpcap.so.0.8"
NETENV_ARGS=()
cb_begin latency 'rep\trate\tconsumer\tframes\tsend_s\tcaptured\tdrops\tn\tp50_us\tp99_us\tmax_us'
{
    echo "libpcap: $(dpkg-query -W -f '${Version}' libpcap0.8 2>/dev/null || echo '?')"
    for c in "${CONSUMERS[@]}"; do echo "consumer $c: $(consumer_cmd "$c")"; done
} >> "$RESDIR/meta.txt"

one_run() { # rep rate consumer
    local rep=$1 rate=$2 name=$3 cmd tag pg frames gap t0 t1
    cmd=$(consumer_cmd "$name")
    cmd=${cmd//\{IF\}/$CB_CAP_IF}
    tag="r$rep-$rate-$name"
    local out="$RESDIR/logs/$tag.out" err="$RESDIR/logs/$tag.err"
    start_consumer "$cmd" "$tag" "$out" "$err" || return 1
    pg=$CB_PG
    sleep "$CB_SETTLE"
    frames=$(python3 -c "print(max(1, int($rate * $DUR)))")
    gap=$(python3 -c "print(max(1, round(1e6 / $rate)))")
    t0=$(now)
    ip netns exec "$CB_GEN_NS" taskset -c "$CB_GEN_CPU" trafgen --no-sock-mem -Q -P 1 \
        --dev "$CB_GEN_IF" --conf "$CB_ROOT/scripts/trafgen/udp60.cfg" --gap "${gap}us" -n "$frames" \
        > "$RESDIR/logs/$tag.gen" 2>&1 || true
    t1=$(now)
    grep -q -i "cannot\|error" "$RESDIR/logs/$tag.gen" && { log "$tag: trafgen failed"; cat "$RESDIR/logs/$tag.gen" >&2; }
    sleep 0.5
    stop_pgrp "$pg" 20
    wait "$pg" 2>/dev/null || true
    CB_PGRPS=("${CB_PGRPS[@]/$pg}")
    python3 - "$out" "$err" "$rep" "$rate" "$name" "$frames" "$t0" "$t1" >> "$TSV" <<'EOF'
import re, sys
out, err, rep, rate, name, frames, t0, t1 = sys.argv[1:]
txt = open(out, errors="replace").read() + "\n" + open(err, errors="replace").read()
res = dict(re.findall(r"(\w+)=(\d+)", (re.findall(r"RESULT\b.*", txt) or [""])[-1]))
lat = dict(re.findall(r"(\w+)=([\d.]+)", (re.findall(r"LATENCY\b.*", txt) or [""])[-1]))
print("\t".join([rep, rate, name, frames, "%.3f" % (float(t1) - float(t0)),
                 res.get("packets", "nan"), res.get("drops", "nan"), lat.get("n", "nan"),
                 lat.get("p50_us", "nan"), lat.get("p99_us", "nan"), lat.get("max_us", "nan")]))
EOF
    log "$tag: $(tail -1 "$TSV" | cut -f6-)"
}

cb_rotate "$REPS" "$RATES" one_run "${CONSUMERS[@]}"
python3 "$CB_HERE/summarize.py" latency "$TSV" | tee "$RESDIR/summary.txt"
