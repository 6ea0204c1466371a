//! What needs no handle: the exported data, version and status texts,
//! device lists and the name tables (the real libpcap's).

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::ptr;

use crate::cmem::{adopt_addrinfo, adopt_devs, adopt_mac, free_devs, no_real, write_errbuf};
use crate::{code, guard, real};

/// `struct eproto` of libpcap's nametoaddr.c.
#[repr(C)]
pub struct Eproto {
    /// Name.
    pub s: *const c_char,
    /// EtherType.
    pub p: u16,
}

/// libpcap's `eproto_db` table.
#[repr(transparent)]
pub struct EprotoDb(pub [Eproto; 13]);

// SAFETY: the table is immutable and its pointers refer to static strings.
unsafe impl Sync for EprotoDb {}

/// libpcap's `eproto_db` (exported data, 13 entries as in 1.10).
#[unsafe(no_mangle)]
pub static eproto_db: EprotoDb = EprotoDb([
    Eproto {
        s: c"aarp".as_ptr(),
        p: 0x80f3,
    },
    Eproto {
        s: c"arp".as_ptr(),
        p: 0x0806,
    },
    Eproto {
        s: c"atalk".as_ptr(),
        p: 0x809b,
    },
    Eproto {
        s: c"decnet".as_ptr(),
        p: 0x6003,
    },
    Eproto {
        s: c"ip".as_ptr(),
        p: 0x0800,
    },
    Eproto {
        s: c"ip6".as_ptr(),
        p: 0x86dd,
    },
    Eproto {
        s: c"lat".as_ptr(),
        p: 0x6004,
    },
    Eproto {
        s: c"loopback".as_ptr(),
        p: 0x9000,
    },
    Eproto {
        s: c"mopdl".as_ptr(),
        p: 0x6001,
    },
    Eproto {
        s: c"moprc".as_ptr(),
        p: 0x6002,
    },
    Eproto {
        s: c"rarp".as_ptr(),
        p: 0x8035,
    },
    Eproto {
        s: c"sca".as_ptr(),
        p: 0x6007,
    },
    Eproto {
        s: ptr::null(),
        p: 0,
    },
]);

/// libpcap's `pcap_version` (exported data).
#[unsafe(no_mangle)]
pub static mut pcap_version: [c_char; 7] = [
    b'1' as c_char,
    b'.' as c_char,
    b'1' as c_char,
    b'0' as c_char,
    b'.' as c_char,
    b'3' as c_char,
    0,
];

macro_rules! forward_static {
    ($name:ident($($a:ident: $t:ty),*) -> $ret:ty, $default:expr) => {
        #[doc = concat!("`", stringify!($name), "` (the real libpcap's).")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $name($($a: $t),*) -> $ret {
            guard!($default, {
                match real::try_get() {
                    // SAFETY: forwarded with the caller's arguments.
                    Some(r) => unsafe { (r.$name)($($a),*) },
                    None => $default,
                }
            })
        }
    };
}

forward_static!(pcap_datalink_name_to_val(n: *const c_char) -> c_int, -1);
forward_static!(pcap_datalink_val_to_name(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_datalink_val_to_description(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_datalink_val_to_description_or_dlt(v: c_int) -> *const c_char, c"unknown".as_ptr());
forward_static!(pcap_tstamp_type_name_to_val(n: *const c_char) -> c_int, code::ERROR);
forward_static!(pcap_tstamp_type_val_to_name(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_tstamp_type_val_to_description(v: c_int) -> *const c_char, ptr::null());
forward_static!(pcap_lookupnet(d: *const c_char, net: *mut u32, mask: *mut u32, e: *mut c_char) -> c_int, code::ERROR);
forward_static!(pcap_lookupdev(e: *mut c_char) -> *mut c_char, ptr::null_mut());
forward_static!(pcap_nametoaddr(n: *const c_char) -> *mut *mut u32, ptr::null_mut());
forward_static!(pcap_nametonetaddr(n: *const c_char) -> u32, 0);
forward_static!(pcap_nametoport(n: *const c_char, port: *mut c_int, proto: *mut c_int) -> c_int, 0);
forward_static!(pcap_nametoportrange(n: *const c_char, p1: *mut c_int, p2: *mut c_int, proto: *mut c_int) -> c_int, 0);
forward_static!(pcap_nametoproto(n: *const c_char) -> c_int, -1);
forward_static!(pcap_nametoeproto(n: *const c_char) -> c_int, -1);
forward_static!(pcap_nametollc(n: *const c_char) -> c_int, -1);
forward_static!(pcap_next_etherent(f: *mut libc::FILE) -> *mut c_void, ptr::null_mut());

macro_rules! forward_mac {
    ($name:ident) => {
        #[doc = concat!("`", stringify!($name), "`: the real libpcap's, the address moved into our heap.")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $name(n: *const c_char) -> *mut u8 {
            guard!(ptr::null_mut(), {
                match real::try_get() {
                    // SAFETY: forwarded.
                    Some(r) => adopt_mac(r, unsafe { (r.$name)(n) }),
                    None => ptr::null_mut(),
                }
            })
        }
    };
}

forward_mac!(pcap_ether_hostton);
forward_mac!(pcap_ether_aton);

/// `pcap_nametoaddrinfo`: the real libpcap's `getaddrinfo` list, copied
/// into the program's heap (the program frees it with its own
/// `freeaddrinfo`).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_nametoaddrinfo(n: *const c_char) -> *mut libc::addrinfo {
    guard!(ptr::null_mut(), {
        let Some(r) = real::try_get() else {
            return ptr::null_mut();
        };
        // SAFETY: forwarded; the list it returns is the real library's.
        let list = r.with_errno(|| unsafe { (r.pcap_nametoaddrinfo)(n) });
        // SAFETY: list is NULL or getaddrinfo's list of the namespace.
        unsafe { adopt_addrinfo(r, list) }
    })
}

/// `pcap_findalldevs`: the real libpcap's list, copied into the
/// program's heap (see [`adopt_devs`]).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_findalldevs(
    out: *mut *mut c_void,
    errbuf: *mut c_char,
) -> c_int {
    guard!(code::ERROR, {
        match real::try_get() {
            Some(r) => {
                let mut list: *mut c_void = ptr::null_mut();
                // SAFETY: forwarded, into our variable.
                let rc = r.with_errno(|| unsafe { (r.pcap_findalldevs)(&mut list, errbuf) });
                if rc == 0 && !out.is_null() {
                    // SAFETY: the real library's fresh list; out is valid
                    // (libpcap's contract).
                    unsafe { *out = adopt_devs(r, list.cast()).cast() };
                } else if !list.is_null() {
                    // SAFETY: the real library's list, freed by it.
                    unsafe { (r.pcap_freealldevs)(list) };
                }
                rc
            }
            None => {
                no_real(errbuf, "pcap_findalldevs");
                code::ERROR
            }
        }
    })
}

/// `pcap_freealldevs` (a list of ours: see [`pcap_findalldevs`]).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_freealldevs(list: *mut c_void) {
    // SAFETY: list came from our pcap_findalldevs (libpcap's contract).
    guard!((), { unsafe { free_devs(list.cast()) } })
}

/// `pcap_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_init(opts: c_uint, errbuf: *mut c_char) -> c_int {
    guard!(code::ERROR, {
        match real::try_get() {
            // SAFETY: forwarded.
            Some(r) => unsafe { (r.pcap_init)(opts, errbuf) },
            None if opts <= 1 => 0,
            None => {
                // SAFETY: errbuf per contract.
                unsafe { write_errbuf(errbuf, &format!("Unknown options specified: 0x{opts:x}")) };
                code::ERROR
            }
        }
    })
}

/// `pcap_statustostr`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_statustostr(e: c_int) -> *const c_char {
    guard!(c"Unknown error".as_ptr(), {
        if let Some(r) = real::try_get() {
            // SAFETY: forwarded; returns a static string.
            return unsafe { (r.pcap_statustostr)(e) };
        }
        match e {
            0 => c"Success",
            code::ERROR => c"Generic error",
            code::BREAK => c"Loop terminated by pcap_breakloop",
            code::NOT_ACTIVATED => c"The pcap_t has not been activated",
            code::ACTIVATED => c"The setting can't be changed after the pcap_t is activated",
            code::NO_SUCH_DEVICE => c"No such device exists",
            code::PERM_DENIED => {
                c"You don't have permission to perform this capture on that device"
            }
            _ => c"Unknown error",
        }
        .as_ptr()
    })
}

/// `pcap_strerror`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_strerror(e: c_int) -> *const c_char {
    // SAFETY: strerror returns a string valid until the next call.
    guard!(c"Unknown error".as_ptr(), { unsafe { libc::strerror(e) } })
}

/// `pcap_lib_version`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pcap_lib_version() -> *const c_char {
    c"libpcap version 1.10.3 (with TPACKET_V3; netring engine)".as_ptr()
}
