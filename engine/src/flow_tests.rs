//! The flow meter on synthetic frames.

use super::*;
use crate::packet::PacketFlags;

const S: u64 = 1_000_000_000;
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

/// Ethernet (optional 802.1Q tags) + IPv4 or IPv6 + TCP/UDP, `pad` payload
/// bytes.
struct F {
    src: Vec<u8>,
    dst: Vec<u8>,
    sport: u16,
    dport: u16,
    proto: u8,
    tcp_flags: u8,
    vlans: Vec<u16>,
    frag_off: u16,
    more_frags: bool,
    pad: usize,
}

impl F {
    fn v4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, proto: u8) -> F {
        F {
            src: src.to_vec(),
            dst: dst.to_vec(),
            sport,
            dport,
            proto,
            tcp_flags: 0x10,
            vlans: vec![],
            frag_off: 0,
            more_frags: false,
            pad: 10,
        }
    }
    fn v6(src: u8, dst: u8, sport: u16, dport: u16, proto: u8) -> F {
        let a = |x| {
            let mut v = vec![0u8; 16];
            v[0] = 0x20;
            v[1] = 0x01;
            v[15] = x;
            v
        };
        F {
            src: a(src),
            dst: a(dst),
            ..F::v4([0; 4], [0; 4], sport, dport, proto)
        }
    }
    fn reverse(&self) -> F {
        F {
            src: self.dst.clone(),
            dst: self.src.clone(),
            sport: self.dport,
            dport: self.sport,
            vlans: self.vlans.clone(),
            ..*self
        }
    }
    fn flags(mut self, f: u8) -> F {
        self.tcp_flags = f;
        self
    }
    fn vlan(mut self, v: &[u16]) -> F {
        self.vlans = v.to_vec();
        self
    }
    fn build(&self, mac_src: [u8; 6], mac_dst: [u8; 6]) -> Vec<u8> {
        let mut f = mac_dst.to_vec();
        f.extend_from_slice(&mac_src);
        for v in &self.vlans {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&v.to_be_bytes());
        }
        let l4len = match self.proto {
            6 => 20,
            _ => 8,
        };
        let l4: Vec<u8> = if self.frag_off != 0 {
            vec![0xee; self.pad]
        } else {
            let mut t = self.sport.to_be_bytes().to_vec();
            t.extend_from_slice(&self.dport.to_be_bytes());
            if self.proto == 6 {
                t.extend_from_slice(&[
                    0,
                    0,
                    0,
                    1,
                    0,
                    0,
                    0,
                    0,
                    0x50,
                    self.tcp_flags,
                    0xff,
                    0xff,
                    0,
                    0,
                    0,
                    0,
                ]);
            } else {
                t.extend_from_slice(&((8 + self.pad) as u16).to_be_bytes());
                t.extend_from_slice(&[0, 0]);
            }
            assert_eq!(t.len(), l4len);
            t.extend(std::iter::repeat_n(0xab, self.pad));
            t
        };
        if self.src.len() == 4 {
            f.extend_from_slice(&[0x08, 0x00]);
            let total = (20 + l4.len()) as u16;
            let ff = (self.frag_off >> 3) | if self.more_frags { 0x2000 } else { 0 };
            f.extend_from_slice(&[0x45, 0]);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&[0, 7]);
            f.extend_from_slice(&ff.to_be_bytes());
            f.extend_from_slice(&[64, self.proto, 0, 0]);
            f.extend_from_slice(&self.src);
            f.extend_from_slice(&self.dst);
        } else {
            f.extend_from_slice(&[0x86, 0xdd]);
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            f.extend_from_slice(&[self.proto, 64]);
            f.extend_from_slice(&self.src);
            f.extend_from_slice(&self.dst);
        }
        f.extend_from_slice(&l4);
        f
    }
}

fn pkt(data: &[u8], ts_ns: u64) -> Packet<'_> {
    Packet {
        data,
        ts_ns,
        wire_len: data.len() as u32,
        ifindex: 1,
        ..Packet::default()
    }
}

/// Flush `m` and return `f` of every record it ended, sorted.
fn flushed_sorted<T: Ord>(m: &mut FlowMeter, f: impl FnMut(FlowRecord) -> T) -> Vec<T> {
    m.flush();
    let mut v: Vec<T> = m.drain_ended().map(f).collect();
    v.sort();
    v
}

fn meter(idle_s: u64, active_s: u64, max: u32) -> FlowMeter {
    FlowMeter::new(&FlowConfig {
        idle_timeout_ns: idle_s * S,
        active_timeout_ns: active_s * S,
        max_flows: max,
        records_hint: 16,
        ..FlowConfig::default()
    })
    .unwrap()
}

fn feed(m: &mut FlowMeter, frames: &[(Vec<u8>, u64)]) {
    for (f, t) in frames {
        m.observe(&pkt(f, *t));
    }
}

#[test]
fn both_directions_are_one_flow_oriented_by_the_initiator() {
    let mut m = meter(15, 1800, 16);
    let a = F::v4([10, 0, 0, 9], [10, 0, 0, 1], 40000, 80, 6);
    let q = a.build(MAC_A, MAC_B);
    let r = a.reverse().build(MAC_B, MAC_A);
    feed(
        &mut m,
        &[(q.clone(), S), (r.clone(), 2 * S), (r.clone(), 3 * S)],
    );
    assert_eq!(m.active_flows(), 1);
    m.flush();
    let recs: Vec<_> = m.drain_ended().collect();
    assert_eq!(recs.len(), 1);
    let r0 = recs[0];
    // The initiator (10.0.0.9 is the larger address: canonical order differs).
    assert_eq!(r0.src_ip(), Some("10.0.0.9".parse().unwrap()));
    assert_eq!(r0.dst_ip(), Some("10.0.0.1".parse().unwrap()));
    assert_eq!(
        (r0.src_port, r0.dst_port, r0.proto, r0.ip_version),
        (40000, 80, 6, 4)
    );
    assert_eq!((r0.packets_fwd, r0.packets_rev), (1, 2));
    assert_eq!(
        (r0.bytes_fwd, r0.bytes_rev),
        (q.len() as u64, 2 * r.len() as u64)
    );
    assert_eq!((r0.first_ns, r0.last_ns), (S, 3 * S));
    assert_eq!((r0.src_mac, r0.dst_mac), (MAC_A, MAC_B));
    assert_eq!(r0.end, EndReason::Flush);
    assert_eq!(r0.tcp_flags_fwd, 0x10);
    let st = m.stats();
    assert_eq!(
        (
            st.packets,
            st.flows,
            st.records,
            st.flushed,
            st.active_flows
        ),
        (3, 1, 1, 1, 0)
    );
}

#[test]
fn key_is_canonical_and_hash_symmetric() {
    let a = F::v6(5, 3, 1000, 53, 17);
    let fq = a.build(MAC_A, MAC_B);
    let fr = a.reverse().build(MAC_B, MAC_A);
    let (kq, lq) = FlowKey::from_layers(&Layers::parse(&fq));
    let (kr, lr) = FlowKey::from_layers(&Layers::parse(&fr));
    assert_eq!(kq, kr);
    assert_ne!(lq, lr);
    assert_eq!(kq.hash(), kr.hash());
    assert_eq!(kq.ip_version, 6);
    // Same addresses, different port: another flow.
    let b = F::v6(5, 3, 1001, 53, 17).build(MAC_A, MAC_B);
    assert_ne!(FlowKey::from_layers(&Layers::parse(&b)).0, kq);
}

#[test]
fn vlans_separate_flows_and_the_metadata_tag_counts() {
    let mut m = meter(15, 1800, 16);
    let a = F::v4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 17);
    let untagged = a.build(MAC_A, MAC_B);
    let v10 = F::v4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 17)
        .vlan(&[10])
        .build(MAC_A, MAC_B);
    let qinq = F::v4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 17)
        .vlan(&[10, 20])
        .build(MAC_A, MAC_B);
    feed(&mut m, &[(untagged.clone(), S), (v10, S), (qinq, S)]);
    // A tag the kernel stripped (metadata) equals the in-frame tag 10.
    let mut p = pkt(&untagged, 2 * S);
    p.flags = PacketFlags::VLAN_VALID;
    p.vlan_tci = 10;
    m.observe(&p);
    assert_eq!(m.active_flows(), 3);
    let v = flushed_sorted(&mut m, |r| (r.vlan, r.vlan_inner, r.packets_fwd));
    assert_eq!(v, [(0, 0, 1), (10, 0, 2), (10, 20, 1)]);
}

#[test]
fn non_ip_frames_are_keyed_by_ethertype_and_macs() {
    let mut m = meter(15, 1800, 16);
    let mut arp = MAC_B.to_vec();
    arp.extend_from_slice(&MAC_A);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0; 20]);
    let mut reply = MAC_A.to_vec();
    reply.extend_from_slice(&MAC_B);
    reply.extend_from_slice(&arp[12..]);
    let mut lldp = [0x01, 0x80, 0xc2, 0, 0, 0x0e].to_vec();
    lldp.extend_from_slice(&MAC_A);
    lldp.extend_from_slice(&[0x88, 0xcc, 0, 0]);
    feed(&mut m, &[(arp, S), (reply, S), (lldp, S)]);
    m.flush();
    let recs: Vec<_> = m.drain_ended().collect();
    assert_eq!(recs.len(), 2);
    let a = recs.iter().find(|r| r.ethertype == 0x0806).unwrap();
    assert_eq!((a.packets_fwd, a.packets_rev, a.ip_version), (1, 1, 0));
    assert_eq!(&a.src_addr[..6], &MAC_A);
    assert_eq!(a.src_ip(), None);
    assert!(recs.iter().any(|r| r.ethertype == 0x88cc));
    assert_eq!(m.stats().non_ip, 3);
}

#[test]
fn idle_timeout_by_packet_time_and_by_expire() {
    let mut m = meter(10, 1800, 16);
    let a = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 5, 6, 17).build(MAC_A, MAC_B);
    let b = F::v4([1, 0, 0, 3], [1, 0, 0, 4], 5, 6, 17).build(MAC_A, MAC_B);
    feed(&mut m, &[(a.clone(), S), (b.clone(), 5 * S)]);
    // At 11 s, flow a (last seen at 1 s) has been idle for 10 s.
    feed(&mut m, &[(b.clone(), 11 * S)]);
    let recs: Vec<_> = m.drain_ended().collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].end, EndReason::IdleTimeout);
    assert_eq!(recs[0].src_ip(), Some("1.0.0.1".parse().unwrap()));
    // No packet: expire() moves the clock.
    m.expire(20 * S);
    assert!(m.ended().is_empty());
    m.expire(21 * S);
    assert_eq!(m.drain_ended().next().unwrap().packets_fwd, 2);
    assert_eq!(m.stats().idle_timeouts, 2);
    assert_eq!(m.active_flows(), 0);
    // A packet after the idle end opens a new flow.
    feed(&mut m, &[(a, 30 * S)]);
    assert_eq!(m.stats().flows, 3);
}

#[test]
fn active_timeout_cuts_a_long_flow_into_records() {
    let mut m = meter(10, 60, 16);
    let a = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 5, 6, 17);
    let (q, r) = (a.build(MAC_A, MAC_B), a.reverse().build(MAC_B, MAC_A));
    let mut frames = vec![];
    for s in 0..150 {
        frames.push((if s % 2 == 0 { q.clone() } else { r.clone() }, s * S));
    }
    feed(&mut m, &frames);
    m.flush();
    let recs: Vec<_> = m.drain_ended().collect();
    let ends: Vec<_> = recs
        .iter()
        .map(|r| (r.end, r.first_ns / S, r.last_ns / S))
        .collect();
    assert_eq!(
        ends,
        [
            (EndReason::ActiveTimeout, 0, 59),
            (EndReason::ActiveTimeout, 60, 119),
            (EndReason::Flush, 120, 149)
        ]
    );
    // The orientation survives the cut: the initiator stays src.
    assert!(
        recs.iter()
            .all(|r| r.src_ip() == Some("1.0.0.1".parse().unwrap()))
    );
    let total: u64 = recs.iter().map(|r| r.packets_fwd + r.packets_rev).sum();
    assert_eq!(total, 150);
    assert_eq!((recs[0].packets_fwd, recs[0].packets_rev), (30, 30));
    assert_eq!(m.stats().flows, 1);
    assert_eq!(m.stats().active_timeouts, 2);
}

#[test]
fn fin_both_ways_and_rst_end_the_flow() {
    let mut m = meter(10, 60, 16);
    let a = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 40000, 443, 6);
    let syn = a.reverse().reverse().flags(0x02).build(MAC_A, MAC_B);
    let synack = a.reverse().flags(0x12).build(MAC_B, MAC_A);
    let fin1 = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 40000, 443, 6)
        .flags(0x11)
        .build(MAC_A, MAC_B);
    let fin2 = a.reverse().flags(0x11).build(MAC_B, MAC_A);
    feed(&mut m, &[(syn.clone(), S), (synack, S), (fin1, 2 * S)]);
    assert!(m.ended().is_empty(), "one FIN does not end the flow");
    feed(&mut m, &[(fin2, 3 * S)]);
    let r: Vec<_> = m.drain_ended().collect();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].end, EndReason::Fin);
    assert_eq!((r[0].tcp_flags_fwd, r[0].tcp_flags_rev), (0x13, 0x13));
    assert_eq!(m.active_flows(), 0);
    // RST from either side ends at once.
    let rst = a.reverse().flags(0x14).build(MAC_B, MAC_A);
    feed(&mut m, &[(syn, 4 * S), (rst, 4 * S)]);
    let r: Vec<_> = m.drain_ended().collect();
    assert_eq!(
        (r.len(), r[0].end, r[0].packets_rev),
        (1, EndReason::Rst, 1)
    );
    assert_eq!(m.stats().tcp_ends, 2);
}

#[test]
fn a_full_table_evicts_the_least_recently_seen_flow() {
    // Idle 16 s: a flow moves up the recency list at most once a second.
    let mut m = meter(16, 1000, 4);
    let f = |i: u8| F::v4([10, 0, 0, i], [10, 0, 1, 1], 7, 7, 17).build(MAC_A, MAC_B);
    // Flows 1..=4; then flow 1 is seen again, so 2 is the oldest.
    for i in 1..=4 {
        m.observe(&pkt(&f(i), i as u64 * S));
    }
    m.observe(&pkt(&f(1), 5 * S));
    m.observe(&pkt(&f(5), 6 * S));
    let r: Vec<_> = m.drain_ended().collect();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].end, r[0].src_addr[3]), (EndReason::TableFull, 2));
    assert_eq!(m.active_flows(), 4);
    // Many more: the table stays at its bound, every eviction counted.
    for i in 6..=200 {
        m.observe(&pkt(&f(i), 10 * S));
    }
    let st = m.stats();
    assert_eq!((st.active_flows, st.evicted, st.flows), (4, 196, 200));
    m.flush();
    let n: u64 = m.drain_ended().map(|r| r.packets_fwd).sum::<u64>();
    // 201 packets, 1 of them in the record drained above: none lost.
    assert_eq!(n, 200);
}

#[test]
fn fragments_count_in_the_flow_with_ports_zero() {
    let mut m = meter(100, 1000, 16);
    let mut first = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 5000, 53, 17);
    first.more_frags = true;
    let mut later = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 5000, 53, 17);
    later.frag_off = 16;
    feed(
        &mut m,
        &[
            (first.build(MAC_A, MAC_B), S),
            (later.build(MAC_A, MAC_B), S),
        ],
    );
    let r = flushed_sorted(&mut m, |r| (r.src_port, r.dst_port, r.packets_fwd));
    assert_eq!(r, [(0, 0, 1), (5000, 53, 1)]);
    assert_eq!(m.stats().fragments, 2);
}

#[test]
fn many_flows_insert_find_and_remove_consistently() {
    // Random churn through the index (backward-shift deletion): every
    // packet lands in the right flow.
    let mut m = meter(1, 1000, 700);
    let mut x: u32 = 12345;
    let mut want = std::collections::HashMap::new();
    for t in 0..20_000u64 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let i = x % 1500;
        let f =
            F::v4([10, 1, (i >> 8) as u8, i as u8], [10, 2, 0, 1], 9, 9, 17).build(MAC_A, MAC_B);
        m.observe(&pkt(&f, t * S / 1000));
        *want.entry(i).or_insert(0u64) += 1;
    }
    m.flush();
    let mut got = std::collections::HashMap::new();
    for r in m.drain_ended() {
        let i = (r.src_addr[2] as u32) << 8 | r.src_addr[3] as u32;
        *got.entry(i).or_insert(0u64) += r.packets_fwd;
    }
    assert_eq!(got, want);
    let st = m.stats();
    assert_eq!(st.records, st.flows + st.active_timeouts);
    assert!(st.evicted > 0 && st.idle_timeouts > 0, "{st:?}");
}

#[test]
fn config_is_validated_and_memory_stated() {
    for bad in [
        FlowConfig {
            max_flows: 0,
            ..FlowConfig::default()
        },
        FlowConfig {
            idle_timeout_ns: 0,
            ..FlowConfig::default()
        },
        FlowConfig {
            active_timeout_ns: 0,
            ..FlowConfig::default()
        },
    ] {
        assert_eq!(
            FlowMeter::new(&bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    assert_eq!(std::mem::size_of::<Entry>(), 128);
    assert_eq!(FlowMeter::BYTES_PER_FLOW, 148);
    let m = meter(1, 1, 1000);
    assert_eq!(m.memory_bytes(), 2048 * 8 + 1000 * 128 + 1000 * 4);
}

#[test]
fn example_pcap_is_one_flow() {
    let mut r =
        crate::pcapfile::Reader::from_read(std::io::Cursor::new(example_pcap()), "x").unwrap();
    let mut m = FlowMeter::new(&FlowConfig::default()).unwrap();
    while let Some(p) = r.next_packet().unwrap() {
        m.observe(&p);
    }
    m.flush();
    let v: Vec<_> = m.drain_ended().collect();
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].packets_fwd, v[0].packets_rev, v[0].src_port),
        (1, 1, 1234)
    );
}

#[test]
fn ip_bytes_count_the_ip_packet_not_the_frame() {
    let mut m = FlowMeter::new(&FlowConfig {
        ip_bytes: true,
        ..FlowConfig::default()
    })
    .unwrap();
    let a = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 5, 6, 17).build(MAC_A, MAC_B);
    let b = F::v6(1, 2, 5, 6, 17).vlan(&[7]).build(MAC_A, MAC_B);
    // A short IPv4 frame padded to 60 bytes on the wire.
    let mut short = F::v4([1, 0, 0, 1], [1, 0, 0, 2], 5, 6, 17);
    short.pad = 0;
    let mut s = short.build(MAC_A, MAC_B);
    s.resize(60, 0);
    feed(&mut m, &[(a.clone(), S), (b.clone(), S), (s, S)]);
    let v = flushed_sorted(&mut m, |r| (r.ip_version, r.bytes_fwd));
    assert_eq!(
        v,
        [(4, (a.len() - 14 + 28) as u64), (6, (b.len() - 18) as u64)]
    );
}
