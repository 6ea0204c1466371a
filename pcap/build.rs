//! Sets the SONAME of the drop-in to Debian's libpcap SONAME.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpcap.so.0.8");
    println!("cargo:rerun-if-changed=build.rs");
}
