//! Floor 1: the kernel ABI and nothing else.
//!
//! Only this module spells kernel structures, constants and raw system calls.
//! The engines above it call the typed helpers in [`socket`].

pub mod bpf;
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
