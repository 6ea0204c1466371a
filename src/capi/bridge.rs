//! `nr_bridge`: forward frames between two interfaces, both directions.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void};

use super::batch::nr_packet;
use super::handle;
use super::{NR_BREAK, NR_OK, boundary, c_str, guard, null_arg, write_stats};
use crate::afpacket::{Breaker, Bridge, BridgeConfig, BridgeDirection, BridgeStats, Verdict};
use crate::error::Error;

const MAGIC: u64 = 0x6e72_5f62_7269_6467; // "nr_bridg"

/// Bridge directions (the nr_bridge_cb argument).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_bridge_direction {
    /// Bridge direction: captured on interface A, sent on B.
    NR_BRIDGE_A_TO_B = 0,
    /// Bridge direction: captured on interface B, sent on A.
    NR_BRIDGE_B_TO_A = 1,
}

/// [`nr_bridge_direction::NR_BRIDGE_A_TO_B`] as a `c_int`, the type of the field or argument that takes it.
/// cbindgen:ignore
pub const NR_BRIDGE_A_TO_B: c_int = nr_bridge_direction::NR_BRIDGE_A_TO_B as c_int;
/// [`nr_bridge_direction::NR_BRIDGE_B_TO_A`] as a `c_int`, the type of the field or argument that takes it.
/// cbindgen:ignore
pub const NR_BRIDGE_B_TO_A: c_int = nr_bridge_direction::NR_BRIDGE_B_TO_A as c_int;
/// Bridge verdicts (what an nr_bridge_cb returns).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_bridge_verdict {
    /// nr_bridge_cb verdict: forward the frame unchanged.
    NR_BRIDGE_FORWARD = 0,
    /// nr_bridge_cb verdict: drop the frame.
    NR_BRIDGE_DROP = 1,
}

/// [`nr_bridge_verdict::NR_BRIDGE_FORWARD`] as a `c_int`, the type of the field or argument that takes it.
/// cbindgen:ignore
pub const NR_BRIDGE_FORWARD: c_int = nr_bridge_verdict::NR_BRIDGE_FORWARD as c_int;
/// [`nr_bridge_verdict::NR_BRIDGE_DROP`] as a `c_int`, the type of the field or argument that takes it.
/// cbindgen:ignore
pub const NR_BRIDGE_DROP: c_int = nr_bridge_verdict::NR_BRIDGE_DROP as c_int;

/// Per-frame callback of nr_bridge_run(): `direction` is NR_BRIDGE_A_TO_B
/// or NR_BRIDGE_B_TO_A; return NR_BRIDGE_FORWARD or NR_BRIDGE_DROP (any
/// other value forwards). `pkt` and its data are valid only during the
/// call and must not be written to. The callback must not call
/// nr_bridge_run() or nr_bridge_close() on the same bridge.
pub type nr_bridge_cb = Option<
    unsafe extern "C" fn(user: *mut c_void, direction: c_int, pkt: *const nr_packet) -> c_int,
>;

/// Counters of one direction of a bridge (a member of nr_bridge_stats).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_bridge_path_stats {
    /// Frames sent on the far side.
    pub forwarded: u64,
    /// Frames the callback dropped.
    pub dropped: u64,
    /// Frames that could not be forwarded (too big for the far side, or
    /// its ring stayed full for 100 ms).
    pub failed: u64,
    /// Frames the kernel dropped on the capture side (ring full).
    pub capture_drops: u64,
}

impl From<BridgeStats> for nr_bridge_path_stats {
    fn from(s: BridgeStats) -> nr_bridge_path_stats {
        nr_bridge_path_stats {
            forwarded: s.forwarded,
            dropped: s.dropped,
            failed: s.failed,
            capture_drops: s.capture_drops,
        }
    }
}

/// Bridge statistics (nr_bridge_get_stats()), per direction.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_bridge_stats {
    /// Captured on interface A, sent on B.
    pub a_to_b: nr_bridge_path_stats,
    /// Captured on interface B, sent on A.
    pub b_to_a: nr_bridge_path_stats,
    /// Reserved for future counters; always 0.
    pub reserved: [u64; 8],
}

impl From<[BridgeStats; 2]> for nr_bridge_stats {
    fn from([ab, ba]: [BridgeStats; 2]) -> nr_bridge_stats {
        nr_bridge_stats {
            a_to_b: ab.into(),
            b_to_a: ba.into(),
            reserved: [0; 8],
        }
    }
}

/// A two-way bridge between interfaces A and B (opaque). Created by
/// nr_bridge_open(), freed by nr_bridge_close(). One thread runs it
/// (nr_bridge_run()); nr_bridge_breakloop() may be called from any thread
/// or a signal handler.
///
/// Frames captured on one side (promiscuous; frames this host sends are
/// ignored, so the bridge never re-captures its own output) are copied once
/// from the capture ring into an injector slot of the other side and leave
/// unchanged, byte for byte (a VLAN tag the kernel stripped is put back).
pub struct nr_bridge {
    magic: u64,
    brk: Breaker,
    inner: UnsafeCell<Bridge>,
}

handle::handle!(nr_bridge, MAGIC, "br");

/// # Safety
/// `p` is NULL or a live handle used by one thread at a time.
unsafe fn handle<'a>(p: *mut nr_bridge) -> Result<&'a mut Bridge, Error> {
    // SAFETY: forwarded contract (NULL or a handle of this library).
    let h = unsafe { handle::checked(p) }?;
    // SAFETY: one thread per handle: no other reference to inner is alive.
    Ok(unsafe { &mut *h.inner.get() })
}

/// Open a bridge between interfaces `a` and `b` of the calling thread's
/// network namespace (captures of 16 MiB per side, 1 ms block timeout;
/// injectors with the nr_injector_config defaults). On success `*out`
/// receives the handle.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL argument, bad name, a == b);
/// NR_E_NO_DEVICE; NR_E_PERMISSION (needs CAP_NET_RAW and CAP_NET_ADMIN);
/// NR_E_NO_MEMORY; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_bridge_open(
    a: *const c_char,
    b: *const c_char,
    out: *mut *mut nr_bridge,
) -> c_int {
    boundary(|| {
        // SAFETY: NULL or NUL-terminated per the API contract.
        let a = unsafe { c_str(a, "a") }?;
        // SAFETY: as above.
        let b = unsafe { c_str(b, "b") }?;
        if out.is_null() {
            return Err(null_arg("out"));
        }
        let br = Bridge::open(a, b, &BridgeConfig::default())?;
        let raw = Box::into_raw(Box::new(nr_bridge {
            magic: MAGIC,
            brk: br.breaker(),
            inner: UnsafeCell::new(br),
        }));
        // SAFETY: out is non-NULL (checked) and writable (contract).
        unsafe { *out = raw };
        Ok(NR_OK)
    })
}

/// Forward frames both ways until nr_bridge_breakloop() is called. `cb`
/// (may be NULL: forward everything) sees each frame first, with `user`.
///
/// Returns NR_BREAK (stopped by nr_bridge_breakloop(), now or before this
/// call; the request is consumed; not an error); NR_E_IFACE_GONE (an
/// interface was removed: close the bridge); NR_E_INVALID_ARG; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_bridge_run(
    br: *mut nr_bridge,
    cb: nr_bridge_cb,
    user: *mut c_void,
) -> c_int {
    boundary(|| {
        // SAFETY: contract: a live handle used by one thread.
        let bridge = unsafe { handle(br) }?;
        bridge.run(|dir, p| {
            let Some(cb) = cb else {
                return Verdict::Forward;
            };
            let pkt = nr_packet::from(p);
            let d = match dir {
                BridgeDirection::AToB => NR_BRIDGE_A_TO_B,
                BridgeDirection::BToA => NR_BRIDGE_B_TO_A,
            };
            // SAFETY: the user's callback with its own user pointer and a
            // packet that lives on our stack for the call.
            if unsafe { cb(user, d, &pkt) } == NR_BRIDGE_DROP {
                Verdict::Drop
            } else {
                Verdict::Forward
            }
        })?;
        Ok(NR_BREAK)
    })
}

/// Make the current or next nr_bridge_run() return NR_BREAK. Safe from any
/// thread and from a signal handler (an atomic store and one write(2)); it
/// does not set nr_last_error(). Returns NR_OK, or NR_E_INVALID_ARG for
/// NULL.
///
/// The handle must be open: calling this during or after nr_bridge_close()
/// is undefined behaviour (its memory is freed), as with pcap_breakloop()
/// after pcap_close(). Stop signal handlers and other threads from calling
/// it before you close the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_bridge_breakloop(br: *const nr_bridge) -> c_int {
    guard(super::NR_E_INTERNAL, || {
        // SAFETY: NULL or a handle (contract); only the Sync breaker and
        // the magic are touched, never the single-thread state.
        let Some(h) = (unsafe { handle::live(br) }) else {
            return super::NR_E_INVALID_ARG;
        };
        h.brk.break_loop();
        NR_OK
    })
}

/// Read the statistics of both directions: lifetime totals into `*total`
/// and the change since the previous call into `*delta`. Either may be
/// NULL, not both. Not while nr_bridge_run() runs (one thread per handle).
///
/// Returns NR_OK; NR_E_INVALID_ARG; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_bridge_get_stats(
    br: *mut nr_bridge,
    total: *mut nr_bridge_stats,
    delta: *mut nr_bridge_stats,
) -> c_int {
    boundary(|| {
        // SAFETY: contract: a live handle used by one thread.
        let bridge = unsafe { handle(br) }?;
        // SAFETY: contract: NULL or writable out-parameters.
        unsafe { write_stats(total, delta, || bridge.stats_with_delta()) }
    })
}

/// Close a bridge: queued frames are flushed once, then both captures and
/// injectors are closed. NULL is accepted and ignored. Must not run
/// concurrently with any other call on the handle (breakloop included).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_bridge_close(br: *mut nr_bridge) {
    guard((), || {
        // SAFETY: NULL or a handle from nr_bridge_open (contract).
        if let Some(mut h) = unsafe { handle::take(br) } {
            let _ = h.inner.get_mut().drain(Some(std::time::Duration::ZERO));
        }
    })
}
