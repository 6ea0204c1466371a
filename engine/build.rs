//! Compiles `csrc/cancel.c` (the C half of `cancel`: a glibc cancellation
//! buffer, which Rust cannot register itself: it needs setjmp) on glibc
//! targets.

fn main() {
    println!("cargo:rerun-if-changed=csrc/cancel.c");
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" && target_env == "gnu" {
        cc::Build::new()
            .file("csrc/cancel.c")
            // Unwind tables, so a Rust panic unwinds through the C frame to
            // the catch_unwind above it (not -fexceptions: with it,
            // pthread.h leaves out the C cancellation buffer's functions).
            .flag("-fasynchronous-unwind-tables")
            .warnings(true)
            .compile("netring_cancel");
    }
}
