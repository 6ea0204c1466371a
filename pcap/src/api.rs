//! The exported libpcap API. Each function checks its pointers, then
//! either serves a netring handle or forwards to the real libpcap.

use std::cell::{Cell, UnsafeCell};
use std::ffi::{CStr, c_char, c_int, c_long, c_uint, c_void};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use netring_engine::Breaker;

use crate::dump::{self, DUMPER_MAGIC, Dumper};
use crate::live::{self, Live};
use crate::real::{self, Real};
use crate::types::{
    BpfInsnC, BpfProgram, ERRBUF_SIZE, Handler, PcapStat, PktHdr, code, dlt_to_linktype,
};
use crate::{bpf, guard};

const PCAP_MAGIC: u64 = 0x6e72_7063_6170_5f74;

/// A `pcap_t`: a netring live handle or a real libpcap handle.
pub struct Pcap {
    magic: u64,
    /// Non-NULL: a handle of the real libpcap; every call is forwarded.
    real: *mut c_void,
    brk: OnceLock<Breaker>,
    /// Set by `pcap_breakloop` (checked between packets with a plain load).
    brk_flag: AtomicBool,
    errbuf: UnsafeCell<[c_char; ERRBUF_SIZE]>,
    /// For a real handle: the last error was the shim's (in `errbuf`).
    own_err: Cell<bool>,
    live: UnsafeCell<Live>,
    /// A savefile whose records netring's reader delivers (the real
    /// handle keeps the header's view: link type, snapshot, version, and
    /// takes over at the first record the reader cannot reproduce
    /// exactly). None once it took over, or when it reads the whole file.
    file: UnsafeCell<Option<FileRead>>,
}

/// netring's reader on a savefile the real libpcap opened too.
struct FileRead {
    reader: netring_engine::pcapfile::Reader,
    /// The program set with `pcap_setfilter` (also set on the real handle).
    filter: Option<Vec<BpfInsnC>>,
    /// Records consumed (delivered or filtered out).
    index: u64,
    snapshot: u32,
    nano_file: bool,
    nano_handle: bool,
}

enum H<'a> {
    Real(&'static Real, *mut c_void, &'a Pcap),
    Own(&'a Pcap),
}

/// Resolve a handle pointer.
///
/// # Safety
/// `p` is NULL or a pointer this library returned and not yet closed.
unsafe fn handle<'a>(p: *mut Pcap) -> Option<H<'a>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL pointers passed here come from pcap_create & co.
    let pc = unsafe { &*p };
    if pc.magic != PCAP_MAGIC {
        return None;
    }
    if pc.real.is_null() {
        Some(H::Own(pc))
    } else {
        let r = real::try_get()?;
        pc.own_err.set(false);
        Some(H::Real(r, pc.real, pc))
    }
}

impl Pcap {
    fn new(real: *mut c_void, live: Live) -> *mut Pcap {
        Box::into_raw(Box::new(Pcap {
            magic: PCAP_MAGIC,
            real,
            brk: OnceLock::new(),
            brk_flag: AtomicBool::new(false),
            errbuf: UnsafeCell::new([0; ERRBUF_SIZE]),
            own_err: Cell::new(false),
            live: UnsafeCell::new(live),
            file: UnsafeCell::new(None),
        }))
    }

    /// Take the savefile reader out (None when the real handle reads).
    fn take_file(&self) -> Option<FileRead> {
        // SAFETY: one thread per handle; the reader is moved out while a
        // read loop runs, so a callback calling back finds None.
        unsafe { (*self.file.get()).take() }
    }

    fn put_file(&self, f: FileRead) {
        // SAFETY: as in take_file.
        unsafe { *self.file.get() = Some(f) };
    }

    fn has_file(&self) -> bool {
        // SAFETY: as in take_file; a plain read.
        unsafe { (*self.file.get()).is_some() }
    }

    #[allow(clippy::mut_from_ref)]
    fn file_mut(&self) -> Option<&mut FileRead> {
        // SAFETY: as in take_file; the borrow ends before the call returns.
        unsafe { (*self.file.get()).as_mut() }
    }

    /// The live state.
    #[allow(clippy::mut_from_ref)]
    fn live(&self) -> &mut Live {
        // SAFETY: libpcap handles are used by one thread at a time (as
        // libpcap requires; pcap_breakloop, which may come from elsewhere,
        // touches `brk` and `brk_flag` only), and every borrow made here is
        // dropped before the call returns: the read loop
        // (`live::dispatch`) holds none while a callback runs, so a
        // callback calling back into the handle gets the only one.
        unsafe { &mut *self.live.get() }
    }

    fn set_err(&self, msg: &str) {
        self.own_err.set(true);
        // SAFETY: errbuf is ERRBUF_SIZE bytes owned by this handle.
        unsafe { write_errbuf(self.errbuf.get().cast(), msg) };
    }

    fn errbuf_ptr(&self) -> *mut c_char {
        self.errbuf.get().cast()
    }

    fn activated(&self) -> bool {
        self.live().activated
    }
}

/// Copy `msg` into a libpcap error buffer (truncated, NUL-terminated).
///
/// # Safety
/// `buf` is NULL or valid for `PCAP_ERRBUF_SIZE` bytes.
unsafe fn write_errbuf(buf: *mut c_char, msg: &str) {
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

/// A C string argument as &str ("" for NULL or non-UTF-8).
///
/// # Safety
/// `s` is NULL or NUL-terminated.
unsafe fn cstr<'a>(s: *const c_char) -> &'a str {
    if s.is_null() {
        return "";
    }
    // SAFETY: NUL-terminated (caller).
    unsafe { CStr::from_ptr(s) }.to_str().unwrap_or("")
}

/// Copy a C string from the real library's memory into ours.
///
/// # Safety
/// `s` is NULL or NUL-terminated.
unsafe fn owned(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: NUL-terminated (caller).
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// An int array in our heap (the caller frees it with our `free`).
fn malloc_ints(v: &[c_int]) -> *mut c_int {
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
/// `list` holds `n` ints allocated by the real library.
unsafe fn adopt_ints(
    r: &Real,
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
    let _ = r;
    malloc_ints(&v)
}

/// Move a program the real library compiled into our heap.
///
/// # Safety
/// `tmp` was filled by the real `pcap_compile`; `out` is valid.
unsafe fn adopt_program(r: &Real, tmp: &mut BpfProgram, out: *mut BpfProgram) -> bool {
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

/// The instructions of a program.
///
/// # Safety
/// `p` is NULL or a valid `bpf_program`.
unsafe fn insns<'a>(p: *const BpfProgram) -> Option<&'a [BpfInsnC]> {
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
    static stdout: *mut libc::FILE;
    static stderr: *mut libc::FILE;
}

fn puts_stdout(s: &str) {
    let Ok(c) = std::ffi::CString::new(s) else {
        return;
    };
    // SAFETY: stdout is the host program's stream; c is NUL-terminated.
    unsafe { libc::fputs(c.as_ptr(), stdout) };
}

fn no_real(errbuf: *mut c_char, what: &str) {
    let e = real::get().err().unwrap_or("");
    // SAFETY: errbuf is NULL or PCAP_ERRBUF_SIZE bytes (libpcap's contract).
    unsafe { write_errbuf(errbuf, &format!("{what}: {e}")) };
}

const NOT_ACTIVATED: &str = "The pcap_t has not been activated";

fn check_not_activated(pc: &Pcap) -> Option<c_int> {
    if pc.activated() {
        pc.set_err("can't perform  operation on activated capture");
        Some(code::ACTIVATED)
    } else {
        None
    }
}

// ---------------------------------------------------------------- data

/// `struct eproto` of libpcap's nametoaddr.c.
#[repr(C)]
pub struct Eproto {
    /// Name.
    pub s: *const c_char,
    /// EtherType.
    pub p: u16,
}

/// libpcap's `eproto_db` table.
#[repr(transparent)]
pub struct EprotoDb(pub [Eproto; 13]);

// SAFETY: the table is immutable and its pointers refer to static strings.
unsafe impl Sync for EprotoDb {}

/// libpcap's `eproto_db` (exported data, 13 entries as in 1.10).
#[unsafe(no_mangle)]
pub static eproto_db: EprotoDb = EprotoDb([
    Eproto {
        s: c"aarp".as_ptr(),
        p: 0x80f3,
    },
    Eproto {
        s: c"arp".as_ptr(),
        p: 0x0806,
    },
    Eproto {
        s: c"atalk".as_ptr(),
        p: 0x809b,
    },
    Eproto {
        s: c"decnet".as_ptr(),
        p: 0x6003,
    },
    Eproto {
        s: c"ip".as_ptr(),
        p: 0x0800,
    },
    Eproto {
        s: c"ip6".as_ptr(),
        p: 0x86dd,
    },
    Eproto {
        s: c"lat".as_ptr(),
        p: 0x6004,
    },
    Eproto {
        s: c"loopback".as_ptr(),
        p: 0x9000,
    },
    Eproto {
        s: c"mopdl".as_ptr(),
        p: 0x6001,
    },
    Eproto {
        s: c"moprc".as_ptr(),
        p: 0x6002,
    },
    Eproto {
        s: c"rarp".as_ptr(),
        p: 0x8035,
    },
    Eproto {
        s: c"sca".as_ptr(),
        p: 0x6007,
    },
    Eproto {
        s: ptr::null(),
        p: 0,
    },
]);

/// libpcap's `pcap_version` (exported data).
#[unsafe(no_mangle)]
pub static mut pcap_version: [c_char; 7] = [
    b'1' as c_char,
    b'.' as c_char,
    b'1' as c_char,
    b'0' as c_char,
    b'.' as c_char,
    b'3' as c_char,
    0,
];

// ---------------------------------------------------------------- create

/// `pcap_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_create(dev: *const c_char, errbuf: *mut c_char) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        // SAFETY: dev is NULL or NUL-terminated (libpcap's contract).
        let name = if dev.is_null() {
            "any"
        } else {
            unsafe { cstr(dev) }
        };
        if live::serves(name) {
            let shadow = match real::try_get() {
                // SAFETY: dev is NUL-terminated; a scratch errbuf.
                Some(r) => unsafe {
                    let mut eb = [0 as c_char; ERRBUF_SIZE];
                    (r.pcap_create)(dev, eb.as_mut_ptr())
                },
                None => ptr::null_mut(),
            };
            return Pcap::new(ptr::null_mut(), Live::new(name, shadow));
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
        let p = unsafe { (r.pcap_create)(dev, errbuf) };
        if p.is_null() {
            return ptr::null_mut();
        }
        Pcap::new(p, Live::new(name, ptr::null_mut()))
    })
}

fn shadow_activate(l: &mut Live, r: &Real) {
    if l.shadow.is_null() {
        return;
    }
    if !l.activated {
        return;
    }
    let ifindex = l.ifindex;
    // SAFETY: the shadow is a live, not yet activated real handle.
    let st = unsafe {
        (r.pcap_set_snaplen)(l.shadow, l.snapshot as c_int);
        (r.pcap_set_buffer_size)(l.shadow, 1 << 17);
        (r.pcap_set_timeout)(l.shadow, 1000);
        (r.pcap_activate)(l.shadow)
    };
    if st < 0 {
        // SAFETY: closing the shadow we created.
        unsafe { (r.pcap_close)(l.shadow) };
        l.shadow = ptr::null_mut();
        return;
    }
    l.shadow_active = true;
    // The shadow only compiles: bind it to protocol 0 so that it receives
    // nothing (the kernel unhooks it; no copy, no CPU).
    // SAFETY: the shadow is activated.
    let fd = unsafe { (r.pcap_fileno)(l.shadow) };
    if fd >= 0 {
        // SAFETY: sockaddr_ll is plain data; zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = 0;
        sll.sll_ifindex = ifindex;
        // SAFETY: fd is the shadow's packet socket; sll is a valid address.
        unsafe {
            libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
    }
}

/// `pcap_activate`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_activate(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded to the real handle.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_activate)(rp) },
            Some(H::Own(pc)) => {
                if let Some(c) = check_not_activated(pc) {
                    return c;
                }
                let l = pc.live();
                match live::activate(l) {
                    Ok(warning) => {
                        let b = match (l.cap.as_ref(), l.xdp.as_ref()) {
                            (Some(cap), _) => Some(cap.breaker()),
                            (None, Some(x)) => Some(x.breaker()),
                            _ => None,
                        };
                        if let Some(b) = b {
                            if pc.brk_flag.load(Ordering::Acquire) {
                                b.break_loop();
                            }
                            let _ = pc.brk.set(b);
                        }
                        if let Some(r) = real::try_get() {
                            shadow_activate(l, r);
                        }
                        // libpcap 1.10 writes the promiscuous-mode warning
                        // of "any" into errbuf, then loses its status
                        // (create_ring resets it): activation returns 0.
                        if let Some(w) = warning {
                            pc.set_err(&w);
                        }
                        0
                    }
                    Err((c, m)) => {
                        pc.set_err(&m);
                        c
                    }
                }
            }
        }
    })
}

/// `pcap_open_live`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_open_live(
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
        if st < 0 {
            // SAFETY: dev is NULL or NUL-terminated.
            let name = if dev.is_null() {
                "any"
            } else {
                unsafe { cstr(dev) }
            };
            // SAFETY: p is live; geterr returns a NUL-terminated string.
            let err = unsafe { owned(pcap_geterr(p)) };
            // SAFETY: statustostr returns a static string.
            let status = unsafe { owned(pcap_statustostr(st)) };
            let msg = match st {
                code::ERROR => format!("{name}: {err}"),
                code::NO_SUCH_DEVICE | code::PERM_DENIED | -11 => {
                    format!("{name}: {status} ({err})")
                }
                _ => format!("{name}: {status}"),
            };
            // SAFETY: p is live and closed once; errbuf per contract.
            unsafe {
                pcap_close(p);
                write_errbuf(errbuf, &msg);
            }
            return ptr::null_mut();
        }
        p
    })
}

/// `pcap_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_close(p: *mut Pcap) {
    guard!((), {
        // SAFETY: p is NULL or ours.
        let Some(h) = (unsafe { handle(p) }) else {
            return;
        };
        match h {
            // SAFETY: forwarded; the real handle is closed once.
            H::Real(r, rp, _) => unsafe { (r.pcap_close)(rp) },
            H::Own(pc) => {
                let l = pc.live();
                if !l.shadow.is_null() {
                    if let Some(r) = real::try_get() {
                        // SAFETY: the shadow is ours, closed once.
                        unsafe { (r.pcap_close)(l.shadow) };
                    }
                    l.shadow = ptr::null_mut();
                }
            }
        }
        // SAFETY: p came from Box::into_raw and is not used after close.
        unsafe {
            (*p).magic = 0;
            drop(Box::from_raw(p));
        }
    })
}

macro_rules! setter {
    ($name:ident, |$l:ident, $v:ident| $body:expr) => {
        #[doc = concat!("`", stringify!($name), "`.")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(p: *mut Pcap, $v: c_int) -> c_int {
            guard!(code::ERROR, {
                // SAFETY: p is NULL or ours.
                match unsafe { handle(p) } {
                    None => code::ERROR,
                    // SAFETY: forwarded to the real handle.
                    Some(H::Real(r, rp, _)) => unsafe { (r.$name)(rp, $v) },
                    Some(H::Own(pc)) => {
                        if let Some(c) = check_not_activated(pc) {
                            return c;
                        }
                        let $l = pc.live();
                        $body
                    }
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
    let st = match real::try_get() {
        // SAFETY: the shadow is a not yet activated real handle.
        Some(r) if !l.shadow.is_null() => unsafe { (r.pcap_set_tstamp_type)(l.shadow, v) },
        _ if v == 0 => 0,
        _ => code::WARNING_TSTAMP_TYPE_NOTSUP,
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
pub unsafe extern "C" fn pcap_can_set_rfmon(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_can_set_rfmon)(rp) },
            Some(H::Own(pc)) => check_not_activated(pc).unwrap_or(0),
        }
    })
}

// ---------------------------------------------------------------- dead / offline

fn wrap_real(p: *mut c_void) -> *mut Pcap {
    if p.is_null() {
        return ptr::null_mut();
    }
    Pcap::new(p, Live::new("", ptr::null_mut()))
}

/// `pcap_open_dead`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_open_dead(linktype: c_int, snaplen: c_int) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => wrap_real(unsafe { (r.pcap_open_dead)(linktype, snaplen) }),
            None => ptr::null_mut(),
        }
    })
}

/// `pcap_open_dead_with_tstamp_precision`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_open_dead_with_tstamp_precision(
    linktype: c_int,
    snaplen: c_int,
    precision: c_uint,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => wrap_real(unsafe {
                (r.pcap_open_dead_with_tstamp_precision)(linktype, snaplen, precision)
            }),
            None => ptr::null_mut(),
        }
    })
}

/// `pcap_open_offline`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_open_offline(fname: *const c_char, errbuf: *mut c_char) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => {
                let p = wrap_real(unsafe { (r.pcap_open_offline)(fname, errbuf) });
                // SAFETY: p is NULL or the handle just made; fname is
                // NUL-terminated (the real library opened it).
                unsafe { attach_reader(r, p, fname) };
                p
            }
            None => {
                no_real(errbuf, "pcap_open_offline");
                ptr::null_mut()
            }
        }
    })
}

/// `pcap_open_offline_with_tstamp_precision`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_open_offline_with_tstamp_precision(
    fname: *const c_char,
    precision: c_uint,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => {
                let p = wrap_real(unsafe {
                    (r.pcap_open_offline_with_tstamp_precision)(fname, precision, errbuf)
                });
                // SAFETY: as in pcap_open_offline.
                unsafe { attach_reader(r, p, fname) };
                p
            }
            None => {
                no_real(errbuf, "pcap_open_offline");
                ptr::null_mut()
            }
        }
    })
}

/// `pcap_fopen_offline` (glibc accepts a stream of the base namespace in
/// the real library's copy of stdio).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_fopen_offline(fp: *mut libc::FILE, errbuf: *mut c_char) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => wrap_real(unsafe { (r.pcap_fopen_offline)(fp, errbuf) }),
            None => {
                no_real(errbuf, "pcap_fopen_offline");
                ptr::null_mut()
            }
        }
    })
}

/// `pcap_fopen_offline_with_tstamp_precision`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_fopen_offline_with_tstamp_precision(
    fp: *mut libc::FILE,
    precision: c_uint,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => wrap_real(unsafe {
                (r.pcap_fopen_offline_with_tstamp_precision)(fp, precision, errbuf)
            }),
            None => {
                no_real(errbuf, "pcap_fopen_offline");
                ptr::null_mut()
            }
        }
    })
}

// ---------------------------------------------------------------- savefiles

/// Read a savefile's records with netring's reader when it is a classic
/// pcap file (version 2.4, micro- or nanosecond magic, either byte order):
/// the real handle `p` just opened keeps everything else.
///
/// # Safety
/// `p` is NULL or a live handle wrapping a real savefile handle; `fname`
/// is NUL-terminated.
unsafe fn attach_reader(r: &Real, p: *mut Pcap, fname: *const c_char) {
    if p.is_null() || fname.is_null() {
        return;
    }
    if std::env::var("NETRING_PCAP_ENGINE").is_ok_and(|v| v == "libpcap") {
        return;
    }
    // SAFETY: NUL-terminated (caller).
    let path = unsafe { CStr::from_ptr(fname) }
        .to_string_lossy()
        .into_owned();
    if path == "-" {
        return;
    }
    let mut h = [0u8; 24];
    let Ok(mut f) = std::fs::File::open(&path) else {
        return;
    };
    if std::io::Read::read_exact(&mut f, &mut h).is_err() {
        return;
    }
    let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let (big, nano_file) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        _ => return,
    };
    let u16_at = |o: usize| {
        let b = [h[o], h[o + 1]];
        if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    if (u16_at(4), u16_at(6)) != (2, 4) {
        return;
    }
    let Ok(reader) = netring_engine::pcapfile::Reader::open(&path) else {
        return;
    };
    // SAFETY: p is ours and wraps a live real handle.
    let pc = unsafe { &*p };
    // SAFETY: forwarded queries on the real handle.
    let (snap, prec) = unsafe {
        (
            (r.pcap_snapshot)(pc.real),
            (r.pcap_get_tstamp_precision)(pc.real),
        )
    };
    if snap <= 0 {
        return;
    }
    pc.put_file(FileRead {
        reader,
        filter: None,
        index: 0,
        snapshot: snap as u32,
        nano_file,
        nano_handle: prec == 1,
    });
}

/// Hand the rest of the file to the real handle: it reads again, without
/// the filter, the records the reader consumed, so it stands where the
/// reader stopped, and gets the filter back.
fn fall_back(r: &Real, rp: *mut c_void, fr: &FileRead) {
    let mut all = [BpfInsnC {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: u32::MAX,
    }];
    let mut prog = BpfProgram {
        bf_len: 1,
        bf_insns: all.as_mut_ptr(),
    };
    // SAFETY: the real handle is live; libpcap copies the program.
    unsafe { (r.pcap_setfilter)(rp, &mut prog) };
    let (mut h, mut d) = (ptr::null_mut(), ptr::null());
    for _ in 0..fr.index {
        // SAFETY: out-parameters are valid locals.
        if unsafe { (r.pcap_next_ex)(rp, &mut h, &mut d) } != 1 {
            break;
        }
    }
    if let Some(f) = &fr.filter {
        let mut v = f.clone();
        let mut prog = BpfProgram {
            bf_len: v.len() as c_uint,
            bf_insns: v.as_mut_ptr(),
        };
        // SAFETY: as above.
        unsafe { (r.pcap_setfilter)(rp, &mut prog) };
    }
}

/// libpcap's `pcap_offline_read` on netring's reader: up to `cnt` packets
/// (all to the end of the file when `cnt <= 0`), `PCAP_ERROR_BREAK` after
/// `pcap_breakloop` with nothing read, 0 at the end of the file. At a
/// record the reader cannot reproduce exactly (or a malformed one) the
/// real handle takes over, from that record on, for good.
///
/// # Safety
/// `rp` is the handle's real savefile handle; `cb` may be called with
/// `user`.
unsafe fn file_dispatch(
    pc: &Pcap,
    r: &Real,
    rp: *mut c_void,
    cnt: c_int,
    cb: unsafe extern "C" fn(*mut u8, *const PktHdr, *const u8),
    user: *mut u8,
) -> c_int {
    let Some(mut fr) = pc.take_file() else {
        // SAFETY: forwarded.
        return unsafe { (r.pcap_dispatch)(rp, cnt, Some(cb), user) };
    };
    let (snapshot, nano_file, nano_handle) = (fr.snapshot, fr.nano_file, fr.nano_handle);
    let mut n: c_int = 0;
    let mut fell = false;
    let res = loop {
        if pc.brk_flag.load(Ordering::Acquire) {
            if n == 0 {
                pc.brk_flag.store(false, Ordering::Relaxed);
                break code::BREAK;
            }
            break n;
        }
        match fr.reader.next_packet_exact() {
            Ok(None) => break n,
            Ok(Some((p, true))) if p.data.len() as u32 <= snapshot => {
                fr.index += 1;
                if let Some(prog) = &fr.filter {
                    if bpf::run(prog, p.data, p.wire_len, None) == 0 {
                        continue;
                    }
                }
                let sec = p.ts_ns / 1_000_000_000;
                let mut frac = p.ts_ns % 1_000_000_000;
                if !nano_file {
                    frac /= 1000;
                }
                match (nano_file, nano_handle) {
                    (true, false) => frac /= 1000,
                    (false, true) => frac *= 1000,
                    _ => {}
                }
                let h = PktHdr {
                    ts: libc::timeval {
                        tv_sec: sec as libc::time_t,
                        tv_usec: frac as libc::suseconds_t,
                    },
                    caplen: p.data.len() as u32,
                    len: p.wire_len,
                };
                // SAFETY: the callback gets a header and the record's
                // bytes, valid for this call, as with libpcap.
                unsafe { cb(user, &h, p.data.as_ptr()) };
                n += 1;
                if cnt > 0 && n >= cnt {
                    break n;
                }
            }
            _ => {
                fell = true;
                break n;
            }
        }
    };
    if !fell {
        pc.put_file(fr);
        return res;
    }
    fall_back(r, rp, &fr);
    drop(fr);
    let rest = if cnt > 0 { cnt - n } else { cnt };
    // SAFETY: forwarded; the real handle stands at the record the reader
    // stopped at.
    let m = unsafe { (r.pcap_dispatch)(rp, rest, Some(cb), user) };
    if m < 0 { m } else { n + m }
}

/// The one-packet callback of `pcap_next`/`pcap_next_ex` on a savefile:
/// `user` is the handle's live state, whose buffers keep the copy.
unsafe extern "C" fn one_cb(user: *mut u8, h: *const PktHdr, d: *const u8) {
    // SAFETY: user is the handle's Live (file_one), h and d are valid for
    // h.caplen bytes during the call.
    unsafe {
        let l = &mut *user.cast::<Live>();
        l.one_hdr = *h;
        l.one_buf.clear();
        l.one_buf
            .extend_from_slice(std::slice::from_raw_parts(d, (*h).caplen as usize));
    }
}

/// One packet of a savefile into the handle's buffers: 1, 0 at the end of
/// the file, or an error status.
fn file_one(pc: &Pcap, r: &Real, rp: *mut c_void) -> c_int {
    let l: *mut Live = pc.live.get();
    // SAFETY: the callback writes the handle's own buffers; no other
    // borrow of them is alive during the call.
    unsafe { file_dispatch(pc, r, rp, 1, one_cb, l.cast()) }
}

// ---------------------------------------------------------------- reading

fn own_dispatch(pc: &Pcap, cnt: c_int, f: &mut dyn FnMut(&PktHdr, &[u8])) -> c_int {
    let Some(brk) = pc.brk.get() else {
        pc.set_err(NOT_ACTIVATED);
        return code::NOT_ACTIVATED;
    };
    match live::dispatch(&pc.live, brk, &pc.brk_flag, cnt, f) {
        Ok(n) => n,
        Err(m) => {
            pc.set_err(&m);
            code::ERROR
        }
    }
}

/// `pcap_dispatch`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dispatch(
    p: *mut Pcap,
    cnt: c_int,
    cb: Handler,
    user: *mut u8,
) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            Some(H::Real(r, rp, pc)) => match cb {
                // SAFETY: a savefile read by netring's reader.
                Some(cb) if pc.has_file() => unsafe { file_dispatch(pc, r, rp, cnt, cb, user) },
                // SAFETY: forwarded.
                _ => unsafe { (r.pcap_dispatch)(rp, cnt, cb, user) },
            },
            Some(H::Own(pc)) => {
                let Some(cb) = cb else { return code::ERROR };
                own_dispatch(pc, cnt, &mut |h, d| {
                    // SAFETY: the callback gets a header and the packet
                    // bytes valid for this call, as with libpcap.
                    unsafe { cb(user, h, d.as_ptr()) }
                })
            }
        }
    })
}

/// `pcap_loop`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_loop(p: *mut Pcap, cnt: c_int, cb: Handler, user: *mut u8) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            Some(H::Real(r, rp, pc)) => match cb {
                Some(f) if pc.has_file() => {
                    // libpcap's pcap_loop over pcap_offline_read.
                    let mut left = cnt;
                    loop {
                        if !pc.has_file() {
                            // SAFETY: the real handle took over.
                            return unsafe { (r.pcap_loop)(rp, left, cb, user) };
                        }
                        // SAFETY: a savefile read by netring's reader.
                        let n = unsafe { file_dispatch(pc, r, rp, left, f, user) };
                        if n <= 0 {
                            return n;
                        }
                        if cnt > 0 {
                            left -= n;
                            if left <= 0 {
                                return 0;
                            }
                        }
                    }
                }
                // SAFETY: forwarded.
                _ => unsafe { (r.pcap_loop)(rp, cnt, cb, user) },
            },
            Some(H::Own(pc)) => {
                let Some(cb) = cb else { return code::ERROR };
                let mut left = cnt;
                loop {
                    let n = loop {
                        let n = own_dispatch(pc, left, &mut |h, d| {
                            // SAFETY: as in pcap_dispatch.
                            unsafe { cb(user, h, d.as_ptr()) }
                        });
                        if n != 0 {
                            break n;
                        }
                    };
                    if n <= 0 {
                        return n;
                    }
                    if left > 0 {
                        left -= n;
                        if left <= 0 {
                            return 0;
                        }
                    }
                }
            }
        }
    })
}

/// One packet into the handle's copy buffer (libpcap's oneshot callback
/// copies too: the block goes back to the kernel once consumed).
fn own_one(pc: &Pcap) -> c_int {
    let l = pc.live();
    let mut buf = std::mem::take(&mut l.one_buf);
    let mut hdr = None;
    let n = own_dispatch(pc, 1, &mut |h, d| {
        buf.clear();
        buf.extend_from_slice(d);
        hdr = Some(*h);
    });
    let l = pc.live();
    l.one_buf = buf;
    if let Some(h) = hdr {
        l.one_hdr = h;
    }
    n
}

/// `pcap_next_ex`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_next_ex(
    p: *mut Pcap,
    hdr: *mut *mut PktHdr,
    data: *mut *const u8,
) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            Some(H::Real(r, rp, pc)) if pc.has_file() => {
                if hdr.is_null() || data.is_null() {
                    return code::ERROR;
                }
                match file_one(pc, r, rp) {
                    1 => {
                        let l = pc.live();
                        // SAFETY: out-parameters checked non-NULL; the
                        // pointers stay valid until the next call.
                        unsafe {
                            *hdr = &mut l.one_hdr;
                            *data = l.one_buf.as_ptr();
                        }
                        1
                    }
                    0 => code::BREAK,
                    n => n,
                }
            }
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_next_ex)(rp, hdr, data) },
            Some(H::Own(pc)) => {
                if hdr.is_null() || data.is_null() {
                    return code::ERROR;
                }
                let n = own_one(pc);
                if n == 1 {
                    let l = pc.live();
                    // SAFETY: out-parameters checked non-NULL; the pointers
                    // stay valid until the next call on this handle.
                    unsafe {
                        *hdr = &mut l.one_hdr;
                        *data = l.one_buf.as_ptr();
                    }
                }
                n
            }
        }
    })
}

/// `pcap_next`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_next(p: *mut Pcap, h: *mut PktHdr) -> *const u8 {
    guard!(ptr::null(), {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => ptr::null(),
            Some(H::Real(r, rp, pc)) if pc.has_file() => {
                if file_one(pc, r, rp) != 1 || h.is_null() {
                    return ptr::null();
                }
                let l = pc.live();
                // SAFETY: h checked non-NULL.
                unsafe { *h = l.one_hdr };
                l.one_buf.as_ptr()
            }
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_next)(rp, h) },
            Some(H::Own(pc)) => {
                if own_one(pc) <= 0 || h.is_null() {
                    return ptr::null();
                }
                let l = pc.live();
                // SAFETY: h checked non-NULL.
                unsafe { *h = l.one_hdr };
                l.one_buf.as_ptr()
            }
        }
    })
}

/// `pcap_breakloop`: async-signal-safe (an atomic store and an eventfd
/// write).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_breakloop(p: *mut Pcap) {
    guard!((), {
        if p.is_null() {
            return;
        }
        // SAFETY: p is ours; only immutable fields are read.
        let pc = unsafe { &*p };
        if pc.magic != PCAP_MAGIC {
            return;
        }
        if !pc.real.is_null() {
            // A savefile read by netring's reader checks the flag too.
            pc.brk_flag.store(true, Ordering::Release);
            if let Some(r) = real::try_get() {
                // SAFETY: forwarded.
                unsafe { (r.pcap_breakloop)(pc.real) };
            }
        } else {
            // Before activation the flag alone is kept; activation passes
            // it on to the engine.
            pc.brk_flag.store(true, Ordering::Release);
            if let Some(b) = pc.brk.get() {
                b.break_loop();
            }
        }
    })
}

// ---------------------------------------------------------------- control

/// `pcap_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_stats(p: *mut Pcap, ps: *mut PcapStat) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_stats)(rp, ps) },
            Some(H::Own(pc)) => {
                if ps.is_null() {
                    return code::ERROR;
                }
                match live::stats(pc.live()) {
                    Ok(s) => {
                        // SAFETY: checked non-NULL.
                        unsafe { *ps = s };
                        0
                    }
                    Err(m) => {
                        pc.set_err(&m);
                        code::ERROR
                    }
                }
            }
        }
    })
}

/// `pcap_setfilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_setfilter(p: *mut Pcap, fp: *mut BpfProgram) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            Some(H::Real(r, rp, pc)) => {
                // SAFETY: forwarded; the real library copies the program.
                let st = unsafe { (r.pcap_setfilter)(rp, fp) };
                if st == 0 {
                    if let Some(fr) = pc.file_mut() {
                        // SAFETY: fp is a valid program (the real library
                        // accepted it).
                        fr.filter = unsafe { insns(fp) }.map(<[BpfInsnC]>::to_vec);
                    }
                }
                st
            }
            Some(H::Own(pc)) => {
                // SAFETY: fp is NULL or a valid program.
                let Some(prog) = (unsafe { insns(fp) }) else {
                    pc.set_err("setfilter: No filter specified");
                    return code::ERROR;
                };
                match live::set_filter(pc.live(), prog) {
                    Ok(()) => 0,
                    Err(m) => {
                        pc.set_err(&m);
                        code::ERROR
                    }
                }
            }
        }
    })
}

/// `pcap_setdirection`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_setdirection(p: *mut Pcap, d: c_int) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_setdirection)(rp, d) },
            Some(H::Own(pc)) => {
                if !(live::D_INOUT..=live::D_OUT).contains(&d) {
                    pc.set_err(&format!("Invalid direction {d}"));
                    return code::ERROR;
                }
                pc.live().direction = d;
                0
            }
        }
    })
}

/// `pcap_getnonblock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_getnonblock(p: *mut Pcap, errbuf: *mut c_char) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_getnonblock)(rp, errbuf) },
            Some(H::Own(pc)) => c_int::from(pc.live().nonblock),
        }
    })
}

/// `pcap_setnonblock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_setnonblock(p: *mut Pcap, nb: c_int, errbuf: *mut c_char) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_setnonblock)(rp, nb, errbuf) },
            Some(H::Own(pc)) => {
                pc.live().nonblock = nb != 0;
                0
            }
        }
    })
}

/// `pcap_inject`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_inject(p: *mut Pcap, buf: *const c_void, size: usize) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_inject)(rp, buf, size) },
            Some(H::Own(pc)) => {
                if buf.is_null() {
                    pc.set_err("send: no packet");
                    return code::ERROR;
                }
                // SAFETY: buf holds size bytes (libpcap's contract).
                let frame = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), size) };
                match live::inject(pc.live(), frame) {
                    Ok(n) => n as c_int,
                    Err(m) => {
                        pc.set_err(&m);
                        code::ERROR
                    }
                }
            }
        }
    })
}

/// `pcap_sendpacket`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_sendpacket(p: *mut Pcap, buf: *const u8, size: c_int) -> c_int {
    guard!(code::ERROR, {
        if size < 0 {
            return code::ERROR;
        }
        // SAFETY: same contract as pcap_inject.
        let n = unsafe { pcap_inject(p, buf.cast(), size as usize) };
        if n == size { 0 } else { code::ERROR }
    })
}

/// `pcap_geterr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_geterr(p: *mut Pcap) -> *mut c_char {
    guard!(ptr::null_mut(), {
        if p.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: p is ours (checked by magic below).
        let pc = unsafe { &*p };
        if pc.magic != PCAP_MAGIC {
            return ptr::null_mut();
        }
        if !pc.real.is_null() && !pc.own_err.get() {
            if let Some(r) = real::try_get() {
                // SAFETY: forwarded; the buffer lives as long as the handle.
                return unsafe { (r.pcap_geterr)(pc.real) };
            }
        }
        pc.errbuf_ptr()
    })
}

/// `pcap_perror`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_perror(p: *mut Pcap, prefix: *const c_char) {
    guard!((), {
        // SAFETY: p is NULL or ours; prefix NULL or NUL-terminated.
        let (err, pre) = unsafe { (owned(pcap_geterr(p)), owned(prefix)) };
        if let Ok(c) = std::ffi::CString::new(format!("{pre}: {err}\n")) {
            // SAFETY: the host program's stderr; c is NUL-terminated.
            unsafe { libc::fputs(c.as_ptr(), stderr) };
        }
    })
}

// ---------------------------------------------------------------- filters

/// `pcap_compile`: the real libpcap's compiler, on a live handle of the
/// same device for netring handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_compile(
    p: *mut Pcap,
    fp: *mut BpfProgram,
    s: *const c_char,
    optimize: c_int,
    netmask: u32,
) -> c_int {
    guard!(code::ERROR, {
        if fp.is_null() {
            return code::ERROR;
        }
        // SAFETY: p is NULL or ours.
        let (r, target, pc, temp) = match unsafe { handle(p) } {
            None => {
                // SAFETY: p is NULL or ours.
                if let Some(pc) = unsafe { p.as_ref() } {
                    if pc.magic == PCAP_MAGIC {
                        let e = real::get().err().unwrap_or("");
                        pc.set_err(&format!(
                            "pcap_compile: filters are compiled by the system libpcap: {e}"
                        ));
                    }
                }
                return code::ERROR;
            }
            Some(H::Real(r, rp, pc)) => (r, rp, pc, ptr::null_mut()),
            Some(H::Own(pc)) => {
                let l = pc.live();
                let Some(r) = real::try_get() else {
                    let e = real::get().err().unwrap_or("");
                    pc.set_err(&format!(
                        "pcap_compile: filters are compiled by the system libpcap: {e}"
                    ));
                    return code::ERROR;
                };
                if !pc.activated() {
                    pc.set_err("not-yet-activated pcap_t passed to pcap_compile");
                    return code::ERROR;
                }
                if l.shadow_active {
                    (r, l.shadow, pc, ptr::null_mut())
                } else {
                    // The real library could not open the device: compile
                    // for its link type on a dead handle (the same program
                    // except for VLAN tests, which then read the frame).
                    // SAFETY: plain values.
                    let dead = unsafe { (r.pcap_open_dead)(l.linktype, l.snapshot as c_int) };
                    if dead.is_null() {
                        pc.set_err("pcap_compile: pcap_open_dead failed");
                        return code::ERROR;
                    }
                    (r, dead, pc, dead)
                }
            }
        };
        let mut tmp = BpfProgram {
            bf_len: 0,
            bf_insns: ptr::null_mut(),
        };
        // SAFETY: forwarded with a scratch program.
        let st = unsafe { (r.pcap_compile)(target, &mut tmp, s, optimize, netmask) };
        if st < 0 && pc.real.is_null() {
            // SAFETY: the real handle's errbuf is NUL-terminated.
            let e = unsafe { owned((r.pcap_geterr)(target)) };
            pc.set_err(&e);
        }
        if !temp.is_null() {
            // SAFETY: the dead handle opened above, closed once.
            unsafe { (r.pcap_close)(temp) };
        }
        if st < 0 {
            return st;
        }
        // SAFETY: tmp was filled by pcap_compile; fp checked non-NULL.
        if unsafe { adopt_program(r, &mut tmp, fp) } {
            0
        } else {
            pc.set_err("malloc: out of memory");
            code::ERROR
        }
    })
}

/// `pcap_compile_nopcap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_compile_nopcap(
    snaplen: c_int,
    linktype: c_int,
    fp: *mut BpfProgram,
    s: *const c_char,
    optimize: c_int,
    netmask: u32,
) -> c_int {
    guard!(code::ERROR, {
        let Some(r) = real::try_get() else {
            return code::ERROR;
        };
        if fp.is_null() {
            return code::ERROR;
        }
        let mut tmp = BpfProgram {
            bf_len: 0,
            bf_insns: ptr::null_mut(),
        };
        // SAFETY: forwarded with a scratch program.
        let st =
            unsafe { (r.pcap_compile_nopcap)(snaplen, linktype, &mut tmp, s, optimize, netmask) };
        if st < 0 {
            return st;
        }
        // SAFETY: tmp filled by the real compiler; fp non-NULL.
        if unsafe { adopt_program(r, &mut tmp, fp) } {
            0
        } else {
            code::ERROR
        }
    })
}

/// `pcap_freecode`: programs live in our heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_freecode(fp: *mut BpfProgram) {
    guard!((), {
        if fp.is_null() {
            return;
        }
        // SAFETY: fp is a program from pcap_compile (our heap) or zeroed.
        unsafe {
            libc::free((*fp).bf_insns.cast());
            (*fp).bf_insns = ptr::null_mut();
            (*fp).bf_len = 0;
        }
    })
}

/// `pcap_offline_filter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_offline_filter(
    fp: *const BpfProgram,
    h: *const PktHdr,
    pkt: *const u8,
) -> c_int {
    guard!(0, {
        // SAFETY: fp NULL or valid.
        let Some(prog) = (unsafe { insns(fp) }) else {
            return 0;
        };
        if h.is_null() || pkt.is_null() {
            return 0;
        }
        // SAFETY: h valid; pkt holds caplen bytes.
        let (h, data) = unsafe { (&*h, std::slice::from_raw_parts(pkt, (*h).caplen as usize)) };
        if prog.is_empty() {
            return 1;
        }
        bpf::run(prog, data, h.len, None) as c_int
    })
}

/// `bpf_filter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpf_filter(
    pc: *const BpfInsnC,
    pkt: *const u8,
    wirelen: c_uint,
    buflen: c_uint,
) -> c_uint {
    guard!(0, {
        if pc.is_null() {
            return u32::MAX;
        }
        if pkt.is_null() {
            return 0;
        }
        // SAFETY: pkt holds buflen bytes (caller).
        let data = unsafe { std::slice::from_raw_parts(pkt, buflen as usize) };
        let fetch = |i: usize| {
            // SAFETY: like libpcap's bpf_filter, the program is trusted to
            // be valid (bpf_validate): every path ends in a return, so only
            // instructions inside it are read; the index cap bounds a bad one.
            (i < 65536).then(|| unsafe { *pc.add(i) })
        };
        bpf::run_with(fetch, data, wirelen, None)
    })
}

/// `bpf_validate`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpf_validate(f: *const BpfInsnC, len: c_int) -> c_int {
    guard!(0, {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => unsafe { (r.bpf_validate)(f, len) },
            None => 0,
        }
    })
}

/// `bpf_image`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpf_image(f: *const BpfInsnC, n: c_int) -> *mut c_char {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded; returns a static buffer of the real library.
            Some(r) => unsafe { (r.bpf_image)(f, n) },
            None => c"unimp".as_ptr().cast_mut(),
        }
    })
}

/// `bpf_dump`: printed on the host program's stdout (the real library's
/// stdio buffers are its own and never flushed at exit).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpf_dump(p: *const BpfProgram, option: c_int) {
    guard!((), {
        // SAFETY: p NULL or valid.
        let Some(prog) = (unsafe { insns(p) }) else {
            return;
        };
        let mut out = String::new();
        if option > 2 {
            out.push_str(&format!("{}\n", prog.len()));
            for i in prog {
                out.push_str(&format!("{} {} {} {}\n", i.code, i.jt, i.jf, i.k));
            }
        } else if option > 1 {
            for i in prog {
                out.push_str(&format!(
                    "{{ 0x{:x}, {}, {}, 0x{:08x} }},\n",
                    i.code, i.jt, i.jf, i.k
                ));
            }
        } else {
            for (n, i) in prog.iter().enumerate() {
                // SAFETY: i is a valid instruction; bpf_image returns a
                // NUL-terminated static buffer.
                let line = unsafe { owned(bpf_image(i, n as c_int)) };
                out.push_str(&line);
                out.push('\n');
            }
        }
        puts_stdout(&out);
    })
}

// ---------------------------------------------------------------- link types

/// `pcap_datalink`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_datalink(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_datalink)(rp) },
            Some(H::Own(pc)) if !pc.activated() => code::NOT_ACTIVATED,
            Some(H::Own(pc)) => pc.live().linktype,
        }
    })
}

/// `pcap_datalink_ext`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_datalink_ext(p: *mut Pcap) -> c_int {
    guard!(code::ERROR, {
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_datalink_ext)(rp) },
            // SAFETY: same handle.
            Some(H::Own(_)) => unsafe { pcap_datalink(p) },
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
        // SAFETY: p is NULL or ours.
        let (r, target) = match unsafe { handle(p) } {
            None => return code::ERROR,
            Some(H::Real(r, rp, _)) => (Some(r), rp),
            Some(H::Own(pc)) => {
                if !pc.activated() {
                    pc.set_err(NOT_ACTIVATED);
                    return code::NOT_ACTIVATED;
                }
                let l = pc.live();
                if l.shadow_active {
                    (real::try_get(), l.shadow)
                } else {
                    let v = l.datalinks();
                    // SAFETY: out checked non-NULL.
                    unsafe { *out = malloc_ints(&v) };
                    return v.len() as c_int;
                }
            }
        };
        let Some(r) = r else { return code::ERROR };
        let mut list = ptr::null_mut();
        // SAFETY: forwarded.
        let n = unsafe { (r.pcap_list_datalinks)(target, &mut list) };
        if n < 0 {
            return n;
        }
        // SAFETY: list holds n ints of the real library's heap; out non-NULL.
        unsafe { *out = adopt_ints(r, list, n, r.pcap_free_datalinks) };
        n
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
        // SAFETY: p is NULL or ours.
        match unsafe { handle(p) } {
            None => code::ERROR,
            // SAFETY: forwarded.
            Some(H::Real(r, rp, _)) => unsafe { (r.pcap_set_datalink)(rp, dlt) },
            Some(H::Own(pc)) => {
                let l = pc.live();
                if l.datalinks().contains(&dlt) {
                    l.linktype = dlt;
                    if l.shadow_active {
                        if let Some(r) = real::try_get() {
                            // SAFETY: the shadow is activated.
                            unsafe { (r.pcap_set_datalink)(l.shadow, dlt) };
                        }
                    }
                    0
                } else {
                    // SAFETY: returns a static string or NULL.
                    let name = unsafe { owned(pcap_datalink_val_to_name(dlt)) };
                    if name.is_empty() {
                        pc.set_err(&format!(
                            "DLT {dlt} is not one of the DLTs supported by this device"
                        ));
                    } else {
                        pc.set_err(&format!(
                            "{name} is not one of the DLTs supported by this device"
                        ));
                    }
                    code::ERROR
                }
            }
        }
    })
}

/// `pcap_list_tstamp_types`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_list_tstamp_types(p: *mut Pcap, out: *mut *mut c_int) -> c_int {
    guard!(code::ERROR, {
        if out.is_null() {
            return code::ERROR;
        }
        // SAFETY: p is NULL or ours.
        let (r, target) = match unsafe { handle(p) } {
            None => return code::ERROR,
            Some(H::Real(r, rp, _)) => (r, rp),
            Some(H::Own(pc)) => {
                let l = pc.live();
                match real::try_get() {
                    Some(r) if !l.shadow.is_null() => (r, l.shadow),
                    _ => {
                        // SAFETY: out checked non-NULL.
                        unsafe { *out = malloc_ints(&[0]) };
                        return 1;
                    }
                }
            }
        };
        let mut list = ptr::null_mut();
        // SAFETY: forwarded.
        let n = unsafe { (r.pcap_list_tstamp_types)(target, &mut list) };
        if n < 0 {
            return n;
        }
        // SAFETY: list holds n ints of the real library's heap.
        unsafe { *out = adopt_ints(r, list, n, r.pcap_free_tstamp_types) };
        n
    })
}

/// `pcap_free_tstamp_types`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_free_tstamp_types(list: *mut c_int) {
    // SAFETY: list is NULL or from pcap_list_tstamp_types (our heap).
    guard!((), { unsafe { libc::free(list.cast()) } })
}

macro_rules! forward_static {
    ($name:ident($($a:ident: $t:ty),*) -> $ret:ty, $default:expr) => {
        #[doc = concat!("`", stringify!($name), "` (the real libpcap's).")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($a: $t),*) -> $ret {
            guard!($default, {
                match real::try_get() {
                    // SAFETY: forwarded with the caller's arguments.
                    Some(r) => unsafe { (r.$name)($($a),*) },
                    None => $default,
                }
            })
        }
    };
}

forward_static!(pcap_datalink_name_to_val(n: *const c_char) -> c_int, -1);
forward_static!(pcap_datalink_val_to_name(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_datalink_val_to_description(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_datalink_val_to_description_or_dlt(v: c_int) -> *const c_char, c"unknown".as_ptr());
forward_static!(pcap_tstamp_type_name_to_val(n: *const c_char) -> c_int, code::ERROR);
forward_static!(pcap_tstamp_type_val_to_name(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_tstamp_type_val_to_description(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_lookupnet(d: *const c_char, net: *mut u32, mask: *mut u32, e: *mut c_char) -> c_int, code::ERROR);
forward_static!(pcap_lookupdev(e: *mut c_char) -> *mut c_char, ptr::null_mut());
forward_static!(pcap_nametoaddr(n: *const c_char) -> *mut *mut u32, ptr::null_mut());
forward_static!(pcap_nametoaddrinfo(n: *const c_char) -> *mut libc::addrinfo, ptr::null_mut());
forward_static!(pcap_nametonetaddr(n: *const c_char) -> u32, 0);
forward_static!(pcap_nametoport(n: *const c_char, port: *mut c_int, proto: *mut c_int) -> c_int, 0);
forward_static!(pcap_nametoportrange(n: *const c_char, p1: *mut c_int, p2: *mut c_int, proto: *mut c_int) -> c_int, 0);
forward_static!(pcap_nametoproto(n: *const c_char) -> c_int, -1);
forward_static!(pcap_nametoeproto(n: *const c_char) -> c_int, -1);
forward_static!(pcap_nametollc(n: *const c_char) -> c_int, -1);
forward_static!(pcap_next_etherent(f: *mut libc::FILE) -> *mut c_void, ptr::null_mut());

/// A 6-byte address from the real library's heap, moved into ours (the
/// caller frees it with `free`).
fn adopt_mac(r: &Real, e: *mut u8) -> *mut u8 {
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

/// `pcap_ether_hostton`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_ether_hostton(n: *const c_char) -> *mut u8 {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => adopt_mac(r, unsafe { (r.pcap_ether_hostton)(n) }),
            None => ptr::null_mut(),
        }
    })
}

/// `pcap_ether_aton`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_ether_aton(n: *const c_char) -> *mut u8 {
    guard!(ptr::null_mut(), {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => adopt_mac(r, unsafe { (r.pcap_ether_aton)(n) }),
            None => ptr::null_mut(),
        }
    })
}

/// `pcap_findalldevs` (the real libpcap's list; free it with
/// `pcap_freealldevs`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_findalldevs(out: *mut *mut c_void, errbuf: *mut c_char) -> c_int {
    guard!(code::ERROR, {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => unsafe { (r.pcap_findalldevs)(out, errbuf) },
            None => {
                no_real(errbuf, "pcap_findalldevs");
                code::ERROR
            }
        }
    })
}

/// `pcap_freealldevs`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_freealldevs(list: *mut c_void) {
    guard!((), {
        if let Some(r) = real::try_get() {
            // SAFETY: list came from the real pcap_findalldevs.
            unsafe { (r.pcap_freealldevs)(list) };
        }
    })
}

/// `pcap_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_init(opts: c_uint, errbuf: *mut c_char) -> c_int {
    guard!(code::ERROR, {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => unsafe { (r.pcap_init)(opts, errbuf) },
            None if opts <= 1 => 0,
            None => {
                // SAFETY: errbuf per contract.
                unsafe { write_errbuf(errbuf, &format!("Unknown options specified: 0x{opts:x}")) };
                code::ERROR
            }
        }
    })
}

/// `pcap_statustostr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_statustostr(e: c_int) -> *const c_char {
    guard!(c"Unknown error".as_ptr(), {
        if let Some(r) = real::try_get() {
            // SAFETY: forwarded; returns a static string.
            return unsafe { (r.pcap_statustostr)(e) };
        }
        match e {
            0 => c"Success",
            code::ERROR => c"Generic error",
            code::BREAK => c"Loop terminated by pcap_breakloop",
            code::NOT_ACTIVATED => c"The pcap_t has not been activated",
            code::ACTIVATED => c"The setting can't be changed after the pcap_t is activated",
            code::NO_SUCH_DEVICE => c"No such device exists",
            code::PERM_DENIED => {
                c"You don't have permission to perform this capture on that device"
            }
            _ => c"Unknown error",
        }
        .as_ptr()
    })
}

/// `pcap_strerror`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_strerror(e: c_int) -> *const c_char {
    // SAFETY: strerror returns a string valid until the next call.
    guard!(c"Unknown error".as_ptr(), { unsafe { libc::strerror(e) } })
}

/// `pcap_lib_version`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_lib_version() -> *const c_char {
    c"libpcap version 1.10.3 (with TPACKET_V3; netring engine)".as_ptr()
}

// ---------------------------------------------------------------- properties

macro_rules! property {
    ($name:ident -> $ret:ty, $default:expr, |$pc:ident| $own:expr) => {
        #[doc = concat!("`", stringify!($name), "`.")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(p: *mut Pcap) -> $ret {
            guard!($default, {
                // SAFETY: p is NULL or ours.
                match unsafe { handle(p) } {
                    None => $default,
                    // SAFETY: forwarded.
                    Some(H::Real(r, rp, _)) => unsafe { (r.$name)(rp) },
                    Some(H::Own($pc)) => $own,
                }
            })
        }
    };
}

property!(pcap_snapshot -> c_int, code::ERROR, |pc| if pc.activated() {
    pc.live().snapshot as c_int
} else {
    code::NOT_ACTIVATED
});
property!(pcap_is_swapped -> c_int, code::ERROR, |pc| if pc.activated() { 0 } else { code::NOT_ACTIVATED });
property!(pcap_major_version -> c_int, code::ERROR, |pc| if pc.activated() { 2 } else { code::NOT_ACTIVATED });
property!(pcap_minor_version -> c_int, code::ERROR, |pc| if pc.activated() { 4 } else { code::NOT_ACTIVATED });
property!(pcap_bufsize -> c_int, code::ERROR, |pc| if pc.activated() {
    pc.live().ring_bytes.min(i32::MAX as u64) as c_int
} else {
    code::NOT_ACTIVATED
});
property!(pcap_file -> *mut libc::FILE, ptr::null_mut(), |_pc| ptr::null_mut());
property!(pcap_fileno -> c_int, code::ERROR, |pc| pc.live().fd);
property!(pcap_get_selectable_fd -> c_int, code::ERROR, |pc| pc.live().fd);
property!(pcap_get_required_select_timeout -> *const libc::timeval, ptr::null(), |_pc| ptr::null());
property!(pcap_get_tstamp_precision -> c_int, code::ERROR, |pc| c_int::from(pc.live().opts.nano));

// ---------------------------------------------------------------- dumping

/// (nano, snaplen, linktype) of a handle for a savefile header.
fn savefile_params(p: *mut Pcap) -> Result<(bool, u32, u32, &'static Pcap), ()> {
    // SAFETY: p is NULL or ours.
    let (pc, nano, snap, dlt) = match unsafe { handle(p) } {
        None => return Err(()),
        Some(H::Real(r, rp, pc)) => {
            // SAFETY: forwarded queries on the real handle.
            let (n, s, d) = unsafe {
                (
                    (r.pcap_get_tstamp_precision)(rp) == 1,
                    (r.pcap_snapshot)(rp),
                    (r.pcap_datalink)(rp),
                )
            };
            (pc, n, s, d)
        }
        Some(H::Own(pc)) => {
            if !pc.activated() {
                pc.set_err("not-yet-activated pcap_t passed to pcap_dump_open");
                return Err(());
            }
            let l = pc.live();
            (pc, l.opts.nano, l.snapshot as c_int, l.linktype)
        }
    };
    // SAFETY: handles live until pcap_close; the reference does not
    // outlive this call's use.
    let pc: &'static Pcap = unsafe { &*(pc as *const Pcap) };
    match dlt_to_linktype(dlt) {
        Some(lt) => Ok((nano, snap.max(0) as u32, lt, pc)),
        None => {
            pc.set_err(&format!(
                "link-layer type {dlt} isn't supported in savefiles"
            ));
            Err(())
        }
    }
}

fn new_dumper(f: *mut libc::FILE) -> *mut Dumper {
    Box::into_raw(Box::new(Dumper {
        magic: DUMPER_MAGIC,
        f,
        scratch: Vec::with_capacity(2048),
    }))
}

/// `pcap_dump_fopen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_fopen(p: *mut Pcap, f: *mut libc::FILE) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let Ok((nano, snap, lt, pc)) = savefile_params(p) else {
            return ptr::null_mut();
        };
        if f.is_null() {
            pc.set_err("pcap_dump_fopen: NULL stream");
            return ptr::null_mut();
        }
        // SAFETY: f is an open stream (caller).
        if !unsafe { dump::write(f, &dump::file_header(nano, snap, lt)) } {
            pc.set_err(&format!("Can't write to file: {}", dump::errno_text()));
            return ptr::null_mut();
        }
        new_dumper(f)
    })
}

/// `pcap_dump_open` ("-" is stdout).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcap_dump_open(p: *mut Pcap, fname: *const c_char) -> *mut Dumper {
    guard!(ptr::null_mut(), {
        let Ok((_, _, _, pc)) = savefile_params(p) else {
            return ptr::null_mut();
        };
        if fname.is_null() {
            pc.set_err("A null pointer was supplied as the file name");
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
            pc.set_err(&format!("{name}: {}", dump::errno_text()));
            return ptr::null_mut();
        }
        if name != "-" {
            // SAFETY: f was just opened and not yet used.
            unsafe { libc::setvbuf(f, ptr::null_mut(), libc::_IOFBF, dump::FILE_BUFFER) };
        }
        // SAFETY: p and f are valid.
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
        let Ok((nano, _, lt, pc)) = savefile_params(p) else {
            return ptr::null_mut();
        };
        if fname.is_null() {
            pc.set_err("A null pointer was supplied as the file name");
            return ptr::null_mut();
        }
        // SAFETY: fname is NUL-terminated.
        let path = unsafe { CStr::from_ptr(fname) };
        match dump::check_append(path, nano, lt) {
            // SAFETY: a new or empty file: as pcap_dump_open.
            Ok(true) => unsafe { pcap_dump_open(p, fname) },
            Ok(false) => {
                let f = dump::fopen(path, c"ab");
                if f.is_null() {
                    pc.set_err(&format!(
                        "{}: {}",
                        path.to_string_lossy(),
                        dump::errno_text()
                    ));
                    return ptr::null_mut();
                }
                new_dumper(f)
            }
            Err(m) => {
                pc.set_err(&m);
                ptr::null_mut()
            }
        }
    })
}

/// A dumper pointer.
///
/// # Safety
/// `d` is NULL or from `pcap_dump_open` & co.
unsafe fn dumper<'a>(d: *mut Dumper) -> Option<&'a mut Dumper> {
    // SAFETY: NULL or ours (caller).
    let d = unsafe { d.as_mut() }?;
    (d.magic == DUMPER_MAGIC).then_some(d)
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
