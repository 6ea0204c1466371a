//! `nr_bridge`: forward frames between two interfaces, both directions.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void};

use super::arg::{self, CEnum, Out, StatsOut};
use super::batch::nr_packet;
use super::handle;
use super::{NR_BREAK, boundary, c_str, guard};
use crate::afpacket::{Breaker, Bridge, BridgeConfig, BridgeDirection, BridgeStats, Verdict};

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

arg::c_enum!(nr_bridge_direction as c_int => BridgeDirection {
    NR_BRIDGE_A_TO_B = AToB,
    NR_BRIDGE_B_TO_A = BToA,
});

/// Bridge verdicts (what an nr_bridge_cb returns).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_bridge_verdict {
    /// nr_bridge_cb verdict: forward the frame unchanged.
    NR_BRIDGE_FORWARD = 0,
    /// nr_bridge_cb verdict: drop the frame.
    NR_BRIDGE_DROP = 1,
}

arg::c_enum!(nr_bridge_verdict as c_int => Verdict {
    NR_BRIDGE_FORWARD = Forward,
    NR_BRIDGE_DROP = Drop,
});

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
    state: UnsafeCell<BridgeInner>,
}

pub(crate) struct BridgeInner {
    br: Bridge,
}

handle::handle!(nr_bridge, MAGIC, "br", BridgeInner, brk);

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
        let a = c_str(a, "a")?;
        let b = c_str(b, "b")?;
        let out = Out::new(out, "out")?;
        let br = Bridge::open(a, b, &BridgeConfig::default())?;
        let h = nr_bridge {
            magic: MAGIC,
            brk: br.breaker(),
            state: UnsafeCell::new(BridgeInner { br }),
        };
        Ok(handle::publish(h, out, |_| ()))
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
        let bridge = &mut handle::state(br)?.br;
        bridge.run(|dir, p| {
            let Some(cb) = cb else {
                return Verdict::Forward;
            };
            let pkt = nr_packet::from(p);
            let d = nr_bridge_direction::from(dir).to_c();
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
    guard(super::NR_E_INTERNAL, || handle::breakloop(br))
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
        let h = handle::state(br)?;
        let out = StatsOut::new(total, delta)?;
        Ok(out.set(h.br.stats_with_delta()?))
    })
}

/// Close a bridge: queued frames are flushed once, then both captures and
/// injectors are closed. NULL is accepted and ignored. Must not run
/// concurrently with any other call on the handle (breakloop included).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_bridge_close(br: *mut nr_bridge) {
    guard((), || {
        if let Some(mut h) = handle::take(br) {
            let _ = h.state.get_mut().br.drain(Some(std::time::Duration::ZERO));
        }
    })
}
