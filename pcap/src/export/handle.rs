//! Creating, activating, configuring and closing handles; the handle's
//! properties and controls.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::ptr;

use super::{enter, status};
use crate::cmem::{cstr, no_real, owned, puts_stderr, write_errbuf};
use crate::handle::{self, H, Kind, Pcap};
use crate::live::{self, Live, shadow::Shadow};
use crate::types::PcapStat;
use crate::{code, dump, guard, real, savefile};

/// `pcap_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_create(dev: *const c_char, errbuf: *mut c_char) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        // SAFETY: dev is NULL or NUL-terminated (libpcap's contract).
        let name = if dev.is_null() {
            "any"
        } else {
            unsafe { cstr(dev) }
        };
        // Probing the device must not change errno (libpcap's pcap_create
        // leaves it alone).
        let e = real::errno();
        let served = live::serves(name);
        real::set_errno(e);
        if served {
            // SAFETY: as above.
            let shadow = unsafe { Shadow::create(dev) };
            return Pcap::new(Kind::Live(Live::new(name, shadow)));
        }
        let Some(r) = real::try_get() else {
            no_real(
                errbuf,
                &format!(
                    "{name}: netring does not capture on this device and the real libpcap is needed"
                ),
            );
            return ptr::null_mut();
        };
        // SAFETY: forwarded with the caller's arguments.
        Pcap::wrap_real(r.with_errno(|| unsafe { (r.pcap_create)(dev, errbuf) }))
    })
}

/// `pcap_activate`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_activate(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded to the real handle.
            H::Real(r, rh, _) => r.with_errno(|| unsafe { (r.pcap_activate)(rh.ptr) }),
            H::Live(l, io) => {
                if l.active.is_some() {
                    io.set_err("can't perform  operation on activated capture");
                    return code::ACTIVATED;
                }
                let errno = real::errno();
                // The shadow's activation runs beside ours (see
                // live::shadow): its kernel grace periods overlap ours.
                let ifindex = live::ifindex_of(&l.dev);
                l.shadow.activate(l.snapshot_for(), ifindex);
                match live::activate(l) {
                    Ok(warning) => {
                        live::success_errno(l, errno);
                        if let (Some(b), Some(pc)) =
                            // SAFETY: p is ours (resolved above).
                            (live::breaker(l), unsafe { handle::shared(p) })
                        {
                            pc.brk.attach(b);
                        }
                        // libpcap 1.10 writes the promiscuous-mode warning
                        // of "any" into errbuf, then loses its status
                        // (create_ring resets it): activation returns 0.
                        if let Some(w) = warning {
                            io.set_err(&w);
                        }
                        0
                    }
                    Err((c, m)) => {
                        io.set_err(&m);
                        c
                    }
                }
            }
        }
    })
}

/// `pcap_open_live`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_open_live(
    dev: *const c_char,
    snaplen: c_int,
    promisc: c_int,
    to_ms: c_int,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        // SAFETY: arguments as pcap_create takes them.
        let p = unsafe { pcap_create(dev, errbuf) };
        if p.is_null() {
            return p;
        }
        // SAFETY: p is the handle just created.
        let st = unsafe {
            pcap_set_snaplen(p, snaplen);
            pcap_set_promisc(p, promisc);
            pcap_set_timeout(p, to_ms);
            pcap_activate(p)
        };
        if st >= 0 {
            return p;
        }
        // SAFETY: dev is NULL or NUL-terminated.
        let name = if dev.is_null() {
            "any"
        } else {
            unsafe { cstr(dev) }
        };
        // SAFETY: p is live; both return NUL-terminated strings.
        let (err, status) = unsafe {
            (
                owned(handle::errbuf(p)),
                owned(super::names::pcap_statustostr(st)),
            )
        };
        let msg = match st {
            code::ERROR => format!("{name}: {err}"),
            code::NO_SUCH_DEVICE | code::PERM_DENIED | -11 => format!("{name}: {status} ({err})"),
            _ => format!("{name}: {status}"),
        };
        // SAFETY: p is live and closed once; errbuf per contract. errno
        // stays as the failed activation left it (libpcap's).
        let e = real::errno();
        unsafe {
            pcap_close(p);
            write_errbuf(errbuf, &msg);
        }
        real::set_errno(e);
        ptr::null_mut()
    })
}

/// `pcap_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_close(p: *mut Pcap) {
    guard!((), {
        // A read loop this thread left with a longjmp: its engine comes
        // back to be closed with the handle.
        // SAFETY: p is NULL or ours; no borrow of it is alive.
        unsafe { crate::live::read::reclaim_stale(p) };
        // SAFETY: p is NULL or ours; the borrow ends before the handle is
        // freed.
        let Some(h) = (unsafe { handle::enter(p) }) else {
            return;
        };
        match h {
            H::Real(r, rh, _) => {
                // SAFETY: rh is live; then forwarded, the real handle is
                // closed once, and the program's stream after it.
                unsafe {
                    let stream = savefile::release(r, rh);
                    (r.pcap_close)(rh.ptr);
                    if let Some(f) = stream {
                        libc::fclose(f);
                    }
                }
            }
            H::Live(l, _) => l.shadow.close(),
        }
        // SAFETY: p is ours and not used after close.
        unsafe { handle::free(p) };
    })
}

macro_rules! setter {
    ($name:ident, |$l:ident, $v:ident| $body:expr) => {
        #[doc = concat!("`", stringify!($name), "`.")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $name(p: *mut Pcap, $v: c_int) -> c_int {
            guard!(code::ERROR, {
                match enter!(p, code::ERROR) {
                    // SAFETY: forwarded to the real handle.
                    H::Real(r, rh, _) => unsafe { (r.$name)(rh.ptr, $v) },
                    H::Live(l, io) if l.active.is_some() => {
                        io.set_err("can't perform  operation on activated capture");
                        code::ACTIVATED
                    }
                    H::Live($l, _) => $body,
                }
            })
        }
    };
}

setter!(pcap_set_snaplen, |l, v| {
    l.opts.snaplen = v;
    0
});
setter!(pcap_set_promisc, |l, v| {
    l.opts.promisc = v != 0;
    0
});
setter!(pcap_set_timeout, |l, v| {
    l.opts.timeout = v;
    0
});
setter!(pcap_set_buffer_size, |l, v| {
    if v > 0 {
        l.opts.buffer_size = v;
    }
    0
});
setter!(pcap_set_immediate_mode, |l, v| {
    l.opts.immediate = v != 0;
    0
});
setter!(pcap_set_rfmon, |l, v| {
    l.opts.rfmon = v != 0;
    0
});
setter!(pcap_set_protocol_linux, |l, v| {
    l.opts.protocol = v as u16;
    0
});
setter!(pcap_set_tstamp_type, |l, v| {
    let st = match l.shadow.get() {
        // SAFETY: the shadow is a not yet activated real handle.
        Some((r, sp)) => unsafe { (r.pcap_set_tstamp_type)(sp, v) },
        None if v == 0 => 0,
        None => code::WARNING_TSTAMP_TYPE_NOTSUP,
    };
    if st == 0 {
        l.opts.tstamp_type = v;
    }
    st
});
setter!(pcap_set_tstamp_precision, |l, v| {
    match v {
        0 | 1 => {
            l.opts.nano = v == 1;
            0
        }
        _ => code::TSTAMP_PRECISION_NOTSUP,
    }
});

/// `pcap_can_set_rfmon`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_can_set_rfmon(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_can_set_rfmon)(rh.ptr) },
            // libpcap asks the device (mac80211 or not), activated or not.
            H::Live(l, _) => match l.shadow.get() {
                // SAFETY: forwarded to the real handle of the same device.
                Some((r, sp)) => unsafe { (r.pcap_can_set_rfmon)(sp) },
                None => 0,
            },
        }
    })
}

/// A real handle made by `open`, or NULL (with `what`'s message) when the
/// real library is missing.
fn open_real(
    errbuf: *mut c_char,
    what: &str,
    open: impl FnOnce(&real::Real) -> *mut c_void,
) -> *mut Pcap {
    match real::try_get() {
        Some(r) => Pcap::wrap_real(r.with_errno(|| open(r))),
        None => {
            no_real(errbuf, what);
            ptr::null_mut()
        }
    }
}

/// `pcap_open_dead`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_open_dead(linktype: c_int, snaplen: c_int) -> *mut Pcap {
    // SAFETY: forwarded.
    guard!(ptr::null_mut(), {
        open_real(ptr::null_mut(), "", |r| unsafe {
            (r.pcap_open_dead)(linktype, snaplen)
        })
    })
}

/// `pcap_open_dead_with_tstamp_precision`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_open_dead_with_tstamp_precision(
    linktype: c_int,
    snaplen: c_int,
    precision: c_uint,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        open_real(ptr::null_mut(), "", |r| {
            // SAFETY: forwarded.
            unsafe { (r.pcap_open_dead_with_tstamp_precision)(linktype, snaplen, precision) }
        })
    })
}

/// `pcap_open_offline`: netring's reader in front of the real handle.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_open_offline(
    fname: *const c_char,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        // SAFETY: fname as libpcap's (caller).
        if let Some(p) = unsafe { open_stdin(fname, 0, errbuf) } {
            return p;
        }
        // SAFETY: forwarded.
        let p = open_real(errbuf, "pcap_open_offline", |r| unsafe {
            (r.pcap_open_offline)(fname, errbuf)
        });
        // SAFETY: p is NULL or the handle just made; fname is NUL-terminated
        // (the real library opened it).
        unsafe { savefile::attach(p, fname) };
        p
    })
}

/// `pcap_open_offline_with_tstamp_precision`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_open_offline_with_tstamp_precision(
    fname: *const c_char,
    precision: c_uint,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        // SAFETY: fname as libpcap's (caller).
        if let Some(p) = unsafe { open_stdin(fname, precision, errbuf) } {
            return p;
        }
        let p = open_real(errbuf, "pcap_open_offline", |r| {
            // SAFETY: forwarded.
            unsafe { (r.pcap_open_offline_with_tstamp_precision)(fname, precision, errbuf) }
        });
        // SAFETY: as in pcap_open_offline.
        unsafe { savefile::attach(p, fname) };
        p
    })
}

/// `pcap_open_offline*` of `-`: libpcap reads the program's `stdin`
/// stream, so a program that read some of it and rewound it (tcptrace
/// tries other formats on stdin first), or that `pcap_file` returns to,
/// sees one stream. The real library's own `stdin` is another `FILE` of
/// another libc, with its own buffer and position. None: `fname` is not
/// `-`.
///
/// # Safety
/// `fname` is NULL or NUL-terminated; `errbuf` as libpcap's.
unsafe fn open_stdin(
    fname: *const c_char,
    precision: c_uint,
    errbuf: *mut c_char,
) -> Option<*mut Pcap> {
    // SAFETY: NUL-terminated (caller).
    if fname.is_null() || unsafe { std::ffi::CStr::from_ptr(fname) }.to_bytes() != b"-" {
        return None;
    }
    // SAFETY: reading the program's stdin pointer.
    let fp = unsafe { crate::cmem::stdin };
    if fp.is_null() {
        // SAFETY: errbuf as libpcap's (caller).
        unsafe { write_errbuf(errbuf, "The standard input is not open") };
        return Some(ptr::null_mut());
    }
    // SAFETY: fp is the program's open stdin.
    Some(unsafe { pcap_fopen_offline_with_tstamp_precision(fp, precision, errbuf) })
}

/// `pcap_fopen_offline` (glibc accepts a stream of the base namespace in
/// the real library's copy of stdio; `pcap_close` closes it with the
/// program's).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_fopen_offline(
    fp: *mut libc::FILE,
    errbuf: *mut c_char,
) -> *mut Pcap {
    // SAFETY: arguments as libpcap's (caller).
    guard!(ptr::null_mut(), {
        unsafe { pcap_fopen_offline_with_tstamp_precision(fp, 0, errbuf) }
    })
}

/// `pcap_fopen_offline_with_tstamp_precision`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_fopen_offline_with_tstamp_precision(
    fp: *mut libc::FILE,
    precision: c_uint,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        let p = open_real(errbuf, "pcap_fopen_offline", |r| {
            // SAFETY: forwarded.
            unsafe { (r.pcap_fopen_offline_with_tstamp_precision)(fp, precision, errbuf) }
        });
        // libpcap closes the stream at pcap_close unless it is stdin.
        if let Some(r) = real::try_get() {
            // SAFETY: p is NULL or the handle just made; reading the
            // program's stdin pointer.
            unsafe { savefile::adopt(r, p, fp, fp != crate::cmem::stdin) };
        }
        p
    })
}

/// `pcap_breakloop`: async-signal-safe (an atomic store and an eventfd
/// write); touches only the handle's break state.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_breakloop(p: *mut Pcap) {
    guard!((), {
        // SAFETY: p is NULL or ours; only the break state is touched.
        let Some(pc) = (unsafe { handle::shared(p) }) else {
            return;
        };
        // A savefile read by netring's reader checks the flag too; before
        // activation the flag alone is kept and activation passes it on.
        pc.brk.request();
        if let (false, Some(r)) = (pc.real.is_null(), real::try_get()) {
            // SAFETY: forwarded to the real handle (libpcap's breakloop is
            // as safe from another thread as ours).
            unsafe { (r.pcap_breakloop)(pc.real) };
        }
    })
}

/// `pcap_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_stats(p: *mut Pcap, ps: *mut PcapStat) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_stats)(rh.ptr, ps) },
            H::Live(l, io) if l.active.is_none() => super::not_activated(io),
            H::Live(_, _) if ps.is_null() => code::ERROR,
            H::Live(l, io) => status(
                io,
                live::stats(l).map(|s| {
                    // SAFETY: checked non-NULL.
                    unsafe { *ps = s };
                    0
                }),
            ),
        }
    })
}

/// `pcap_setdirection`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_setdirection(p: *mut Pcap, d: c_int) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_setdirection)(rh.ptr, d) },
            H::Live(_, io) if !(live::D_INOUT..=live::D_OUT).contains(&d) => {
                status(io, Err("Invalid direction".into()))
            }
            H::Live(l, io) if l.active.is_none() => super::not_activated(io),
            H::Live(l, _) => {
                l.direction = d;
                0
            }
        }
    })
}

/// `pcap_getnonblock`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_getnonblock(p: *mut Pcap, errbuf: *mut c_char) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_getnonblock)(rh.ptr, errbuf) },
            H::Live(l, io) if l.active.is_none() => super::not_activated(io),
            H::Live(l, _) => c_int::from(l.nonblock),
        }
    })
}

/// `pcap_setnonblock`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_setnonblock(
    p: *mut Pcap,
    nb: c_int,
    errbuf: *mut c_char,
) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_setnonblock)(rh.ptr, nb, errbuf) },
            H::Live(l, _) => {
                l.nonblock = nb != 0;
                0
            }
        }
    })
}

/// `pcap_inject`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_inject(
    p: *mut Pcap,
    buf: *const c_void,
    size: usize,
) -> c_int {
    guard!(code::ERROR, {
        match enter!(p, code::ERROR) {
            // SAFETY: forwarded.
            H::Real(r, rh, _) => unsafe { (r.pcap_inject)(rh.ptr, buf, size) },
            // libpcap's texts, with the errno the program left.
            H::Live(_, io) if size > i32::MAX as usize => status(
                io,
                Err(format!(
                    "More than {} bytes cannot be injected: {}",
                    i32::MAX,
                    dump::errno_text()
                )),
            ),
            H::Live(_, io) if size == 0 => status(
                io,
                Err(format!(
                    "The number of bytes to be injected must not be zero: {}",
                    dump::errno_text()
                )),
            ),
            H::Live(l, io) if l.active.is_none() => super::not_activated(io),
            H::Live(_, io) if buf.is_null() => status(io, Err("send: Bad address".into())),
            H::Live(l, io) => {
                // SAFETY: buf holds size bytes (libpcap's contract).
                let frame = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), size) };
                status(io, live::inject(l, frame).map(|n| n as c_int))
            }
        }
    })
}

/// `pcap_sendpacket`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_sendpacket(
    p: *mut Pcap,
    buf: *const u8,
    size: c_int,
) -> c_int {
    guard!(code::ERROR, {
        if size <= 0 {
            let m = format!(
                "The number of bytes to be sent must be positive: {}",
                dump::errno_text()
            );
            // SAFETY: p is NULL or ours; no other borrow is alive.
            if let Some(mut h) = unsafe { handle::enter(p) } {
                h.io().set_err(&m);
            }
            return code::ERROR;
        }
        // SAFETY: same contract as pcap_inject.
        let n = unsafe { pcap_inject(p, buf.cast(), size as usize) };
        if n == size { 0 } else { code::ERROR }
    })
}

/// `pcap_file`: a savefile's stream is the program's (from here on the
/// real library reads the file, where the program may have moved it).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_file(p: *mut Pcap) -> *mut libc::FILE {
    // SAFETY: p is NULL or ours.
    guard!(ptr::null_mut(), { unsafe { savefile::file(p) } })
}

/// `pcap_geterr`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_geterr(p: *mut Pcap) -> *mut c_char {
    // SAFETY: p is NULL or ours.
    guard!(ptr::null_mut(), { unsafe { handle::errbuf(p) } })
}

/// `pcap_perror`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_perror(p: *mut Pcap, prefix: *const c_char) {
    guard!((), {
        // SAFETY: p is NULL or ours; prefix NULL or NUL-terminated.
        let (err, pre) = unsafe { (owned(handle::errbuf(p)), owned(prefix)) };
        puts_stderr(&format!("{pre}: {err}\n"));
    })
}

macro_rules! property {
    ($name:ident -> $ret:ty, $default:expr, |$l:ident| $own:expr) => {
        #[doc = concat!("`", stringify!($name), "`.")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $name(p: *mut Pcap) -> $ret {
            guard!($default, {
                match enter!(p, $default) {
                    // SAFETY: forwarded.
                    H::Real(r, rh, _) => unsafe { (r.$name)(rh.ptr) },
                    H::Live($l, _) => $own,
                }
            })
        }
    };
}

/// `v` once activated, else `PCAP_ERROR_NOT_ACTIVATED`.
fn when_active(l: &Live, v: impl FnOnce(&live::Active) -> c_int) -> c_int {
    l.active.as_ref().map_or(code::NOT_ACTIVATED, v)
}

property!(pcap_snapshot -> c_int, code::ERROR, |l| when_active(l, |a| a.snapshot as c_int));
property!(pcap_is_swapped -> c_int, code::ERROR, |l| when_active(l, |_| 0));
// A live handle has no file version: libpcap's are 0.
property!(pcap_major_version -> c_int, code::ERROR, |l| when_active(l, |_| 0));
property!(pcap_minor_version -> c_int, code::ERROR, |l| when_active(l, |_| 0));
property!(pcap_bufsize -> c_int, code::ERROR, |l| when_active(l, |a| a.ring_bytes.min(i32::MAX as u64) as c_int));
// A handle that asks for its descriptor is one that reads: it joins the
// split of its device first (see live::split_on_first_read).
property!(pcap_fileno -> c_int, code::ERROR, |l| {
    live::split_on_first_read(l);
    l.fd()
});
property!(pcap_get_selectable_fd -> c_int, code::ERROR, |l| {
    live::split_on_first_read(l);
    l.fd()
});
property!(pcap_get_required_select_timeout -> *const libc::timeval, ptr::null(), |_l| ptr::null());
property!(pcap_get_tstamp_precision -> c_int, code::ERROR, |l| c_int::from(l.opts.nano));
