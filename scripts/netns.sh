# shellcheck shell=bash
# The shell side of the test harness (the Rust side is testkit/): throwaway
# network namespaces, veth pairs, and "ready" checks. Sourced (bash) by
# bindings/netns.sh and bindings/lib.sh, scripts/demo.sh, scripts/soak.sh
# and bench/netenv.sh:
#
#   . scripts/netns.sh
#   trap nr_netns_cleanup EXIT
#   nr_netns_add "$ns"                      # IPv6 off, lo up
#   nr_veth_add "$ns" "$a" "$ns" "$b"       # a veth pair, both ends up
#   ... start a capture on $a ...
#   nr_wait_bound "$ns" "$a" || echo "never ready"
#
# Names: nr_tag gives a tag unique to this run, short enough for interface
# names (at most 15 bytes: "nr" + tag + one letter fits).

# Namespaces nr_netns_add made (removed by nr_netns_cleanup).
NR_NETNS_MADE=()

# nr_tag: a tag unique to this run (10 hex digits: the pid and a random
# number).
nr_tag() {
    printf '%x%04x' "$$" "$RANDOM" | tail -c 10
}

# nr_netns_add NS...: new network namespaces with IPv6 off (so the kernel
# sends nothing on its own) and lo up; remembered for nr_netns_cleanup.
nr_netns_add() {
    local ns
    for ns in "$@"; do
        ip netns add "$ns"
        NR_NETNS_MADE+=("$ns")
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
        ip -n "$ns" link set lo up
    done
}

# nr_netns_cleanup: delete the namespaces nr_netns_add made (with them
# every interface in them). For traps: never fails.
nr_netns_cleanup() {
    local ns
    for ns in "${NR_NETNS_MADE[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    NR_NETNS_MADE=()
}

# nr_veth_add NS_A IF_A NS_B IF_B [OPTION...]: a veth pair IF_A (in NS_A)
# <-> IF_B (in NS_B; may be NS_A). OPTIONs go to both ends' `ip link add`
# (numtxqueues N numrxqueues N). Both ends up unless NR_VETH_DOWN=1 (to set
# addresses or the MTU first; then nr_link_up).
nr_veth_add() {
    local nsa=$1 ifa=$2 nsb=$3 ifb=$4
    shift 4
    ip link add "$ifa" "$@" netns "$nsa" type veth peer name "$ifb" "$@" netns "$nsb"
    [ "${NR_VETH_DOWN:-0}" = 1 ] && return 0
    nr_link_up "$nsa" "$ifa"
    nr_link_up "$nsb" "$ifb"
}

# nr_link_up NS IF...: set interfaces of NS up.
nr_link_up() {
    local ns=$1 ifname
    shift
    for ifname in "$@"; do
        ip -n "$ns" link set "$ifname" up
    done
}

# nr_in NS CMD...: run CMD in NS ("" = here).
nr_in() {
    local ns=$1
    shift
    if [ -n "$ns" ]; then
        ip netns exec "$ns" "$@"
    else
        "$@"
    fi
}

# nr_bound_count NS [IF [PROTO]]: packet sockets in NS ("" = this
# namespace) bound with protocol PROTO (/proc/net/packet's hex, default
# 0003 = ETH_P_ALL; "any" for every protocol) to IF (default: any
# interface). A capture is ready once its socket is bound: before bind it
# exists with protocol 0, and traffic sent then is lost by design.
nr_bound_count() {
    local ns=$1 ifname=${2:-} proto=${3:-0003} idx=""
    if [ -n "$ifname" ]; then
        idx=$(nr_in "$ns" cat "/sys/class/net/$ifname/ifindex") || return 1
    fi
    nr_in "$ns" awk -v i="$idx" -v p="$proto" \
        'NR > 1 && (p == "any" || $4 == p) && (i == "" || $5 == i) { n++ } END { print n + 0 }' \
        /proc/net/packet
}

# nr_wait_bound NS [IF [N]]: wait up to 10 s until N (default 1) sockets
# are bound with ETH_P_ALL in NS (to IF, if given); fails after that.
nr_wait_bound() {
    local ns=$1 ifname=${2:-} n=${3:-1} _
    for _ in $(seq 200); do
        [ "$(nr_bound_count "$ns" "$ifname")" -ge "$n" ] && return 0
        sleep 0.05
    done
    return 1
}

# nr_has_xdp NS IF: an XDP program (native, generic or offloaded) is
# attached to IF in NS.
nr_has_xdp() {
    ip -n "$1" -d link show dev "$2" 2>/dev/null | grep -qE 'prog/xdp|xdpgeneric|xdpoffload| xdp '
}

# nr_wait_xdp NS IF: wait up to 10 s until an XDP program is attached to IF
# (an AF_XDP consumer attaches it once its socket is bound); fails after.
nr_wait_xdp() {
    local _
    for _ in $(seq 200); do
        nr_has_xdp "$1" "$2" && return 0
        sleep 0.05
    done
    return 1
}
