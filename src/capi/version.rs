//! Version information.

use std::ffi::{c_char, c_uint};

use super::guard;

/// Major version of the header this program was compiled against.
pub const NR_VERSION_MAJOR: c_uint = 0;
/// Minor version of the header.
pub const NR_VERSION_MINOR: c_uint = 1;
/// Patch version of the header.
pub const NR_VERSION_PATCH: c_uint = 0;

/// The library's version as "MAJOR.MINOR.PATCH" (static string, never NULL).
/// Compare with NR_VERSION_* to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn nr_version() -> *const c_char {
    guard(c"".as_ptr(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// The library's version as a number: `MAJOR << 16 | MINOR << 8 | PATCH`.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn nr_version_number() -> c_uint {
    guard(0, || {
        NR_VERSION_MAJOR << 16 | NR_VERSION_MINOR << 8 | NR_VERSION_PATCH
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_matches_cargo() {
        assert_eq!(
            NR_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            NR_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            NR_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        // SAFETY: nr_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(nr_version()) }
            .to_str()
            .unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
