//! `nr_packet_parse()` and `nr_layers`: where the headers of a packet are,
//! zero copy. The C face of [`crate::parse`].

use std::ffi::c_int;
use std::mem::size_of;
use std::ptr;

use super::batch::nr_packet;
use super::{NR_E_INTERNAL, arg, guard_pure, status};
use crate::error::Error;

use crate::parse::{L3, L4, Layer, Layers, ParseStatus};

/// How far nr_packet_parse() got (nr_layers.status).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_parse_status {
    /// nr_layers.status: every header of a known protocol was complete and
    /// consistent. An unknown EtherType or IP protocol ends the walk too (the
    /// layers after it are empty: l3/l4 NR_L3_NONE / NR_L4_OTHER).
    NR_PARSE_COMPLETE = 0,
    /// nr_layers.status: the captured bytes (caplen < len: the snap length cut
    /// the frame; or len 0, unknown) end inside layer nr_layers.stop_layer.
    /// The layers before it are filled in; that one and those after it are not
    /// (for NR_LAYER_PAYLOAD: every header is filled in, the payload is cut).
    NR_PARSE_TRUNCATED = 1,
    /// nr_layers.status: a header of layer nr_layers.stop_layer is impossible
    /// (IPv4 IHL < 5, a version that disagrees with the EtherType, a length
    /// shorter than its header, TCP data offset < 5, more than 16 IPv6
    /// extension headers), or the frame ends inside it although nothing was
    /// cut (caplen == len). The layers before it are filled in.
    NR_PARSE_MALFORMED = 2,
}

arg::c_enum!(nr_parse_status as u8 {
    NR_PARSE_COMPLETE,
    NR_PARSE_TRUNCATED,
    NR_PARSE_MALFORMED,
});

/// Protocol layers (nr_layers.stop_layer).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_layer {
    /// nr_layers.stop_layer: none (status NR_PARSE_COMPLETE).
    NR_LAYER_NONE = 0,
    /// nr_layers.stop_layer: the Ethernet header or a VLAN tag.
    NR_LAYER_LINK = 1,
    /// nr_layers.stop_layer: IPv4, IPv6 (with its extension headers) or ARP.
    NR_LAYER_NETWORK = 2,
    /// nr_layers.stop_layer: TCP, UDP, SCTP, ICMP or ICMPv6.
    NR_LAYER_TRANSPORT = 3,
    /// nr_layers.stop_layer: the payload (the IP header announces more bytes
    /// than were captured).
    NR_LAYER_PAYLOAD = 4,
}

arg::c_enum!(nr_layer as u8 {
    NR_LAYER_NONE,
    NR_LAYER_LINK,
    NR_LAYER_NETWORK,
    NR_LAYER_TRANSPORT,
    NR_LAYER_PAYLOAD,
});

/// Network-layer protocols (nr_layers.l3).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_l3 {
    /// nr_layers.l3: no network layer parsed.
    NR_L3_NONE = 0,
    /// nr_layers.l3: IPv4.
    NR_L3_IPV4 = 1,
    /// nr_layers.l3: IPv6.
    NR_L3_IPV6 = 2,
    /// nr_layers.l3: ARP (addresses decoded for Ethernet/IPv4 ARP).
    NR_L3_ARP = 3,
}

arg::c_enum!(nr_l3 as u8 {
    NR_L3_NONE,
    NR_L3_IPV4,
    NR_L3_IPV6,
    NR_L3_ARP,
});

/// Transport-layer protocols (nr_layers.l4).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_l4 {
    /// nr_layers.l4: no transport layer (not IP, a non-first fragment, IPv6
    /// "no next header", or parsing stopped before).
    NR_L4_NONE = 0,
    /// nr_layers.l4: TCP.
    NR_L4_TCP = 1,
    /// nr_layers.l4: UDP.
    NR_L4_UDP = 2,
    /// nr_layers.l4: ICMP (transport_len 8: type, code, checksum, rest of header).
    NR_L4_ICMP = 3,
    /// nr_layers.l4: ICMPv6 (transport_len 8).
    NR_L4_ICMPV6 = 4,
    /// nr_layers.l4: SCTP (12-byte common header with the ports).
    NR_L4_SCTP = 5,
    /// nr_layers.l4: another IP protocol (ip_proto), not parsed: transport_off
    /// is where its header starts, transport_len is 0, and the payload is the
    /// whole IP payload.
    NR_L4_OTHER = 255,
}

arg::c_enum!(nr_l4 as u8 {
    NR_L4_NONE,
    NR_L4_TCP,
    NR_L4_UDP,
    NR_L4_ICMP,
    NR_L4_ICMPV6,
    NR_L4_SCTP,
    NR_L4_OTHER,
});

/// Fragment flags, OR-ed together (nr_layers.frag_flags).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_frag_flag {
    /// nr_layers.frag_flags: IPv4 "don't fragment".
    NR_FRAG_FLAG_DF = 1,
    /// nr_layers.frag_flags: "more fragments" (IPv4 flag, IPv6 M bit).
    NR_FRAG_FLAG_MF = 2,
    /// nr_layers.frag_flags: the packet is a fragment (MF set, a non-zero
    /// offset, or an IPv6 fragment header). A non-first fragment has no
    /// transport header (l4 NR_L4_NONE; its bytes are the payload).
    NR_FRAG_FLAG_FRAGMENT = 4,
}

arg::c_enum!(nr_frag_flag as u8 {
    NR_FRAG_FLAG_DF,
    NR_FRAG_FLAG_MF,
    NR_FRAG_FLAG_FRAGMENT,
});

/// Where the headers of one packet are, filled in by nr_packet_parse().
///
/// Extensible: set `size` to `sizeof(nr_layers)` before the call; the
/// library writes that many bytes (fields appended by a later version are
/// left out for an older caller; bytes beyond what this version knows are
/// zeroed). The struct holds only offsets into the packet's `data` and
/// copied scalars: it owns nothing and needs no freeing, and it is valid
/// as long as the packet data it describes (a view is `pkt->data + off`,
/// `len` bytes). Every offset + length is within `caplen`.
///
/// A layer not found has offset 0 and length 0; the payload starts where
/// the last header parsed ends. Multi-byte fields are in host byte order;
/// addresses are in network order, as on the wire.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct nr_layers {
    /// Set by the caller: `sizeof(nr_layers)`.
    pub size: usize,
    /// NR_PARSE_COMPLETE, NR_PARSE_TRUNCATED or NR_PARSE_MALFORMED.
    pub status: u8,
    /// With NR_PARSE_TRUNCATED / NR_PARSE_MALFORMED: the layer it stopped
    /// in (NR_LAYER_*); NR_LAYER_NONE otherwise.
    pub stop_layer: u8,
    /// NR_L3_* network layer.
    pub l3: u8,
    /// NR_L4_* transport layer.
    pub l4: u8,
    /// Number of valid vlan_tpid / vlan_tci entries (0..2), outermost first.
    pub vlan_count: u8,
    /// 1 if vlan_tpid[0] / vlan_tci[0] is the tag the kernel stripped into
    /// the packet metadata (nr_packet.flags NR_PACKET_FLAG_VLAN_VALID) rather than
    /// a tag in the bytes; the frame's own tags follow it. With
    /// nr_capture_config.vlan_reinsert the tag is in the bytes too: a
    /// frame whose first tag equals the metadata tag reports it once, from
    /// the bytes (vlan_from_metadata 0).
    pub vlan_from_metadata: u8,
    /// IP protocol (IPv6: the next header after every extension header).
    pub ip_proto: u8,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// The EtherType after the VLAN tags (< 0x0600: an 802.3 length).
    pub ethertype: u16,
    /// ARP operation (1 request, 2 reply); 0 if not ARP.
    pub arp_op: u16,
    /// VLAN tag protocol identifiers (0x8100, 0x88a8, 0x9100).
    pub vlan_tpid: [u16; 2],
    /// VLAN tag control information (PCP 3 bits, DEI 1, VID 12).
    pub vlan_tci: [u16; 2],
    /// Ethernet header length including the in-frame VLAN tags (the link
    /// header starts at offset 0).
    pub link_len: u32,
    /// Network header offset.
    pub net_off: u32,
    /// Network header length (IPv4 with options; IPv6 with every extension
    /// header; ARP).
    pub net_len: u32,
    /// Transport header offset.
    pub transport_off: u32,
    /// Transport header length (TCP with options).
    pub transport_len: u32,
    /// Payload offset.
    pub payload_off: u32,
    /// Captured payload bytes, up to the end of the IP packet (Ethernet
    /// padding excluded) or of the capture; for a frame without an IP
    /// layer, the rest of the frame; for ARP, 0.
    pub payload_len: u32,
    /// IP packet length from its header (IPv4 total length; IPv6 40 +
    /// payload length); may exceed what was captured. 0 if not IP.
    pub ip_len: u32,
    /// Source port (TCP, UDP, SCTP), else 0.
    pub src_port: u16,
    /// Destination port (TCP, UDP, SCTP), else 0.
    pub dst_port: u16,
    /// TCP flags byte (CWR ECE URG ACK PSH RST SYN FIN), else 0.
    pub tcp_flags: u8,
    /// NR_FRAG_FLAG_* flags.
    pub frag_flags: u8,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    /// Fragment identification (IPv4: 16 bits; IPv6: from the fragment header).
    pub frag_id: u32,
    /// Source address: IPv6 16 bytes; IPv4 (and ARP sender) the first 4,
    /// the rest zero.
    pub src_addr: [u8; 16],
    /// Destination address (ARP: target), laid out as src_addr.
    pub dst_addr: [u8; 16],
}

// No padding: the whole struct is initialised bytes, copied as such.
const _: () = assert!(size_of::<nr_layers>() == 104);

/// Smallest `size` accepted: the size field and the first 8 one-byte fields.
const MIN_SIZE: usize = size_of::<usize>() + 8;
/// Largest `size` believed: anything bigger is an uninitialised struct.
const MAX_SIZE: usize = 4096;

fn codes_of(s: ParseStatus) -> (u8, u8) {
    match s {
        ParseStatus::Complete => (NR_PARSE_COMPLETE, NR_LAYER_NONE),
        ParseStatus::Truncated(l) => (NR_PARSE_TRUNCATED, l as u8),
        ParseStatus::Malformed(l) => (NR_PARSE_MALFORMED, l as u8),
    }
}

/// Write every field but `size` from `l`, one field at a time: no wide
/// copy of a struct built just before (that would stall on store
/// forwarding, measured at ~10 ns a call).
#[inline(always)]
fn fill(o: &mut nr_layers, l: &Layers<'_>) {
    let (status, stop_layer) = codes_of(l.status);
    let f = &l.frag;
    o.status = status;
    o.stop_layer = stop_layer;
    o.l3 = l.l3 as u8;
    o.l4 = l.l4 as u8;
    o.vlan_count = l.vlan_count;
    o.vlan_from_metadata = l.vlan_from_metadata as u8;
    o.ip_proto = l.ip_proto;
    o.ttl = l.ttl;
    o.ethertype = l.ethertype;
    o.arp_op = l.arp_op;
    o.vlan_tpid = [l.vlans[0].tpid, l.vlans[1].tpid];
    o.vlan_tci = [l.vlans[0].tci, l.vlans[1].tci];
    o.link_len = l.link_len;
    o.net_off = l.net_off;
    o.net_len = l.net_len;
    o.transport_off = l.transport_off;
    o.transport_len = l.transport_len;
    o.payload_off = l.payload_off;
    o.payload_len = l.payload_len;
    o.ip_len = l.ip_len;
    o.src_port = l.src_port;
    o.dst_port = l.dst_port;
    o.tcp_flags = l.tcp_flags;
    o.frag_flags = if f.dont_fragment { NR_FRAG_FLAG_DF } else { 0 }
        | if f.more_fragments { NR_FRAG_FLAG_MF } else { 0 }
        | if f.is_fragment {
            NR_FRAG_FLAG_FRAGMENT
        } else {
            0
        };
    o.frag_offset = f.offset;
    o.frag_id = f.id;
    o.src_addr = *l.src_addr_bytes();
    o.dst_addr = *l.dst_addr_bytes();
}

impl From<&Layers<'_>> for nr_layers {
    fn from(l: &Layers<'_>) -> nr_layers {
        let mut o = nr_layers {
            size: size_of::<nr_layers>(),
            ..nr_layers::default()
        };
        fill(&mut o, l);
        o
    }
}

// The C values are the Rust enums' discriminants.
const _: () = {
    assert!(Layer::Payload as u8 == NR_LAYER_PAYLOAD && Layer::Link as u8 == NR_LAYER_LINK);
    assert!(Layer::Network as u8 == NR_LAYER_NETWORK);
    assert!(Layer::Transport as u8 == NR_LAYER_TRANSPORT);
    assert!(L3::Arp as u8 == NR_L3_ARP && L3::Ipv6 as u8 == NR_L3_IPV6);
    assert!(L3::Ipv4 as u8 == NR_L3_IPV4);
    assert!(L4::Other as u8 == NR_L4_OTHER && L4::Sctp as u8 == NR_L4_SCTP);
    assert!(L4::Icmpv6 as u8 == NR_L4_ICMPV6 && L4::Icmp as u8 == NR_L4_ICMP);
    assert!(L4::Udp as u8 == NR_L4_UDP && L4::Tcp as u8 == NR_L4_TCP);
};

/// Parse the headers of a packet, zero copy: where its link, network and
/// transport headers and its payload are, and their main fields (see
/// nr_layers). Works on any nr_packet (from a batch, nr_next_packet(), a
/// capture file, or filled in by the caller: `data` must then be valid for
/// `caplen` bytes). The frame must start with an Ethernet header (what
/// every netring engine delivers from an Ethernet interface). A VLAN tag
/// the kernel stripped (flags NR_PACKET_FLAG_VLAN_VALID) is reported as the first
/// tag, with vlan_from_metadata set.
///
/// No allocation, no copy of the data, no system call; every read is
/// bounds-checked against `caplen`: a cut or malformed frame is reported in
/// `out->status` and `out->stop_layer`, never read past. Safe to call from
/// any thread and from nr_batch_for_each() callbacks.
///
/// `out->size` must be set to `sizeof(nr_layers)` by the caller (see
/// nr_layers).
///
/// Returns NR_OK when `*out` was written, whatever the frame holds (look
/// at out->status); NR_E_INVALID_ARG if `pkt` or `out` is NULL, `pkt->data`
/// is NULL with a non-zero caplen, or `out->size` is not a size this
/// library can take (then `*out` is left as is).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_packet_parse(
    pkt: *const nr_packet,
    out: *mut nr_layers,
) -> c_int {
    guard_pure(NR_E_INTERNAL, || status(parse_into(pkt, out)))
}

/// The body of nr_packet_parse(), run inside guard_pure() rather than
/// boundary(): the same panic boundary, but a plain int comes back through
/// it (boundary's `Result` cost ~7 ns a call here, a store-forwarding
/// stall, which matters for a per-packet call).
///
/// `pkt` and `out` come from a C caller, as nr_packet_parse() documents.
#[inline(always)]
fn parse_into(pkt: *const nr_packet, out: *mut nr_layers) -> Result<(), Error> {
    let p = arg::by_ref(pkt, "pkt")?;
    let out = arg::Out::new(out, "out")?.as_ptr();
    // SAFETY: out is non-NULL and points to at least the size field
    // (the C contract); read unaligned-safe.
    let size = unsafe { ptr::read_unaligned(out.cast::<usize>()) };
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        return Err(Error::invalid_arg(format!(
            "nr_layers.size is {size}: set it to sizeof(nr_layers) before calling nr_packet_parse()"
        )));
    }
    let packet = p.as_packet()?;
    let layers = Layers::parse_packet(&packet);
    if size == size_of::<nr_layers>() && out.is_aligned() {
        // The common case, a caller of this version: fields written in
        // place.
        // SAFETY: out points to a writable, aligned nr_layers of this
        // version's size (checked just above); no other reference to it
        // exists during the call.
        fill(unsafe { &mut *out }, &layers);
        return Ok(());
    }
    let mut l = nr_layers::from(&layers);
    l.size = size;
    let n = size.min(size_of::<nr_layers>());
    // SAFETY: the caller guarantees `size` writable bytes at out. The
    // source is a local nr_layers with no padding (asserted above), so
    // all n <= size_of bytes are initialised; the rest of the caller's
    // bytes (a newer caller's fields) are zeroed.
    unsafe {
        ptr::copy_nonoverlapping((&l as *const nr_layers).cast::<u8>(), out.cast::<u8>(), n);
        if size > n {
            ptr::write_bytes(out.cast::<u8>().add(n), 0, size - n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::{NR_E_INVALID_ARG, NR_OK};

    fn pkt(data: &[u8]) -> nr_packet {
        nr_packet {
            data: data.as_ptr(),
            caplen: data.len() as u32,
            len: data.len() as u32,
            ..nr_packet::EMPTY
        }
    }

    #[test]
    fn parses_and_checks_arguments() {
        let f = crate::parse::example_udp_frame();
        let p = pkt(&f);
        let mut l = nr_layers::from(&Layers::parse(&[]));
        l.size = size_of::<nr_layers>();
        // SAFETY: valid pointers.
        assert_eq!(unsafe { nr_packet_parse(&p, &mut l) }, NR_OK);
        assert_eq!(
            (l.status, l.l3, l.l4),
            (NR_PARSE_COMPLETE, NR_L3_IPV4, NR_L4_UDP)
        );
        assert_eq!(
            (l.src_port, l.dst_port, l.payload_off, l.payload_len),
            (1234, 53, 42, 5)
        );
        assert_eq!(&l.src_addr[..4], &[10, 0, 0, 1]);
        // Truncated by the snap length.
        let p = nr_packet {
            caplen: 40,
            ..pkt(&f)
        };
        // SAFETY: valid pointers.
        assert_eq!(unsafe { nr_packet_parse(&p, &mut l) }, NR_OK);
        assert_eq!(
            (l.status, l.stop_layer, l.l3, l.l4),
            (
                NR_PARSE_TRUNCATED,
                NR_LAYER_TRANSPORT,
                NR_L3_IPV4,
                NR_L4_NONE
            )
        );
        // An older caller: only its prefix is written.
        let mut small = [0xaau8; 40];
        small[..8].copy_from_slice(&40usize.to_ne_bytes());
        let p = pkt(&f);
        // SAFETY: 40 writable bytes, size says 40.
        assert_eq!(
            unsafe { nr_packet_parse(&p, small.as_mut_ptr().cast()) },
            NR_OK
        );
        assert_eq!(small[8], NR_PARSE_COMPLETE);
        assert_eq!(&small[..8], &40usize.to_ne_bytes());
        // A newer caller: its unknown tail is zeroed.
        let mut big = [0xaau8; 128];
        big[..8].copy_from_slice(&128usize.to_ne_bytes());
        // SAFETY: 128 writable bytes.
        assert_eq!(
            unsafe { nr_packet_parse(&p, big.as_mut_ptr().cast()) },
            NR_OK
        );
        assert!(big[104..].iter().all(|&b| b == 0));
        // Bad arguments: out untouched.
        let before = l;
        // SAFETY: NULL and bad sizes are checked.
        unsafe {
            assert_eq!(nr_packet_parse(ptr::null(), &mut l), NR_E_INVALID_ARG);
            assert_eq!(nr_packet_parse(&p, ptr::null_mut()), NR_E_INVALID_ARG);
            let np = nr_packet {
                data: ptr::null(),
                ..p
            };
            assert_eq!(nr_packet_parse(&np, &mut l), NR_E_INVALID_ARG);
            l.size = 3;
            assert_eq!(nr_packet_parse(&p, &mut l), NR_E_INVALID_ARG);
            l.size = 1 << 20;
            assert_eq!(nr_packet_parse(&p, &mut l), NR_E_INVALID_ARG);
        }
        assert_eq!(
            l,
            nr_layers {
                size: 1 << 20,
                ..before
            }
        );
    }
}
