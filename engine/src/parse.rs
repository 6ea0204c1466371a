//! Header parsing, zero copy: where the link, network and transport headers
//! and the payload of a frame are, and the fields most tools want from
//! them.
//!
//! [`Layers::parse`] walks an Ethernet frame once: up to two VLAN tags
//! (802.1Q `0x8100`, 802.1ad `0x88a8`, `0x9100`), then IPv4, IPv6 (its
//! extension headers walked: hop-by-hop, routing, fragment, destination
//! options, AH, mobility) or ARP, then TCP, UDP, SCTP, ICMP or ICMPv6. It
//! allocates nothing and copies nothing but the few scalar fields it
//! returns; every read is bounds-checked against the captured bytes (safe
//! Rust, no `unsafe`), so a malformed or cut frame yields a
//! [`ParseStatus`], never a read past the data.
//!
//! ```
//! use netring_engine::parse::{Layers, L3, L4, ParseStatus};
//! # let frame = netring_engine::parse::example_udp_frame();
//! let l = Layers::parse(&frame);
//! assert_eq!(l.status, ParseStatus::Complete);
//! assert_eq!((l.l3, l.l4), (L3::Ipv4, L4::Udp));
//! println!("{:?}:{} > {:?}:{}", l.src_ip(), l.src_port, l.dst_ip(), l.dst_port);
//! let payload: &[u8] = l.payload(); // a view of the frame, not a copy
//! # assert_eq!(payload, b"hello");
//! ```
//!
//! Why hand-written and not `etherparse`: etherparse (0.21) slices without
//! copying too, and the test suite uses it as the reference every field is
//! compared with, but its full validation costs several times the
//! 10 ns/packet budget for Ethernet/IPv4/UDP (`make bench` reports both),
//! and the offsets, the "truncated at layer N" answer and the fragment
//! fields would have to be recomputed from its slices anyway. The
//! protocol logic here is one bounded walk over fixed header layouts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::packet::{Packet, PacketFlags};

/// Ethernet header length (no tags).
pub const ETH_HLEN: u32 = 14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// TPID of an 802.1Q tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad (QinQ service) tag.
pub const TPID_8021AD: u16 = 0x88a8;
/// The pre-standard QinQ TPID.
pub const TPID_QINQ_OLD: u16 = 0x9100;

/// Most IPv6 extension headers walked before giving up (a longer chain is
/// reported as [`ParseStatus::Malformed`] at [`Layer::Network`]).
pub const MAX_IPV6_EXT: usize = 16;

/// A protocol layer, for "where did parsing stop". Values are part of the
/// C ABI (`NR_LAYER_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Layer {
    /// No layer (parsing completed).
    #[default]
    None = 0,
    /// The Ethernet header or a VLAN tag.
    Link = 1,
    /// IPv4, IPv6 (with extension headers) or ARP.
    Network = 2,
    /// TCP, UDP, SCTP, ICMP, ICMPv6.
    Transport = 3,
    /// The payload: every header is complete but the bytes the IP header
    /// announces were not all captured.
    Payload = 4,
}

/// How far parsing got. Values are part of the C ABI (`NR_PARSE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ParseStatus {
    /// Every header of a known protocol was complete and consistent (an
    /// unknown EtherType or IP protocol ends the walk here too: the layers
    /// after it are left empty).
    #[default]
    Complete,
    /// The captured bytes end inside this layer (the snap length cut the
    /// frame; [`Layers::parse_packet`] says `Malformed` instead when the
    /// packet's wire length shows nothing was cut): the layers
    /// before it are filled in, this one and those after it are not (for
    /// [`Layer::Payload`]: every header is filled in, the payload is cut).
    Truncated(Layer),
    /// A header of this layer is impossible (IPv4 IHL < 5, a version
    /// field that disagrees with the EtherType, a length shorter than its
    /// header, TCP data offset < 5, an IPv6 extension chain longer than
    /// [`MAX_IPV6_EXT`]): the layers before it are filled in.
    Malformed(Layer),
}

/// The network layer found. Values are part of the C ABI (`NR_L3_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum L3 {
    /// None parsed (unknown EtherType, or the frame stops before).
    #[default]
    None = 0,
    /// IPv4.
    Ipv4 = 1,
    /// IPv6.
    Ipv6 = 2,
    /// ARP (Ethernet/IPv4 addresses are decoded; other ARP kinds give only
    /// the header's position).
    Arp = 3,
}

/// The transport layer found. Values are part of the C ABI (`NR_L4_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum L4 {
    /// None: not IP, a non-first fragment, IPv6 "no next header", or the
    /// frame stops before.
    #[default]
    None = 0,
    /// TCP (header with options).
    Tcp = 1,
    /// UDP.
    Udp = 2,
    /// ICMP (8 bytes: type, code, checksum, rest of header).
    Icmp = 3,
    /// ICMPv6 (8 bytes, as ICMP).
    Icmpv6 = 4,
    /// SCTP (12-byte common header).
    Sctp = 5,
    /// Another IP protocol (`ip_proto`): its header is not parsed; the
    /// transport range is empty and the payload is the whole IP payload.
    Other = 255,
}

/// IPv4/IPv6 fragment facts ([`Layers::frag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Frag {
    /// IPv4 "don't fragment".
    pub dont_fragment: bool,
    /// "More fragments" (IPv4 flag or IPv6 fragment header M bit).
    pub more_fragments: bool,
    /// The packet is a fragment: more_fragments, or a non-zero offset, or
    /// (IPv6) a fragment header is present.
    pub is_fragment: bool,
    /// Fragment offset in bytes.
    pub offset: u16,
    /// Identification (IPv4: 16 bits; IPv6: from the fragment header).
    pub id: u32,
}

/// One VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vlan {
    /// Tag protocol identifier (`0x8100`, `0x88a8`, `0x9100`).
    pub tpid: u16,
    /// Tag control information (PCP 3 bits, DEI 1, VID 12).
    pub tci: u16,
}

impl Vlan {
    /// The VLAN identifier (low 12 bits of the TCI).
    pub fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
}

/// What [`Layers::parse`] found in one frame. Offsets are from the first
/// byte of the frame; a layer not found has offset 0 and length 0 (except
/// the payload, which starts where the last header parsed ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers<'a> {
    data: &'a [u8],
    /// How far parsing got.
    pub status: ParseStatus,
    /// Ethernet header length including the in-frame VLAN tags (the link
    /// header always starts at offset 0).
    pub link_len: u32,
    /// VLAN tags, outermost first; `vlan_count` are valid.
    pub vlans: [Vlan; 2],
    /// Number of valid entries in `vlans` (0..=2).
    pub vlan_count: u8,
    /// `vlans[0]` is the tag the kernel stripped into packet metadata (not
    /// in the frame bytes); set by [`Layers::parse_packet`] only.
    pub vlan_from_metadata: bool,
    /// The EtherType after the VLAN tags (values < 0x0600 are 802.3
    /// lengths; 0 if the frame has no complete Ethernet header).
    pub ethertype: u16,
    /// Network layer kind.
    pub l3: L3,
    /// Network header offset (IPv4 with options, IPv6 with every
    /// extension header, ARP).
    pub net_off: u32,
    /// Network header length.
    pub net_len: u32,
    /// IP protocol (IPv6: the next header after the extension headers);
    /// ARP: 0.
    pub ip_proto: u8,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// Length of the IP packet from its header (IPv4 total length; IPv6 40
    /// + payload length); 0 if unknown. May exceed what was captured.
    pub ip_len: u32,
    /// Fragment fields (IP only).
    pub frag: Frag,
    /// ARP operation (1 request, 2 reply), 0 if not ARP.
    pub arp_op: u16,
    /// Transport layer kind.
    pub l4: L4,
    /// Transport header offset.
    pub transport_off: u32,
    /// Transport header length (TCP: with options).
    pub transport_len: u32,
    /// Source port (TCP, UDP, SCTP), else 0.
    pub src_port: u16,
    /// Destination port (TCP, UDP, SCTP), else 0.
    pub dst_port: u16,
    /// TCP flags byte (CWR ECE URG ACK PSH RST SYN FIN), else 0.
    pub tcp_flags: u8,
    /// Payload offset (after the last header parsed).
    pub payload_off: u32,
    /// Payload bytes captured: up to the end of the IP packet as its
    /// header announces (Ethernet padding excluded) or of the captured
    /// data, whichever comes first. For a frame with no IP layer, the rest
    /// of the frame; for ARP, 0.
    pub payload_len: u32,
    src: [u8; 16],
    dst: [u8; 16],
}

#[inline(always)]
fn be16(d: &[u8], off: usize) -> Option<u16> {
    match d.get(off..off + 2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

#[inline(always)]
fn be32(d: &[u8], off: usize) -> Option<u32> {
    match d.get(off..off + 4) {
        Some(&[a, b, c, e]) => Some(u32::from_be_bytes([a, b, c, e])),
        _ => None,
    }
}

/// A 4-byte address in the first 4 of 16 bytes, the rest zero, built in a
/// register and stored whole (a 4-byte store into a zeroed array, read back
/// as 16 bytes, stalls on store forwarding: ~4 ns a packet).
#[inline(always)]
fn v4_16(a: [u8; 4]) -> [u8; 16] {
    u128::from(u32::from_le_bytes(a)).to_le_bytes()
}

impl<'a> Layers<'a> {
    fn empty(data: &'a [u8]) -> Layers<'a> {
        Layers {
            data,
            status: ParseStatus::Complete,
            link_len: 0,
            vlans: [Vlan::default(); 2],
            vlan_count: 0,
            vlan_from_metadata: false,
            ethertype: 0,
            l3: L3::None,
            net_off: 0,
            net_len: 0,
            ip_proto: 0,
            ttl: 0,
            ip_len: 0,
            frag: Frag::default(),
            arp_op: 0,
            l4: L4::None,
            transport_off: 0,
            transport_len: 0,
            src_port: 0,
            dst_port: 0,
            tcp_flags: 0,
            payload_off: 0,
            payload_len: 0,
            src: [0; 16],
            dst: [0; 16],
        }
    }

    /// Parse an Ethernet frame (the bytes of a [`Packet`], or any slice
    /// starting at an Ethernet header). Never fails: how far it got is in
    /// [`Layers::status`].
    #[inline]
    pub fn parse(data: &'a [u8]) -> Layers<'a> {
        let mut l = Layers::empty(data);
        l.walk();
        l
    }

    /// Parse a packet's bytes, and report a VLAN tag the kernel stripped
    /// into the packet metadata ([`PacketFlags::VLAN_VALID`]) as
    /// `vlans[0]` with [`Layers::vlan_from_metadata`] set (offsets still
    /// refer to the bytes; the frame's own tags follow, two in all at most).
    ///
    /// The packet's wire length tells a cut frame from a short one: when
    /// nothing was cut (`wire_len` = captured length), a frame that ends
    /// before its headers say is [`ParseStatus::Malformed`] rather than
    /// `Truncated` (`wire_len` 0 means unknown: `Truncated`).
    ///
    /// A capture with `vlan_reinsert` puts the stripped tag back into the
    /// bytes and keeps the metadata: when the frame's first tag is the
    /// metadata tag (same TPID and TCI), it is reported once, from the
    /// bytes.
    #[inline]
    pub fn parse_packet(p: &Packet<'a>) -> Layers<'a> {
        let mut l = Layers::empty(p.data);
        if p.flags.contains(PacketFlags::VLAN_VALID) {
            let tpid = if p.flags.contains(PacketFlags::VLAN_TPID_VALID) && p.vlan_tpid != 0 {
                p.vlan_tpid
            } else {
                TPID_8021Q
            };
            // Not re-inserted into the bytes already (vlan_reinsert)?
            if be16(p.data, 12) != Some(tpid) || be16(p.data, 14) != Some(p.vlan_tci) {
                l.vlans[0] = Vlan {
                    tpid,
                    tci: p.vlan_tci,
                };
                l.vlan_count = 1;
                l.vlan_from_metadata = true;
            }
        }
        l.walk();
        // Bytes missing although the capture was not cut: the headers
        // announce more than the frame holds.
        if let ParseStatus::Truncated(at) = l.status {
            if p.wire_len != 0 && p.wire_len as usize <= p.data.len() {
                l.status = ParseStatus::Malformed(at);
            }
        }
        l
    }

    #[inline(always)]
    fn stop(&mut self, s: ParseStatus) {
        self.status = s;
    }

    #[inline(always)]
    fn walk(&mut self) {
        let d = self.data;
        let Some(mut et) = be16(d, 12) else {
            self.payload_len = 0;
            return self.stop(ParseStatus::Truncated(Layer::Link));
        };
        let mut off = ETH_HLEN as usize;
        while (et == TPID_8021Q || et == TPID_8021AD || et == TPID_QINQ_OLD)
            && (self.vlan_count as usize) < 2
        {
            let (Some(tci), Some(inner)) = (be16(d, off), be16(d, off + 2)) else {
                return self.stop(ParseStatus::Truncated(Layer::Link));
            };
            self.vlans[self.vlan_count as usize] = Vlan { tpid: et, tci };
            self.vlan_count += 1;
            et = inner;
            off += 4;
        }
        self.ethertype = et;
        self.link_len = off as u32;
        self.payload_off = off as u32;
        match et {
            ETHERTYPE_IPV4 => self.ipv4(off),
            ETHERTYPE_IPV6 => self.ipv6(off),
            ETHERTYPE_ARP => self.arp(off),
            _ => self.payload_len = (d.len() - off) as u32,
        }
    }

    #[inline(always)]
    fn ipv4(&mut self, off: usize) {
        let d = self.data;
        let Some(h) = d.get(off..off + 20) else {
            return self.stop(ParseStatus::Truncated(Layer::Network));
        };
        let ihl = ((h[0] & 0x0f) as usize) * 4;
        if h[0] >> 4 != 4 || ihl < 20 {
            return self.stop(ParseStatus::Malformed(Layer::Network));
        }
        let total = u16::from_be_bytes([h[2], h[3]]) as usize;
        // Total length 0: a TSO/GSO packet seen on its way out; it runs to
        // the end of the capture.
        if total != 0 && total < ihl {
            return self.stop(ParseStatus::Malformed(Layer::Network));
        }
        if d.len() < off + ihl {
            return self.stop(ParseStatus::Truncated(Layer::Network));
        }
        let ff = u16::from_be_bytes([h[6], h[7]]);
        let frag_off = (ff & 0x1fff) << 3;
        let mf = ff & 0x2000 != 0;
        self.frag = Frag {
            dont_fragment: ff & 0x4000 != 0,
            more_fragments: mf,
            is_fragment: mf || frag_off != 0,
            offset: frag_off,
            id: u16::from_be_bytes([h[4], h[5]]) as u32,
        };
        self.src = v4_16([h[12], h[13], h[14], h[15]]);
        self.dst = v4_16([h[16], h[17], h[18], h[19]]);
        self.l3 = L3::Ipv4;
        self.ttl = h[8];
        self.ip_proto = h[9];
        self.net_off = off as u32;
        self.net_len = ihl as u32;
        let end = if total == 0 { d.len() } else { off + total };
        self.ip_len = if total == 0 {
            (d.len() - off) as u32
        } else {
            total as u32
        };
        self.transport(off + ihl, end, frag_off != 0);
    }

    #[inline(always)]
    fn ipv6(&mut self, off: usize) {
        let d = self.data;
        let Some(h) = d.get(off..off + 40) else {
            return self.stop(ParseStatus::Truncated(Layer::Network));
        };
        if h[0] >> 4 != 6 {
            return self.stop(ParseStatus::Malformed(Layer::Network));
        }
        let plen = u16::from_be_bytes([h[4], h[5]]) as usize;
        let mut next = h[6];
        self.ttl = h[7];
        self.src.copy_from_slice(&h[8..24]);
        self.dst.copy_from_slice(&h[24..40]);
        // Payload length 0: a jumbogram (or GSO); it runs to the end of
        // the capture.
        let end = if plen == 0 { d.len() } else { off + 40 + plen };
        self.ip_len = (end - off) as u32;
        let mut p = off + 40;
        let mut later_fragment = false;
        let mut n = 0;
        loop {
            let len = match next {
                // Hop-by-hop, routing, destination options, mobility,
                // HIP, shim6: (hdr ext len + 1) * 8.
                0 | 43 | 60 | 135 | 139 | 140 => {
                    let Some(&hl) = d.get(p + 1) else {
                        return self.stop_v6(ParseStatus::Truncated(Layer::Network));
                    };
                    (hl as usize + 1) * 8
                }
                // Fragment: 8 bytes.
                44 => {
                    let (Some(fo), Some(id)) = (be16(d, p + 2), be32(d, p + 4)) else {
                        return self.stop_v6(ParseStatus::Truncated(Layer::Network));
                    };
                    let offset = fo & 0xfff8;
                    self.frag = Frag {
                        dont_fragment: false,
                        more_fragments: fo & 1 != 0,
                        is_fragment: true,
                        offset,
                        id,
                    };
                    later_fragment = offset != 0;
                    8
                }
                // AH: (payload len + 2) * 4.
                51 => {
                    let Some(&hl) = d.get(p + 1) else {
                        return self.stop_v6(ParseStatus::Truncated(Layer::Network));
                    };
                    (hl as usize + 2) * 4
                }
                _ => break,
            };
            n += 1;
            if n > MAX_IPV6_EXT || p + len > end {
                return self.stop_v6(ParseStatus::Malformed(Layer::Network));
            }
            if p + len > d.len() {
                return self.stop_v6(ParseStatus::Truncated(Layer::Network));
            }
            next = d[p];
            p += len;
            if later_fragment {
                break;
            }
        }
        self.l3 = L3::Ipv6;
        self.ip_proto = next;
        self.net_off = off as u32;
        self.net_len = (p - off) as u32;
        self.transport(p, end, later_fragment);
    }

    /// An IPv6 header whose extension chain stopped: keep the fixed
    /// header's facts, report where.
    #[cold]
    fn stop_v6(&mut self, s: ParseStatus) {
        self.src = [0; 16];
        self.dst = [0; 16];
        self.ttl = 0;
        self.ip_len = 0;
        self.frag = Frag::default();
        self.stop(s);
    }

    fn arp(&mut self, off: usize) {
        let d = self.data;
        let Some(h) = d.get(off..off + 8) else {
            return self.stop(ParseStatus::Truncated(Layer::Network));
        };
        let (hlen, plen) = (h[4] as usize, h[5] as usize);
        let len = 8 + 2 * (hlen + plen);
        if d.len() < off + len {
            return self.stop(ParseStatus::Truncated(Layer::Network));
        }
        self.l3 = L3::Arp;
        self.arp_op = u16::from_be_bytes([h[6], h[7]]);
        if plen == 4 {
            let spa = off + 8 + hlen;
            let tpa = spa + 4 + hlen;
            self.src = v4_16([d[spa], d[spa + 1], d[spa + 2], d[spa + 3]]);
            self.dst = v4_16([d[tpa], d[tpa + 1], d[tpa + 2], d[tpa + 3]]);
        }
        self.net_off = off as u32;
        self.net_len = len as u32;
        self.payload_off = (off + len) as u32;
    }

    /// The transport header at `off`, inside the IP packet ending at `end`
    /// (may lie beyond the capture).
    #[inline(always)]
    fn transport(&mut self, off: usize, end: usize, later_fragment: bool) {
        let d = self.data;
        let cap_end = end.min(d.len());
        self.payload_off = off as u32;
        if off > end {
            return self.stop(ParseStatus::Malformed(Layer::Network));
        }
        if later_fragment {
            self.payload_len = cap_end.saturating_sub(off) as u32;
            return self.payload_done(end);
        }
        let (l4, hlen) = match self.ip_proto {
            6 => (L4::Tcp, 20),
            17 => (L4::Udp, 8),
            1 if self.l3 == L3::Ipv4 => (L4::Icmp, 8),
            58 if self.l3 == L3::Ipv6 => (L4::Icmpv6, 8),
            132 => (L4::Sctp, 12),
            59 if self.l3 == L3::Ipv6 => {
                self.payload_len = 0;
                return;
            }
            _ => {
                self.l4 = L4::Other;
                self.transport_off = off as u32;
                self.payload_len = cap_end.saturating_sub(off) as u32;
                return self.payload_done(end);
            }
        };
        if off + hlen > end {
            return self.stop(ParseStatus::Malformed(Layer::Transport));
        }
        let Some(h) = d.get(off..off + hlen) else {
            return self.stop(ParseStatus::Truncated(Layer::Transport));
        };
        let mut hlen = hlen;
        let mut ports = (0, 0);
        let mut flags = 0;
        if l4 == L4::Tcp {
            let doff = ((h[12] >> 4) as usize) * 4;
            if doff < 20 || off + doff > end {
                return self.stop(ParseStatus::Malformed(Layer::Transport));
            }
            if off + doff > d.len() {
                return self.stop(ParseStatus::Truncated(Layer::Transport));
            }
            hlen = doff;
            flags = h[13];
        }
        if matches!(l4, L4::Tcp | L4::Udp | L4::Sctp) {
            ports = (
                u16::from_be_bytes([h[0], h[1]]),
                u16::from_be_bytes([h[2], h[3]]),
            );
        }
        self.l4 = l4;
        self.transport_off = off as u32;
        self.transport_len = hlen as u32;
        (self.src_port, self.dst_port) = ports;
        self.tcp_flags = flags;
        let p = off + hlen;
        self.payload_off = p as u32;
        self.payload_len = cap_end.saturating_sub(p) as u32;
        self.payload_done(end);
    }

    #[inline(always)]
    fn payload_done(&mut self, end: usize) {
        if end > self.data.len() {
            self.stop(ParseStatus::Truncated(Layer::Payload));
        }
    }

    /// The frame the layers describe.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// The link header (Ethernet with its in-frame VLAN tags).
    pub fn link(&self) -> &'a [u8] {
        &self.data[..self.link_len as usize]
    }
    /// The network header (empty if none).
    pub fn network(&self) -> &'a [u8] {
        &self.data[self.net_off as usize..(self.net_off + self.net_len) as usize]
    }
    /// The transport header (empty if none).
    pub fn transport_header(&self) -> &'a [u8] {
        &self.data[self.transport_off as usize..(self.transport_off + self.transport_len) as usize]
    }
    /// The captured payload.
    pub fn payload(&self) -> &'a [u8] {
        &self.data[self.payload_off as usize..(self.payload_off + self.payload_len) as usize]
    }
    /// The raw 16-byte source address (IPv4 and ARP: the first 4 bytes,
    /// the rest zero).
    pub fn src_addr_bytes(&self) -> &[u8; 16] {
        &self.src
    }
    /// The raw 16-byte destination address (as [`Layers::src_addr_bytes`]).
    pub fn dst_addr_bytes(&self) -> &[u8; 16] {
        &self.dst
    }
    fn ip(&self, a: &[u8; 16]) -> Option<IpAddr> {
        match self.l3 {
            L3::Ipv4 => Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
            L3::Ipv6 => Some(IpAddr::V6(Ipv6Addr::from(*a))),
            L3::Arp if self.net_len == 28 => {
                Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
            }
            _ => None,
        }
    }
    /// Source IP address (ARP: the sender protocol address).
    pub fn src_ip(&self) -> Option<IpAddr> {
        self.ip(&self.src)
    }
    /// Destination IP address (ARP: the target protocol address).
    pub fn dst_ip(&self) -> Option<IpAddr> {
        self.ip(&self.dst)
    }
    /// The layer parsing stopped in, if it did not complete.
    pub fn stopped_at(&self) -> Option<Layer> {
        match self.status {
            ParseStatus::Complete => None,
            ParseStatus::Truncated(l) | ParseStatus::Malformed(l) => Some(l),
        }
    }
}

impl Packet<'_> {
    /// Parse this packet's headers ([`Layers::parse_packet`]).
    pub fn layers(&self) -> Layers<'_> {
        Layers::parse_packet(self)
    }
}

/// An Ethernet/IPv4/UDP frame 10.0.0.1:1234 > 10.0.0.2:53 with payload
/// "hello", for examples and tests.
#[doc(hidden)]
pub fn example_udp_frame() -> Vec<u8> {
    let mut f = vec![
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
        0x45, 0, 0, 33, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
        0x04, 0xd2, 0, 53, 0, 13, 0, 0, // UDP
    ];
    f.extend_from_slice(b"hello");
    f
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
