#!/usr/bin/env bash
# tx.sh - injection (TX) benchmark driver.
#
# Each sender runs in netns cbgen pinned to CPU $CB_GEN_CPU for a fixed time
# and sends the same UDP frame over veth cbv0 -> cbv1; the result is what the
# capture-side kernel counts (cbv1 rx_packets).  Nothing captures on cbv1.
# NB: on veth the receive side (netif_rx backlog -> ip_rcv drop) runs in the
# sender's softirq, on the sender's CPU, so it is part of every sender's cost.
#
# usage: tx.sh [options] [SENDER ...]
#   SENDER is a built-in name or NAME='COMMAND' run with `sh -c` in netns
#   cbgen; COMMAND may use {IF}, {LEN} (frame length) and {SECS}; it must stop
#   by itself after {SECS} seconds (or on SIGINT) and may print
#   "RESULT sent=N".
#
# options: -d SECONDS (10)  -r N (3)  -s SIZES (60,1514)  -o DIR  -R REF (min_tx)
#          --rps MASK / --queues N / --gro / --mtu BYTES   passed to netenv.sh up
#
# built-in senders (default: nrsend nrsend_ring min_tx pcap_inject trafgen):
#   nrsend         build/bin/nrsend, defaults (mode auto: sendmmsg on veth,
#                  256 slots, qdisc path)
#   nrsend_ring    build/bin/nrsend -m ring -b -F 4096 (TPACKET_V2 TX ring,
#                  qdisc bypass: the same set-up as min_tx)
#   min_tx         bench/min_tx.c (TPACKET_V2 TX ring 4096 x 2048, qdisc bypass)
#   pcap_inject    bench/pcap_inject.c (pcap_inject loop: one send() per frame)
#   trafgen        trafgen -P 1 --no-sock-mem -Q (TX_RING, qdisc bypass)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CB_ARGS="$*"

DUR=10 REPS=3 SIZES=60,1514 RESDIR="" REF=min_tx
NETENV_ARGS=()
cb_args "" "$@"
SENDERS=("${CB_NAMES[@]}")
[ ${#SENDERS[@]} -gt 0 ] || SENDERS=(nrsend nrsend_ring min_tx pcap_inject trafgen)

sender_cmd() {
    case "$1" in
        trafgen) echo "timeout -s INT {SECS} trafgen --no-sock-mem -Q -P 1 --dev {IF} --conf $CB_ROOT/scripts/trafgen/udp{LEN}.cfg" ;;
        min_tx) echo "$CB_BIN/min_tx {IF} {LEN} {SECS}" ;;
        pcap_inject) echo "$CB_BIN/pcap_inject {IF} {LEN} {SECS}" ;;
        nrsend) echo "$NR_BIN/nrsend -i {IF} -l {LEN} -t {SECS}" ;;
        nrsend_ring) echo "$NR_BIN/nrsend -i {IF} -l {LEN} -t {SECS} -m ring -b -F 4096" ;;
        *=*) echo "${1#*=}" ;;
        *) echo "unknown sender $1" >&2; exit 2 ;;
    esac
}
sender_name() { case "$1" in *=*) echo "${1%%=*}" ;; *) echo "$1" ;; esac; }

tools=(ip taskset python3 /usr/bin/time)
for c in "${SENDERS[@]}"; do
    set -- $(sender_cmd "$c")
    while [ $# -gt 1 ] && [[ $1 == env || $1 == *=* || $1 == timeout || $1 == -s || $1 == INT || $1 == "{SECS}" ]]; do shift; done
    [ $# -gt 0 ] && tools+=("$1")
done
check_tools "${tools[@]}"
cb_begin tx 'rep\tsize\tsender\twall_s\trx_packets\tsent\tcpu_s\tveth_txdrop\tsoftnet_drop\tload1'
{
    echo "duration: $DUR reps: $REPS sizes: $SIZES gen_cpu: $CB_GEN_CPU"
    for c in "${SENDERS[@]}"; do echo "sender $(sender_name "$c"): $(sender_cmd "$c")"; done
} >> "$RESDIR/meta.txt"

one_run() { # rep size spec
    local rep=$1 size=$2 spec=$3 name cmd tag
    name=$(sender_name "$spec")
    cmd=$(sender_cmd "$spec")
    tag="r${rep}-${size}-${name}"
    cmd=${cmd//\{IF\}/$CB_GEN_IF}
    cmd=${cmd//\{LEN\}/$size}
    cmd=${cmd//\{SECS\}/$DUR}
    local rx0 rx1 td0 td1 sn0 sn1 t0 t1 load1
    read -r load1 _ < /proc/loadavg
    rx0=$(ifstat "$CB_CAP_NS" "$CB_CAP_IF" rx_packets)
    td0=$(ifstat "$CB_GEN_NS" "$CB_GEN_IF" tx_dropped)
    sn0=$(softnet_drops)
    t0=$(now)
    ip netns exec "$CB_GEN_NS" taskset -c "$CB_GEN_CPU" /usr/bin/time -f '%e %U %S' -o "$RESDIR/logs/$tag.time" \
        sh -c "exec $cmd" > "$RESDIR/logs/$tag.out" 2>&1 < /dev/null || true
    t1=$(now)
    sleep 0.2
    rx1=$(ifstat "$CB_CAP_NS" "$CB_CAP_IF" rx_packets)
    td1=$(ifstat "$CB_GEN_NS" "$CB_GEN_IF" tx_dropped)
    sn1=$(softnet_drops)
    local sent cpu
    sent=$(tr '\r' '\n' < "$RESDIR/logs/$tag.out" | python3 -c '
import re, sys
t = sys.stdin.read()
m = re.findall(r"RESULT\b.*", t)
if m:
    print(dict(re.findall(r"(\w+)=(\S+)", m[-1])).get("sent", "nan"))
else:
    m = re.findall(r"(\d+) packets outgoing", t)
    print(m[-1] if m else "nan")')
    cpu=$(tail -1 "$RESDIR/logs/$tag.time" | awk '{ printf "%.2f", $2 + $3 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$size" "$name" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$((rx1 - rx0))" "$sent" "$cpu" \
        "$((td1 - td0))" "$((sn1 - sn0))" "$load1" >> "$TSV"
    log "$tag: $CB_CAP_IF rx $((rx1 - rx0)) sender says $sent cpu $cpu s"
}

cb_rotate "$REPS" "$SIZES" one_run "${SENDERS[@]}"
python3 "$CB_HERE/summarize.py" tx "$TSV" --ref "$REF" | tee "$RESDIR/summary.txt"
