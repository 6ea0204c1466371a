//! C strings and C memory at the boundary: error buffers, string
//! arguments, and what the real libpcap allocated moved into our heap (the
//! host program frees it with its own `free`).

use std::ffi::{CStr, CString, c_char, c_int, c_uint};
use std::ptr;

use crate::real::{self, Real};
use crate::types::{BpfInsnC, BpfProgram, ERRBUF_SIZE};

/// Copy `msg` into a libpcap error buffer (truncated at a character
/// boundary, NUL-terminated).
///
/// # Safety
/// `buf` is NULL or valid for `PCAP_ERRBUF_SIZE` bytes.
pub unsafe fn write_errbuf(buf: *mut c_char, msg: &str) {
    if buf.is_null() {
        return;
    }
    let b = msg.as_bytes();
    let mut n = b.len().min(ERRBUF_SIZE - 1);
    while n > 0 && !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: buf has room for ERRBUF_SIZE bytes (caller); n < ERRBUF_SIZE.
    unsafe {
        ptr::copy_nonoverlapping(b.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

/// "what: why the real libpcap is missing" into `errbuf`.
pub(crate) fn no_real(errbuf: *mut c_char, what: &str) {
    let e = real::get().err().unwrap_or("");
    // SAFETY: errbuf is NULL or PCAP_ERRBUF_SIZE bytes (libpcap's contract).
    unsafe { write_errbuf(errbuf, &format!("{what}: {e}")) };
}

/// A C string argument as &str ("" for NULL or non-UTF-8).
///
/// # Safety
/// `s` is NULL or NUL-terminated.
pub unsafe fn cstr<'a>(s: *const c_char) -> &'a str {
    if s.is_null() {
        return "";
    }
    // SAFETY: NUL-terminated (caller).
    unsafe { CStr::from_ptr(s) }.to_str().unwrap_or("")
}

/// Copy a C string (ours or the real library's) into a String.
///
/// # Safety
/// `s` is NULL or NUL-terminated.
pub unsafe fn owned(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: NUL-terminated (caller).
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// An int array in our heap (the caller frees it with our `free`).
pub fn malloc_ints(v: &[c_int]) -> *mut c_int {
    // SAFETY: malloc of at least one int.
    let p = unsafe { libc::malloc(std::mem::size_of_val(v).max(4)) }.cast::<c_int>();
    if !p.is_null() {
        // SAFETY: p has room for v.len() ints.
        unsafe { ptr::copy_nonoverlapping(v.as_ptr(), p, v.len()) };
    }
    p
}

/// Move an int list the real library allocated into our heap.
///
/// # Safety
/// `list` is NULL or holds `n` ints allocated by the real library and
/// freed by `free`.
pub unsafe fn adopt_ints(
    list: *mut c_int,
    n: c_int,
    free: unsafe extern "C" fn(*mut c_int),
) -> *mut c_int {
    let v: Vec<c_int> = if list.is_null() || n <= 0 {
        Vec::new()
    } else {
        // SAFETY: n ints at list (caller).
        unsafe { std::slice::from_raw_parts(list, n as usize) }.to_vec()
    };
    if !list.is_null() {
        // SAFETY: allocated by the real library, freed by it.
        unsafe { free(list) };
    }
    malloc_ints(&v)
}

/// Move a program the real library compiled into our heap (`out`); false
/// when out of memory.
///
/// # Safety
/// `tmp` was filled by the real `pcap_compile`; `out` is valid.
pub unsafe fn adopt_program(r: &Real, tmp: &mut BpfProgram, out: *mut BpfProgram) -> bool {
    let n = tmp.bf_len as usize;
    // SAFETY: malloc of n instructions (at least one byte).
    let p = unsafe { libc::malloc((n * 8).max(8)) }.cast::<BpfInsnC>();
    if p.is_null() {
        // SAFETY: tmp came from the real pcap_compile.
        unsafe { (r.pcap_freecode)(tmp) };
        return false;
    }
    // SAFETY: tmp.bf_insns holds n instructions; p has room for n.
    unsafe { ptr::copy_nonoverlapping(tmp.bf_insns, p, n) };
    // SAFETY: tmp came from the real pcap_compile; out is valid (caller).
    unsafe {
        (r.pcap_freecode)(tmp);
        (*out).bf_len = n as c_uint;
        (*out).bf_insns = p;
    }
    true
}

/// A 6-byte address from the real library's heap, moved into ours.
pub(crate) fn adopt_mac(r: &Real, e: *mut u8) -> *mut u8 {
    if e.is_null() {
        return e;
    }
    // SAFETY: malloc of 6 bytes.
    let p = unsafe { libc::malloc(6) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: e holds 6 bytes; p has room for 6.
        unsafe { ptr::copy_nonoverlapping(e, p, 6) };
    }
    // SAFETY: e was allocated by the real library.
    unsafe { (r.free)(e.cast()) };
    p
}

/// The instructions of a program.
///
/// # Safety
/// `p` is NULL or a valid `bpf_program`.
pub unsafe fn insns<'a>(p: *const BpfProgram) -> Option<&'a [BpfInsnC]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: valid program (caller).
    let p = unsafe { &*p };
    if p.bf_insns.is_null() {
        return Some(&[]);
    }
    // SAFETY: bf_len instructions at bf_insns.
    Some(unsafe { std::slice::from_raw_parts(p.bf_insns, p.bf_len as usize) })
}

unsafe extern "C" {
    /// The host program's stdout.
    pub static stdout: *mut libc::FILE;
    /// The host program's stdin.
    pub static stdin: *mut libc::FILE;
    static stderr: *mut libc::FILE;
}

fn puts(f: *mut libc::FILE, s: &str) {
    let Ok(c) = CString::new(s) else {
        return;
    };
    // SAFETY: f is one of the host program's streams; c is NUL-terminated.
    unsafe { libc::fputs(c.as_ptr(), f) };
}

/// Print on the host program's stdout.
pub fn puts_stdout(s: &str) {
    // SAFETY: reading the host program's stream pointer.
    puts(unsafe { stdout }, s);
}

/// Print on the host program's stderr.
pub fn puts_stderr(s: &str) {
    // SAFETY: reading the host program's stream pointer.
    puts(unsafe { stderr }, s);
}
