//! Row builders: packets and flow records into Arrow record batches of the
//! [`schema`](crate::schema) layouts.

use std::sync::Arc;

use arrow_array::types::{
    ArrowPrimitiveType, Int32Type, TimestampNanosecondType, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{ArrayRef, FixedSizeBinaryArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::ArrowError;
use netring_engine::Packet;
use netring_engine::flow::{FlowKey, FlowRecord};
use netring_engine::parse::{L3, Layers};

use crate::schema::{flow_schema, packet_schema};

// The columns are plain `Vec`s handed to Arrow without a copy at the end
// of a batch (`ScalarBuffer::from(Vec)`): appending is one store per
// column, where arrow's builders paid an out-of-line call and a validity
// update per value, and came back from `finish` with no capacity (every
// batch regrew them by doubling, copying as they went). The bytes of a
// batch are the builders' bytes: a null slot holds zeros, and a column
// without a null has no validity buffer.

/// A MAC address (6 bytes, or none: 0) as the low 48 bits of a u64, first
/// byte highest.
fn mac(b: &[u8]) -> u64 {
    match b.get(..6) {
        Some(m) => u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]),
        None => b.iter().fold(0, |a, &x| a << 8 | x as u64),
    }
}

/// A column of fixed-width values.
struct Col<T: ArrowPrimitiveType>(Vec<T::Native>);

impl<T: ArrowPrimitiveType> Col<T> {
    fn new(n: usize) -> Self {
        Col(Vec::with_capacity(n))
    }

    #[inline(always)]
    fn push(&mut self, v: T::Native) {
        self.0.push(v);
    }

    /// The values so far as an array; the column starts over with room
    /// for `n`.
    fn take(&mut self, n: usize, nulls: Option<NullBuffer>) -> PrimitiveArray<T> {
        let v = std::mem::replace(&mut self.0, Vec::with_capacity(n));
        PrimitiveArray::new(ScalarBuffer::from(v), nulls)
    }

    fn finish(&mut self, n: usize, nulls: Option<NullBuffer>) -> ArrayRef {
        Arc::new(self.take(n, nulls))
    }
}

/// A time stamp column (ns, UTC).
fn finish_ts(c: &mut Col<TimestampNanosecondType>, n: usize) -> ArrayRef {
    Arc::new(c.take(n, None).with_timezone("UTC"))
}

/// The validity of a nullable address column: valid where `ip_version` is
/// `v`; `None` when every row is (as arrow's builders: no bitmap without a
/// null). Computed once a batch from the ip_version column, not a bit a
/// row.
fn valid_where(ip_version: &[u8], v: u8) -> Option<NullBuffer> {
    if ip_version.iter().all(|&x| x == v) {
        return None;
    }
    let bits = BooleanBuffer::collect_bool(ip_version.len(), |i| ip_version[i] == v);
    Some(NullBuffer::new(bits))
}

/// The values of the columns both schemas share (`schema::key_fields`).
struct Key<'a> {
    src_mac: u64,
    dst_mac: u64,
    vlan: u16,
    vlan_inner: u16,
    ethertype: u16,
    ip_version: u8,
    src: &'a [u8; 16],
    dst: &'a [u8; 16],
    proto: u8,
    src_port: u16,
    dst_port: u16,
}

/// The shared columns.
struct KeyCols {
    n: usize,
    mac: [Col<UInt64Type>; 2],
    vlan: [Col<UInt16Type>; 2],
    ethertype: Col<UInt16Type>,
    ip_version: Col<UInt8Type>,
    ip4: [Col<UInt32Type>; 2],
    /// 16 bytes a value: an `i128` is one store, and its bytes (native
    /// order, taken with `from_ne_bytes`) are the address's.
    ip6: [Vec<i128>; 2],
    proto: Col<UInt8Type>,
    port: [Col<UInt16Type>; 2],
}

fn pair<T>(f: impl Fn() -> T) -> [T; 2] {
    [f(), f()]
}

impl KeyCols {
    fn new(n: usize) -> KeyCols {
        KeyCols {
            n,
            mac: pair(|| Col::new(n)),
            vlan: pair(|| Col::new(n)),
            ethertype: Col::new(n),
            ip_version: Col::new(n),
            ip4: pair(|| Col::new(n)),
            ip6: pair(|| Vec::with_capacity(n)),
            proto: Col::new(n),
            port: pair(|| Col::new(n)),
        }
    }

    #[inline(always)]
    fn push(&mut self, k: &Key<'_>) {
        self.mac[0].push(k.src_mac);
        self.mac[1].push(k.dst_mac);
        self.vlan[0].push(k.vlan);
        self.vlan[1].push(k.vlan_inner);
        self.ethertype.push(k.ethertype);
        self.ip_version.push(k.ip_version);
        let (v4, v6) = (k.ip_version == 4, k.ip_version == 6);
        for (i, a) in [k.src, k.dst].into_iter().enumerate() {
            self.ip4[i].push(if v4 {
                u32::from_be_bytes([a[0], a[1], a[2], a[3]])
            } else {
                0
            });
            self.ip6[i].push(if v6 { i128::from_ne_bytes(*a) } else { 0 });
        }
        self.proto.push(k.proto);
        self.port[0].push(k.src_port);
        self.port[1].push(k.dst_port);
    }

    /// Append the shared columns, in schema order.
    fn finish(&mut self, cols: &mut Vec<ArrayRef>) -> Result<(), ArrowError> {
        let n = self.n;
        let v4 = valid_where(&self.ip_version.0, 4);
        let v6 = valid_where(&self.ip_version.0, 6);
        let mut ip6 = |i: usize| -> Result<ArrayRef, ArrowError> {
            let v = std::mem::replace(&mut self.ip6[i], Vec::with_capacity(n));
            Ok(Arc::new(FixedSizeBinaryArray::try_new(
                16,
                Buffer::from_vec(v),
                v6.clone(),
            )?))
        };
        let (s6, d6) = (ip6(0)?, ip6(1)?);
        let [m0, m1] = &mut self.mac;
        let [v0, v1] = &mut self.vlan;
        let [a0, a1] = &mut self.ip4;
        let [p0, p1] = &mut self.port;
        cols.extend([
            m0.finish(n, None),
            m1.finish(n, None),
            v0.finish(n, None),
            v1.finish(n, None),
            self.ethertype.finish(n, None),
            self.ip_version.finish(n, None),
            a0.finish(n, v4.clone()),
            a1.finish(n, v4),
            s6,
            d6,
            self.proto.finish(n, None),
            p0.finish(n, None),
            p1.finish(n, None),
        ]);
        Ok(())
    }
}

/// Accumulates packet rows ([`packet_schema`]).
pub struct PacketRows {
    n: usize,
    ts: Col<TimestampNanosecondType>,
    ifindex: Col<Int32Type>,
    caplen: Col<UInt32Type>,
    len: Col<UInt32Type>,
    key: KeyCols,
    tcp_flags: Col<UInt8Type>,
    flow_hash: Col<UInt64Type>,
    rows: usize,
}

impl PacketRows {
    /// Room for `n` rows before the columns grow (and again after each
    /// [`PacketRows::finish`]).
    pub fn with_capacity(n: usize) -> PacketRows {
        PacketRows {
            n,
            ts: Col::new(n),
            ifindex: Col::new(n),
            caplen: Col::new(n),
            len: Col::new(n),
            key: KeyCols::new(n),
            tcp_flags: Col::new(n),
            flow_hash: Col::new(n),
            rows: 0,
        }
    }

    /// Rows accumulated since the last [`PacketRows::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row is accumulated.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Add one packet whose headers are `l` (`Layers::parse_packet(p)`).
    #[inline]
    pub fn push(&mut self, p: &Packet<'_>, l: &Layers<'_>) {
        let d = p.data;
        self.ts.push(p.ts_ns as i64);
        self.ifindex.push(p.ifindex);
        self.caplen.push(d.len() as u32);
        self.len.push(p.wire_len.max(d.len() as u32));
        let (key, _) = FlowKey::from_layers(l);
        let ip_version = match l.l3 {
            L3::Ipv4 => 4,
            L3::Ipv6 => 6,
            _ => 0,
        };
        self.key.push(&Key {
            src_mac: mac(d.get(6..12).unwrap_or(&[])),
            dst_mac: mac(d.get(0..6).unwrap_or(&[])),
            vlan: key.vlan,
            vlan_inner: key.vlan_inner,
            ethertype: l.ethertype,
            ip_version,
            src: l.src_addr_bytes(),
            dst: l.dst_addr_bytes(),
            proto: key.proto,
            src_port: l.src_port,
            dst_port: l.dst_port,
        });
        self.tcp_flags.push(l.tcp_flags);
        self.flow_hash.push(key.hash());
        self.rows += 1;
    }

    /// The accumulated rows as one batch; the columns start over.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let n = self.n;
        let mut cols = Vec::with_capacity(packet_schema().fields().len());
        cols.extend([
            finish_ts(&mut self.ts, n),
            self.ifindex.finish(n, None),
            self.caplen.finish(n, None),
            self.len.finish(n, None),
        ]);
        self.key.finish(&mut cols)?;
        cols.extend([
            self.tcp_flags.finish(n, None),
            self.flow_hash.finish(n, None),
        ]);
        self.rows = 0;
        RecordBatch::try_new(packet_schema(), cols)
    }
}

/// Accumulates flow rows ([`flow_schema`]).
pub struct FlowRows {
    n: usize,
    first: Col<TimestampNanosecondType>,
    last: Col<TimestampNanosecondType>,
    key: KeyCols,
    /// packets_fwd, bytes_fwd, packets_rev, bytes_rev.
    counters: [Col<UInt64Type>; 4],
    flags: [Col<UInt8Type>; 2],
    end: Col<UInt8Type>,
    flow_hash: Col<UInt64Type>,
    rows: usize,
}

impl FlowRows {
    /// Room for `n` rows before the columns grow (and again after each
    /// [`FlowRows::finish`]).
    pub fn with_capacity(n: usize) -> FlowRows {
        FlowRows {
            n,
            first: Col::new(n),
            last: Col::new(n),
            key: KeyCols::new(n),
            counters: [Col::new(n), Col::new(n), Col::new(n), Col::new(n)],
            flags: pair(|| Col::new(n)),
            end: Col::new(n),
            flow_hash: Col::new(n),
            rows: 0,
        }
    }

    /// Rows accumulated since the last [`FlowRows::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row is accumulated.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Add one flow record.
    pub fn push(&mut self, r: &FlowRecord) {
        self.first.push(r.first_ns as i64);
        self.last.push(r.last_ns as i64);
        self.key.push(&Key {
            src_mac: mac(&r.src_mac),
            dst_mac: mac(&r.dst_mac),
            vlan: r.vlan,
            vlan_inner: r.vlan_inner,
            ethertype: r.ethertype,
            ip_version: r.ip_version,
            src: &r.src_addr,
            dst: &r.dst_addr,
            proto: r.proto,
            src_port: r.src_port,
            dst_port: r.dst_port,
        });
        for (c, v) in
            self.counters
                .iter_mut()
                .zip([r.packets_fwd, r.bytes_fwd, r.packets_rev, r.bytes_rev])
        {
            c.push(v);
        }
        self.flags[0].push(r.tcp_flags_fwd);
        self.flags[1].push(r.tcp_flags_rev);
        self.end.push(r.end as u8);
        self.flow_hash.push(r.flow_hash);
        self.rows += 1;
    }

    /// The accumulated rows as one batch; the columns start over.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let n = self.n;
        let mut cols = Vec::with_capacity(flow_schema().fields().len());
        cols.extend([finish_ts(&mut self.first, n), finish_ts(&mut self.last, n)]);
        self.key.finish(&mut cols)?;
        cols.extend(self.counters.iter_mut().map(|c| c.finish(n, None)));
        cols.extend(self.flags.iter_mut().map(|c| c.finish(n, None)));
        cols.extend([self.end.finish(n, None), self.flow_hash.finish(n, None)]);
        self.rows = 0;
        RecordBatch::try_new(flow_schema(), cols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netring_engine::flow::{FlowConfig, FlowMeter};
    use netring_engine::parse::example_udp_frame;
    use netring_engine::{HwAddr, PacketFlags};

    fn pkt(d: &[u8]) -> Packet<'_> {
        Packet {
            data: d,
            ts_ns: 5,
            wire_len: d.len() as u32,
            ifindex: 3,
            rxhash: 0,
            vlan_tci: 0,
            vlan_tpid: 0,
            protocol: 0x800,
            pkt_type: 0,
            flags: PacketFlags::empty(),
            hw: HwAddr::default(),
        }
    }

    /// As arrow's builders: a nullable column without a null has no
    /// validity buffer (the IPC stream's bytes depend on it), one with a
    /// null has one; null slots hold zeros; the columns start over empty.
    #[test]
    fn validity_only_where_a_null_is() {
        let f = example_udp_frame();
        let mut rows = PacketRows::with_capacity(2);
        for _ in 0..3 {
            let p = pkt(&f);
            rows.push(&p, &Layers::parse_packet(&p));
        }
        let b = rows.finish().unwrap();
        let c = |b: &RecordBatch, n: &str| b.column_by_name(n).unwrap().clone();
        assert_eq!(b.num_rows(), 3);
        assert!(c(&b, "src_ip4").nulls().is_none());
        assert_eq!(c(&b, "src_ip6").null_count(), 3);
        let short = [0u8; 5];
        let p = pkt(&short);
        rows.push(&p, &Layers::parse_packet(&p));
        let b = rows.finish().unwrap();
        assert_eq!(b.num_rows(), 1);
        assert_eq!(c(&b, "src_ip4").null_count(), 1);
        assert_eq!(c(&b, "src_ip4").to_data().buffers()[0].as_slice(), [0; 4]);
    }

    #[test]
    fn packet_and_flow_rows_match_their_schemas() {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{UInt16Type, UInt32Type, UInt64Type};
        let f = example_udp_frame();
        let short = [0u8; 5];
        let mut rows = PacketRows::with_capacity(4);
        let mut m = FlowMeter::new(&FlowConfig::default()).unwrap();
        for d in [&f[..], &short[..]] {
            let p = pkt(d);
            let l = Layers::parse_packet(&p);
            rows.push(&p, &l);
            m.observe_parsed(&p, &l);
        }
        let b = rows.finish().unwrap();
        assert_eq!((b.num_rows(), rows.len()), (2, 0));
        let c = |n: &str| b.column_by_name(n).unwrap().clone();
        assert_eq!(
            c("src_ip4").as_primitive::<UInt32Type>().value(0),
            0x0a00_0001
        );
        assert!(c("src_ip4").is_null(1) && c("src_ip6").is_null(0));
        assert_eq!(c("dst_port").as_primitive::<UInt16Type>().value(0), 53);
        assert_eq!(
            c("src_mac").as_primitive::<UInt64Type>().value(0),
            0x0200_0000_0001
        );
        m.flush();
        let mut fr = FlowRows::with_capacity(4);
        for r in m.drain_ended() {
            fr.push(&r);
        }
        let b2 = fr.finish().unwrap();
        assert_eq!(b2.num_rows(), 2);
        // The flow row and its packet row carry the same flow hash.
        let h = |b: &RecordBatch| {
            b.column_by_name("flow_hash")
                .unwrap()
                .as_primitive::<UInt64Type>()
                .value(0)
        };
        assert_eq!(h(&b), h(&b2));
    }
}
