#!/usr/bin/env bash
# Soak: every engine at full rate at the same time, on veth pairs in a
# throwaway namespace, for SOAK_SECS seconds (default 600; make soak).
#
#   capture   nrsend c1 -> c0 nrcap
#   AF_XDP    nrsend x1 -> x0 nrxdp
#   bridge    nrsend b0 -> b1 nrbridge b2 -> b3 nrcap
#   injection the three nrsend (AF_PACKET TX ring)
#
# Checks, per path: frames delivered + the drops the kernel counted (ring
# drops reported by the tool, veth drops from the link counters) equal the
# frames the sender's kernel took (AF_XDP: its socket's drops plus the
# sender veth's; the receiving veth counts the same refused frames as XDP
# drops); no tool reports an error; the RSS of the
# receivers, sampled through the run, stays flat after warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/netns.sh

SECS=${SOAK_SECS:-600}
BIN=build/bin
NS=nrsoak-$(nr_tag)
DIR=$(mktemp -d)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    nr_netns_cleanup
    rm -rf "$DIR"
}
trap cleanup EXIT

in_ns() { ip netns exec "$NS" "$@"; }
fail() { echo "soak: FAIL: $*" >&2; for f in "$DIR"/*.err; do echo "--- $f"; cat "$f"; done >&2; exit 1; }

nr_netns_add "$NS"
for pair in c0:c1 x0:x1 b0:b1 b2:b3; do
    nr_veth_add "$NS" "${pair%:*}" "$NS" "${pair#*:}"
done

# `ip netns exec` execs the program: $! is the tool's own pid (a shell
# function here would put a subshell in between, which SIGINT misses).
ip netns exec "$NS" "$BIN/nrcap" -i c0 -q 2>"$DIR/cap.err" & pids+=($!); cap=$!
ip netns exec "$NS" "$BIN/nrxdp" -i x0 -Q 2>"$DIR/xdp.err" & pids+=($!); xdp=$!
ip netns exec "$NS" "$BIN/nrbridge" -a b1 -b b2 2>"$DIR/br.err" & pids+=($!); br=$!
ip netns exec "$NS" "$BIN/nrcap" -i b3 -q 2>"$DIR/brcap.err" & pids+=($!); brcap=$!

# Ready: four packet sockets bound with ETH_P_ALL (nrcap x2, the bridge's
# two captures) and the XDP program attached.
nr_wait_bound "$NS" "" 4 && nr_wait_xdp "$NS" x0 || fail "receivers not ready"

stat() { in_ns cat "/sys/class/net/$1/statistics/$2"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

echo "soak: ${SECS}s, capture + AF_XDP + bridge + injection at full rate"
ip netns exec "$NS" "$BIN/nrsend" -i c1 -t "$SECS" 2>"$DIR/send-c.err" & s1=$!
ip netns exec "$NS" "$BIN/nrsend" -i x1 -t "$SECS" 2>"$DIR/send-x.err" & s2=$!
ip netns exec "$NS" "$BIN/nrsend" -i b0 -t "$SECS" 2>"$DIR/send-b.err" & s3=$!
pids+=("$s1" "$s2" "$s3")

# RSS samples (KiB) every SECS/20 seconds, at least 1 s.
step=$(( SECS / 20 )); [ "$step" -ge 1 ] || step=1
: >"$DIR/rss"
while kill -0 "$s1" 2>/dev/null || kill -0 "$s2" 2>/dev/null || kill -0 "$s3" 2>/dev/null; do
    echo "$(rss $cap) $(rss $xdp) $(rss $br) $(rss $brcap)" >>"$DIR/rss"
    sleep "$step"
done
wait "$s1" || fail "nrsend c1"; wait "$s2" || fail "nrsend x1"; wait "$s3" || fail "nrsend b0"
sleep 1  # the last frames through the rings
for p in $cap $xdp $br $brcap; do kill -INT "$p"; done
for p in $cap $xdp $br $brcap; do
    # Bounded: a receiver that ignores SIGINT is a failure, not a hang.
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "a receiver did not stop on SIGINT"
    wait "$p" || fail "a receiver exited with an error"
done

num() { sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$DIR/$1" | tail -n 1; }
sent_c=$(num send-c.err sent); sent_x=$(num send-x.err sent); sent_b=$(num send-b.err sent)
cap_p=$(num cap.err packets); cap_d=$(num cap.err drops)
xdp_p=$(num xdp.err packets); xdp_d=$(num xdp.err drops)
brc_p=$(num brcap.err packets); brc_d=$(num brcap.err drops)
ab=$(num br.err a_to_b)
# "b1 -> b2: forwarded N dropped D failed F capture drops C"
read -r _ _ _ _ fwd _ bdrop _ bfail _ _ bcapd < <(grep '^b1 -> b2:' "$DIR/br.err")
link() { echo $(( $(stat "$1" tx_dropped) + $(stat "$2" rx_dropped) )); }
lc=$(link c1 c0); lb0=$(link b0 b1); lb2=$(link b2 b3)
# AF_XDP: a frame the XSK refused (RX ring full, fill ring empty) is counted
# by the socket and again by veth as an XDP drop (rx_dropped of x0), so only
# the sender side's veth drops are added to the socket's.
lx=$(stat x1 tx_dropped)

check() { # name sent delivered drops...
    local name=$1 sent=$2 got=$3; shift 3
    local drops=0; for d in "$@"; do drops=$(( drops + d )); done
    printf '  %-8s sent %12s  delivered %12s  drops %10s  %s\n' "$name" "$sent" "$got" "$drops" \
        "$( [ $(( got + drops )) -eq "$sent" ] && echo ok || echo MISMATCH)"
    [ $(( got + drops )) -eq "$sent" ]
}
ok=1
check capture "$sent_c" "$cap_p" "$cap_d" "$lc" || ok=0
check af_xdp "$sent_x" "$xdp_p" "$xdp_d" "$lx" || ok=0
check bridge "$sent_b" "$fwd" "$bdrop" "$bfail" "$bcapd" "$lb0" || ok=0
check bridged "$ab" "$brc_p" "$brc_d" "$lb2" || ok=0
[ "$fwd" = "$ab" ] || ok=0

# RSS: after the first quarter of the samples, no receiver grows by more
# than 8 MiB.
awk -v q="$(( $(wc -l <"$DIR/rss") / 4 ))" '
    NR == q + 1 { for (i = 1; i <= 4; i++) base[i] = $i }
    NR > q      { for (i = 1; i <= 4; i++) if ($i > max[i]) max[i] = $i }
    END {
        split("nrcap nrxdp nrbridge nrcap(bridged)", n, " ")
        bad = 0
        for (i = 1; i <= 4; i++) {
            printf "  RSS %-15s %6d KiB after warm-up, max %6d KiB\n", n[i], base[i], max[i]
            if (max[i] - base[i] > 8192) bad = 1
        }
        exit bad
    }' "$DIR/rss" || { echo "soak: RSS grew" >&2; ok=0; }

[ $ok = 1 ] || fail "counts do not add up"
echo "soak: ok"
