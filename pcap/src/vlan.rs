//! VLAN tag re-insertion, libpcap's way (`pcap_handle_packet_mmap` of
//! pcap-linux.c, 1.10): the kernel moved the 802.1Q/802.1ad tag into the
//! ring's metadata; the tag goes back into the bytes a program sees, at
//! the link type's `vlan_offset` (12 for Ethernet: after the MAC
//! addresses; 14 for `DLT_LINUX_SLL`: before the SLL protocol field; SLL2
//! carries no tag), when the captured frame (`tp_snaplen`, the bytes
//! without any cooked header) is at least `vlan_offset` long.
//!
//! The engine's `afpacket::vlan` re-inserts in place inside a held ring
//! block (with `PACKET_RESERVE` room), for a whole block; the drop-in
//! copies only the tagged frames into a buffer it already has to build
//! (a cooked header, or its user-space filter's view), so it uses this.

use netring_engine::{Packet, PacketFlags};

/// `vlan_offset` of an Ethernet frame: after the two MAC addresses.
pub const OFFSET_ETHERNET: usize = 12;
/// `vlan_offset` of an SLL record: `SLL_HDR_LEN - 2`, before the protocol.
pub const OFFSET_SLL: usize = 14;
/// Bytes a tag adds (`VLAN_TAG_LEN`).
pub const TAG_LEN: u32 = 4;

/// 802.1Q TPID, used when the kernel did not report one.
const ETH_P_8021Q: u16 = 0x8100;

/// Put `p`'s stripped VLAN tag back into `buf` (the bytes delivered for
/// `p`, starting with its link-layer header) at `vlan_offset`. True when a
/// tag was inserted (the record's `caplen` and `len` grow by
/// [`TAG_LEN`]); false when `p` carries no tag, or its captured frame is
/// shorter than `vlan_offset` (libpcap's bound), or `buf` is.
pub fn reinsert(p: &Packet<'_>, buf: &mut Vec<u8>, vlan_offset: usize) -> bool {
    if !p.flags.contains(PacketFlags::VLAN_VALID)
        || p.data.len() < vlan_offset
        || buf.len() < vlan_offset
    {
        return false;
    }
    let tpid = if p.flags.contains(PacketFlags::VLAN_TPID_VALID) && p.vlan_tpid != 0 {
        p.vlan_tpid
    } else {
        ETH_P_8021Q
    };
    let mut tag = [0u8; 4];
    tag[..2].copy_from_slice(&tpid.to_be_bytes());
    tag[2..].copy_from_slice(&p.vlan_tci.to_be_bytes());
    buf.splice(vlan_offset..vlan_offset, tag);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(data: &[u8], flags: PacketFlags, tci: u16, tpid: u16) -> Packet<'_> {
        Packet {
            data,
            flags,
            ts_ns: 0,
            wire_len: data.len() as u32,
            ifindex: 1,
            rxhash: 0,
            vlan_tci: tci,
            vlan_tpid: tpid,
            protocol: 0x0800,
            pkt_type: 0,
            hw: Default::default(),
        }
    }

    #[test]
    fn ethernet_tag_after_the_macs() {
        let f: Vec<u8> = (0..20u8).collect();
        let p = pkt(&f, PacketFlags::VLAN_VALID, 0x0064, 0);
        let mut b = f.clone();
        assert!(reinsert(&p, &mut b, OFFSET_ETHERNET));
        let mut want = f[..12].to_vec();
        want.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        want.extend_from_slice(&f[12..]);
        assert_eq!(b, want);
        // The reported TPID (802.1ad) is used when valid.
        let p = pkt(
            &f,
            PacketFlags::VLAN_VALID | PacketFlags::VLAN_TPID_VALID,
            0x2005,
            0x88a8,
        );
        let mut b = f.clone();
        assert!(reinsert(&p, &mut b, OFFSET_ETHERNET));
        assert_eq!(&b[12..16], &[0x88, 0xa8, 0x20, 0x05]);
    }

    #[test]
    fn the_bound_is_libpcaps() {
        // Ethernet: a frame of exactly 12 bytes gets the tag, 11 does not.
        for (len, tagged) in [(11, false), (12, true)] {
            let f = vec![7u8; len];
            let p = pkt(&f, PacketFlags::VLAN_VALID, 1, 0);
            let mut b = f.clone();
            assert_eq!(reinsert(&p, &mut b, OFFSET_ETHERNET), tagged, "{len}");
            assert_eq!(b.len(), len + if tagged { 4 } else { 0 });
        }
        // SLL: the frame (without the 16-byte cooked header) must hold 14.
        for (len, tagged) in [(13, false), (14, true)] {
            let f = vec![7u8; len];
            let p = pkt(&f, PacketFlags::VLAN_VALID, 1, 0);
            let mut b = vec![0u8; 16];
            b.extend_from_slice(&f);
            assert_eq!(reinsert(&p, &mut b, OFFSET_SLL), tagged, "{len}");
            if tagged {
                assert_eq!(&b[14..18], &[0x81, 0, 0, 1]);
            }
        }
    }

    #[test]
    fn untagged_frames_stay() {
        let f = vec![1u8; 60];
        let p = pkt(&f, PacketFlags::empty(), 5, 0);
        let mut b = f.clone();
        assert!(!reinsert(&p, &mut b, OFFSET_ETHERNET));
        assert_eq!(b, f);
    }
}
