//! `nr_flow_meter`: the flow meter ([`crate::flow`]) for C, and its records
//! handed over through the Arrow C Data Interface.
//!
//! nr_flow_meter_export() moves the ended flow records into a
//! `struct ArrowArray` (a struct array: one row per record) described by a
//! `struct ArrowSchema`, the two structs of the Arrow C Data Interface
//! (<https://arrow.apache.org/docs/format/CDataInterface.html>), with their
//! release callbacks. pyarrow (`RecordBatch._import_from_c`), DuckDB, Arrow
//! Go (`cdata.ImportCRecordBatch`), nanoarrow and arrow-rs import them
//! without another copy. The columns are those of the export crate's flow
//! schema, version 1 (`export/src/schema.rs`; a test there checks both
//! agree); the structs are built here by hand so libnetring.so needs no
//! Arrow library.

use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr;

use super::arg::{self, Out, StatsOut};
use super::batch::nr_packet;
use super::handle;
use super::{NR_E_INTERNAL, NR_OK, boundary, guard, status};
use crate::error::Error;
use crate::flow::{FlowConfig, FlowMeter, FlowRecord, FlowStats};
use crate::packet::Packet;

const FLOW_MAGIC: u64 = 0x6e72_5f66_6c6f_7773; // "nr_flows"

/// nr_flow_meter_open() flag: count IP bytes (the IP header's length)
/// instead of frame wire lengths, as IPFIX octet counts do.
pub const NR_FLOW_IP_BYTES: u32 = 1;

/// A flow meter (opaque): bidirectional flows by 5-tuple and VLAN (non-IP
/// frames by EtherType and MAC addresses), with idle/active timeouts and a
/// bounded table. Created by nr_flow_meter_open(), freed by
/// nr_flow_meter_close(). One thread at a time; one meter per worker of a
/// fanout group (the group keeps a flow's packets on one worker).
pub struct nr_flow_meter {
    magic: u64,
    state: std::cell::UnsafeCell<FlowMeter>,
}

handle::handle!(nr_flow_meter, FLOW_MAGIC, "meter", FlowMeter);

/// A flow meter's counters (nr_flow_meter_get_stats()).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_flow_stats {
    /// Packets observed.
    pub packets: u64,
    /// Bytes observed (wire length, or IP bytes with NR_FLOW_IP_BYTES).
    pub bytes: u64,
    /// Flows created.
    pub flows: u64,
    /// Records ended, every reason.
    pub records: u64,
    /// Records ended by the idle timeout.
    pub idle_timeouts: u64,
    /// Records ended by the active timeout.
    pub active_timeouts: u64,
    /// Records ended by TCP FIN (both ways) or RST.
    pub tcp_ends: u64,
    /// Flows evicted because the table was full (the least recently seen).
    pub evicted: u64,
    /// Records ended by nr_flow_meter_flush().
    pub flushed: u64,
    /// IP fragments observed.
    pub fragments: u64,
    /// Frames keyed by MAC addresses (no IP header).
    pub non_ip: u64,
    /// Flows in the table now (a level, the same in total and delta).
    pub active_flows: u64,
}

impl From<FlowStats> for nr_flow_stats {
    fn from(s: FlowStats) -> nr_flow_stats {
        nr_flow_stats {
            packets: s.packets,
            bytes: s.bytes,
            flows: s.flows,
            records: s.records,
            idle_timeouts: s.idle_timeouts,
            active_timeouts: s.active_timeouts,
            tcp_ends: s.tcp_ends,
            evicted: s.evicted,
            flushed: s.flushed,
            fragments: s.fragments,
            non_ip: s.non_ip,
            active_flows: s.active_flows,
        }
    }
}

/// The Arrow C Data Interface's `struct ArrowSchema`, field for field (a
/// `struct ArrowSchema *` from Arrow's `abi.h` may be passed cast to this).
#[repr(C)]
pub struct nr_arrow_schema {
    /// Type format string ("+s" for the record struct).
    pub format: *const c_char,
    /// Field name (NULL or "" at the top).
    pub name: *const c_char,
    /// Key/value metadata in the interface's binary layout, or NULL.
    pub metadata: *const c_char,
    /// ARROW_FLAG_* (2: nullable).
    pub flags: i64,
    /// Number of children.
    pub n_children: i64,
    /// The children.
    pub children: *mut *mut nr_arrow_schema,
    /// Dictionary (always NULL here).
    pub dictionary: *mut nr_arrow_schema,
    /// Frees what the producer allocated; NULL once released.
    pub release: Option<unsafe extern "C" fn(*mut nr_arrow_schema)>,
    /// The producer's.
    pub private_data: *mut c_void,
}

/// The Arrow C Data Interface's `struct ArrowArray`, field for field.
#[repr(C)]
pub struct nr_arrow_array {
    /// Rows.
    pub length: i64,
    /// Null rows (-1: unknown).
    pub null_count: i64,
    /// Offset into the buffers, in rows.
    pub offset: i64,
    /// Number of buffers.
    pub n_buffers: i64,
    /// Number of children.
    pub n_children: i64,
    /// The buffers (validity bitmap first; NULL when no row is null).
    pub buffers: *mut *const c_void,
    /// The children.
    pub children: *mut *mut nr_arrow_array,
    /// Dictionary (always NULL here).
    pub dictionary: *mut nr_arrow_array,
    /// Frees what the producer allocated; NULL once released.
    pub release: Option<unsafe extern "C" fn(*mut nr_arrow_array)>,
    /// The producer's.
    pub private_data: *mut c_void,
}

/// Open a flow meter. `idle_timeout_ns` (0: 15 s): a flow with no packet
/// for this long ends; `active_timeout_ns` (0: 1800 s): a record ends this
/// long after its first packet and the flow goes on in a new one;
/// `max_flows` (0: 65,536; at most 2^30): flows held at once, a new flow
/// beyond it evicts the least recently seen one; `flags`: 0 or
/// NR_FLOW_IP_BYTES. Memory: about 148 bytes per flow of max_flows,
/// reserved here and touched as flows arrive.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL out, max_flows too large);
/// NR_E_NO_MEMORY.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_flow_meter_open(
    idle_timeout_ns: u64,
    active_timeout_ns: u64,
    max_flows: u32,
    flags: u32,
    out: *mut *mut nr_flow_meter,
) -> c_int {
    boundary(|| {
        let out = Out::new(out, "out")?;
        if flags & !NR_FLOW_IP_BYTES != 0 {
            return Err(Error::invalid_arg(format!(
                "unknown flow meter flags {flags:#x}"
            )));
        }
        let d = FlowConfig::default();
        let cfg = FlowConfig {
            idle_timeout_ns: if idle_timeout_ns == 0 {
                d.idle_timeout_ns
            } else {
                idle_timeout_ns
            },
            active_timeout_ns: if active_timeout_ns == 0 {
                d.active_timeout_ns
            } else {
                active_timeout_ns
            },
            max_flows: if max_flows == 0 {
                d.max_flows
            } else {
                max_flows
            },
            ip_bytes: flags & NR_FLOW_IP_BYTES != 0,
            ..d
        };
        let h = nr_flow_meter {
            magic: FLOW_MAGIC,
            state: std::cell::UnsafeCell::new(FlowMeter::new(&cfg)?),
        };
        Ok(handle::publish(h, out, |_| {}))
    })
}

/// Close a flow meter (its ended records not exported are dropped). NULL
/// is accepted and ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_flow_meter_close(meter: *mut nr_flow_meter) {
    guard((), || drop(handle::take(meter)))
}

/// Count one packet (from a batch callback, nr_reader_next_packet(), ...): its
/// headers are parsed here. The packet memory is read during the call only.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL meter or pkt, NULL data with a
/// non-zero caplen).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_flow_meter_observe(
    meter: *mut nr_flow_meter,
    pkt: *const nr_packet,
) -> c_int {
    guard(NR_E_INTERNAL, || status(observe(meter, pkt)))
}

/// The body of nr_flow_meter_observe() (inside guard(): a per-packet call,
/// as nr_packet_parse()); the pointers come from a C caller as documented.
fn observe(m: *mut nr_flow_meter, pkt: *const nr_packet) -> Result<(), Error> {
    let m = handle::state(m)?;
    m.observe(&nr_packet::as_packet(arg::by_ref(pkt, "pkt")?)?);
    Ok(())
}

/// Move the meter's clock to `now_ns` (ns since the epoch, if later than
/// the newest packet) and end the flows idle since. Call it about once a
/// second on a live capture. Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_flow_meter_expire(
    meter: *mut nr_flow_meter,
    now_ns: u64,
) -> c_int {
    boundary(|| {
        handle::state(meter)?.expire(now_ns);
        Ok(NR_OK)
    })
}

/// End every flow (at the end of the input). Returns NR_OK or
/// NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_flow_meter_flush(meter: *mut nr_flow_meter) -> c_int {
    boundary(|| {
        handle::state(meter)?.flush();
        Ok(NR_OK)
    })
}

/// The counters: lifetime totals in `*total`, the change since the
/// previous call in `*delta`; either may be NULL, not both.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_flow_meter_get_stats(
    meter: *mut nr_flow_meter,
    total: *mut nr_flow_stats,
    delta: *mut nr_flow_stats,
) -> c_int {
    boundary(|| {
        let m = handle::state(meter)?;
        let out = StatsOut::new(total, delta)?;
        Ok(out.set(m.stats_with_delta()))
    })
}

/// Move the ended flow records (all of them, possibly none) out of the
/// meter into `*array`, a struct array of one row per record, described by
/// `*schema` (the Arrow C Data Interface; the structs are
/// layout-identical to `struct ArrowArray` / `struct ArrowSchema`). The
/// caller owns both afterwards and frees each by calling its `release`
/// (the interface's rule; a consumer such as pyarrow or DuckDB does it).
/// Columns, as the export crate's flow schema v1: first_ts, last_ts
/// (timestamp ns UTC), src_mac, dst_mac (uint64), vlan, vlan_inner,
/// ethertype (uint16), ip_version (uint8), src_ip4, dst_ip4 (uint32, null
/// unless IPv4), src_ip6, dst_ip6 (fixed binary 16, null unless IPv6),
/// proto (uint8), src_port, dst_port (uint16), packets_fwd, bytes_fwd,
/// packets_rev, bytes_rev (uint64), tcp_flags_fwd, tcp_flags_rev,
/// end_reason (uint8: 1 idle, 2 active, 3 FIN, 4 RST, 5 table full, 6
/// flush), flow_hash (uint64). The schema's metadata holds
/// netring.records=flows and netring.schema_version=1.
///
/// Returns NR_OK (`*schema` and `*array` written); NR_E_INVALID_ARG (NULL
/// argument: nothing written, no record lost).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_flow_meter_export(
    meter: *mut nr_flow_meter,
    schema: *mut nr_arrow_schema,
    array: *mut nr_arrow_array,
) -> c_int {
    boundary(|| {
        let m = handle::state(meter)?;
        let schema = Out::new(schema, "schema")?;
        let array = Out::new(array, "array")?;
        let recs: Vec<FlowRecord> = m.drain_ended().collect();
        // Whatever the structs held is overwritten, as the interface's
        // producers do.
        schema.set(arrow::schema(&arrow::FLOW_COLS, "flows"));
        array.set(arrow::array(&arrow::FLOW_COLS, &recs, arrow::flow_value));
        Ok(NR_OK)
    })
}

/// Packet rows for `n` packets (from nr_batch_fill(), nr_reader_next_packet(),
/// ...) into `*array`, described by `*schema`, through the Arrow C Data
/// Interface as nr_flow_meter_export() does: one row per packet, its
/// headers parsed here (the export crate's packet schema v1: ts, ifindex,
/// caplen, len, src_mac, dst_mac, vlan, vlan_inner, ethertype, ip_version,
/// src_ip4, dst_ip4, src_ip6, dst_ip6, proto, src_port, dst_port,
/// tcp_flags, flow_hash; metadata netring.records=packets). The rows are
/// values, not views: the batch may be released afterwards. The caller
/// releases both structs.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL pointer, a packet with NULL data
/// and a non-zero caplen: nothing written).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_packets_export(
    pkts: *const nr_packet,
    n: usize,
    schema: *mut nr_arrow_schema,
    array: *mut nr_arrow_array,
) -> c_int {
    boundary(|| {
        let pkts = arg::slice(pkts, n, "pkts")?;
        let schema = Out::new(schema, "schema")?;
        let array = Out::new(array, "array")?;
        let mut rows = Vec::with_capacity(n);
        for p in pkts {
            rows.push(arrow::PktRow::new(&nr_packet::as_packet(p)?));
        }
        schema.set(arrow::schema(&arrow::PKT_COLS, "packets"));
        array.set(arrow::array(&arrow::PKT_COLS, &rows, arrow::pkt_value));
        Ok(NR_OK)
    })
}

/// The record schemas and arrays in the C Data Interface's layout.
mod arrow {
    use super::*;

    const NULLABLE: i64 = 2;

    /// (name, format, nullable).
    pub(super) type Col = (&'static str, &'static str, bool);

    /// The flow schema v1 (export/src/schema.rs: flow_schema).
    pub(super) const FLOW_COLS: [Col; 23] = [
        ("first_ts", "tsn:UTC", false),
        ("last_ts", "tsn:UTC", false),
        ("src_mac", "L", false),
        ("dst_mac", "L", false),
        ("vlan", "S", false),
        ("vlan_inner", "S", false),
        ("ethertype", "S", false),
        ("ip_version", "C", false),
        ("src_ip4", "I", true),
        ("dst_ip4", "I", true),
        ("src_ip6", "w:16", true),
        ("dst_ip6", "w:16", true),
        ("proto", "C", false),
        ("src_port", "S", false),
        ("dst_port", "S", false),
        ("packets_fwd", "L", false),
        ("bytes_fwd", "L", false),
        ("packets_rev", "L", false),
        ("bytes_rev", "L", false),
        ("tcp_flags_fwd", "C", false),
        ("tcp_flags_rev", "C", false),
        ("end_reason", "C", false),
        ("flow_hash", "L", false),
    ];

    fn mac(b: &[u8; 6]) -> u64 {
        b.iter().fold(0, |a, &x| a << 8 | x as u64)
    }

    /// Column `i` of record `r`: its bytes (little-endian, the width of
    /// the type) appended to `out`; false (nothing appended) for a null.
    pub(super) fn flow_value(i: usize, r: &FlowRecord, out: &mut Vec<u8>) -> bool {
        let v4 = |a: &[u8; 16]| u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
        match i {
            0 => out.extend_from_slice(&(r.first_ns as i64).to_le_bytes()),
            1 => out.extend_from_slice(&(r.last_ns as i64).to_le_bytes()),
            2 => out.extend_from_slice(&mac(&r.src_mac).to_le_bytes()),
            3 => out.extend_from_slice(&mac(&r.dst_mac).to_le_bytes()),
            4 => out.extend_from_slice(&r.vlan.to_le_bytes()),
            5 => out.extend_from_slice(&r.vlan_inner.to_le_bytes()),
            6 => out.extend_from_slice(&r.ethertype.to_le_bytes()),
            7 => out.push(r.ip_version),
            8 if r.ip_version == 4 => out.extend_from_slice(&v4(&r.src_addr).to_le_bytes()),
            9 if r.ip_version == 4 => out.extend_from_slice(&v4(&r.dst_addr).to_le_bytes()),
            10 if r.ip_version == 6 => out.extend_from_slice(&r.src_addr),
            11 if r.ip_version == 6 => out.extend_from_slice(&r.dst_addr),
            8..=11 => return false,
            12 => out.push(r.proto),
            13 => out.extend_from_slice(&r.src_port.to_le_bytes()),
            14 => out.extend_from_slice(&r.dst_port.to_le_bytes()),
            15 => out.extend_from_slice(&r.packets_fwd.to_le_bytes()),
            16 => out.extend_from_slice(&r.bytes_fwd.to_le_bytes()),
            17 => out.extend_from_slice(&r.packets_rev.to_le_bytes()),
            18 => out.extend_from_slice(&r.bytes_rev.to_le_bytes()),
            19 => out.push(r.tcp_flags_fwd),
            20 => out.push(r.tcp_flags_rev),
            21 => out.push(r.end as u8),
            _ => out.extend_from_slice(&r.flow_hash.to_le_bytes()),
        }
        true
    }

    /// The packet schema v1 (export/src/schema.rs: packet_schema).
    pub(super) const PKT_COLS: [Col; 19] = [
        ("ts", "tsn:UTC", false),
        ("ifindex", "i", false),
        ("caplen", "I", false),
        ("len", "I", false),
        ("src_mac", "L", false),
        ("dst_mac", "L", false),
        ("vlan", "S", false),
        ("vlan_inner", "S", false),
        ("ethertype", "S", false),
        ("ip_version", "C", false),
        ("src_ip4", "I", true),
        ("dst_ip4", "I", true),
        ("src_ip6", "w:16", true),
        ("dst_ip6", "w:16", true),
        ("proto", "C", false),
        ("src_port", "S", false),
        ("dst_port", "S", false),
        ("tcp_flags", "C", false),
        ("flow_hash", "L", false),
    ];

    /// One packet row's values, parsed once.
    pub(super) struct PktRow {
        ts: u64,
        ifindex: i32,
        caplen: u32,
        len: u32,
        mac: [[u8; 6]; 2],
        key: crate::flow::FlowKey,
        ip_version: u8,
        addr: [[u8; 16]; 2],
        port: [u16; 2],
        tcp_flags: u8,
        ethertype: u16,
    }

    impl PktRow {
        pub(super) fn new(p: &Packet<'_>) -> PktRow {
            let l = crate::parse::Layers::parse_packet(p);
            let (key, _) = crate::flow::FlowKey::from_layers(&l);
            let m = |r: std::ops::Range<usize>| {
                let mut a = [0u8; 6];
                if let Some(b) = p.data.get(r) {
                    a.copy_from_slice(b);
                }
                a
            };
            PktRow {
                ts: p.ts_ns,
                ifindex: p.ifindex,
                caplen: p.data.len() as u32,
                len: p.wire_len.max(p.data.len() as u32),
                mac: [m(6..12), m(0..6)],
                ip_version: match l.l3 {
                    crate::parse::L3::Ipv4 => 4,
                    crate::parse::L3::Ipv6 => 6,
                    _ => 0,
                },
                addr: [*l.src_addr_bytes(), *l.dst_addr_bytes()],
                port: [l.src_port, l.dst_port],
                tcp_flags: l.tcp_flags,
                ethertype: l.ethertype,
                key,
            }
        }
    }

    /// Column `i` of packet row `r` (as [`flow_value`]).
    pub(super) fn pkt_value(i: usize, r: &PktRow, out: &mut Vec<u8>) -> bool {
        let v4 = |a: &[u8; 16]| u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
        match i {
            0 => out.extend_from_slice(&(r.ts as i64).to_le_bytes()),
            1 => out.extend_from_slice(&r.ifindex.to_le_bytes()),
            2 => out.extend_from_slice(&r.caplen.to_le_bytes()),
            3 => out.extend_from_slice(&r.len.to_le_bytes()),
            4 | 5 => out.extend_from_slice(&mac(&r.mac[i - 4]).to_le_bytes()),
            6 => out.extend_from_slice(&r.key.vlan.to_le_bytes()),
            7 => out.extend_from_slice(&r.key.vlan_inner.to_le_bytes()),
            8 => out.extend_from_slice(&r.ethertype.to_le_bytes()),
            9 => out.push(r.ip_version),
            10 | 11 if r.ip_version == 4 => {
                out.extend_from_slice(&v4(&r.addr[i - 10]).to_le_bytes())
            }
            12 | 13 if r.ip_version == 6 => out.extend_from_slice(&r.addr[i - 12]),
            10..=13 => return false,
            14 => out.push(r.key.proto),
            15 | 16 => out.extend_from_slice(&r.port[i - 15].to_le_bytes()),
            17 => out.push(r.tcp_flags),
            _ => out.extend_from_slice(&r.key.hash().to_le_bytes()),
        }
        true
    }

    fn width(format: &str) -> usize {
        match format {
            "C" => 1,
            "S" => 2,
            "I" => 4,
            "w:16" => 16,
            _ => 8,
        }
    }

    /// What a schema node owns.
    struct SchemaPriv {
        _format: CString,
        _name: CString,
        _metadata: Vec<u8>,
        children: Vec<*mut nr_arrow_schema>,
    }

    /// `unsafe extern "C" fn $name(*mut $node)`: the release callback of
    /// a node whose private data is a leaked `Box<$priv>` with a
    /// `children` list of leaked boxes: releases and frees each child,
    /// frees the private data and marks the node released.
    macro_rules! release_fn {
        ($name:ident, $node:ty, $priv:ty) => {
            unsafe extern "C" fn $name(n: *mut $node) {
                if n.is_null() {
                    return;
                }
                // SAFETY: the interface calls release on a live node of
                // ours, once; its private data is the Box we leaked for it
                // and each child is a Box we leaked.
                unsafe {
                    let p = Box::from_raw((*n).private_data.cast::<$priv>());
                    for &c in &p.children {
                        if let Some(r) = (*c).release {
                            r(c);
                        }
                        drop(Box::from_raw(c));
                    }
                    (*n).release = None;
                }
            }
        };
    }

    release_fn!(release_schema, nr_arrow_schema, SchemaPriv);

    fn node(
        name: &str,
        format: &str,
        flags: i64,
        metadata: Vec<u8>,
        children: Vec<*mut nr_arrow_schema>,
    ) -> nr_arrow_schema {
        let format = CString::new(format).unwrap_or_default();
        let name = CString::new(name).unwrap_or_default();
        let mut p = Box::new(SchemaPriv {
            _format: format,
            _name: name,
            _metadata: metadata,
            children,
        });
        let s = nr_arrow_schema {
            format: p._format.as_ptr(),
            name: p._name.as_ptr(),
            metadata: if p._metadata.is_empty() {
                ptr::null()
            } else {
                p._metadata.as_ptr().cast()
            },
            flags,
            n_children: p.children.len() as i64,
            children: if p.children.is_empty() {
                ptr::null_mut()
            } else {
                p.children.as_mut_ptr()
            },
            dictionary: ptr::null_mut(),
            release: Some(release_schema),
            private_data: ptr::null_mut(),
        };
        nr_arrow_schema {
            private_data: Box::into_raw(p).cast(),
            ..s
        }
    }

    /// The interface's metadata encoding: int32 count, then per pair
    /// int32 length + key bytes, int32 length + value bytes (native
    /// endianness).
    fn metadata(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut v = (pairs.len() as i32).to_ne_bytes().to_vec();
        for (k, val) in pairs {
            for s in [k, val] {
                v.extend_from_slice(&(s.len() as i32).to_ne_bytes());
                v.extend_from_slice(s.as_bytes());
            }
        }
        v
    }

    /// The schema of `cols`, with the record kind and schema version in
    /// its metadata.
    pub(super) fn schema(cols: &[Col], records: &str) -> nr_arrow_schema {
        let children = cols
            .iter()
            .map(|&(name, format, nullable)| {
                Box::into_raw(Box::new(node(
                    name,
                    format,
                    if nullable { NULLABLE } else { 0 },
                    vec![],
                    vec![],
                )))
            })
            .collect();
        let meta = metadata(&[
            ("netring.records", records),
            ("netring.schema_version", "1"),
        ]);
        node("", "+s", 0, meta, children)
    }

    /// What an array node owns: 8-byte aligned buffers and the pointer
    /// list the interface reads.
    struct ArrayPriv {
        _bufs: Vec<Vec<u64>>,
        ptrs: Vec<*const c_void>,
        children: Vec<*mut nr_arrow_array>,
    }

    release_fn!(release_array, nr_arrow_array, ArrayPriv);

    fn words(bytes: &[u8]) -> Vec<u64> {
        let mut w = vec![0u64; bytes.len().div_ceil(8).max(1)];
        for (i, c) in bytes.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            w[i] = u64::from_ne_bytes(b);
        }
        w
    }

    fn array_node(
        len: usize,
        null_count: usize,
        bufs: Vec<Option<Vec<u64>>>,
        children: Vec<*mut nr_arrow_array>,
    ) -> nr_arrow_array {
        let ptrs: Vec<*const c_void> = bufs
            .iter()
            .map(|b| b.as_ref().map_or(ptr::null(), |b| b.as_ptr().cast()))
            .collect();
        let mut p = Box::new(ArrayPriv {
            _bufs: bufs.into_iter().flatten().collect(),
            ptrs,
            children,
        });
        let a = nr_arrow_array {
            length: len as i64,
            null_count: null_count as i64,
            offset: 0,
            n_buffers: p.ptrs.len() as i64,
            n_children: p.children.len() as i64,
            buffers: p.ptrs.as_mut_ptr(),
            children: if p.children.is_empty() {
                ptr::null_mut()
            } else {
                p.children.as_mut_ptr()
            },
            dictionary: ptr::null_mut(),
            release: Some(release_array),
            private_data: ptr::null_mut(),
        };
        nr_arrow_array {
            private_data: Box::into_raw(p).cast(),
            ..a
        }
    }

    /// A struct array of `rows` in the layout of `cols`; `value(i, row)`
    /// gives column i's bytes (None: null).
    pub(super) fn array<R>(
        cols: &[Col],
        rows: &[R],
        value: impl Fn(usize, &R, &mut Vec<u8>) -> bool,
    ) -> nr_arrow_array {
        let children = cols
            .iter()
            .enumerate()
            .map(|(i, &(_, format, nullable))| {
                let w = width(format);
                let mut data = Vec::with_capacity(rows.len() * w);
                let mut valid = vec![0u8; rows.len().div_ceil(8)];
                let mut nulls = 0;
                for (row, r) in rows.iter().enumerate() {
                    // Appended in place: no allocation per value.
                    if value(i, r, &mut data) {
                        valid[row / 8] |= 1 << (row % 8);
                    } else {
                        data.extend(std::iter::repeat_n(0, w));
                        nulls += 1;
                    }
                }
                let validity = (nullable && nulls > 0).then(|| words(&valid));
                Box::into_raw(Box::new(array_node(
                    rows.len(),
                    nulls,
                    vec![validity, Some(words(&data))],
                    vec![],
                )))
            })
            .collect();
        array_node(rows.len(), 0, vec![None], children)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::NR_E_INVALID_ARG;

    #[test]
    fn export_moves_records_and_releases_cleanly() {
        let mut m: *mut nr_flow_meter = ptr::null_mut();
        // SAFETY: valid out-pointer.
        assert_eq!(unsafe { nr_flow_meter_open(0, 0, 0, 0, &mut m) }, NR_OK);
        let f = crate::parse::example_udp_frame();
        let pkt = nr_packet {
            data: f.as_ptr(),
            caplen: f.len() as u32,
            len: f.len() as u32,
            ts_ns: 7,
            ..nr_packet::EMPTY
        };
        // SAFETY: live handle and packet.
        unsafe {
            assert_eq!(nr_flow_meter_observe(m, &pkt), NR_OK);
            assert_eq!(nr_flow_meter_observe(m, ptr::null()), NR_E_INVALID_ARG);
            assert_eq!(nr_flow_meter_flush(m), NR_OK);
        }
        let mut st = nr_flow_stats::default();
        // SAFETY: live handle, writable out.
        assert_eq!(
            unsafe { nr_flow_meter_get_stats(m, &mut st, ptr::null_mut()) },
            NR_OK
        );
        assert_eq!((st.packets, st.flows, st.records), (1, 1, 1));
        let mut s = std::mem::MaybeUninit::<nr_arrow_schema>::uninit();
        let mut a = std::mem::MaybeUninit::<nr_arrow_array>::uninit();
        // SAFETY: live handle, writable structs.
        assert_eq!(
            unsafe { nr_flow_meter_export(m, s.as_mut_ptr(), a.as_mut_ptr()) },
            NR_OK
        );
        // SAFETY: written by the export.
        let (mut s, mut a) = unsafe { (s.assume_init(), a.assume_init()) };
        assert_eq!((a.length, a.n_children, s.n_children), (1, 23, 23));
        // SAFETY: the children the export built; column 13 is src_port.
        unsafe {
            let port = &**a.children.add(13);
            let data = *port.buffers.add(1) as *const u16;
            assert_eq!(*data, 1234);
            // src_ip6 of an IPv4 flow: null.
            let ip6 = &**a.children.add(10);
            assert_eq!(ip6.null_count, 1);
            assert!(!(*ip6.buffers).is_null());
            (a.release.unwrap())(&mut a);
            (s.release.unwrap())(&mut s);
        }
        assert!(a.release.is_none() && s.release.is_none());
        // SAFETY: live handle; then closed once.
        unsafe {
            assert_eq!(
                nr_flow_meter_export(m, &mut s, ptr::null_mut()),
                NR_E_INVALID_ARG
            );
            nr_flow_meter_close(m);
        }
    }
}
