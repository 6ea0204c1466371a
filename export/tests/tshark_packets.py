"""The packets of a capture as tshark decodes them: the independent side of
the engines and IPFIX checks (engines.py, ipfix.py)."""
import ipaddress
import subprocess
import sys

FIELDS = ["vlan.id", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt",
          "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "frame.len", "ip.len", "ipv6.plen"]


def ip(a):
    """An address in one canonical text form."""
    return ipaddress.ip_address(a).compressed


def ip_packets(pcap):
    """Yield (vlan, src, dst, proto, sport, dport, frame_len, ip_len) for each IP packet."""
    cmd = ["tshark", "-r", pcap, "-n", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        vlan, s4, d4, s6, d6, p4, p6, ts, td, us, ud, flen, l4, l6 = line.split("\t")
        if not (s4 or s6):
            continue
        yield (int(vlan or 0), ip(s4 or s6), ip(d4 or d6), int(p4 or p6), int(ts or us or 0),
               int(td or ud or 0), int(flen), int(l4) if l4 else int(l6) + 40)


def compare(name, got, want, size="bytes"):
    """Exit 1, naming a few differences, unless the counts `got` (per
    5-tuple: packets, `size`) equal tshark's `want`."""
    if got != want:
        missing = [k for k in want if k not in got][:3]
        extra = [k for k in got if k not in want][:3]
        diff = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]][:3]
        print(f"MISMATCH {name}: {len(got)} tuples vs {len(want)}; missing {missing}; extra {extra}; differ {diff}")
        sys.exit(1)
    print(f"ok {name}: {len(got)} 5-tuples, {sum(v[0] for v in got.values())} packets, "
          f"{sum(v[1] for v in got.values())} {size}")
