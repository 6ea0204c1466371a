//! Floor 2: the AF_PACKET engines.

pub mod block;
pub mod capture;

pub use capture::{Batch, Breaker, Capture, CaptureConfig, RingInfo, Stats, Wait};
