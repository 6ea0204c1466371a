//! What the valgrind runs of the C test programs share (included by
//! tests/valgrind_c.rs, tests/cancel_c.rs and tests/netns_c.rs).

// Each test binary that includes this uses only part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netring_testkit::cbuild;

/// valgrind's options: memcheck, exit 99 on an error or a definite leak.
pub const VALGRIND: &[&str] = &[
    "-q",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
];

/// A plain build of `src` (relative to the repository root), named
/// `valgrind-<stem>`: valgrind and the sanitizers do not mix.
pub fn plain(src: &str) -> PathBuf {
    let path = cbuild::root().join(src);
    let name = format!("valgrind-{}", path.file_stem().unwrap().to_str().unwrap());
    cbuild::build(
        &path,
        &name,
        "cc",
        &["-std=gnu99", "-Wall", "-Wextra", "-Werror", "-g", "-O1"],
        &cbuild::pkg_config(&["--libs"]),
    )
}

/// Run `bin` with `args` under valgrind to completion and assert it exited
/// 0 (no error, no definite leak, the program itself succeeded); `what`,
/// the program's stdout and stderr name a failure.
pub fn run_ok<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(
    bin: &Path,
    args: I,
    what: &str,
) -> Output {
    let out = Command::new("valgrind")
        .args(VALGRIND)
        .arg(bin)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "valgrind {what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
