//! `nr_capture`: AF_PACKET TPACKET_V3 capture.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};
use std::mem::{offset_of, size_of};
use std::ptr;
use std::time::Duration;

use super::batch::{self, nr_batch, nr_packet};
use super::{NR_BREAK, NR_IFACE_DOWN, NR_OK, NR_TIMEOUT, boundary, c_str, guard, null_arg};
use crate::afpacket::{Breaker, Capture, CaptureConfig, Stats, Wait};
use crate::error::Error;

const MAGIC: u64 = 0x6e72_5f63_6170_7475; // "nr_captu"

/// Capture configuration. Initialise it with NR_CAPTURE_CONFIG_INIT(&cfg)
/// (or nr_capture_config_init(&cfg, sizeof cfg)), change the fields you
/// need, pass it to nr_capture_open(). Every value is checked at open time;
/// a bad one fails with NR_E_CONFIG and a message naming the field.
///
/// Extensible: `size` tells the library how much of the struct the caller
/// knows. New fields are only ever appended; a program built against an
/// older header keeps working (missing fields take their defaults).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_capture_config {
    /// sizeof(nr_capture_config) as the caller compiled it; set by
    /// NR_CAPTURE_CONFIG_INIT.
    pub size: usize,
    /// Bytes per ring block: a power of two and a multiple of the page size.
    /// Default 4194304 (4 MiB).
    pub block_size: u32,
    /// Number of blocks. Default 64 (a 256 MiB ring). On ENOMEM the library
    /// retries with fewer blocks, down to a quarter; nr_capture_ring_info()
    /// tells what was allocated.
    pub block_count: u32,
    /// Frame size for the kernel's frame accounting: a multiple of 16, at
    /// least 80, at most block_size. Default 2048. (V3 blocks hold frames
    /// of any length up to the block size.)
    pub frame_size: u32,
    /// Milliseconds after which the kernel hands over a partly filled block:
    /// the worst-case latency at low rates. 1..65535, 0 = kernel's choice.
    /// Default 60.
    pub block_timeout_ms: u32,
    /// Bytes of each frame to capture, 1..262144. Default 262144. Smaller
    /// values set NR_PKT_TRUNCATED on longer frames (caplen < len).
    pub snaplen: u32,
    /// Promiscuous mode while the capture is open (CAP_NET_ADMIN). Default true.
    pub promiscuous: bool,
    /// Skip frames this host sends (PACKET_IGNORE_OUTGOING). Default false.
    pub ignore_outgoing: bool,
    /// Fill nr_packet.rxhash (costs ~9 % kernel throughput). Default false.
    pub fill_rxhash: bool,
    /// Try to lock the ring in memory (MAP_LOCKED); falls back silently to an
    /// unlocked ring, see nr_ring_info.locked. Default true.
    pub lock_memory: bool,
}

impl nr_capture_config {
    fn defaults() -> nr_capture_config {
        let d = CaptureConfig::default();
        nr_capture_config {
            size: size_of::<nr_capture_config>(),
            block_size: d.block_size,
            block_count: d.block_count,
            frame_size: d.frame_size,
            block_timeout_ms: d.block_timeout_ms,
            snaplen: d.snaplen,
            promiscuous: d.promiscuous,
            ignore_outgoing: d.ignore_outgoing,
            fill_rxhash: d.fill_rxhash,
            lock_memory: d.lock_memory,
        }
    }
}

/// Read a caller's config of `cfg.size` bytes: known prefix copied over the
/// defaults, unknown trailing bytes must be zero. Booleans are read as bytes
/// so that no bit pattern a C caller can write is undefined behaviour here.
///
/// # Safety
/// `p` points to at least `size_of::<usize>()` readable bytes, and to
/// `(*p).size` readable bytes.
unsafe fn config_from_c(p: *const nr_capture_config) -> Result<CaptureConfig, Error> {
    // SAFETY: the caller guarantees the size field is readable.
    let size = unsafe { ptr::read_unaligned(p.cast::<usize>()) };
    let ours = size_of::<nr_capture_config>();
    if size < offset_of!(nr_capture_config, block_size) + 4 {
        return Err(Error::invalid_arg(format!(
            "nr_capture_config.size is {size}: initialise the config with NR_CAPTURE_CONFIG_INIT(&cfg)"
        )));
    }
    if size > 4096 {
        return Err(Error::invalid_arg(format!(
            "nr_capture_config.size is {size}: not a netring config (uninitialised?)"
        )));
    }
    // SAFETY: the caller guarantees `size` readable bytes at p.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), size) };
    if size > ours && bytes[ours..].iter().any(|&b| b != 0) {
        return Err(Error::invalid_arg(
            "nr_capture_config has options this netring version does not know (built against a newer header?)",
        ));
    }
    let mut raw = [0u8; size_of::<nr_capture_config>()];
    let defaults = nr_capture_config::defaults();
    // SAFETY: nr_capture_config is repr(C) plain data of exactly raw.len()
    // bytes; copying its bytes out is a valid read.
    raw.copy_from_slice(unsafe {
        std::slice::from_raw_parts((&defaults as *const nr_capture_config).cast::<u8>(), ours)
    });
    let n = size.min(ours);
    raw[..n].copy_from_slice(&bytes[..n]);
    let u32_at = |off: usize| u32::from_ne_bytes(raw[off..off + 4].try_into().unwrap_or([0; 4]));
    let bool_at = |off: usize| raw[off] != 0;
    Ok(CaptureConfig {
        block_size: u32_at(offset_of!(nr_capture_config, block_size)),
        block_count: u32_at(offset_of!(nr_capture_config, block_count)),
        frame_size: u32_at(offset_of!(nr_capture_config, frame_size)),
        block_timeout_ms: u32_at(offset_of!(nr_capture_config, block_timeout_ms)),
        snaplen: u32_at(offset_of!(nr_capture_config, snaplen)),
        promiscuous: bool_at(offset_of!(nr_capture_config, promiscuous)),
        ignore_outgoing: bool_at(offset_of!(nr_capture_config, ignore_outgoing)),
        fill_rxhash: bool_at(offset_of!(nr_capture_config, fill_rxhash)),
        lock_memory: bool_at(offset_of!(nr_capture_config, lock_memory)),
        ..CaptureConfig::default()
    })
}

/// Fill `cfg` with the defaults. `size` is sizeof(*cfg) as the caller
/// compiled it (NR_CAPTURE_CONFIG_INIT passes it for you); only that many
/// bytes are written.
///
/// Returns NR_OK, or NR_E_INVALID_ARG if `cfg` is NULL or `size` is smaller
/// than the first two fields.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_capture_config_init(cfg: *mut nr_capture_config, size: usize) -> c_int {
    boundary(|| {
        if cfg.is_null() {
            return Err(null_arg("cfg"));
        }
        if size < offset_of!(nr_capture_config, block_size) + 4 {
            return Err(Error::invalid_arg(format!(
                "size {size} is smaller than a nr_capture_config"
            )));
        }
        let mut d = nr_capture_config::defaults();
        d.size = size;
        let n = size.min(size_of::<nr_capture_config>());
        // SAFETY: the caller guarantees `size` writable bytes at cfg; we
        // write n <= size bytes from a local of at least n bytes.
        unsafe {
            ptr::copy_nonoverlapping(
                (&d as *const nr_capture_config).cast::<u8>(),
                cfg.cast::<u8>(),
                n,
            );
            if size > n {
                ptr::write_bytes(cfg.cast::<u8>().add(n), 0, size - n);
            }
        }
        Ok(NR_OK)
    })
}

/// What the ring really got: the kernel may give fewer blocks than asked
/// (see nr_capture_config.block_count).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_ring_info {
    /// Bytes per block.
    pub block_size: u32,
    /// Blocks allocated.
    pub block_count: u32,
    /// Blocks asked for.
    pub block_count_requested: u32,
    /// Frame size.
    pub frame_size: u32,
    /// True if the ring is locked in memory.
    pub locked: bool,
}

/// Capture statistics. packets, drops and freezes come from the kernel,
/// which resets its counters on every read: netring keeps 64-bit lifetime
/// totals, so no read is ever lost. The rest are counted by netring.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_stats {
    /// Packets the kernel put into the ring (drops not included).
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub drops: u64,
    /// Times the kernel froze the queue because the ring was full.
    pub freezes: u64,
    /// Packets in the blocks handed to the application.
    pub delivered: u64,
    /// Blocks handed to the application.
    pub blocks: u64,
    /// Kernel block sequence numbers that skipped ahead (expected 0).
    pub seq_gaps: u64,
    /// Blocks that failed validation (expected 0).
    pub malformed: u64,
    /// Reserved for future counters; always 0.
    pub reserved: [u64; 9],
}

impl From<Stats> for nr_stats {
    fn from(s: Stats) -> nr_stats {
        nr_stats {
            packets: s.packets,
            drops: s.drops,
            freezes: s.freezes,
            delivered: s.delivered,
            blocks: s.blocks,
            seq_gaps: s.seq_gaps,
            malformed: s.malformed,
            reserved: [0; 9],
        }
    }
}

pub(crate) struct Inner {
    pub(crate) cap: Capture,
    pub(crate) batch: *mut nr_batch,
    pkt: nr_packet,
}

/// An open AF_PACKET capture (opaque). Created by nr_capture_open(), freed
/// by nr_capture_close(). Use it from one thread at a time, except
/// nr_capture_breakloop(), which any thread or a signal handler may call.
pub struct nr_capture {
    magic: u64,
    brk: Breaker,
    inner: UnsafeCell<Inner>,
}

impl nr_capture {
    /// Check a handle pointer.
    ///
    /// # Safety
    /// `p` is NULL or a pointer returned by nr_capture_open() (closing it is
    /// detected on a best-effort basis through the magic number).
    pub(crate) unsafe fn from_ptr<'a>(p: *const nr_capture) -> Result<&'a nr_capture, Error> {
        if p.is_null() {
            return Err(null_arg("cap"));
        }
        // SAFETY: non-NULL and, per the contract, a live handle.
        let h = unsafe { &*p };
        if h.magic != MAGIC {
            return Err(Error::invalid_arg(
                "cap is not an open nr_capture (already closed?)",
            ));
        }
        Ok(h)
    }

    /// The mutable state.
    ///
    /// # Safety
    /// Per the API contract only one thread uses a handle at a time and no
    /// other reference from `inner()` is alive.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn inner(&self) -> &mut Inner {
        // SAFETY: forwarded to the caller's contract.
        unsafe { &mut *self.inner.get() }
    }
}

fn timeout_of(ms: c_int) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

/// Open a capture on interface `ifname` (e.g. "eth0") of the calling
/// thread's network namespace. `cfg` may be NULL for the defaults. On
/// success `*out` receives the handle; it is not written otherwise.
///
/// Setup order: the socket is created with protocol 0, the snap-length
/// filter and the ring are installed, and only then is it bound to the
/// interface: no frame from before the setup, and no unfiltered frame,
/// reaches the ring.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL ifname/out, bad name, bad
/// cfg->size); NR_E_CONFIG (ring geometry, snaplen: the message names the
/// field); NR_E_NO_DEVICE (unknown interface); NR_E_PERMISSION (needs
/// CAP_NET_RAW, CAP_NET_ADMIN for promiscuous); NR_E_NO_MEMORY (ring could
/// not be allocated even at a quarter of the blocks); NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_capture_open(
    ifname: *const c_char,
    cfg: *const nr_capture_config,
    out: *mut *mut nr_capture,
) -> c_int {
    boundary(|| {
        // SAFETY: ifname is NULL or NUL-terminated per the API contract.
        let name = unsafe { c_str(ifname, "ifname") }?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        let config = if cfg.is_null() {
            CaptureConfig::default()
        } else {
            // SAFETY: cfg points to a config of cfg->size bytes (contract).
            unsafe { config_from_c(cfg) }?
        };
        let cap = Capture::open(name, &config)?;
        let brk = cap.breaker();
        let handle = Box::new(nr_capture {
            magic: MAGIC,
            brk,
            inner: UnsafeCell::new(Inner {
                cap,
                batch: ptr::null_mut(),
                pkt: nr_packet::EMPTY,
            }),
        });
        let raw = Box::into_raw(handle);
        // SAFETY: raw is a fresh, live allocation; the batch keeps a pointer
        // back to it and is freed in nr_capture_close before the handle.
        unsafe {
            (*(*raw).inner.get()).batch = batch::new_for_capture(raw);
            *out = raw;
        }
        Ok(NR_OK)
    })
}

/// Close a capture: releases any held batch, unmaps the ring, closes the
/// socket. NULL is accepted and ignored. Every batch and packet pointer of
/// this handle becomes invalid. Must not run concurrently with any other
/// call on the handle (nr_capture_breakloop() included).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_capture_close(cap: *mut nr_capture) {
    guard((), || {
        if cap.is_null() {
            return;
        }
        // SAFETY: a handle from nr_capture_open (contract); checked below.
        if unsafe { (*cap).magic } != MAGIC {
            return;
        }
        // SAFETY: we own the handle now; the magic is cleared first so a
        // later use is detected as long as the memory is not reused.
        unsafe {
            (*cap).magic = 0;
            let inner = &mut *(*cap).inner.get();
            batch::free(inner.batch);
            drop(Box::from_raw(cap));
        }
    })
}

/// Wait for the next batch of packets (one ring block) and hold it.
///
/// `timeout_ms`: negative waits without limit, 0 does not wait
/// (non-blocking), positive waits up to that many milliseconds (a signal
/// does not shorten it).
/// On NR_OK `*out` is the batch: iterate it with nr_batch_for_each(), then
/// give it back with nr_batch_release(). One batch per handle at a time:
/// while one is held this returns NR_E_BUSY. The batch pointer stays owned
/// by the handle (never free it).
///
/// Returns NR_OK; NR_TIMEOUT (nothing within the timeout); NR_BREAK
/// (nr_capture_breakloop() was called, now or before this call);
/// NR_IFACE_DOWN (timeout passed while the interface was down; no CPU is
/// spent waiting, capture resumes when it is up); NR_E_IFACE_GONE (the
/// interface was removed); NR_E_BUSY; NR_E_INVALID_ARG; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_next_batch(
    cap: *mut nr_capture,
    timeout_ms: c_int,
    out: *mut *mut nr_batch,
) -> c_int {
    boundary(|| {
        // SAFETY: contract: a live handle used by one thread.
        let h = unsafe { nr_capture::from_ptr(cap) }?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        // SAFETY: one thread per handle; no other Inner reference is alive.
        let inner = unsafe { h.inner() };
        let bp = inner.batch;
        // SAFETY: the batch allocation lives as long as the handle.
        if unsafe { batch::is_live(bp) } {
            return Err(batch::busy());
        }
        match inner.cap.acquire_batch(timeout_of(timeout_ms))? {
            Wait::Ready((ptr, len, hdr)) => {
                // SAFETY: bp is the handle's batch; the block stays held
                // until nr_batch_release or close.
                unsafe {
                    batch::arm(bp, ptr, len, hdr);
                    *out = bp;
                }
                Ok(NR_OK)
            }
            Wait::Timeout => Ok(NR_TIMEOUT),
            Wait::Interrupted => Ok(NR_BREAK),
            Wait::InterfaceDown => Ok(NR_IFACE_DOWN),
        }
    })
}

/// Single-packet access (libpcap's pcap_next_ex shape): the next packet,
/// waiting as nr_next_batch() does. On NR_OK `*out` points to a packet
/// owned by the handle, valid until the next call on this handle. Internally
/// it holds one block and walks it; mixing with nr_next_batch() is allowed
/// (the held block is released first) but not while a batch is held
/// (NR_E_BUSY).
///
/// Returns NR_OK, NR_TIMEOUT, NR_BREAK, NR_IFACE_DOWN, NR_E_IFACE_GONE,
/// NR_E_BUSY, NR_E_INVALID_ARG, NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_next_packet(
    cap: *mut nr_capture,
    timeout_ms: c_int,
    out: *mut *const nr_packet,
) -> c_int {
    boundary(|| {
        // SAFETY: contract: a live handle used by one thread.
        let h = unsafe { nr_capture::from_ptr(cap) }?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        // SAFETY: one thread per handle.
        let inner = unsafe { h.inner() };
        // SAFETY: the batch allocation lives as long as the handle.
        if unsafe { batch::is_live(inner.batch) } {
            return Err(batch::busy());
        }
        match inner.cap.next_packet(timeout_of(timeout_ms))? {
            Wait::Ready(p) => {
                let p = nr_packet::from(&p);
                inner.pkt = p;
                // SAFETY: out is non-NULL (checked); the slot lives in the handle.
                unsafe { *out = &inner.pkt };
                Ok(NR_OK)
            }
            Wait::Timeout => Ok(NR_TIMEOUT),
            Wait::Interrupted => Ok(NR_BREAK),
            Wait::InterfaceDown => Ok(NR_IFACE_DOWN),
        }
    })
}

/// Read the statistics: lifetime totals into `*total` and the change since
/// the previous nr_capture_stats() call into `*delta`. Either may be NULL,
/// not both.
///
/// Returns NR_OK, NR_E_INVALID_ARG, NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_capture_stats(
    cap: *mut nr_capture,
    total: *mut nr_stats,
    delta: *mut nr_stats,
) -> c_int {
    boundary(|| {
        // SAFETY: contract: a live handle used by one thread.
        let h = unsafe { nr_capture::from_ptr(cap) }?;
        if total.is_null() && delta.is_null() {
            return Err(Error::invalid_arg("both 'total' and 'delta' are NULL"));
        }
        // SAFETY: one thread per handle.
        let (t, d) = unsafe { h.inner() }.cap.stats_with_delta()?;
        // SAFETY: non-NULL out-pointers to caller-owned nr_stats.
        unsafe {
            if !total.is_null() {
                *total = t.into();
            }
            if !delta.is_null() {
                *delta = d.into();
            }
        }
        Ok(NR_OK)
    })
}

/// The ring's real geometry into `*out`.
///
/// Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_capture_ring_info(
    cap: *const nr_capture,
    out: *mut nr_ring_info,
) -> c_int {
    boundary(|| {
        // SAFETY: contract: a live handle.
        let h = unsafe { nr_capture::from_ptr(cap) }?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        // SAFETY: one thread per handle.
        let r = unsafe { h.inner() }.cap.ring_info();
        // SAFETY: out is non-NULL and caller-owned.
        unsafe {
            *out = nr_ring_info {
                block_size: r.block_size,
                block_count: r.block_count,
                block_count_requested: r.block_count_requested,
                frame_size: r.frame_size,
                locked: r.locked,
            };
        }
        Ok(NR_OK)
    })
}

/// The socket's file descriptor, for poll/epoll/select: readable when a
/// block is ready. Owned by the handle: do not read from or close it.
/// Returns the fd (>= 0) or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_capture_fd(cap: *const nr_capture) -> c_int {
    boundary(|| {
        // SAFETY: contract: a live handle.
        let h = unsafe { nr_capture::from_ptr(cap) }?;
        // SAFETY: fd() only reads an immutable field.
        Ok(unsafe { h.inner() }.cap.fd())
    })
}

/// Stop the current or next wait of nr_next_batch()/nr_next_packet() on
/// this handle: that call returns NR_BREAK (once per request).
///
/// Safe to call from any thread and from a signal handler (an atomic store
/// and one write(2); it allocates nothing and takes no lock). For that
/// reason it does not set nr_last_error(). Returns NR_OK, or
/// NR_E_INVALID_ARG for NULL or a closed handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_capture_breakloop(cap: *const nr_capture) -> c_int {
    guard(super::NR_E_INTERNAL, || {
        if cap.is_null() {
            return super::NR_E_INVALID_ARG;
        }
        // SAFETY: a live handle (contract); only the Sync breaker and the
        // immutable magic are touched, never the single-thread state.
        let h = unsafe { &*cap };
        if h.magic != MAGIC {
            return super::NR_E_INVALID_ARG;
        }
        h.brk.break_loop();
        NR_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_init_and_old_callers() {
        let mut cfg = nr_capture_config::defaults();
        cfg.block_size = 1;
        // SAFETY: cfg is a valid, writable config.
        assert_eq!(
            unsafe { nr_capture_config_init(&mut cfg, size_of::<nr_capture_config>()) },
            NR_OK
        );
        assert_eq!(cfg.block_size, 4 << 20);
        // SAFETY: as above.
        let c = unsafe { config_from_c(&cfg) }.unwrap();
        assert_eq!(c, CaptureConfig::default());
        // An "old" caller that only knows the first fields.
        cfg.size = offset_of!(nr_capture_config, frame_size);
        cfg.block_count = 8;
        cfg.frame_size = 12345; // beyond the old size: ignored
        // SAFETY: as above.
        let c = unsafe { config_from_c(&cfg) }.unwrap();
        assert_eq!(c.block_count, 8);
        assert_eq!(c.frame_size, 2048);
        cfg.size = 0;
        // SAFETY: as above.
        assert!(unsafe { config_from_c(&cfg) }.is_err());
    }

    #[test]
    fn newer_caller_with_unknown_nonzero_fields_is_refused() {
        #[repr(C)]
        struct Newer {
            cfg: nr_capture_config,
            extra: u64,
        }
        let mut n = Newer {
            cfg: nr_capture_config::defaults(),
            extra: 0,
        };
        n.cfg.size = size_of::<Newer>();
        // SAFETY: n is readable for n.cfg.size bytes.
        assert!(unsafe { config_from_c(&n.cfg) }.is_ok());
        n.extra = 1;
        // SAFETY: as above.
        assert!(unsafe { config_from_c(&n.cfg) }.is_err());
    }

    #[test]
    fn null_arguments_are_rejected() {
        let mut out: *mut nr_capture = ptr::null_mut();
        // SAFETY: NULL arguments are part of the contract under test.
        unsafe {
            assert_eq!(
                nr_capture_open(ptr::null(), ptr::null(), &mut out),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_capture_open(c"lo".as_ptr(), ptr::null(), ptr::null_mut()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_next_batch(ptr::null_mut(), 0, ptr::null_mut()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_capture_breakloop(ptr::null()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(nr_capture_fd(ptr::null()), super::super::NR_E_INVALID_ARG);
            nr_capture_close(ptr::null_mut());
        }
        assert!(out.is_null());
    }
}
