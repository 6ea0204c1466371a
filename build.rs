//! Sets the SONAME of the shared library and generates the C header.
//!
//! The header is written to `$OUT_DIR/netring.h`; `include/netring.h` is the
//! checked-in copy (a test fails when the two differ). `make header` (or
//! `NETRING_WRITE_HEADER=1 cargo build`) refreshes the checked-in copy.

use std::env;
use std::path::PathBuf;

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnetring.so.{major}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=NETRING_WRITE_HEADER");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("netring.h");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&out);
            if env::var_os("NETRING_WRITE_HEADER").is_some() {
                bindings.write_to_file(crate_dir.join("include/netring.h"));
            }
        }
        Err(e) => {
            // Do not fail the library build over the header; the freshness
            // test fails instead, with this message.
            println!("cargo:warning=cbindgen failed: {e}");
            std::fs::write(&out, format!("/* cbindgen failed: {e} */\n")).expect("write header");
        }
    }
}
