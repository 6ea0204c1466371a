"""libnetring's flow records into pyarrow and DuckDB through the Arrow C
Data Interface, from Python with ctypes (no netring Python package): read a
capture with nr_reader_*, meter it with nr_flow_meter_*, export, import
with RecordBatch._import_from_c, query with DuckDB.

usage: cdata_pyarrow.py LIBNETRING_SO PCAP PACKETS
Prints "pyarrow: N flows, P packets"; exit 1 on a mismatch."""
import ctypes
import sys

import duckdb
import pyarrow as pa

lib = ctypes.CDLL(sys.argv[1])
pcap, want = sys.argv[2].encode(), int(sys.argv[3])
vp = ctypes.c_void_p
lib.nr_reader_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
lib.nr_reader_next_packet.argtypes = [vp, ctypes.POINTER(vp)]
lib.nr_flow_meter_open.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint32,
                                   ctypes.POINTER(vp)]
lib.nr_flow_meter_observe.argtypes = [vp, vp]
lib.nr_flow_meter_flush.argtypes = [vp]
lib.nr_flow_meter_export.argtypes = [vp, vp, vp]
lib.nr_flow_meter_close.argtypes = [vp]
lib.nr_reader_close.argtypes = [vp]

r, m, p = vp(), vp(), vp()
assert lib.nr_reader_open(pcap, ctypes.byref(r)) == 0
assert lib.nr_flow_meter_open(0, 0, 0, 0, ctypes.byref(m)) == 0
NR_EOF = 5
while True:
    rc = lib.nr_reader_next_packet(r, ctypes.byref(p))
    if rc != 0:
        assert rc == NR_EOF, rc
        break
    assert lib.nr_flow_meter_observe(m, p) == 0
assert lib.nr_flow_meter_flush(m) == 0
# struct ArrowSchema is 9 pointer-sized fields, struct ArrowArray 10.
schema = ctypes.create_string_buffer(9 * 8)
array = ctypes.create_string_buffer(10 * 8)
assert lib.nr_flow_meter_export(m, schema, array) == 0
batch = pa.RecordBatch._import_from_c(ctypes.addressof(array), ctypes.addressof(schema))
lib.nr_flow_meter_close(m)
lib.nr_reader_close(r)
assert batch.schema.metadata[b"netring.schema_version"] == b"1", batch.schema.metadata
assert batch.schema.field("src_ip6").type == pa.binary(16)
assert batch.schema.field("first_ts").type == pa.timestamp("ns", tz="UTC")
got = duckdb.sql("SELECT count(*), sum(packets_fwd + packets_rev) FROM batch").fetchall()[0]
if got[1] != want:
    print(f"MISMATCH: DuckDB sums {got[1]} packets, the capture has {want}")
    sys.exit(1)
print(f"pyarrow: {got[0]} flows, {got[1]} packets")
