//! Re-insert the 802.1Q/802.1ad tag the kernel stripped into the frame
//! data: in place in a held ring block ([`reinsert_block`]), or while
//! copying a frame out ([`TaggedFrame`], what the bridges send).
//!
//! The kernel (or the NIC) moves a VLAN tag into packet metadata; tools that
//! expect tagged frames need it back in the bytes. With `PACKET_RESERVE`
//! the kernel leaves room before each frame, so the tag is re-inserted
//! without a copy: the 12 MAC address bytes move 4 bytes back, TPID and TCI
//! are written after them, and the packet header's `tp_mac`, `tp_snaplen`
//! and `tp_len` are adjusted, so every later walk (Rust or C) sees the
//! tagged frame. Every packet is validated by the block walker first, and the
//! room before the data is checked, so nothing outside the packet is touched.

use super::block::{Malformed, PacketIter, block_header};
use crate::packet::{Packet, PacketFlags};
use crate::sys::tpacket::v3_hdr as h;

/// Bytes of room a re-insertion needs before the frame.
pub const VLAN_HLEN: usize = 4;

/// 802.1Q TPID, used when the kernel did not report one.
pub const ETH_P_8021Q: u16 = 0x8100;

/// A frame to copy out as it was on the wire: its bytes with the VLAN tag
/// the kernel stripped (if any) put back after the MAC addresses.
#[derive(Debug, Clone, Copy)]
pub struct TaggedFrame<'a> {
    data: &'a [u8],
    tag: Option<[u8; VLAN_HLEN]>,
}

impl<'a> TaggedFrame<'a> {
    /// `p`'s frame; `None` if it is shorter than an Ethernet header (14
    /// bytes). A TPID the kernel did not report (or reported as 0) is
    /// 802.1Q.
    pub fn of(p: &Packet<'a>) -> Option<TaggedFrame<'a>> {
        let data = p.data();
        if data.len() < 14 {
            return None;
        }
        let tag = p.vlan_tci().map(|tci| {
            let tpid = p.vlan_tpid().filter(|&t| t != 0).unwrap_or(ETH_P_8021Q);
            let (t, c) = (tpid.to_be_bytes(), tci.to_be_bytes());
            [t[0], t[1], c[0], c[1]]
        });
        Some(TaggedFrame { data, tag })
    }

    /// Bytes the frame takes (the tag included).
    pub fn size(&self) -> usize {
        self.data.len() + if self.tag.is_some() { VLAN_HLEN } else { 0 }
    }

    /// Copy the frame into `buf[..self.size()]`. Panics if `buf` is shorter
    /// (check [`TaggedFrame::size`] first).
    pub fn write_to(&self, buf: &mut [u8]) {
        let d = self.data;
        match self.tag {
            None => buf[..d.len()].copy_from_slice(d),
            Some(tag) => {
                buf[..12].copy_from_slice(&d[..12]);
                buf[12..12 + VLAN_HLEN].copy_from_slice(&tag);
                buf[12 + VLAN_HLEN..self.size()].copy_from_slice(&d[12..]);
            }
        }
    }
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}

fn add32(b: &mut [u8], off: usize, d: u32) {
    let v = u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]);
    b[off..off + 4].copy_from_slice(&v.wrapping_add(d).to_ne_bytes());
}

/// Re-insert the tags of every VLAN packet of `block` (a whole held block).
/// Returns the number of packets changed and the walk's error, if the block
/// is malformed (the packets before the fault are processed). A packet with
/// no room before its data or fewer than 12 captured bytes is left as is.
pub fn reinsert_block(block: &mut [u8]) -> (u32, Option<Malformed>) {
    let hdr = match block_header(block) {
        Ok(hdr) => hdr,
        Err(m) => return (0, Some(m)),
    };
    let base = block.as_ptr() as usize;
    let (mut off, mut remaining) = (hdr.first as usize, hdr.num_pkts);
    let mut changed = 0;
    while remaining > 0 {
        let cur = off;
        let mut it = PacketIter::resume(block, off, remaining);
        let Some(p) = it.next() else {
            return (changed, it.error());
        };
        (off, remaining) = it.position();
        let err = it.error();
        let start = p.data().as_ptr() as usize - base;
        let caplen = p.data().len();
        let flags = p.flags();
        let (tci, tpid) = (p.vlan_tci, p.vlan_tpid);
        if flags.contains(PacketFlags::VLAN_VALID)
            && caplen >= 12
            && start >= cur + h::HDRLEN + VLAN_HLEN
        {
            let tpid = if flags.contains(PacketFlags::VLAN_TPID_VALID) && tpid != 0 {
                tpid
            } else {
                ETH_P_8021Q
            };
            let new = start - VLAN_HLEN;
            block.copy_within(start..start + 12, new);
            block[new + 12..new + 14].copy_from_slice(&tpid.to_be_bytes());
            block[new + 14..new + 16].copy_from_slice(&tci.to_be_bytes());
            put16(block, cur + h::MAC, (new - cur) as u16);
            add32(block, cur + h::SNAPLEN, VLAN_HLEN as u32);
            add32(block, cur + h::LEN, VLAN_HLEN as u32);
            changed += 1;
        }
        if err.is_some() {
            return (changed, err);
        }
    }
    (changed, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::synth::{self, MAC_OFFSET};
    use crate::sys::tpacket::{TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID, block_desc as bd};

    fn rd32(b: &[u8], off: usize) -> u32 {
        u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
    }

    fn tag(b: &mut [u8], pkt: usize, tci: u32, tpid: Option<u16>) {
        let mut st = rd32(b, pkt + h::STATUS) | TP_STATUS_VLAN_VALID;
        if let Some(t) = tpid {
            st |= TP_STATUS_VLAN_TPID_VALID;
            b[pkt + h::VLAN_TPID..pkt + h::VLAN_TPID + 2].copy_from_slice(&t.to_ne_bytes());
        }
        b[pkt + h::STATUS..pkt + h::STATUS + 4].copy_from_slice(&st.to_ne_bytes());
        b[pkt + h::VLAN_TCI..pkt + h::VLAN_TCI + 4].copy_from_slice(&tci.to_ne_bytes());
    }

    #[test]
    fn tagged_frame_copies_the_frame_with_its_tag() {
        let f: Vec<u8> = (0..60u8).collect();
        let mut p = Packet::from_file(&f, 0, 60, 0, 0x0800, 0);
        let mut buf = [0u8; 80];
        let plain = TaggedFrame::of(&p).unwrap();
        assert_eq!(plain.size(), 60);
        plain.write_to(&mut buf);
        assert_eq!(&buf[..60], &f[..]);
        p.flags = PacketFlags::VLAN_VALID | PacketFlags::VLAN_TPID_VALID;
        (p.vlan_tci, p.vlan_tpid) = (0x2005, 0);
        let t = TaggedFrame::of(&p).unwrap();
        assert_eq!(t.size(), 64);
        t.write_to(&mut buf);
        assert_eq!(&buf[..12], &f[..12]);
        // A TPID reported as 0 is 802.1Q.
        assert_eq!(&buf[12..16], &[0x81, 0x00, 0x20, 0x05]);
        assert_eq!(&buf[16..64], &f[12..]);
        assert!(TaggedFrame::of(&Packet::from_file(&f[..13], 0, 13, 0, 0, 0)).is_none());
    }

    #[test]
    fn tags_are_reinserted_byte_exact() {
        let f0: Vec<u8> = (0..60u8).collect();
        let f1: Vec<u8> = (100..180u8).collect();
        let f2: Vec<u8> = (0..64u8).map(|x| x ^ 0x5a).collect();
        let mut w = synth::block(4096, 1, &[&f0, &f1, &f2]);
        let b = synth::bytes(&mut w);
        let p0 = bd::SIZE;
        let p1 = p0 + (MAC_OFFSET + f0.len()).next_multiple_of(8);
        tag(b, p0, 100, None);
        tag(b, p1, 0x2005, Some(0x88a8));
        let (n, err) = reinsert_block(b);
        assert_eq!((n, err), (2, None));
        let pkts: Vec<_> = PacketIter::new(b).collect();
        assert_eq!(pkts.len(), 3);
        let mut want0 = f0[..12].to_vec();
        want0.extend_from_slice(&[0x81, 0x00, 0x00, 100]);
        want0.extend_from_slice(&f0[12..]);
        assert_eq!(pkts[0].data(), &want0[..]);
        assert_eq!(pkts[0].wire_len(), 64);
        let mut want1 = f1[..12].to_vec();
        want1.extend_from_slice(&[0x88, 0xa8, 0x20, 0x05]);
        want1.extend_from_slice(&f1[12..]);
        assert_eq!(pkts[1].data(), &want1[..]);
        assert_eq!(pkts[1].vlan_tci(), Some(0x2005));
        assert_eq!(pkts[2].data(), &f2[..]);
    }

    /// A block holding one 60-byte frame the kernel untagged (TCI 7).
    fn one_tagged_frame() -> Vec<u64> {
        let f0: Vec<u8> = (0..60u8).collect();
        let mut w = synth::block(4096, 1, &[&f0]);
        tag(synth::bytes(&mut w), bd::SIZE, 7, None);
        w
    }

    #[test]
    fn no_room_leaves_the_packet_alone() {
        let mut w = one_tagged_frame();
        let b = synth::bytes(&mut w);
        // Move the data right up against the header: no room.
        let mac = h::HDRLEN as u16 + 2;
        b[bd::SIZE + h::MAC..bd::SIZE + h::MAC + 2].copy_from_slice(&mac.to_ne_bytes());
        assert_eq!(reinsert_block(b), (0, None));
    }

    #[test]
    fn malformed_block_stops_safely() {
        let mut w = one_tagged_frame();
        let b = synth::bytes(&mut w);
        b[bd::SIZE + h::SNAPLEN..bd::SIZE + h::SNAPLEN + 4]
            .copy_from_slice(&u32::MAX.to_ne_bytes());
        let (n, err) = reinsert_block(b);
        assert_eq!(n, 0);
        assert!(err.is_some());
    }
}
