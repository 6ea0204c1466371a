//! Floor 1: the kernel ABI and nothing else.
//!
//! Only this module spells kernel structures, constants and raw system calls.
//! The engines above it call the typed helpers in [`socket`].

/// `assert_eq!(offset_of!(T, field), want)` for each `field => want` of
/// `T` (the layout tests that pin our structs and offsets to the kernel's).
#[cfg(test)]
macro_rules! assert_offsets {
    ($t:ty { $($field:ident => $want:expr),+ $(,)? }) => {
        $(
            assert_eq!(
                core::mem::offset_of!($t, $field),
                $want,
                concat!("offset of ", stringify!($t), ".", stringify!($field))
            );
        )+
    };
}

pub mod bpf;
pub mod diag;
pub mod socket;
pub mod sockopt;
pub mod tpacket;
pub mod tx;
pub mod xdp;

/// A system call's result: a negative value means failure, the error is
/// in errno.
fn cvt<T: Default + PartialOrd>(rc: T) -> std::io::Result<T> {
    if rc < T::default() {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}
