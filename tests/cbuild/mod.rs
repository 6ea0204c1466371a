//! For the root tests that still say `mod cbuild;` (tests/removal.rs): the
//! shared harness's C builds. New tests use `netring_testkit::cbuild`.

#[allow(unused_imports)]
pub use netring_testkit::cbuild::*;
