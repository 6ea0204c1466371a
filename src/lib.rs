//! netring's C API: `libnetring.so.0` / `libnetring.a` and
//! `include/netring.h`.
//!
//! This crate is the thin C surface (floor 3): it checks arguments,
//! converts, calls the engine ([`netring_engine`], re-exported here for
//! Rust users and tests) and converts back. It is the only crate whose
//! library exports `nr_*` symbols; the engine exports none.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod capi;

/// cbindgen:ignore
#[doc(no_inline)]
pub use netring_engine::*;
