//! Filters: compiling (the real libpcap's compiler), setting, running.

use std::ffi::{c_char, c_int, c_uint};
use std::ptr;

use super::{enter, status};
use crate::cmem::{adopt_program, insns, owned, puts_stdout};
use crate::filter::{self, Target};
use crate::handle::{self, H, Pcap};
use crate::types::{BpfInsnC, BpfProgram, PktHdr};
use crate::{bpf, code, guard, real};

/// `pcap_compile`: the real libpcap's compiler, on the shadow (a real
/// handle of the same device) for netring handles.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_compile(
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
        let Some(mut h) = (unsafe { handle::enter(p) }) else {
            // A handle of ours without the real library: say why.
            // SAFETY: p is NULL or ours.
            if let Some(st) = unsafe { handle::state(p) } {
                let e = real::get().err().unwrap_or("");
                st.io.set_err(&format!(
                    "pcap_compile: filters are compiled by the system libpcap: {e}"
                ));
            }
            return code::ERROR;
        };
        let target = match &h {
            H::Real(r, rh, _) => Ok(Target::real(r, rh.ptr)),
            H::Live(l, _) => Target::live(l),
        };
        let live = matches!(h, H::Live(..));
        // SAFETY: fp checked non-NULL; s NULL or NUL-terminated.
        match target
            .and_then(|t| unsafe { t.compile(fp, s, optimize, netmask) }.map_err(|(_, m)| m))
        {
            Ok(()) => 0,
            // A real handle keeps the real library's message.
            Err(_) if !live => code::ERROR,
            Err(m) => status(h.io(), Err(m)),
        }
    })
}

/// `pcap_compile_nopcap`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_compile_nopcap(
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
pub unsafe extern "C-unwind" fn pcap_freecode(fp: *mut BpfProgram) {
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

/// `pcap_setfilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_setfilter(p: *mut Pcap, fp: *mut BpfProgram) -> c_int {
    guard!(code::ERROR, {
        // A read loop this thread left with a longjmp gives its state back.
        // SAFETY: p is NULL or ours; no borrow of it is alive.
        unsafe { crate::live::read::reclaim_stale(p) };
        match enter!(p, code::ERROR) {
            H::Real(r, rh, _) => {
                // SAFETY: forwarded; the real library copies the program.
                let st = unsafe { (r.pcap_setfilter)(rh.ptr, fp) };
                if let (0, Some(fr)) = (st, rh.file.as_mut()) {
                    // SAFETY: fp is a valid program (the real library
                    // accepted it).
                    fr.filter = unsafe { insns(fp) }.map(<[BpfInsnC]>::to_vec);
                }
                st
            }
            H::Live(l, io) if l.active.is_none() => super::not_activated(io),
            H::Live(l, io) => {
                // SAFETY: fp is NULL or a valid program.
                let r = match unsafe { insns(fp) } {
                    None => Err("setfilter: No filter specified".to_string()),
                    Some(prog) => filter::set_live(l, prog).map(|()| 0),
                };
                status(io, r)
            }
        }
    })
}

/// `pcap_offline_filter`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_offline_filter(
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
pub unsafe extern "C-unwind" fn bpf_filter(
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
pub unsafe extern "C-unwind" fn bpf_validate(f: *const BpfInsnC, len: c_int) -> c_int {
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
pub unsafe extern "C-unwind" fn bpf_image(f: *const BpfInsnC, n: c_int) -> *mut c_char {
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
pub unsafe extern "C-unwind" fn bpf_dump(p: *const BpfProgram, option: c_int) {
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
