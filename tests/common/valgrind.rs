//! What the valgrind runs of the C test programs share (included by
//! tests/valgrind_c.rs, tests/cancel_c.rs and tests/netns_c.rs).

use std::path::PathBuf;

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
