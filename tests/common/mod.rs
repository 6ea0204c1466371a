//! For the root tests that still say `mod common;` (removal.rs,
//! removal_frames.rs, wire_c.rs): the engine tests' harness module, which
//! is the shared `netring-testkit` plus `collect` over a `Capture`. New
//! tests use `netring_testkit` directly.

#[path = "../../engine/tests/common/mod.rs"]
mod engine_common;

#[allow(unused_imports)]
pub use engine_common::*;
