//! Handles: a `pcap_t` is a [`Pcap`], either served by netring (a
//! [`Live`] capture) or a handle of the real libpcap that every call is
//! forwarded to (with netring's savefile reader in front, see
//! [`savefile`](crate::savefile)). libpcap's `pcap_t` dispatches through
//! per-handle ops the same way.
//!
//! # The borrow rule
//! A handle is used by one thread at a time (libpcap's rule), and the
//! host program may call back into the handle from a packet callback
//! (`pcap_stats`, `pcap_dump_open`, `pcap_breakloop`, ...). So a `&mut`
//! to a handle's state is made only by [`enter`]/[`state`], from the raw
//! pointer at the export boundary, and no such borrow is held across a
//! call into the host program: the read loops move what they need out of
//! the handle first and put it back after the callbacks. `pcap_breakloop`
//! (any thread, a signal handler) touches only [`Pcap::brk`], outside the
//! state's `UnsafeCell`.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use netring_engine::Breaker;

use crate::cmem::write_errbuf;
use crate::live::Live;
use crate::real::{self, Real};
use crate::savefile::FileRead;
use crate::types::{ERRBUF_SIZE, PktHdr};

const MAGIC: u64 = 0x6e72_7063_6170_5f74;

/// libpcap's text for an operation on a handle not yet activated.
pub const NOT_ACTIVATED_TEXT: &str = "This handle hasn't been activated yet";

/// A `pcap_t`.
pub struct Pcap {
    magic: u64,
    /// What `pcap_breakloop` touches.
    pub brk: Break,
    /// A live read loop is running the program's callback (see
    /// `live::read::reclaim_stale`).
    pub in_callback: std::sync::atomic::AtomicBool,
    /// The real handle, when the handle forwards (never changes; read by
    /// `pcap_breakloop` from any thread).
    pub real: *mut c_void,
    state: UnsafeCell<Handle>,
}

/// `pcap_breakloop`'s state: an atomic flag (checked between packets with
/// a plain load) and, once activated, the engine's breaker (an eventfd
/// that ends a wait at once).
#[derive(Default)]
pub struct Break {
    flag: AtomicBool,
    engine: OnceLock<Breaker>,
}

impl Break {
    /// Ask the loop to stop (async-signal-safe).
    pub fn request(&self) {
        self.flag.store(true, Ordering::Release);
        if let Some(b) = self.engine.get() {
            b.break_loop();
        }
    }

    /// A break was asked for (a plain load).
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Consume a request the engine already reported (`Wait::Interrupted`).
    pub fn clear(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }

    /// Consume a request seen between packets: the flag and the engine's
    /// side (its eventfd).
    pub fn take(&self) {
        self.clear();
        if let Some(b) = self.engine.get() {
            b.take_request();
        }
    }

    /// Hand the engine's breaker over at activation (a request made before
    /// is passed on).
    pub fn attach(&self, b: Breaker) {
        if self.requested() {
            b.break_loop();
        }
        let _ = self.engine.set(b);
    }
}

/// A handle's state.
pub struct Handle {
    /// The error buffer and the one-packet copy.
    pub io: Io,
    /// What serves the handle.
    pub kind: Kind,
}

/// What serves a handle (one per `pcap_t`, on the heap: the variants'
/// sizes do not matter).
#[allow(clippy::large_enum_variant)]
pub enum Kind {
    /// netring.
    Live(Live),
    /// The real libpcap.
    Real(RealHandle),
}

/// A handle of the real libpcap.
pub struct RealHandle {
    /// The real `pcap_t`.
    pub ptr: *mut c_void,
    /// netring's reader on a savefile the real handle opened too (None
    /// once the real handle took over, or when it reads the whole file).
    pub file: Option<FileRead>,
    /// A savefile's stream of the program's stdio: the one it gave
    /// `pcap_fopen_offline`, or the one `pcap_file` made.
    pub stream: Option<Stream>,
}

/// The program-side stream a real savefile handle reads.
#[derive(Clone, Copy)]
pub struct Stream {
    /// The `FILE *` (the handle's `rfile`).
    pub f: *mut libc::FILE,
    /// Closed at `pcap_close` (libpcap closes every stream but stdin).
    pub close: bool,
    /// What the real handle's `rfile` becomes before its `pcap_close`:
    /// its own stream (`pcap_file` swapped ours in) or its `stdin` (the
    /// program's stream of `pcap_fopen_offline`).
    pub restore: *mut libc::FILE,
}

/// What every handle has: its error text and the copy `pcap_next` and
/// `pcap_next_ex` return.
pub struct Io {
    errbuf: [c_char; ERRBUF_SIZE],
    /// For a real handle: the last error was ours (in `errbuf`).
    own_err: bool,
    /// The last packet of `pcap_next`/`pcap_next_ex`: header.
    pub one_hdr: PktHdr,
    /// The last packet of `pcap_next`/`pcap_next_ex`: a copy of its bytes
    /// (libpcap's oneshot callback copies too).
    pub one_buf: Vec<u8>,
}

impl Io {
    /// Set the handle's error text.
    pub fn set_err(&mut self, msg: &str) {
        self.own_err = true;
        // SAFETY: errbuf is ERRBUF_SIZE bytes owned by this handle.
        unsafe { write_errbuf(self.errbuf.as_mut_ptr(), msg) };
    }
}

/// A handle, resolved for an exported function.
pub enum H<'a> {
    /// Forward to the real libpcap's handle.
    Real(&'static Real, &'a mut RealHandle, &'a mut Io),
    /// Served by netring.
    Live(&'a mut Live, &'a mut Io),
}

impl<'a> H<'a> {
    /// The handle's error text and copy.
    pub fn io(&mut self) -> &mut Io {
        match self {
            H::Real(_, _, io) | H::Live(_, io) => io,
        }
    }

    /// The handle's error text and copy, for the rest of the borrow.
    pub fn into_io(self) -> &'a mut Io {
        match self {
            H::Real(_, _, io) | H::Live(_, io) => io,
        }
    }
}

impl Pcap {
    /// A new handle for the host program.
    pub fn new(kind: Kind) -> *mut Pcap {
        let real = match &kind {
            Kind::Real(rh) => rh.ptr,
            Kind::Live(_) => std::ptr::null_mut(),
        };
        Box::into_raw(Box::new(Pcap {
            magic: MAGIC,
            brk: Break::default(),
            in_callback: std::sync::atomic::AtomicBool::new(false),
            real,
            state: UnsafeCell::new(Handle {
                io: Io {
                    errbuf: [0; ERRBUF_SIZE],
                    own_err: false,
                    one_hdr: PktHdr::ZERO,
                    one_buf: Vec::new(),
                },
                kind,
            }),
        }))
    }

    /// A handle wrapping a real one (NULL stays NULL).
    pub fn wrap_real(ptr: *mut c_void) -> *mut Pcap {
        if ptr.is_null() {
            return std::ptr::null_mut();
        }
        Pcap::new(Kind::Real(RealHandle {
            ptr,
            file: None,
            stream: None,
        }))
    }
}

/// The shared part of a handle (what `pcap_breakloop` may touch from any
/// thread).
///
/// # Safety
/// `p` is NULL or a pointer this library returned and not yet closed.
pub unsafe fn shared<'a>(p: *mut Pcap) -> Option<&'a Pcap> {
    // SAFETY: NULL or ours (caller); the magic rejects a foreign pointer
    // of a closed handle in most cases (a debugging aid, not a guarantee).
    let pc = unsafe { p.as_ref() }?;
    (pc.magic == MAGIC).then_some(pc)
}

/// A handle's state, borrowed mutably.
///
/// # Safety
/// As [`shared`], and the module's borrow rule: the handle's thread, no
/// other borrow of the state alive, and the borrow ends before the host
/// program is called.
pub unsafe fn state<'a>(p: *mut Pcap) -> Option<&'a mut Handle> {
    // SAFETY: as documented (caller); the state is inside an UnsafeCell,
    // so `brk` may be borrowed meanwhile.
    unsafe { shared(p).map(|pc| &mut *pc.state.get()) }
}

/// A handle resolved for an exported function: forwarded to the real
/// libpcap, or served here. A real handle's own error is reset (the next
/// `pcap_geterr` is the real library's) unless this call sets one.
///
/// # Safety
/// As [`state`].
pub unsafe fn enter<'a>(p: *mut Pcap) -> Option<H<'a>> {
    // SAFETY: as documented (caller).
    let h = unsafe { state(p) }?;
    match &mut h.kind {
        Kind::Live(l) => Some(H::Live(l, &mut h.io)),
        Kind::Real(rh) => {
            let r = real::try_get()?;
            h.io.own_err = false;
            Some(H::Real(r, rh, &mut h.io))
        }
    }
}

/// `pcap_geterr`: the handle's text (the real handle's, unless the last
/// error was ours).
///
/// # Safety
/// As [`state`].
pub unsafe fn errbuf(p: *mut Pcap) -> *mut c_char {
    // SAFETY: as documented (caller).
    let Some(h) = (unsafe { state(p) }) else {
        return std::ptr::null_mut();
    };
    if let Kind::Real(rh) = &h.kind {
        if !h.io.own_err {
            if let Some(r) = real::try_get() {
                // SAFETY: forwarded; the buffer lives as long as the handle.
                return unsafe { (r.pcap_geterr)(rh.ptr) };
            }
        }
    }
    h.io.errbuf.as_mut_ptr()
}

/// Free a handle.
///
/// # Safety
/// `p` is ours, not used again.
pub unsafe fn free(p: *mut Pcap) {
    // SAFETY: p came from Box::into_raw (caller); the magic is cleared so
    // a second close of the same pointer is refused while the memory is
    // not yet reused.
    unsafe {
        (*p).magic = 0;
        drop(Box::from_raw(p));
    }
}
