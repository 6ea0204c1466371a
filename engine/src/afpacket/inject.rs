//! [`Injector`]: TX over a TPACKET_V2 ring, or over `sendmmsg(2)`.
//!
//! The user fills *slots*: [`Injector::slot`] hands out the next free one,
//! [`Slot::send`] marks it for sending, [`Injector::flush`] kicks the kernel.
//! The kernel transmits ring frames strictly in ring order and stops at the
//! first frame that is not marked, so slots are handed out and marked in
//! ring order too, one at a time.
//!
//! Two send paths sit behind the same slots ([`TxMode`]):
//! * `Ring`: the slots are the kernel's TX ring (`PACKET_TX_RING`,
//!   TPACKET_V2 headers — V1 headers under a V3 socket make the kernel send
//!   nothing); a flush is `send(fd, NULL, 0, MSG_DONTWAIT)`. On a NIC the
//!   kernel transmits from the ring pages; on veth it copies them.
//! * `Sendmmsg`: the slots are private memory and a flush hands them to
//!   `sendmmsg(2)`, 64 frames per call; the kernel copies each frame.
//!   On veth this is faster than any TX ring (the ring's pages are copied
//!   anyway, plus the page bookkeeping).
//!
//! `Auto` (the default) picks `Sendmmsg` for devices without a bus (veth,
//! tun, loopback, ...) and `Ring` for the others.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::stats::{Reported, counters};
use crate::sys::socket::{self, Deadline, Mmap};
use crate::sys::tpacket::{self as tp, v2_hdr};
use crate::sys::tx;

pub use crate::batch::REMOVAL_GRACE;

/// Ethernet header bytes counted on top of the MTU.
pub const ETH_HLEN: usize = 14;
/// Largest ring accepted (1 GiB): a guard against typos.
pub const MAX_TX_RING_BYTES: u64 = 1 << 30;

/// How frames leave: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxMode {
    /// `Sendmmsg` on devices without a bus (veth, tun, loopback, ...),
    /// `Ring` otherwise.
    #[default]
    Auto,
    /// The kernel's TPACKET_V2 TX ring.
    Ring,
    /// `sendmmsg(2)` over slots in private memory.
    Sendmmsg,
}

/// Injector configuration; `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectorConfig {
    /// Bytes per slot including the 32-byte TPACKET_V2 header: a multiple
    /// of 16, 128..=65536. A slot holds `frame_size - 32` frame bytes.
    /// Default 2048 (frames up to 2016 bytes).
    pub frame_size: u32,
    /// Number of slots, 1..=1048576 (rounded up so that whole pages are
    /// used; [`Injector::frame_count`] tells the real number). Default 256.
    pub frame_count: u32,
    /// Bypass the qdisc layer (`PACKET_QDISC_BYPASS`): faster, but no
    /// traffic shaping and no queueing on a busy device. Default false.
    pub qdisc_bypass: bool,
    /// Send path. Default [`TxMode::Auto`].
    pub mode: TxMode,
    /// How long [`Injector::inject`] and [`Injector::inject_batch`] wait
    /// for a free slot when the ring is full (`None`: no limit). Default 1 s.
    pub wait_timeout: Option<Duration>,
}

impl Default for InjectorConfig {
    fn default() -> Self {
        InjectorConfig {
            frame_size: 2048,
            frame_count: 256,
            qdisc_bypass: false,
            mode: TxMode::Auto,
            wait_timeout: Some(Duration::from_secs(1)),
        }
    }
}

impl InjectorConfig {
    /// Check every field; the error names the field, its value and the rule.
    pub fn validate(&self) -> Result<()> {
        let fs = self.frame_size;
        if !(128..=65_536).contains(&fs) || fs % tp::TPACKET_ALIGNMENT as u32 != 0 {
            return Err(Error::config(format!(
                "frame_size {fs} must be a multiple of 16 between 128 and 65536"
            )));
        }
        if self.frame_count == 0 || self.frame_count > 1 << 20 {
            return Err(Error::config(format!(
                "frame_count {} must be between 1 and 1048576",
                self.frame_count
            )));
        }
        let total = u64::from(fs) * u64::from(self.frame_count);
        if total > MAX_TX_RING_BYTES {
            return Err(Error::config(format!(
                "ring of {} frames x {fs} bytes ({} MiB) exceeds the 1 GiB limit",
                self.frame_count,
                total >> 20
            )));
        }
        Ok(())
    }
}

/// Counters of an [`Injector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InjectorStats {
    /// Frames the kernel took and finished with (lifetime).
    pub sent: u64,
    /// Frames the kernel refused (`TP_STATUS_WRONG_FORMAT`, or a sendmmsg
    /// error for that frame); they were skipped, the ones after them sent.
    pub rejected: u64,
    /// Frames marked for sending and not finished yet.
    pub pending: u32,
    /// Free slots right now.
    pub available: u32,
    /// Kicks (`send`/`sendmmsg` calls) made.
    pub kicks: u64,
    /// Kicks that met a transient EAGAIN/ENOBUFS (frames stayed queued).
    pub transient: u64,
}

counters!(InjectorStats {
    sent,
    rejected,
    kicks,
    transient
} gauges {
    pending,
    available
});

enum Mem {
    Ring(Mmap),
    Heap(Box<[u64]>),
}

/// An injector on one interface. Field order: the ring is unmapped before
/// the socket is closed.
pub struct Injector {
    mem: Mem,
    fd: OwnedFd,
    ifname: String,
    ifindex: i32,
    mode: TxMode,
    frame_size: usize,
    frame_count: u32,
    frames_per_block: usize,
    block_size: usize,
    mtu: u32,
    wait_timeout: Option<Duration>,
    /// Next slot to hand out.
    head: u32,
    /// Oldest slot marked and not reclaimed.
    tail: u32,
    /// Slots marked and not reclaimed.
    inflight: u32,
    /// Slots marked and not handed to the kernel yet (sendmmsg mode).
    unkicked: u32,
    stats: InjectorStats,
    reported: Reported<InjectorStats>,
}

impl std::fmt::Debug for Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector")
            .field("ifname", &self.ifname)
            .field("mode", &self.mode)
            .field("frame_size", &self.frame_size)
            .field("frame_count", &self.frame_count)
            .field("inflight", &self.inflight)
            .finish()
    }
}

impl Injector {
    /// Open an injector on interface `ifname` of the calling thread's
    /// network namespace.
    ///
    /// Setup: socket with protocol 0 (it receives nothing) → `TPACKET_V2`
    /// → `PACKET_QDISC_BYPASS` if asked → `PACKET_TX_RING` + mmap (ring
    /// mode) → bind to the interface with protocol 0.
    pub fn open(ifname: &str, cfg: &InjectorConfig) -> Result<Injector> {
        cfg.validate()?;
        let cname = crate::iface::check_name(ifname)?;
        let fd = socket::packet_socket(0)
            .map_err(|e| Error::os_needing("socket(AF_PACKET, SOCK_RAW)", e, &["CAP_NET_RAW"]))?;
        let ifindex =
            socket::if_index(&cname).map_err(|e| crate::iface::lookup_error(ifname, None, e))?;
        let mode = match cfg.mode {
            TxMode::Auto => match tx::driver_info(fd.as_raw_fd(), ifname) {
                Ok((drv, bus)) if !bus.is_empty() && drv != "veth" => TxMode::Ring,
                _ => TxMode::Sendmmsg,
            },
            m => m,
        };
        socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_VERSION, &tp::TPACKET_V2)
            .map_err(|e| Error::os("setsockopt(PACKET_VERSION, TPACKET_V2)", e))?;
        if cfg.qdisc_bypass {
            socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_QDISC_BYPASS, &1i32)
                .map_err(|e| Error::os("setsockopt(PACKET_QDISC_BYPASS)", e))?;
        }
        let page = socket::page_size() as usize;
        let frame_size = cfg.frame_size as usize;
        let block_size = frame_size.div_ceil(page) * page;
        let frames_per_block = block_size / frame_size;
        let blocks = (cfg.frame_count as usize).div_ceil(frames_per_block);
        let frame_count = (blocks * frames_per_block) as u32;
        let len = blocks * block_size;
        let mem = if mode == TxMode::Ring {
            let req = tp::TpacketReq {
                tp_block_size: block_size as u32,
                tp_block_nr: blocks as u32,
                tp_frame_size: frame_size as u32,
                tp_frame_nr: frame_count,
            };
            socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_TX_RING, &req).map_err(|e| {
                Error::os(
                    format!(
                        "setsockopt(PACKET_TX_RING, {frame_count} frames x {frame_size} bytes)"
                    ),
                    e,
                )
            })?;
            Mem::Ring(
                Mmap::map(&fd, len, true)
                    .map_err(|e| Error::os(format!("mmap of the {} KiB TX ring", len >> 10), e))?,
            )
        } else {
            Mem::Heap(vec![0u64; len / 8].into_boxed_slice())
        };
        socket::bind_packet(&fd, ifindex, 0)
            .map_err(|e| Error::os(format!("binding to interface '{ifname}'"), e))?;
        let mtu = socket::if_mtu(fd.as_raw_fd(), ifname)
            .map_err(|e| Error::os(format!("reading the MTU of '{ifname}'"), e))?;
        Ok(Injector {
            mem,
            fd,
            ifname: ifname.to_owned(),
            ifindex,
            mode,
            frame_size,
            frame_count,
            frames_per_block,
            block_size,
            mtu,
            wait_timeout: cfg.wait_timeout,
            head: 0,
            tail: 0,
            inflight: 0,
            unkicked: 0,
            stats: InjectorStats::default(),
            reported: Reported::default(),
        })
    }

    /// The socket descriptor (for poll: writable when the ring has room in
    /// ring mode).
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

    /// The send path in use ([`TxMode::Auto`] resolved).
    pub fn mode(&self) -> TxMode {
        self.mode
    }

    /// Number of slots.
    pub fn frame_count(&self) -> u32 {
        self.frame_count
    }

    /// Frame bytes one slot holds (`frame_size - 32`).
    pub fn slot_capacity(&self) -> usize {
        self.frame_size - v2_hdr::DATA
    }

    /// Longest frame accepted now: the slot capacity or MTU + 14, the
    /// smaller.
    pub fn max_frame_len(&self) -> usize {
        self.slot_capacity().min(self.mtu as usize + ETH_HLEN)
    }

    fn base(&self) -> *mut u8 {
        match &self.mem {
            Mem::Ring(m) => m.as_ptr(),
            Mem::Heap(b) => b.as_ptr() as *mut u8,
        }
    }

    fn frame_ptr(&self, idx: u32) -> *mut u8 {
        let i = idx as usize;
        debug_assert!(i < self.frame_count as usize);
        let off = (i / self.frames_per_block) * self.block_size
            + (i % self.frames_per_block) * self.frame_size;
        // SAFETY: idx < frame_count, so the frame lies inside the
        // blocks * block_size bytes of the mapping or buffer.
        unsafe { self.base().add(off) }
    }

    fn status(&self, idx: u32) -> &AtomicU32 {
        // SAFETY: frames start 16-byte aligned inside live memory; the
        // status word at offset 0 is shared with the kernel (ring mode), so
        // it is only accessed atomically.
        unsafe { &*(self.frame_ptr(idx).add(v2_hdr::STATUS) as *const AtomicU32) }
    }

    fn len_of(&self, idx: u32) -> usize {
        // SAFETY: offset 4 of a live frame; written by us only.
        unsafe { (self.frame_ptr(idx).add(v2_hdr::LEN) as *const u32).read() as usize }
    }

    fn next(&self, idx: u32) -> u32 {
        if idx + 1 == self.frame_count {
            0
        } else {
            idx + 1
        }
    }

    fn nth(&self, idx: u32, k: u32) -> u32 {
        ((u64::from(idx) + u64::from(k)) % u64::from(self.frame_count)) as u32
    }

    /// Collect finished frames, oldest first (the kernel finishes them in
    /// ring order as seen from here: we stop at the first unfinished one).
    fn reclaim(&mut self) {
        while self.inflight > 0 {
            match self.status(self.tail).load(Ordering::Acquire) {
                tp::TP_STATUS_AVAILABLE => {
                    self.stats.sent += 1;
                    self.tail = self.next(self.tail);
                    self.inflight -= 1;
                }
                tp::TP_STATUS_WRONG_FORMAT => {
                    if !self.drop_rejected() {
                        break;
                    }
                }
                _ => break,
            }
        }
    }

    /// Remove the first rejected frame from the queue: the kernel's ring
    /// head stays on it and would never move on. The frames queued after it
    /// (untouched by the kernel, which stopped there) move back one slot, in
    /// order. Returns false if no queued frame is marked rejected.
    fn drop_rejected(&mut self) -> bool {
        let Some(k) = (0..self.inflight).find(|&k| {
            self.status(self.nth(self.tail, k)).load(Ordering::Acquire)
                == tp::TP_STATUS_WRONG_FORMAT
        }) else {
            return false;
        };
        self.stats.rejected += 1;
        if self.mode == TxMode::Sendmmsg {
            // No kernel ring head to unstick: the slot is simply done. Only
            // the oldest can be rejected (flush goes in order).
            debug_assert_eq!(k, 0);
        }
        let mut dst = self.nth(self.tail, k);
        for _ in k + 1..self.inflight {
            let src = self.next(dst);
            let len = self.len_of(src);
            // SAFETY: src and dst are distinct frames of live memory, each
            // frame_size bytes; the kernel reads neither (it stopped at the
            // rejected frame and is not running: no send() is in progress).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.frame_ptr(src).add(v2_hdr::DATA),
                    self.frame_ptr(dst).add(v2_hdr::DATA),
                    len,
                );
                (self.frame_ptr(dst).add(v2_hdr::LEN) as *mut u32).write(len as u32);
            }
            self.status(dst)
                .store(tp::TP_STATUS_SEND_REQUEST, Ordering::Release);
            dst = src;
        }
        // dst is now the last queued slot: free it.
        self.status(dst)
            .store(tp::TP_STATUS_AVAILABLE, Ordering::Release);
        self.head = dst;
        self.inflight -= 1;
        if self.mode == TxMode::Sendmmsg {
            self.unkicked = self.unkicked.min(self.inflight);
        }
        true
    }

    fn gone(&self) -> Error {
        Error::new(
            ErrorKind::InterfaceGone,
            format!(
                "interface '{}' (index {}) was removed; close this injector",
                self.ifname, self.ifindex
            ),
        )
    }

    fn is_gone(&self) -> bool {
        matches!(socket::bound_ifindex(self.fd()), Ok(-1))
            || matches!(socket::if_flags(self.fd(), &self.ifname),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV))
    }

    /// ENETDOWN: a down interface, or one being removed (the kernel takes
    /// it down first, then unregisters it). Look again for a short while
    /// (cold path) so a removal is reported as one.
    fn gone_soon(&self) -> bool {
        let t = std::time::Instant::now();
        loop {
            if self.is_gone() {
                return true;
            }
            if t.elapsed() >= REMOVAL_GRACE {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn send_error(&self, e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::ENXIO) | Some(libc::ENODEV) => self.gone(),
            Some(libc::ENETDOWN) if self.gone_soon() => self.gone(),
            Some(libc::ENETDOWN) => Error::new(
                ErrorKind::System,
                format!(
                    "interface '{}' is down: frames stay queued until it is up \
                     (`ip link set {} up`)",
                    self.ifname, self.ifname
                ),
            ),
            _ => Error::os(format!("sending on '{}'", self.ifname), e),
        }
    }

    /// Hand every marked frame to the kernel. Transient EAGAIN/ENOBUFS are
    /// not errors: the frames stay queued for the next flush (or
    /// [`Injector::wait_drained`]).
    pub fn flush(&mut self) -> Result<()> {
        match self.mode {
            TxMode::Sendmmsg => self.flush_sendmmsg()?,
            _ => self.flush_ring()?,
        }
        self.reclaim();
        Ok(())
    }

    fn flush_ring(&mut self) -> Result<()> {
        loop {
            self.stats.kicks += 1;
            match tx::kick(self.fd(), libc::MSG_DONTWAIT) {
                Ok(_) => return Ok(()),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {
                        self.stats.transient += 1;
                        return Ok(());
                    }
                    Some(libc::EMSGSIZE) | Some(libc::EINVAL) if self.drop_rejected() => {
                        continue;
                    }
                    _ => return Err(self.send_error(e)),
                },
            }
        }
    }

    fn flush_sendmmsg(&mut self) -> Result<()> {
        while self.unkicked > 0 {
            let first = self.nth(self.tail, self.inflight - self.unkicked);
            let n = self.unkicked.min(tx::SENDMMSG_BATCH as u32);
            self.stats.kicks += 1;
            let frames = (0..n).map(|k| {
                let idx = self.nth(first, k);
                // SAFETY: idx is a live frame of our buffer.
                let p = unsafe { self.frame_ptr(idx).add(v2_hdr::DATA) } as *const u8;
                (p, self.len_of(idx))
            });
            // SAFETY: every pointer is a frame's data inside our buffer,
            // with its validated length (<= the slot capacity).
            match unsafe { tx::send_frames(self.fd(), frames) } {
                Ok(done) => {
                    for k in 0..done as u32 {
                        self.status(self.nth(first, k))
                            .store(tp::TP_STATUS_AVAILABLE, Ordering::Release);
                    }
                    self.unkicked -= done as u32;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {
                        self.stats.transient += 1;
                        return Ok(());
                    }
                    Some(libc::EMSGSIZE) | Some(libc::EINVAL) => {
                        // This frame is refused: skip it, keep the order.
                        self.status(first)
                            .store(tp::TP_STATUS_WRONG_FORMAT, Ordering::Release);
                        self.unkicked -= 1;
                        // It can only be reclaimed in order: everything
                        // before it is sent already.
                        self.reclaim();
                    }
                    _ => return Err(self.send_error(e)),
                },
            }
        }
        Ok(())
    }

    /// Flush and wait until every queued frame is finished, up to
    /// `timeout` (`None`: no limit). Returns true when drained, false on
    /// timeout. A removed interface is an [`ErrorKind::InterfaceGone`]
    /// error, never a hang.
    pub fn wait_drained(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.wait_until(timeout, |s| s.inflight == 0)
    }

    fn wait_until(
        &mut self,
        timeout: Option<Duration>,
        done: impl Fn(&Injector) -> bool,
    ) -> Result<bool> {
        let deadline = Deadline::after(timeout);
        let mut nap = Duration::from_micros(20);
        loop {
            self.flush()?;
            if done(self) {
                return Ok(true);
            }
            if deadline.expired() {
                return Ok(false);
            }
            let d = deadline.remaining().map_or(nap, |r| r.min(nap));
            std::thread::sleep(d);
            nap = (nap * 2).min(Duration::from_millis(1));
        }
    }

    /// The next free slot, without waiting (`None`: every slot is queued;
    /// flush, or use [`Injector::slot_timeout`]). Dropping the slot without
    /// [`Slot::send`] leaves it free.
    pub fn slot(&mut self) -> Option<Slot<'_>> {
        if self.inflight == self.frame_count {
            self.reclaim();
            if self.inflight == self.frame_count {
                return None;
            }
        }
        Some(Slot { inj: self })
    }

    /// The next free slot, flushing and waiting up to `timeout` for one
    /// (`None`: no limit). `Ok(None)` on timeout.
    pub fn slot_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Slot<'_>>> {
        if self.inflight == self.frame_count {
            self.reclaim();
        }
        if self.inflight == self.frame_count
            && !self.wait_until(timeout, |s| s.inflight < s.frame_count)?
        {
            return Ok(None);
        }
        Ok(Some(Slot { inj: self }))
    }

    /// The writable bytes of the slot at `head` (the whole capacity).
    ///
    /// # Safety
    /// The slot at `head` is free (`inflight < frame_count`), so neither
    /// the kernel nor a queued frame uses it; the caller holds `&mut self`.
    pub unsafe fn head_buffer(&mut self) -> (*mut u8, usize) {
        // SAFETY: forwarded from the caller.
        let p = unsafe { self.frame_ptr(self.head).add(v2_hdr::DATA) };
        (p, self.slot_capacity())
    }

    /// Whether a slot is free at `head`.
    pub fn has_free_slot(&mut self) -> bool {
        if self.inflight == self.frame_count {
            self.reclaim();
        }
        self.inflight < self.frame_count
    }

    /// Check a frame length against the slot and the interface MTU.
    pub fn check_len(&mut self, len: usize) -> Result<()> {
        if len < ETH_HLEN {
            return Err(Error::invalid_arg(format!(
                "frame of {len} bytes is shorter than the {ETH_HLEN}-byte Ethernet header; \
                 nothing was sent"
            )));
        }
        if len > self.slot_capacity() {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!(
                    "frame of {len} bytes exceeds the slot ({} bytes: frame_size {} minus the \
                     32-byte header); raise frame_size",
                    self.slot_capacity(),
                    self.frame_size
                ),
            ));
        }
        if len > self.mtu as usize + ETH_HLEN {
            // The MTU may have been raised since open: look again.
            if let Ok(m) = socket::if_mtu(self.fd(), &self.ifname) {
                self.mtu = m;
            }
            if len > self.mtu as usize + ETH_HLEN {
                return Err(Error::new(
                    ErrorKind::TooBig,
                    format!(
                        "frame of {len} bytes exceeds the MTU of '{}' ({} + {ETH_HLEN} header bytes)",
                        self.ifname, self.mtu
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Mark the free slot at `head` (already written) for sending with
    /// `len` bytes.
    pub fn commit_head(&mut self, len: usize) -> Result<()> {
        if self.inflight == self.frame_count {
            return Err(Error::new(
                ErrorKind::Busy,
                "no slot is free: flush and wait for room first",
            ));
        }
        self.check_len(len)?;
        let idx = self.head;
        // SAFETY: offset 4 of the free slot at head; the kernel does not
        // read it until the status store below.
        unsafe { (self.frame_ptr(idx).add(v2_hdr::LEN) as *mut u32).write(len as u32) };
        self.status(idx)
            .store(tp::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = self.next(idx);
        self.inflight += 1;
        self.unkicked += 1;
        Ok(())
    }

    /// Copy one frame into the next slot and mark it (no kick: call
    /// [`Injector::flush`]). Waits up to the configured `wait_timeout` for
    /// a free slot; `Ok(false)` if none came.
    pub fn inject(&mut self, frame: &[u8]) -> Result<bool> {
        self.check_len(frame.len())?;
        match self.slot_timeout(self.wait_timeout)? {
            Some(mut s) => {
                s.buf()[..frame.len()].copy_from_slice(frame);
                s.send(frame.len())?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Copy and queue frames in order, then flush. Returns how many were
    /// queued: all of them, or fewer when the ring stayed full for the
    /// `wait_timeout`. An invalid frame stops the batch with its error and
    /// the count queued before it (those are flushed).
    pub fn inject_batch(&mut self, frames: &[&[u8]]) -> std::result::Result<usize, (usize, Error)> {
        let mut n = 0;
        let mut err = None;
        for f in frames {
            match self.inject(f) {
                Ok(true) => n += 1,
                Ok(false) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let fl = self.flush();
        match (err, fl) {
            (Some(e), _) | (None, Err(e)) => Err((n, e)),
            (None, Ok(())) => Ok(n),
        }
    }

    /// Counters and the change since the previous call of this function
    /// (see [`crate::stats`]; finished frames are collected first).
    pub fn stats_with_delta(&mut self) -> (InjectorStats, InjectorStats) {
        let now = self.stats();
        self.reported.report(now)
    }

    /// Counters (finished frames are collected first).
    pub fn stats(&mut self) -> InjectorStats {
        self.reclaim();
        InjectorStats {
            pending: self.inflight,
            available: self.frame_count - self.inflight,
            ..self.stats
        }
    }
}

/// A free slot: write the frame into [`Slot::buf`], then [`Slot::send`].
/// Dropping it unsent leaves the slot free.
#[derive(Debug)]
pub struct Slot<'a> {
    inj: &'a mut Injector,
}

impl Slot<'_> {
    /// The slot's bytes (its whole capacity): the frame starts at byte 0.
    pub fn buf(&mut self) -> &mut [u8] {
        // SAFETY: the slot at head is free (Slot exists only then) and we
        // hold &mut Injector, so nothing else reads or writes it.
        unsafe {
            let (p, n) = self.inj.head_buffer();
            std::slice::from_raw_parts_mut(p, n)
        }
    }

    /// Mark the slot for sending with the first `len` bytes of
    /// [`Slot::buf`]. A bad length (under 14, over the slot or the MTU +
    /// 14) is an error and leaves the slot free. No kick: see
    /// [`Injector::flush`].
    pub fn send(self, len: usize) -> Result<()> {
        self.inj.commit_head(len)
    }
}
