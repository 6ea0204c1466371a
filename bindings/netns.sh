#!/usr/bin/env bash
# Run a command inside a throwaway network namespace holding one veth pair
# A <-> B (both up, IPv6 off, so the kernel sends nothing on its own), with
# NR_TEST_NS, NR_TEST_IF_A and NR_TEST_IF_B in its environment. The
# namespace (and with it the pair) is removed on every exit path.
# Needs root.
#
#   bindings/netns.sh COMMAND [ARGS...]
set -euo pipefail
# Unique per run; interface names stay under 16 bytes ("nb" + 11 hex + a/b).
tag=$(printf '%x%04x' "$$" "$RANDOM" | tail -c 11)
ns=nrb-$tag
a=nb${tag}a b=nb${tag}b
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link add "$a" type veth peer name "$b"
ip -n "$ns" link set "$a" up
ip -n "$ns" link set "$b" up
ip -n "$ns" link set lo up
status=0
ip netns exec "$ns" env NR_TEST_NS="$ns" NR_TEST_IF_A="$a" NR_TEST_IF_B="$b" "$@" || status=$?
exit $status
