//! [`Capture`]: RX over a TPACKET_V3 block ring.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::block::{BlockHeader, Malformed, PacketIter, block_header};
use crate::error::{Error, ErrorKind, Result};
use crate::packet::Packet;
use crate::sys::socket::{self, Deadline, EventFd, Mmap, SockFilter};
use crate::sys::tpacket::{self as tp, block_desc};

/// Largest snap length netring accepts (libpcap's `MAXIMUM_SNAPLEN`).
pub const MAX_SNAPLEN: u32 = 262_144;
/// Largest total ring size accepted (16 GiB): a guard against typos.
pub const MAX_RING_BYTES: u64 = 16 << 30;

/// Capture configuration. `Default` gives the documented defaults; change
/// fields and pass it to [`Capture::open`], which validates everything
/// before touching the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Bytes per ring block: a power of two, a multiple of the page size.
    /// Default 4 MiB.
    pub block_size: u32,
    /// Number of blocks. Default 64 (a 256 MiB ring).
    pub block_count: u32,
    /// Frame size used for the kernel's frame accounting: a multiple of 16,
    /// at least 80, at most `block_size`. Default 2048.
    pub frame_size: u32,
    /// Milliseconds after which the kernel hands over a partly filled block
    /// (1..=65535; 0 lets the kernel choose). Default 60.
    pub block_timeout_ms: u32,
    /// How long [`Capture::next_batch`] waits (the other waits take an
    /// explicit timeout). Default 100 ms.
    pub poll_timeout: Duration,
    /// Bytes of each frame to capture (1..=262144). Default 262144.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode while the capture is open.
    /// Default true.
    pub promiscuous: bool,
    /// Do not capture frames this host sends (`PACKET_IGNORE_OUTGOING`).
    /// Default false.
    pub ignore_outgoing: bool,
    /// Ask the kernel to fill the receive hash (costs ~9 % kernel
    /// throughput). Default false.
    pub fill_rxhash: bool,
    /// Try to lock the ring in memory (`MAP_LOCKED`, falls back silently to
    /// an unlocked mapping; see [`RingInfo::locked`]). Default true.
    pub lock_memory: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            block_size: 4 << 20,
            block_count: 64,
            frame_size: 2048,
            block_timeout_ms: 60,
            poll_timeout: Duration::from_millis(100),
            snaplen: MAX_SNAPLEN,
            promiscuous: true,
            ignore_outgoing: false,
            fill_rxhash: false,
            lock_memory: true,
        }
    }
}

fn page_size() -> u32 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u32 } else { 4096 }
}

impl CaptureConfig {
    /// Check every field; the error names the field, its value and the rule.
    pub fn validate(&self) -> Result<()> {
        let page = page_size();
        let bs = self.block_size;
        if bs == 0 || !bs.is_power_of_two() {
            return Err(Error::config(format!(
                "block_size {bs} is not a power of two"
            )));
        }
        if bs % page != 0 {
            return Err(Error::config(format!(
                "block_size {bs} is not a multiple of the page size ({page})"
            )));
        }
        if self.block_count == 0 {
            return Err(Error::config(
                "block_count 0: the ring needs at least one block",
            ));
        }
        let total = u64::from(bs) * u64::from(self.block_count);
        if total > MAX_RING_BYTES {
            return Err(Error::config(format!(
                "ring of {} blocks x {bs} bytes ({} MiB) exceeds the 16 GiB limit",
                self.block_count,
                total >> 20
            )));
        }
        let fs = self.frame_size;
        if fs < tp::tpacket_align(tp::v3_hdr::HDRLEN) as u32
            || fs % tp::TPACKET_ALIGNMENT as u32 != 0
        {
            return Err(Error::config(format!(
                "frame_size {fs} must be a multiple of 16 and at least {}",
                tp::tpacket_align(tp::v3_hdr::HDRLEN)
            )));
        }
        if fs > bs {
            return Err(Error::config(format!(
                "frame_size {fs} is larger than block_size {bs}"
            )));
        }
        if self.block_timeout_ms > 65_535 {
            return Err(Error::config(format!(
                "block_timeout_ms {} exceeds 65535",
                self.block_timeout_ms
            )));
        }
        if self.snaplen == 0 || self.snaplen > MAX_SNAPLEN {
            return Err(Error::config(format!(
                "snaplen {} must be between 1 and {MAX_SNAPLEN}",
                self.snaplen
            )));
        }
        Ok(())
    }
}

/// What the ring really got (the kernel may have given fewer blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RingInfo {
    /// Bytes per block.
    pub block_size: u32,
    /// Blocks allocated.
    pub block_count: u32,
    /// Blocks asked for.
    pub block_count_requested: u32,
    /// Frame size.
    pub frame_size: u32,
    /// Whether the mapping is locked in memory.
    pub locked: bool,
}

/// Lifetime counters. `packets`, `drops` and `freezes` come from the kernel
/// (`PACKET_STATISTICS`, which resets on every read; netring sums them in
/// 64 bits); the rest are counted by netring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Packets the kernel put into the ring.
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub drops: u64,
    /// Times the kernel froze the queue (ring full).
    pub freezes: u64,
    /// Packets in blocks handed to the user (batches and single packets).
    pub delivered: u64,
    /// Blocks handed to the user.
    pub blocks: u64,
    /// Blocks whose kernel sequence number skipped ahead (should stay 0).
    pub seq_gaps: u64,
    /// Blocks that failed validation (should stay 0; see the last error).
    pub malformed: u64,
}

impl Stats {
    fn minus(&self, o: &Stats) -> Stats {
        Stats {
            packets: self.packets - o.packets,
            drops: self.drops - o.drops,
            freezes: self.freezes - o.freezes,
            delivered: self.delivered - o.delivered,
            blocks: self.blocks - o.blocks,
            seq_gaps: self.seq_gaps - o.seq_gaps,
            malformed: self.malformed - o.malformed,
        }
    }
}

/// The outcome of a wait.
#[derive(Debug)]
pub enum Wait<T> {
    /// Data is ready.
    Ready(T),
    /// The timeout passed with nothing to hand over.
    Timeout,
    /// [`Breaker::break_loop`] was called (the request is consumed).
    Interrupted,
    /// The timeout passed while the interface was down; capture resumes by
    /// itself when the interface comes back up.
    InterfaceDown,
}

#[derive(Debug)]
struct BreakInner {
    flag: AtomicBool,
    efd: EventFd,
}

/// Stops a blocked or future wait of its [`Capture`]. Cheap to clone; `Send`
/// and `Sync`; [`Breaker::break_loop`] is async-signal-safe.
#[derive(Debug, Clone)]
pub struct Breaker(Arc<BreakInner>);

impl Breaker {
    fn new() -> Result<Breaker> {
        let efd = EventFd::new().map_err(|e| Error::os("eventfd", e))?;
        Ok(Breaker(Arc::new(BreakInner {
            flag: AtomicBool::new(false),
            efd,
        })))
    }

    /// Ask the capture to return [`Wait::Interrupted`] from its current or
    /// next wait. Only an atomic store and a `write(2)`: safe in a signal
    /// handler and from any thread.
    pub fn break_loop(&self) {
        self.0.flag.store(true, Ordering::Release);
        EventFd::signal_raw(self.0.efd.raw());
    }

    fn take(&self) -> bool {
        self.0.flag.swap(false, Ordering::AcqRel)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    None,
    Batch,
    Packets { off: usize, remaining: u32 },
}

/// An AF_PACKET TPACKET_V3 capture on one interface.
///
/// Field order fixes the drop order: the ring is unmapped before the socket
/// is closed.
#[derive(Debug)]
pub struct Capture {
    map: Mmap,
    fd: OwnedFd,
    brk: Breaker,
    ifname: String,
    ifindex: i32,
    ring: RingInfo,
    poll_timeout: Duration,
    cur: usize,
    held: Held,
    down: bool,
    last_seq: Option<u64>,
    total: Stats,
    reported: Stats,
    last_error: Option<Malformed>,
}

/// Attach a classic filter that accepts everything, cut to `snaplen`.
fn snaplen_filter(snaplen: u32) -> [SockFilter; 1] {
    [SockFilter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: snaplen,
    }] // BPF_RET | BPF_K
}

impl Capture {
    /// Open a capture on interface `ifname` of the calling thread's network
    /// namespace.
    ///
    /// Order of setup: socket with protocol 0 (receives nothing yet) →
    /// TPACKET_V3 → snap-length filter → ring (shrinking the block count
    /// down to 25 % on ENOMEM) → mmap → options → bind with `ETH_P_ALL`.
    /// So no frame reaches the ring before the filter and ring are in place.
    pub fn open(ifname: &str, cfg: &CaptureConfig) -> Result<Capture> {
        cfg.validate()?;
        if ifname.is_empty() || ifname.len() >= libc::IFNAMSIZ || ifname.contains(['\0', '/', ' '])
        {
            return Err(Error::invalid_arg(format!(
                "interface name '{ifname}' is not valid (1 to 15 bytes, no '/', space or NUL)"
            )));
        }
        let cname =
            CString::new(ifname).map_err(|_| Error::invalid_arg("interface name contains NUL"))?;
        let fd =
            socket::packet_socket(0).map_err(|e| Error::os("socket(AF_PACKET, SOCK_RAW)", e))?;
        let ifindex = socket::if_index(&cname).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                Error::new(
                    ErrorKind::NoDevice,
                    format!(
                        "interface '{ifname}' not found in this network namespace \
                         (`ip link` lists the interfaces)"
                    ),
                )
            } else {
                Error::os(format!("looking up interface '{ifname}'"), e)
            }
        })?;
        socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_VERSION, &tp::TPACKET_V3)
            .map_err(|e| Error::os("setsockopt(PACKET_VERSION, TPACKET_V3)", e))?;
        if cfg.snaplen < MAX_SNAPLEN {
            socket::attach_filter(&fd, &snaplen_filter(cfg.snaplen))
                .map_err(|e| Error::os("attaching the snap-length filter", e))?;
        }
        let (ring, map) = Self::setup_ring(&fd, cfg)?;
        if cfg.ignore_outgoing {
            socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_IGNORE_OUTGOING, &1i32)
                .map_err(|e| Error::os("setsockopt(PACKET_IGNORE_OUTGOING)", e))?;
        }
        if cfg.promiscuous {
            let mreq = tp::PacketMreq {
                mr_ifindex: ifindex,
                mr_type: tp::PACKET_MR_PROMISC,
                ..Default::default()
            };
            socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| Error::os(format!("enabling promiscuous mode on '{ifname}'"), e))?;
        }
        socket::bind_packet(&fd, ifindex, tp::ETH_P_ALL)
            .map_err(|e| Error::os(format!("binding to interface '{ifname}'"), e))?;
        Ok(Capture {
            map,
            fd,
            brk: Breaker::new()?,
            ifname: ifname.to_owned(),
            ifindex,
            ring,
            poll_timeout: cfg.poll_timeout,
            cur: 0,
            held: Held::None,
            down: false,
            last_seq: None,
            total: Stats::default(),
            reported: Stats::default(),
            last_error: None,
        })
    }

    fn setup_ring(fd: &OwnedFd, cfg: &CaptureConfig) -> Result<(RingInfo, Mmap)> {
        let min_blocks = cfg.block_count.div_ceil(4).max(1);
        let mut blocks = cfg.block_count;
        loop {
            let req = tp::TpacketReq3 {
                tp_block_size: cfg.block_size,
                tp_block_nr: blocks,
                tp_frame_size: cfg.frame_size,
                tp_frame_nr: (cfg.block_size / cfg.frame_size) * blocks,
                tp_retire_blk_tov: cfg.block_timeout_ms,
                tp_sizeof_priv: 0,
                tp_feature_req_word: if cfg.fill_rxhash {
                    tp::TP_FT_REQ_FILL_RXHASH
                } else {
                    0
                },
            };
            match socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_RX_RING, &req) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && blocks > min_blocks => {
                    blocks = (blocks * 3 / 4).max(min_blocks);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                    return Err(Error::new(
                        ErrorKind::NoMemory,
                        format!(
                            "the kernel could not allocate the ring: {} blocks x {} bytes ({} MiB) asked, \
                             down to {} blocks tried; use fewer or smaller blocks",
                            cfg.block_count,
                            cfg.block_size,
                            (u64::from(cfg.block_count) * u64::from(cfg.block_size)) >> 20,
                            blocks
                        ),
                    ));
                }
                Err(e) => {
                    return Err(Error::os(
                        format!(
                            "setsockopt(PACKET_RX_RING, {} blocks x {} bytes, frame {})",
                            blocks, cfg.block_size, cfg.frame_size
                        ),
                        e,
                    ));
                }
            }
        }
        let len = cfg.block_size as usize * blocks as usize;
        let map = Mmap::map(fd, len, cfg.lock_memory)
            .map_err(|e| Error::os(format!("mmap of the {} MiB ring", len >> 20), e))?;
        let info = RingInfo {
            block_size: cfg.block_size,
            block_count: blocks,
            block_count_requested: cfg.block_count,
            frame_size: cfg.frame_size,
            locked: map.locked(),
        };
        Ok((info, map))
    }

    /// The socket descriptor, for poll/epoll (readable when a block is ready).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Interface index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The ring's real geometry.
    pub fn ring_info(&self) -> RingInfo {
        self.ring
    }

    /// A handle that stops waits from another thread or a signal handler.
    pub fn breaker(&self) -> Breaker {
        self.brk.clone()
    }

    /// The last validation failure seen in a block, if any.
    pub fn last_malformed(&self) -> Option<Malformed> {
        self.last_error
    }

    fn block_ptr(&self, idx: usize) -> *mut u8 {
        debug_assert!(idx < self.ring.block_count as usize);
        // SAFETY: idx < block_count, so the offset stays inside the mapping.
        unsafe { self.map.as_ptr().add(idx * self.ring.block_size as usize) }
    }

    fn status_word(&self, idx: usize) -> &AtomicU32 {
        // SAFETY: the block starts page-aligned inside the live mapping, so
        // the status word at offset 8 is 4-byte aligned and in bounds; it is
        // shared with the kernel, hence only accessed atomically.
        unsafe { &*(self.block_ptr(idx).add(block_desc::BLOCK_STATUS) as *const AtomicU32) }
    }

    /// The bytes of a block the user holds.
    fn block_bytes(&self, idx: usize) -> &[u8] {
        // SAFETY: only called for the held block, whose status was observed
        // as TP_STATUS_USER with Acquire: the kernel does not write to it
        // until release() stores TP_STATUS_KERNEL, so reading it as a shared
        // slice for the borrow of &self is sound.
        unsafe { std::slice::from_raw_parts(self.block_ptr(idx), self.ring.block_size as usize) }
    }

    fn ready(&self) -> bool {
        self.status_word(self.cur).load(Ordering::Acquire) & tp::TP_STATUS_USER != 0
    }

    /// Re-check a down interface: gone → error; up again → leave down mode.
    fn check_link(&mut self) -> Result<()> {
        let gone = || {
            Error::new(
                ErrorKind::InterfaceGone,
                format!(
                    "interface '{}' (index {}) was removed; close this capture",
                    self.ifname, self.ifindex
                ),
            )
        };
        match socket::bound_ifindex(self.fd()) {
            Ok(-1) => return Err(gone()),
            Ok(_) => {}
            Err(e) => return Err(Error::os("getsockname", e)),
        }
        match socket::if_flags(self.fd(), &self.ifname) {
            Ok(flags) => {
                if flags & libc::IFF_UP as u32 != 0 {
                    self.down = false;
                }
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Err(gone()),
            Err(e) => Err(Error::os("ioctl(SIOCGIFFLAGS)", e)),
        }
    }

    /// Wait until the next block is ready, the deadline passes, or a break.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Wait<()>> {
        let deadline = Deadline::after(timeout);
        loop {
            if self.brk.take() {
                self.brk.0.efd.drain();
                return Ok(Wait::Interrupted);
            }
            if self.ready() {
                return Ok(Wait::Ready(()));
            }
            if self.down {
                self.check_link()?;
            }
            if deadline.expired() {
                return Ok(if self.down {
                    Wait::InterfaceDown
                } else {
                    Wait::Timeout
                });
            }
            let remaining = deadline.remaining();
            let mut fds = [
                libc::pollfd {
                    fd: self.brk.0.efd.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // While the interface is down the socket may report POLLERR
            // again and again: wait on the wake-up fd only, in slices, and
            // re-check the link (and the ring: a block may still retire).
            let (n, ms) = if self.down {
                (
                    1,
                    socket::poll_ms(Some(remaining.map_or(Duration::from_millis(100), |r| {
                        r.min(Duration::from_millis(100))
                    }))),
                )
            } else {
                (2, socket::poll_ms(remaining))
            };
            socket::poll(&mut fds[..n], ms).map_err(|e| Error::os("poll", e))?;
            if fds[0].revents & libc::POLLIN != 0 {
                // Drain before re-checking the flag at the top of the loop, so
                // a late write cannot leave the eventfd readable (a spin).
                self.brk.0.efd.drain();
                continue;
            }
            if n == 2 && fds[1].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                self.on_socket_error()?;
            }
        }
    }

    #[cold]
    fn on_socket_error(&mut self) -> Result<()> {
        let err = socket::take_socket_error(self.fd())
            .map_err(|e| Error::os("getsockopt(SO_ERROR)", e))?;
        match err {
            0 => {
                // POLLERR without a pending error: treat like a down link so
                // the next waits cannot spin.
                self.down = true;
                self.check_link()
            }
            libc::ENETDOWN => {
                self.down = true;
                self.check_link()
            }
            e => Err(Error::os(
                format!("capture on '{}'", self.ifname),
                io::Error::from_raw_os_error(e),
            )),
        }
    }

    /// Take the ready block at `cur`: validate its descriptor, count it.
    fn take_block(&mut self) -> BlockHeader {
        let hdr = match block_header(self.block_bytes(self.cur)) {
            Ok(h) => h,
            Err(m) => {
                self.note_malformed(m);
                BlockHeader {
                    num_pkts: 0,
                    first: 0,
                    seq: 0,
                }
            }
        };
        if let Some(last) = self.last_seq {
            if hdr.seq != last.wrapping_add(1) && hdr.seq != 0 {
                self.total.seq_gaps += 1;
            }
        }
        if hdr.seq != 0 {
            self.last_seq = Some(hdr.seq);
        }
        self.total.blocks += 1;
        self.total.delivered += u64::from(hdr.num_pkts);
        hdr
    }

    fn note_malformed(&mut self, m: Malformed) {
        self.total.malformed += 1;
        self.last_error = Some(m);
    }

    /// Give the held block back to the kernel.
    fn release_held(&mut self) {
        self.status_word(self.cur)
            .store(tp::TP_STATUS_KERNEL, Ordering::Release);
        self.cur = (self.cur + 1) % self.ring.block_count as usize;
        self.held = Held::None;
    }

    fn busy() -> Error {
        Error::new(
            ErrorKind::Busy,
            "a batch is still held: release it before asking for the next one",
        )
    }

    /// Wait for the next block and hold it (the low-level half of
    /// [`Capture::next_batch_timeout`], for callers that manage the release
    /// themselves, such as the C API). Returns the block's address, length
    /// and header; the memory stays valid until [`Capture::release_batch`].
    pub fn acquire_batch(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Wait<(*const u8, usize, BlockHeader)>> {
        match self.held {
            Held::Batch => return Err(Self::busy()),
            Held::Packets { .. } => self.release_held(),
            Held::None => {}
        }
        match self.wait(timeout)? {
            Wait::Ready(()) => {
                let hdr = self.take_block();
                self.held = Held::Batch;
                Ok(Wait::Ready((
                    self.block_ptr(self.cur) as *const u8,
                    self.ring.block_size as usize,
                    hdr,
                )))
            }
            Wait::Timeout => Ok(Wait::Timeout),
            Wait::Interrupted => Ok(Wait::Interrupted),
            Wait::InterfaceDown => Ok(Wait::InterfaceDown),
        }
    }

    /// Release the batch taken with [`Capture::acquire_batch`].
    pub fn release_batch(&mut self) -> Result<()> {
        if self.held != Held::Batch {
            return Err(Error::new(
                ErrorKind::BadBatch,
                "no batch is held: it was already released",
            ));
        }
        self.release_held();
        Ok(())
    }

    /// Record that a walk over the held block stopped at a malformed packet.
    pub fn report_malformed(&mut self, m: Malformed) {
        self.note_malformed(m);
    }

    /// The next batch (one ring block), waiting up to the configured
    /// `poll_timeout`.
    pub fn next_batch(&mut self) -> Result<Wait<Batch<'_>>> {
        self.next_batch_timeout(Some(self.poll_timeout))
    }

    /// The next batch, waiting up to `timeout` (`None`: no limit). The block
    /// goes back to the kernel when the [`Batch`] is dropped.
    pub fn next_batch_timeout(&mut self, timeout: Option<Duration>) -> Result<Wait<Batch<'_>>> {
        Ok(match self.acquire_batch(timeout)? {
            Wait::Ready((_, _, hdr)) => Wait::Ready(Batch { cap: self, hdr }),
            Wait::Timeout => Wait::Timeout,
            Wait::Interrupted => Wait::Interrupted,
            Wait::InterfaceDown => Wait::InterfaceDown,
        })
    }

    /// The next packet, one at a time (libpcap's `pcap_next_ex` shape). The
    /// packet's block is held until a later call moves past it. Waits up to
    /// `timeout` (`None`: no limit).
    pub fn next_packet(&mut self, timeout: Option<Duration>) -> Result<Wait<Packet<'_>>> {
        loop {
            match self.held {
                Held::Batch => return Err(Self::busy()),
                Held::Packets { off, remaining } if remaining > 0 => {
                    let cur = self.cur;
                    let mut it = PacketIter::resume(self.block_bytes(cur), off, remaining);
                    let p = it.next();
                    let (off, remaining) = it.position();
                    let err = it.error();
                    // Detach the packet's lifetime from `it` so self can be
                    // updated; the block stays held, so the memory is valid.
                    let p = p.map(|p| {
                        // SAFETY: p.data points into the held block of the
                        // live mapping; it stays valid for the borrow of self
                        // returned below because the block is released only
                        // through &mut self.
                        unsafe { extend(p) }
                    });
                    self.held = Held::Packets { off, remaining };
                    if let Some(m) = err {
                        self.note_malformed(m);
                    }
                    match p {
                        Some(p) => return Ok(Wait::Ready(p)),
                        None => continue,
                    }
                }
                Held::Packets { .. } => self.release_held(),
                Held::None => {}
            }
            match self.wait(timeout)? {
                Wait::Ready(()) => {
                    let hdr = self.take_block();
                    self.held = Held::Packets {
                        off: hdr.first as usize,
                        remaining: hdr.num_pkts,
                    };
                }
                Wait::Timeout => return Ok(Wait::Timeout),
                Wait::Interrupted => return Ok(Wait::Interrupted),
                Wait::InterfaceDown => return Ok(Wait::InterfaceDown),
            }
        }
    }

    /// Lifetime statistics and the change since the previous call.
    /// Reads (and thereby resets) the kernel's counters.
    pub fn stats_with_delta(&mut self) -> Result<(Stats, Stats)> {
        let (st, _) = socket::getsockopt::<tp::TpacketStatsV3>(
            self.fd(),
            tp::SOL_PACKET,
            tp::PACKET_STATISTICS,
        )
        .map_err(|e| Error::os("getsockopt(PACKET_STATISTICS)", e))?;
        // tp_packets already includes tp_drops.
        self.total.packets += u64::from(st.tp_packets.saturating_sub(st.tp_drops));
        self.total.drops += u64::from(st.tp_drops);
        self.total.freezes += u64::from(st.tp_freeze_q_cnt);
        let delta = self.total.minus(&self.reported);
        self.reported = self.total;
        Ok((self.total, delta))
    }

    /// Lifetime statistics.
    pub fn stats(&mut self) -> Result<Stats> {
        self.stats_with_delta().map(|(t, _)| t)
    }
}

/// Extend a packet view to an unrelated lifetime.
///
/// # Safety
/// The caller guarantees the memory stays valid and unwritten for `'b`.
unsafe fn extend<'a, 'b>(p: Packet<'a>) -> Packet<'b> {
    // SAFETY: guaranteed by the caller; Packet's only borrow is `data`.
    Packet {
        data: unsafe { std::slice::from_raw_parts(p.data.as_ptr(), p.data.len()) },
        ..p
    }
}

/// One ring block held by the user: a batch of packets, zero copy. The block
/// goes back to the kernel when the batch is dropped.
#[derive(Debug)]
pub struct Batch<'a> {
    cap: &'a mut Capture,
    hdr: BlockHeader,
}

impl Batch<'_> {
    /// Number of packets the kernel put in this block.
    pub fn len(&self) -> usize {
        self.hdr.num_pkts as usize
    }

    /// True if the block holds no packets.
    pub fn is_empty(&self) -> bool {
        self.hdr.num_pkts == 0
    }

    /// The kernel's sequence number of this block.
    pub fn seq(&self) -> u64 {
        self.hdr.seq
    }

    /// Iterate the packets. A malformed block ends the iteration early;
    /// [`PacketIter::error`] says why.
    pub fn iter(&self) -> PacketIter<'_> {
        PacketIter::new(self.cap.block_bytes(self.cap.cur))
    }

    /// Call `f` for each packet until it returns `false`; returns the number
    /// of packets visited. A malformed block is counted in the statistics.
    pub fn for_each(&mut self, mut f: impl FnMut(&Packet<'_>) -> bool) -> usize {
        let mut it = PacketIter::new(self.cap.block_bytes(self.cap.cur));
        let mut n = 0;
        for p in it.by_ref() {
            n += 1;
            if !f(&p) {
                return n;
            }
        }
        if let Some(m) = it.error() {
            self.cap.note_malformed(m);
        }
        n
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.cap.release_held();
    }
}
