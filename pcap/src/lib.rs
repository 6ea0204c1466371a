//! `libpcap.so.0.8` on netring's engine: unmodified tcpdump, dumpcap,
//! tshark and every other libpcap program capture through netring.
//!
//! The library exports exactly the names Debian's libpcap 1.10 exports
//! (functions and the two data symbols) and nothing else. Live capture on
//! Ethernet-type interfaces and on `any` (cooked) runs on netring's
//! TPACKET_V3 engine ([`live`]); classic pcap files are read on netring's
//! `pcapfile::Reader` (the real libpcap answering for the header and
//! taking over at the first record the reader cannot reproduce exactly);
//! filter compilation, device lists, name tables, pcapng files and the
//! devices netring does not capture on (lo, nflog, usbmon, ...) go to the
//! system's real libpcap, loaded in a link-map namespace of its own
//! ([`real`]). Savefiles are written here ([`dump`]) on the host program's
//! stdio.
//!
//! Every exported function runs inside [`guard!`]: a panic becomes an error
//! return, never an unwind into the host program.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// The exported names are libpcap's.
#![allow(non_upper_case_globals, clippy::missing_safety_doc)]

pub mod bpf;
pub mod dump;
pub mod live;
pub mod real;
pub mod types;

mod api;

pub use types::code;

/// Run an exported function's body; a panic becomes `$default`.
#[macro_export]
macro_rules! guard {
    ($default:expr, $body:block) => {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $default,
        }
    };
}
