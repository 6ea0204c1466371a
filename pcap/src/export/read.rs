//! Reading packets: `pcap_dispatch`, `pcap_loop`, `pcap_next_ex`,
//! `pcap_next`, each over the live read loop ([`live::read`]) or the
//! savefile reader ([`savefile`]), or forwarded.

use std::ffi::c_int;
use std::ptr;

use super::enter;
use crate::handle::{H, Pcap};
use crate::live::read as live_read;
use crate::types::{Handler, PktHdr};
use crate::{code, guard, savefile};

/// How a handle reads: netring's live loop, netring's savefile reader, or
/// the real libpcap.
enum Via {
    Live,
    File,
    Real,
}

/// The reader of `p` (None: not a handle).
///
/// # Safety
/// `p` is NULL or ours; the borrow rule of `crate::handle`.
unsafe fn via(p: *mut Pcap) -> Option<Via> {
    // SAFETY: as documented (caller).
    Some(match unsafe { crate::handle::enter(p) }? {
        H::Live(..) => Via::Live,
        H::Real(_, rh, _) if rh.file.is_some() => Via::File,
        H::Real(..) => Via::Real,
    })
}

/// One `pcap_dispatch` of `p` by `via` with a present callback.
///
/// # Safety
/// As [`via`]; `cb` may be called with `user`.
unsafe fn dispatch_via(
    p: *mut Pcap,
    via: &Via,
    cnt: c_int,
    cb: unsafe extern "C-unwind" fn(*mut u8, *const PktHdr, *const u8),
    user: *mut u8,
) -> c_int {
    match via {
        // SAFETY: as documented (caller); the callback gets a header and
        // the packet bytes valid for this call, as with libpcap.
        Via::Live => unsafe { live_read::dispatch(p, cnt, &mut |h, d| cb(user, h, d.as_ptr())) },
        // SAFETY: as documented (caller); forwards once the real handle
        // took over.
        Via::File | Via::Real => unsafe { savefile::dispatch(p, cnt, cb, user) },
    }
}

/// `pcap_dispatch`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dispatch(
    p: *mut Pcap,
    cnt: c_int,
    cb: Handler,
    user: *mut u8,
) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        let Some(via) = (unsafe { via(p) }) else {
            return code::ERROR;
        };
        match (cb, &via) {
            // SAFETY: p resolved above; no borrow of it is alive.
            (Some(cb), _) => unsafe { dispatch_via(p, &via, cnt, cb, user) },
            (None, Via::Real) => match enter!(p, code::ERROR) {
                // SAFETY: forwarded (the real library checks the callback).
                H::Real(r, rh, _) => unsafe { (r.pcap_dispatch)(rh.ptr, cnt, cb, user) },
                H::Live(..) => code::ERROR,
            },
            (None, _) => code::ERROR,
        }
    })
}

/// `pcap_loop`: `pcap_dispatch` until `cnt` packets (forever when
/// `cnt <= 0`), an error or a break; a live read that times out is
/// repeated, the end of a savefile ends the loop.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_loop(
    p: *mut Pcap,
    cnt: c_int,
    cb: Handler,
    user: *mut u8,
) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        let Some(via) = (unsafe { via(p) }) else {
            return code::ERROR;
        };
        // A real handle, or no callback on any handle, is the real
        // library's (which checks the callback).
        let Some(f) = cb.filter(|_| !matches!(via, Via::Real)) else {
            return match enter!(p, code::ERROR) {
                // SAFETY: forwarded.
                H::Real(r, rh, _) => unsafe { (r.pcap_loop)(rh.ptr, cnt, cb, user) },
                H::Live(..) => code::ERROR,
            };
        };
        let mut left = cnt;
        loop {
            // SAFETY: p resolved above; no borrow of it is alive.
            let n = unsafe { dispatch_via(p, &via, left, f, user) };
            match (n, &via) {
                (0, Via::Live) => continue,
                (n, _) if n <= 0 => return n,
                _ => {}
            }
            if cnt > 0 {
                left -= n;
                if left <= 0 {
                    return 0;
                }
            }
        }
    })
}

/// One packet into the handle's copy: 1, 0 (timeout, non-blocking), the
/// end of a savefile (`PCAP_ERROR_BREAK`), or an error.
///
/// # Safety
/// As [`via`]; the out-parameters are valid.
unsafe fn next_one(p: *mut Pcap, via: &Via) -> c_int {
    match via {
        // SAFETY: as documented (caller).
        Via::Live => unsafe { live_read::next_one(p) },
        // SAFETY: as documented (caller).
        _ => match unsafe { savefile::next_one(p) } {
            0 => code::BREAK,
            n => n,
        },
    }
}

/// `pcap_next_ex`: the header and bytes stay valid until the next call on
/// the handle (a copy: the ring block goes back as soon as it is read).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_next_ex(
    p: *mut Pcap,
    hdr: *mut *mut PktHdr,
    data: *mut *const u8,
) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        let via = match unsafe { via(p) } {
            None => return code::ERROR,
            Some(Via::Real) => match enter!(p, code::ERROR) {
                // SAFETY: forwarded.
                H::Real(r, rh, _) => return unsafe { (r.pcap_next_ex)(rh.ptr, hdr, data) },
                H::Live(..) => return code::ERROR,
            },
            Some(v) => v,
        };
        if hdr.is_null() || data.is_null() {
            return code::ERROR;
        }
        // SAFETY: p resolved above; no borrow of it is alive.
        let n = unsafe { next_one(p, &via) };
        if n == 1 {
            let io = enter!(p, code::ERROR).into_io();
            // SAFETY: out-parameters checked non-NULL; the pointers stay
            // valid until the next call on this handle.
            unsafe {
                *hdr = &mut io.one_hdr;
                *data = io.one_buf.as_ptr();
            }
        }
        n
    })
}

/// `pcap_next`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_next(p: *mut Pcap, h: *mut PktHdr) -> *const u8 {
    guard!(ptr::null(), {
        // SAFETY: p is NULL or ours.
        let via = match unsafe { via(p) } {
            None => return ptr::null(),
            Some(Via::Real) => match enter!(p, ptr::null()) {
                // SAFETY: forwarded.
                H::Real(r, rh, _) => return unsafe { (r.pcap_next)(rh.ptr, h) },
                H::Live(..) => return ptr::null(),
            },
            Some(v) => v,
        };
        // SAFETY: p resolved above; no borrow of it is alive.
        if unsafe { next_one(p, &via) } != 1 || h.is_null() {
            return ptr::null();
        }
        let io = enter!(p, ptr::null()).into_io();
        // SAFETY: h checked non-NULL.
        unsafe { *h = io.one_hdr };
        io.one_buf.as_ptr()
    })
}
