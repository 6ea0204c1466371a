//! `nr_injector`: frame injection (TPACKET_V2 TX ring or sendmmsg).

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};
use std::mem::size_of;

use super::arg::{self, CEnum, Out, StatsOut};
use super::config;
use super::handle;
use super::{NR_OK, NR_TIMEOUT, boundary, c_str, guard, null_arg};
use crate::afpacket::{Injector, InjectorConfig, InjectorStats, TxMode};
use crate::error::Error;

const MAGIC: u64 = 0x6e72_5f69_6e6a_6563; // "nr_injec"

/// Injector send paths (nr_injector_config.mode).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_tx_mode {
    /// nr_injector_config.mode: pick the send path from the device: sendmmsg
    /// for devices without a bus (veth, tun, loopback, ...), the TX ring for
    /// the others. The default.
    NR_TX_AUTO = 0,
    /// nr_injector_config.mode: the kernel's TPACKET_V2 TX ring (PACKET_TX_RING).
    NR_TX_RING = 1,
    /// nr_injector_config.mode: sendmmsg(2) over slots in the library's memory,
    /// up to 64 frames per system call.
    NR_TX_SENDMMSG = 2,
}

arg::c_enum!(nr_tx_mode as u32 => TxMode {
    NR_TX_AUTO = Auto,
    NR_TX_RING = Ring,
    NR_TX_SENDMMSG = Sendmmsg,
});

/// Injector configuration. Initialise it with NR_INJECTOR_CONFIG_INIT(&cfg)
/// (or nr_injector_config_init(&cfg, sizeof cfg)), change what you need,
/// pass it to nr_injector_open(). Every value is checked at open time; a
/// bad one fails with NR_E_CONFIG and a message naming the field.
/// Extensible like nr_capture_config: `size` first, fields only appended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_injector_config {
    /// sizeof(nr_injector_config) as the caller compiled it; set by
    /// NR_INJECTOR_CONFIG_INIT.
    pub size: usize,
    /// Bytes per slot including the 32-byte TPACKET_V2 header: a multiple
    /// of 16, 128..65536. A slot holds frame_size - 32 frame bytes.
    /// Default 2048 (frames up to 2016 bytes).
    pub frame_size: u32,
    /// Number of slots, 1..1048576 (rounded up to fill whole pages;
    /// nr_injector_get_info() tells the real number). Default 256.
    pub frame_count: u32,
    /// An nr_tx_mode: NR_TX_AUTO, NR_TX_RING or NR_TX_SENDMMSG. Default NR_TX_AUTO.
    pub mode: u32,
    /// How long nr_inject() and nr_inject_batch() wait for a free slot when
    /// every slot is queued: < 0 no limit, 0 no wait, > 0 milliseconds.
    /// Default 1000.
    pub wait_timeout_ms: i32,
    /// Bypass the qdisc layer (PACKET_QDISC_BYPASS): faster, no traffic
    /// shaping. Default false.
    pub qdisc_bypass: bool,
}

impl nr_injector_config {
    fn defaults() -> nr_injector_config {
        let d = InjectorConfig::default();
        nr_injector_config {
            size: size_of::<nr_injector_config>(),
            frame_size: d.frame_size,
            frame_count: d.frame_count,
            mode: NR_TX_AUTO,
            wait_timeout_ms: 1000,
            qdisc_bypass: d.qdisc_bypass,
        }
    }
}

// SAFETY: nr_injector_config is repr(C), begins with `size: usize`, and holds only
// integers, booleans and raw pointers.
unsafe impl config::CConfig for nr_injector_config {
    const NAME: &'static str = "nr_injector_config";
    const INIT: &'static str = "NR_INJECTOR_CONFIG_INIT";
    const MIN_SIZE: usize = std::mem::offset_of!(nr_injector_config, frame_size) + 4;
    fn defaults() -> nr_injector_config {
        nr_injector_config::defaults()
    }
}

/// Read a caller's config of `cfg.size` bytes over the defaults (NULL: the
/// defaults).
fn config_from_c(p: *const nr_injector_config) -> Result<InjectorConfig, Error> {
    let Some(f) = config::read(p)? else {
        return Ok(InjectorConfig::default());
    };
    let d = nr_injector_config::defaults();
    macro_rules! at {
        ($get:ident, $field:ident) => {
            config::field!(f, d, nr_injector_config, $get, $field)
        };
    }
    let mode = nr_tx_mode::from_c(at!(u32, mode), "mode", Error::config)?.into();
    Ok(InjectorConfig {
        frame_size: at!(u32, frame_size),
        frame_count: at!(u32, frame_count),
        mode,
        wait_timeout: arg::timeout(at!(i32, wait_timeout_ms)),
        qdisc_bypass: at!(bool, qdisc_bypass),
    })
}

/// Fill `cfg` with the defaults. `size` is sizeof(*cfg) as the caller
/// compiled it (NR_INJECTOR_CONFIG_INIT passes it); only that many bytes
/// are written.
///
/// Returns NR_OK, or NR_E_INVALID_ARG if `cfg` is NULL or `size` is smaller
/// than the first two fields.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_config_init(
    cfg: *mut nr_injector_config,
    size: usize,
) -> c_int {
    boundary(|| config::init(cfg, size))
}

/// Injector counters (nr_injector_get_stats()).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_injector_stats {
    /// Frames the kernel took and finished with (lifetime).
    pub sent: u64,
    /// Frames the kernel refused (TP_STATUS_WRONG_FORMAT, or a sendmmsg
    /// error for that frame; e.g. the MTU was lowered after they were
    /// queued). They are skipped; the frames after them still go out, in
    /// order.
    pub rejected: u64,
    /// Kicks made (send()/sendmmsg() calls).
    pub kicks: u64,
    /// Kicks that met a transient EAGAIN/ENOBUFS (the frames stayed queued
    /// and go out with a later flush).
    pub transient: u64,
    /// Frames queued and not finished yet.
    pub pending: u32,
    /// Free slots now.
    pub available: u32,
    /// Reserved for future counters; always 0.
    pub reserved: [u64; 8],
}

impl From<InjectorStats> for nr_injector_stats {
    fn from(s: InjectorStats) -> nr_injector_stats {
        nr_injector_stats {
            sent: s.sent,
            rejected: s.rejected,
            kicks: s.kicks,
            transient: s.transient,
            pending: s.pending,
            available: s.available,
            reserved: [0; 8],
        }
    }
}

/// What an injector really got (nr_injector_get_info()).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_injector_info {
    /// The nr_tx_mode in use: NR_TX_RING or NR_TX_SENDMMSG (never NR_TX_AUTO).
    pub mode: u32,
    /// Number of slots.
    pub frame_count: u32,
    /// Bytes one slot holds (frame_size - 32).
    pub slot_capacity: u32,
    /// Longest frame accepted now: slot_capacity or the MTU + 14, the smaller.
    pub max_frame_len: u32,
}

/// One frame to send, copied by the call: `len` bytes at `data`, the
/// Ethernet header first. Used by nr_inject_batch() (len 1 .. the
/// injector's nr_injector_info.max_frame_len) and nr_xdp_send() (len 1 ..
/// nr_xdp_config.frame_size).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_frame {
    /// The frame's first byte.
    pub data: *const u8,
    /// Its length in bytes.
    pub len: usize,
}

impl nr_frame {
    /// The frame's bytes (from a C caller's array); `i`, its index, names
    /// it when `data` is NULL.
    pub(crate) fn bytes<'a>(&self, i: usize) -> Result<&'a [u8], Error> {
        if self.data.is_null() {
            return Err(Error::invalid_arg(format!("frames[{i}].data is NULL")));
        }
        arg::slice(self.data, self.len, "data")
    }
}

pub(crate) struct Inner {
    inj: Injector,
    /// nr_injector_alloc() handed out the slot at the ring head.
    slot_out: bool,
}

/// An open injector (opaque). Created by nr_injector_open(), freed by
/// nr_injector_close(). Use it from one thread at a time.
///
/// What copies: nr_injector_alloc() + nr_injector_send() let you build the
/// frame in place, so the library copies nothing. In NR_TX_RING mode the
/// slot is the kernel's TX ring; a NIC transmits from it, but a veth (or
/// any path that crosses into another network stack) makes the kernel copy
/// the ring page. In NR_TX_SENDMMSG mode the slot is library memory and
/// the kernel copies each frame into a socket buffer at flush time.
/// nr_inject() and nr_inject_batch() copy each frame once into a slot, then
/// proceed the same way.
pub struct nr_injector {
    magic: u64,
    state: UnsafeCell<Inner>,
}

handle::handle!(nr_injector, MAGIC, "inj", Inner);

/// The state of the injector behind `p`, with the slot from
/// nr_injector_alloc() taken back (every call but nr_injector_send() does).
fn handle<'a>(p: *const nr_injector) -> Result<&'a mut Inner, Error> {
    let h = handle::state(p)?;
    h.slot_out = false;
    Ok(h)
}

/// Open an injector on interface `ifname` of the calling thread's network
/// namespace. `cfg` may be NULL for the defaults. On success `*out`
/// receives the handle.
///
/// The socket is opened with protocol 0: it receives nothing. In ring mode
/// the TX ring uses TPACKET_V2 frame headers.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL ifname/out, bad name, bad
/// cfg->size); NR_E_CONFIG (frame_size, frame_count, mode: the message
/// names the field); NR_E_NO_DEVICE; NR_E_PERMISSION (needs CAP_NET_RAW);
/// NR_E_NO_MEMORY (ring); NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_open(
    ifname: *const c_char,
    cfg: *const nr_injector_config,
    out: *mut *mut nr_injector,
) -> c_int {
    boundary(|| {
        let name = c_str(ifname, "ifname")?;
        let out = Out::new(out, "out")?;
        let inj = Injector::open(name, &config_from_c(cfg)?)?;
        let h = nr_injector {
            magic: MAGIC,
            state: UnsafeCell::new(Inner {
                inj,
                slot_out: false,
            }),
        };
        Ok(handle::publish(h, out, |_| ()))
    })
}

/// Close an injector. Frames still queued are handed to the kernel once
/// (a flush); frames the kernel has not taken by then are discarded — call
/// nr_injector_wait_drained() first to be sure they left. NULL is accepted
/// and ignored. Every slot pointer of the handle becomes invalid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_close(inj: *mut nr_injector) {
    guard((), || {
        if let Some(mut h) = handle::take(inj) {
            let _ = h.state.get_mut().inj.flush();
        }
    })
}

/// Zero copy: get the next free slot and write the frame straight into it
/// (in ring mode the slot is the kernel's TX ring memory). `*buf` receives
/// the slot's first byte, `*cap` its capacity; write the frame at `*buf`
/// (Ethernet header first), then call nr_injector_send() with its length.
/// Calling nr_injector_alloc() again before that returns the same slot;
/// any other call on the handle (flush, wait, inject, stats, ...) takes the
/// slot back, and the pointer must not be used any more.
///
/// `timeout_ms`: how long to wait when every slot is queued (< 0 no limit,
/// 0 no wait); the library flushes while it waits.
///
/// Returns NR_OK; NR_TIMEOUT (no slot came free in time; not an error);
/// NR_E_IFACE_GONE (the interface was removed while waiting);
/// NR_E_INVALID_ARG (NULL argument); NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_alloc(
    inj: *mut nr_injector,
    timeout_ms: c_int,
    buf: *mut *mut u8,
    cap: *mut usize,
) -> c_int {
    boundary(|| {
        let h = handle(inj)?;
        let buf = Out::new(buf, "buf")?;
        let cap = Out::new(cap, "cap")?;
        if h.inj.slot_timeout(arg::timeout(timeout_ms))?.is_none() {
            return Ok(NR_TIMEOUT);
        }
        // SAFETY: slot_timeout returned a slot, so the slot at head is free.
        let (p, n) = unsafe { h.inj.head_buffer() };
        h.slot_out = true;
        buf.set(p);
        cap.set(n);
        Ok(NR_OK)
    })
}

/// Mark the slot from nr_injector_alloc() for sending with its first `len`
/// bytes. No copy, and no system call: the frame goes out with the next
/// nr_injector_flush() (or when a full ring makes nr_injector_alloc() or
/// nr_inject() flush). The kernel sends frames in the order they were
/// marked. On an error the slot stays free and nothing is queued.
///
/// Returns NR_OK; NR_E_INVALID_ARG (len under 14 — the Ethernet header —
/// including 0, or no slot allocated: call nr_injector_alloc() first);
/// NR_E_TOO_BIG (len over the slot capacity or over the interface's
/// MTU + 14).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_send(inj: *mut nr_injector, len: usize) -> c_int {
    boundary(|| {
        let h = handle::state(inj)?;
        if !h.slot_out {
            return Err(Error::invalid_arg(
                "no slot is allocated: call nr_injector_alloc() first (each slot is sent once)",
            ));
        }
        h.inj.commit_head(len)?;
        h.slot_out = false;
        Ok(NR_OK)
    })
}

/// Hand every queued frame to the kernel (ring mode:
/// send(fd, NULL, 0, MSG_DONTWAIT); sendmmsg mode: sendmmsg() of up to 64
/// frames per call). Does not wait for the frames to finish. A transient
/// EAGAIN/ENOBUFS is not an error: those frames stay queued for the next
/// flush.
///
/// Returns NR_OK; NR_E_IFACE_GONE (interface removed: close the handle);
/// NR_E_SYSTEM (e.g. the interface is down; the frames stay queued);
/// NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_flush(inj: *mut nr_injector) -> c_int {
    boundary(|| {
        handle(inj)?.inj.flush()?;
        Ok(NR_OK)
    })
}

/// Flush and wait until every queued frame is finished (sent or rejected),
/// up to `timeout_ms` (< 0 no limit). Sleeps in short naps (up to 1 ms).
///
/// Returns NR_OK (nothing pending); NR_TIMEOUT (frames still pending; not
/// an error); NR_E_IFACE_GONE (the interface was removed: no hang);
/// NR_E_SYSTEM (e.g. interface down); NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_wait_drained(
    inj: *mut nr_injector,
    timeout_ms: c_int,
) -> c_int {
    boundary(|| {
        let h = handle(inj)?;
        Ok(if h.inj.wait_drained(arg::timeout(timeout_ms))? {
            NR_OK
        } else {
            NR_TIMEOUT
        })
    })
}

/// Copy `len` bytes at `data` into the next free slot and queue it (one
/// copy into the slot; no system call unless the ring is full, when it
/// flushes and waits up to nr_injector_config.wait_timeout_ms). Call
/// nr_injector_flush() to send.
///
/// Returns NR_OK; NR_TIMEOUT (the ring stayed full; nothing queued; not an
/// error); NR_E_INVALID_ARG (NULL data, len under 14 including 0);
/// NR_E_TOO_BIG (len over the slot or the MTU + 14; nothing queued);
/// NR_E_IFACE_GONE; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_inject(inj: *mut nr_injector, data: *const u8, len: usize) -> c_int {
    boundary(|| {
        let h = handle(inj)?;
        if data.is_null() {
            return Err(null_arg("data"));
        }
        let frame = arg::slice(data, len, "data")?;
        Ok(if h.inj.inject(frame)? {
            NR_OK
        } else {
            NR_TIMEOUT
        })
    })
}

/// Copy and queue `count` frames in order, then flush once. `*queued`
/// receives how many were queued — it is written on every return but
/// NR_E_INVALID_ARG for NULL arguments, unlike most out-parameters, so
/// that a partial batch is known: all `count` on NR_OK; fewer on
/// NR_TIMEOUT (the ring stayed full for wait_timeout_ms); on an error the
/// frames before the failing one (frames[*queued]) are queued and flushed.
///
/// Returns NR_OK; NR_TIMEOUT; NR_E_INVALID_ARG (NULL inj/frames/queued, a
/// NULL data pointer, a frame under 14 bytes); NR_E_TOO_BIG (a frame over
/// the slot or the MTU + 14); NR_E_IFACE_GONE; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_inject_batch(
    inj: *mut nr_injector,
    frames: *const nr_frame,
    count: usize,
    queued: *mut usize,
) -> c_int {
    boundary(|| {
        let h = handle(inj)?;
        if frames.is_null() {
            return Err(null_arg("frames"));
        }
        let queued = Out::new(queued, "queued")?;
        let list = arg::slice(frames, count, "frames")?;
        let mut n = 0usize;
        let mut res = Ok(NR_OK);
        for f in list {
            let bytes = match f.bytes(n) {
                Ok(b) => b,
                Err(e) => {
                    res = Err(e);
                    break;
                }
            };
            match h.inj.inject(bytes) {
                Ok(true) => n += 1,
                Ok(false) => {
                    res = Ok(NR_TIMEOUT);
                    break;
                }
                Err(e) => {
                    res = Err(e);
                    break;
                }
            }
        }
        let fl = h.inj.flush();
        queued.set(n);
        let rc = res?;
        fl?;
        Ok(rc)
    })
}

/// Read the statistics (finished frames are collected first): lifetime
/// totals into `*total` and the change since the previous call into
/// `*delta` (for the gauges `pending` and `available`: their current
/// value). Either may be NULL, not both.
///
/// Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_get_stats(
    inj: *mut nr_injector,
    total: *mut nr_injector_stats,
    delta: *mut nr_injector_stats,
) -> c_int {
    boundary(|| {
        let h = handle(inj)?;
        let out = StatsOut::new(total, delta)?;
        Ok(out.set(h.inj.stats_with_delta()))
    })
}

/// The injector's real geometry and send path into `*out`.
///
/// Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_get_info(
    inj: *const nr_injector,
    out: *mut nr_injector_info,
) -> c_int {
    boundary(|| {
        let i = &handle::state(inj)?.inj;
        Out::new(out, "out")?.set(nr_injector_info {
            mode: nr_tx_mode::from(i.mode()).to_c(),
            frame_count: i.frame_count(),
            slot_capacity: i.slot_capacity() as u32,
            max_frame_len: i.max_frame_len() as u32,
        });
        Ok(NR_OK)
    })
}

/// The injector's socket file descriptor, for poll/epoll/select and event
/// loops (libuv, libevent): wait for it to be writable (EPOLLOUT) when
/// nr_injector_alloc(inj, 0, ...) returned NR_TIMEOUT (every slot queued),
/// then flush and allocate again. Writable means: ring mode, the kernel
/// has finished the frame at its ring position; sendmmsg mode, the socket
/// buffer has room. The socket receives nothing, so it is never readable.
/// Owned by the handle: do not read, write or close it. Returns the fd
/// (>= 0) or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_injector_fd(inj: *const nr_injector) -> c_int {
    boundary(|| Ok(handle::state(inj)?.inj.fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::{NR_E_CONFIG, NR_E_INVALID_ARG};
    use std::mem::offset_of;
    use std::ptr;

    #[test]
    fn config_init_defaults_and_old_callers() {
        let mut cfg = nr_injector_config::defaults();
        cfg.frame_size = 1;
        // SAFETY: cfg is a valid, writable config.
        assert_eq!(
            unsafe { nr_injector_config_init(&mut cfg, size_of::<nr_injector_config>()) },
            NR_OK
        );
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!(c, InjectorConfig::default());
        cfg.size = offset_of!(nr_injector_config, mode);
        cfg.frame_count = 8;
        cfg.mode = 77; // beyond the old size: ignored
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!((c.frame_count, c.mode), (8, TxMode::Auto));
        cfg.size = size_of::<nr_injector_config>();
        // SAFETY: as above.
        let e = config_from_c(&cfg).unwrap_err();
        assert_eq!(super::super::status_of(e.kind()), NR_E_CONFIG);
        cfg.mode = NR_TX_RING;
        cfg.wait_timeout_ms = -1;
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!((c.mode, c.wait_timeout), (TxMode::Ring, None));
    }

    #[test]
    fn null_arguments_are_rejected() {
        let mut out: *mut nr_injector = ptr::null_mut();
        let mut q = 0usize;
        // SAFETY: NULL arguments are part of the contract under test.
        unsafe {
            assert_eq!(
                nr_injector_open(ptr::null(), ptr::null(), &mut out),
                NR_E_INVALID_ARG
            );
            assert_eq!(nr_inject(ptr::null_mut(), ptr::null(), 0), NR_E_INVALID_ARG);
            assert_eq!(
                nr_inject_batch(ptr::null_mut(), ptr::null(), 0, &mut q),
                NR_E_INVALID_ARG
            );
            assert_eq!(nr_injector_flush(ptr::null_mut()), NR_E_INVALID_ARG);
            assert_eq!(nr_injector_send(ptr::null_mut(), 60), NR_E_INVALID_ARG);
            nr_injector_close(ptr::null_mut());
        }
        assert!(out.is_null());
    }
}
