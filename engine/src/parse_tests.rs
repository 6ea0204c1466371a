//! Unit tests of the header parser on synthetic frames: each field against
//! hand-written expectations and against etherparse (the reference), and
//! every prefix and many corruptions of every frame parsed without a panic
//! or a read out of range.

use super::*;
use crate::packet::{Packet, PacketFlags};

/// A tiny frame builder (independent of the parser).
struct F {
    b: Vec<u8>,
}

const SRC4: [u8; 4] = [198, 18, 0, 1];
const DST4: [u8; 4] = [198, 18, 0, 2];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

impl F {
    fn eth(tags: &[(u16, u16)], et: u16) -> F {
        let mut b = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        for &(tpid, tci) in tags {
            b.extend_from_slice(&tpid.to_be_bytes());
            b.extend_from_slice(&tci.to_be_bytes());
        }
        b.extend_from_slice(&et.to_be_bytes());
        F { b }
    }
    /// IPv4 header with `opts` option bytes (multiple of 4), for `l4len`
    /// bytes after it.
    fn ipv4(mut self, proto: u8, l4len: usize, frag: u16, opts: usize) -> F {
        let ihl = 20 + opts;
        let total = (ihl + l4len) as u16;
        self.b.push(0x40 | (ihl / 4) as u8);
        self.b.push(0);
        self.b.extend_from_slice(&total.to_be_bytes());
        self.b.extend_from_slice(&0x1234u16.to_be_bytes());
        self.b.extend_from_slice(&frag.to_be_bytes());
        self.b.extend_from_slice(&[64, proto, 0, 0]);
        self.b.extend_from_slice(&SRC4);
        self.b.extend_from_slice(&DST4);
        self.b.extend(std::iter::repeat_n(1u8, opts)); // NOPs
        self
    }
    /// IPv6 header then `exts` (next header, total len) extension headers.
    fn ipv6(mut self, exts: &[(u8, usize)], proto: u8, l4len: usize) -> F {
        let ext_total: usize = exts.iter().map(|e| e.1).sum();
        let first = exts.first().map_or(proto, |e| e.0);
        self.b.extend_from_slice(&[0x60, 0, 0, 0]);
        self.b
            .extend_from_slice(&((ext_total + l4len) as u16).to_be_bytes());
        self.b.push(first);
        self.b.push(33);
        self.b.extend_from_slice(&SRC6);
        self.b.extend_from_slice(&DST6);
        for (i, &(kind, len)) in exts.iter().enumerate() {
            let next = exts.get(i + 1).map_or(proto, |e| e.0);
            let start = self.b.len();
            self.b.resize(start + len, 0);
            self.b[start] = next;
            match kind {
                44 => {
                    self.b[start + 2..start + 4].copy_from_slice(&(185u16 << 3 | 1).to_be_bytes());
                    self.b[start + 4..start + 8].copy_from_slice(&0xabcdef01u32.to_be_bytes());
                }
                51 => self.b[start + 1] = (len / 4 - 2) as u8,
                _ => self.b[start + 1] = (len / 8 - 1) as u8,
            }
        }
        self
    }
    fn udp(mut self, sp: u16, dp: u16, payload: usize) -> F {
        self.b.extend_from_slice(&sp.to_be_bytes());
        self.b.extend_from_slice(&dp.to_be_bytes());
        self.b
            .extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        self.b.extend_from_slice(&[0, 0]);
        self.payload(payload)
    }
    fn tcp(mut self, sp: u16, dp: u16, opts: usize, payload: usize) -> F {
        self.b.extend_from_slice(&sp.to_be_bytes());
        self.b.extend_from_slice(&dp.to_be_bytes());
        self.b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
        self.b.push((((20 + opts) / 4) as u8) << 4);
        self.b.push(0x18); // PSH ACK
        self.b.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        self.b.extend(std::iter::repeat_n(1u8, opts));
        self.payload(payload)
    }
    fn icmp(mut self, payload: usize) -> F {
        self.b.extend_from_slice(&[8, 0, 0, 0, 0, 1, 0, 1]);
        self.payload(payload)
    }
    fn payload(mut self, n: usize) -> F {
        self.b.extend((0..n).map(|i| i as u8));
        self
    }
    fn pad_to(mut self, n: usize) -> F {
        if self.b.len() < n {
            self.b.resize(n, 0);
        }
        self
    }
}

fn off(base: &[u8], s: &[u8]) -> u32 {
    (s.as_ptr() as usize - base.as_ptr() as usize) as u32
}

/// What etherparse finds, in the parser's terms:
/// (l3, net_off, net_len, ip_proto, src, dst, l4, t_off, t_len, sport, dport, p_off, p_len).
type Ref = (
    (L3, u32, u32, u8),
    ([u8; 16], [u8; 16]),
    (L4, u32, u32, u16, u16),
    (u32, u32),
);

fn reference<'a>(d: &'a [u8]) -> (u16, Vec<(u16, u16)>, Ref) {
    use etherparse::{LinkExtSlice, NetSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(d).expect("etherparse accepts the frame");
    let mut tags = Vec::new();
    let mut et = u16::from_be_bytes([d[12], d[13]]);
    for e in &p.link_exts {
        if let LinkExtSlice::Vlan(v) = e {
            tags.push((et, u16::from_be_bytes([v.slice()[0], v.slice()[1]])));
            et = v.ether_type().0;
        }
    }
    let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
    // An IP header `h` at the start of the network layer, then `pl`.
    let ip = |l3, h: &[u8], pl: etherparse::IpPayloadSlice<'a>| {
        let o = off(d, h);
        (l3, o, off(d, pl.payload) - o, pl.ip_number.0, Some(pl))
    };
    let (l3, noff, nlen, proto, ip_payload) = match &p.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            src[..4].copy_from_slice(&h.source());
            dst[..4].copy_from_slice(&h.destination());
            ip(L3::Ipv4, h.slice(), v4.payload().clone())
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header();
            src = h.source();
            dst = h.destination();
            ip(L3::Ipv6, h.slice(), v6.payload().clone())
        }
        Some(NetSlice::Arp(a)) => {
            src[..4].copy_from_slice(a.sender_protocol_addr());
            dst[..4].copy_from_slice(a.target_protocol_addr());
            let o = off(d, a.slice());
            (L3::Arp, o, a.slice().len() as u32, 0, None)
        }
        None => (L3::None, 0, 0, 0, None),
    };
    let (l4, toff, tlen, sp, dp, poff, plen) = match &p.transport {
        Some(TransportSlice::Udp(u)) => {
            let o = off(d, u.slice());
            (
                L4::Udp,
                o,
                8,
                u.source_port(),
                u.destination_port(),
                o + 8,
                u.payload().len() as u32,
            )
        }
        Some(TransportSlice::Tcp(t)) => {
            let o = off(d, t.slice());
            let hl = t.header_slice().len() as u32;
            let pl = t.payload().len() as u32;
            (
                L4::Tcp,
                o,
                hl,
                t.source_port(),
                t.destination_port(),
                o + hl,
                pl,
            )
        }
        Some(TransportSlice::Icmpv4(i)) => {
            let o = off(d, i.slice());
            (L4::Icmp, o, 8, 0, 0, o + 8, i.payload().len() as u32)
        }
        Some(TransportSlice::Icmpv6(i)) => {
            let o = off(d, i.slice());
            (L4::Icmpv6, o, 8, 0, 0, o + 8, i.payload().len() as u32)
        }
        Some(_) => panic!("unexpected transport"),
        None => match ip_payload {
            Some(pl) if pl.fragmented && pl.ip_number.0 != 0 => (
                L4::None,
                0,
                0,
                0,
                0,
                off(d, pl.payload),
                pl.payload.len() as u32,
            ),
            Some(pl) => (
                L4::Other,
                off(d, pl.payload),
                0,
                0,
                0,
                off(d, pl.payload),
                pl.payload.len() as u32,
            ),
            None if l3 == L3::Arp => (L4::None, 0, 0, 0, 0, noff + nlen, 0),
            None => (L4::None, 0, 0, 0, 0, 0, 0),
        },
    };
    (
        et,
        tags,
        (
            (l3, noff, nlen, proto),
            (src, dst),
            (l4, toff, tlen, sp, dp),
            (poff, plen),
        ),
    )
}

fn ours(l: &Layers<'_>) -> Ref {
    (
        (l.l3, l.net_off, l.net_len, l.ip_proto),
        (*l.src_addr_bytes(), *l.dst_addr_bytes()),
        (
            l.l4,
            l.transport_off,
            l.transport_len,
            l.src_port,
            l.dst_port,
        ),
        (l.payload_off, l.payload_len),
    )
}

/// Every well-formed frame of the test set, with etherparse agreeing.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let q = [(TPID_8021Q, 0x2064)];
    let qq = [(TPID_8021AD, 0x0010), (TPID_8021Q, 0xa064)];
    vec![
        (
            "v4 udp",
            F::eth(&[], 0x0800)
                .ipv4(17, 8 + 18, 0, 0)
                .udp(1234, 53, 18)
                .b,
        ),
        (
            "v4 udp padded",
            F::eth(&[], 0x0800)
                .ipv4(17, 8 + 4, 0, 0)
                .udp(1, 2, 4)
                .pad_to(60)
                .b,
        ),
        (
            "v4 udp 1500",
            F::eth(&[], 0x0800).ipv4(17, 1480, 0, 0).udp(9, 9, 1472).b,
        ),
        (
            "v4 tcp opts",
            F::eth(&[], 0x0800)
                .ipv4(6, 32 + 100, 0x4000, 0)
                .tcp(40000, 80, 12, 100)
                .b,
        ),
        (
            "v4 opts tcp",
            F::eth(&[], 0x0800)
                .ipv4(6, 20, 0, 8)
                .tcp(1, 2, 0, 0)
                .pad_to(60)
                .b,
        ),
        (
            "v4 icmp",
            F::eth(&[], 0x0800).ipv4(1, 8 + 56, 0, 0).icmp(56).b,
        ),
        (
            "v4 gre (other)",
            F::eth(&[], 0x0800).ipv4(47, 40, 0, 0).payload(40).b,
        ),
        (
            "vlan v4 udp",
            F::eth(&q, 0x0800).ipv4(17, 8 + 30, 0, 0).udp(5, 6, 30).b,
        ),
        (
            "qinq v4 udp",
            F::eth(&qq, 0x0800).ipv4(17, 8 + 30, 0, 0).udp(5, 6, 30).b,
        ),
        (
            "qinq v6 tcp",
            F::eth(&qq, 0x86dd).ipv6(&[], 6, 20 + 10).tcp(7, 8, 0, 10).b,
        ),
        (
            "v6 udp",
            F::eth(&[], 0x86dd)
                .ipv6(&[], 17, 8 + 20)
                .udp(546, 547, 20)
                .b,
        ),
        (
            "v6 icmp",
            F::eth(&[], 0x86dd).ipv6(&[], 58, 8 + 8).icmp(8).b,
        ),
        (
            "v6 hop dst rt udp",
            F::eth(&[], 0x86dd)
                .ipv6(&[(0, 8), (60, 16), (43, 24)], 17, 8 + 4)
                .udp(1, 2, 4)
                .b,
        ),
        (
            "v6 ah tcp",
            F::eth(&[], 0x86dd)
                .ipv6(&[(51, 24)], 6, 20)
                .tcp(3, 4, 0, 0)
                .b,
        ),
        ("arp", {
            let mut f = F::eth(&[], 0x0806);
            f.b.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1]);
            f.b.extend_from_slice(&SRC4);
            f.b.extend_from_slice(&[0; 6]);
            f.b.extend_from_slice(&DST4);
            f.pad_to(60).b
        }),
    ]
}

#[test]
fn fields_agree_with_etherparse() {
    for (name, f) in corpus() {
        let l = Layers::parse(&f);
        assert_eq!(l.status, ParseStatus::Complete, "{name}");
        let (et, tags, r) = reference(&f);
        assert_eq!(l.ethertype, et, "{name}");
        let got: Vec<(u16, u16)> = l.vlans[..l.vlan_count as usize]
            .iter()
            .map(|v| (v.tpid, v.tci))
            .collect();
        assert_eq!(got, tags, "{name}");
        assert_eq!(l.link_len, 14 + 4 * tags.len() as u32, "{name}");
        assert_eq!(ours(&l), r, "{name}");
        // The views are the frame's own bytes.
        assert_eq!(
            l.payload().as_ptr() as usize,
            f.as_ptr() as usize + l.payload_off as usize
        );
    }
}

#[test]
fn udp_fields_by_hand() {
    let f = example_udp_frame();
    let l = Layers::parse(&f);
    assert_eq!(l.status, ParseStatus::Complete);
    assert_eq!(
        (l.l3, l.l4, l.ethertype, l.ip_proto, l.ttl),
        (L3::Ipv4, L4::Udp, 0x0800, 17, 64)
    );
    assert_eq!((l.link_len, l.net_off, l.net_len), (14, 14, 20));
    assert_eq!(
        (
            l.transport_off,
            l.transport_len,
            l.payload_off,
            l.payload_len
        ),
        (34, 8, 42, 5)
    );
    assert_eq!((l.src_port, l.dst_port, l.ip_len), (1234, 53, 33));
    assert_eq!(l.src_ip(), Some("10.0.0.1".parse().unwrap()));
    assert_eq!(l.dst_ip(), Some("10.0.0.2".parse().unwrap()));
    assert_eq!(l.payload(), b"hello");
    assert_eq!(l.link(), &f[..14]);
    assert_eq!(l.network(), &f[14..34]);
    assert_eq!(l.transport_header(), &f[34..42]);
    assert_eq!(l.stopped_at(), None);
}

#[test]
fn vlan_tags_and_metadata_tag() {
    let f = F::eth(&[(TPID_8021AD, 0x0010), (TPID_8021Q, 0xa064)], 0x0800)
        .ipv4(17, 8, 0, 0)
        .udp(1, 2, 0)
        .b;
    let l = Layers::parse(&f);
    assert_eq!(l.vlan_count, 2);
    assert_eq!(
        l.vlans[0],
        Vlan {
            tpid: 0x88a8,
            tci: 0x0010
        }
    );
    assert_eq!(l.vlans[1].vid(), 100);
    assert_eq!((l.ethertype, l.link_len, l.net_off), (0x0800, 22, 22));
    // A third tag is not walked: its TPID is the EtherType.
    let f3 = F::eth(&[(0x88a8, 1), (0x8100, 2), (0x8100, 3)], 0x0800)
        .pad_to(60)
        .b;
    let l = Layers::parse(&f3);
    assert_eq!(
        (l.vlan_count, l.ethertype, l.l3, l.link_len),
        (2, 0x8100, L3::None, 22)
    );
    // A tag the kernel stripped comes first; the frame's own tag follows.
    let f1 = F::eth(&[(0x8100, 7)], 0x0800)
        .ipv4(17, 8, 0, 0)
        .udp(1, 2, 0)
        .b;
    let p = Packet {
        data: &f1,
        wire_len: f1.len() as u32,
        ifindex: 1,
        vlan_tci: 0x0005,
        vlan_tpid: 0x88a8,
        protocol: 0x8100,
        flags: PacketFlags::VLAN_VALID | PacketFlags::VLAN_TPID_VALID,
        ..Packet::default()
    };
    let l = p.layers();
    assert!(l.vlan_from_metadata);
    assert_eq!(l.vlan_count, 2);
    assert_eq!(
        l.vlans,
        [
            Vlan {
                tpid: 0x88a8,
                tci: 5
            },
            Vlan {
                tpid: 0x8100,
                tci: 7
            }
        ]
    );
    assert_eq!((l.link_len, l.l4), (18, L4::Udp));
    // vlan_reinsert: the metadata tag is also the frame's first tag.
    let p = Packet {
        vlan_tci: 7,
        vlan_tpid: 0x8100,
        ..p
    };
    let l = p.layers();
    assert!(!l.vlan_from_metadata);
    assert_eq!(l.vlan_count, 1);
    assert_eq!(
        l.vlans[0],
        Vlan {
            tpid: 0x8100,
            tci: 7
        }
    );
}

/// The `Frag` of a fragment without "don't fragment".
fn fragment(more_fragments: bool, offset: u16, id: u32) -> Frag {
    Frag {
        dont_fragment: false,
        more_fragments,
        is_fragment: true,
        offset,
        id,
    }
}

#[test]
fn fragments() {
    // IPv4 first fragment (MF, offset 0): the UDP header is there.
    let f = F::eth(&[], 0x0800)
        .ipv4(17, 8 + 100, 0x2000, 0)
        .udp(1, 2, 100)
        .b;
    let l = Layers::parse(&f);
    assert_eq!(l.frag, fragment(true, 0, 0x1234));
    assert_eq!(l.l4, L4::Udp);
    // A later fragment (offset 185*8): no transport header.
    let f = F::eth(&[], 0x0800).ipv4(17, 100, 185, 0).payload(100).b;
    let l = Layers::parse(&f);
    assert_eq!(l.frag, fragment(false, 1480, 0x1234));
    assert_eq!(
        (l.l4, l.transport_len, l.payload_off, l.payload_len),
        (L4::None, 0, 34, 100)
    );
    assert_eq!(ours(&l), reference(&f).2);
    // DF only: not a fragment.
    let f = F::eth(&[], 0x0800).ipv4(17, 8, 0x4000, 0).udp(1, 2, 0).b;
    let l = Layers::parse(&f);
    assert!(l.frag.dont_fragment && !l.frag.is_fragment);
    // IPv6 fragment header (offset 1480, M set) after hop-by-hop.
    let f = F::eth(&[], 0x86dd)
        .ipv6(&[(0, 8), (44, 8)], 17, 64)
        .payload(64)
        .b;
    let l = Layers::parse(&f);
    assert_eq!(l.frag, fragment(true, 1480, 0xabcdef01));
    assert_eq!(
        (l.l3, l.ip_proto, l.net_len, l.l4),
        (L3::Ipv6, 17, 56, L4::None)
    );
    assert_eq!((l.payload_off, l.payload_len), (70, 64));
    assert_eq!(ours(&l), reference(&f).2);
}

#[test]
fn truncated_at_each_layer() {
    let f = F::eth(&[(0x8100, 1)], 0x0800)
        .ipv4(6, 20 + 12 + 50, 0, 0)
        .tcp(1, 2, 12, 50)
        .b;
    let cases = [
        (0, Layer::Link),
        (13, Layer::Link),
        (16, Layer::Link), // inside the tag
        (18, Layer::Network),
        (37, Layer::Network),
        (38, Layer::Transport),
        (38 + 20, Layer::Transport), // options cut
        (38 + 32, Layer::Payload),
        (f.len() - 1, Layer::Payload),
    ];
    for (n, layer) in cases {
        let l = Layers::parse(&f[..n]);
        assert_eq!(l.status, ParseStatus::Truncated(layer), "cut at {n}");
        assert_eq!(l.stopped_at(), Some(layer));
        // What comes before the cut is filled in, nothing after it.
        match layer {
            Layer::Link => assert_eq!(l.l3, L3::None),
            Layer::Network => assert_eq!((l.ethertype, l.l3, l.net_len), (0x0800, L3::None, 0)),
            Layer::Transport => {
                assert_eq!(
                    (l.l3, l.ip_proto, l.l4, l.src_port),
                    (L3::Ipv4, 6, L4::None, 0)
                )
            }
            _ => {
                assert_eq!(
                    (l.l4, l.src_port, l.dst_port, l.transport_len),
                    (L4::Tcp, 1, 2, 32)
                );
                assert_eq!(l.payload_len as usize, n - 70);
            }
        }
    }
    assert_eq!(Layers::parse(&f).status, ParseStatus::Complete);
    // IPv6 extension header cut.
    let f = F::eth(&[], 0x86dd)
        .ipv6(&[(0, 8), (60, 16)], 17, 8)
        .udp(1, 2, 0)
        .b;
    for n in [14, 53, 55, 62, 63, 70, 77] {
        let l = Layers::parse(&f[..n]);
        let want = if n < 78 {
            Layer::Network
        } else {
            Layer::Transport
        };
        assert_eq!(l.status, ParseStatus::Truncated(want), "cut at {n}");
        assert_eq!(l.l3, L3::None);
    }
    assert_eq!(
        Layers::parse(&f[..80]).status,
        ParseStatus::Truncated(Layer::Transport)
    );
    assert_eq!(Layers::parse(&f).l4, L4::Udp);
}

#[test]
fn malformed_headers() {
    let good = F::eth(&[], 0x0800).ipv4(6, 20, 0, 0).tcp(1, 2, 0, 0).b;
    let bad = |at: usize, v: u8| {
        let mut f = good.clone();
        f[at] = v;
        Layers::parse(&f).status
    };
    assert_eq!(bad(14, 0x44), ParseStatus::Malformed(Layer::Network)); // IHL 4
    assert_eq!(bad(14, 0x65), ParseStatus::Malformed(Layer::Network)); // version 6
    assert_eq!(bad(17, 19), ParseStatus::Malformed(Layer::Network)); // total < IHL
    assert_eq!(bad(17, 30), ParseStatus::Malformed(Layer::Transport)); // total < IHL + TCP
    assert_eq!(
        bad(14 + 20 + 12, 0x40),
        ParseStatus::Malformed(Layer::Transport)
    ); // doff 4
    assert_eq!(
        bad(14 + 20 + 12, 0xf0),
        ParseStatus::Malformed(Layer::Transport)
    ); // doff past end
    let mut v6 = F::eth(&[], 0x86dd).ipv6(&[], 17, 8).udp(1, 2, 0).b;
    v6[14] = 0x40;
    assert_eq!(
        Layers::parse(&v6).status,
        ParseStatus::Malformed(Layer::Network)
    );
    // An extension chain longer than the limit.
    let exts: Vec<(u8, usize)> = (0..MAX_IPV6_EXT + 1).map(|_| (60, 8)).collect();
    let f = F::eth(&[], 0x86dd).ipv6(&exts, 17, 8).udp(1, 2, 0).b;
    assert_eq!(
        Layers::parse(&f).status,
        ParseStatus::Malformed(Layer::Network)
    );
    let exts: Vec<(u8, usize)> = (0..MAX_IPV6_EXT).map(|_| (60, 8)).collect();
    let f = F::eth(&[], 0x86dd).ipv6(&exts, 17, 8).udp(1, 2, 0).b;
    assert_eq!(Layers::parse(&f).l4, L4::Udp);
    // An extension header longer than the IPv6 payload length.
    let mut f = F::eth(&[], 0x86dd).ipv6(&[(0, 8)], 17, 8).udp(1, 2, 0).b;
    f[54 + 1] = 200;
    assert_eq!(
        Layers::parse(&f).status,
        ParseStatus::Malformed(Layer::Network)
    );
}

#[test]
fn other_and_empty() {
    // Unknown EtherType: the rest is payload.
    let f = F::eth(&[], 0x88b5).payload(46).b;
    let l = Layers::parse(&f);
    assert_eq!(
        (l.status, l.ethertype, l.l3, l.payload_off, l.payload_len),
        (ParseStatus::Complete, 0x88b5, L3::None, 14, 46)
    );
    // IPv6 "no next header".
    let f = F::eth(&[], 0x86dd).ipv6(&[], 59, 0).b;
    let l = Layers::parse(&f);
    assert_eq!(
        (l.status, l.l4, l.ip_proto, l.payload_len),
        (ParseStatus::Complete, L4::None, 59, 0)
    );
    // SCTP ports.
    let mut f = F::eth(&[], 0x0800).ipv4(132, 12, 0, 0).b;
    f.extend_from_slice(&[0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 0, 0, 0, 0, 0]);
    let l = Layers::parse(&f);
    assert_eq!(
        (l.l4, l.src_port, l.dst_port, l.transport_len),
        (L4::Sctp, 2905, 2906, 12)
    );
    let l = Layers::parse(&[]);
    assert_eq!(l.status, ParseStatus::Truncated(Layer::Link));
}

/// Every prefix and many random corruptions of every frame: no panic (a
/// read past the data would panic in safe Rust), every range inside the
/// data, and the views agree with the offsets.
#[test]
fn never_reads_past_the_data() {
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let check = |d: &[u8]| {
        let l = Layers::parse(d);
        let n = d.len() as u32;
        assert!(l.link_len <= n);
        assert!(l.net_off + l.net_len <= n);
        assert!(l.transport_off + l.transport_len <= n);
        assert!(l.payload_off + l.payload_len <= n, "{l:?}");
        let _ = (
            l.link(),
            l.network(),
            l.transport_header(),
            l.payload(),
            l.src_ip(),
        );
    };
    for (_, f) in corpus() {
        for n in 0..=f.len() {
            check(&f[..n]);
        }
        for _ in 0..3000 {
            let mut g = f.clone();
            for _ in 0..1 + rnd() % 4 {
                let i = (rnd() as usize) % g.len();
                g[i] = rnd() as u8;
            }
            let n = (rnd() as usize) % (g.len() + 1);
            check(&g);
            check(&g[..n]);
        }
    }
}

#[test]
fn short_but_not_cut_is_malformed() {
    let f = F::eth(&[], 0x0800).ipv4(17, 8 + 100, 0, 0).udp(1, 2, 100).b;
    let short = &f[..60];
    let p = |wire_len: u32| Packet {
        data: short,
        wire_len,
        ifindex: 1,
        protocol: 0x0800,
        ..Packet::default()
    };
    // Cut by the snap length: truncated.
    assert_eq!(
        p(f.len() as u32).layers().status,
        ParseStatus::Truncated(Layer::Payload)
    );
    // Nothing cut, yet the IP header announces 48 more bytes: malformed.
    assert_eq!(
        p(60).layers().status,
        ParseStatus::Malformed(Layer::Payload)
    );
    // Wire length unknown.
    assert_eq!(p(0).layers().status, ParseStatus::Truncated(Layer::Payload));
    assert_eq!(
        Layers::parse(short).status,
        ParseStatus::Truncated(Layer::Payload)
    );
}
