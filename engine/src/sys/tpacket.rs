//! AF_PACKET / TPACKET ring ABI (`<linux/if_packet.h>`), with layout tests.
//!
//! The structures are read from ring memory with bounds-checked, unaligned
//! loads (see [`crate::afpacket::block`]), so only the *offsets* matter; the
//! `repr(C)` structs exist for `setsockopt` arguments and for the layout tests
//! that pin the offsets to the kernel's.

/// `SOL_PACKET` socket level.
pub const SOL_PACKET: libc::c_int = 263;

/// `PACKET_ADD_MEMBERSHIP`.
pub const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
/// `PACKET_RX_RING`.
pub const PACKET_RX_RING: libc::c_int = 5;
/// `PACKET_STATISTICS`.
pub const PACKET_STATISTICS: libc::c_int = 6;
/// `PACKET_VERSION`.
pub const PACKET_VERSION: libc::c_int = 10;
/// `PACKET_COPY_THRESH`: a frame too long for a TPACKET_V2 ring frame is
/// also queued whole on the socket's receive queue (`TP_STATUS_COPY`).
pub const PACKET_COPY_THRESH: libc::c_int = 7;
/// `PACKET_RESERVE`.
pub const PACKET_RESERVE: libc::c_int = 12;
/// `PACKET_TX_RING`.
pub const PACKET_TX_RING: libc::c_int = 13;
/// `PACKET_LOSS`.
pub const PACKET_LOSS: libc::c_int = 14;
/// `PACKET_TIMESTAMP`.
pub const PACKET_TIMESTAMP: libc::c_int = 17;
/// `PACKET_FANOUT`.
pub const PACKET_FANOUT: libc::c_int = 18;
/// `PACKET_QDISC_BYPASS`.
pub const PACKET_QDISC_BYPASS: libc::c_int = 20;
/// `PACKET_IGNORE_OUTGOING`.
pub const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// `PACKET_MR_PROMISC` membership type.
pub const PACKET_MR_PROMISC: libc::c_ushort = 1;

/// `TPACKET_V2` (TX rings, and the immediate-mode RX frame ring).
pub const TPACKET_V2: libc::c_int = 1;
/// `TPACKET_V3` (block-based RX rings).
pub const TPACKET_V3: libc::c_int = 2;

/// Ask the kernel to fill `tp_rxhash` (costs throughput: opt-in).
pub const TP_FT_REQ_FILL_RXHASH: u32 = 1;

/// `ETH_P_ALL`, in host order.
pub const ETH_P_ALL: u16 = 0x0003;

/// Block/frame owned by the kernel.
pub const TP_STATUS_KERNEL: u32 = 0;
/// Block/frame owned by user space.
pub const TP_STATUS_USER: u32 = 1 << 0;
/// Frame was truncated to the ring's frame size (copy threshold).
pub const TP_STATUS_COPY: u32 = 1 << 1;
/// Drops happened since the last statistics read.
pub const TP_STATUS_LOSING: u32 = 1 << 2;
/// Checksum not yet computed (outgoing offload).
pub const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
/// `tp_vlan_tci` is valid.
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
/// Block retired by the timer (block status only).
pub const TP_STATUS_BLK_TMO: u32 = 1 << 5;
/// `tp_vlan_tpid` is valid.
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
/// Checksum verified by the device or stack.
pub const TP_STATUS_CSUM_VALID: u32 = 1 << 7;
/// Software timestamp.
pub const TP_STATUS_TS_SOFTWARE: u32 = 1 << 29;
/// Hardware timestamp converted to system time.
pub const TP_STATUS_TS_SYS_HARDWARE: u32 = 1 << 30;
/// Raw hardware timestamp.
pub const TP_STATUS_TS_RAW_HARDWARE: u32 = 1 << 31;

/// TX frame free for user space.
pub const TP_STATUS_AVAILABLE: u32 = 0;
/// TX frame handed to the kernel for sending.
pub const TP_STATUS_SEND_REQUEST: u32 = 1 << 0;
/// TX frame being sent.
pub const TP_STATUS_SENDING: u32 = 1 << 1;
/// TX frame rejected by the kernel.
pub const TP_STATUS_WRONG_FORMAT: u32 = 1 << 2;

/// `struct tpacket_req3`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct TpacketReq3 {
    /// Size of one block, a multiple of the page size.
    pub tp_block_size: u32,
    /// Number of blocks.
    pub tp_block_nr: u32,
    /// Frame size (V3: only used for the frame count check).
    pub tp_frame_size: u32,
    /// Total number of frames.
    pub tp_frame_nr: u32,
    /// Block retire timeout in ms.
    pub tp_retire_blk_tov: u32,
    /// Private area per block.
    pub tp_sizeof_priv: u32,
    /// Feature request word (`TP_FT_REQ_FILL_RXHASH`).
    pub tp_feature_req_word: u32,
}

/// `struct tpacket_req` (V1/V2 rings, used for the TX ring).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct TpacketReq {
    /// Size of one block.
    pub tp_block_size: u32,
    /// Number of blocks.
    pub tp_block_nr: u32,
    /// Size of one frame.
    pub tp_frame_size: u32,
    /// Total number of frames.
    pub tp_frame_nr: u32,
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct TpacketStatsV3 {
    /// Packets seen since the last read, *including* `tp_drops`.
    pub tp_packets: u32,
    /// Packets dropped since the last read (ring full).
    pub tp_drops: u32,
    /// Times the queue was frozen since the last read.
    pub tp_freeze_q_cnt: u32,
}

/// `struct tpacket_stats` (what `PACKET_STATISTICS` returns for a
/// TPACKET_V1/V2 ring).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct TpacketStats {
    /// Packets seen since the last read, *including* `tp_drops`.
    pub tp_packets: u32,
    /// Packets dropped since the last read (ring full).
    pub tp_drops: u32,
}

/// `struct packet_mreq`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PacketMreq {
    /// Interface index.
    pub mr_ifindex: libc::c_int,
    /// `PACKET_MR_*`.
    pub mr_type: libc::c_ushort,
    /// Address length.
    pub mr_alen: libc::c_ushort,
    /// Address.
    pub mr_address: [u8; 8],
}

/// Offsets in `struct tpacket_block_desc` (with `tpacket_hdr_v1`).
pub mod block_desc {
    /// `version` (u32).
    pub const VERSION: usize = 0;
    /// `hdr.bh1.block_status` (u32, shared with the kernel).
    pub const BLOCK_STATUS: usize = 8;
    /// `hdr.bh1.num_pkts` (u32).
    pub const NUM_PKTS: usize = 12;
    /// `hdr.bh1.offset_to_first_pkt` (u32).
    pub const OFFSET_TO_FIRST_PKT: usize = 16;
    /// `hdr.bh1.blk_len` (u32).
    pub const BLK_LEN: usize = 20;
    /// `hdr.bh1.seq_num` (u64).
    pub const SEQ_NUM: usize = 24;
    /// Size of the descriptor.
    pub const SIZE: usize = 48;
}

/// Offsets in `struct tpacket3_hdr` and the `sockaddr_ll` that follows it.
pub mod v3_hdr {
    /// `tp_next_offset` (u32).
    pub const NEXT_OFFSET: usize = 0;
    /// `tp_sec` (u32).
    pub const SEC: usize = 4;
    /// `tp_nsec` (u32).
    pub const NSEC: usize = 8;
    /// `tp_snaplen` (u32).
    pub const SNAPLEN: usize = 12;
    /// `tp_len` (u32).
    pub const LEN: usize = 16;
    /// `tp_status` (u32).
    pub const STATUS: usize = 20;
    /// `tp_mac` (u16).
    pub const MAC: usize = 24;
    /// `tp_net` (u16).
    pub const NET: usize = 26;
    /// `hv1.tp_rxhash` (u32).
    pub const RXHASH: usize = 28;
    /// `hv1.tp_vlan_tci` (u32).
    pub const VLAN_TCI: usize = 32;
    /// `hv1.tp_vlan_tpid` (u16).
    pub const VLAN_TPID: usize = 36;
    /// `sizeof(struct tpacket3_hdr)`.
    pub const SIZE: usize = 48;
    /// `sockaddr_ll` starts at `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`.
    pub const SLL: usize = 48;
    /// `sll_protocol` (u16, network order).
    pub const SLL_PROTOCOL: usize = SLL + 2;
    /// `sll_ifindex` (i32).
    pub const SLL_IFINDEX: usize = SLL + 4;
    /// `sll_hatype` (u16).
    pub const SLL_HATYPE: usize = SLL + 8;
    /// `sll_pkttype` (u8).
    pub const SLL_PKTTYPE: usize = SLL + 10;
    /// `sll_halen` (u8).
    pub const SLL_HALEN: usize = SLL + 11;
    /// `sll_addr` (8 bytes).
    pub const SLL_ADDR: usize = SLL + 12;
    /// Bytes the header plus `sockaddr_ll` need: `TPACKET3_HDRLEN`.
    pub const HDRLEN: usize = SLL + 20;
}

/// Offsets in `struct sockaddr_ll`, which follows every RX packet header
/// (V2 and V3).
pub mod sll {
    /// `sll_protocol` (u16, network order).
    pub const PROTOCOL: usize = 2;
    /// `sll_ifindex` (i32).
    pub const IFINDEX: usize = 4;
    /// `sll_hatype` (u16).
    pub const HATYPE: usize = 8;
    /// `sll_pkttype` (u8).
    pub const PKTTYPE: usize = 10;
    /// `sll_halen` (u8).
    pub const HALEN: usize = 11;
    /// `sll_addr` (8 bytes).
    pub const ADDR: usize = 12;
    /// `sizeof(struct sockaddr_ll)`.
    pub const SIZE: usize = 20;
}

/// Offsets in `struct tpacket2_hdr` and, for RX frames, the `sockaddr_ll`
/// that follows it (TX frames and the immediate-mode RX frame ring).
pub mod v2_hdr {
    /// `tp_status` (u32, shared with the kernel).
    pub const STATUS: usize = 0;
    /// `tp_len` (u32).
    pub const LEN: usize = 4;
    /// `tp_snaplen` (u32).
    pub const SNAPLEN: usize = 8;
    /// `tp_mac` (u16).
    pub const MAC: usize = 12;
    /// `tp_net` (u16).
    pub const NET: usize = 14;
    /// `tp_sec` (u32).
    pub const SEC: usize = 16;
    /// `tp_nsec` (u32).
    pub const NSEC: usize = 20;
    /// `tp_vlan_tci` (u16).
    pub const VLAN_TCI: usize = 24;
    /// `tp_vlan_tpid` (u16).
    pub const VLAN_TPID: usize = 26;
    /// `sizeof(struct tpacket2_hdr)`.
    pub const SIZE: usize = 32;
    /// The `sockaddr_ll` of an RX frame ([`super::sll`]) starts at
    /// `TPACKET_ALIGN(sizeof(struct tpacket2_hdr))`.
    pub const SLL: usize = 32;
    /// Bytes the header plus `sockaddr_ll` need: `TPACKET2_HDRLEN`.
    pub const HDRLEN: usize = SLL + super::sll::SIZE;
    /// Where the kernel expects TX frame data: `TPACKET_ALIGN(sizeof(tpacket2_hdr))`
    /// (the `sockaddr_ll` is not used for TX when `tp_mac`/`tp_net` are 0).
    pub const DATA: usize = 32;
}

/// `TPACKET_ALIGNMENT`.
pub const TPACKET_ALIGNMENT: usize = 16;

/// `TPACKET_ALIGN(x)`.
pub const fn tpacket_align(x: usize) -> usize {
    (x + TPACKET_ALIGNMENT - 1) & !(TPACKET_ALIGNMENT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn request_layouts_match_the_kernel() {
        assert_eq!(size_of::<TpacketReq3>(), 28);
        assert_offsets!(TpacketReq3 {
            tp_retire_blk_tov => 16,
            tp_feature_req_word => 24,
        });
        assert_eq!(size_of::<TpacketReq>(), 16);
        assert_eq!(size_of::<TpacketStatsV3>(), 12);
        assert_eq!(size_of::<PacketMreq>(), 16);
        assert_eq!(offset_of!(PacketMreq, mr_type), 4);
    }

    #[test]
    fn header_offsets_match_libc() {
        // libc carries the kernel's structs; pin our offsets to them.
        assert_eq!(size_of::<libc::tpacket3_hdr>(), v3_hdr::SIZE);
        assert_offsets!(libc::tpacket3_hdr {
            tp_snaplen => v3_hdr::SNAPLEN,
            tp_len => v3_hdr::LEN,
            tp_status => v3_hdr::STATUS,
            tp_mac => v3_hdr::MAC,
            tp_net => v3_hdr::NET,
            hv1 => v3_hdr::RXHASH,
        });
        assert_offsets!(libc::tpacket_hdr_variant1 {
            tp_vlan_tci => 4,
            tp_vlan_tpid => 8,
        });
        assert_eq!(size_of::<libc::tpacket2_hdr>(), v2_hdr::SIZE);
        assert_offsets!(libc::tpacket2_hdr {
            tp_len => v2_hdr::LEN,
            tp_mac => v2_hdr::MAC,
            tp_status => v2_hdr::STATUS,
            tp_snaplen => v2_hdr::SNAPLEN,
            tp_net => v2_hdr::NET,
            tp_sec => v2_hdr::SEC,
            tp_nsec => v2_hdr::NSEC,
            tp_vlan_tci => v2_hdr::VLAN_TCI,
            tp_vlan_tpid => v2_hdr::VLAN_TPID,
        });
        assert_eq!(v2_hdr::SLL, tpacket_align(v2_hdr::SIZE));
        assert_eq!(
            v2_hdr::HDRLEN,
            tpacket_align(v2_hdr::SIZE) + size_of::<libc::sockaddr_ll>()
        );
        assert_eq!(size_of::<libc::sockaddr_ll>(), sll::SIZE);
        assert_offsets!(libc::sockaddr_ll {
            sll_protocol => sll::PROTOCOL,
            sll_ifindex => sll::IFINDEX,
            sll_hatype => sll::HATYPE,
            sll_pkttype => sll::PKTTYPE,
            sll_halen => sll::HALEN,
            sll_addr => sll::ADDR,
        });
        assert_eq!(v3_hdr::SLL_ADDR, v3_hdr::SLL + sll::ADDR);
        assert_eq!(size_of::<TpacketStats>(), 8);
        assert_offsets!(libc::sockaddr_ll {
            sll_pkttype => 10,
            sll_ifindex => 4,
            sll_hatype => 8,
            sll_halen => 11,
            sll_addr => 12,
        });
        assert_eq!(v3_hdr::SLL_ADDR - v3_hdr::SLL, 12);
        assert_eq!(v3_hdr::SLL_HALEN - v3_hdr::SLL, 11);
        assert_eq!(
            v3_hdr::HDRLEN,
            tpacket_align(v3_hdr::SIZE) + size_of::<libc::sockaddr_ll>()
        );
        assert_eq!(size_of::<libc::tpacket_block_desc>(), block_desc::SIZE);
        assert_eq!(offset_of!(libc::tpacket_block_desc, hdr), 8);
        assert_offsets!(libc::tpacket_hdr_v1 {
            num_pkts => block_desc::NUM_PKTS - 8,
            offset_to_first_pkt => block_desc::OFFSET_TO_FIRST_PKT - 8,
            seq_num => block_desc::SEQ_NUM - 8,
        });
    }

    #[test]
    fn align() {
        assert_eq!(tpacket_align(48), 48);
        assert_eq!(tpacket_align(49), 64);
        assert_eq!(tpacket_align(0), 0);
    }
}
