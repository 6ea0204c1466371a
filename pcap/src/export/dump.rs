//! Writing savefiles (`pcap_dump_*`) on the host program's stdio.

use std::ffi::{CStr, c_char, c_int, c_long};
use std::ops::ControlFlow;
use std::ptr;

use super::enter;
use crate::cmem::{owned, stdout};
use crate::dump::{self, Dumper, NoDump, Params, dumper};
use crate::handle::{H, Io, Pcap};
use crate::types::PktHdr;
use crate::{code, guard};

/// Write the file header on `f` and make the dumper (libpcap's
/// `pcap_setup_dump`): on failure "Can't write to NAME: strerror" and the
/// stream is closed unless it is stdout, as libpcap does.
fn setup(io: &mut Io, pr: &Params, linktype: u32, f: *mut libc::FILE, name: &str) -> *mut Dumper {
    // SAFETY: f is an open stream (caller).
    if unsafe { dump::write(f, &dump::file_header(pr.nano, pr.snap, linktype)) } {
        return f;
    }
    io.set_err(&format!("Can't write to {name}: {}", dump::errno_text()));
    // SAFETY: the host program's stdout is left open; any other stream is
    // closed as libpcap closes it.
    unsafe {
        if f != stdout {
            libc::fclose(f);
        }
    }
    ptr::null_mut()
}

/// `fname` as libpcap's `%s` prints it.
fn shown(fname: *const c_char) -> String {
    if fname.is_null() {
        return "(null)".into();
    }
    // SAFETY: NUL-terminated (libpcap's contract).
    unsafe { owned(fname) }
}

/// `pcap_dump_fopen`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_fopen(p: *mut Pcap, f: *mut libc::FILE) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let mut h = enter!(p, ptr::null_mut());
        let pr = match dump::params(&mut h) {
            Ok(pr) => pr,
            Err(NoDump::Unsupported(dlt)) => {
                let m = format!("stream: link-layer type {dlt} isn't supported in savefiles");
                h.io().set_err(&m);
                return ptr::null_mut();
            }
            Err(NoDump::NotActivated) => {
                let m = "stream: not-yet-activated pcap_t passed to pcap_dump_fopen";
                h.io().set_err(m);
                return ptr::null_mut();
            }
        };
        if f.is_null() {
            h.io().set_err("pcap_dump_fopen: NULL stream");
            return ptr::null_mut();
        }
        setup(h.io(), &pr, pr.linktype | pr.ext, f, "stream")
    })
}

/// The handle's savefile parameters (None: the handle's error set, with
/// libpcap's text for `pcap_dump_open` and `pcap_dump_open_append`).
fn params_for(h: &mut H<'_>, fname: *const c_char, append: bool) -> Option<Params> {
    let m = match dump::params(h) {
        Ok(pr) if !fname.is_null() => return Some(pr),
        Ok(_) => "A null pointer was supplied as the file name".to_string(),
        Err(NoDump::NotActivated) => format!(
            "{}: not-yet-activated pcap_t passed to pcap_dump_open",
            shown(fname)
        ),
        // libpcap's pcap_dump_open_append prints the failed result (-1).
        Err(NoDump::Unsupported(dlt)) => format!(
            "{}: link-layer type {} isn't supported in savefiles",
            shown(fname),
            if append { -1 } else { dlt }
        ),
    };
    h.io().set_err(&m);
    None
}

/// What `pcap_dump_open` and `pcap_dump_open_append` share: libpcap's
/// checks and texts, then `fname` opened. Break: the call's result, a
/// dumper on the host program's stdout for "-" (its header without the
/// link-type upper bits when appending, as libpcap writes it) or NULL with
/// the handle's error set.
fn open_named(
    h: &mut H<'_>,
    fname: *const c_char,
    append: bool,
) -> ControlFlow<*mut Dumper, (Params, String, *mut libc::FILE)> {
    let Some(pr) = params_for(h, fname, append) else {
        return ControlFlow::Break(ptr::null_mut());
    };
    let name = shown(fname);
    if name == "-" {
        let linktype = if append {
            pr.linktype
        } else {
            pr.linktype | pr.ext
        };
        // SAFETY: the host program's stdout.
        let out = unsafe { stdout };
        return ControlFlow::Break(setup(h.io(), &pr, linktype, out, "standard output"));
    }
    let mode = if append { c"ab+" } else { c"wb" };
    // SAFETY: fname is NUL-terminated (checked non-NULL by params_for).
    let f = dump::fopen(unsafe { CStr::from_ptr(fname) }, mode);
    if f.is_null() {
        h.io().set_err(&format!("{name}: {}", dump::errno_text()));
        return ControlFlow::Break(ptr::null_mut());
    }
    ControlFlow::Continue((pr, name, f))
}

/// `pcap_dump_open` ("-" is stdout).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_open(p: *mut Pcap, fname: *const c_char) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let mut h = enter!(p, ptr::null_mut());
        let (pr, name, f) = match open_named(&mut h, fname, false) {
            ControlFlow::Continue(opened) => opened,
            ControlFlow::Break(done) => return done,
        };
        // SAFETY: f was just opened and not yet used.
        unsafe { libc::setvbuf(f, ptr::null_mut(), libc::_IOFBF, dump::FILE_BUFFER) };
        setup(h.io(), &pr, pr.linktype | pr.ext, f, &name)
    })
}

/// `pcap_dump_open_append`: libpcap's checks and texts; the header it
/// writes to an empty file has no link-type upper bits (libpcap's).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_open_append(
    p: *mut Pcap,
    fname: *const c_char,
) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let mut h = enter!(p, ptr::null_mut());
        let (pr, name, f) = match open_named(&mut h, fname, true) {
            ControlFlow::Continue(opened) => opened,
            ControlFlow::Break(done) => return done,
        };
        // SAFETY: f was just opened.
        let r = unsafe { dump::check_append(f, &name, &pr) }.and_then(|empty| {
            // SAFETY: f is open.
            let hdr_ok = !empty
                || unsafe { dump::write(f, &dump::file_header(pr.nano, pr.snap, pr.linktype)) };
            if !hdr_ok {
                return Err(format!("Can't write to {name}: {}", dump::errno_text()));
            }
            // SAFETY: f is open.
            if unsafe { libc::fseek(f, 0, libc::SEEK_END) } == -1 {
                return Err(format!(
                    "Can't seek to the end of {name}: {}",
                    dump::errno_text()
                ));
            }
            Ok(f)
        });
        r.unwrap_or_else(|m| {
            h.io().set_err(&m);
            // SAFETY: opened above, closed once.
            unsafe { libc::fclose(f) };
            ptr::null_mut()
        })
    })
}

/// `pcap_dump`: `user` is the dumper (libpcap's callback shape).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump(user: *mut u8, h: *const PktHdr, sp: *const u8) {
    guard!((), {
        let Some(f) = dumper(user.cast()) else {
            return;
        };
        if h.is_null() || sp.is_null() {
            return;
        }
        // SAFETY: h valid; sp holds caplen bytes; f is the dumper's open
        // stream (libpcap's contract).
        unsafe {
            let h = &*h;
            let data = std::slice::from_raw_parts(sp, h.caplen as usize);
            dump::write_record(f, h, data);
        }
    })
}

/// `pcap_dump_file`: the dumper is its stream.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_file(d: *mut Dumper) -> *mut libc::FILE {
    guard!(std::ptr::null_mut(), { d })
}

/// `pcap_dump_ftell`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_ftell(d: *mut Dumper) -> c_long {
    guard!(-1, {
        // SAFETY: d is NULL or an open dumper stream (caller).
        dumper(d).map_or(-1, |f| unsafe { libc::ftell(f) })
    })
}

/// `pcap_dump_ftell64`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_ftell64(d: *mut Dumper) -> i64 {
    guard!(-1, {
        // SAFETY: d is NULL or an open dumper stream (caller).
        dumper(d).map_or(-1, |f| unsafe { libc::ftello(f) })
    })
}

/// `pcap_dump_flush`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_flush(d: *mut Dumper) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: d is NULL or an open dumper stream (caller).
        dumper(d).map_or(code::ERROR, |f| dump::ok(unsafe { libc::fflush(f) } == 0))
    })
}

/// `pcap_dump_close`: closes the stream (libpcap's `fclose`).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_dump_close(d: *mut Dumper) {
    guard!((), {
        if let Some(f) = dumper(d) {
            // SAFETY: an open dumper stream, closed once (caller).
            unsafe { libc::fclose(f) };
        }
    })
}
