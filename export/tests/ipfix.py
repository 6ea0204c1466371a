"""nfcapd's view of nrexport's IPFIX export against tshark's count of the
capture: per directional 5-tuple, packets and IP bytes.

usage: ipfix.py PCAP NFCAPD_FILE RECORDS
RECORDS: the IPFIX data records nrexport says it sent (nfdump must show as
many flows). Exits 1 on a mismatch.
"""
import collections
import ipaddress
import subprocess
import sys

pcap, nffile, records = sys.argv[1], sys.argv[2], int(sys.argv[3])


def ip(a):
    return ipaddress.ip_address(a).compressed


def tshark_counts():
    fields = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt",
              "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "ip.len", "ipv6.plen"]
    cmd = ["tshark", "-r", pcap, "-n", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    c = collections.defaultdict(lambda: [0, 0])
    for line in out.splitlines():
        s4, d4, s6, d6, p4, p6, ts, td, us, ud, l4, l6 = line.split("\t")
        if not (s4 or s6):
            continue
        key = (ip(s4 or s6), ip(d4 or d6), int(ts or us or 0), int(td or ud or 0), int(p4 or p6))
        c[key][0] += 1
        c[key][1] += int(l4) if l4 else int(l6) + 40
    return {k: tuple(v) for k, v in c.items()}


def nfdump_counts():
    out = subprocess.run(["nfdump", "-r", nffile, "-q", "-N", "-6", "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt"],
                         capture_output=True, text=True, check=True).stdout
    c = collections.defaultdict(lambda: [0, 0])
    n = 0
    names = {"TCP": 6, "UDP": 17}
    for line in out.splitlines():
        sa, da, sp, dp, pr, pk, by = [x.strip() for x in line.split("|")]
        n += 1
        key = (ip(sa), ip(da), int(sp), int(dp), names.get(pr) or int(pr))
        c[key][0] += int(pk)
        c[key][1] += int(by)
    return n, {k: tuple(v) for k, v in c.items()}


want = tshark_counts()
n, got = nfdump_counts()
print(f"tshark: {len(want)} directional 5-tuples; nfdump: {n} flow records, {len(got)} 5-tuples")
if n != records:
    print(f"MISMATCH: nfdump has {n} flow records, nrexport sent {records}")
    sys.exit(1)
if got != want:
    missing = [k for k in want if k not in got][:3]
    diff = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]][:3]
    print(f"MISMATCH: missing {missing}; differ {diff}")
    sys.exit(1)
print(f"ipfix: nfdump counts equal tshark's: {sum(v[0] for v in got.values())} packets, "
      f"{sum(v[1] for v in got.values())} IP bytes")
