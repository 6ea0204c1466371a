//! Link types and time stamp types of a handle.

use std::ffi::{c_int, c_void};

use super::{enter, status};
use crate::cmem::{adopt_ints, malloc_ints};
use crate::datalink;
use crate::handle::{H, Pcap};
use crate::{code, guard};

/// A list from the real library (`list` on the real handle `target`),
/// moved into our heap at `out`: its length, or the real status.
///
/// # Safety
/// `target` is a live real handle; `out` is valid; `list`/`free` are the
/// real library's pair.
unsafe fn real_list(
    target: *mut c_void,
    out: *mut *mut c_int,
    list: unsafe extern "C" fn(*mut c_void, *mut *mut c_int) -> c_int,
    free: unsafe extern "C" fn(*mut c_int),
) -> c_int {
    let mut l = std::ptr::null_mut();
    // SAFETY: forwarded (caller).
    let n = unsafe { list(target, &mut l) };
    if n >= 0 {
        // SAFETY: l holds n ints of the real library's heap; out is valid.
        unsafe { *out = adopt_ints(l, n, free) };
    }
    n
}

/// `pcap_datalink`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_datalink(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_datalink)(rh.ptr) },
            H::Live(l, _) if l.active.is_none() => code::NOT_ACTIVATED,
            H::Live(l, _) => l.linktype,
        }
    })
}

/// `pcap_datalink_ext`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_datalink_ext(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_datalink_ext)(rh.ptr) },
            // libpcap's linktype_ext: set only from a savefile's header.
            H::Live(l, _) if l.active.is_none() => code::NOT_ACTIVATED,
            H::Live(..) => 0,
        }
    })
}

/// `pcap_list_datalinks`: the list is in our heap (`pcap_free_datalinks`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_list_datalinks(p: *mut Pcap, out: *mut *mut c_int) -> c_int {
    guard!(code::ERROR, {
        if out.is_null() {
            return code::ERROR;
        }
        let (r, target) = match enter!(p, code::ERROR) {
            H::Real(r, rh, _) => (r, rh.ptr),
            H::Live(l, _) if l.active.is_none() => return code::NOT_ACTIVATED,
            H::Live(l, _) => match l.shadow.active() {
                Some(rs) => rs,
                None => {
                    let v = datalink::offered(l);
                    // SAFETY: out checked non-NULL.
                    unsafe { *out = malloc_ints(&v) };
                    return v.len() as c_int;
                }
            },
        };
        // SAFETY: out checked non-NULL; the real library's pair.
        unsafe { real_list(target, out, r.pcap_list_datalinks, r.pcap_free_datalinks) }
    })
}

/// `pcap_free_datalinks`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_free_datalinks(list: *mut c_int) {
    // SAFETY: list is NULL or from pcap_list_datalinks (our heap).
    guard!((), { unsafe { libc::free(list.cast()) } })
}

/// `pcap_set_datalink`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_set_datalink(p: *mut Pcap, dlt: c_int) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_set_datalink)(rh.ptr, dlt) },
            // Before activation libpcap knows no list and no link type
            // (0): only 0 is accepted.
            H::Live(l, _) if l.active.is_none() && dlt == 0 => 0,
            H::Live(l, io) => status(io, datalink::set(l, dlt).map(|()| 0)),
        }
    })
}

/// `pcap_list_tstamp_types`: the device's list from the real library
/// (only the host's clock without it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_list_tstamp_types(p: *mut Pcap, out: *mut *mut c_int) -> c_int {
    guard!(code::ERROR, {
        if out.is_null() {
            return code::ERROR;
        }
        let (r, target) = match enter!(p, code::ERROR) {
            H::Real(r, rh, _) => (r, rh.ptr),
            H::Live(l, _) => match l.shadow.get() {
                Some(rs) => rs,
                None => {
                    // SAFETY: out checked non-NULL.
                    unsafe { *out = malloc_ints(&[0]) };
                    return 1;
                }
            },
        };
        // SAFETY: out checked non-NULL; the real library's pair.
        unsafe {
            real_list(
                target,
                out,
                r.pcap_list_tstamp_types,
                r.pcap_free_tstamp_types,
            )
        }
    })
}

/// `pcap_free_tstamp_types`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_free_tstamp_types(list: *mut c_int) {
    // SAFETY: list is NULL or from pcap_list_tstamp_types (our heap).
    guard!((), { unsafe { libc::free(list.cast()) } })
}
