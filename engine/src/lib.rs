//! netring's engine: zero-copy Linux packet I/O in Rust.
//!
//! [`Capture`] over a TPACKET_V3 ring hands out [`Batch`]es (ring blocks)
//! of [`Packet`] views with no copy and no per-packet system call. The same
//! held-batch shape serves AF_XDP ([`Xdp`]) and capture files
//! ([`pcapfile::Reader`]).
//!
//! Every engine is consumed the same way, through [`HeldBatch`]: acquire
//! a batch, walk it (over several calls with a [`Cursor`] if needed),
//! release it; `next_packet` on a capture or a file reader is a
//! convenience over that walk. Every engine object reports statistics the
//! same way too: `stats()` for the totals, `stats_with_delta()` for the
//! totals and the change since the previous call (see [`stats`]).
//!
//! [`parse::Layers`] (also [`Packet::layers`]) finds the headers of a frame
//! without copying: Ethernet, two VLAN tags, IPv4/IPv6 (extension headers
//! walked)/ARP, TCP/UDP/SCTP/ICMP, fragments, and where a cut or malformed
//! frame stops.
//!
//! With the optional `tokio` feature, the `asyncio` module puts a capture
//! and an injector on tokio's reactor (`AsyncCapture::next_batch`, a
//! `Stream` of packets, `AsyncInjector::send` with backpressure; its module
//! docs have a complete example). The default build, and the C libraries,
//! do not depend on tokio.
//!
//! The non-default `bench-fixtures` feature adds `fixtures` (synthetic
//! ring blocks and a held batch over them) for the micro benchmark and
//! tests; the shipped libraries leave it out.
//!
//! This crate exports no C symbols: `libnetring.so.0` (the C API) and the
//! libpcap-compatible library are built on top of it, each exporting only
//! its own names.
//!
//! Layout, lower floors never import higher ones: `sys` (kernel ABI only) →
//! `afpacket`, `afxdp`, `pcapfile` (the engines) → the C surfaces (other
//! crates).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod afpacket;
pub mod afxdp;
#[cfg(feature = "tokio")]
pub mod asyncio;
pub mod batch;
pub mod bpfc;
pub mod breaker;
pub mod cancel;
pub mod error;
#[cfg(any(test, feature = "bench-fixtures"))]
pub mod fixtures;
pub mod flow;
mod iface;
pub mod packet;
pub mod parse;
pub mod pcapfile;
pub mod stats;
pub mod sys;

pub use afpacket::flowhash::FlowKey;
pub use afpacket::{
    Batch, BatchIter, Breaker, Capture, CaptureConfig, CaptureStats, FlowMembership, RingInfo,
};
pub use afpacket::{
    BpfInsn, CaptureDirection, CaptureInfo, ChannelCapture, ChannelStats, Fanout, FanoutFlags,
    FanoutMode, OwnedPacket, Profile, TimestampSource,
};
pub use afpacket::{Bridge, BridgeConfig, BridgeDirection, BridgeStats, Verdict};
pub use afpacket::{Injector, InjectorConfig, InjectorStats, Slot, TxMode};
pub use afxdp::{Xdp, XdpBatch, XdpConfig, XdpStats};
pub use batch::{Cursor, HeldBatch, RawBlock, Wait, Walk};
pub use error::{Error, ErrorKind, Result};
pub use packet::{HwAddr, Packet, PacketFlags, PacketType};
pub use stats::{Counters, Reported};
