//! Build the C programs (tests/c, c-examples) against the installed prefix
//! (build/prefix, made by `make`) through pkg-config: strict C99 plain and
//! with AddressSanitizer + UBSan ([`variants`]), or as gnu99 with the
//! sanitizers ([`build_c`], for programs that use POSIX/GNU interfaces).

use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::root;

/// build/prefix, checked to exist and to hold the current header.
pub fn prefix() -> PathBuf {
    let p = root().join("build/prefix");
    let lib = p.join("lib/libnetring.so.0");
    assert!(
        lib.exists(),
        "{} is missing: run `make` (or `make test`) first",
        lib.display()
    );
    let installed = std::fs::read_to_string(p.join("include/netring.h")).unwrap();
    let source = std::fs::read_to_string(root().join("include/netring.h")).unwrap();
    assert!(
        installed == source,
        "build/prefix is older than the sources: run `make` first"
    );
    p
}

/// A program `make` built into build/bin (nrcap, nrxdp, ...), as a string
/// for `Command::new`; panics if it is missing.
pub fn bin(name: &str) -> String {
    let path = root().join("build/bin").join(name);
    assert!(path.exists(), "{} is missing: run `make`", path.display());
    path.to_str().unwrap().to_owned()
}

/// `pkg-config ARGS netring` against build/prefix, split into words.
pub fn pkg_config(args: &[&str]) -> Vec<String> {
    let pc = prefix().join("lib/pkgconfig");
    let out = checked(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", &pc)
            .args(args)
            .arg("netring"),
        &format!("pkg-config {args:?}"),
    );
    String::from_utf8(out)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Compile `src` into target/ctests/`name`; `extra` flags (e.g. sanitizers).
pub fn build(src: &Path, name: &str, compiler: &str, extra: &[&str], link: &[String]) -> PathBuf {
    let dir = root().join("target/ctests");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    // Two tests may build the same program at once: each compiles to a
    // name of its own and renames it into place (atomic), so neither runs
    // a half-written file.
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let tmp = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let lib = prefix().join("lib");
    checked(
        Command::new(compiler)
            .args(extra)
            .arg(src)
            .arg("-o")
            .arg(&tmp)
            .args(pkg_config(&["--cflags"]))
            .args(link)
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-lpthread"),
        &format!("compiling {}", src.display()),
    );
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Run `cmd` (`what` it does, for the failure message) and return its
/// stdout; panics with its stderr unless it succeeds.
fn checked(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Strict C99 with every warning an error.
pub const STRICT_C: &[&str] = &[
    "-std=c99",
    "-pedantic",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-g",
    "-O1",
];

/// AddressSanitizer + UBSan, any finding fatal.
pub const SAN: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
];

/// Both variants of a C test: plain and sanitized.
pub fn variants(src: &str) -> Vec<PathBuf> {
    let path = root().join(src);
    let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
    let libs = pkg_config(&["--libs"]);
    let mut san = STRICT_C.to_vec();
    san.extend_from_slice(SAN);
    vec![
        build(&path, &stem, "cc", STRICT_C, &libs),
        build(&path, &format!("{stem}-asan"), "cc", &san, &libs),
    ]
}

/// Build `src` (relative to the workspace root) as gnu99 with
/// AddressSanitizer and UBSan, warnings as errors; returns the binary's path.
pub fn build_c(src: &str) -> PathBuf {
    let path = root().join(src);
    let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
    let mut flags = vec!["-std=gnu99", "-Wall", "-Wextra", "-Werror", "-g", "-O1"];
    flags.extend_from_slice(SAN);
    build(
        &path,
        &format!("cbuild-{stem}"),
        "cc",
        &flags,
        &pkg_config(&["--libs"]),
    )
}
