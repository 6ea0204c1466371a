//! Capture files: classic pcap (microsecond and nanosecond) and pcapng,
//! written and read.
//!
//! * [`Writer`] appends packets to one large buffer (1 MiB by default) that
//!   goes to the file in few large `write(2)` calls: no system call and no
//!   allocation per packet. It can rotate files by size and count, with the
//!   names `tcpdump -C/-W` uses. pcapng files get a Section Header Block, one
//!   Interface Description Block per interface (`if_tsresol` = 9: nanosecond
//!   timestamps), Enhanced Packet Blocks, and an Interface Statistics Block
//!   at close (`isb_ifrecv`/`isb_ifdrop` from [`Writer::set_stats`]).
//!   With [`WriterConfig::direct`] the file is written with `O_DIRECT`
//!   from two huge-page buffers and a background thread (for disks: no
//!   page-cache copy, and the capture does not wait on the disk).
//! * [`Reader`] reads pcap (both byte orders, both resolutions) and pcapng
//!   (several sections and interfaces, both byte orders, per-interface
//!   `if_tsresol`/`if_tsoffset`, unknown blocks skipped) and hands out the
//!   same [`Packet`](crate::Packet) views as a live capture, in batches that
//!   are chunks of its read buffer (zero copy from that buffer). A truncated
//!   or corrupt file is an [`ErrorKind::Malformed`](crate::ErrorKind) error
//!   whose message gives the byte offset; nothing is read out of bounds.

mod aligned;
/// The classic pcap format: file and record headers (also used by the
/// libpcap-compatible library's dump files).
pub mod pcap;
pub(crate) mod pcapng;
pub mod reader;
pub mod writer;

pub use reader::{InterfaceInfo, ReadBatch, Reader};
pub use writer::{Writer, WriterConfig, WriterStats};

/// The layout of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Classic pcap, microsecond timestamps (magic `0xa1b2c3d4`).
    Pcap,
    /// Classic pcap, nanosecond timestamps (magic `0xa1b23c4d`).
    PcapNs,
    /// pcapng (nanosecond timestamps when written by netring).
    Pcapng,
}

/// `LINKTYPE_NULL`: BSD loopback.
pub const LINKTYPE_NULL: u32 = 0;
/// `LINKTYPE_ETHERNET`: Ethernet (what AF_PACKET captures deliver).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// `LINKTYPE_RAW`: raw IPv4/IPv6, no link-layer header.
pub const LINKTYPE_RAW: u32 = 101;
/// `LINKTYPE_LINUX_SLL`: Linux "cooked" capture.
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// `LINKTYPE_LINUX_SLL2`: Linux "cooked" capture v2.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// The largest record (pcap packet or pcapng block) a reader accepts, and
/// the largest snap length a writer accepts: 16 MiB, libpcap's limit for
/// pcapng blocks.
pub const MAX_RECORD: usize = 16 << 20;

/// Round up to a multiple of 4 (pcapng padding).
#[inline(always)]
pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests;
