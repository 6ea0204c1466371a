//! The test harness the netring crates share (a dev-dependency of
//! `netring-engine`, `netring` and `netring-pcap`; it depends on none of
//! them, so it tests whichever library the test links).
//!
//! - [`Net`]: a throwaway network namespace with a veth pair, names unique
//!   to the test and the run, removed on every exit path (panics included);
//!   waits for a consumer to be ready ([`Net::wait_bound`], [`Net::wait_xdp`]).
//! - [`Sender`] and [`Receiver`]: an independent traffic source and sink
//!   (plain AF_PACKET sockets, no netring code); [`frame`] / [`frame_seq`]:
//!   test frames checkable byte by byte; [`collect`]: the frames a consumer
//!   delivers until quiet.
//! - [`Ext4`], [`Tmpfs`], [`TempDir`]: scratch file systems and directories.
//! - [`skip`] and [`require!`]: a test that cannot run here passes with a
//!   note, but fails under `NR_TEST_STRICT` (`make test`).
//! - [`run`], [`spawn_piped`], [`output_of`] / [`output_within`] (a hung
//!   child is killed), [`meanwhile`] (break a blocked call from another
//!   thread); [`have`], [`tool`], [`tcpdump_packets`], [`check_with_tools`]:
//!   the independent tools (tcpdump, tshark, capinfos) that check our output.
//! - [`cbuild`]: C programs built against `build/prefix` through pkg-config.
//! - [`exports`]: a crate's exported functions, for checks of their shape.
//!
//! The shell side of the same harness is `scripts/netns.sh`.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cbuild;
mod exports;
mod files;
mod frames;
mod net;
mod process;

pub use exports::{Export, exports};
pub use files::{Ext4, TempDir, Tmpfs, rotated_files};
pub use frames::{OTHER_MAC, TEST_ETHERTYPE, collect, frame, frame_seq, ip_checksum};
pub use net::{Net, Receiver, Sender, enter_ns};
pub use process::{
    check_with_tools, have, have_or_skip, is_root, meanwhile, output_of, output_within, run, skip,
    spawn_piped, tcpdump_packets, thread_cpu_time, tool, wait_until,
};

/// The workspace's root directory (where `build/`, `tests/data` and
/// `c-examples/` are).
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ has a parent")
        .to_path_buf()
}

/// Return from the calling test (after [`skip`]) unless it runs as root and
/// every named tool is installed: `require!();`, `require!("tcpdump")`.
#[macro_export]
macro_rules! require {
    ($($tool:expr),* $(,)?) => {
        if !$crate::is_root() {
            $crate::skip("needs root");
            return;
        }
        $(if !$crate::have($tool) {
            $crate::skip(&format!("{} is not installed", $tool));
            return;
        })*
    };
}
