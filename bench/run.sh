#!/usr/bin/env bash
# run.sh - capture (RX) benchmark driver.
#
# Offered load: trafgen (netsniff-ng) at max rate in netns cbgen, pinned to
# CPU $CB_GEN_CPU, sending UDP frames over veth cbv0 -> cbv1.  Each consumer
# runs in netns cbcap pinned to CPU $CB_CAP_CPU for the same traffic window.
#
# usage: run.sh [options] [CONSUMER ...]
#   CONSUMER is a built-in name (see below) or NAME='COMMAND' where COMMAND is
#   run with `sh -c` inside netns cbcap and may use {IF} for the capture
#   interface.  It must capture until SIGINT and then print either
#       RESULT packets=<captured> drops=<kernel drops>
#   (on stdout or stderr), or tcpdump's / netsniff-ng's exit statistics.
#   Example, another consumer next to the reference:
#       run.sh min_v3 mine='/path/to/mine-rx --iface {IF}'
#
# options:
#   -d SECONDS   traffic duration per run            (default 10)
#   -r N         repetitions                         (default 3)
#   -s SIZES     frame sizes, comma separated        (default 60,1514)
#   -o DIR       results directory                   (default $CB_OUT/runs/rx-<time>)
#   -R NAME      reference consumer for the ratios   (default min_v3)
#   -g GEN       traffic source: trafgen (default) or min_tx (bench/min_tx.c;
#                use it with --rps, where trafgen aborts on EAGAIN). Frames
#                above 1514 B always come from min_tx (trafgen's TX ring on
#                veth has 2 KiB frames and sends nothing larger)
#   --rps MASK / --queues N / --gro / --mtu BYTES   passed to netenv.sh up
#                (frames above 1514 B need a larger MTU: with such a size
#                in -s and no --mtu, run.sh sets --mtu 9000 itself)
#
# built-in consumers (default: none min_v3 nrcap libpcap tcpdump):
#   none          no consumer at all: the offered load with no tap
#   min_v3        bench/min_v3.c  (TPACKET_V3, 4 MiB x 64, touch byte 0)
#   nrcap         build/bin/nrcap -i IF -q (netring's C API: nr_next_batch +
#                 nr_batch_for_each, defaults: 4 MiB x 64, tov 60 ms)
#   libpcap       bench/min_pcap.c (Debian libpcap, 256 MiB, pcap_dispatch)
#   tcpdump       tcpdump -i IF -w /dev/null -s 0            (default -B)
#   tcpdump_B256M tcpdump -i IF -B 262144 -w /dev/null -s 0  (ring parity)
#   tcpdump_shim  the same tcpdump through netring's libpcap drop-in
#                 (LD_LIBRARY_PATH=build/prefix/lib/netring; default ring 32 MiB)
#   libpcap_imm   min_pcap in immediate mode (CB_PCAP_IMMEDIATE=1: libpcap's
#                 TPACKET_V2 frame ring)
#   shim_imm      the same min_pcap binary on netring's drop-in
#   nrcap_imm     nrcap -i IF -q --immediate (netring's TPACKET_V2 frame ring)
#   tcpdump_tmpfs tcpdump -i IF -w /dev/shm/cbcap-*.pcap -C 1000 -W 1 -s 0
#   nrcap_tmpfs   nrcap -i IF -q -w /dev/shm/cbcap-*.pcap -C 1000 -W 1 (same rotation)
#   tcpdump_disk / nrcap_disk   the same into $CB_DISK (a directory on the
#                 disk under test, e.g. a loop-mounted ext4 image: bench.sh)
#   nrcap_disk_direct  nrcap_disk with --direct (O_DIRECT, double-buffered)
#   netsniff      netsniff-ng -i IF -o /dev/null -s -S 256MiB -A -Q
#   min_xsk       bench/min_xsk.c (AF_XDP copy mode, native XDP, queue 0,
#                 UMEM 4096 x 4 KiB, fill/RX ring 4096, touch byte 0)
#   min_xsk_generic  the same with generic (skb) XDP
#   nrexport_arrow  build/bin/nrcap -i IF -q -F arrow -w /dev/null, which
#                 execs nrexport ($NREXPORT, default target/release/nrexport,
#                 through NETRING_NREXPORT): live packets into an Arrow
#                 stream of packet rows
#   nrexport_flows  the same with --records flows (the flow meter, flow rows)
#   nrxdp         build/bin/nrxdp -i IF -Q -m native  (netring AF_XDP, queue 0)
#   nrxdp_generic build/bin/nrxdp -i IF -Q -m generic
#   nrgocap       bindings/go's cmd/nrgocap -i IF -q (Go: waits in the netpoller,
#                 walks with Batch.Window, no cgo call per packet)
#   gopacket_afpacket  bench/gopacket_afpacket (gopacket's afpacket, 4 MiB x 64,
#                 tov 60 ms, ZeroCopyReadPacketData)
#   cppcap        bindings/cpp/cppcap.cpp -i IF -q (netring.hpp, range-for)
#   zigcap        bindings/zig's zigcap -i IF -q (ReleaseFast, batch iterator)
#                 (these four: built by bench/build-bindings.sh into CB_BIN)
# env: CB_SETTLE (s, default 1) after the consumer is ready, CB_DRAIN (s,
#      default 2) after the traffic, before the final snapshot.
# A consumer is ready when it has bound a new packet socket to the interface
# (/proc/net/packet) or, for AF_XDP consumers, attached an XDP program to it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CB_ARGS="$*"

DUR=10 REPS=3 SIZES=60,1514 RESDIR="" REF=min_v3 GEN=trafgen
NETENV_ARGS=()
gen_option() { # -g GEN, run.sh's own option (for cb_args)
    CB_SHIFT=0
    if [ "$1" = -g ]; then GEN=$2; CB_SHIFT=2; fi
}
cb_args gen_option "$@"
CONSUMERS=("${CB_NAMES[@]}")
# Jumbo frames (the frame-size sweep) need MTU 9000 on the veth pair.
if [[ " ${NETENV_ARGS[*]} " != *" --mtu "* ]]; then
    IFS=, read -r -a _sizes <<< "$SIZES"
    for _s in "${_sizes[@]}"; do
        if [ "$_s" -gt 1514 ]; then NETENV_ARGS+=(--mtu 9000); break; fi
    done
fi
[ ${#CONSUMERS[@]} -gt 0 ] ||
    CONSUMERS=(none min_v3 nrcap libpcap tcpdump)

consumer_cmd() { # name -> command template ("" for none)
    case "$1" in
        none) echo "" ;;
        min_v3) echo "$CB_BIN/min_v3 {IF}" ;;
        nrcap) echo "$NR_BIN/nrcap -i {IF} -q" ;;
        min_xsk) echo "$CB_BIN/min_xsk {IF} native" ;;
        min_xsk_generic) echo "$CB_BIN/min_xsk {IF} generic" ;;
        libpcap) echo "$CB_BIN/min_pcap {IF}" ;;
        tcpdump) echo "tcpdump -i {IF} -w /dev/null -s 0" ;;
        tcpdump_B256M) echo "tcpdump -i {IF} -B 262144 -w /dev/null -s 0" ;;
        tcpdump_shim) echo "env LD_LIBRARY_PATH=$CB_ROOT/build/prefix/lib/netring tcpdump -i {IF} -w /dev/null -s 0" ;;
        libpcap_imm) echo "env CB_PCAP_IMMEDIATE=1 $CB_BIN/min_pcap {IF}" ;;
        shim_imm) echo "env LD_LIBRARY_PATH=$CB_ROOT/build/prefix/lib/netring CB_PCAP_IMMEDIATE=1 $CB_BIN/min_pcap {IF}" ;;
        nrcap_imm) echo "$NR_BIN/nrcap -i {IF} -q --immediate" ;;
        tcpdump_tmpfs) echo "tcpdump -i {IF} -w /dev/shm/cbcap-{RUN}.pcap -C 1000 -W 1 -s 0" ;;
        nrcap_tmpfs) echo "$NR_BIN/nrcap -i {IF} -q -w /dev/shm/cbcap-{RUN}.pcap -C 1000 -W 1" ;;
        tcpdump_disk) echo "tcpdump -i {IF} -w ${CB_DISK:?set CB_DISK}/cbcap-{RUN}.pcap -C 1000 -W 1 -s 0" ;;
        nrcap_disk) echo "$NR_BIN/nrcap -i {IF} -q -w ${CB_DISK:?set CB_DISK}/cbcap-{RUN}.pcap -C 1000 -W 1" ;;
        nrcap_disk_direct) echo "$NR_BIN/nrcap -i {IF} -q -w ${CB_DISK:?set CB_DISK}/cbcap-{RUN}.pcap -C 1000 -W 1 --direct" ;;
        netsniff) echo "netsniff-ng -i {IF} -o /dev/null -s -S 256MiB -A -Q" ;;
        nrexport_arrow) echo "env NETRING_NREXPORT=${NREXPORT:-$CB_ROOT/target/release/nrexport} $NR_BIN/nrcap -i {IF} -q -F arrow -w /dev/null" ;;
        nrexport_flows) echo "env NETRING_NREXPORT=${NREXPORT:-$CB_ROOT/target/release/nrexport} $NR_BIN/nrcap -i {IF} -q -F arrow --records flows -w /dev/null" ;;
        nrxdp) echo "$NR_BIN/nrxdp -i {IF} -Q -m native" ;;
        nrxdp_generic) echo "$NR_BIN/nrxdp -i {IF} -Q -m generic" ;;
        # The bindings' capture tools and the Go peer (bench/build-bindings.sh).
        nrgocap) echo "$CB_BIN/nrgocap -i {IF} -q" ;;
        gopacket_afpacket) echo "$CB_BIN/gopacket_afpacket {IF}" ;;
        cppcap) echo "$CB_BIN/cppcap -i {IF} -q" ;;
        zigcap) echo "$CB_BIN/zigcap -i {IF} -q" ;;
        *=*) echo "${1#*=}" ;;
        *) echo "unknown consumer $1" >&2; exit 2 ;;
    esac
}
consumer_name() { case "$1" in *=*) echo "${1%%=*}" ;; *) echo "$1" ;; esac; }

tools=(trafgen pgrep ip taskset python3 /usr/bin/time)
for c in "${CONSUMERS[@]}"; do
    t=$(consumer_cmd "$c")
    set -- $t
    while [ $# -gt 1 ] && [[ $1 == env || $1 == *=* ]]; do shift; done
    [ $# -gt 0 ] && tools+=("$1")
done
check_tools "${tools[@]}"
cb_begin rx 'rep\tsize\tconsumer\twall_s\toffered\tcaptured\tkdrops\tcons_cpu_ns\tcons_utime_ticks\tcons_stime_ticks\tgen_cpu_s\tgen_sent\tveth_txdrop\tsoftnet_drop\tload1\trss_kib\tring_kib\tanon_kib'
{
    echo "duration: $DUR reps: $REPS sizes: $SIZES gen_cpu: $CB_GEN_CPU cap_cpu: $CB_CAP_CPU generator: $GEN"
    echo "netenv: ${NETENV_ARGS[*]}"
    echo "trafgen: $(trafgen -v 2>&1 | head -1)"; echo "tcpdump: $(tcpdump --version 2>&1 | head -2 | tr '\n' ' ')"
    for c in "${CONSUMERS[@]}"; do echo "consumer $(consumer_name "$c"): $(consumer_cmd "$c")"; done
} >> "$RESDIR/meta.txt"

# Parse a consumer's output -> "captured kdrops"
parse_consumer() { # stdout_file stderr_file
    python3 - "$1" "$2" <<'EOF'
import re, sys
txt = open(sys.argv[1], errors="replace").read() + "\n" + open(sys.argv[2], errors="replace").read()
m = re.findall(r"RESULT\b.*", txt)
if m:
    kv = dict(re.findall(r"(\w+)=(\d+)", m[-1]))
    print(kv.get("packets", "nan"), kv.get("drops", "nan")); sys.exit()
cap = re.search(r"(\d+) packets captured", txt)
if cap:
    d = re.search(r"(\d+) packets dropped by kernel", txt)
    print(cap.group(1), d.group(1) if d else "nan"); sys.exit()
passed = re.search(r"(\d+)\s+packets passed filter", txt)
if passed:
    unread = re.search(r"\((\d+) unread on exit\)", txt)
    failed = re.search(r"(\d+)\s+packets failed filter", txt)
    print(int(passed.group(1)) - int(unread.group(1) if unread else 0),
          failed.group(1) if failed else "nan"); sys.exit()
print("nan nan")
EOF
}

one_run() { # rep size consumer_spec
    local rep=$1 size=$2 spec=$3 name cmd tag pg="" xbase i
    [ -f "$CB_ROOT/scripts/trafgen/udp$size.cfg" ] || { echo "no scripts/trafgen/udp$size.cfg" >&2; exit 2; }
    name=$(consumer_name "$spec")
    cmd=$(consumer_cmd "$spec")
    tag="r${rep}-${size}-${name}"
    cmd=${cmd//\{IF\}/$CB_CAP_IF}
    cmd=${cmd//\{RUN\}/$tag}
    local out="$RESDIR/logs/$tag.out" err="$RESDIR/logs/$tag.err"
    : > "$out"; : > "$err"
    if [ -n "$cmd" ]; then
        xbase=$(xdp_progs_on "$CB_CAP_NS" "$CB_CAP_IF")
        start_consumer "$cmd" "$tag" "$out" "$err" || return 1
        pg=$CB_PG
        sleep "$CB_SETTLE" # settle: ring set up, first poll() entered
    fi
    local rx0 rx1 td0 td1 sn0 sn1 c0 c1 t0 t1 load1
    read -r load1 _ < /proc/loadavg
    rx0=$(ifstat "$CB_CAP_NS" "$CB_CAP_IF" rx_packets)
    td0=$(ifstat "$CB_GEN_NS" "$CB_GEN_IF" tx_dropped)
    sn0=$(softnet_drops)
    c0=$( [ -n "$pg" ] && pgrp_cpu "$pg" || echo "0 0 0")
    t0=$(now)
    local gencmd gen=$GEN
    # trafgen's TX ring on veth has 2 KiB frames: jumbo frames come from
    # min_tx (the same UDP frame, 16 KiB ring frames).
    [ "$gen" = trafgen ] && [ "$size" -gt 1514 ] && gen=min_tx
    case "$gen" in
        trafgen) gencmd=(timeout -s INT "$DUR" trafgen --no-sock-mem -Q -P 1 --dev "$CB_GEN_IF"
                         --conf "$CB_ROOT/scripts/trafgen/udp$size.cfg") ;;
        min_tx) gencmd=("$CB_BIN/min_tx" "$CB_GEN_IF" "$size" "$DUR") ;;
        *) echo "unknown generator $GEN" >&2; exit 2 ;;
    esac
    ip netns exec "$CB_GEN_NS" taskset -c "$CB_GEN_CPU" /usr/bin/time -f '%e %U %S' -o "$RESDIR/logs/$tag.gentime" \
        "${gencmd[@]}" > "$RESDIR/logs/$tag.gen" 2>&1 || true
    t1=$(now)
    [ -n "$pg" ] && sleep "$CB_DRAIN" # drain: block retire timeouts (tcpdump/libpcap: 1 s)
    rx1=$(ifstat "$CB_CAP_NS" "$CB_CAP_IF" rx_packets)
    td1=$(ifstat "$CB_GEN_NS" "$CB_GEN_IF" tx_dropped)
    sn1=$(softnet_drops)
    c1=$( [ -n "$pg" ] && pgrp_cpu "$pg" || echo "0 0 0")
    local mem="nan nan nan"
    [ -n "$pg" ] && mem=$(pgrp_mem "$pg")
    local captured="nan" kdrops="nan"
    if [ -n "$pg" ]; then
        stop_pgrp "$pg" 20
        wait "$pg" 2>/dev/null || true
        # An AF_XDP consumer's program goes with its process; make sure the
        # next consumer starts on a bare interface.
        for ((i = 0; i < 50; i++)); do
            [ "$(xdp_progs_on "$CB_CAP_NS" "$CB_CAP_IF")" -gt "$xbase" ] || break
            sleep 0.1
        done
        [ "$i" -lt 50 ] || log "$tag: an XDP program is still attached to $CB_CAP_IF after the consumer exited"
        CB_PGRPS=("${CB_PGRPS[@]/$pg}")
        read -r captured kdrops < <(parse_consumer "$out" "$err")
        rm -f /dev/shm/cbcap-"$tag".pcap* 2>/dev/null || true
        [ -n "${CB_DISK:-}" ] && rm -f "$CB_DISK"/cbcap-"$tag".pcap* 2>/dev/null || true
    fi
    local gsent gcpu
    # trafgen prints its counters with carriage returns
    gsent=$(tr '\r' '\n' < "$RESDIR/logs/$tag.gen" |
        awk '/packets outgoing/ { n = $1 } /^RESULT/ { sub(/.*sent=/, ""); n = $1 } END { print n + 0 }')
    gcpu=$(tail -1 "$RESDIR/logs/$tag.gentime" | awk '{ printf "%.2f", $2 + $3 }')
    set -- $c0; local cn0=$1 cu0=$2 cs0=$3
    set -- $c1; local cn1=$1 cu1=$2 cs1=$3
    local rss ring anon
    read -r rss ring anon <<< "$mem"
    printf '%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$rep" "$size" "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$((rx1 - rx0))" "$captured" "$kdrops" \
        "$((cn1 - cn0))" "$((cu1 - cu0))" "$((cs1 - cs0))" "$gcpu" "${gsent:-nan}" \
        "$((td1 - td0))" "$((sn1 - sn0))" "$load1" "$rss" "$ring" "$anon" >> "$TSV"
    log "$tag: offered $((rx1 - rx0)) captured $captured kdrops $kdrops cpu_ms $(((cn1 - cn0) / 1000000))"
}

cb_rotate "$REPS" "$SIZES" one_run "${CONSUMERS[@]}"
python3 "$CB_HERE/summarize.py" rx "$TSV" --ref "$REF" | tee "$RESDIR/summary.txt"
