//! [`Packet`]: a borrowed view of one frame plus its metadata.

use bitflags::bitflags;

bitflags! {
    /// Per-packet status flags. The values are part of the C ABI
    /// (`NR_PKT_*` in `netring.h`). Where the kernel has a `TP_STATUS_*` bit
    /// for the same fact, the flag uses that bit, so a ring packet's flags
    /// are its status word masked (no per-flag translation per packet).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PacketFlags: u32 {
        /// The kernel dropped packets around this one (ring was full).
        /// (`TP_STATUS_LOSING`)
        const LOSING = 1 << 2;
        /// The checksum is not computed yet (outgoing, offloaded).
        /// (`TP_STATUS_CSUMNOTREADY`)
        const CSUM_NOT_READY = 1 << 3;
        /// `vlan_tci` is valid (the kernel stripped an 802.1Q/802.1ad tag).
        /// (`TP_STATUS_VLAN_VALID`)
        const VLAN_VALID = 1 << 4;
        /// `vlan_tpid` is valid. (`TP_STATUS_VLAN_TPID_VALID`)
        const VLAN_TPID_VALID = 1 << 6;
        /// The checksum was verified by the device or the stack.
        /// (`TP_STATUS_CSUM_VALID`)
        const CSUM_VALID = 1 << 7;
        /// The frame was cut: captured length < wire length (netring's own
        /// bit; the kernel has none for it).
        const TRUNCATED = 1 << 16;
        /// The timestamp is a software timestamp. (`TP_STATUS_TS_SOFTWARE`)
        const TS_SOFTWARE = 1 << 29;
        /// The timestamp is a hardware timestamp converted to system time.
        /// (`TP_STATUS_TS_SYS_HARDWARE`)
        const TS_SYS_HARDWARE = 1 << 30;
        /// The timestamp is a raw hardware timestamp.
        /// (`TP_STATUS_TS_RAW_HARDWARE`)
        const TS_RAW_HARDWARE = 1 << 31;
    }
}

/// Where a packet was going, from the kernel's point of view (`PACKET_*` of
/// `<linux/if_packet.h>`). Values are part of the C ABI (`nr_packet_type`, `NR_PACKET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// To us.
    Host = 0,
    /// To all (broadcast).
    Broadcast = 1,
    /// To a group (multicast).
    Multicast = 2,
    /// To someone else (seen in promiscuous mode or on a mirror port).
    OtherHost = 3,
    /// Sent by this host.
    Outgoing = 4,
    /// Looped back.
    Loopback = 5,
    /// Any other value the kernel reports.
    Other = 255,
}

impl PacketType {
    /// From the kernel's `sll_pkttype`.
    pub fn from_raw(v: u8) -> PacketType {
        match v {
            0 => PacketType::Host,
            1 => PacketType::Broadcast,
            2 => PacketType::Multicast,
            3 => PacketType::OtherHost,
            4 => PacketType::Outgoing,
            5 => PacketType::Loopback,
            _ => PacketType::Other,
        }
    }
}

/// The link-layer header's fields as the kernel reports them for a ring
/// frame (the `sockaddr_ll` after each `tpacket3_hdr`): what a cooked
/// capture ([`crate::Capture::open_any`]) needs to rebuild a `DLT_LINUX_SLL`
/// header. All zero for AF_XDP and capture-file packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HwAddr {
    /// `sll_hatype`: the device's `ARPHRD_*` type.
    pub hatype: u16,
    /// `sll_halen`: bytes of `addr` in use (the kernel reports up to 8).
    pub len: u8,
    /// `sll_addr`: the link-layer source address.
    pub addr: [u8; 8],
}

/// One received frame: a view into ring (or UMEM) memory and its metadata.
/// The data is valid as long as the batch it came from. The default is an
/// empty packet with every field zero (for tests and tools that build one).
#[derive(Debug, Clone, Copy, Default)]
pub struct Packet<'a> {
    /// The captured bytes, starting at the link-layer header.
    pub data: &'a [u8],
    /// Timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length on the wire (>= `data.len()`).
    pub wire_len: u32,
    /// Interface index the packet was seen on.
    pub ifindex: i32,
    /// Receive hash (0 unless requested).
    pub rxhash: u32,
    /// VLAN TCI, valid if `flags` has [`PacketFlags::VLAN_VALID`].
    pub vlan_tci: u16,
    /// VLAN TPID, valid if `flags` has [`PacketFlags::VLAN_TPID_VALID`].
    pub vlan_tpid: u16,
    /// EtherType (link-layer protocol) in host byte order.
    pub protocol: u16,
    /// The kernel's `sll_pkttype` ([`PacketType::from_raw`]).
    pub pkt_type: u8,
    /// Status flags.
    pub flags: PacketFlags,
    /// Link-layer type and source address (TPACKET_V3 rings only).
    pub hw: HwAddr,
}

impl<'a> Packet<'a> {
    /// A packet read from a capture file: no kernel metadata beyond what
    /// the file stores.
    pub(crate) fn from_file(
        data: &'a [u8],
        ts_ns: u64,
        wire_len: u32,
        ifindex: i32,
        protocol: u16,
        pkt_type: u8,
    ) -> Packet<'a> {
        let flags = if (data.len() as u32) < wire_len {
            PacketFlags::TRUNCATED
        } else {
            PacketFlags::empty()
        };
        Packet {
            data,
            ts_ns,
            wire_len,
            ifindex,
            rxhash: 0,
            vlan_tci: 0,
            vlan_tpid: 0,
            protocol,
            pkt_type,
            flags,
            hw: HwAddr::default(),
        }
    }

    /// The captured bytes, starting at the link-layer (Ethernet) header.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// Captured length (`data().len()`).
    pub fn caplen(&self) -> u32 {
        self.data.len() as u32
    }
    /// Length on the wire (≥ caplen).
    pub fn wire_len(&self) -> u32 {
        self.wire_len
    }
    /// Timestamp in nanoseconds since the Unix epoch.
    pub fn timestamp_ns(&self) -> u64 {
        self.ts_ns
    }
    /// Interface index the packet was seen on.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }
    /// Receive hash (0 unless `fill_rxhash` was enabled).
    pub fn rxhash(&self) -> u32 {
        self.rxhash
    }
    /// VLAN TCI when [`PacketFlags::VLAN_VALID`] is set.
    pub fn vlan_tci(&self) -> Option<u16> {
        self.flags
            .contains(PacketFlags::VLAN_VALID)
            .then_some(self.vlan_tci)
    }
    /// VLAN TPID when [`PacketFlags::VLAN_TPID_VALID`] is set.
    pub fn vlan_tpid(&self) -> Option<u16> {
        self.flags
            .contains(PacketFlags::VLAN_TPID_VALID)
            .then_some(self.vlan_tpid)
    }
    /// Link-layer protocol (EtherType) in host byte order.
    pub fn protocol(&self) -> u16 {
        self.protocol
    }
    /// Packet type / direction.
    pub fn packet_type(&self) -> PacketType {
        PacketType::from_raw(self.pkt_type)
    }
    /// Raw `sll_pkttype`.
    pub fn packet_type_raw(&self) -> u8 {
        self.pkt_type
    }
    /// Status flags.
    pub fn flags(&self) -> PacketFlags {
        self.flags
    }
}
