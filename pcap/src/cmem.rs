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
    free: unsafe extern "C-unwind" fn(*mut c_int),
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

/// libpcap's `pcap_if_t`.
#[repr(C)]
pub struct PcapIf {
    next: *mut PcapIf,
    name: *mut c_char,
    description: *mut c_char,
    addresses: *mut PcapAddr,
    flags: c_uint,
}

/// libpcap's `pcap_addr_t`.
#[repr(C)]
pub struct PcapAddr {
    next: *mut PcapAddr,
    addr: *mut libc::sockaddr,
    netmask: *mut libc::sockaddr,
    broadaddr: *mut libc::sockaddr,
    dstaddr: *mut libc::sockaddr,
}

/// `malloc` + copy of `n` bytes (NULL stays NULL).
///
/// # Safety
/// `src` is NULL or valid for `n` bytes.
unsafe fn dup_bytes<T>(src: *const T, n: usize) -> *mut T {
    if src.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: malloc of n bytes, then n bytes copied from src (caller).
    unsafe {
        let p = libc::malloc(n.max(1)).cast::<T>();
        if !p.is_null() {
            ptr::copy_nonoverlapping(src.cast::<u8>(), p.cast::<u8>(), n);
        }
        p
    }
}

/// A socket address copied with libpcap's size for its family (its
/// `dup_sockaddr` on Linux: `SA_LEN`).
///
/// # Safety
/// `sa` is NULL or a socket address of its family's size.
unsafe fn dup_sockaddr(sa: *const libc::sockaddr) -> *mut libc::sockaddr {
    if sa.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: sa is valid (caller): its family field is readable.
    let n = match c_int::from(unsafe { (*sa).sa_family }) {
        libc::AF_INET => size_of::<libc::sockaddr_in>(),
        libc::AF_INET6 => size_of::<libc::sockaddr_in6>(),
        libc::AF_PACKET => size_of::<libc::sockaddr_ll>(),
        _ => size_of::<libc::sockaddr>(),
    };
    // SAFETY: sa holds n bytes (caller).
    unsafe { dup_bytes(sa, n) }
}

/// A C string copied into our heap (NULL stays NULL).
///
/// # Safety
/// `s` is NULL or NUL-terminated.
unsafe fn dup_cstr(s: *const c_char) -> *mut c_char {
    // SAFETY: NULL or NUL-terminated (caller).
    unsafe {
        if s.is_null() {
            ptr::null_mut()
        } else {
            libc::strdup(s)
        }
    }
}

/// Move a device list the real `pcap_findalldevs` made into our heap, one
/// allocation per node, string and address as libpcap makes them: programs
/// free parts of it with their own `free` (ettercap removes `any` from
/// the list so), which must be the program's allocator. The real list is
/// freed by the real library.
///
/// # Safety
/// `list` is NULL or the real `pcap_findalldevs`' list.
pub unsafe fn adopt_devs(r: &Real, list: *mut PcapIf) -> *mut PcapIf {
    let mut head: *mut PcapIf = ptr::null_mut();
    let mut tail: *mut *mut PcapIf = &mut head;
    let mut d = list;
    // SAFETY: every node and address of the real list is valid until the
    // real pcap_freealldevs below; each copy is malloc'd and linked once.
    unsafe {
        while !d.is_null() {
            let src = &*d;
            let mut addrs: *mut PcapAddr = ptr::null_mut();
            let mut atail: *mut *mut PcapAddr = &mut addrs;
            let mut a = src.addresses;
            while !a.is_null() {
                let s = &*a;
                let n = libc::malloc(size_of::<PcapAddr>()).cast::<PcapAddr>();
                if n.is_null() {
                    break;
                }
                n.write(PcapAddr {
                    next: ptr::null_mut(),
                    addr: dup_sockaddr(s.addr),
                    netmask: dup_sockaddr(s.netmask),
                    broadaddr: dup_sockaddr(s.broadaddr),
                    dstaddr: dup_sockaddr(s.dstaddr),
                });
                *atail = n;
                atail = &mut (*n).next;
                a = s.next;
            }
            let n = libc::malloc(size_of::<PcapIf>()).cast::<PcapIf>();
            if n.is_null() {
                free_addrs(addrs);
                break;
            }
            n.write(PcapIf {
                next: ptr::null_mut(),
                name: dup_cstr(src.name),
                description: dup_cstr(src.description),
                addresses: addrs,
                flags: src.flags,
            });
            *tail = n;
            tail = &mut (*n).next;
            d = src.next;
        }
        if !list.is_null() {
            (r.pcap_freealldevs)(list.cast());
        }
    }
    head
}

/// Free an address list of ours.
///
/// # Safety
/// `a` is NULL or a list made by [`adopt_devs`], not used afterwards.
unsafe fn free_addrs(mut a: *mut PcapAddr) {
    // SAFETY: every pointer was malloc'd by us (caller), freed once.
    unsafe {
        while !a.is_null() {
            let next = (*a).next;
            for p in [(*a).addr, (*a).netmask, (*a).broadaddr, (*a).dstaddr] {
                libc::free(p.cast());
            }
            libc::free(a.cast());
            a = next;
        }
    }
}

/// libpcap's `pcap_freealldevs` on a list of ours.
///
/// # Safety
/// `d` is NULL or a list from our `pcap_findalldevs`, not used afterwards.
pub unsafe fn free_devs(mut d: *mut PcapIf) {
    // SAFETY: every pointer was malloc'd by us (caller), freed once.
    unsafe {
        while !d.is_null() {
            let next = (*d).next;
            free_addrs((*d).addresses);
            libc::free((*d).name.cast());
            libc::free((*d).description.cast());
            libc::free(d.cast());
            d = next;
        }
    }
}

/// Move a `getaddrinfo` list of the real library's libc into our heap as
/// glibc lays one out (each node and its address in one allocation, the
/// canonical name in another), so the program's `freeaddrinfo` frees it.
///
/// # Safety
/// `list` is NULL or a list from the namespace's `getaddrinfo`.
pub unsafe fn adopt_addrinfo(r: &Real, list: *mut libc::addrinfo) -> *mut libc::addrinfo {
    let mut head: *mut libc::addrinfo = ptr::null_mut();
    let mut tail: *mut *mut libc::addrinfo = &mut head;
    let mut a = list;
    // SAFETY: every node of the real list is valid until its
    // freeaddrinfo below; each copy is malloc'd and linked once.
    unsafe {
        while !a.is_null() {
            let src = &*a;
            let alen = if src.ai_addr.is_null() {
                0
            } else {
                src.ai_addrlen as usize
            };
            let n = libc::malloc(size_of::<libc::addrinfo>() + alen).cast::<libc::addrinfo>();
            if n.is_null() {
                break;
            }
            let addr = if alen == 0 {
                ptr::null_mut()
            } else {
                let at = n.add(1).cast::<libc::sockaddr>();
                ptr::copy_nonoverlapping(src.ai_addr.cast::<u8>(), at.cast::<u8>(), alen);
                at
            };
            n.write(libc::addrinfo {
                ai_addr: addr,
                ai_canonname: dup_cstr(src.ai_canonname),
                ai_next: ptr::null_mut(),
                ..*src
            });
            *tail = n;
            tail = &mut (*n).ai_next;
            a = src.ai_next;
        }
        if !list.is_null() {
            (r.freeaddrinfo)(list);
        }
    }
    head
}
