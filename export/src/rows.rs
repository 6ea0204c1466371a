//! Row builders: packets and flow records into Arrow record batches of the
//! [`schema`](crate::schema) layouts.

use arrow_array::builder::{
    FixedSizeBinaryBuilder, Int32Builder, TimestampNanosecondBuilder, UInt8Builder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::ArrowError;
use netring_engine::Packet;
use netring_engine::flow::{FlowKey, FlowRecord};
use netring_engine::parse::{L3, Layers};

use crate::schema::{flow_schema, packet_schema};

/// A MAC address as the low 48 bits of a u64, first byte highest.
fn mac(b: &[u8]) -> u64 {
    b.iter().take(6).fold(0, |a, &x| a << 8 | x as u64)
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

/// The builders of the shared columns.
struct KeyCols {
    mac: [UInt64Builder; 2],
    vlan: [UInt16Builder; 2],
    ethertype: UInt16Builder,
    ip_version: UInt8Builder,
    ip4: [UInt32Builder; 2],
    ip6: [FixedSizeBinaryBuilder; 2],
    proto: UInt8Builder,
    port: [UInt16Builder; 2],
}

fn pair<T>(f: impl Fn() -> T) -> [T; 2] {
    [f(), f()]
}

fn col<T: arrow_array::builder::ArrayBuilder + ?Sized>(b: &mut T) -> ArrayRef {
    b.finish()
}

impl KeyCols {
    fn new(n: usize) -> KeyCols {
        KeyCols {
            mac: pair(|| UInt64Builder::with_capacity(n)),
            vlan: pair(|| UInt16Builder::with_capacity(n)),
            ethertype: UInt16Builder::with_capacity(n),
            ip_version: UInt8Builder::with_capacity(n),
            ip4: pair(|| UInt32Builder::with_capacity(n)),
            ip6: pair(|| FixedSizeBinaryBuilder::with_capacity(n, 16)),
            proto: UInt8Builder::with_capacity(n),
            port: pair(|| UInt16Builder::with_capacity(n)),
        }
    }

    fn push(&mut self, k: &Key<'_>) {
        self.mac[0].append_value(k.src_mac);
        self.mac[1].append_value(k.dst_mac);
        self.vlan[0].append_value(k.vlan);
        self.vlan[1].append_value(k.vlan_inner);
        self.ethertype.append_value(k.ethertype);
        self.ip_version.append_value(k.ip_version);
        for (i, a) in [k.src, k.dst].into_iter().enumerate() {
            if k.ip_version == 4 {
                self.ip4[i].append_value(u32::from_be_bytes([a[0], a[1], a[2], a[3]]));
            } else {
                self.ip4[i].append_null();
            }
            if k.ip_version == 6 {
                // Infallible: the value is exactly 16 bytes.
                let _ = self.ip6[i].append_value(a);
            } else {
                self.ip6[i].append_null();
            }
        }
        self.proto.append_value(k.proto);
        self.port[0].append_value(k.src_port);
        self.port[1].append_value(k.dst_port);
    }

    /// Append the shared columns, in schema order.
    fn finish(&mut self, cols: &mut Vec<ArrayRef>) {
        let [m0, m1] = &mut self.mac;
        let [v0, v1] = &mut self.vlan;
        let [a0, a1] = &mut self.ip4;
        let [b0, b1] = &mut self.ip6;
        let [p0, p1] = &mut self.port;
        cols.extend([
            col(m0),
            col(m1),
            col(v0),
            col(v1),
            col(&mut self.ethertype),
            col(&mut self.ip_version),
            col(a0),
            col(a1),
            col(b0),
            col(b1),
            col(&mut self.proto),
            col(p0),
            col(p1),
        ]);
    }
}

/// Accumulates packet rows ([`packet_schema`]).
pub struct PacketRows {
    ts: TimestampNanosecondBuilder,
    ifindex: Int32Builder,
    caplen: UInt32Builder,
    len: UInt32Builder,
    key: KeyCols,
    tcp_flags: UInt8Builder,
    flow_hash: UInt64Builder,
    rows: usize,
}

impl PacketRows {
    /// Room for `n` rows before the builders grow.
    pub fn with_capacity(n: usize) -> PacketRows {
        PacketRows {
            ts: TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC"),
            ifindex: Int32Builder::with_capacity(n),
            caplen: UInt32Builder::with_capacity(n),
            len: UInt32Builder::with_capacity(n),
            key: KeyCols::new(n),
            tcp_flags: UInt8Builder::with_capacity(n),
            flow_hash: UInt64Builder::with_capacity(n),
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
    pub fn push(&mut self, p: &Packet<'_>, l: &Layers<'_>) {
        let d = p.data;
        self.ts.append_value(p.ts_ns as i64);
        self.ifindex.append_value(p.ifindex);
        self.caplen.append_value(d.len() as u32);
        self.len.append_value(p.wire_len.max(d.len() as u32));
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
        self.tcp_flags.append_value(l.tcp_flags);
        self.flow_hash.append_value(key.hash());
        self.rows += 1;
    }

    /// The accumulated rows as one batch; the builders start over.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols = vec![
            col(&mut self.ts),
            col(&mut self.ifindex),
            col(&mut self.caplen),
            col(&mut self.len),
        ];
        self.key.finish(&mut cols);
        cols.extend([col(&mut self.tcp_flags), col(&mut self.flow_hash)]);
        self.rows = 0;
        RecordBatch::try_new(packet_schema(), cols)
    }
}

/// Accumulates flow rows ([`flow_schema`]).
pub struct FlowRows {
    first: TimestampNanosecondBuilder,
    last: TimestampNanosecondBuilder,
    key: KeyCols,
    /// packets_fwd, bytes_fwd, packets_rev, bytes_rev.
    counters: [UInt64Builder; 4],
    flags: [UInt8Builder; 2],
    end: UInt8Builder,
    flow_hash: UInt64Builder,
    rows: usize,
}

impl FlowRows {
    /// Room for `n` rows before the builders grow.
    pub fn with_capacity(n: usize) -> FlowRows {
        let u64s = || UInt64Builder::with_capacity(n);
        FlowRows {
            first: TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC"),
            last: TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC"),
            key: KeyCols::new(n),
            counters: [u64s(), u64s(), u64s(), u64s()],
            flags: pair(|| UInt8Builder::with_capacity(n)),
            end: UInt8Builder::with_capacity(n),
            flow_hash: u64s(),
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
        self.first.append_value(r.first_ns as i64);
        self.last.append_value(r.last_ns as i64);
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
        for (b, v) in
            self.counters
                .iter_mut()
                .zip([r.packets_fwd, r.bytes_fwd, r.packets_rev, r.bytes_rev])
        {
            b.append_value(v);
        }
        self.flags[0].append_value(r.tcp_flags_fwd);
        self.flags[1].append_value(r.tcp_flags_rev);
        self.end.append_value(r.end as u8);
        self.flow_hash.append_value(r.flow_hash);
        self.rows += 1;
    }

    /// The accumulated rows as one batch; the builders start over.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols = vec![col(&mut self.first), col(&mut self.last)];
        self.key.finish(&mut cols);
        cols.extend(self.counters.iter_mut().map(|b| col(b)));
        cols.extend(self.flags.iter_mut().map(|b| col(b)));
        cols.extend([col(&mut self.end), col(&mut self.flow_hash)]);
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
