//! valgrind memcheck over the C test programs that need no traffic (the
//! API contract and the capture-file round trip), next to their ASan/UBSan
//! runs in c_api.rs: no invalid access, no uninitialised read, no definite
//! leak. Skipped (with a note) when valgrind is not installed.

mod cbuild;

use std::process::Command;

fn valgrind_ok(src: &str, args: &[&str]) {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind not installed: {src} skipped");
        return;
    }
    let path = cbuild::root().join(src);
    let name = format!("valgrind-{}", path.file_stem().unwrap().to_str().unwrap());
    // A plain build: valgrind and the sanitizers do not mix.
    let bin = cbuild::build(
        &path,
        &name,
        "cc",
        &["-std=gnu99", "-Wall", "-Wextra", "-Werror", "-g", "-O1"],
        &cbuild::pkg_config(&["--libs"]),
    );
    let out = Command::new("valgrind")
        .args([
            "-q",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
        ])
        .arg(&bin)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "valgrind {src}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn valgrind_test_api() {
    valgrind_ok("tests/c/test_api.c", &[]);
}

#[test]
fn valgrind_pcapfile() {
    let dir = cbuild::root().join("target/ctests/pcapfile-valgrind");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    valgrind_ok("tests/c/pcapfile.c", &[dir.to_str().unwrap()]);
}
