//! `nr_iter`: walking a batch without a call per packet.
//!
//! nr_batch_for_each() calls the program once per packet and fills an
//! `nr_packet` on the way; at 60-byte frames that call and the fields the
//! program never reads cost more than the walk itself. `nr_iter_next()`
//! is a `static inline` function of the header (its text is
//! `src/capi/iter.h`, placed by build.rs): over a capture's TPACKET_V3
//! block it reads each record in the program's own loop, where the
//! compiler drops what the program does not use, with the same bounds
//! checks as the engine's walk. Everything else (other batch kinds, and
//! any record that fails a check) goes through the exported
//! nr_iter_next_slow(), the engine's own walk, so an inconsistency is
//! reported and counted exactly as nr_batch_for_each() reports it.
//!
//! The header's inline code reads the kernel's record through
//! `nr_v3_hdr`, whose layout is checked here, at compile time, against
//! the engine's one description of the kernel ABI (`sys::tpacket`).

use std::ffi::c_int;
use std::mem::{offset_of, size_of};
use std::ptr;

use super::arg::Out;
use super::batch::{
    self, NR_PACKET_FLAG_CSUM_NOT_READY, NR_PACKET_FLAG_CSUM_VALID, NR_PACKET_FLAG_LOSING,
    NR_PACKET_FLAG_TS_RAW_HARDWARE, NR_PACKET_FLAG_TS_SOFTWARE, NR_PACKET_FLAG_TS_SYS_HARDWARE,
    NR_PACKET_FLAG_VLAN_TPID_VALID, NR_PACKET_FLAG_VLAN_VALID, nr_batch, nr_packet,
};
use super::{NR_E_INTERNAL, NR_EOF, NR_OK, boundary, fail, guard, null_arg};
use crate::batch::Cursor;
use crate::sys::tpacket::v3_hdr as h;

/// The kernel's TPACKET_V3 record header (`struct tpacket3_hdr`) and the
/// `struct sockaddr_ll` after it, as nr_iter_next() reads them from a ring
/// block. Programs do not need it: it is here for the inline iterator.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_v3_hdr {
    /// Offset of the next record from this one (0 on the last).
    pub next_offset: u32,
    /// Time stamp, seconds.
    pub sec: u32,
    /// Time stamp, nanoseconds.
    pub nsec: u32,
    /// Bytes captured (the packet's caplen).
    pub snaplen: u32,
    /// Length on the wire.
    pub len: u32,
    /// `tp_status` bits (NR_PACKET_FLAGS_KERNEL_MASK selects the ones
    /// nr_packet.flags carries).
    pub status: u32,
    /// Offset of the packet's first byte from this header.
    pub mac: u16,
    /// Offset of its network header.
    pub net: u16,
    /// Flow hash (when the capture asked for it).
    pub rxhash: u32,
    /// VLAN TCI (low 16 bits).
    pub vlan_tci: u32,
    /// VLAN TPID.
    pub vlan_tpid: u16,
    /// Padding.
    pub padding: u16,
    /// Padding.
    pub reserved: [u8; 8],
    /// `sockaddr_ll.sll_family`.
    pub sll_family: u16,
    /// `sockaddr_ll.sll_protocol`, network byte order.
    pub sll_protocol: u16,
    /// `sockaddr_ll.sll_ifindex`.
    pub sll_ifindex: i32,
    /// `sockaddr_ll.sll_hatype`.
    pub sll_hatype: u16,
    /// `sockaddr_ll.sll_pkttype`.
    pub sll_pkttype: u8,
    /// `sockaddr_ll.sll_halen`.
    pub sll_halen: u8,
    /// `sockaddr_ll.sll_addr`.
    pub sll_addr: [u8; 8],
}

// The layout the header's inline code relies on is the engine's.
const _: () = {
    assert!(offset_of!(nr_v3_hdr, next_offset) == h::NEXT_OFFSET);
    assert!(offset_of!(nr_v3_hdr, sec) == h::SEC);
    assert!(offset_of!(nr_v3_hdr, nsec) == h::NSEC);
    assert!(offset_of!(nr_v3_hdr, snaplen) == h::SNAPLEN);
    assert!(offset_of!(nr_v3_hdr, len) == h::LEN);
    assert!(offset_of!(nr_v3_hdr, status) == h::STATUS);
    assert!(offset_of!(nr_v3_hdr, mac) == h::MAC);
    assert!(offset_of!(nr_v3_hdr, net) == h::NET);
    assert!(offset_of!(nr_v3_hdr, rxhash) == h::RXHASH);
    assert!(offset_of!(nr_v3_hdr, vlan_tci) == h::VLAN_TCI);
    assert!(offset_of!(nr_v3_hdr, vlan_tpid) == h::VLAN_TPID);
    assert!(offset_of!(nr_v3_hdr, sll_family) == h::SLL);
    assert!(offset_of!(nr_v3_hdr, sll_protocol) == h::SLL_PROTOCOL);
    assert!(offset_of!(nr_v3_hdr, sll_ifindex) == h::SLL_IFINDEX);
    assert!(offset_of!(nr_v3_hdr, sll_hatype) == h::SLL_HATYPE);
    assert!(offset_of!(nr_v3_hdr, sll_pkttype) == h::SLL_PKTTYPE);
    assert!(offset_of!(nr_v3_hdr, sll_halen) == h::SLL_HALEN);
    assert!(offset_of!(nr_v3_hdr, sll_addr) == h::SLL_ADDR);
    assert!(size_of::<nr_v3_hdr>() == h::HDRLEN);
    assert!(NR_PACKET_FLAGS_KERNEL_MASK == crate::afpacket::block::STATUS_FLAGS);
};

/// The nr_packet.flags bits that are the kernel's `tp_status` bits, kept
/// as they are (nr_iter_next() masks nr_v3_hdr.status with it; the other
/// flag, NR_PACKET_FLAG_TRUNCATED, is caplen < len).
pub const NR_PACKET_FLAGS_KERNEL_MASK: u32 = NR_PACKET_FLAG_LOSING
    | NR_PACKET_FLAG_CSUM_NOT_READY
    | NR_PACKET_FLAG_VLAN_VALID
    | NR_PACKET_FLAG_VLAN_TPID_VALID
    | NR_PACKET_FLAG_CSUM_VALID
    | NR_PACKET_FLAG_TS_SOFTWARE
    | NR_PACKET_FLAG_TS_SYS_HARDWARE
    | NR_PACKET_FLAG_TS_RAW_HARDWARE;

/// A position in a batch for nr_iter_next(), set up by nr_batch_iter().
/// Its fields belong to the iterator: read none of them, write none.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_iter {
    /// The TPACKET_V3 block walked inline; NULL: every packet comes from
    /// nr_iter_next_slow().
    pub block: *const u8,
    /// The block's length.
    pub block_len: usize,
    /// Offset of the next record.
    pub off: usize,
    /// Packets left.
    pub left: u32,
    /// A status the next call returns (0: none).
    pub pending: c_int,
    /// The batch.
    pub batch: *mut nr_batch,
    /// The slow walk has begun.
    pub begun: u8,
    /// The slow walk is over.
    pub done: u8,
}

/// An iterator over `batch` from its first packet, for nr_iter_next():
/// the fastest way to read a batch, with no call per packet when the batch
/// is a capture's ring block (the inline walk reads the records in the
/// program's loop, every offset checked), and the engine's walk for every
/// other batch (AF_XDP, files, immediate mode's frames). The packets are
/// those nr_batch_for_each() visits, field for field.
///
///     nr_iter it = nr_batch_iter(b);
///     nr_packet p;
///     int rc;
///     while ((rc = nr_iter_next(&it, &p)) == NR_OK)
///         use(p.data, p.caplen);
///     if (rc < 0)         // NR_E_MALFORMED, NR_E_BAD_BATCH, ...
///         report(nr_last_error());
///     nr_batch_release(b);
///
/// Returned by value, unlike the other functions' out-parameters: an
/// iterator whose address never leaves the loop stays in registers. The
/// function does not fail by itself: when `batch` is NULL, released, or
/// being walked by nr_batch_for_each() (from its callback), the first
/// nr_iter_next() returns that error (NR_E_INVALID_ARG, NR_E_BAD_BATCH)
/// and nr_last_error() says it.
///
/// The iterator is valid until the batch is released; it does not move
/// nr_batch_fill()'s position; several iterators may walk one batch, one
/// after the other or interleaved.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_batch_iter(batch: *mut nr_batch) -> nr_iter {
    guard(nr_iter::empty(batch, NR_E_INTERNAL), || {
        let mut it = nr_iter::empty(batch, 0);
        match batch::live_raw_block(batch) {
            Ok(Some((p, len, first, n))) => {
                (it.block, it.block_len, it.off, it.left) = (p, len, first as usize, n);
            }
            Ok(None) => {}
            Err(e) => it.pending = fail(e),
        }
        it
    })
}

impl nr_iter {
    /// An iterator of `batch` at its start on the slow path, whose first
    /// call returns `pending` (0: none).
    fn empty(batch: *mut nr_batch, pending: c_int) -> nr_iter {
        nr_iter {
            block: ptr::null(),
            block_len: 0,
            off: 0,
            left: 0,
            pending,
            batch,
            begun: 0,
            done: 0,
        }
    }
}

/// nr_iter_next()'s way for what it does not read inline: the next packet
/// through the engine's walk. Call nr_iter_next() instead; it calls this
/// when it must. Once called, the rest of the batch is walked here.
///
/// Returns NR_OK (`*out` is the packet); NR_EOF (no packet left); NR_E_MALFORMED
/// (the ring block is inconsistent: every packet before the fault was
/// returned, the rest of the block is skipped and counted in
/// nr_capture_stats.malformed, the iterator is at its end); NR_E_BAD_BATCH
/// (the batch was released, or this is its nr_batch_for_each() callback);
/// NR_E_INVALID_ARG (NULL it or out).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_iter_next_slow(it: *mut nr_iter, out: *mut nr_packet) -> c_int {
    boundary(|| {
        // SAFETY: the C contract: NULL or an iterator set up by
        // nr_batch_iter(), used by one thread at a time.
        let it = unsafe { it.as_mut() }.ok_or_else(|| null_arg("it"))?;
        let out = Out::new(out, "out")?;
        if it.pending != 0 {
            // The malformed block found after the previous packet (its
            // message was stored then).
            let st = it.pending;
            it.pending = 0;
            return Ok(st);
        }
        let mut cursor = if it.block.is_null() {
            Cursor::from_parts(it.begun != 0, it.done != 0, it.off, it.left)
        } else {
            // From the inline walk: resume at its record.
            if it.left == 0 {
                return Ok(NR_EOF);
            }
            Cursor::from_parts(true, false, it.off, it.left)
        };
        it.block = ptr::null();
        let step = batch::live_step(it.batch, &mut cursor);
        let (begun, done, off, left) = cursor.to_parts();
        (it.begun, it.done, it.off, it.left) = (u8::from(begun), u8::from(done), off, left);
        match step? {
            (Some(p), None) => {
                out.set(p);
                Ok(NR_OK)
            }
            (Some(p), Some(e)) => {
                out.set(p);
                it.pending = fail(e);
                Ok(NR_OK)
            }
            (None, Some(e)) => Err(e),
            (None, None) => Ok(NR_EOF),
        }
    })
}
