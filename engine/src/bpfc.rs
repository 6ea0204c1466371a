//! Filter expressions in tcpdump's syntax, compiled by the system's libpcap.
//!
//! netring does not write an expression compiler: it loads the system's
//! real libpcap (Debian package `libpcap0.8`, by absolute path, never the
//! library this code is part of, which may itself be a libpcap drop-in)
//! into a link-map namespace of its own with `dlmopen(LM_ID_NEWLM)`, so its
//! `pcap_*` symbols never meet anyone else's. [`library`] hands out that
//! namespace (the libpcap drop-in forwards many calls into it); [`compile`]
//! turns an expression into a classic BPF program.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, ErrorKind, Result};
use crate::sys::socket::SockFilter as BpfInsn;

/// Debian package that provides the real libpcap (named in errors).
pub const PACKAGE: &str = "libpcap0.8";

/// The real libpcap, loaded in its own link-map namespace.
#[derive(Debug, Clone, Copy)]
pub struct Library(*mut c_void);

// SAFETY: a dlmopen handle is a process-wide token; dlsym is thread-safe.
unsafe impl Send for Library {}
// SAFETY: as above; the handle is never closed.
unsafe impl Sync for Library {}

impl Library {
    /// The `dlmopen` handle (for `dlsym`).
    pub fn handle(&self) -> *mut c_void {
        self.0
    }

    /// The address of `name` in the real libpcap (or its dependencies).
    pub fn sym(&self, name: &CStr) -> Option<*mut c_void> {
        // SAFETY: a live dlmopen handle and a NUL-terminated name.
        let p = unsafe { libc::dlsym(self.0, name.as_ptr()) };
        (!p.is_null()).then_some(p)
    }
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until
    // the next dl* call of this thread.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown dlmopen error".into()
    } else {
        // SAFETY: checked non-NULL above; NUL-terminated.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// The file this code was loaded from, so the search never loads it.
fn own_path() -> Option<PathBuf> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr only looks up the address of one of our functions and
    // fills `info`.
    let ok = unsafe { libc::dladdr(own_path as *const c_void, &mut info) };
    if ok == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader.
    let p = unsafe { CStr::from_ptr(info.dli_fname) };
    std::fs::canonicalize(p.to_str().ok()?).ok()
}

/// Candidate paths of the system libpcap, best first
/// (`NETRING_PCAP_REAL` overrides the search).
fn candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("NETRING_PCAP_REAL") {
        return vec![PathBuf::from(p)];
    }
    let mut v = Vec::new();
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libpcap.so.1."))
            })
            .collect();
        found.sort();
        v.extend(found.into_iter().rev());
        let so08 = Path::new(dir).join("libpcap.so.0.8");
        if so08.exists() {
            v.push(so08);
        }
    }
    v
}

fn load() -> std::result::Result<Library, String> {
    let me = own_path();
    let mut tried = Vec::new();
    for c in candidates() {
        let Ok(real) = std::fs::canonicalize(&c) else {
            continue;
        };
        if Some(&real) == me.as_ref() {
            continue;
        }
        let Ok(cpath) = CString::new(real.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: an absolute NUL-terminated path; a new namespace keeps the
        // real library's symbols apart from everyone else's.
        let h = unsafe { libc::dlmopen(libc::LM_ID_NEWLM, cpath.as_ptr(), libc::RTLD_NOW) };
        if h.is_null() {
            tried.push(format!("{}: {}", real.display(), dlerror()));
            continue;
        }
        return Ok(Library(h));
    }
    if tried.is_empty() {
        Err(format!(
            "the system libpcap was not found (install the Debian package {PACKAGE})"
        ))
    } else {
        Err(format!(
            "the system libpcap could not be loaded ({}); install the Debian package {PACKAGE}",
            tried.join("; ")
        ))
    }
}

/// The real libpcap, loaded on first use. The error
/// ([`ErrorKind::Unsupported`]) names the package to install.
pub fn library() -> Result<Library> {
    static LIB: OnceLock<std::result::Result<Library, String>> = OnceLock::new();
    LIB.get_or_init(load)
        .clone()
        .map_err(|m| Error::new(ErrorKind::Unsupported, m))
}

#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut BpfInsn,
}

type P = *mut c_void;

struct Fns {
    open_dead: unsafe extern "C" fn(c_int, c_int) -> P,
    create: unsafe extern "C" fn(*const c_char, *mut c_char) -> P,
    set_snaplen: unsafe extern "C" fn(P, c_int) -> c_int,
    activate: unsafe extern "C" fn(P) -> c_int,
    compile: unsafe extern "C" fn(P, *mut BpfProgram, *const c_char, c_int, u32) -> c_int,
    geterr: unsafe extern "C" fn(P) -> *mut c_char,
    freecode: unsafe extern "C" fn(*mut BpfProgram),
    close: unsafe extern "C" fn(P),
}

fn fns(lib: &Library) -> Result<Fns> {
    macro_rules! f {
        ($name:literal, $t:ty) => {{
            let p = lib.sym($name).ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!("the system libpcap lacks {}", $name.to_string_lossy()),
                )
            })?;
            // SAFETY: p is libpcap 1.x's function of this name, whose C
            // prototype (pcap/pcap.h) is $t.
            unsafe { std::mem::transmute::<*mut c_void, $t>(p) }
        }};
    }
    Ok(Fns {
        open_dead: f!(c"pcap_open_dead", unsafe extern "C" fn(c_int, c_int) -> P),
        create: f!(
            c"pcap_create",
            unsafe extern "C" fn(*const c_char, *mut c_char) -> P
        ),
        set_snaplen: f!(c"pcap_set_snaplen", unsafe extern "C" fn(P, c_int) -> c_int),
        activate: f!(c"pcap_activate", unsafe extern "C" fn(P) -> c_int),
        compile: f!(
            c"pcap_compile",
            unsafe extern "C" fn(P, *mut BpfProgram, *const c_char, c_int, u32) -> c_int
        ),
        geterr: f!(c"pcap_geterr", unsafe extern "C" fn(P) -> *mut c_char),
        freecode: f!(c"pcap_freecode", unsafe extern "C" fn(*mut BpfProgram)),
        close: f!(c"pcap_close", unsafe extern "C" fn(P)),
    })
}

/// The real handle's error text.
fn err_of(f: &Fns, p: P) -> String {
    // SAFETY: p is a live real handle; geterr returns its NUL-terminated
    // buffer.
    unsafe { CStr::from_ptr((f.geterr)(p)) }
        .to_string_lossy()
        .into_owned()
}

/// Compile `expr` (tcpdump syntax; "" accepts everything) into a classic
/// BPF program whose accepting returns are `snaplen` (0 means 262144).
///
/// With `ifname` the program is what libpcap compiles for a live capture
/// on that interface (a handle is opened and closed for it, which needs
/// CAP_NET_RAW; VLAN tests then use the kernel's VLAN metadata, as with
/// tcpdump); without, it is compiled for Ethernet (`pcap_open_dead`).
pub fn compile(
    ifname: Option<&str>,
    expr: &str,
    snaplen: u32,
    optimize: bool,
) -> Result<Vec<BpfInsn>> {
    let lib = library()?;
    let f = fns(&lib)?;
    let snap = if snaplen == 0 || snaplen > 262_144 {
        262_144
    } else {
        snaplen
    } as c_int;
    let cexpr = CString::new(expr)
        .map_err(|_| Error::invalid_arg("the filter expression contains a NUL byte"))?;
    let p = match ifname {
        None => {
            // SAFETY: plain values; DLT_EN10MB.
            let p = unsafe { (f.open_dead)(1, snap) };
            if p.is_null() {
                return Err(Error::new(ErrorKind::NoMemory, "pcap_open_dead failed"));
            }
            p
        }
        Some(name) => {
            let cname = CString::new(name)
                .map_err(|_| Error::invalid_arg("the interface name contains a NUL byte"))?;
            let mut eb = [0 as c_char; 256];
            // SAFETY: NUL-terminated name and a 256-byte errbuf.
            let p = unsafe { (f.create)(cname.as_ptr(), eb.as_mut_ptr()) };
            if p.is_null() {
                // SAFETY: libpcap NUL-terminates its errbuf.
                let m = unsafe { CStr::from_ptr(eb.as_ptr()) }
                    .to_string_lossy()
                    .into_owned();
                return Err(Error::new(
                    ErrorKind::System,
                    format!("pcap_create({name}): {m}"),
                ));
            }
            // SAFETY: p is a fresh handle.
            let st = unsafe {
                (f.set_snaplen)(p, snap);
                (f.activate)(p)
            };
            if st < 0 {
                let m = err_of(&f, p);
                // SAFETY: p is closed once.
                unsafe { (f.close)(p) };
                let kind = match st {
                    -8 | -11 => ErrorKind::Permission,
                    -5 => ErrorKind::NoDevice,
                    _ => ErrorKind::System,
                };
                let m = if m.is_empty() {
                    format!("status {st}")
                } else {
                    m
                };
                return Err(Error::new(
                    kind,
                    format!("opening {name} to compile the filter: {m}"),
                ));
            }
            p
        }
    };
    let mut prog = BpfProgram {
        bf_len: 0,
        bf_insns: std::ptr::null_mut(),
    };
    // SAFETY: p is a live handle, prog a writable program, cexpr
    // NUL-terminated; PCAP_NETMASK_UNKNOWN.
    let st = unsafe {
        (f.compile)(
            p,
            &mut prog,
            cexpr.as_ptr(),
            c_int::from(optimize),
            u32::MAX,
        )
    };
    let res = if st < 0 {
        Err(Error::config(format!("filter '{expr}': {}", err_of(&f, p))))
    } else {
        // SAFETY: libpcap filled bf_len instructions at bf_insns.
        let v = unsafe { std::slice::from_raw_parts(prog.bf_insns, prog.bf_len as usize) }.to_vec();
        // SAFETY: the program came from pcap_compile.
        unsafe { (f.freecode)(&mut prog) };
        Ok(v)
    };
    // SAFETY: p is closed once.
    unsafe { (f.close)(p) };
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_like_tcpdump_dd() {
        if let Err(e) = library() {
            // make test (NR_TEST_STRICT) installs libpcap0.8: no skip there.
            assert!(
                std::env::var_os("NR_TEST_STRICT").is_none(),
                "no system libpcap: {e}"
            );
            eprintln!("skipped: no system libpcap");
            return;
        }
        // tcpdump -dd -y EN10MB ip: ldh [12]; jeq #0x800; ret #262144; ret #0
        let p = compile(None, "ip", 0, true).unwrap();
        let want = [
            (0x28, 0, 0, 12),
            (0x15, 0, 1, 0x800),
            (0x6, 0, 0, 262_144),
            (0x6, 0, 0, 0),
        ];
        let got: Vec<_> = p.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        assert_eq!(got, want);
        let e = compile(None, "tcp port", 0, true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.message().contains("syntax error"), "{e}");
    }
}
