//! AF_XDP ABI (`<linux/if_xdp.h>`) and the few raw calls around it:
//! the socket, UMEM and ring mappings, bind, the wake-up kicks and the
//! ethtool channel query used to check queue ids. Layout tests pin every
//! struct to the kernel's size.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `AF_XDP` address family.
pub const AF_XDP: libc::c_int = 44;
/// `SOL_XDP` socket level.
pub const SOL_XDP: libc::c_int = 283;

/// `XDP_MMAP_OFFSETS` (getsockopt).
pub const XDP_MMAP_OFFSETS: libc::c_int = 1;
/// `XDP_RX_RING`.
pub const XDP_RX_RING: libc::c_int = 2;
/// `XDP_TX_RING`.
pub const XDP_TX_RING: libc::c_int = 3;
/// `XDP_UMEM_REG`.
pub const XDP_UMEM_REG: libc::c_int = 4;
/// `XDP_UMEM_FILL_RING`.
pub const XDP_UMEM_FILL_RING: libc::c_int = 5;
/// `XDP_UMEM_COMPLETION_RING`.
pub const XDP_UMEM_COMPLETION_RING: libc::c_int = 6;
/// `XDP_STATISTICS` (getsockopt).
pub const XDP_STATISTICS: libc::c_int = 7;
/// `XDP_OPTIONS` (getsockopt).
pub const XDP_OPTIONS: libc::c_int = 8;

/// `XDP_OPTIONS_ZEROCOPY`: the bound socket runs in zero-copy mode.
pub const XDP_OPTIONS_ZEROCOPY: u32 = 1;

/// Bind flag: share the UMEM of `sxdp_shared_umem_fd`.
pub const XDP_SHARED_UMEM: u16 = 1 << 0;
/// Bind flag: force copy mode.
pub const XDP_COPY: u16 = 1 << 1;
/// Bind flag: force zero-copy mode.
pub const XDP_ZEROCOPY: u16 = 1 << 2;
/// Bind flag: use the need_wakeup protocol.
pub const XDP_USE_NEED_WAKEUP: u16 = 1 << 3;

/// Ring flag: the kernel needs a syscall to make progress.
pub const XDP_RING_NEED_WAKEUP: u32 = 1;

/// mmap offset of the RX ring.
pub const XDP_PGOFF_RX_RING: i64 = 0;
/// mmap offset of the TX ring.
pub const XDP_PGOFF_TX_RING: i64 = 0x8000_0000;
/// mmap offset of the fill ring.
pub const XDP_UMEM_PGOFF_FILL_RING: i64 = 0x1_0000_0000;
/// mmap offset of the completion ring.
pub const XDP_UMEM_PGOFF_COMPLETION_RING: i64 = 0x1_8000_0000;

/// `struct sockaddr_xdp`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SockaddrXdp {
    /// `AF_XDP`.
    pub sxdp_family: u16,
    /// `XDP_*` bind flags.
    pub sxdp_flags: u16,
    /// Interface index.
    pub sxdp_ifindex: u32,
    /// Queue id.
    pub sxdp_queue_id: u32,
    /// Socket whose UMEM is shared (with `XDP_SHARED_UMEM`).
    pub sxdp_shared_umem_fd: u32,
}

/// `struct xdp_ring_offset`: where a ring's words live in its mapping.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct XdpRingOffset {
    /// Producer index.
    pub producer: u64,
    /// Consumer index.
    pub consumer: u64,
    /// Descriptor array.
    pub desc: u64,
    /// Flags word (`XDP_RING_NEED_WAKEUP`).
    pub flags: u64,
}

/// `struct xdp_mmap_offsets`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct XdpMmapOffsets {
    /// RX ring.
    pub rx: XdpRingOffset,
    /// TX ring.
    pub tx: XdpRingOffset,
    /// Fill ring.
    pub fr: XdpRingOffset,
    /// Completion ring.
    pub cr: XdpRingOffset,
}

/// `struct xdp_umem_reg` (with `tx_metadata_len`, Linux 6.8+; it is 32
/// bytes like the older layout, whose last 4 bytes were padding).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct XdpUmemReg {
    /// Start of the UMEM area.
    pub addr: u64,
    /// Length of the UMEM area.
    pub len: u64,
    /// Chunk (frame) size.
    pub chunk_size: u32,
    /// Headroom before each frame's data.
    pub headroom: u32,
    /// `XDP_UMEM_*` flags.
    pub flags: u32,
    /// TX metadata length.
    pub tx_metadata_len: u32,
}

/// `struct xdp_statistics`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpStatistics {
    /// Dropped for other reasons.
    pub rx_dropped: u64,
    /// Dropped due to invalid descriptor.
    pub rx_invalid_descs: u64,
    /// Dropped due to invalid descriptor.
    pub tx_invalid_descs: u64,
    /// Dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Failed to get a buffer from the fill ring.
    pub rx_fill_ring_empty_descs: u64,
    /// Failed to get a descriptor from the TX ring.
    pub tx_ring_empty_descs: u64,
}

/// `struct xdp_options`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct XdpOptions {
    /// `XDP_OPTIONS_*`.
    pub flags: u32,
}

/// `struct xdp_desc`: an RX/TX descriptor.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpDesc {
    /// UMEM offset of the data.
    pub addr: u64,
    /// Data length.
    pub len: u32,
    /// Options (`XDP_PKT_CONTD`, ...).
    pub options: u32,
}

use super::cvt;

/// `socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0)`.
pub fn xdp_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the fd is owned by nobody else.
    unsafe {
        let fd = cvt(libc::socket(AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// `setsockopt(SOL_XDP, XDP_UMEM_REG)`.
pub fn umem_reg(fd: &OwnedFd, reg: &XdpUmemReg) -> io::Result<()> {
    // SAFETY: `reg` is a live struct of exactly the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            SOL_XDP,
            XDP_UMEM_REG,
            (reg as *const XdpUmemReg).cast(),
            size_of::<XdpUmemReg>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `bind` an AF_XDP socket.
pub fn bind_xdp(fd: &OwnedFd, addr: &SockaddrXdp) -> io::Result<()> {
    // SAFETY: the pointer/length describe a live local struct.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (addr as *const SockaddrXdp).cast(),
            size_of::<SockaddrXdp>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Kick the TX path: `sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0)`.
pub fn kick_tx(fd: RawFd) -> io::Result<()> {
    // SAFETY: no buffer is passed; the kernel reads nothing from user memory.
    let rc = unsafe {
        libc::sendto(
            fd,
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null(),
            0,
        )
    };
    cvt(rc).map(drop)
}

/// Kick the RX path (fill ring need_wakeup):
/// `recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)`.
pub fn kick_rx(fd: RawFd) -> io::Result<()> {
    // SAFETY: no buffer is passed; the kernel writes nothing to user memory.
    let rc = unsafe {
        libc::recvfrom(
            fd,
            std::ptr::null_mut(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    cvt(rc).map(drop)
}

/// Wait up to `ns` nanoseconds for events on `fds` (`ppoll`, so sleeps
/// shorter than a millisecond are possible). EINTR is `Ok(0)`. A pthread
/// cancellation point (see `crate::cancel`).
pub fn ppoll_ns(fds: &mut [libc::pollfd], ns: u64) -> io::Result<usize> {
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: fds is valid for fds.len() pollfds; ts is a live local.
    let rc = unsafe {
        crate::sys::socket::ppoll_cancellable(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    crate::sys::socket::poll_result(rc)
}

/// A mapping of an AF_XDP ring or of a UMEM: the one [`Mmap`](crate::sys::socket::Mmap) type
/// ([`Mmap::ring`](crate::sys::socket::Mmap::ring), [`Mmap::anonymous_huge`](crate::sys::socket::Mmap::anonymous_huge)).
pub type XdpMap = crate::sys::socket::Mmap;

/// `SIOCETHTOOL` request number.
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// `ETHTOOL_GCHANNELS`.
const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// `struct ethtool_channels`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct EthtoolChannels {
    /// `ETHTOOL_GCHANNELS`.
    pub cmd: u32,
    /// Maximum RX-only channels.
    pub max_rx: u32,
    /// Maximum TX-only channels.
    pub max_tx: u32,
    /// Maximum other channels.
    pub max_other: u32,
    /// Maximum combined channels.
    pub max_combined: u32,
    /// RX-only channels.
    pub rx_count: u32,
    /// TX-only channels.
    pub tx_count: u32,
    /// Other channels.
    pub other_count: u32,
    /// Combined channels.
    pub combined_count: u32,
}

/// `ETHTOOL_GCHANNELS` on interface `name`, using any socket `fd` of the
/// interface's namespace for the ioctl.
pub fn channels(fd: RawFd, name: &str) -> io::Result<EthtoolChannels> {
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..Default::default()
    };
    // SAFETY: ifr is a valid ifreq with a NUL-terminated name (see
    // socket::ifreq); ifr_data points to `ch`, which lives across the call
    // and is as large as the kernel writes.
    unsafe {
        let mut ifr = crate::sys::socket::ifreq(name.as_bytes());
        ifr.ifr_ifru.ifru_data = (&mut ch as *mut EthtoolChannels).cast();
        cvt(libc::ioctl(fd, SIOCETHTOOL as _, &mut ifr))?;
    }
    Ok(ch)
}

/// A throwaway `AF_INET` datagram socket for interface ioctls (AF_XDP
/// sockets do not pass ioctls on to the device layer).
pub fn ctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the fd is owned by nobody else.
    unsafe {
        let fd = cvt(libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The interface's MAC address (`SIOCGIFHWADDR`); zeros if it has none.
pub fn if_hwaddr(fd: RawFd, name: &str) -> io::Result<[u8; 6]> {
    // SAFETY: as in `channels`; the ioctl writes into ifr.
    unsafe {
        let mut ifr = crate::sys::socket::ifreq(name.as_bytes());
        cvt(libc::ioctl(fd, libc::SIOCGIFHWADDR as _, &mut ifr))?;
        let sa = ifr.ifr_ifru.ifru_hwaddr;
        let mut mac = [0u8; 6];
        for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
            *m = *b as u8;
        }
        Ok(mac)
    }
}

/// Current `RLIMIT_MEMLOCK` soft limit in bytes (`None` = unlimited).
pub fn memlock_limit() -> Option<u64> {
    // SAFETY: getrlimit writes into a local struct.
    let mut rl: libc::rlimit = unsafe { zeroed() };
    // SAFETY: as above.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) } != 0
        || rl.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(rl.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layouts_match_the_kernel() {
        assert_eq!(size_of::<SockaddrXdp>(), 16);
        assert_eq!(offset_of!(SockaddrXdp, sxdp_shared_umem_fd), 12);
        assert_eq!(size_of::<XdpRingOffset>(), 32);
        assert_eq!(size_of::<XdpMmapOffsets>(), 128);
        assert_eq!(offset_of!(XdpMmapOffsets, cr), 96);
        assert_eq!(size_of::<XdpUmemReg>(), 32);
        assert_eq!(offset_of!(XdpUmemReg, flags), 24);
        assert_eq!(size_of::<XdpStatistics>(), 48);
        assert_eq!(size_of::<XdpDesc>(), 16);
        assert_eq!(size_of::<EthtoolChannels>(), 36);
    }
}
