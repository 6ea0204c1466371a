//! Socket options of the capture engine beyond the ring itself: fanout,
//! filters (classic and eBPF), busy polling, hardware timestamping, and the
//! network-namespace switch (`setns`). Kernel constants and raw calls only.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::socket::{SockFilter, SockFprog, setsockopt};

/// `PACKET_FANOUT_DATA` (program for the CBPF/EBPF fanout modes).
pub const PACKET_FANOUT_DATA: libc::c_int = 22;

/// Fanout mode `PACKET_FANOUT_HASH`.
pub const PACKET_FANOUT_HASH: u16 = 0;
/// Fanout mode `PACKET_FANOUT_LB`.
pub const PACKET_FANOUT_LB: u16 = 1;
/// Fanout mode `PACKET_FANOUT_CPU`.
pub const PACKET_FANOUT_CPU: u16 = 2;
/// Fanout mode `PACKET_FANOUT_ROLLOVER`.
pub const PACKET_FANOUT_ROLLOVER: u16 = 3;
/// Fanout mode `PACKET_FANOUT_RND`.
pub const PACKET_FANOUT_RND: u16 = 4;
/// Fanout mode `PACKET_FANOUT_QM`.
pub const PACKET_FANOUT_QM: u16 = 5;
/// Fanout mode `PACKET_FANOUT_CBPF`.
pub const PACKET_FANOUT_CBPF: u16 = 6;
/// Fanout mode `PACKET_FANOUT_EBPF`.
pub const PACKET_FANOUT_EBPF: u16 = 7;
/// `PACKET_FANOUT_FLAG_ROLLOVER`.
pub const PACKET_FANOUT_FLAG_ROLLOVER: u16 = 0x1000;
/// `PACKET_FANOUT_FLAG_UNIQUEID`.
pub const PACKET_FANOUT_FLAG_UNIQUEID: u16 = 0x2000;
/// `PACKET_FANOUT_FLAG_IGNORE_OUTGOING`.
pub const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u16 = 0x4000;
/// `PACKET_FANOUT_FLAG_DEFRAG`.
pub const PACKET_FANOUT_FLAG_DEFRAG: u16 = 0x8000;

/// `SO_ATTACH_BPF`.
pub const SO_ATTACH_BPF: libc::c_int = 50;
/// `SO_BUSY_POLL`.
pub const SO_BUSY_POLL: libc::c_int = 46;
/// `SO_PREFER_BUSY_POLL`.
pub const SO_PREFER_BUSY_POLL: libc::c_int = 69;
/// `SO_BUSY_POLL_BUDGET`.
pub const SO_BUSY_POLL_BUDGET: libc::c_int = 70;
/// `SO_RCVBUFFORCE`.
pub const SO_RCVBUFFORCE: libc::c_int = 33;

/// `SKF_AD_OFF`: base of the classic BPF ancillary loads.
pub const SKF_AD_OFF: u32 = 0xffff_f000;
/// `SKF_AD_PKTTYPE`.
pub const SKF_AD_PKTTYPE: u32 = 4;
/// `BPF_MAXINSNS`: longest classic program the kernel accepts.
pub const BPF_MAXINSNS: usize = 4096;

/// `SOF_TIMESTAMPING_SYS_HARDWARE`.
pub const SOF_TIMESTAMPING_SYS_HARDWARE: libc::c_int = 1 << 5;
/// `SOF_TIMESTAMPING_RAW_HARDWARE`.
pub const SOF_TIMESTAMPING_RAW_HARDWARE: libc::c_int = 1 << 6;
/// `SIOCSHWTSTAMP`.
pub const SIOCSHWTSTAMP: libc::c_ulong = 0x89b0;
/// `HWTSTAMP_TX_OFF`.
pub const HWTSTAMP_TX_OFF: libc::c_int = 0;
/// `HWTSTAMP_FILTER_ALL`.
pub const HWTSTAMP_FILTER_ALL: libc::c_int = 1;

/// `struct hwtstamp_config`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct HwtstampConfig {
    /// Reserved, 0.
    pub flags: libc::c_int,
    /// `HWTSTAMP_TX_*`.
    pub tx_type: libc::c_int,
    /// `HWTSTAMP_FILTER_*`.
    pub rx_filter: libc::c_int,
}

/// `SO_DETACH_FILTER` (ENOENT when no filter is attached).
pub fn detach_filter(fd: &OwnedFd) -> io::Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &0i32)
}

/// `SO_ATTACH_BPF` with an eBPF socket-filter program fd.
pub fn attach_bpf(fd: &OwnedFd, prog_fd: RawFd) -> io::Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, SO_ATTACH_BPF, &prog_fd)
}

/// `PACKET_FANOUT_DATA` with a classic BPF program (`PACKET_FANOUT_CBPF`).
pub fn fanout_data_cbpf(fd: &OwnedFd, prog: &[SockFilter]) -> io::Result<()> {
    setsockopt(
        fd,
        super::tpacket::SOL_PACKET,
        PACKET_FANOUT_DATA,
        &SockFprog::of(prog),
    )
}

/// `SIOCSHWTSTAMP` on interface `name`: enable RX hardware timestamps for
/// all packets (TX off). Returns the configuration the driver applied.
pub fn set_hwtstamp(fd: RawFd, name: &str) -> io::Result<HwtstampConfig> {
    let mut cfg = HwtstampConfig {
        flags: 0,
        tx_type: HWTSTAMP_TX_OFF,
        rx_filter: HWTSTAMP_FILTER_ALL,
    };
    // SAFETY: ifr is a valid ifreq with a NUL-terminated name (see
    // socket::ifreq); ifr_data points to a live HwtstampConfig the driver
    // reads and writes during the call.
    unsafe {
        let mut ifr = crate::sys::socket::ifreq(name.as_bytes());
        ifr.ifr_ifru.ifru_data = (&mut cfg as *mut HwtstampConfig).cast();
        if libc::ioctl(fd, SIOCSHWTSTAMP as _, &mut ifr) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(cfg)
}

/// Interface index of `name` through `SIOCGIFINDEX` on `fd`: looked up in
/// the network namespace of the socket, whichever namespace the calling
/// thread is in.
pub fn if_index_on(fd: RawFd, name: &CStr) -> io::Result<i32> {
    let bytes = name.to_bytes();
    if bytes.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    // SAFETY: as in set_hwtstamp; the ioctl writes ifru_ifindex.
    unsafe {
        let mut ifr = crate::sys::socket::ifreq(bytes);
        if libc::ioctl(fd, libc::SIOCGIFINDEX as _, &mut ifr) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ifr.ifr_ifru.ifru_ifindex)
    }
}

/// Open a file read-only, close-on-exec (namespace handles).
pub fn open_ro(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: a valid NUL-terminated path; the fd is owned by nobody else.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// `setns(fd, CLONE_NEWNET)`: move the calling thread into a network namespace.
pub fn setns_net(ns: &OwnedFd) -> io::Result<()> {
    // SAFETY: plain system call on a live descriptor; it only changes the
    // calling thread's namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwtstamp_config_layout() {
        assert_eq!(std::mem::size_of::<HwtstampConfig>(), 12);
    }
}
