//! Savefile writing (`pcap_dump_*`) on the host program's stdio, so the
//! `FILE *` handed out by `pcap_dump_file` and taken by `pcap_dump_fopen`
//! is the program's own.

use std::ffi::{CStr, c_int};

use crate::types::PktHdr;

/// Magic of a microsecond savefile.
pub const MAGIC_US: u32 = 0xa1b2_c3d4;
/// Magic of a nanosecond savefile.
pub const MAGIC_NS: u32 = 0xa1b2_3c4d;

/// A `pcap_dumper_t`.
pub struct Dumper {
    /// Tag checked on entry.
    pub magic: u64,
    /// The open stream (ours to close).
    pub f: *mut libc::FILE,
    /// One record, assembled for a single `fwrite`.
    pub scratch: Vec<u8>,
}

/// Tag of a live [`Dumper`].
pub const DUMPER_MAGIC: u64 = 0x6e72_6475_6d70_6572;

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
}

/// Write one record (header and data) without the stream lock: small ones
/// with one `fwrite` through the dumper's scratch buffer. Loading the real libpcap with `dlmopen`
/// makes glibc treat the process as multi-threaded, so every locked stdio
/// call would take the stream lock; a dumper, like libpcap's, is used by
/// one thread at a time.
///
/// # Safety
/// `d.f` is an open stream no other thread uses during the call.
pub unsafe fn write_record(d: &mut Dumper, h: &PktHdr, data: &[u8]) {
    let rh = record_header(h);
    if data.len() > 256 {
        // Large frames: two calls, but the frame is copied once.
        // SAFETY: d.f is open and not used concurrently (caller); the
        // slices are valid for their lengths.
        unsafe {
            fwrite_unlocked(rh.as_ptr().cast(), 1, rh.len(), d.f);
            fwrite_unlocked(data.as_ptr().cast(), 1, data.len(), d.f);
        }
        return;
    }
    let b = &mut d.scratch;
    b.clear();
    b.extend_from_slice(&rh);
    b.extend_from_slice(data);
    // SAFETY: d.f is open and not used concurrently (caller); b holds
    // b.len() bytes.
    unsafe { fwrite_unlocked(b.as_ptr().cast(), 1, b.len(), d.f) };
}

/// Write all of `b` to `f`.
///
/// # Safety
/// `f` is an open stream.
pub unsafe fn write(f: *mut libc::FILE, b: &[u8]) -> bool {
    // SAFETY: f is open (caller), b is valid for b.len() bytes.
    unsafe { libc::fwrite(b.as_ptr().cast(), 1, b.len(), f) == b.len() }
}

/// Check an existing savefile's header for appending: same link type and
/// precision, host byte order. Ok(true) when the file is empty or missing.
pub fn check_append(path: &CStr, nano: bool, linktype: u32) -> Result<bool, String> {
    let p = String::from_utf8_lossy(path.to_bytes()).into_owned();
    let data = match std::fs::read(&p) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(format!("{p}: {e}")),
    };
    if data.is_empty() {
        return Ok(true);
    }
    if data.len() < 24 {
        return Err(format!(
            "{p}: truncated dump file; tried to read 24 file header bytes, only got {}",
            data.len()
        ));
    }
    let magic = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
    let want = if nano { MAGIC_NS } else { MAGIC_US };
    if magic == MAGIC_US.swap_bytes() || magic == MAGIC_NS.swap_bytes() {
        return Err(format!(
            "{p}: different byte order from the machine's; cannot append"
        ));
    }
    if magic != want {
        if magic == MAGIC_US || magic == MAGIC_NS {
            return Err(format!(
                "{p}: different time stamp precision, cannot append to file"
            ));
        }
        return Err(format!("{p}: not a pcap file"));
    }
    let lt = u32::from_ne_bytes([data[20], data[21], data[22], data[23]]);
    if lt != linktype {
        return Err(format!("{p}: different linktype, cannot append to file"));
    }
    Ok(false)
}

/// `fopen` with a mode.
pub fn fopen(path: &CStr, mode: &CStr) -> *mut libc::FILE {
    // SAFETY: both are NUL-terminated C strings.
    unsafe { libc::fopen(path.as_ptr(), mode.as_ptr()) }
}

/// errno as text.
pub fn errno_text() -> String {
    std::io::Error::last_os_error().to_string()
}

/// An int as the C `int` result of a dumper call.
pub fn ok(b: bool) -> c_int {
    if b { 0 } else { -1 }
}

/// (nanosecond, snapshot, LINKTYPE_) of a handle, for a savefile header.
pub fn params(h: &mut crate::handle::H<'_>) -> Result<(bool, u32, u32), String> {
    let (nano, snap, dlt) = match h {
        crate::handle::H::Real(r, rh, _) => {
            // SAFETY: forwarded queries on the real handle.
            unsafe {
                (
                    (r.pcap_get_tstamp_precision)(rh.ptr) == 1,
                    (r.pcap_snapshot)(rh.ptr),
                    (r.pcap_datalink)(rh.ptr),
                )
            }
        }
        crate::handle::H::Live(l, _) => {
            if l.active.is_none() {
                return Err("not-yet-activated pcap_t passed to pcap_dump_open".into());
            }
            (l.opts.nano, l.snapshot() as c_int, l.linktype)
        }
    };
    match crate::datalink::dlt_to_linktype(dlt) {
        Some(lt) => Ok((nano, snap.max(0) as u32, lt)),
        None => Err(format!(
            "link-layer type {dlt} isn't supported in savefiles"
        )),
    }
}

/// A new dumper on `f` (ours to close).
pub fn new_dumper(f: *mut libc::FILE) -> *mut Dumper {
    Box::into_raw(Box::new(Dumper {
        magic: DUMPER_MAGIC,
        f,
        scratch: Vec::with_capacity(2048),
    }))
}

/// A dumper pointer.
///
/// # Safety
/// `d` is NULL or from `pcap_dump_open` & co, not yet closed.
pub unsafe fn dumper<'a>(d: *mut Dumper) -> Option<&'a mut Dumper> {
    // SAFETY: NULL or ours (caller).
    let d = unsafe { d.as_mut() }?;
    (d.magic == DUMPER_MAGIC).then_some(d)
}
