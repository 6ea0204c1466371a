//! Writing savefiles (`pcap_dump_*`) on the host program's stdio.

use std::ffi::{CStr, c_char, c_int, c_long};
use std::ptr;

use super::enter;
use crate::cmem::{owned, stdout};
use crate::dump::{self, Dumper, dumper, new_dumper};
use crate::handle::{H, Pcap};
use crate::types::PktHdr;
use crate::{code, guard};

/// `pcap_dump_fopen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_fopen(p: *mut Pcap, f: *mut libc::FILE) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let mut h = enter!(p, ptr::null_mut());
        let r = dump::params(&mut h).and_then(|(nano, snap, lt)| {
            if f.is_null() {
                return Err("pcap_dump_fopen: NULL stream".to_string());
            }
            // SAFETY: f is an open stream (caller).
            if !unsafe { dump::write(f, &dump::file_header(nano, snap, lt)) } {
                return Err(format!("Can't write to file: {}", dump::errno_text()));
            }
            Ok(new_dumper(f))
        });
        r.unwrap_or_else(|m| {
            h.io().set_err(&m);
            ptr::null_mut()
        })
    })
}

/// The handle's savefile parameters when `fname` is not NULL; else None,
/// the handle's error set.
fn params_and_name(h: &mut H<'_>, fname: *const c_char) -> Option<(bool, u32, u32)> {
    let r = dump::params(h).and_then(|v| match fname.is_null() {
        true => Err("A null pointer was supplied as the file name".to_string()),
        false => Ok(v),
    });
    r.map_err(|m| h.io().set_err(&m)).ok()
}

/// `pcap_dump_open` ("-" is stdout).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_open(p: *mut Pcap, fname: *const c_char) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let mut h = enter!(p, ptr::null_mut());
        if params_and_name(&mut h, fname).is_none() {
            return ptr::null_mut();
        }
        // SAFETY: fname is NUL-terminated.
        let name = unsafe { owned(fname) };
        let f = if name == "-" {
            // SAFETY: the host program's stdout.
            unsafe { stdout }
        } else {
            // SAFETY: fname is NUL-terminated (checked non-NULL above).
            dump::fopen(unsafe { CStr::from_ptr(fname) }, c"wb")
        };
        if f.is_null() {
            h.io().set_err(&format!("{name}: {}", dump::errno_text()));
            return ptr::null_mut();
        }
        if name != "-" {
            // SAFETY: f was just opened and not yet used.
            unsafe { libc::setvbuf(f, ptr::null_mut(), libc::_IOFBF, dump::FILE_BUFFER) };
        }
        // SAFETY: p and f are valid; the borrow above is no longer used.
        let d = unsafe { pcap_dump_fopen(p, f) };
        if d.is_null() && name != "-" {
            // SAFETY: f was opened above.
            unsafe { libc::fclose(f) };
        }
        d
    })
}

/// `pcap_dump_open_append`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_open_append(p: *mut Pcap, fname: *const c_char) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let mut h = enter!(p, ptr::null_mut());
        let Some((nano, _, lt)) = params_and_name(&mut h, fname) else {
            return ptr::null_mut();
        };
        // SAFETY: fname is NUL-terminated.
        let path = unsafe { CStr::from_ptr(fname) };
        match dump::check_append(path, nano, lt) {
            // SAFETY: a new or empty file: as pcap_dump_open (the borrow
            // above is no longer used).
            Ok(true) => unsafe { pcap_dump_open(p, fname) },
            Ok(false) => {
                let f = dump::fopen(path, c"ab");
                if f.is_null() {
                    let m = format!("{}: {}", path.to_string_lossy(), dump::errno_text());
                    h.io().set_err(&m);
                    return ptr::null_mut();
                }
                new_dumper(f)
            }
            Err(m) => {
                h.io().set_err(&m);
                ptr::null_mut()
            }
        }
    })
}

/// `pcap_dump`: `user` is the dumper (libpcap's callback shape).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump(user: *mut u8, h: *const PktHdr, sp: *const u8) {
    guard!((), {
        // SAFETY: user is a dumper (libpcap's contract).
        let Some(d) = (unsafe { dumper(user.cast()) }) else {
            return;
        };
        if h.is_null() || sp.is_null() {
            return;
        }
        // SAFETY: h valid; sp holds caplen bytes; d.f is open.
        unsafe {
            let h = &*h;
            let data = std::slice::from_raw_parts(sp, h.caplen as usize);
            dump::write_record(d, h, data);
        }
    })
}

/// `pcap_dump_file`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_file(d: *mut Dumper) -> *mut libc::FILE {
    // SAFETY: d is NULL or ours.
    guard!(ptr::null_mut(), {
        unsafe { dumper(d) }.map_or(ptr::null_mut(), |d| d.f)
    })
}

/// `pcap_dump_ftell`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_ftell(d: *mut Dumper) -> c_long {
    guard!(-1, {
        // SAFETY: d is NULL or ours; d.f is open.
        unsafe { dumper(d) }.map_or(-1, |d| unsafe { libc::ftell(d.f) })
    })
}

/// `pcap_dump_ftell64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_ftell64(d: *mut Dumper) -> i64 {
    guard!(-1, {
        // SAFETY: d is NULL or ours; d.f is open.
        unsafe { dumper(d) }.map_or(-1, |d| unsafe { libc::ftello(d.f) })
    })
}

/// `pcap_dump_flush`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_flush(d: *mut Dumper) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: d is NULL or ours; d.f is open.
        unsafe { dumper(d) }.map_or(code::ERROR, |d| dump::ok(unsafe { libc::fflush(d.f) } == 0))
    })
}

/// `pcap_dump_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_close(d: *mut Dumper) {
    guard!((), {
        // SAFETY: d is NULL or ours.
        let Some(dd) = (unsafe { dumper(d) }) else {
            return;
        };
        // SAFETY: the stream is open and closed once; d came from
        // Box::into_raw.
        unsafe {
            libc::fclose(dd.f);
            dd.magic = 0;
            drop(Box::from_raw(d));
        }
    })
}
