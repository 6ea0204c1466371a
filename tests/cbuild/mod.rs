//! Build C programs (tests/c, c-examples) against the installed prefix
//! (build/prefix, made by `make`), through pkg-config, with AddressSanitizer
//! and UBSan.

/// Build `src` (relative to the crate root) and return the binary's path.
pub fn build_c(src: &str) -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let prefix = root.join("build/prefix");
    let lib = prefix.join("lib");
    assert!(
        lib.join("libnetring.so.0").exists(),
        "{} is missing: run `make` (or `make test`) first",
        lib.join("libnetring.so.0").display()
    );
    let installed = std::fs::read_to_string(prefix.join("include/netring.h")).unwrap_or_default();
    let source = std::fs::read_to_string(root.join("include/netring.h")).unwrap();
    assert!(
        installed == source,
        "build/prefix is older than the sources: run `make` first"
    );
    let pc = std::process::Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .args(["--cflags", "--libs", "netring"])
        .output()
        .unwrap();
    assert!(
        pc.status.success(),
        "pkg-config: {}",
        String::from_utf8_lossy(&pc.stderr)
    );
    let flags = String::from_utf8(pc.stdout).unwrap();
    let stem = std::path::Path::new(src)
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let dir = root.join("target/ctests");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("cbuild-{stem}"));
    let o = std::process::Command::new("cc")
        .args(["-std=gnu99", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
        .arg(root.join(src))
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread")
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
