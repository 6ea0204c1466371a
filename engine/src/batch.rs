//! The held batch: one shape for every engine.
//!
//! An engine (a TPACKET_V3 [`Capture`](crate::Capture), an AF_XDP
//! [`Xdp`](crate::Xdp) socket set, a capture file
//! [`Reader`](crate::pcapfile::Reader)) holds at most one batch of packets
//! at a time: it *acquires* one (each engine its own way: a ring block, a
//! run of RX descriptors, a run of file records), lends *views* of its
//! packets, and *releases* it. Like libpcap's per-backend `read_op` or an
//! io-uring queue, only the engine knows how to walk and give back its
//! memory; a caller (the C API, the libpcap-compatible library, a binding)
//! only forwards through [`HeldBatch`]. The walk, its bounds checks and its
//! malformed-input accounting exist once, inside each engine.
//!
//! A walk can be spread over several calls with a [`Cursor`] (what
//! `pcap_dispatch(cnt = 1)` or filling a caller's array in chunks need).
//! The per-packet calls ([`Capture::next_packet`](crate::Capture::next_packet),
//! [`Reader::next_packet`](crate::pcapfile::Reader::next_packet)) are such
//! a walk with the cursor kept in the engine, not a second protocol.
//!
//! This module also holds the vocabulary every engine shares: [`Wait`],
//! [`REMOVAL_GRACE`] and the errors for a batch that is (not) held.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::packet::Packet;

/// The outcome of a wait of any engine (acquire, next batch, next packet).
#[derive(Debug)]
pub enum Wait<T> {
    /// Data is ready.
    Ready(T),
    /// The timeout passed with nothing to hand over.
    Timeout,
    /// [`Breaker::break_loop`](crate::Breaker::break_loop) was called (the
    /// request is consumed).
    Interrupted,
    /// The timeout passed while the interface was down; capture resumes by
    /// itself when the interface comes back up.
    InterfaceDown,
}

impl<T> Wait<T> {
    /// The same outcome with the ready value passed through `f`.
    #[inline]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Wait<U> {
        match self {
            Wait::Ready(t) => Wait::Ready(f(t)),
            Wait::Timeout => Wait::Timeout,
            Wait::Interrupted => Wait::Interrupted,
            Wait::InterfaceDown => Wait::InterfaceDown,
        }
    }
}

/// How long an engine that met ENETDOWN keeps checking whether its
/// interface is being removed (the kernel takes it down first, then
/// unregisters it) before reporting it as merely down.
pub const REMOVAL_GRACE: Duration = Duration::from_millis(200);

/// The error for a release with nothing held.
#[cold]
pub(crate) fn not_held() -> Error {
    Error::new(
        ErrorKind::BadBatch,
        "no batch is held: it was already released",
    )
}

/// The error for an acquire while a batch is still held.
#[cold]
pub(crate) fn busy() -> Error {
    Error::new(
        ErrorKind::Busy,
        "a batch is still held: release it before asking for the next one",
    )
}

/// A position inside a held batch, for walks spread over several calls.
/// Start with [`Cursor::START`] (or `Cursor::default()`) for each new
/// batch; the engine advances it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) begun: bool,
    pub(crate) done: bool,
    pub(crate) pos: usize,
    pub(crate) left: u32,
}

impl Cursor {
    /// Before the first packet.
    pub const START: Cursor = Cursor {
        begun: false,
        done: false,
        pos: 0,
        left: 0,
    };

    /// True once the walk reached the end of the batch (or stopped at a
    /// malformed packet).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The cursor's state as plain values (begun, done, position, packets
    /// left), for a foreign caller that keeps it (the C API's `nr_iter`).
    pub fn to_parts(&self) -> (bool, bool, usize, u32) {
        (self.begun, self.done, self.pos, self.left)
    }

    /// A cursor from [`Cursor::to_parts`]'s values, or one resuming a
    /// TPACKET_V3 walk at a record offset with `left` packets to go (the
    /// position is checked again by the next walk, like every offset).
    pub fn from_parts(begun: bool, done: bool, pos: usize, left: u32) -> Cursor {
        Cursor {
            begun,
            done,
            pos,
            left,
        }
    }
}

/// A held TPACKET_V3 block as plain memory, for a walker outside the
/// engine (the C header's inline `nr_iter_next()`): the whole block, the
/// offset of its first record and its packet count. The walker must check
/// every offset itself, as [`crate::afpacket::block::PacketIter`] does.
#[derive(Debug, Clone, Copy)]
pub struct RawBlock<'a> {
    /// The block, descriptor included.
    pub bytes: &'a [u8],
    /// Offset of the first record.
    pub first: u32,
    /// Records in the block.
    pub num_pkts: u32,
}

/// How a walk over a held batch ended (errors aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Every packet from the cursor on was visited.
    Done,
    /// The visitor returned `false`; the cursor is after the packet it
    /// refused to continue from (that packet was visited).
    Stopped,
}

/// The engine side of a held batch: a borrowed view that iterates and
/// releases. Implemented by every engine.
pub trait HeldBatch {
    /// True while a batch is held.
    fn is_held(&self) -> bool;

    /// Packets (or, for AF_XDP, RX descriptors) in the held batch; 0 when
    /// none is held.
    fn held_len(&self) -> usize;

    /// Sequence number of the held batch (the kernel's block sequence for
    /// TPACKET_V3; a batch counter from 1 for AF_XDP and files); 0 when
    /// none is held.
    fn held_seq(&self) -> u64;

    /// The held batch as a raw TPACKET_V3 block, when it is one (a
    /// capture's ring block); None otherwise (frames, AF_XDP, files, or
    /// nothing held).
    fn held_raw_block(&self) -> Option<RawBlock<'_>> {
        None
    }

    /// Visit the held batch's packets from `cursor` on, in order, until `f`
    /// returns `false`, advancing `cursor`. Every offset the source wrote is
    /// checked before a byte is read. A malformed batch ends the walk after
    /// the packets before the fault were visited: it is counted once in the
    /// engine's statistics and returned as an `ErrorKind::Malformed` error
    /// (the cursor is then done). With no batch held, nothing is visited.
    fn walk_held<F>(&mut self, cursor: &mut Cursor, f: F) -> Result<Walk>
    where
        F: FnMut(&Packet<'_>) -> bool;

    /// Give the held batch back (to the kernel, the fill ring, the file
    /// buffer). Every packet view of it is invalid afterwards.
    /// `ErrorKind::BadBatch` if none is held.
    fn release_held(&mut self) -> Result<()>;
}
