//! Running a command in a test (included by tests/c_api.rs and
//! tests/parse.rs).

use std::process::{Command, Output};

/// Run `cmd` to completion and assert it succeeded; `what` and its stderr
/// name a failure.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
