//! One AF_XDP socket bound to one queue, with its fill/completion rings and
//! its RX and/or TX ring, over (its share of) a UMEM.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::ring::Ring;
use super::umem::{BadDesc, Umem, check_desc, chunk_of, memlock_error};
use crate::error::{Error, ErrorKind, Result};
use crate::sys::socket as sock;
use crate::sys::xdp::{self as x, XdpDesc, XdpMap, XdpMmapOffsets, XdpRingOffset};

/// How long a bind that fails with EBUSY (the queue's previous socket is
/// still being torn down by the kernel) is retried.
pub const BIND_BUSY_RETRY: Duration = Duration::from_secs(3);

/// Copy mode sends at most this many descriptors per `sendto` kick.
pub const COPY_TX_BATCH: u32 = 32;

/// Everything one socket needs to be set up.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    /// Interface name (for messages).
    pub ifname: &'a str,
    /// Interface index.
    pub ifindex: i32,
    /// Queue id.
    pub queue: u32,
    /// Fill ring slots.
    pub fill_size: u32,
    /// Completion ring slots.
    pub comp_size: u32,
    /// RX ring slots (0: no RX ring).
    pub rx_size: u32,
    /// TX ring slots (0: no TX ring).
    pub tx_size: u32,
    /// First RX frame and RX frame count of this socket's share.
    pub rx_frames: (u32, u32),
    /// First TX frame and TX frame count.
    pub tx_frames: (u32, u32),
    /// Bind flags for the UMEM owner (`XDP_COPY`/`XDP_ZEROCOPY`/need_wakeup).
    pub bind_flags: u16,
    /// Share the UMEM registered on this socket (second and later sockets).
    pub shared_with: Option<RawFd>,
    /// Use need_wakeup.
    pub need_wakeup: bool,
}

/// Counters netring keeps per socket.
#[derive(Debug, Clone, Copy, Default)]
pub struct SockCounters {
    /// Frames handed to the user.
    pub rx_delivered: u64,
    /// Batches handed to the user.
    pub rx_batches: u64,
    /// RX descriptors refused by the bounds check.
    pub rx_invalid: u64,
    /// Frames queued on the TX ring.
    pub tx_queued: u64,
    /// TX completions reaped.
    pub tx_completed: u64,
    /// Completion addresses refused by the bounds check.
    pub tx_invalid: u64,
    /// Wake-up system calls (kicks).
    pub kicks: u64,
}

/// One bound AF_XDP socket. Field order is drop order: the ring mappings
/// go before the socket.
#[derive(Debug)]
pub struct XskSocket {
    fill: Ring<u64>,
    comp: Ring<u64>,
    rx: Option<Ring<XdpDesc>>,
    tx: Option<Ring<XdpDesc>>,
    fd: OwnedFd,
    queue: u32,
    zero_copy: bool,
    need_wakeup: bool,
    /// RX share: chunk addresses lo..hi.
    rx_share: (u64, u64),
    /// TX share: chunk addresses lo..hi.
    tx_share: (u64, u64),
    /// RX chunks that did not fit the fill ring yet.
    fill_stash: Vec<u64>,
    /// Free TX frames (chunk addresses).
    tx_free: Vec<u64>,
    /// A TX frame handed out for zero-copy filling.
    tx_reserved: Option<u64>,
    /// TX descriptors published but not yet kicked.
    unkicked: u32,
    /// RX entries held by the user.
    pub(crate) held: u32,
    pub(crate) counters: SockCounters,
}

fn ring_map(
    fd: &OwnedFd,
    off: &XdpRingOffset,
    size: u32,
    elem: usize,
    pgoff: i64,
    what: &str,
) -> Result<XdpMap> {
    let len = off.desc as usize + size as usize * elem;
    XdpMap::ring(fd, len, pgoff).map_err(|e| Error::os(format!("mmap of the {what} ring"), e))
}

impl XskSocket {
    /// Create, register/share the UMEM, size and map the rings, bind (EBUSY
    /// retried with backoff), prefill the fill ring with the RX share.
    pub fn open(umem: &Umem, s: &Setup<'_>) -> Result<XskSocket> {
        let fd = x::xdp_socket().map_err(|e| match e.raw_os_error() {
            Some(libc::EAFNOSUPPORT) => Error::new(
                ErrorKind::Unsupported,
                "socket(AF_XDP): the kernel has no AF_XDP support (CONFIG_XDP_SOCKETS)",
            ),
            _ => Error::os_needing("socket(AF_XDP)", e, &["CAP_NET_RAW"]),
        })?;
        if s.shared_with.is_none() {
            let reg = x::XdpUmemReg {
                addr: umem.as_ptr() as u64,
                len: umem.len(),
                chunk_size: umem.frame_size(),
                headroom: 0,
                flags: 0,
                tx_metadata_len: 0,
            };
            x::umem_reg(&fd, &reg).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::ENOMEM) | Some(libc::EPERM) => {
                    memlock_error(umem.len(), x::memlock_limit(), e)
                }
                _ => Error::os(
                    format!(
                        "setsockopt(XDP_UMEM_REG, {} frames x {} bytes)",
                        umem.frame_count(),
                        umem.frame_size()
                    ),
                    e,
                ),
            })?;
        }
        let set = |name: libc::c_int, what: &str, n: u32| {
            sock::setsockopt(&fd, x::SOL_XDP, name, &n)
                .map_err(|e| Error::os(format!("setsockopt({what}, {n} slots)"), e))
        };
        set(x::XDP_UMEM_FILL_RING, "XDP_UMEM_FILL_RING", s.fill_size)?;
        set(
            x::XDP_UMEM_COMPLETION_RING,
            "XDP_UMEM_COMPLETION_RING",
            s.comp_size,
        )?;
        if s.rx_size > 0 {
            set(x::XDP_RX_RING, "XDP_RX_RING", s.rx_size)?;
        }
        if s.tx_size > 0 {
            set(x::XDP_TX_RING, "XDP_TX_RING", s.tx_size)?;
        }
        let (off, len) =
            sock::getsockopt::<XdpMmapOffsets>(fd.as_raw_fd(), x::SOL_XDP, x::XDP_MMAP_OFFSETS)
                .map_err(|e| Error::os("getsockopt(XDP_MMAP_OFFSETS)", e))?;
        if len != size_of::<XdpMmapOffsets>() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "XDP_MMAP_OFFSETS returned {len} bytes, expected {} (kernel older than 5.4?)",
                    size_of::<XdpMmapOffsets>()
                ),
            ));
        }
        // Map every ring before bind: afterwards the fill and completion
        // rings belong to the buffer pool.
        let fill_map = ring_map(
            &fd,
            &off.fr,
            s.fill_size,
            8,
            x::XDP_UMEM_PGOFF_FILL_RING,
            "fill",
        )?;
        let comp_map = ring_map(
            &fd,
            &off.cr,
            s.comp_size,
            8,
            x::XDP_UMEM_PGOFF_COMPLETION_RING,
            "completion",
        )?;
        // SAFETY: each map was made for its ring from the kernel's offsets
        // with room for `size` descriptors of the ring's element type.
        let mut fill = unsafe { Ring::<u64>::from_map(fill_map, &off.fr, s.fill_size) };
        // SAFETY: as above.
        let mut comp = unsafe { Ring::<u64>::from_map(comp_map, &off.cr, s.comp_size) };
        let mut rx = if s.rx_size > 0 {
            let m = ring_map(&fd, &off.rx, s.rx_size, 16, x::XDP_PGOFF_RX_RING, "RX")?;
            // SAFETY: as above.
            Some(unsafe { Ring::<XdpDesc>::from_map(m, &off.rx, s.rx_size) })
        } else {
            None
        };
        let mut tx = if s.tx_size > 0 {
            let m = ring_map(&fd, &off.tx, s.tx_size, 16, x::XDP_PGOFF_TX_RING, "TX")?;
            // SAFETY: as above.
            Some(unsafe { Ring::<XdpDesc>::from_map(m, &off.tx, s.tx_size) })
        } else {
            None
        };

        let mut addr = x::SockaddrXdp {
            sxdp_family: x::AF_XDP as u16,
            sxdp_flags: s.bind_flags,
            sxdp_ifindex: s.ifindex as u32,
            sxdp_queue_id: s.queue,
            sxdp_shared_umem_fd: 0,
        };
        if let Some(owner) = s.shared_with {
            addr.sxdp_flags = x::XDP_SHARED_UMEM;
            addr.sxdp_shared_umem_fd = owner as u32;
        }
        bind_retrying(&fd, &addr, s)?;

        let (opts, _) =
            sock::getsockopt::<x::XdpOptions>(fd.as_raw_fd(), x::SOL_XDP, x::XDP_OPTIONS)
                .map_err(|e| Error::os("getsockopt(XDP_OPTIONS)", e))?;
        fill.init_producer();
        comp.init_consumer();
        if let Some(r) = rx.as_mut() {
            r.init_consumer();
        }
        if let Some(t) = tx.as_mut() {
            t.init_producer();
        }
        let fs = u64::from(umem.frame_size());
        let rx_share = (
            u64::from(s.rx_frames.0) * fs,
            u64::from(s.rx_frames.0 + s.rx_frames.1) * fs,
        );
        let tx_share = (
            u64::from(s.tx_frames.0) * fs,
            u64::from(s.tx_frames.0 + s.tx_frames.1) * fs,
        );
        let mut sock = XskSocket {
            fill,
            comp,
            rx,
            tx,
            fd,
            queue: s.queue,
            zero_copy: opts.flags & x::XDP_OPTIONS_ZEROCOPY != 0,
            need_wakeup: s.need_wakeup,
            rx_share,
            tx_share,
            fill_stash: Vec::with_capacity(s.rx_frames.1 as usize),
            tx_free: (0..s.tx_frames.1)
                .rev()
                .map(|i| tx_share.0 + u64::from(i) * fs)
                .collect(),
            tx_reserved: None,
            unkicked: 0,
            held: 0,
            counters: SockCounters::default(),
        };
        sock.fill_stash.extend(
            (0..s.rx_frames.1)
                .rev()
                .map(|i| rx_share.0 + u64::from(i) * fs),
        );
        sock.refill();
        Ok(sock)
    }

    /// The socket fd.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The queue id.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Whether the kernel bound it in zero-copy mode.
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Busy polling on this socket: `SO_PREFER_BUSY_POLL` (if `prefer`),
    /// `SO_BUSY_POLL` = `us` and `SO_BUSY_POLL_BUDGET` = `budget` (if not
    /// 0). The error names the option (and the capability it may need).
    pub fn set_busy_poll(&self, us: u32, prefer: bool, budget: u16) -> Result<()> {
        use crate::sys::sockopt as so;
        let sol = libc::SOL_SOCKET;
        let opt = |name, v: i32, what: String| {
            sock::setsockopt(&self.fd, sol, name, &v)
                .map_err(|e| Error::os_needing(what, e, &["CAP_NET_ADMIN"]))
        };
        if prefer {
            opt(
                so::SO_PREFER_BUSY_POLL,
                1,
                "prefer_busy_poll: setsockopt(SO_PREFER_BUSY_POLL)".into(),
            )?;
        }
        opt(
            so::SO_BUSY_POLL,
            us as i32,
            format!("busy_poll_us {us}: setsockopt(SO_BUSY_POLL)"),
        )?;
        if budget > 0 {
            opt(
                so::SO_BUSY_POLL_BUDGET,
                i32::from(budget),
                format!(
                    "busy_poll_budget {budget}: setsockopt(SO_BUSY_POLL_BUDGET) (above 64 needs CAP_NET_ADMIN)"
                ),
            )?;
        }
        Ok(())
    }

    /// Drive the receive path once from this thread: `recvfrom(MSG_DONTWAIT)`,
    /// which busy-polls the queue's NAPI context when `SO_BUSY_POLL` is set
    /// (not counted as a kick).
    pub fn busy_poll_rx(&self) {
        let _ = x::kick_rx(self.fd());
    }

    /// Whether this socket has an RX ring.
    pub fn has_rx(&self) -> bool {
        self.rx.is_some()
    }

    /// Whether this socket has a TX ring.
    pub fn has_tx(&self) -> bool {
        self.tx.is_some()
    }

    /// Move stashed chunks into the fill ring (as many as fit).
    fn refill(&mut self) {
        let n = self.fill_stash.len() as u32;
        if n == 0 {
            return;
        }
        let k = self.fill.free(n).min(n);
        for i in 0..k {
            if let Some(a) = self.fill_stash.pop() {
                self.fill.write(i, a);
            }
        }
        if k > 0 {
            self.fill.submit(k);
        }
    }

    /// RX entries ready (at most `max`), not counting held ones.
    pub fn rx_ready(&mut self, max: u32) -> u32 {
        match self.rx.as_mut() {
            Some(r) => r.available(max),
            None => 0,
        }
    }

    /// Hold `n` RX entries for the user.
    pub fn hold(&mut self, n: u32) {
        self.held = n;
        self.counters.rx_batches += 1;
    }

    /// The `i`-th held descriptor, unchecked (the walk checks it).
    #[inline(always)]
    pub fn held_raw(&self, i: u32) -> XdpDesc {
        match self.rx.as_ref() {
            Some(rx) => rx.read(i),
            None => XdpDesc::default(),
        }
    }

    /// This socket's RX share of the UMEM: chunk addresses lo..hi.
    pub fn rx_share(&self) -> (u64, u64) {
        self.rx_share
    }

    /// The `i`-th held descriptor, checked: `Ok((addr, len))` or the
    /// reason it is refused.
    #[inline(always)]
    pub fn held_desc(&self, umem: &Umem, i: u32) -> std::result::Result<(u64, u32), BadDesc> {
        let Some(rx) = self.rx.as_ref() else {
            return Err(BadDesc::OutOfUmem);
        };
        let d = rx.read(i);
        match check_desc(d.addr, d.len, umem.frame_size(), umem.len(), self.rx_share) {
            Ok(_) => Ok((d.addr, d.len)),
            Err((why, _)) => Err(why),
        }
    }

    /// Give the held RX entries back: their chunks go to the fill ring, the
    /// RX slots to the kernel.
    pub fn release_held(&mut self, umem: &Umem) {
        let n = self.held;
        self.held = 0;
        let Some(rx) = self.rx.as_mut() else {
            return;
        };
        let mut free = self.fill.free(n);
        let mut k = 0;
        let mut delivered = 0u64;
        for i in 0..n {
            let d = rx.read(i);
            let chunk =
                match check_desc(d.addr, d.len, umem.frame_size(), umem.len(), self.rx_share) {
                    Ok(c) => {
                        delivered += 1;
                        Some(c)
                    }
                    Err((_, c)) => {
                        self.counters.rx_invalid += 1;
                        c
                    }
                };
            if let Some(c) = chunk {
                if k < free {
                    self.fill.write(k, c);
                    k += 1;
                } else {
                    self.fill_stash.push(c);
                }
            }
        }
        rx.release(n);
        self.counters.rx_delivered += delivered;
        if k > 0 {
            self.fill.submit(k);
        }
        free = free.saturating_sub(k);
        if free > 0 && !self.fill_stash.is_empty() {
            self.refill();
        }
    }

    /// Whether the fill ring asks for a wake-up (zero-copy drivers that ran
    /// dry); if so, kick the RX path.
    pub fn wake_rx_if_needed(&mut self) {
        if self.need_wakeup && self.rx.is_some() && self.fill.needs_wakeup() {
            self.counters.kicks += 1;
            let _ = x::kick_rx(self.fd());
        }
    }

    /// Move completed TX frames back to the free list; returns how many.
    pub fn reap(&mut self, frame_size: u32) -> u32 {
        let n = self.comp.available(u32::MAX);
        for i in 0..n {
            let c = chunk_of(self.comp.read(i), frame_size);
            if c >= self.tx_share.0 && c < self.tx_share.1 {
                self.tx_free.push(c);
            } else {
                self.counters.tx_invalid += 1;
            }
        }
        if n > 0 {
            self.comp.release(n);
            self.counters.tx_completed += u64::from(n);
        }
        n
    }

    fn no_tx(&self) -> Error {
        Error::new(
            ErrorKind::InvalidConfig,
            "this AF_XDP socket was opened without TX (mode RX): open it with TX or RX+TX",
        )
    }

    /// Copy `frames` into free TX frames and queue them, as many as there
    /// are free frames and TX slots; then kick. Returns how many were
    /// queued. A zero-length or oversized frame fails the whole call before
    /// anything is queued.
    pub fn send(&mut self, umem: &Umem, frames: &[&[u8]]) -> Result<usize> {
        if self.tx.is_none() {
            return Err(self.no_tx());
        }
        let cap = umem.frame_size() as usize;
        for (i, f) in frames.iter().enumerate() {
            if f.is_empty() {
                return Err(Error::invalid_arg(format!(
                    "frame {i} has length 0: AF_XDP cannot send an empty frame"
                )));
            }
            if f.len() > cap {
                return Err(Error::new(
                    ErrorKind::TooBig,
                    format!(
                        "frame {i} of {} bytes exceeds the UMEM frame ({cap} bytes)",
                        f.len()
                    ),
                ));
            }
        }
        if self.tx_free.len() < frames.len() {
            self.reap(umem.frame_size());
        }
        let Some(tx) = self.tx.as_mut() else {
            return Err(self.no_tx());
        };
        let n = (frames.len() as u32)
            .min(self.tx_free.len() as u32)
            .min(tx.free(frames.len() as u32));
        for (i, f) in frames.iter().take(n as usize).enumerate() {
            let Some(base) = self.tx_free.pop() else {
                break;
            };
            // SAFETY: base is a free TX chunk of this socket's share (owned
            // by user space until the kernel completes it); f.len() <= cap.
            unsafe {
                std::ptr::copy_nonoverlapping(f.as_ptr(), umem.frame_ptr(base), f.len());
            }
            tx.write(
                i as u32,
                XdpDesc {
                    addr: base,
                    len: f.len() as u32,
                    options: 0,
                },
            );
        }
        if n > 0 {
            tx.submit(n);
            self.unkicked += n;
            self.counters.tx_queued += u64::from(n);
        }
        self.kick(umem.frame_size())?;
        Ok(n as usize)
    }

    /// A free TX frame for zero-copy filling: `(chunk address, capacity)`,
    /// or `None` when every TX frame is in flight. The same frame is
    /// returned until it is submitted.
    pub fn tx_alloc(&mut self, umem: &Umem) -> Result<Option<(u64, u32)>> {
        if self.tx.is_none() {
            return Err(self.no_tx());
        }
        if let Some(a) = self.tx_reserved {
            return Ok(Some((a, umem.frame_size())));
        }
        if self.tx_free.is_empty() {
            self.reap(umem.frame_size());
        }
        if self.tx_free.is_empty() {
            // Frames may be waiting for a kick to complete.
            self.kick(umem.frame_size())?;
            self.reap(umem.frame_size());
        }
        self.tx_reserved = self.tx_free.pop();
        Ok(self.tx_reserved.map(|a| (a, umem.frame_size())))
    }

    /// Queue the reserved frame with `len` bytes. Kicks once 32 frames are
    /// pending, so a loop of alloc/submit costs no syscall per frame.
    pub fn tx_submit(&mut self, umem: &Umem, len: u32) -> Result<()> {
        let Some(base) = self.tx_reserved else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "no TX frame is reserved: get one with the frame allocation call first",
            ));
        };
        if len == 0 {
            return Err(Error::invalid_arg(
                "length 0: AF_XDP cannot send an empty frame (the frame stays reserved)",
            ));
        }
        if len > umem.frame_size() {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!(
                    "length {len} exceeds the UMEM frame ({} bytes)",
                    umem.frame_size()
                ),
            ));
        }
        let Some(tx) = self.tx.as_mut() else {
            return Err(self.no_tx());
        };
        if tx.free(1) == 0 {
            self.kick(umem.frame_size())?;
            self.reap(umem.frame_size());
        }
        let Some(tx) = self.tx.as_mut() else {
            return Err(self.no_tx());
        };
        if tx.free(1) == 0 {
            return Err(Error::new(
                ErrorKind::Busy,
                "the TX ring is full: flush, then submit again (the frame stays reserved)",
            ));
        }
        tx.write(
            0,
            XdpDesc {
                addr: base,
                len,
                options: 0,
            },
        );
        tx.submit(1);
        self.tx_reserved = None;
        self.unkicked += 1;
        self.counters.tx_queued += 1;
        if self.unkicked >= COPY_TX_BATCH {
            self.kick(umem.frame_size())?;
        }
        Ok(())
    }

    /// TX descriptors the kernel has not consumed yet.
    pub fn tx_outstanding(&mut self) -> u32 {
        self.tx.as_mut().map_or(0, |t| t.outstanding())
    }

    /// TX frames queued and not yet completed.
    pub fn tx_in_flight(&self, tx_frames: u32) -> u32 {
        tx_frames - self.tx_free.len() as u32 - u32::from(self.tx_reserved.is_some())
    }

    /// Make the kernel send what is on the TX ring. Copy mode handles at
    /// most 32 descriptors per call, so this kicks in a loop
    /// (`sendto(MSG_DONTWAIT)`) while the kernel makes progress, reaping
    /// completions in between.
    pub fn kick(&mut self, frame_size: u32) -> Result<()> {
        self.unkicked = 0;
        if self.tx.is_none() {
            return Ok(());
        }
        let mut last = self.tx_outstanding();
        let mut stalls = 0;
        while last > 0 {
            // Copy mode: only a syscall sends. Zero-copy with need_wakeup:
            // the driver says whether it needs one.
            let wanted = self.tx.as_ref().is_some_and(|t| t.needs_wakeup());
            if self.zero_copy && self.need_wakeup && !wanted {
                return Ok(());
            }
            self.counters.kicks += 1;
            match x::kick_tx(self.fd.as_raw_fd()) {
                Ok(()) => {}
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ENOBUFS) => {}
                    Some(libc::ENETDOWN) | Some(libc::ENXIO) => {
                        return Err(Error::os(
                            format!("sending on queue {} (interface down?)", self.queue),
                            e,
                        ));
                    }
                    _ => return Err(Error::os("sendto (AF_XDP TX kick)", e)),
                },
            }
            if self.zero_copy {
                return Ok(());
            }
            // Completions must be reaped or the kernel stops once the
            // completion ring is full.
            let reaped = self.reap(frame_size);
            let now = self.tx_outstanding();
            if now >= last && reaped == 0 {
                stalls += 1;
                if stalls >= 3 {
                    // No progress: the device is busy; try again later.
                    return Ok(());
                }
            } else {
                stalls = 0;
            }
            last = now;
        }
        Ok(())
    }

    /// Kernel statistics of this socket.
    pub fn kernel_stats(&self) -> Result<x::XdpStatistics> {
        sock::getsockopt::<x::XdpStatistics>(self.fd(), x::SOL_XDP, x::XDP_STATISTICS)
            .map(|(s, _)| s)
            .map_err(|e| Error::os("getsockopt(XDP_STATISTICS)", e))
    }
}

fn bind_retrying(fd: &OwnedFd, addr: &x::SockaddrXdp, s: &Setup<'_>) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match x::bind_xdp(fd, addr) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                if start.elapsed() >= BIND_BUSY_RETRY {
                    return Err(Error::new(
                        ErrorKind::Busy,
                        format!(
                            "queue {} of '{}' is in use by another AF_XDP socket (bind kept \
                             failing with EBUSY for {:?}): close that socket or pick another queue",
                            s.queue, s.ifname, BIND_BUSY_RETRY
                        ),
                    ));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(bind_error(e, addr, s)),
        }
    }
}

fn bind_error(e: io::Error, addr: &x::SockaddrXdp, s: &Setup<'_>) -> Error {
    let mode = if addr.sxdp_flags & x::XDP_SHARED_UMEM != 0 {
        "shared UMEM"
    } else if addr.sxdp_flags & x::XDP_ZEROCOPY != 0 {
        "zero-copy"
    } else if addr.sxdp_flags & x::XDP_COPY != 0 {
        "copy"
    } else {
        "default"
    };
    let what = format!(
        "bind(AF_XDP) to '{}' queue {} ({mode} mode)",
        s.ifname, s.queue
    );
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(524) if addr.sxdp_flags & x::XDP_ZEROCOPY != 0 => Error::new(
            ErrorKind::Unsupported,
            format!("{what}: {e}: the driver has no zero-copy AF_XDP support; use copy mode"),
        ),
        _ => Error::os(what, e),
    }
}
