#!/usr/bin/env bash
# bench.sh - the whole benchmark: RX (TPACKET_V3 consumers), a frame-size
# sweep (nrcap vs min_v3 from 60 to 9000 B), immediate mode (latency at 1
# and 10 kpps, CPU per packet at full rate), AF_XDP, TX, the C-API micro
# benchmarks and memory, all on one veth pair in two throwaway namespaces;
# then a markdown report and an SVG plot.
#
# usage: bench.sh [-d SECONDS] [-r REPS] [-o RESULTS_DIR]    (make bench)
#        bench.sh --smoke                                    (make bench-smoke)
#
#   -d SECONDS  traffic per run (default 4)
#   -r REPS     interleaved repetitions (default 3)
#   -o DIR      where the report goes (default bench/results/<date>)
#   --smoke     every benchmark once, 1 s, 60-byte frames (the sweep: one
#               9000-byte run; write: 1514 B, and the offline writers once
#               with a 30 MB pcap), then check that each produced numbers
#               (exit 1 if not); nothing is kept
#   --export-only only the export part (flowbench, nrexport offline and
#               live), its report into -o DIR
#   --write-only  only the write part (live capture to tmpfs/ext4 and the
#               offline writer throughput), its report into -o DIR
#
# env: WRITE_RECORDS (1514-byte records in the offline writers' pcap, default
#      650000 = 994.5 MB), SWEEP_SIZES (default 60,128,256,512,1024,1514,4000,9000),
#      EXPORT_PACKETS / EXPORT_FLOWS (the export pcap, default 2000000 packets
#      over 100000 flows), FLOWBENCH_FLOWS (default 1048576)
#
# Needs root, the programs from `make` (build/bin/nrcap, nrsend, nrxdp),
# the micro benchmark ($MICRO, default target/release/examples/micro),
# nrexport, genpcap and flowbench ($NREXPORT, $GENPCAP, $FLOWBENCH, default
# target/release/{nrexport,examples/genpcap,examples/flowbench}) and
# the tools from scripts/deps.sh; builds the peers itself (bench/build.sh).
# Raw logs: build/bench/runs/<time>/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
DUR=4 REPS=3 OUTDIR="" SMOKE=0 WRITE_ONLY=0 EXPORT_ONLY=0
SWEEP_SIZES=${SWEEP_SIZES:-60,128,256,512,1024,1514,4000,9000}
ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
        -d) DUR=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        -o) OUTDIR=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --write-only) WRITE_ONLY=1; shift ;;
        --export-only) EXPORT_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [-d SECONDS] [-r REPS] [-o DIR] [--write-only | --export-only] | --smoke" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root (namespaces, packet sockets, XDP)" >&2; exit 1; }
MICRO=${MICRO:-$ROOT/target/release/examples/micro}
PARSE=${PARSE:-$(dirname "$MICRO")/parse}
export NREXPORT=${NREXPORT:-$ROOT/target/release/nrexport}
GENPCAP=${GENPCAP:-$(dirname "$NREXPORT")/examples/genpcap}
FLOWBENCH=${FLOWBENCH:-$(dirname "$NREXPORT")/examples/flowbench}
NEED=("$ROOT/build/bin/nrcap")
[ "$WRITE_ONLY" = 1 ] || NEED+=("$ROOT/build/bin/nrsend" "$NREXPORT" "$GENPCAP" "$FLOWBENCH")
[ "$WRITE_ONLY" = 1 ] || [ "$EXPORT_ONLY" = 1 ] || NEED+=("$ROOT/build/bin/nrxdp" "$MICRO" "$PARSE")
for p in "${NEED[@]}"; do
    [ -x "$p" ] || { echo "bench.sh: $p missing: run it through make (make bench / make bench-smoke)" >&2; exit 1; }
done

# Namespaces and interfaces of our own, so that concurrent runs (and the
# test suite on the same machine) never meet.
export CB_GEN_NS=nrbench-gen-$$ CB_CAP_NS=nrbench-cap-$$
export CB_GEN_IF=nrbg$$ CB_CAP_IF=nrbc$$
export CB_OUT=${CB_OUT:-$ROOT/build/bench}
if [ "$(nproc)" -lt 2 ]; then export CB_GEN_CPU=0 CB_CAP_CPU=0; fi

RUN=$CB_OUT/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
"$HERE/build.sh"

# The write benchmark: nrcap -w against tcpdump -w with the same rotation,
# into tmpfs and into a file system on the disk: an ext4 image under $CB_OUT
# (1.5 GiB, written out in full first so that no run pays the host file's
# block allocation), attached to a loop device with direct I/O onto the
# image (`losetup --direct-io=on`: the loop device then writes to the disk
# the image lives on instead of into the host file's page cache; where the
# host file system refuses O_DIRECT it falls back to a buffered loop device,
# and says so in write-offline/meta.txt). `dd oflag=direct bs=1M` into the
# same file system is the disk's own limit (disk.txt). Then the live capture
# (run.sh, the write/ part) and the offline writer throughput (write_offline).
WB_MNT="" WB_LOOP="" WB_IMG="" WB_PCAP="" WB_LOOP_MODE=""
write_cleanup() {
    if [ -n "$WB_MNT" ] && mountpoint -q "$WB_MNT"; then
        umount "$WB_MNT" 2>/dev/null || umount -l "$WB_MNT" 2>/dev/null || true
    fi
    if [ -n "$WB_LOOP" ]; then losetup -d "$WB_LOOP" 2>/dev/null || true; fi
    if [ -n "$WB_IMG" ]; then rm -f "$WB_IMG"; fi
    if [ -n "$WB_PCAP" ]; then rm -f "$WB_PCAP"; fi
    WB_MNT="" WB_LOOP="" WB_IMG="" WB_PCAP=""
}

# A pcap file of N identical 1514-byte UDP frames (16 + 1514 bytes a record).
make_pcap() { # path records
    python3 - "$1" "$2" <<'EOF'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 0, 0, 64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
udp = struct.pack("!HHHH", 9, 9, 1480, 0)
frame = eth + ip + udp + bytes(1514 - 14 - 20 - 8)
rec = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
chunk = rec * 1000
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for _ in range(n // 1000):
        f.write(chunk)
    f.write(rec * (n % 1000))
EOF
}

# Offline writer throughput: the same pcap (in /dev/shm) written into the
# ext4 file by each writer, interleaved and in a rotating order, one writer
# at a time pinned to the consumer CPU, against dd oflag=direct of the same
# size. bytes/s = output file size / wall time; the buffered writers' time
# includes a `sync FILE` (fsync) of their output, as dd's and --direct's
# data is on the device when they return. Results: write-offline/offline.tsv.
write_offline() { # records reps
    local n=$1 reps=$2 dir=$RUN/write-offline cpu=${CB_CAP_CPU:-1}
    local out=$WB_MNT/out.pcap bytes mb rep k w t0 t1 t2 size load1
    mkdir -p "$dir/logs"
    WB_PCAP=/dev/shm/nrbench-write-$$.pcap
    make_pcap "$WB_PCAP" "$n"
    bytes=$(stat -c %s "$WB_PCAP")
    mb=$(((bytes + 524288) / 1048576))
    local -a names=(dd nrcap_direct nrcap tcpdump)
    local -A cmds=(
        [dd]="dd if=/dev/zero of=$WB_MNT/dd.bin bs=1M count=$mb oflag=direct"
        [nrcap_direct]="$ROOT/build/bin/nrcap -q -r $WB_PCAP -w $out --direct"
        [nrcap]="$ROOT/build/bin/nrcap -q -r $WB_PCAP -w $out"
        [tcpdump]="tcpdump -r $WB_PCAP -w $out"
    )
    {
        echo "loop: $WB_LOOP_MODE"
        echo "input: $n records of 1514 B, $bytes bytes, in /dev/shm"
        echo "reps: $reps cpu: $cpu"
        for w in "${names[@]}"; do echo "writer $w: taskset -c $cpu ${cmds[$w]}"; done
        echo "sync: the buffered writers (nrcap, tcpdump) are timed up to the end of \`sync FILE\` (fsync of their output) after they exit"
    } | sed "s|$WB_PCAP|\$PCAP|g; s|$WB_MNT/|\$MNT/|g; s|$ROOT/||g" > "$dir/meta.txt"
    printf 'rep\twriter\tbytes\twrite_s\tsync_s\tload1\n' > "$dir/offline.tsv"
    for ((rep = 1; rep <= reps; rep++)); do
        for ((k = 0; k < ${#names[@]}; k++)); do
            w=${names[$(((k + rep - 1) % ${#names[@]}))]}
            rm -f "$out" "$WB_MNT/dd.bin"
            sync -f "$WB_MNT"
            read -r load1 _ < /proc/loadavg
            t0=$(now)
            # shellcheck disable=SC2086 # the command is a word list
            taskset -c "$cpu" ${cmds[$w]} > "$dir/logs/r$rep-$w.out" 2>&1 ||
                { echo "write_offline: $w failed:" >&2; cat "$dir/logs/r$rep-$w.out" >&2; return 1; }
            t1=$(now) t2=$t1
            case "$w" in nrcap|tcpdump) sync "$out"; t2=$(now) ;; esac
            if [ "$w" = dd ]; then size=$(stat -c %s "$WB_MNT/dd.bin"); else size=$(stat -c %s "$out"); fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$w" "$size" \
                "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
                "$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.4f", b - a }')" "$load1" >> "$dir/offline.tsv"
            log "write-offline r$rep $w: $size bytes, $(awk -v a="$t0" -v b="$t2" -v n="$size" 'BEGIN { printf "%.3f s, %.0f MB/s", b - a, n / (b - a) / 1e6 }')"
        done
    done
    rm -f "$out" "$WB_MNT/dd.bin" "$WB_PCAP"
    WB_PCAP=""
}

# The kernel's floor for writing into tmpfs: CPU seconds of `dd bs=1M` into
# a fresh /dev/shm file of one rotation's size (the live writers rotate
# with -C 1000 -W 1: each new file is truncated, so every record lands in
# fresh tmpfs pages), and of rewriting the same file in place (pages already
# touched: conv=notrunc). Any writer pays at least the first per byte, so it
# bounds what nrcap -w and tcpdump -w can reach on tmpfs. Results:
# tmpfs-floor.tsv (rep, mode, bytes, user s, sys s).
tmpfs_floor() { # megabytes reps
    local mb=$1 reps=$2 cpu=${CB_CAP_CPU:-1} f=/dev/shm/nrbench-floor-$$ rep mode t
    printf 'rep\tmode\tbytes\tuser_s\tsys_s\n' > "$RUN/tmpfs-floor.tsv"
    for ((rep = 1; rep <= reps; rep++)); do
        rm -f "$f"
        for mode in fresh rewrite; do
            local -a conv=()
            [ "$mode" = rewrite ] && conv=(conv=notrunc)
            t=$( { TIMEFORMAT='%3U %3S'; time taskset -c "$cpu" dd if=/dev/zero of="$f" bs=1M count="$mb" "${conv[@]}" status=none; } 2>&1) ||
                { rm -f "$f"; echo "tmpfs_floor: dd failed: $t" >&2; return 1; }
            printf '%s\t%s\t%s\t%s\t%s\n' "$rep" "$mode" "$((mb * 1048576))" "${t% *}" "${t#* }" >> "$RUN/tmpfs-floor.tsv"
        done
        rm -f "$f"
    done
    log "tmpfs floor: $(awk -F'\t' 'NR > 1 { n[$2]++; s[$2] += ($4 + $5) / $3 * 1530 * 1e6 } END { printf "fresh %.2f us, rewrite %.2f us per 1530 B", s["fresh"] / n["fresh"], s["rewrite"] / n["rewrite"] }' "$RUN/tmpfs-floor.tsv")"
}

write_bench() { # run.sh options; env WRITE_RECORDS (offline pcap records), WRITE_REPS
    local img=$CB_OUT/disk.img mnt=$CB_OUT/disk dio
    trap write_cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$mnt"
    WB_IMG=$img WB_MNT=$mnt
    rm -f "$img"
    if [ "${WB_FILL:-1}" = 1 ]; then
        dd if=/dev/zero of="$img" bs=1M count=1536 oflag=direct status=none
    else
        truncate -s 1536M "$img" # the smoke run: sparse, only the numbers' presence counts
    fi
    mkfs.ext4 -q -F "$img"
    WB_LOOP=$(losetup --direct-io=on --find --show "$img" 2>/dev/null) || WB_LOOP=""
    dio=0
    if [ -n "$WB_LOOP" ]; then dio=$(cat "/sys/block/${WB_LOOP#/dev/}/loop/dio" 2>/dev/null || echo 0); fi
    if [ -n "$WB_LOOP" ] && [ "$dio" = 1 ]; then
        WB_LOOP_MODE="direct I/O (losetup --direct-io=on: the loop device writes to the disk the image lives on)"
    else
        if [ -n "$WB_LOOP" ]; then losetup -d "$WB_LOOP"; fi
        WB_LOOP=$(losetup --find --show "$img")
        WB_LOOP_MODE="buffered (FALLBACK: --direct-io=on refused; the loop device writes into the host file's page cache, so dd measures a memory copy, not the disk)"
    fi
    log "loop device $WB_LOOP: $WB_LOOP_MODE"
    mount "$WB_LOOP" "$mnt"
    chmod 1777 "$mnt" # tcpdump drops to its own user before opening the file
    dd if=/dev/zero of="$mnt/dd.bin" bs=1M count="${DD_MB:-512}" oflag=direct 2>&1 | tail -1 |
        sed 's/^/dd oflag=direct bs=1M: /' > "$RUN/disk.txt"
    rm -f "$mnt/dd.bin"
    cat "$RUN/disk.txt" >&2
    CB_DISK=$mnt "$HERE/run.sh" "$@" -s 1514 -o "$RUN/write" nrcap_tmpfs tcpdump_tmpfs nrcap_disk nrcap_disk_direct tcpdump_disk
    write_offline "${WRITE_RECORDS:-650000}" "${WRITE_REPS:-3}"
    tmpfs_floor "${FLOOR_MB:-1000}" "${WRITE_REPS:-3}"
    write_cleanup
    trap - EXIT INT TERM
}

# The export side (issue 24): the flow meter over FLOWBENCH_FLOWS concurrent
# flows (engine/examples/flowbench.rs, one core), then nrexport converting
# one generated pcap (export/examples/genpcap.rs, in /dev/shm) into Arrow
# packet rows, Arrow flow rows, Parquet packet rows and Parquet flow rows
# (to /dev/null), each alone on the consumer CPU, interleaved in a rotating
# order; wall time from the shell, CPU from /usr/bin/time, rows and stream
# bytes from nrexport's own summary line. Then live (run.sh, 60 B at full
# rate): nrexport -i into an Arrow stream of packet rows and of flow rows
# against plain nrcap -q, same repetitions. Results: export/export.tsv,
# export/flowbench.txt, export/meta.txt, export-live/rx.tsv.
EX_PCAP=""
export_cleanup() {
    if [ -n "$EX_PCAP" ]; then rm -f "$EX_PCAP"; fi
    EX_PCAP=""
}

export_offline() { # packets flows reps flowbench_flows flowbench_passes
    local n=$1 flows=$2 reps=$3 fbflows=$4 fbpasses=$5 dir=$RUN/export cpu=${CB_CAP_CPU:-1}
    local rep k w t0 t1 load1 line
    mkdir -p "$dir/logs"
    trap export_cleanup EXIT
    trap 'exit 130' INT TERM
    EX_PCAP=/dev/shm/nrbench-export-$$.pcap
    "$GENPCAP" "$EX_PCAP" "$n" "$flows"
    local -a names=(arrow_packets arrow_flows parquet_packets parquet_flows)
    local -A cmds=()
    for w in "${names[@]}"; do # FORMAT_RECORDS
        cmds[$w]="$NREXPORT -r $EX_PCAP -F ${w%_*} --records ${w#*_} -w /dev/null"
    done
    {
        echo "input: genpcap \$PCAP $n $flows ($(stat -c %s "$EX_PCAP") bytes, in /dev/shm)"
        echo "reps: $reps cpu: $cpu"
        echo "flowbench: taskset -c $cpu $FLOWBENCH $fbflows $fbpasses"
        for w in "${names[@]}"; do echo "export $w: taskset -c $cpu ${cmds[$w]}"; done
    } | sed "s|$EX_PCAP|\$PCAP|g; s|$ROOT/||g" > "$dir/meta.txt"
    taskset -c "$cpu" "$FLOWBENCH" "$fbflows" "$fbpasses" | tee "$dir/flowbench.txt" >&2
    printf 'rep\twhat\tpackets\trows\tbytes\twall_s\tuser_s\tsys_s\tload1\n' > "$dir/export.tsv"
    for ((rep = 1; rep <= reps; rep++)); do
        for ((k = 0; k < ${#names[@]}; k++)); do
            w=${names[$(((k + rep - 1) % ${#names[@]}))]}
            read -r load1 _ < /proc/loadavg
            t0=$(now)
            # shellcheck disable=SC2086 # the command is a word list
            taskset -c "$cpu" /usr/bin/time -f '%U %S' -o "$dir/logs/r$rep-$w.time" ${cmds[$w]} \
                > "$dir/logs/r$rep-$w.out" 2> "$dir/logs/r$rep-$w.err" ||
                { echo "export_offline: $w failed:" >&2; cat "$dir/logs/r$rep-$w.err" >&2; return 1; }
            t1=$(now)
            # "nrexport: N packets, R rows, B bytes, ..." (after progress lines ending in \r)
            line=$(tr '\r' '\n' < "$dir/logs/r$rep-$w.err" | grep -E '^nrexport: [0-9]+ packets, [0-9]+ rows' | tail -1)
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$w" \
                "$(echo "$line" | sed -E 's/^nrexport: ([0-9]+) packets.*/\1/')" \
                "$(echo "$line" | sed -E 's/.* ([0-9]+) rows.*/\1/')" \
                "$(echo "$line" | sed -E 's/.* ([0-9]+) bytes.*/\1/')" \
                "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
                "$(tail -1 "$dir/logs/r$rep-$w.time" | cut -d' ' -f1)" \
                "$(tail -1 "$dir/logs/r$rep-$w.time" | cut -d' ' -f2)" "$load1" >> "$dir/export.tsv"
            log "export r$rep $w: $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.3f s, %.2f M packets/s", b - a, n / (b - a) / 1e6 }')"
        done
    done
    export_cleanup
    trap - EXIT INT TERM
}

if [ "$SMOKE" = 1 ]; then
    export CB_SETTLE=0.3 CB_DRAIN=0.5
    log "bench-smoke: RX"
    "$HERE/run.sh" -d 1 -r 1 -s 60 -o "$RUN/rx" min_v3 nrcap libpcap tcpdump tcpdump_shim > "$RUN/rx.log" 2>&1 ||
        { cat "$RUN/rx.log"; exit 1; }
    log "bench-smoke: sweep (jumbo)"
    "$HERE/run.sh" -d 1 -r 1 -s 9000 -o "$RUN/sweep" min_v3 nrcap > "$RUN/sweep.log" 2>&1 ||
        { cat "$RUN/sweep.log"; exit 1; }
    log "bench-smoke: immediate mode (latency, full-rate CPU)"
    { "$HERE/latency.sh" -d 0.5 -n 1 -o "$RUN/latency" &&
      "$HERE/run.sh" -d 1 -r 1 -s 60 -R libpcap_imm -o "$RUN/imm" libpcap_imm shim_imm nrcap_imm; } > "$RUN/imm.log" 2>&1 ||
        { cat "$RUN/imm.log"; exit 1; }
    log "bench-smoke: write"
    DD_MB=16 FLOOR_MB=64 WB_FILL=0 WRITE_RECORDS=20000 WRITE_REPS=1 write_bench -d 1 -r 1 > "$RUN/write.log" 2>&1 ||
        { cat "$RUN/write.log"; exit 1; }
    log "bench-smoke: AF_XDP"
    "$HERE/run.sh" -d 1 -r 1 -s 60 -R nrxdp -o "$RUN/xdp" nrxdp min_xsk > "$RUN/xdp.log" 2>&1 ||
        { cat "$RUN/xdp.log"; exit 1; }
    log "bench-smoke: TX"
    "$HERE/tx.sh" -d 1 -r 1 -s 60 -o "$RUN/tx" nrsend min_tx pcap_inject > "$RUN/tx.log" 2>&1 ||
        { cat "$RUN/tx.log"; exit 1; }
    log "bench-smoke: export (flowbench, nrexport offline and live)"
    { export_offline 100000 10000 1 65536 3 &&
      "$HERE/run.sh" -d 1 -r 1 -s 60 -R nrcap -o "$RUN/export-live" nrcap nrexport_arrow nrexport_flows; } > "$RUN/export.log" 2>&1 ||
        { cat "$RUN/export.log"; exit 1; }
    if command -v suricata > /dev/null; then
        log "bench-smoke: Suricata with two workers"
        "$HERE/suricata.sh" -n 20000 -b 20000pps -r 1 -o "$RUN/suricata" > "$RUN/suricata.log" 2>&1 ||
            { cat "$RUN/suricata.log"; exit 1; }
    fi
    log "bench-smoke: micro"
    {
        "$MICRO" --secs 0.01 --trials 1 --block-size 262144
        "$MICRO" --xcore --rounds 8 --blocks 4 --block-size 262144 --sizes 60
        "$MICRO" --xdp --secs 0.01 --trials 1 --block-size 262144 --sizes 60
    } > "$RUN/micro.txt"
    log "bench-smoke: parse"
    "$PARSE" --secs 0.01 --trials 1 > "$RUN/parse.txt"
    if ! python3 "$HERE/summarize.py" check "$RUN"; then
        echo "bench-smoke: FAILED; logs in $RUN" >&2
        exit 1
    fi
    python3 "$HERE/summarize.py" report "$RUN" "$RUN/report" > /dev/null
    rm -rf "$RUN"
    log "bench-smoke: ok"
    exit 0
fi

export_part() {
    log "export: flowbench, then nrexport -r (pcap -> Arrow and Parquet, packet and flow rows)"
    export_offline "${EXPORT_PACKETS:-2000000}" "${EXPORT_FLOWS:-100000}" "$REPS" "${FLOWBENCH_FLOWS:-1048576}" 10
    log "export: live, nrexport -i at full rate (60 B) against nrcap -q"
    "$HERE/run.sh" -d "$DUR" -r "$REPS" -s 60 -R nrcap -o "$RUN/export-live" nrcap nrexport_arrow nrexport_flows
}
export_meta() {
    echo "  - export: \`flowbench ${FLOWBENCH_FLOWS:-1048576} 10\` (engine/examples/flowbench.rs), then $REPS interleaved repetitions, each alone on CPU ${CB_CAP_CPU:-1}, of \`nrexport -r PCAP -F arrow|parquet [--records flows] -w /dev/null\` on \`genpcap PCAP ${EXPORT_PACKETS:-2000000} ${EXPORT_FLOWS:-100000}\` in /dev/shm (the exact commands: Export, below)"
    echo "  - \`bench/run.sh -d $DUR -r $REPS -s 60 -R nrcap nrcap nrexport_arrow nrexport_flows\` (live export at full rate)"
}

OUTDIR=${OUTDIR:-$HERE/results/$(date +%Y-%m-%d)}
# The report's first lines: when, where, how loaded.
meta_head() {
    echo "- date: $(date -Is)"
    echo "- kernel: $(uname -r)"
    echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) CPUs; generator on CPU ${CB_GEN_CPU:-0}, consumer on CPU ${CB_CAP_CPU:-1}"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}
# The end of a run of one part (--write-only, --export-only): the load,
# the consumers' command lines, the report.
part_report() { # part run.sh-meta-file
    {
        echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "- consumers:"
        grep -h -E '^consumer ' "$2" | sed "s|$ROOT/||g; s|^|  - |"
    } >> "$RUN/meta.txt"
    python3 "$HERE/summarize.py" report "$RUN" "$OUTDIR" > /dev/null
    log "report ($1 part only): $OUTDIR/summary.md (raw logs: $RUN)"
}
if [ "$EXPORT_ONLY" = 1 ]; then
    {
        meta_head
        echo "- netring: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
        echo "- command: \`bench/bench.sh $ARGS\` (the export part of make bench), i.e."
        export_meta
    } > "$RUN/meta.txt"
    export_part
    part_report export "$RUN/export-live/meta.txt"
    exit 0
fi
[ "$WRITE_ONLY" = 1 ] || "$HERE/build-bindings.sh"
{
    meta_head
    echo "- tools: $(trafgen -v 2>&1 | head -1); $(tcpdump --version 2>&1 | head -2 | tr '\n' ' ')"
    echo "- netring: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "- command: \`bench/bench.sh $ARGS\` ($([ "$WRITE_ONLY" = 1 ] && echo "the write part of make bench" || echo "make bench")), i.e."
    if [ "$WRITE_ONLY" = 0 ]; then
        echo "  - \`bench/run.sh -d $DUR -r $REPS none min_v3 nrcap libpcap tcpdump tcpdump_shim\`"
        echo "  - \`bench/run.sh -d $DUR -r $REPS -s $SWEEP_SIZES min_v3 nrcap\` (frame-size sweep, MTU 9000)"
        echo "  - \`bench/latency.sh -d 3 -n $REPS\` (immediate mode: libpcap, the drop-in, nrcap at 1000 and 10000 pps)"
        echo "  - \`bench/run.sh -d $DUR -r $REPS -s 60 -R libpcap_imm libpcap_imm shim_imm nrcap_imm\` (immediate mode at full rate)"
    fi
    echo "  - \`CB_DISK=<ext4 image on a loop device, losetup --direct-io=on> bench/run.sh -d $DUR -r $REPS -s 1514 nrcap_tmpfs tcpdump_tmpfs nrcap_disk nrcap_disk_direct tcpdump_disk\` after \`dd if=/dev/zero of=<mount>/dd.bin bs=1M count=512 oflag=direct\`"
    echo "  - then offline, $REPS interleaved repetitions, each writer alone on CPU ${CB_CAP_CPU:-1}: \`dd oflag=direct\`, \`nrcap -r -w --direct\`, \`nrcap -r -w\` + \`sync FILE\`, \`tcpdump -r -w\` + \`sync FILE\` of a ${WRITE_RECORDS:-650000}-record 1514-byte pcap in /dev/shm into the same ext4 file system (the exact commands: Write, offline, below)"
    echo "  - then the kernel's floor for tmpfs, $REPS times on CPU ${CB_CAP_CPU:-1}: \`dd if=/dev/zero of=/dev/shm/FILE bs=1M count=1000\` into a fresh file (one rotation of -C 1000), then the same with \`conv=notrunc\` over the pages it just wrote (CPU from bash's \`time\`)"
    if [ "$WRITE_ONLY" = 1 ]; then
        echo "  - every consumer command line: see the meta lines below"
    else
    echo "  - \`bench/run.sh -d $DUR -r $REPS -R nrcap nrcap nrxdp nrxdp_generic min_xsk min_xsk_generic\`"
    echo "  - \`bench/run.sh -d $DUR -r $REPS -R nrcap nrcap nrgocap gopacket_afpacket cppcap zigcap\`"
    echo "  - \`bench/tx.sh -d $DUR -r $REPS nrsend nrsend_ring min_tx pcap_inject trafgen\`"
    echo "  - \`bench/suricata.sh -r $REPS\` (Suricata --pcap threads: 2 through the drop-in, --pcap on libpcap, --af-packet; 10^6 frames of 1514 B at 100 kpps)"
    echo "  - \`cargo run --release --features bench-fixtures --example micro -- --secs 0.3 --trials 7\` (and \`--xcore --sizes 60,1514,9000\`, \`--xdp\`)"
    echo "  - \`cargo run --release --example parse -- --secs 0.3 --trials 7\`"
    export_meta
        echo "  - every consumer/sender command line: see the meta lines below"
    fi
} > "$RUN/meta.txt"

if [ "$WRITE_ONLY" = 0 ]; then
    log "RX: TPACKET_V3 consumers"
    "$HERE/run.sh" -d "$DUR" -r "$REPS" -o "$RUN/rx" none min_v3 nrcap libpcap tcpdump tcpdump_shim
    log "RX: the bindings (Go, C++, Zig) and gopacket's afpacket"
    "$HERE/run.sh" -d "$DUR" -r "$REPS" -R nrcap -o "$RUN/bind" nrcap nrgocap gopacket_afpacket cppcap zigcap
    log "RX: frame-size sweep $SWEEP_SIZES"
    "$HERE/run.sh" -d "$DUR" -r "$REPS" -s "$SWEEP_SIZES" -o "$RUN/sweep" min_v3 nrcap
    log "immediate mode: latency at 1000 and 10000 pps"
    "$HERE/latency.sh" -d 3 -n "$REPS" -o "$RUN/latency"
    log "immediate mode: CPU per packet at full rate"
    "$HERE/run.sh" -d "$DUR" -r "$REPS" -s 60 -R libpcap_imm -o "$RUN/imm" libpcap_imm shim_imm nrcap_imm
fi
log "write: capture to tmpfs and to an ext4 file (nrcap -w vs tcpdump -w, -C 1000 -W 1), then the offline writers"
WRITE_REPS=$REPS write_bench -d "$DUR" -r "$REPS"
if [ "$WRITE_ONLY" = 1 ]; then
    part_report write "$RUN/write/meta.txt"
    exit 0
fi
log "AF_XDP"
"$HERE/run.sh" -d "$DUR" -r "$REPS" -R nrcap -o "$RUN/xdp" nrcap nrxdp nrxdp_generic min_xsk min_xsk_generic
log "TX"
"$HERE/tx.sh" -d "$DUR" -r "$REPS" -o "$RUN/tx" nrsend nrsend_ring min_tx pcap_inject trafgen
if command -v suricata > /dev/null; then
    log "Suricata with two workers (drop-in, libpcap, af-packet)"
    "$HERE/suricata.sh" -r "$REPS" -o "$RUN/suricata"
fi
log "micro"
{
    taskset -c "${CB_CAP_CPU:-1}" "$MICRO" --secs 0.3 --trials 7
    "$MICRO" --xcore --sizes 60,1514,9000 --producer-cpu "${CB_GEN_CPU:-0}" --consumer-cpu "${CB_CAP_CPU:-1}"
    taskset -c "${CB_CAP_CPU:-1}" "$MICRO" --xdp --secs 0.3 --trials 7
} | tee "$RUN/micro.txt"
log "parse"
taskset -c "${CB_CAP_CPU:-1}" "$PARSE" --secs 0.3 --trials 7 | tee "$RUN/parse.txt"
export_part
{
    echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- consumers and senders:"
    grep -h -E '^(consumer|sender) ' "$RUN/rx/meta.txt" "$RUN/bind/meta.txt" "$RUN/sweep/meta.txt" "$RUN/latency/meta.txt" "$RUN/imm/meta.txt" "$RUN/write/meta.txt" "$RUN/xdp/meta.txt" "$RUN/tx/meta.txt" "$RUN/export-live/meta.txt" |
        sed "s|$ROOT/||g; s|^|  - |" | sort -u
} >> "$RUN/meta.txt"
python3 "$HERE/summarize.py" report "$RUN" "$OUTDIR" > /dev/null
log "report: $OUTDIR/summary.md, plot: $OUTDIR/plot.svg (raw logs: $RUN)"
