//! netring: zero-copy Linux packet I/O with a C ABI.
//!
//! The Rust API is the first floor users can build on: [`Capture`] over a
//! TPACKET_V3 ring hands out [`Batch`]es (ring blocks) of [`Packet`] views
//! with no copy and no per-packet system call. The C API in [`capi`]
//! (`include/netring.h`) is a thin layer over it.
//!
//! Layout, lower floors never import higher ones: `sys` (kernel ABI) →
//! `afpacket` (engines) → `capi` (the C surface).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

/// cbindgen:ignore
pub mod afpacket;
/// cbindgen:ignore
pub mod afxdp;
/// cbindgen:ignore
pub mod breaker;
pub mod capi;
/// cbindgen:ignore
pub mod error;
/// cbindgen:ignore
pub mod packet;
/// cbindgen:ignore
pub mod pcapfile;
/// cbindgen:ignore
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
