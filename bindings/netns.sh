#!/usr/bin/env bash
# Run a command inside a throwaway network namespace holding one veth pair
# A <-> B (both up, IPv6 off, so the kernel sends nothing on its own), with
# NR_TEST_NS, NR_TEST_IF_A and NR_TEST_IF_B in its environment. The
# namespace (and with it the pair) is removed on every exit path.
# Needs root.
#
#   bindings/netns.sh COMMAND [ARGS...]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/netns.sh"
tag=$(nr_tag)
ns=nrb-$tag a=nb${tag}a b=nb${tag}b
trap nr_netns_cleanup EXIT INT TERM
nr_netns_add "$ns"
nr_veth_add "$ns" "$a" "$ns" "$b"
status=0
ip netns exec "$ns" env NR_TEST_NS="$ns" NR_TEST_IF_A="$a" NR_TEST_IF_B="$b" "$@" || status=$?
exit $status
