#!/usr/bin/env bash
# bench.sh - the whole benchmark: RX (TPACKET_V3 consumers), a frame-size
# sweep (nrcap vs min_v3 from 60 to 9000 B), AF_XDP, TX, the C-API micro
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
#               9000-byte run; write: 1514 B), then check that each produced numbers
#               (exit 1 if not); nothing is kept
#
# env: SWEEP_SIZES (default 60,128,256,512,1024,1514,4000,9000)
#
# Needs root, the programs from `make` (build/bin/nrcap, nrsend, nrxdp),
# the micro benchmark ($MICRO, default target/release/examples/micro) and
# the tools from scripts/deps.sh; builds the peers itself (bench/build.sh).
# Raw logs: build/bench/runs/<time>/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
DUR=4 REPS=3 OUTDIR="" SMOKE=0
SWEEP_SIZES=${SWEEP_SIZES:-60,128,256,512,1024,1514,4000,9000}
ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
        -d) DUR=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        -o) OUTDIR=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [-d SECONDS] [-r REPS] [-o DIR] | --smoke" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root (namespaces, packet sockets, XDP)" >&2; exit 1; }
MICRO=${MICRO:-$ROOT/target/release/examples/micro}
PARSE=${PARSE:-$(dirname "$MICRO")/parse}
for p in "$ROOT/build/bin/nrcap" "$ROOT/build/bin/nrsend" "$ROOT/build/bin/nrxdp" "$MICRO" "$PARSE"; do
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
"$HERE/build.sh"

# The write benchmark: nrcap -w against tcpdump -w with the same rotation,
# into tmpfs and into a file system on the disk: a loop-mounted ext4 image
# under $CB_OUT (1.5 GiB, sparse), with `dd oflag=direct bs=1M` into the same
# file system as the disk's own limit (disk.txt).
write_bench() {
    local img=$CB_OUT/disk.img mnt=$CB_OUT/disk
    mkdir -p "$mnt"
    truncate -s 1536M "$img"
    mkfs.ext4 -q -F "$img"
    mount -o loop "$img" "$mnt"
    chmod 1777 "$mnt" # tcpdump drops to its own user before opening the file
    # shellcheck disable=SC2064
    trap "umount '$mnt' 2>/dev/null; rm -f '$img'" EXIT
    dd if=/dev/zero of="$mnt/dd.bin" bs=1M count="${DD_MB:-512}" oflag=direct 2>&1 | tail -1 |
        sed 's/^/dd oflag=direct bs=1M: /' > "$RUN/disk.txt"
    rm -f "$mnt/dd.bin"
    cat "$RUN/disk.txt" >&2
    CB_DISK=$mnt "$HERE/run.sh" "$@" -s 1514 -o "$RUN/write" nrcap_tmpfs tcpdump_tmpfs nrcap_disk nrcap_disk_direct tcpdump_disk
    umount "$mnt"
    rm -f "$img"
    trap - EXIT
}

if [ "$SMOKE" = 1 ]; then
    export CB_SETTLE=0.3 CB_DRAIN=0.5
    log "bench-smoke: RX"
    "$HERE/run.sh" -d 1 -r 1 -s 60 -o "$RUN/rx" min_v3 nrcap libpcap tcpdump tcpdump_shim > "$RUN/rx.log" 2>&1 ||
        { cat "$RUN/rx.log"; exit 1; }
    log "bench-smoke: sweep (jumbo)"
    "$HERE/run.sh" -d 1 -r 1 -s 9000 -o "$RUN/sweep" min_v3 nrcap > "$RUN/sweep.log" 2>&1 ||
        { cat "$RUN/sweep.log"; exit 1; }
    log "bench-smoke: write"
    DD_MB=16 write_bench -d 1 -r 1 > "$RUN/write.log" 2>&1 ||
        { cat "$RUN/write.log"; exit 1; }
    log "bench-smoke: AF_XDP"
    "$HERE/run.sh" -d 1 -r 1 -s 60 -R nrxdp -o "$RUN/xdp" nrxdp min_xsk > "$RUN/xdp.log" 2>&1 ||
        { cat "$RUN/xdp.log"; exit 1; }
    log "bench-smoke: TX"
    "$HERE/tx.sh" -d 1 -r 1 -s 60 -o "$RUN/tx" nrsend min_tx pcap_inject > "$RUN/tx.log" 2>&1 ||
        { cat "$RUN/tx.log"; exit 1; }
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

OUTDIR=${OUTDIR:-$HERE/results/$(date +%Y-%m-%d)}
"$HERE/build-bindings.sh"
{
    echo "- date: $(date -Is)"
    echo "- kernel: $(uname -r)"
    echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) CPUs; generator on CPU ${CB_GEN_CPU:-0}, consumer on CPU ${CB_CAP_CPU:-1}"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- tools: $(trafgen -v 2>&1 | head -1); $(tcpdump --version 2>&1 | head -2 | tr '\n' ' ')"
    echo "- netring: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "- command: \`bench/bench.sh $ARGS\` (make bench), i.e."
    echo "  - \`bench/run.sh -d $DUR -r $REPS none min_v3 nrcap libpcap tcpdump tcpdump_shim\`"
    echo "  - \`bench/run.sh -d $DUR -r $REPS -s $SWEEP_SIZES min_v3 nrcap\` (frame-size sweep, MTU 9000)"
    echo "  - \`CB_DISK=<ext4 loop mount> bench/run.sh -d $DUR -r $REPS -s 1514 nrcap_tmpfs tcpdump_tmpfs nrcap_disk nrcap_disk_direct tcpdump_disk\` after \`dd if=/dev/zero of=<mount>/dd.bin bs=1M count=512 oflag=direct\`"
    echo "  - \`bench/run.sh -d $DUR -r $REPS -R nrcap nrcap nrxdp nrxdp_generic min_xsk min_xsk_generic\`"
    echo "  - \`bench/run.sh -d $DUR -r $REPS -R nrcap nrcap nrgocap gopacket_afpacket cppcap zigcap\`"
    echo "  - \`bench/tx.sh -d $DUR -r $REPS nrsend nrsend_ring min_tx pcap_inject trafgen\`"
    echo "  - \`cargo run --release --example micro -- --secs 0.3 --trials 7\` (and \`--xcore --sizes 60,1514,9000\`, \`--xdp\`)"
    echo "  - \`cargo run --release --example parse -- --secs 0.3 --trials 7\`"
    echo "  - every consumer/sender command line: see the meta lines below"
} > "$RUN/meta.txt"

log "RX: TPACKET_V3 consumers"
"$HERE/run.sh" -d "$DUR" -r "$REPS" -o "$RUN/rx" none min_v3 nrcap libpcap tcpdump tcpdump_shim
log "RX: the bindings (Go, C++, Zig) and gopacket's afpacket"
"$HERE/run.sh" -d "$DUR" -r "$REPS" -R nrcap -o "$RUN/bind" nrcap nrgocap gopacket_afpacket cppcap zigcap
log "RX: frame-size sweep $SWEEP_SIZES"
"$HERE/run.sh" -d "$DUR" -r "$REPS" -s "$SWEEP_SIZES" -o "$RUN/sweep" min_v3 nrcap
log "write: capture to tmpfs and to an ext4 file (nrcap -w vs tcpdump -w, -C 1000 -W 1)"
write_bench -d "$DUR" -r "$REPS"
log "AF_XDP"
"$HERE/run.sh" -d "$DUR" -r "$REPS" -R nrcap -o "$RUN/xdp" nrcap nrxdp nrxdp_generic min_xsk min_xsk_generic
log "TX"
"$HERE/tx.sh" -d "$DUR" -r "$REPS" -o "$RUN/tx" nrsend nrsend_ring min_tx pcap_inject trafgen
log "micro"
{
    taskset -c "${CB_CAP_CPU:-1}" "$MICRO" --secs 0.3 --trials 7
    "$MICRO" --xcore --sizes 60,1514,9000 --producer-cpu "${CB_GEN_CPU:-0}" --consumer-cpu "${CB_CAP_CPU:-1}"
    taskset -c "${CB_CAP_CPU:-1}" "$MICRO" --xdp --secs 0.3 --trials 7
} | tee "$RUN/micro.txt"
log "parse"
taskset -c "${CB_CAP_CPU:-1}" "$PARSE" --secs 0.3 --trials 7 | tee "$RUN/parse.txt"
{
    echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- consumers and senders:"
    grep -h -E '^(consumer|sender) ' "$RUN/rx/meta.txt" "$RUN/bind/meta.txt" "$RUN/sweep/meta.txt" "$RUN/write/meta.txt" "$RUN/xdp/meta.txt" "$RUN/tx/meta.txt" |
        sed "s|$ROOT/||g; s|^|  - |" | sort -u
} >> "$RUN/meta.txt"
python3 "$HERE/summarize.py" report "$RUN" "$OUTDIR" > /dev/null
log "report: $OUTDIR/summary.md, plot: $OUTDIR/plot.svg (raw logs: $RUN)"
