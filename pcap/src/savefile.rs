//! Savefiles: the real libpcap opens the file (and answers for its header:
//! link type, snapshot, version, precision); netring's reader delivers its
//! records. At the first record the reader cannot reproduce exactly (a
//! wire length below the captured length, a time stamp fraction of a
//! second or more, a malformed record, a record longer than the snapshot)
//! the real handle takes over for good: its stream is positioned at that
//! record (`fseeko` of its own libc) and it reads the rest, as libpcap's
//! `savefile.c` hands a file to `sf-pcap.c`. One reader at a time, no
//! record read twice.

use std::ffi::{CStr, c_char, c_int};

use crate::bpf;
use crate::code;
use crate::handle::{self, H, Kind, Pcap, RealHandle};
use crate::real::Real;
use crate::types::{BpfInsnC, PktHdr};

/// Bytes of a classic pcap file header and of a record header.
const FILE_HDR: u64 = 24;
const REC_HDR: u64 = 16;

/// netring's reader on a savefile the real libpcap opened too.
pub struct FileRead {
    reader: netring_engine::pcapfile::Reader,
    /// The program set with `pcap_setfilter` (also set on the real handle).
    pub filter: Option<Vec<BpfInsnC>>,
    /// Byte offset of the next record (where the real handle resumes).
    offset: u64,
    snapshot: u32,
    nano_file: bool,
    nano_handle: bool,
}

/// The classic pcap header of `path`: (big-endian, nanosecond) when it is
/// version 2.4 with one of the four magics.
fn classic_header(path: &str) -> Option<(bool, bool)> {
    let mut h = [0u8; 24];
    let mut f = std::fs::File::open(path).ok()?;
    std::io::Read::read_exact(&mut f, &mut h).ok()?;
    let (big, nano) = match u32::from_le_bytes([h[0], h[1], h[2], h[3]]) {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        _ => return None,
    };
    let u16_at = |o: usize| {
        let b = [h[o], h[o + 1]];
        if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    ((u16_at(4), u16_at(6)) == (2, 4)).then_some((big, nano))
}

/// Put netring's reader in front of a savefile handle the real library
/// just opened, when the file is a classic pcap file (version 2.4, micro-
/// or nanosecond magic, either byte order) named by a path.
///
/// # Safety
/// `p` is NULL or a handle of this library wrapping the real savefile
/// handle; `fname` is NULL or NUL-terminated.
pub unsafe fn attach(p: *mut Pcap, fname: *const c_char) {
    if fname.is_null() || crate::env::engine() == crate::env::Engine::Libpcap {
        return;
    }
    // SAFETY: NUL-terminated (caller).
    let path = unsafe { CStr::from_ptr(fname) }
        .to_string_lossy()
        .into_owned();
    if path == "-" {
        return;
    }
    let Some((_, nano_file)) = classic_header(&path) else {
        return;
    };
    let Ok(reader) = netring_engine::pcapfile::Reader::open(&path) else {
        return;
    };
    // SAFETY: p is NULL or ours (caller); no other borrow is alive.
    let Some(H::Real(r, rh, _)) = (unsafe { handle::enter(p) }) else {
        return;
    };
    // SAFETY: forwarded queries on the real handle.
    let (snap, prec) = unsafe {
        (
            (r.pcap_snapshot)(rh.ptr),
            (r.pcap_get_tstamp_precision)(rh.ptr),
        )
    };
    if snap <= 0 {
        return;
    }
    rh.file = Some(FileRead {
        reader,
        filter: None,
        offset: FILE_HDR,
        snapshot: snap as u32,
        nano_file,
        nano_handle: prec == 1,
    });
}

/// The handle's real side and reader, moved out (None: not a savefile
/// read here).
///
/// # Safety
/// As [`handle::state`].
unsafe fn take(p: *mut Pcap) -> Option<(&'static Real, *mut std::ffi::c_void, FileRead)> {
    // SAFETY: as documented (caller); the borrow ends here.
    match unsafe { handle::enter(p) }? {
        H::Real(r, RealHandle { ptr, file }, _) => file.take().map(|f| (r, *ptr, f)),
        H::Live(..) => None,
    }
}

/// libpcap's `pcap_offline_read` on netring's reader: up to `cnt` packets
/// (all to the end of the file when `cnt <= 0`), `PCAP_ERROR_BREAK` after
/// `pcap_breakloop` with nothing read, 0 at the end of the file; the real
/// handle reads the rest once it took over. Forwarded when the handle is
/// not a savefile read here.
///
/// # Safety
/// `p` is a real handle of this library (the borrow rule of
/// [`handle`](crate::handle)); `cb` may be called with `user`.
pub unsafe fn dispatch(
    p: *mut Pcap,
    cnt: c_int,
    cb: unsafe extern "C" fn(*mut u8, *const PktHdr, *const u8),
    user: *mut u8,
) -> c_int {
    // SAFETY: as documented (caller).
    let Some(pc) = (unsafe { handle::shared(p) }) else {
        return code::ERROR;
    };
    // SAFETY: as documented; no borrow of the handle is held below while
    // `cb` runs (the reader is moved out).
    let Some((r, rp, mut fr)) = (unsafe { take(p) }) else {
        // SAFETY: as documented.
        return match unsafe { handle::enter(p) } {
            // SAFETY: forwarded.
            Some(H::Real(r, rh, _)) => unsafe { (r.pcap_dispatch)(rh.ptr, cnt, Some(cb), user) },
            _ => code::ERROR,
        };
    };
    let (nano_file, nano_handle) = (fr.nano_file, fr.nano_handle);
    let mut n: c_int = 0;
    let mut hand_over = false;
    let res = loop {
        if pc.brk.requested() {
            if n == 0 {
                pc.brk.clear();
                break code::BREAK;
            }
            break n;
        }
        match fr.reader.next_packet_exact() {
            Ok(None) => break n,
            Ok(Some((pk, true))) if pk.data.len() as u32 <= fr.snapshot => {
                fr.offset += REC_HDR + pk.data.len() as u64;
                if let Some(prog) = &fr.filter {
                    if bpf::run(prog, pk.data, pk.wire_len, None) == 0 {
                        continue;
                    }
                }
                let h = header(
                    nano_file,
                    nano_handle,
                    pk.ts_ns,
                    pk.data.len() as u32,
                    pk.wire_len,
                );
                // SAFETY: the callback gets a header and the record's
                // bytes, valid for this call, as with libpcap.
                unsafe { cb(user, &h, pk.data.as_ptr()) };
                n += 1;
                if cnt > 0 && n >= cnt {
                    break n;
                }
            }
            _ => {
                hand_over = true;
                break n;
            }
        }
    };
    if !hand_over {
        // SAFETY: as documented; the callbacks have returned.
        if let Some(H::Real(_, rh, _)) = unsafe { handle::enter(p) } {
            rh.file = Some(fr);
        }
        return res;
    }
    // The real handle resumes at the record the reader stopped at (its
    // filter is already the handle's: pcap_setfilter set both).
    // SAFETY: the real savefile handle's own stream, positioned with its
    // own libc.
    let seek = unsafe { (r.fseeko)((r.pcap_file)(rp), fr.offset as libc::off_t, libc::SEEK_SET) };
    if seek != 0 {
        // SAFETY: as documented.
        if let Some(h) = unsafe { handle::state(p) } {
            h.io.set_err("savefile: the real libpcap could not take the file over");
        }
        return if n > 0 { n } else { code::ERROR };
    }
    let rest = if cnt > 0 { cnt - n } else { cnt };
    // SAFETY: forwarded; the real handle stands at the next record.
    let m = unsafe { (r.pcap_dispatch)(rp, rest, Some(cb), user) };
    if m < 0 { m } else { n + m }
}

/// A record's header: the file's time stamp in the handle's precision.
fn header(nano_file: bool, nano_handle: bool, ts_ns: u64, caplen: u32, len: u32) -> PktHdr {
    let sec = ts_ns / 1_000_000_000;
    let mut frac = ts_ns % 1_000_000_000;
    if !nano_file {
        frac /= 1000;
    }
    match (nano_file, nano_handle) {
        (true, false) => frac /= 1000,
        (false, true) => frac *= 1000,
        _ => {}
    }
    PktHdr {
        ts: libc::timeval {
            tv_sec: sec as libc::time_t,
            tv_usec: frac as libc::suseconds_t,
        },
        caplen,
        len,
    }
}

/// Whether the handle's savefile is read here.
///
/// # Safety
/// As [`handle::state`].
pub unsafe fn reading(p: *mut Pcap) -> bool {
    // SAFETY: as documented (caller).
    match unsafe { handle::state(p) } {
        Some(h) => matches!(&h.kind, Kind::Real(RealHandle { file: Some(_), .. })),
        None => false,
    }
}

/// Where the one-packet callback keeps its copy.
struct Keep {
    hdr: Option<PktHdr>,
    buf: Vec<u8>,
}

/// The one-packet callback of `pcap_next`/`pcap_next_ex`.
unsafe extern "C" fn keep_cb(user: *mut u8, h: *const PktHdr, d: *const u8) {
    // SAFETY: user is the Keep of `next_one`; h and d are valid for
    // h.caplen bytes during the call.
    unsafe {
        let k = &mut *user.cast::<Keep>();
        k.hdr = Some(*h);
        k.buf.clear();
        k.buf
            .extend_from_slice(std::slice::from_raw_parts(d, (*h).caplen as usize));
    }
}

/// One record into the handle's copy: 1, 0 at the end of the file, or an
/// error status.
///
/// # Safety
/// As [`dispatch`].
pub unsafe fn next_one(p: *mut Pcap) -> c_int {
    let mut k = Keep {
        hdr: None,
        buf: Vec::new(),
    };
    // SAFETY: as documented; k outlives the call.
    let n = unsafe { dispatch(p, 1, keep_cb, (&mut k as *mut Keep).cast()) };
    if let Some(hdr) = k.hdr {
        // SAFETY: as documented; no other borrow is alive.
        if let Some(h) = unsafe { handle::state(p) } {
            h.io.one_hdr = hdr;
            h.io.one_buf = k.buf;
        }
    }
    n
}
