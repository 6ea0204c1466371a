//! netring's engine: zero-copy Linux packet I/O in Rust.
//!
//! [`Capture`] over a TPACKET_V3 ring hands out [`Batch`]es (ring blocks)
//! of [`Packet`] views with no copy and no per-packet system call. The same
//! held-batch shape serves AF_XDP ([`Xdp`]) and capture files
//! ([`pcapfile::Reader`]).
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
pub mod bpfc;
pub mod breaker;
pub mod error;
pub mod packet;
pub mod pcapfile;
pub mod sys;

pub use afpacket::{Batch, Breaker, Capture, CaptureConfig, RingInfo, Stats, Wait};
pub use afpacket::{
    BpfInsn, CaptureDirection, CaptureInfo, ChannelCapture, ChannelStats, Fanout, FanoutFlags,
    FanoutMode, OwnedPacket, Profile, TimestampSource,
};
pub use afpacket::{Bridge, BridgeBreaker, BridgeConfig, BridgeStats, Direction, Verdict};
pub use afpacket::{InjectStats, Injector, InjectorConfig, Slot, TxMode};
pub use afxdp::{Xdp, XdpBatch, XdpConfig, XdpStats};
pub use error::{Error, ErrorKind, Result};
pub use packet::{Packet, PacketFlags, PacketType};
