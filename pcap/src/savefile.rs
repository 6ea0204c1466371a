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
use crate::handle::{self, H, Kind, Pcap, RealHandle, Stream};
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
    /// The file's byte order is not the host's.
    swapped: bool,
    /// The record buffer the callback gets, as libpcap's `p->buffer`
    /// (snapshot bytes, each record copied to its start): a program that
    /// reads past `caplen` sees the earlier records' bytes there, as with
    /// libpcap, not the next record's header.
    buf: Vec<u8>,
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
    if p.is_null() || fname.is_null() || crate::env::engine() == crate::env::Engine::Libpcap {
        return;
    }
    // errno stays as the real library's open left it.
    let errno = crate::real::errno();
    // SAFETY: as documented (caller).
    unsafe { attach_reader(p, fname) };
    crate::real::set_errno(errno);
}

/// [`attach`]'s work.
///
/// # Safety
/// As [`attach`].
unsafe fn attach_reader(p: *mut Pcap, fname: *const c_char) {
    // SAFETY: NUL-terminated (caller).
    let path = unsafe { CStr::from_ptr(fname) }
        .to_string_lossy()
        .into_owned();
    if path == "-" {
        return;
    }
    let Some((big, nano_file)) = classic_header(&path) else {
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
        swapped: big != cfg!(target_endian = "big"),
        buf: Vec::new(),
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
        H::Real(r, RealHandle { ptr, file, .. }, _) => file.take().map(|f| (r, *ptr, f)),
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
    let (nano_file, nano_handle, swapped) = (fr.nano_file, fr.nano_handle, fr.swapped);
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
                // Into the buffer first, filtered or not (libpcap reads
                // every record into it).
                if fr.buf.is_empty() {
                    fr.buf = vec![0; fr.snapshot as usize];
                }
                fr.buf[..pk.data.len()].copy_from_slice(pk.data);
                if let Some(prog) = &fr.filter {
                    if bpf::run(prog, pk.data, pk.wire_len, None) == 0 {
                        continue;
                    }
                }
                let h = header(
                    (nano_file, nano_handle, swapped),
                    pk.ts_ns,
                    pk.data.len() as u32,
                    pk.wire_len,
                );
                // SAFETY: the callback gets a header and the record's
                // bytes in the handle's buffer, valid for this call, as
                // with libpcap.
                unsafe { cb(user, &h, fr.buf.as_ptr()) };
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
    // SAFETY: rp is the real savefile handle.
    if !unsafe { seek_real(r, rp, fr.offset) } {
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

/// Position the real savefile handle's stream at `offset` (its own libc's
/// `fseeko`, which takes either side's stream).
///
/// # Safety
/// `rp` is a real savefile handle.
unsafe fn seek_real(r: &Real, rp: *mut std::ffi::c_void, offset: u64) -> bool {
    // SAFETY: the handle's stream is open (caller).
    unsafe { (r.fseeko)((r.pcap_file)(rp), offset as libc::off_t, libc::SEEK_SET) == 0 }
}

/// `pcap_file` on a savefile handle: a stream of the program's own libc,
/// shared with the real library. The real library's `FILE` would fail
/// glibc's checks in the program (tcpslice aborted), so the first call
/// makes a program-side stream on the same open file (a duplicate
/// descriptor) at the same position, and the real handle reads through it
/// from then on (its `rfile` swapped, see [`swap_rfile`]): the program's
/// `fseek`/`fread` and `pcap_next` then see one position and one buffer,
/// as with libpcap. netring's reader hands the file over first, at the
/// next record. Later calls return the same stream.
///
/// # Safety
/// As [`handle::enter`].
pub unsafe fn file(p: *mut Pcap) -> *mut libc::FILE {
    // SAFETY: as documented.
    let Some(H::Real(r, rh, _)) = (unsafe { handle::enter(p) }) else {
        return std::ptr::null_mut();
    };
    if let Some(fr) = rh.file.take() {
        // SAFETY: rh.ptr is the real savefile handle.
        if !unsafe { seek_real(r, rh.ptr, fr.offset) } {
            rh.file = Some(fr);
        }
    }
    // SAFETY: forwarded query.
    let rf = unsafe { (r.pcap_file)(rh.ptr) };
    if rf.is_null() || rh.stream.is_some() || rh.file.is_some() {
        return rf;
    }
    // SAFETY: rf is the real handle's open stream (fileno only reads its
    // descriptor field); the new stream is ours until swapped in.
    unsafe {
        let pos = (r.ftello)(rf);
        let fd = libc::dup(libc::fileno(rf));
        let f = if fd < 0 {
            std::ptr::null_mut()
        } else if pos < 0 {
            // A pipe (stdin): no position, so what the real stream read
            // ahead comes first.
            piped_stream(rf, fd)
        } else {
            libc::fdopen(fd, c"rb".as_ptr())
        };
        if f.is_null() {
            if fd >= 0 && pos >= 0 {
                libc::close(fd);
            }
            return std::ptr::null_mut();
        }
        if (pos >= 0 && libc::fseeko(f, pos, libc::SEEK_SET) != 0) || !swap_rfile(r, rh.ptr, rf, f)
        {
            libc::fclose(f);
            return std::ptr::null_mut();
        }
        rh.stream = Some(Stream {
            f,
            close: true,
            restore: rf,
        });
        f
    }
}

/// A program-side stream for a savefile read from a pipe (no position to
/// seek to): the bytes the real library's stream has read ahead, then the
/// descriptor (`fopencookie`; seeking fails with ESPIPE, as on the pipe).
struct Piped {
    ahead: Vec<u8>,
    at: usize,
    fd: c_int,
}

#[repr(C)]
struct CookieIo {
    read: unsafe extern "C" fn(*mut std::ffi::c_void, *mut c_char, usize) -> isize,
    write: Option<unsafe extern "C" fn(*mut std::ffi::c_void, *const c_char, usize) -> isize>,
    seek: unsafe extern "C" fn(*mut std::ffi::c_void, *mut i64, c_int) -> c_int,
    close: unsafe extern "C" fn(*mut std::ffi::c_void) -> c_int,
}

unsafe extern "C" {
    fn fopencookie(
        cookie: *mut std::ffi::c_void,
        mode: *const c_char,
        io: CookieIo,
    ) -> *mut libc::FILE;
}

unsafe extern "C" fn piped_read(c: *mut std::ffi::c_void, b: *mut c_char, n: usize) -> isize {
    // SAFETY: c is the Piped of `piped_stream`, b holds n bytes (stdio).
    unsafe {
        let p = &mut *c.cast::<Piped>();
        if p.at < p.ahead.len() {
            let k = n.min(p.ahead.len() - p.at);
            std::ptr::copy_nonoverlapping(p.ahead.as_ptr().add(p.at), b.cast::<u8>(), k);
            p.at += k;
            return k as isize;
        }
        libc::read(p.fd, b.cast(), n)
    }
}

unsafe extern "C" fn piped_seek(_: *mut std::ffi::c_void, _: *mut i64, _: c_int) -> c_int {
    crate::real::set_errno(libc::ESPIPE);
    -1
}

unsafe extern "C" fn piped_close(c: *mut std::ffi::c_void) -> c_int {
    // SAFETY: c came from Box::into_raw in `piped_stream`; closed once.
    let p = unsafe { Box::from_raw(c.cast::<Piped>()) };
    // SAFETY: the duplicate descriptor is ours.
    unsafe { libc::close(p.fd) }
}

/// The program-side stream for the real library's unseekable stream `rf`
/// on the descriptor `fd` (ours): what `rf` read ahead (glibc's `FILE`
/// layout, part of its ABI: `_IO_read_ptr` and `_IO_read_end` follow the
/// flags word), then the rest of the pipe.
///
/// # Safety
/// `rf` is an open glibc input stream; `fd` a descriptor we own.
unsafe fn piped_stream(rf: *mut libc::FILE, fd: c_int) -> *mut libc::FILE {
    // SAFETY: glibc's struct _IO_FILE: int _flags, then the read pointers.
    let ahead = unsafe {
        let base = rf.cast::<*const u8>();
        let (ptr, end) = (*base.add(1), *base.add(2));
        if ptr.is_null() || end < ptr {
            Vec::new()
        } else {
            std::slice::from_raw_parts(ptr, end.offset_from(ptr) as usize).to_vec()
        }
    };
    let p = Box::into_raw(Box::new(Piped { ahead, at: 0, fd }));
    let io = CookieIo {
        read: piped_read,
        write: None,
        seek: piped_seek,
        close: piped_close,
    };
    // SAFETY: p is a valid cookie for these functions until piped_close.
    let f = unsafe { fopencookie(p.cast(), c"rb".as_ptr(), io) };
    if f.is_null() {
        // SAFETY: not handed out: ours to free.
        unsafe { piped_close(p.cast()) };
    }
    f
}

/// Record that a real savefile handle reads the program's stream `f`
/// (`pcap_fopen_offline`; closed at `pcap_close` when `close`).
///
/// # Safety
/// `p` is NULL or a handle of this library, not borrowed elsewhere.
pub unsafe fn adopt(r: &Real, p: *mut Pcap, f: *mut libc::FILE, close: bool) {
    // SAFETY: as documented.
    if let Some(H::Real(_, rh, _)) = unsafe { handle::enter(p) } {
        rh.stream = Some(Stream {
            f,
            close,
            // The real library's stdin: its pcap_close never closes it.
            restore: r.stdin(),
        });
    }
}

/// Before the real `pcap_close` of a handle reading a program-side
/// stream: the real library would `fclose` it with its own libc (freeing
/// the program's memory with the wrong allocator), so its `rfile` gets
/// back its own stream (or its `stdin`, which it never closes). Returns
/// the stream to close with the program's `fclose` afterwards. None:
/// nothing to do, or the swap failed (the real library then closes it).
///
/// # Safety
/// `rh` is a live real handle.
pub unsafe fn release(r: &Real, rh: &mut RealHandle) -> Option<*mut libc::FILE> {
    let s = rh.stream.take()?;
    // SAFETY: rh.ptr is live (caller).
    let swapped = !s.restore.is_null() && unsafe { swap_rfile(r, rh.ptr, s.f, s.restore) };
    (swapped && s.close).then_some(s.f)
}

/// Replace the real handle's `rfile` (`from`, as `pcap_file` returns it)
/// by `to`. The field is found by value among the first words of libpcap
/// 1.10's `struct pcap` (after the ops, fd, buffer, break flag, priv,
/// next, swapped; the struct is far larger than the 32 words read) and
/// the result is checked with `pcap_file`; false (nothing changed) when
/// it is not found.
///
/// # Safety
/// `rp` is a live real handle.
unsafe fn swap_rfile(
    r: &Real,
    rp: *mut std::ffi::c_void,
    from: *mut libc::FILE,
    to: *mut libc::FILE,
) -> bool {
    // SAFETY: forwarded query.
    if unsafe { (r.pcap_file)(rp) } != from {
        return false;
    }
    let words = rp.cast::<usize>();
    // SAFETY: the real pcap_t is at least 32 words long and aligned.
    let Some(slot) = (0..32).find(|&i| unsafe { words.add(i).read() } == from as usize) else {
        return false;
    };
    // SAFETY: slot is inside the struct (above).
    unsafe { words.add(slot).write(to as usize) };
    // SAFETY: forwarded query.
    if unsafe { (r.pcap_file)(rp) } != to {
        // SAFETY: as above: put it back.
        unsafe { words.add(slot).write(from as usize) };
        return false;
    }
    true
}

/// A record's header: the file's time stamp in the handle's precision.
/// The seconds are the file's 32 bits as libpcap 1.10 reads them: signed
/// in the host's byte order (2^31 s and more are before 1970), unsigned
/// when swapped (its `SWAPLONG` yields an unsigned value).
fn header(
    (nano_file, nano_handle, swapped): (bool, bool, bool),
    ts_ns: u64,
    caplen: u32,
    len: u32,
) -> PktHdr {
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
            tv_sec: if swapped {
                sec as libc::time_t
            } else {
                sec as u32 as i32 as libc::time_t
            },
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
