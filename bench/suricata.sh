#!/usr/bin/env bash
# suricata.sh - Suricata 7 with several workers, three ways, on the
# benchmark veth pair (issue 23, section 4), the same offered load each:
#
#   dropin    --pcap, pcap threads: 2, through netring's libpcap drop-in
#             (the two handles split the traffic, see pcap/README.md)
#   libpcap   --pcap on the system libpcap, one thread (without a
#             splitting libpcap two pcap threads would each see every frame)
#   afpacket  Suricata's own --af-packet: tpacket-v3, cluster_flow, 2 threads
#
# Load: trafgen in the generator namespace, 1514-byte UDP frames over 1024
# flows (source ports 1024-2047), FRAMES frames at RATE. Reported per run:
# frames decoded, kernel drops (%), the Suricata process group's CPU per
# frame and the whole machine's busy CPU per frame (every CPU, softirq
# included, from /proc/stat).
#
# usage: bench/suricata.sh [-n FRAMES] [-b RATE] [-r REPS] [-o DIR] [MODE...]
#   -n FRAMES  frames per run (default 1000000)
#   -b RATE    trafgen rate (default 100000pps)
#   -r REPS    interleaved repetitions (default 3)
#   -o DIR     results (default build/bench/runs/suricata-DATE): suricata.tsv,
#              suricata.md, logs/
# env: DROPIN_DIR (the drop-in's directory, default build/prefix/lib/netring,
#      as `make` installs it)
set -euo pipefail
CB_ARGS="$*"
. "$(dirname "$0")/lib.sh"
FRAMES=1000000 RATE=100000pps REPS=3 RESDIR=""
cb_getopts "-n FRAMES -b RATE -r REPS -o RESDIR" "$@"
MODES=("${CB_NAMES[@]}")
[ ${#MODES[@]} -gt 0 ] || MODES=(dropin libpcap afpacket)
DROPIN_DIR=${DROPIN_DIR:-$CB_ROOT/build/prefix/lib/netring}
check_tools suricata trafgen python3 setsid
[ -e "$DROPIN_DIR/libpcap.so.0.8" ] || { echo "$DROPIN_DIR/libpcap.so.0.8 missing: run make" >&2; exit 1; }
NETENV_ARGS=()
cb_begin suricata "mode\trep\tframes_sent\tdecoded\tkernel_drops\tdrop_pct\tsuricata_cpu_ns_per_frame\tmachine_cpu_ns_per_frame"
echo "suricata: $(suricata -V 2>&1 | head -1); load: $FRAMES x 1514 B at $RATE, 1024 flows" >> "$RESDIR/meta.txt"

CFG=$RESDIR/trafgen-flows.cfg
cat > "$CFG" <<EOF
{
  eth(da=$CB_SPAN_MAC, sa=$CB_GEN_MAC, type=0x0800),
  ipv4(saddr=$CB_GEN_IP, daddr=$CB_CAP_IP, ttl=64, df),
  udp(sport=dinc(1024, 2047), dport=9),
  fill(0x00, 1472),
}
EOF

# Busy jiffies of the whole machine (every field of the cpu line but idle
# and iowait), in ns.
busy_ns() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) * 1e9 / hz }' /proc/stat
}

conf() { # mode dir
    local mode=$1 dir=$2
    cat <<EOF
%YAML 1.1
---
default-log-dir: $dir
outputs:
  - eve-log:
      enabled: yes
      filename: eve.json
      types:
        - stats:
            totals: yes
            threads: no
stats:
  enabled: yes
  interval: 1
logging:
  outputs:
    - console:
        enabled: yes
af-packet:
  - interface: $CB_CAP_IF
    threads: 2
    cluster-id: 99
    cluster-type: cluster_flow
    defrag: yes
    tpacket-v3: yes
    ring-size: 32768
    block-size: 1048576
pcap:
  - interface: $CB_CAP_IF
    threads: $([ "$mode" = dropin ] && echo 2 || echo 1)
EOF
}

run_one() { # mode rep
    local mode=$1 rep=$2 tag="$1-$2" dir
    dir=$RESDIR/logs/$tag
    mkdir -p "$dir"
    conf "$mode" "$dir" > "$dir/suricata.yaml"
    local args=(-c "$dir/suricata.yaml" -k none -S /dev/null --runmode workers)
    local env=(env -u LD_LIBRARY_PATH -u NETRING_PCAP_FANOUT)
    case "$mode" in
        dropin) args+=(--pcap="$CB_CAP_IF"); env+=(LD_LIBRARY_PATH="$DROPIN_DIR") ;;
        libpcap) args+=(--pcap="$CB_CAP_IF") ;;
        afpacket) args+=(--af-packet="$CB_CAP_IF") ;;
    esac
    setsid ip netns exec "$CB_CAP_NS" "${env[@]}" suricata "${args[@]}" > "$dir/console.log" 2>&1 &
    local pg=$!
    CB_PGRPS+=("$pg")
    local i
    for i in $(seq 300); do
        grep -q "Engine started" "$dir/console.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "Engine started" "$dir/console.log" || { log "$tag: suricata did not start"; cat "$dir/console.log" >&2; exit 1; }
    sleep "$CB_SETTLE"
    local c0 b0 c1 b1 tx0 tx1
    c0=$(pgrp_cpu "$pg"); b0=$(busy_ns); tx0=$(ifstat "$CB_GEN_NS" "$CB_GEN_IF" tx_packets)
    ip netns exec "$CB_GEN_NS" taskset -c "$CB_GEN_CPU" trafgen --no-sock-mem -Q -P 1 \
        --dev "$CB_GEN_IF" --conf "$CFG" -n "$FRAMES" -b "$RATE" > "$dir/trafgen.log" 2>&1 || true
    sleep "$CB_DRAIN"
    c1=$(pgrp_cpu "$pg"); b1=$(busy_ns); tx1=$(ifstat "$CB_GEN_NS" "$CB_GEN_IF" tx_packets)
    stop_pgrp "$pg" 30
    wait "$pg" 2>/dev/null || true
    python3 - "$dir/eve.json" "$mode" "$rep" "$((tx1 - tx0))" "${c0%% *}" "${c1%% *}" "$b0" "$b1" >> "$TSV" <<'EOF'
import json, sys
eve, mode, rep, sent, c0, c1, b0, b1 = sys.argv[1:]
last = None
for line in open(eve):
    if '"event_type":"stats"' in line:
        last = json.loads(line)
s = last["stats"]
dec = s["decoder"]["pkts"]
cap = s.get("capture", {})
drops = cap.get("kernel_drops", 0)
seen = cap.get("kernel_packets", dec)
sent = int(sent)
pct = 100.0 * drops / seen if seen else float("nan")
per = lambda a, b: (float(b) - float(a)) / sent if sent else float("nan")
print(f"{mode}\t{rep}\t{sent}\t{dec}\t{drops}\t{pct:.3f}\t{per(c0, c1):.0f}\t{per(b0, b1):.0f}")
EOF
    log "$tag: $(tail -1 "$TSV")"
}

for rep in $(seq "$REPS"); do
    for mode in "${MODES[@]}"; do
        run_one "$mode" "$rep"
    done
done

python3 - "$TSV" > "$RESDIR/suricata.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
modes = []
for r in rows:
    if r["mode"] not in modes:
        modes.append(r["mode"])
med = lambda m, k: statistics.median(float(r[k]) for r in rows if r["mode"] == m)
names = {"dropin": "--pcap, threads: 2, netring drop-in",
         "libpcap": "--pcap, 1 thread, system libpcap",
         "afpacket": "--af-packet, 2 threads, cluster_flow"}
print("| Suricata | decoded | kernel drops | Suricata CPU ns/frame | machine CPU ns/frame |")
print("|---|---:|---:|---:|---:|")
for m in modes:
    print(f"| {names.get(m, m)} | {med(m, 'decoded'):.0f} | {med(m, 'drop_pct'):.3f} % "
          f"| {med(m, 'suricata_cpu_ns_per_frame'):.0f} | {med(m, 'machine_cpu_ns_per_frame'):.0f} |")
if "dropin" in modes:
    for ref in ("libpcap", "afpacket"):
        if ref in modes:
            print(f"\ndrop-in / {ref}, machine CPU per frame: "
                  f"{med('dropin', 'machine_cpu_ns_per_frame') / med(ref, 'machine_cpu_ns_per_frame'):.2f}x")
EOF
cat "$RESDIR/suricata.md"
