//! System calls of the transmit path: the TX-ring kick, `sendmmsg(2)` over
//! frames in user memory, and the `ETHTOOL_GDRVINFO` query that tells a
//! virtual device (veth, tun, ...) from one with a bus.

use std::io;
use std::mem::zeroed;
use std::os::fd::RawFd;

/// `send(fd, NULL, 0, flags)`: ask the kernel to transmit every frame of the
/// TX ring marked `TP_STATUS_SEND_REQUEST`, in ring order. Returns the bytes
/// handed over. EINTR is retried here.
pub fn kick(fd: RawFd, flags: libc::c_int) -> io::Result<usize> {
    loop {
        // SAFETY: a NULL buffer of length 0 is what the TX ring protocol
        // asks for; the kernel reads the frames from the mapped ring.
        let rc = unsafe { libc::send(fd, std::ptr::null(), 0, flags) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Most frames one [`send_frames`] call hands to `sendmmsg(2)`.
pub const SENDMMSG_BATCH: usize = 64;

/// Send up to [`SENDMMSG_BATCH`] frames with one `sendmmsg(2)` on a bound
/// packet socket. `frames` yields (pointer, length) pairs. Returns how many
/// the kernel took (≥ 1), or the error of the first frame it refused.
///
/// # Safety
/// Every (pointer, length) pair describes readable memory for the call.
pub unsafe fn send_frames(
    fd: RawFd,
    frames: impl Iterator<Item = (*const u8, usize)>,
) -> io::Result<usize> {
    // SAFETY: iovec and mmsghdr are plain data; all-zero is valid (NULL
    // pointers, zero lengths).
    let mut iov: [libc::iovec; SENDMMSG_BATCH] = unsafe { zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; SENDMMSG_BATCH] = unsafe { zeroed() };
    let mut n = 0;
    for (p, len) in frames.take(SENDMMSG_BATCH) {
        iov[n].iov_base = p as *mut libc::c_void;
        iov[n].iov_len = len;
        n += 1;
    }
    for i in 0..n {
        msgs[i].msg_hdr.msg_iov = &mut iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    if n == 0 {
        return Ok(0);
    }
    loop {
        // SAFETY: msgs[..n] point at iov[..n], which point at caller-provided
        // readable memory (contract); the kernel writes only msg_len.
        let rc =
            unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// `SIOCETHTOOL`.
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// `ETHTOOL_GDRVINFO`.
const ETHTOOL_GDRVINFO: u32 = 0x3;

/// `struct ethtool_drvinfo` (`<linux/ethtool.h>`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EthtoolDrvinfo {
    /// `ETHTOOL_GDRVINFO`.
    pub cmd: u32,
    /// Driver name, NUL-terminated.
    pub driver: [u8; 32],
    /// Driver version.
    pub version: [u8; 32],
    /// Firmware version.
    pub fw_version: [u8; 32],
    /// Bus address ("0000:00:03.0"); empty for virtual devices.
    pub bus_info: [u8; 32],
    /// Expansion ROM version.
    pub erom_version: [u8; 32],
    /// Reserved.
    pub reserved2: [u8; 12],
    /// Private flags count.
    pub n_priv_flags: u32,
    /// Statistics count.
    pub n_stats: u32,
    /// Self-test result count.
    pub testinfo_len: u32,
    /// EEPROM size.
    pub eedump_len: u32,
    /// Register dump size.
    pub regdump_len: u32,
}

fn cstr_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The driver name and bus address of interface `name` (`ETHTOOL_GDRVINFO`),
/// using `fd` for the ioctl (its network namespace is the one asked).
pub fn driver_info(fd: RawFd, name: &str) -> io::Result<(String, String)> {
    // SAFETY: EthtoolDrvinfo is plain data (all-zero is valid); ifr is a
    // valid ifreq with a NUL-terminated name (see socket::ifreq); ifr_data
    // points at the local drvinfo, which outlives the ioctl that fills it.
    unsafe {
        let mut info: EthtoolDrvinfo = zeroed();
        info.cmd = ETHTOOL_GDRVINFO;
        let mut ifr = crate::sys::socket::ifreq(name.as_bytes());
        ifr.ifr_ifru.ifru_data = (&mut info as *mut EthtoolDrvinfo).cast();
        if libc::ioctl(fd, SIOCETHTOOL as _, &mut ifr) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((cstr_field(&info.driver), cstr_field(&info.bus_info)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drvinfo_layout() {
        assert_eq!(std::mem::size_of::<EthtoolDrvinfo>(), 196);
        assert_eq!(cstr_field(b"veth\0\0"), "veth");
        assert_eq!(cstr_field(b""), "");
    }
}
