//! The `any` device: a cooked capture on every interface, each frame
//! delivered behind a `DLT_LINUX_SLL` (or `SLL2`) header built from the
//! ring's metadata, as libpcap's `pcap_handle_packet_mmap` does in cooked
//! mode; and libpcap's fix-up of a filter compiled for those headers
//! before the kernel runs it.

use netring_engine::Packet;

use crate::datalink::DLT_LINUX_SLL2;
use crate::live::read::{Record, Sel};
use crate::live::{D_IN, D_OUT};
use crate::types::BpfInsnC;
use crate::vlan;

/// `SLL_HDR_LEN`.
pub const SLL_HDR_LEN: usize = 16;
/// `SLL2_HDR_LEN`.
pub const SLL2_HDR_LEN: usize = 20;
/// `PACKET_OUTGOING`.
pub const PACKET_OUTGOING: u8 = 4;

/// The index of `lo` in the calling thread's namespace (-1 when none).
pub fn lo_ifindex() -> i32 {
    // SAFETY: a NUL-terminated constant name.
    let i = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
    if i == 0 { -1 } else { i as i32 }
}

/// The record of `p` on the `any` device, built into `buf`: direction
/// check with `lo`'s outgoing copies dropped, user-space filter on the
/// cooked bytes, VLAN tag put back before the SLL protocol field (SLL2
/// has none). None when the packet is not delivered.
pub fn cook(sel: &Sel, p: &Packet<'_>, buf: &mut Vec<u8>) -> Option<Record> {
    let outgoing = p.pkt_type == PACKET_OUTGOING;
    if outgoing && (p.ifindex == sel.lo_ifindex || sel.direction == D_IN) {
        return None;
    }
    if !outgoing && sel.direction == D_OUT {
        return None;
    }
    if sel.protocol != 0 && p.protocol != sel.protocol {
        return None;
    }
    let sll2 = sel.linktype == DLT_LINUX_SLL2;
    buf.clear();
    if sll2 {
        buf.extend_from_slice(&p.protocol.to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&(p.ifindex as u32).to_be_bytes());
        buf.extend_from_slice(&p.hw.hatype.to_be_bytes());
        buf.push(p.pkt_type);
        buf.push(p.hw.len);
        buf.extend_from_slice(&p.hw.addr);
    } else {
        buf.extend_from_slice(&u16::from(p.pkt_type).to_be_bytes());
        buf.extend_from_slice(&p.hw.hatype.to_be_bytes());
        buf.extend_from_slice(&u16::from(p.hw.len).to_be_bytes());
        buf.extend_from_slice(&p.hw.addr);
        buf.extend_from_slice(&p.protocol.to_be_bytes());
    }
    let hdr_len = buf.len() as u32;
    buf.extend_from_slice(p.data);
    if sel.filter.verdict(p, buf) == Some(0) {
        return None;
    }
    let mut len = p.wire_len + hdr_len;
    if !sll2 && vlan::reinsert(p, buf, vlan::OFFSET_SLL) {
        len += vlan::TAG_LEN;
    }
    Some(Record {
        caplen: (buf.len() as u32).min(sel.snapshot),
        len,
        copied: true,
    })
}

const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_IFINDEX: u32 = 8;

/// libpcap's `fix_program`/`fix_offset` for a cooked socket: the program
/// libpcap compiled reads an SLL (or SLL2) header the kernel does not
/// have; loads past it move down by its length, loads of the protocol,
/// packet type (and, for SLL2, interface index) become ancillary loads.
/// None when the program reads another header field: it then runs in user
/// space only.
pub fn fix_cooked(prog: &[BpfInsnC], sll2: bool) -> Option<Vec<BpfInsnC>> {
    let (hdr, map): (u32, &[(u32, u32)]) = if sll2 {
        (
            SLL2_HDR_LEN as u32,
            &[
                (0, SKF_AD_PROTOCOL),
                (4, SKF_AD_IFINDEX),
                (10, SKF_AD_PKTTYPE),
            ],
        )
    } else {
        (
            SLL_HDR_LEN as u32,
            &[(0, SKF_AD_PKTTYPE), (14, SKF_AD_PROTOCOL)],
        )
    };
    let mut out = prog.to_vec();
    for p in &mut out {
        let class = p.code & 0x07;
        let mode = p.code & 0xe0;
        // BPF_LD / BPF_LDX with BPF_ABS, BPF_IND or BPF_MSH.
        if !(class == 0x00 || class == 0x01) || !(mode == 0x20 || mode == 0x40 || mode == 0xa0) {
            continue;
        }
        if p.k >= SKF_AD_OFF {
            continue;
        }
        if p.k >= hdr {
            p.k -= hdr;
        } else if let Some(&(_, ad)) = map.iter().find(|(off, _)| *off == p.k) {
            p.k = SKF_AD_OFF.wrapping_add(ad);
        } else if (p.k as i32) > 0 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooked_fix_up_is_libpcaps() {
        let i = |code: u16, k: u32| BpfInsnC {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        // ldh [14]; ldb [0]; ld [20]; ldxb 4*([16]&0xf); ldh [x+18]; ret #262144
        let p = [
            i(0x28, 14),
            i(0x30, 0),
            i(0x20, 20),
            i(0xb1, 16),
            i(0x48, 18),
            i(0x06, 262_144),
        ];
        let f = fix_cooked(&p, false).unwrap();
        let ks: Vec<u32> = f.iter().map(|x| x.k).collect();
        assert_eq!(
            ks,
            [SKF_AD_OFF, SKF_AD_OFF + 4, 4, 0, 2, 262_144],
            "SLL: protocol and pkttype become ancillary, the rest moves down 16"
        );
        // SLL2: protocol at 0, ifindex at 4, pkttype at 10; 20 bytes.
        let p2 = [i(0x28, 0), i(0x20, 4), i(0x30, 10), i(0x28, 32), i(0x06, 1)];
        let ks: Vec<u32> = fix_cooked(&p2, true).unwrap().iter().map(|x| x.k).collect();
        assert_eq!(ks, [SKF_AD_OFF, SKF_AD_OFF + 8, SKF_AD_OFF + 4, 12, 1]);
        // Another header field (the hardware type): user space only.
        assert!(fix_cooked(&[i(0x28, 2), i(0x06, 1)], false).is_none());
        assert!(fix_cooked(&[i(0x28, 8), i(0x06, 1)], true).is_none());
    }
}
