//! Filters: compiled by the real libpcap (on the live handle's shadow, so
//! the program is the one libpcap would run on that device), run by the
//! kernel (the socket filter; fixed up for the cooked `any` device), and
//! by the classic-BPF interpreter ([`bpf`](crate::bpf)) in user space for
//! what the kernel cannot: the frames already in the ring when the filter
//! was set, a program the kernel refused, AF_XDP (no socket filter).

use std::ffi::{c_char, c_int};
use std::ptr;
use std::time::{SystemTime, UNIX_EPOCH};

use netring_engine::{Packet, PacketFlags};

use crate::bpf::{self, Aux};
use crate::cmem::{adopt_program, owned};
use crate::code;
use crate::datalink::DLT_LINUX_SLL2;
use crate::live::cooked::fix_cooked;
use crate::live::{Live, Source};
use crate::real::{self, Real};
use crate::types::{BpfInsnC, BpfProgram};

/// The filter of a live handle.
#[derive(Debug, Default)]
pub struct Filter {
    /// The program set with `pcap_setfilter`.
    pub prog: Option<Vec<BpfInsnC>>,
    /// Run it on every frame in user space (the kernel does not).
    pub all: bool,
    /// Frames stamped at or before this (ns) may predate the kernel
    /// filter: they are filtered in user space.
    pub until_ns: u64,
}

impl Filter {
    /// The user-space verdict on `bytes` (the packet as the program sees
    /// it, with the ring's metadata for the ancillary loads): None when no
    /// user-space filter applies to this packet, else the snap length the
    /// program returns (0: drop).
    pub fn verdict(&self, p: &Packet<'_>, bytes: &[u8]) -> Option<u32> {
        let f = self.prog.as_ref()?;
        if !(self.all || p.ts_ns <= self.until_ns) {
            return None;
        }
        let aux = Aux {
            protocol: p.protocol,
            pkttype: p.pkt_type,
            ifindex: p.ifindex,
            vlan_tci: p.vlan_tci,
            vlan_present: p.flags.contains(PacketFlags::VLAN_VALID),
            vlan_tpid: p.vlan_tpid,
        };
        Some(bpf::run(f, bytes, p.wire_len, Some(&aux)))
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `pcap_setfilter` on a live handle.
pub fn set_live(l: &mut Live, prog: &[BpfInsnC]) -> Result<(), String> {
    let cooked_sll2 = l.cooked.then_some(l.linktype == DLT_LINUX_SLL2);
    let Some(a) = l.active.as_mut() else {
        return Err("not-yet-activated pcap_t passed to pcap_setfilter".into());
    };
    let cap = match a.source.as_mut() {
        None => {
            return Err(
                "pcap_setfilter cannot be called from inside a pcap_loop/pcap_dispatch \
                 callback on this handle"
                    .into(),
            );
        }
        Some(Source::Xdp(_)) => {
            // AF_XDP has no socket filter: every frame is filtered here.
            l.filter = Filter {
                prog: Some(prog.to_vec()),
                all: true,
                until_ns: 0,
            };
            return Ok(());
        }
        Some(Source::Ring(cap)) => cap,
    };
    let fixed;
    let kprog = match cooked_sll2 {
        Some(sll2) => {
            fixed = fix_cooked(prog, sll2);
            fixed.as_deref()
        }
        None => Some(prog),
    };
    let all = match kprog {
        // libpcap removes the kernel filter and filters in user space.
        None => {
            let _ = cap.set_filter(None);
            true
        }
        // libpcap too filters in user space what the kernel refuses.
        Some(k) => cap.set_filter(Some(k)).is_err(),
    };
    // Frames already in the ring were captured without this filter: those
    // stamped up to now are filtered again in user space.
    l.filter = Filter {
        prog: Some(prog.to_vec()),
        all,
        until_ns: if all { 0 } else { now_ns() },
    };
    Ok(())
}

/// Where a program is compiled: the real library, a real handle, and a
/// handle opened for the occasion (closed after).
pub struct Target {
    r: &'static Real,
    handle: *mut std::ffi::c_void,
    temp: bool,
}

impl Target {
    /// A real handle (forwarded handles, or a live handle's shadow).
    pub fn real(r: &'static Real, handle: *mut std::ffi::c_void) -> Target {
        Target {
            r,
            handle,
            temp: false,
        }
    }

    /// A live handle: its activated shadow, or (when the real library
    /// could not open the device) a dead handle of its link type (the same
    /// program except for VLAN tests, which then read the frame).
    pub fn live(l: &Live) -> Result<Target, String> {
        let r = real::get().map_err(|e| {
            format!("pcap_compile: filters are compiled by the system libpcap: {e}")
        })?;
        if l.active.is_none() {
            return Err("not-yet-activated pcap_t passed to pcap_compile".into());
        }
        if let Some((r, sp)) = l.shadow.active() {
            return Ok(Target::real(r, sp));
        }
        // SAFETY: plain values.
        let dead = unsafe { (r.pcap_open_dead)(l.linktype, l.snapshot() as c_int) };
        if dead.is_null() {
            return Err("pcap_compile: pcap_open_dead failed".into());
        }
        Ok(Target {
            r,
            handle: dead,
            temp: true,
        })
    }

    /// Compile `s` into `fp` (our heap). The status, and the real
    /// library's message on failure.
    ///
    /// # Safety
    /// `fp` is a valid program; `s` NULL or NUL-terminated.
    pub unsafe fn compile(
        self,
        fp: *mut BpfProgram,
        s: *const c_char,
        optimize: c_int,
        netmask: u32,
    ) -> Result<(), (c_int, String)> {
        let r = self.r;
        let mut tmp = BpfProgram {
            bf_len: 0,
            bf_insns: ptr::null_mut(),
        };
        // SAFETY: forwarded with a scratch program.
        let st = unsafe { (r.pcap_compile)(self.handle, &mut tmp, s, optimize, netmask) };
        let res = if st < 0 {
            // SAFETY: the real handle's errbuf is NUL-terminated.
            Err((st, unsafe { owned((r.pcap_geterr)(self.handle)) }))
        // SAFETY: tmp was filled by pcap_compile; fp is valid (caller).
        } else if unsafe { adopt_program(r, &mut tmp, fp) } {
            Ok(())
        } else {
            Err((code::ERROR, "malloc: out of memory".into()))
        };
        if self.temp {
            // SAFETY: the dead handle opened for this, closed once.
            unsafe { (r.pcap_close)(self.handle) };
        }
        res
    }
}
