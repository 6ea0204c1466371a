//! Filter expressions in tcpdump's syntax, compiled by the system's libpcap
//! (see the engine's `bpfc` module: loaded with dlmopen in a namespace of
//! its own, never linked).

use std::ffi::{c_char, c_int};

use super::arg::{Out, opt_c_str, out_slice};
use super::capture::nr_bpf_insn;
use super::{NR_E_TOO_BIG, NR_OK, boundary, c_str, set_last_error};

/// Compile a filter expression in tcpdump's syntax ("tcp port 80", "" for
/// everything) into classic BPF for nr_capture_config.filter or
/// nr_capture_set_filter(), with the system's libpcap (Debian package
/// libpcap0.8, loaded at the first call into a link-map namespace of its
/// own; netring does not link it).
///
/// With `ifname` the program is exactly what libpcap compiles for a live
/// capture on that interface (a libpcap handle is opened and closed for it,
/// which needs CAP_NET_RAW; VLAN tests then use the kernel's VLAN metadata,
/// as tcpdump's do); with NULL it is compiled for Ethernet. Accepted frames
/// are cut to `snaplen` bytes (0 means 262144).
///
/// Writes the program to `out` (room for `cap` instructions) and its
/// length to `*len`. Returns NR_OK; NR_E_TOO_BIG when the program has more
/// than `cap` instructions (then only `*len` is written: the size needed);
/// NR_E_CONFIG for an expression libpcap rejects (the message is libpcap's);
/// NR_E_UNSUPPORTED when the system libpcap is missing (the message names
/// the package); NR_E_NO_DEVICE, NR_E_PERMISSION (with `ifname`);
/// NR_E_INVALID_ARG for NULL `expr`, `out` or `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_bpf_compile(
    ifname: *const c_char,
    expr: *const c_char,
    snaplen: u32,
    out: *mut nr_bpf_insn,
    cap: usize,
    len: *mut usize,
) -> c_int {
    boundary(|| {
        let expr = c_str(expr, "expr")?;
        let ifname = opt_c_str(ifname, "ifname")?;
        let out = out_slice(out, cap, "out")?;
        let len = Out::new(len, "len")?;
        let prog = netring_engine::bpfc::compile(ifname, expr, snaplen, true)?;
        len.set(prog.len());
        if prog.len() > cap {
            set_last_error(&format!(
                "the program has {} instructions, out has room for {cap}",
                prog.len()
            ));
            return Ok(NR_E_TOO_BIG);
        }
        for (o, p) in out.iter_mut().zip(&prog) {
            o.write(nr_bpf_insn::from(p));
        }
        Ok(NR_OK)
    })
}
