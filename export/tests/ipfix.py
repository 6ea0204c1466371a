"""nfcapd's view of nrexport's IPFIX export against tshark's count of the
capture: per directional 5-tuple, packets and IP bytes.

usage: ipfix.py PCAP NFCAPD_FILE RECORDS
RECORDS: the IPFIX data records nrexport says it sent (nfdump must show as
many flows). Exits 1 on a mismatch.
"""
import collections
import subprocess
import sys

from tshark_packets import compare, ip, ip_packets

pcap, nffile, records = sys.argv[1], sys.argv[2], int(sys.argv[3])


def tshark_counts():
    c = collections.defaultdict(lambda: [0, 0])
    for _, src, dst, proto, sp, dp, _, ip_len in ip_packets(pcap):
        key = (src, dst, sp, dp, proto)
        c[key][0] += 1
        c[key][1] += ip_len
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
compare("ipfix: nfdump counts equal tshark's", got, want, "IP bytes")
