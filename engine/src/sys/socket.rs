//! Typed wrappers over the raw socket, poll, mmap and eventfd system calls.
//!
//! Every function returns `std::io::Result`; the engines turn errno values
//! into [`crate::Error`]s with a message that says what was being done.

use std::ffi::CStr;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::cvt;

/// `socket(AF_PACKET, SOCK_RAW, protocol)` with `SOCK_CLOEXEC`.
///
/// Protocol 0 creates a socket that receives nothing until it is bound with a
/// protocol, so filters and rings can be set up before any frame arrives.
pub fn packet_socket(protocol_host_order: u16) -> io::Result<OwnedFd> {
    af_packet(libc::SOCK_RAW, protocol_host_order)
}

/// `socket(AF_PACKET, SOCK_DGRAM, protocol)` with `SOCK_CLOEXEC`: a
/// "cooked" packet socket (frames start at the network header; the
/// link-layer header's fields are in the `sockaddr_ll` of each ring frame).
pub fn packet_socket_cooked(protocol_host_order: u16) -> io::Result<OwnedFd> {
    af_packet(libc::SOCK_DGRAM, protocol_host_order)
}

fn af_packet(ty: i32, protocol_host_order: u16) -> io::Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments; the returned fd is
    // owned by nobody else, so wrapping it in OwnedFd is sound.
    unsafe {
        let fd = cvt(libc::socket(
            libc::AF_PACKET,
            ty | libc::SOCK_CLOEXEC,
            i32::from(protocol_host_order.to_be()),
        ))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The system's page size (4096 if sysconf cannot tell).
pub fn page_size() -> u32 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u32 } else { 4096 }
}

/// `setsockopt` with a typed value.
pub fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of `size_of::<T>()` bytes for the
    // duration of the call; the kernel only reads it.
    unsafe { setsockopt_ptr(fd, level, name, (value as *const T).cast(), size_of::<T>()) }
}

/// `setsockopt` with a byte slice (for variable-size values such as filters).
pub fn setsockopt_raw(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    // SAFETY: the slice is valid for reads of its length during the call.
    unsafe { setsockopt_ptr(fd, level, name, value.as_ptr().cast(), value.len()) }
}

/// # Safety
/// `value` is readable for `len` bytes during the call.
unsafe fn setsockopt_ptr(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: *const libc::c_void,
    len: usize,
) -> io::Result<()> {
    // SAFETY: forwarded from the caller; the kernel only reads `len` bytes.
    cvt(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value, len as libc::socklen_t) })?;
    Ok(())
}

/// `getsockopt` into a typed value; returns the value and the length the kernel wrote.
pub fn getsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<(T, usize)> {
    // SAFETY: T is a plain-old-data kernel struct (Copy, repr(C) at the call
    // sites) for which all-zero bytes are a valid value; the kernel writes at
    // most `len` bytes into it.
    unsafe {
        let mut value: T = zeroed();
        let mut len = size_of::<T>() as libc::socklen_t;
        cvt(libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        ))?;
        Ok((value, len as usize))
    }
}

/// Read and clear the socket's pending error (`SO_ERROR`).
pub fn take_socket_error(fd: RawFd) -> io::Result<i32> {
    getsockopt::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_ERROR).map(|(v, _)| v)
}

/// `bind` an AF_PACKET socket to an interface and protocol.
pub fn bind_packet(fd: &OwnedFd, ifindex: i32, protocol_host_order: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is valid. The pointer and
    // length passed to bind describe that local value.
    unsafe {
        let mut sll: libc::sockaddr_ll = zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol_host_order.to_be();
        sll.sll_ifindex = ifindex;
        cvt(libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ))?;
    }
    Ok(())
}

/// The interface index an AF_PACKET socket is bound to (`-1` once the kernel
/// has unregistered that interface).
pub fn bound_ifindex(fd: RawFd) -> io::Result<i32> {
    // SAFETY: the kernel writes at most `len` bytes into the local sockaddr_ll.
    unsafe {
        let mut sll: libc::sockaddr_ll = zeroed();
        let mut len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        cvt(libc::getsockname(
            fd,
            (&mut sll as *mut libc::sockaddr_ll).cast(),
            &mut len,
        ))?;
        Ok(sll.sll_ifindex)
    }
}

/// Interface name → index in the calling thread's network namespace.
pub fn if_index(name: &CStr) -> io::Result<i32> {
    // SAFETY: `name` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx as i32)
    }
}

/// Interface index → name, `None` if no such interface exists (any more).
pub fn if_name(ifindex: i32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(ifindex as libc::c_uint, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success if_indextoname wrote a NUL-terminated name into buf.
    Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// A zeroed `struct ifreq` naming interface `name` (cut to IFNAMSIZ-1
/// bytes, so it stays NUL-terminated), for the interface ioctls.
pub fn ifreq(name: &[u8]) -> libc::ifreq {
    // SAFETY: ifreq is plain data (integers, arrays and a union of them);
    // all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { zeroed() };
    for (dst, &src) in ifr
        .ifr_name
        .iter_mut()
        .zip(name.iter().take(libc::IFNAMSIZ - 1))
    {
        *dst = src as libc::c_char;
    }
    ifr
}

/// Interface flags (`SIOCGIFFLAGS`) using `fd` for the ioctl.
pub fn if_flags(fd: RawFd, name: &str) -> io::Result<u32> {
    // SAFETY: ifr is a valid ifreq with a NUL-terminated name (see ifreq);
    // the ioctl writes into it and reads nothing else.
    unsafe {
        let mut ifr = ifreq(name.as_bytes());
        cvt(libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut ifr))?;
        Ok(ifr.ifr_ifru.ifru_flags as u16 as u32)
    }
}

/// Interface index → name (`SIOCGIFNAME`) in the network namespace of the
/// socket `fd` (not the calling thread's); `ENODEV` once no interface has
/// that index any more.
pub fn if_name_of(fd: RawFd, ifindex: i32) -> io::Result<String> {
    // SAFETY: ifr is a valid zeroed ifreq; the ioctl reads ifru_ifindex and
    // writes a NUL-terminated name (at most IFNAMSIZ bytes) into ifr_name.
    unsafe {
        let mut ifr = ifreq(b"");
        ifr.ifr_ifru.ifru_ifindex = ifindex;
        cvt(libc::ioctl(fd, libc::SIOCGIFNAME as _, &mut ifr))?;
        Ok(CStr::from_ptr(ifr.ifr_name.as_ptr())
            .to_string_lossy()
            .into_owned())
    }
}

/// Take the datagram at the head of `fd`'s receive queue without waiting
/// (`MSG_DONTWAIT | MSG_TRUNC`): up to `buf.len()` bytes are copied, the
/// return value is its whole length (which may be larger).
pub fn recv_trunc(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is a valid writable buffer of buf.len() bytes for the
    // call; the kernel writes at most that many.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Interface MTU (`SIOCGIFMTU`) using `fd` for the ioctl.
pub fn if_mtu(fd: RawFd, name: &str) -> io::Result<u32> {
    // SAFETY: as in if_flags.
    unsafe {
        let mut ifr = ifreq(name.as_bytes());
        cvt(libc::ioctl(fd, libc::SIOCGIFMTU as _, &mut ifr))?;
        Ok(ifr.ifr_ifru.ifru_mtu as u32)
    }
}

/// A shared, read-write mapping of a socket's ring, unmapped on drop.
#[derive(Debug)]
pub struct Mmap {
    ptr: *mut u8,
    len: usize,
    locked: bool,
}

/// mmap(2) of `len` read-write bytes at an address the kernel chooses, with
/// `flags`, of `fd` at byte offset `off` (`-1` and 0 for an anonymous
/// mapping): the address, or `MAP_FAILED` with errno set.
fn mmap_fresh(len: usize, flags: libc::c_int, fd: RawFd, off: libc::off_t) -> *mut libc::c_void {
    // SAFETY: a fresh mapping at a kernel-chosen address (no MAP_FIXED):
    // it replaces nothing and nothing else refers to that range.
    unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            off,
        )
    }
}

// SAFETY: the mapping is plain memory shared with the kernel; access
// discipline (who may read which block) is enforced by the owners.
unsafe impl Send for Mmap {}
// SAFETY: as above; the mapping itself has no interior state.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Map `len` bytes of `fd`'s ring; tries `MAP_LOCKED` first when `lock`
    /// is set and falls back to an unlocked mapping (RLIMIT_MEMLOCK).
    pub fn map(fd: &OwnedFd, len: usize, lock: bool) -> io::Result<Mmap> {
        let attempt = |flags: libc::c_int| {
            let p = mmap_fresh(len, flags, fd.as_raw_fd(), 0);
            if p == libc::MAP_FAILED {
                Err(io::Error::last_os_error())
            } else {
                Ok(p.cast::<u8>())
            }
        };
        if lock {
            if let Ok(ptr) = attempt(libc::MAP_SHARED | libc::MAP_LOCKED) {
                return Ok(Mmap {
                    ptr,
                    len,
                    locked: true,
                });
            }
        }
        let ptr = attempt(libc::MAP_SHARED)?;
        Ok(Mmap {
            ptr,
            len,
            locked: false,
        })
    }

    fn checked(p: *mut libc::c_void, len: usize) -> io::Result<Mmap> {
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: p.cast(),
            len,
            locked: false,
        })
    }

    /// Map `len` bytes of a socket's ring at page offset `pgoff`
    /// (`MAP_SHARED | MAP_POPULATE`; AF_XDP rings).
    pub fn ring(fd: &OwnedFd, len: usize, pgoff: i64) -> io::Result<Mmap> {
        let p = mmap_fresh(
            len,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd.as_raw_fd(),
            pgoff,
        );
        Self::checked(p, len)
    }

    /// A fresh anonymous read-write mapping advised for transparent huge
    /// pages (`MADV_HUGEPAGE`, effective when THP is `madvise` or `always`;
    /// ignored otherwise), populated afterwards so the advice applies to
    /// the first faults. For an AF_XDP UMEM, whose frames are a page apart:
    /// with 4 KiB pages every frame is its own TLB entry.
    pub fn anonymous_huge(len: usize) -> io::Result<Mmap> {
        let p = mmap_fresh(len, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        let m = Self::checked(p, len)?;
        // SAFETY: advice and population on our own fresh mapping of `len`
        // bytes; neither changes its contents (zero pages either way).
        unsafe {
            libc::madvise(m.ptr.cast(), len, libc::MADV_HUGEPAGE);
            if libc::madvise(m.ptr.cast(), len, libc::MADV_POPULATE_WRITE) != 0 {
                // Before Linux 5.14: fault every page in by hand.
                for off in (0..len).step_by(4096) {
                    m.ptr.add(off).write_volatile(0);
                }
            }
        }
        Ok(m)
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false for a successful mapping.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `MAP_LOCKED` took effect.
    pub fn locked(&self) -> bool {
        self.locked
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned; nothing borrows the
        // mapping past the owner's lifetime.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// An eventfd used to wake a blocked wait (async-signal-safe to signal).
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// A non-blocking, close-on-exec eventfd.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain system call; the fd is owned by nobody else.
        unsafe {
            let fd = cvt(libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC))?;
            Ok(EventFd(OwnedFd::from_raw_fd(fd)))
        }
    }

    /// The raw descriptor.
    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Add 1 to the counter: only `write(2)`, so async-signal-safe.
    pub fn signal_raw(fd: RawFd) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local; errors (EAGAIN when the counter
        // is saturated, EBADF after close) leave nothing to clean up.
        unsafe {
            libc::write(fd, (&one as *const u64).cast(), 8);
        }
    }

    /// Reset the counter to zero.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a local; EAGAIN when already 0.
        unsafe {
            libc::read(self.raw(), (&mut v as *mut u64).cast(), 8);
        }
    }
}

/// Milliseconds to pass to poll(2) for `remaining`, rounded *up* so that a
/// sub-millisecond remainder never becomes a 0 (busy) poll. `None` = infinite.
pub fn poll_ms(remaining: Option<Duration>) -> libc::c_int {
    match remaining {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as libc::c_int
        }
    }
}

/// A deadline for a wait: `None` waits forever.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// From a timeout; `None` means no deadline.
    pub fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.map(|t| Instant::now() + t))
    }

    /// Time left (`None` = infinite); zero once passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// True once the deadline has passed.
    pub fn expired(&self) -> bool {
        matches!(self.remaining(), Some(d) if d.is_zero())
    }
}

// The waits that are pthread cancellation points, declared C-unwind: a
// cancellation unwinds out of them (see `crate::cancel`), and the frames
// that called them run their destructors on the way (a call of a plain
// "C" declaration is assumed not to unwind: its frame's cleanups would be
// skipped).
unsafe extern "C-unwind" {
    #[link_name = "poll"]
    fn poll_cancellable(
        fds: *mut libc::pollfd,
        n: libc::nfds_t,
        timeout: libc::c_int,
    ) -> libc::c_int;
    #[link_name = "ppoll"]
    pub(crate) fn ppoll_cancellable(
        fds: *mut libc::pollfd,
        n: libc::nfds_t,
        timeout: *const libc::timespec,
        sigmask: *const libc::sigset_t,
    ) -> libc::c_int;
}

/// A `pollfd` waiting for `fd` to be readable (`POLLIN`).
pub fn pollin(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// poll(2) over a few descriptors; EINTR is returned as `Ok(0)` so callers
/// re-check their stop flags and deadline and call again. A pthread
/// cancellation point (see `crate::cancel`).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<usize> {
    // SAFETY: the slice is valid for reads and writes of fds.len() pollfds.
    poll_result(unsafe {
        poll_cancellable(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms)
    })
}

/// The result of poll(2)/ppoll(2): the number of ready descriptors, with
/// EINTR as `Ok(0)`.
pub fn poll_result(rc: libc::c_int) -> io::Result<usize> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(rc as usize)
}

/// A classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Generic field.
    pub k: u32,
}

/// `struct sock_fprog`: a classic BPF program as socket options take it
/// (it borrows the instructions for the call).
#[repr(C)]
pub(crate) struct SockFprog {
    len: u16,
    /// The C struct's padding, spelled out so it is initialised (the
    /// kernel copies the whole struct; valgrind flags uninitialised bytes
    /// passed to setsockopt).
    _pad: [u8; size_of::<usize>() - 2],
    filter: *const SockFilter,
}

impl SockFprog {
    /// The program `prog` (at most 65535 instructions: the kernel refuses
    /// more than 4096 anyway).
    pub(crate) fn of(prog: &[SockFilter]) -> SockFprog {
        SockFprog {
            len: prog.len().min(usize::from(u16::MAX)) as u16,
            _pad: [0; size_of::<usize>() - 2],
            filter: prog.as_ptr(),
        }
    }
}

/// `SO_ATTACH_FILTER` with a classic BPF program.
pub fn attach_filter(fd: &OwnedFd, prog: &[SockFilter]) -> io::Result<()> {
    setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ATTACH_FILTER,
        &SockFprog::of(prog),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_ms_rounds_up() {
        assert_eq!(poll_ms(None), -1);
        assert_eq!(poll_ms(Some(Duration::ZERO)), 0);
        assert_eq!(poll_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(poll_ms(Some(Duration::from_micros(1500))), 2);
        assert_eq!(poll_ms(Some(Duration::from_millis(7))), 7);
        assert_eq!(poll_ms(Some(Duration::from_secs(1 << 40))), i32::MAX);
    }

    #[test]
    fn sock_filter_layout() {
        assert_eq!(size_of::<SockFilter>(), 8);
    }
}
