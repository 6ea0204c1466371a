"""Per-5-tuple packet and byte counts of a capture, four ways, compared:
tshark (independent: the capture file itself) against ClickHouse (chdb:
INSERT ... FORMAT ArrowStream / Parquet) and DuckDB (the Parquet file, the
Arrow stream through pyarrow), for nrexport's packet rows and flow rows.

usage: engines.py PCAP PACKETS.arrows PACKETS_GLOB.parquet FLOWS.arrows FLOWS_GLOB.parquet
Prints one line per check; exits 1 on the first mismatch.
"""
import collections
import glob
import sys

import chdb
import duckdb
import pyarrow.ipc
import pyarrow.parquet

from tshark_packets import compare, ip, ip_packets

pcap, pk_arrow, pk_parquet, fl_arrow, fl_parquet = sys.argv[1:6]


def tshark_counts():
    c = collections.defaultdict(lambda: [0, 0])
    for vlan, src, dst, proto, sp, dp, flen, _ in ip_packets(pcap):
        key = (vlan, src, dst, proto, sp, dp)
        c[key][0] += 1
        c[key][1] += flen
    return dict((k, tuple(v)) for k, v in c.items())


def check_meta(schema, kind):
    m = schema.metadata or {}
    assert m.get(b"netring.records") == kind.encode(), m
    assert m.get(b"netring.schema_version") == b"1", m


want = tshark_counts()
print(f"tshark: {len(want)} 5-tuples, {sum(v[0] for v in want.values())} IP packets")

# ClickHouse (chdb): the rows go in with INSERT ... FORMAT, as a server would
# take them from a sensor; the counts come out of SQL.
s = chdb.session.Session()
def ADDR(side):
    return f"coalesce(IPv4NumToString(toIPv4({side}_ip4)), IPv6NumToString({side}_ip6))"


for table, path, fmt in [("pk_arrow", pk_arrow, "ArrowStream"), ("fl_arrow", fl_arrow, "ArrowStream"),
                         ("pk_parquet", pk_parquet, "Parquet"), ("fl_parquet", fl_parquet, "Parquet")]:
    files = sorted(glob.glob(path))
    assert files, path
    s.query(f"CREATE TABLE {table} ENGINE = Memory AS SELECT * FROM file('{files[0]}', '{fmt}') LIMIT 0")
    for f in files:
        s.query(f"INSERT INTO {table} FROM INFILE '{f}' FORMAT {fmt}")
    desc = s.query(f"DESCRIBE TABLE {table}", "TSV").bytes().decode()
    assert "DateTime64(9" in desc, desc


def ch_rows(sql):
    out = s.query(sql, "TSV").bytes().decode()
    return [line.split("\t") for line in out.splitlines()]


def ch_packets(table):
    src = ADDR("src")
    dst = ADDR("dst")
    rows = ch_rows(f"SELECT vlan, {src}, {dst}, proto, src_port, dst_port, count(), sum(len) FROM {table} "
                   f"WHERE ip_version > 0 GROUP BY ALL")
    return {(int(v), ip(a), ip(b), int(p), int(sp), int(dp)): (int(n), int(by))
            for v, a, b, p, sp, dp, n, by in rows}


def ch_flows(table):
    src = ADDR("src")
    dst = ADDR("dst")
    rows = ch_rows(
        f"SELECT vlan, s, d, proto, sp, dp, sum(p), sum(b) FROM ("
        f" SELECT vlan, {src} AS s, {dst} AS d, proto, src_port AS sp, dst_port AS dp,"
        f"  packets_fwd AS p, bytes_fwd AS b FROM {table} WHERE ip_version > 0"
        f" UNION ALL SELECT vlan, {dst}, {src}, proto, dst_port, src_port, packets_rev, bytes_rev"
        f"  FROM {table} WHERE ip_version > 0"
        f") WHERE p > 0 GROUP BY ALL")
    return {(int(v), ip(a), ip(b), int(p), int(sp), int(dp)): (int(n), int(by))
            for v, a, b, p, sp, dp, n, by in rows}


compare("chdb packets ArrowStream", ch_packets("pk_arrow"), want)
compare("chdb packets Parquet", ch_packets("pk_parquet"), want)
compare("chdb flows ArrowStream", ch_flows("fl_arrow"), want)
compare("chdb flows Parquet", ch_flows("fl_parquet"), want)

# DuckDB: the Parquet files directly, the Arrow stream through pyarrow.
db = duckdb.connect()


def dd_addr(v, a4, a6):
    if v == 4:
        return ip(a4)
    return ip(bytes(a6))


def dd_packets(rel):
    rows = db.sql(f"SELECT vlan, ip_version, src_ip4, dst_ip4, src_ip6, dst_ip6, proto, src_port, dst_port,"
                  f" count(*), sum(len) FROM {rel} WHERE ip_version > 0 GROUP BY ALL").fetchall()
    return {(v, dd_addr(ver, s4, s6), dd_addr(ver, d4, d6), p, sp, dp): (n, int(by))
            for v, ver, s4, d4, s6, d6, p, sp, dp, n, by in rows}


def dd_flows(rel):
    rows = db.sql(
        f"SELECT vlan, ip_version, s4, d4, s6, d6, proto, sp, dp, sum(p), sum(b) FROM ("
        f" SELECT vlan, ip_version, src_ip4 s4, dst_ip4 d4, src_ip6 s6, dst_ip6 d6, proto, src_port sp,"
        f"  dst_port dp, packets_fwd p, bytes_fwd b FROM {rel} WHERE ip_version > 0"
        f" UNION ALL SELECT vlan, ip_version, dst_ip4, src_ip4, dst_ip6, src_ip6, proto, dst_port, src_port,"
        f"  packets_rev, bytes_rev FROM {rel} WHERE ip_version > 0"
        f") WHERE p > 0 GROUP BY ALL").fetchall()
    return {(v, dd_addr(ver, s4, s6), dd_addr(ver, d4, d6), p, sp, dp): (int(n), int(by))
            for v, ver, s4, d4, s6, d6, p, sp, dp, n, by in rows}


pk_tbl = pyarrow.ipc.open_stream(pk_arrow).read_all()
fl_tbl = pyarrow.ipc.open_stream(fl_arrow).read_all()
check_meta(pk_tbl.schema, "packets")
check_meta(fl_tbl.schema, "flows")
for f in glob.glob(pk_parquet):
    check_meta(pyarrow.parquet.read_schema(f), "packets")
for f in glob.glob(fl_parquet):
    check_meta(pyarrow.parquet.read_schema(f), "flows")
compare("duckdb packets Arrow stream", dd_packets("pk_tbl"), want)
compare("duckdb packets Parquet", dd_packets(f"read_parquet('{pk_parquet}')"), want)
compare("duckdb flows Arrow stream", dd_flows("fl_tbl"), want)
compare("duckdb flows Parquet", dd_flows(f"read_parquet('{fl_parquet}')"), want)
print("engines: all counts equal")
