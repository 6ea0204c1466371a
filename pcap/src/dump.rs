//! Savefile writing (`pcap_dump_*`) on the host program's stdio, so the
//! `FILE *` handed out by `pcap_dump_file` and taken by `pcap_dump_fopen`
//! is the program's own.

use std::ffi::{CStr, c_int};

use crate::types::PktHdr;

/// Magic of a microsecond savefile.
pub const MAGIC_US: u32 = 0xa1b2_c3d4;
/// Magic of a nanosecond savefile.
pub const MAGIC_NS: u32 = 0xa1b2_3c4d;

/// A `pcap_dumper_t`: the program's `FILE *` itself, as in libpcap
/// (`pcap_dump_open` returns the stream cast). Programs rely on it:
/// daemonlogger calls `ftell((FILE *)dumper)`.
pub type Dumper = libc::FILE;

/// The 24-byte file header as libpcap writes it (host byte order).
pub fn file_header(nano: bool, snaplen: u32, linktype: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&(if nano { MAGIC_NS } else { MAGIC_US }).to_ne_bytes());
    h[4..6].copy_from_slice(&2u16.to_ne_bytes());
    h[6..8].copy_from_slice(&4u16.to_ne_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&snaplen.to_ne_bytes());
    h[20..24].copy_from_slice(&linktype.to_ne_bytes());
    h
}

/// The 16-byte record header (`struct pcap_sf_pkthdr`).
pub fn record_header(h: &PktHdr) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[0..4].copy_from_slice(&(h.ts.tv_sec as u32).to_ne_bytes());
    r[4..8].copy_from_slice(&(h.ts.tv_usec as u32).to_ne_bytes());
    r[8..12].copy_from_slice(&h.caplen.to_ne_bytes());
    r[12..16].copy_from_slice(&h.len.to_ne_bytes());
    r
}

/// Stdio buffer of the files `pcap_dump_open` opens itself: 256 KiB (glibc
/// would pick the file system's block size, 4 KiB: a `write` every few
/// packets). `pcap_dump_flush` (tcpdump `-U`) still writes at once.
pub const FILE_BUFFER: usize = 256 << 10;

unsafe extern "C" {
    fn fwrite_unlocked(p: *const libc::c_void, size: usize, n: usize, f: *mut libc::FILE) -> usize;
    fn ferror_unlocked(f: *mut libc::FILE) -> c_int;
}

/// Write one record (header and data) on `f` without the stream lock:
/// small ones with one `fwrite` through a per-thread scratch buffer.
/// Loading the real libpcap with `dlmopen` makes glibc treat the process
/// as multi-threaded, so every locked stdio call would take the stream
/// lock; a dumper, like libpcap's, is used by one thread at a time.
///
/// # Safety
/// `f` is an open stream no other thread uses during the call.
pub unsafe fn write_record(f: *mut libc::FILE, h: &PktHdr, data: &[u8]) {
    // A stream in error writes nothing more (libpcap's pcap_dump).
    // SAFETY: f is open (caller).
    if unsafe { ferror_unlocked(f) } != 0 {
        return;
    }
    let rh = record_header(h);
    if data.len() > 256 {
        // Large frames: two calls, but the frame is copied once.
        // SAFETY: f is open and not used concurrently (caller); the
        // slices are valid for their lengths.
        unsafe {
            if fwrite_unlocked(rh.as_ptr().cast(), rh.len(), 1, f) == 1 {
                fwrite_unlocked(data.as_ptr().cast(), 1, data.len(), f);
            }
        }
        return;
    }
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
    }
    SCRATCH.with_borrow_mut(|b| {
        b.clear();
        b.extend_from_slice(&rh);
        b.extend_from_slice(data);
        // SAFETY: f is open and not used concurrently (caller); b holds
        // b.len() bytes.
        unsafe { fwrite_unlocked(b.as_ptr().cast(), 1, b.len(), f) };
    });
}

/// Write all of `b` to `f`.
///
/// # Safety
/// `f` is an open stream.
pub unsafe fn write(f: *mut libc::FILE, b: &[u8]) -> bool {
    // SAFETY: f is open (caller), b is valid for b.len() bytes.
    unsafe { libc::fwrite(b.as_ptr().cast(), 1, b.len(), f) == b.len() }
}

/// `strerror(errno)`: the text libpcap's `pcap_fmt_errmsg_for_errno` puts
/// after its colon.
pub fn errno_text() -> String {
    let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: strerror returns a NUL-terminated string valid until the
    // next call on this thread; it is copied at once.
    unsafe { crate::cmem::owned(libc::strerror(e)) }
}

/// An int as the C `int` result of a dumper call.
pub fn ok(b: bool) -> c_int {
    if b { 0 } else { -1 }
}

/// Why a handle cannot be dumped.
pub enum NoDump {
    /// `pcap_dump_open` on a handle not activated.
    NotActivated,
    /// A DLT with no LINKTYPE_ value.
    Unsupported(c_int),
}

/// What a savefile header written for a handle records.
#[derive(Clone, Copy)]
pub struct Params {
    /// Nanosecond time stamps.
    pub nano: bool,
    /// The handle's snapshot length.
    pub snap: u32,
    /// `dlt_to_linktype` of the handle's DLT.
    pub linktype: u32,
    /// The upper bits of a savefile's link-type field (`pcap_datalink_ext`;
    /// 0 for live handles): libpcap writes `linktype | ext`, except when
    /// appending.
    pub ext: u32,
}

/// The savefile parameters of a handle (libpcap's `pcap_dump_open` and
/// `pcap_dump_fopen` prologue).
pub fn params(h: &mut crate::handle::H<'_>) -> Result<Params, NoDump> {
    let (nano, snap, dlt, ext) = match h {
        crate::handle::H::Real(r, rh, _) => {
            // SAFETY: forwarded queries on the real handle.
            unsafe {
                (
                    (r.pcap_get_tstamp_precision)(rh.ptr) == 1,
                    (r.pcap_snapshot)(rh.ptr),
                    (r.pcap_datalink)(rh.ptr),
                    (r.pcap_datalink_ext)(rh.ptr) as u32,
                )
            }
        }
        crate::handle::H::Live(l, _) => {
            if l.active.is_none() {
                return Err(NoDump::NotActivated);
            }
            (l.opts.nano, l.snapshot() as c_int, l.linktype, 0)
        }
    };
    match crate::datalink::dlt_to_linktype(dlt) {
        Some(linktype) => Ok(Params {
            nano,
            snap: snap as u32,
            linktype,
            ext,
        }),
        None => Err(NoDump::Unsupported(dlt)),
    }
}

/// libpcap's checks of an existing file's header before appending (its
/// texts): Ok(true) when the file has no header yet (empty).
///
/// # Safety
/// `f` is an open stream, readable.
pub unsafe fn check_append(f: *mut libc::FILE, name: &str, p: &Params) -> Result<bool, String> {
    let mut h = [0u8; 24];
    // SAFETY: f is open (caller); h holds 24 bytes.
    let n = unsafe {
        if libc::fseek(f, 0, libc::SEEK_SET) == -1 {
            return Err(format!(
                "Can't seek to the beginning of {name}: {}",
                errno_text()
            ));
        }
        libc::fread(h.as_mut_ptr().cast(), 1, h.len(), f)
    };
    if n != h.len() {
        // SAFETY: f is open.
        if unsafe { libc::ferror(f) } != 0 {
            return Err(format!("{name}: {}", errno_text()));
        }
        if n > 0 {
            return Err(format!("{name}: truncated pcap file header"));
        }
        return Ok(true);
    }
    let u32_at = |o: usize| u32::from_ne_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let want = if p.nano { MAGIC_NS } else { MAGIC_US };
    match u32_at(0) {
        m if m == want => {}
        MAGIC_US | MAGIC_NS => {
            return Err(format!(
                "{name}: different time stamp precision, cannot append to file"
            ));
        }
        m if m == MAGIC_US.swap_bytes() || m == MAGIC_NS.swap_bytes() => {
            return Err(format!(
                "{name}: different byte order, cannot append to file"
            ));
        }
        // The patched (Kuznetzov) and Navtel magics, either byte order.
        0xa1b2_cd34 | 0x34cd_b2a1 | 0xa12b_3c4d | 0x4d3c_2ba1 => {
            return Err(format!("{name}: not a pcap file to which we can append"));
        }
        _ => return Err(format!("{name}: not a pcap file")),
    }
    let (major, minor) = (
        u16::from_ne_bytes([h[4], h[5]]),
        u16::from_ne_bytes([h[6], h[7]]),
    );
    if (major, minor) != (2, 4) {
        return Err(format!(
            "{name}: version is {major}.{minor}, cannot append to file"
        ));
    }
    if u32_at(20) != p.linktype {
        return Err(format!("{name}: different linktype, cannot append to file"));
    }
    if u32_at(16) != p.snap {
        return Err(format!("{name}: different snaplen, cannot append to file"));
    }
    Ok(false)
}

/// `fopen` with a mode.
pub fn fopen(path: &CStr, mode: &CStr) -> *mut libc::FILE {
    // SAFETY: both are NUL-terminated C strings.
    unsafe { libc::fopen(path.as_ptr(), mode.as_ptr()) }
}

/// A dumper pointer: NULL stays NULL (libpcap would crash on it).
pub fn dumper(d: *mut Dumper) -> Option<*mut libc::FILE> {
    (!d.is_null()).then_some(d)
}
