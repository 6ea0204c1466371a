//! Floor 2: the AF_PACKET engines.

pub mod block;
pub mod capture;
pub mod frame;
mod gate;

pub use capture::{
    Batch, BatchIter, Breaker, Capture, CaptureConfig, CaptureStats, FlowMembership, RingInfo, Wait,
};
pub mod inject;
pub use inject::{Injector, InjectorConfig, InjectorStats, Slot, TxMode};
pub mod bridge;
pub use bridge::{Bridge, BridgeConfig, BridgeDirection, BridgeStats, Verdict};
pub mod options;
pub use options::{
    BpfInsn, CaptureDirection, CaptureInfo, Fanout, FanoutFlags, FanoutMode, Profile,
    TimestampSource,
};
pub mod channel;
pub mod flowhash;
pub mod vlan;
pub use channel::{ChannelCapture, ChannelStats, OwnedPacket};
