//! The system's real libpcap, loaded into a link-map namespace of its own
//! with `dlmopen(LM_ID_NEWLM)` (by the engine's `bpfc` module, which finds
//! it by absolute path and never loads this library), so its `pcap_*`
//! never collide with ours.
//!
//! It compiles filters (`pcap_compile` on a live handle of the same device,
//! so VLAN code is what libpcap would run), prints instructions
//! (`bpf_image`), lists devices, converts names, reads capture files and
//! serves the devices netring does not capture on. Memory it allocates is
//! freed with its own `free` (see [`Real::free`]); what the host program
//! frees itself is copied into our heap first.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

use crate::types::{BpfInsnC, BpfProgram, Handler, PcapStat, PktHdr};

pub use netring_engine::bpfc::PACKAGE;

macro_rules! real_fns {
    ($($name:ident : fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// Entry points of the real libpcap.
        #[allow(missing_docs)]
        pub struct Real {
            $(pub $name: unsafe extern "C-unwind" fn($($arg),*) $(-> $ret)?,)*
            /// `free` of the namespace's libc (for what the real library
            /// allocated).
            pub free: unsafe extern "C" fn(*mut c_void),
            /// `fseeko` of the namespace's libc (positions a savefile
            /// handle's stream when it takes over from netring's reader).
            pub fseeko: unsafe extern "C" fn(*mut libc::FILE, libc::off_t, c_int) -> c_int,
            /// `__errno_location` of the namespace's libc: the real
            /// library's errno is not the program's.
            pub errno_location: unsafe extern "C" fn() -> *mut c_int,
            /// Address of the namespace's `stdin` variable (`FILE **`).
            stdin_var: usize,
            /// `ftello` of the namespace's libc.
            pub ftello: unsafe extern "C" fn(*mut libc::FILE) -> libc::off_t,
            /// `freeaddrinfo` of the namespace's libc (for
            /// `pcap_nametoaddrinfo`'s list).
            pub freeaddrinfo: unsafe extern "C" fn(*mut libc::addrinfo),
        }

        fn load_from(h: *mut c_void) -> Result<Real, String> {
            Ok(Real {
                $($name: {
                    let p = sym(h, concat!(stringify!($name), "\0"))?;
                    // SAFETY: p is the address of the real libpcap's function
                    // of this name, whose C prototype (pcap/pcap.h of 1.10)
                    // is the one declared here; fn pointers and data pointers
                    // have the same size on Linux.
                    unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C-unwind" fn($($arg),*) $(-> $ret)?>(p) }
                },)*
                free: {
                    let p = sym(h, "free\0")?;
                    // SAFETY: `free` of the namespace's libc, found through
                    // the real libpcap's dependencies.
                    unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(p) }
                },
                fseeko: {
                    let p = sym(h, "fseeko\0")?;
                    // SAFETY: `fseeko` of the namespace's libc, whose
                    // prototype (stdio.h, 64-bit off_t) is the one declared.
                    unsafe {
                        std::mem::transmute::<
                            *mut c_void,
                            unsafe extern "C" fn(*mut libc::FILE, libc::off_t, c_int) -> c_int,
                        >(p)
                    }
                },
                stdin_var: sym(h, "stdin\0")? as usize,
                ftello: {
                    let p = sym(h, "ftello\0")?;
                    // SAFETY: `ftello` of the namespace's libc (stdio.h,
                    // 64-bit off_t).
                    unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut libc::FILE) -> libc::off_t>(p)
                    }
                },
                freeaddrinfo: {
                    let p = sym(h, "freeaddrinfo\0")?;
                    // SAFETY: `freeaddrinfo` of the namespace's libc
                    // (netdb.h: `void freeaddrinfo(struct addrinfo *)`).
                    unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut libc::addrinfo)>(p)
                    }
                },
                errno_location: {
                    let p = sym(h, "__errno_location\0")?;
                    // SAFETY: `__errno_location` of the namespace's libc
                    // (errno.h: `int *__errno_location(void)`).
                    unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *mut c_int>(p)
                    }
                },
            })
        }
    };
}

type P = *mut c_void;
type Eb = *mut c_char;
type S = *const c_char;

real_fns! {
    pcap_create: fn(S, Eb) -> P;
    pcap_activate: fn(P) -> c_int;
    pcap_close: fn(P);
    pcap_set_snaplen: fn(P, c_int) -> c_int;
    pcap_set_promisc: fn(P, c_int) -> c_int;
    pcap_set_timeout: fn(P, c_int) -> c_int;
    pcap_set_buffer_size: fn(P, c_int) -> c_int;
    pcap_set_immediate_mode: fn(P, c_int) -> c_int;
    pcap_set_rfmon: fn(P, c_int) -> c_int;
    pcap_can_set_rfmon: fn(P) -> c_int;
    pcap_set_tstamp_type: fn(P, c_int) -> c_int;
    pcap_set_tstamp_precision: fn(P, c_int) -> c_int;
    pcap_get_tstamp_precision: fn(P) -> c_int;
    pcap_set_protocol_linux: fn(P, c_int) -> c_int;
    pcap_open_dead: fn(c_int, c_int) -> P;
    pcap_open_dead_with_tstamp_precision: fn(c_int, c_int, c_uint) -> P;
    pcap_open_offline: fn(S, Eb) -> P;
    pcap_open_offline_with_tstamp_precision: fn(S, c_uint, Eb) -> P;
    pcap_fopen_offline: fn(*mut libc::FILE, Eb) -> P;
    pcap_fopen_offline_with_tstamp_precision: fn(*mut libc::FILE, c_uint, Eb) -> P;
    pcap_loop: fn(P, c_int, Handler, *mut u8) -> c_int;
    pcap_dispatch: fn(P, c_int, Handler, *mut u8) -> c_int;
    pcap_next: fn(P, *mut PktHdr) -> *const u8;
    pcap_next_ex: fn(P, *mut *mut PktHdr, *mut *const u8) -> c_int;
    pcap_breakloop: fn(P);
    pcap_stats: fn(P, *mut PcapStat) -> c_int;
    pcap_setfilter: fn(P, *mut BpfProgram) -> c_int;
    pcap_setdirection: fn(P, c_int) -> c_int;
    pcap_getnonblock: fn(P, Eb) -> c_int;
    pcap_setnonblock: fn(P, c_int, Eb) -> c_int;
    pcap_inject: fn(P, *const c_void, usize) -> c_int;
    pcap_sendpacket: fn(P, *const u8, c_int) -> c_int;
    pcap_geterr: fn(P) -> *mut c_char;
    pcap_compile: fn(P, *mut BpfProgram, S, c_int, u32) -> c_int;
    pcap_compile_nopcap: fn(c_int, c_int, *mut BpfProgram, S, c_int, u32) -> c_int;
    pcap_freecode: fn(*mut BpfProgram);
    pcap_datalink: fn(P) -> c_int;
    pcap_datalink_ext: fn(P) -> c_int;
    pcap_list_datalinks: fn(P, *mut *mut c_int) -> c_int;
    pcap_set_datalink: fn(P, c_int) -> c_int;
    pcap_free_datalinks: fn(*mut c_int);
    pcap_list_tstamp_types: fn(P, *mut *mut c_int) -> c_int;
    pcap_free_tstamp_types: fn(*mut c_int);
    pcap_tstamp_type_name_to_val: fn(S) -> c_int;
    pcap_tstamp_type_val_to_name: fn(c_int) -> S;
    pcap_tstamp_type_val_to_description: fn(c_int) -> S;
    pcap_datalink_name_to_val: fn(S) -> c_int;
    pcap_datalink_val_to_name: fn(c_int) -> S;
    pcap_datalink_val_to_description: fn(c_int) -> S;
    pcap_datalink_val_to_description_or_dlt: fn(c_int) -> S;
    pcap_snapshot: fn(P) -> c_int;
    pcap_is_swapped: fn(P) -> c_int;
    pcap_major_version: fn(P) -> c_int;
    pcap_minor_version: fn(P) -> c_int;
    pcap_bufsize: fn(P) -> c_int;
    pcap_file: fn(P) -> *mut libc::FILE;
    pcap_fileno: fn(P) -> c_int;
    pcap_get_selectable_fd: fn(P) -> c_int;
    pcap_get_required_select_timeout: fn(P) -> *const libc::timeval;
    pcap_findalldevs: fn(*mut *mut c_void, Eb) -> c_int;
    pcap_freealldevs: fn(*mut c_void);
    pcap_lookupdev: fn(Eb) -> *mut c_char;
    pcap_lookupnet: fn(S, *mut u32, *mut u32, Eb) -> c_int;
    pcap_init: fn(c_uint, Eb) -> c_int;
    pcap_statustostr: fn(c_int) -> S;
    bpf_image: fn(*const BpfInsnC, c_int) -> *mut c_char;
    bpf_validate: fn(*const BpfInsnC, c_int) -> c_int;
    pcap_nametoaddr: fn(S) -> *mut *mut u32;
    pcap_nametoaddrinfo: fn(S) -> *mut libc::addrinfo;
    pcap_nametonetaddr: fn(S) -> u32;
    pcap_nametoport: fn(S, *mut c_int, *mut c_int) -> c_int;
    pcap_nametoportrange: fn(S, *mut c_int, *mut c_int, *mut c_int) -> c_int;
    pcap_nametoproto: fn(S) -> c_int;
    pcap_nametoeproto: fn(S) -> c_int;
    pcap_nametollc: fn(S) -> c_int;
    pcap_ether_hostton: fn(S) -> *mut u8;
    pcap_ether_aton: fn(S) -> *mut u8;
    pcap_next_etherent: fn(*mut libc::FILE) -> *mut c_void;
}

/// The program's errno (this thread's, in the base namespace's libc).
pub fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Set the program's errno.
pub fn set_errno(e: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e };
}

impl Real {
    /// The real library's own `stdin` stream (the one `sf_cleanup` never
    /// closes).
    pub fn stdin(&self) -> *mut libc::FILE {
        // SAFETY: stdin_var is the address of the namespace libc's
        // `FILE *stdin`, set before any library code ran.
        unsafe { *(self.stdin_var as *const *mut libc::FILE) }
    }

    /// Run `f` (a call into the real library) so that errno reads as if the
    /// program had called libpcap itself: the program's errno goes in, the
    /// real library's comes back out (each libc has its own).
    pub fn with_errno<T>(&self, f: impl FnOnce() -> T) -> T {
        // SAFETY: the namespace's __errno_location returns this thread's
        // slot of that libc, valid for the thread's life.
        unsafe { *(self.errno_location)() = errno() };
        let v = f();
        // SAFETY: as above.
        set_errno(unsafe { *(self.errno_location)() });
        v
    }
}

fn sym(h: *mut c_void, name: &'static str) -> Result<*mut c_void, String> {
    // SAFETY: h is a live dlmopen handle; name is NUL-terminated.
    let p = unsafe { libc::dlsym(h, name.as_ptr().cast()) };
    if p.is_null() {
        Err(format!(
            "the system libpcap lacks {}",
            name.trim_end_matches('\0')
        ))
    } else {
        Ok(p)
    }
}

fn load() -> Result<Real, String> {
    let lib = netring_engine::bpfc::library().map_err(|e| e.message().to_owned())?;
    load_from(lib.handle())
}

static REAL: OnceLock<Result<Real, String>> = OnceLock::new();

/// The real libpcap, loaded on first use (errno as it was: the program
/// called libpcap, not the loader); the error says what to install.
pub fn get() -> Result<&'static Real, &'static str> {
    let loaded = REAL.get_or_init(|| {
        let e = errno();
        let r = load();
        set_errno(e);
        r
    });
    match loaded {
        Ok(r) => Ok(r),
        Err(e) => Err(e.as_str()),
    }
}

/// The real libpcap or None.
pub fn try_get() -> Option<&'static Real> {
    get().ok()
}
