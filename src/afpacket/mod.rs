//! Floor 2: the AF_PACKET engines.

pub mod block;
pub mod capture;

pub use capture::{Batch, Breaker, Capture, CaptureConfig, RingInfo, Stats, Wait};
pub mod inject;
pub use inject::{InjectStats, Injector, InjectorConfig, Slot, TxMode};
pub mod bridge;
pub use bridge::{Bridge, BridgeBreaker, BridgeConfig, BridgeStats, Direction, Verdict};
