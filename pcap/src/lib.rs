//! `libpcap.so.0.8` on netring's engine: unmodified tcpdump, dumpcap,
//! tshark and every other libpcap program capture through netring.
//!
//! The library exports exactly the names Debian's libpcap 1.10 exports
//! (functions and the two data symbols) and nothing else. It is split by
//! concern, as libpcap itself is (`pcap.c` dispatching through per-handle
//! ops, `pcap-linux.c` one backend, `savefile.c` handing off to
//! `sf-pcap.c`):
//!
//! - [`export`]: the exported functions, thin: check the pointers, resolve
//!   the handle, call, convert; each inside [`guard!`].
//! - [`handle`]: a `pcap_t`, served here or forwarded to the real libpcap,
//!   and the borrow rule every export follows.
//! - [`live`]: live capture on Ethernet-type interfaces and on `any`
//!   (cooked) on the TPACKET_V3 engine or AF_XDP, with one read loop over
//!   the engine's held batch ([`live::read`]).
//! - [`savefile`]: classic pcap files read by netring's reader, the real
//!   libpcap taking over at the first record the reader cannot reproduce
//!   exactly. [`dump`]: savefiles written on the host program's stdio.
//! - [`filter`]: compiled by the real libpcap, run by the kernel and by
//!   the classic-BPF interpreter ([`bpf`]). [`datalink`]: link types.
//!   [`vlan`]: tags put back into the frames.
//! - [`env`]: the `NETRING_PCAP_*` variables, read once.
//! - [`real`]: the system's real libpcap, loaded in a link-map namespace
//!   of its own; it compiles filters, lists devices, converts names, reads
//!   pcapng files and serves the devices netring does not capture on (lo,
//!   nflog, usbmon, ...). [`cmem`], [`types`]: the C side's memory and
//!   types.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// The exported names are libpcap's.
#![allow(non_upper_case_globals, clippy::missing_safety_doc)]

pub mod bpf;
pub mod cmem;
pub mod datalink;
pub mod dump;
pub mod env;
pub mod filter;
pub mod handle;
pub mod live;
pub mod real;
pub mod savefile;
pub mod types;
pub mod vlan;

mod export;

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
