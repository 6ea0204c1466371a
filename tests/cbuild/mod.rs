//! Build the C programs against this build of the library.

/// Build a C program of tests/c or c-examples against this build of the
/// library (target/<profile>/libnetring.so) and the checked-in header.
/// (When tests/c_api.rs lands, the same programs are driven from there
/// against the installed prefix.)
pub fn build_c(src: &str) -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().unwrap();
    let built = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("libnetring.so");
    assert!(built.exists(), "{}", built.display());
    // The library's SONAME is libnetring.so.0: give the loader that name.
    let libdir = exe.parent().unwrap().parent().unwrap().join("ctest-lib");
    std::fs::create_dir_all(&libdir).unwrap();
    for name in ["libnetring.so", "libnetring.so.0"] {
        let _ = std::fs::remove_file(libdir.join(name));
        std::os::unix::fs::symlink(&built, libdir.join(name)).unwrap();
    }
    let stem = std::path::Path::new(src)
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap();
    let out = libdir.join(format!("ctest-{stem}"));
    let o = std::process::Command::new("cc")
        .args([
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-O1",
        ])
        .args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
        .arg(root.join(src))
        .arg("-I")
        .arg(root.join("include"))
        .arg(format!("-L{}", libdir.display()))
        .arg("-lnetring")
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "compiling {src}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}
