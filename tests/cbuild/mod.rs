//! C programs built against build/prefix: the shared harness's `cbuild`.

#![allow(unused_imports)]

pub use netring_testkit::cbuild::*;
