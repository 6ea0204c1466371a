//! Test and benchmark fixtures: TPACKET_V3 blocks built in memory the way
//! the kernel lays them out, and a [`HeldBatch`] over such a block, so the
//! block walker, the C iteration and the micro benchmark
//! (`examples/micro.rs`) run without a socket.
//!
//! Compiled for the crate's own tests and with the non-default
//! `bench-fixtures` feature only: the shipped libraries do not contain it.
//! The AF_XDP counterpart is `afxdp::synth` (it needs that module's private
//! walk), behind the same switch.

use crate::afpacket::block::{BlockHeader, block_header, malformed_error, walk_block};
use crate::batch::{Cursor, HeldBatch, Walk, not_held};
use crate::error::Result;
use crate::packet::Packet;

/// Builds synthetic TPACKET_V3 blocks the way the kernel lays them out.
pub mod synth {
    use crate::sys::tpacket::{self as tp, block_desc as bd, v3_hdr as h};

    /// Offset of frame data from its header, as the kernel computes it for
    /// Ethernet with no reserve: `TPACKET_ALIGN(TPACKET3_HDRLEN)` plus 2 so
    /// the network header is 16-byte aligned.
    pub const MAC_OFFSET: usize = 82;

    /// A block of `size` bytes (8-byte aligned storage) holding `frames`.
    pub fn block(size: usize, seq: u64, frames: &[&[u8]]) -> Vec<u64> {
        let mut words = vec![0u64; size.div_ceil(8)];
        {
            let b = bytes(&mut words);
            let w32 = |b: &mut [u8], off: usize, v: u32| {
                b[off..off + 4].copy_from_slice(&v.to_ne_bytes())
            };
            w32(b, bd::VERSION, 3);
            w32(b, bd::BLOCK_STATUS, tp::TP_STATUS_USER);
            w32(b, bd::NUM_PKTS, frames.len() as u32);
            w32(b, bd::OFFSET_TO_FIRST_PKT, bd::SIZE as u32);
            b[bd::SEQ_NUM..bd::SEQ_NUM + 8].copy_from_slice(&seq.to_ne_bytes());
            let mut off = bd::SIZE;
            for (i, f) in frames.iter().enumerate() {
                let total = (MAC_OFFSET + f.len()).next_multiple_of(8);
                let next = if i + 1 == frames.len() {
                    0
                } else {
                    total as u32
                };
                w32(b, off + h::NEXT_OFFSET, next);
                w32(b, off + h::SEC, 1_700_000_000 + i as u32);
                w32(b, off + h::NSEC, 123_456_789);
                w32(b, off + h::SNAPLEN, f.len() as u32);
                w32(b, off + h::LEN, f.len() as u32 + (i as u32 % 2) * 4);
                w32(
                    b,
                    off + h::STATUS,
                    tp::TP_STATUS_USER | tp::TP_STATUS_TS_SOFTWARE,
                );
                b[off + h::MAC..off + h::MAC + 2]
                    .copy_from_slice(&(MAC_OFFSET as u16).to_ne_bytes());
                w32(b, off + h::SLL_IFINDEX, 7);
                b[off + h::SLL_PROTOCOL..off + h::SLL_PROTOCOL + 2]
                    .copy_from_slice(&0x0800u16.to_be_bytes());
                b[off + h::SLL_PKTTYPE] = 3;
                b[off + MAC_OFFSET..off + MAC_OFFSET + f.len()].copy_from_slice(f);
                off += total;
            }
            w32(b, bd::BLK_LEN, off as u32);
        }
        words
    }

    /// View a synthetic block as bytes.
    pub fn bytes(words: &mut [u64]) -> &mut [u8] {
        let len = words.len() * 8;
        // SAFETY: as above: same storage, same byte length, u8 has no
        // alignment or validity requirements; the borrow is tied to `words`.
        unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) }
    }
}

/// A caller-owned, already filled TPACKET_V3 block served through
/// [`HeldBatch`] (no socket, no ring).
#[derive(Debug)]
pub struct SyntheticBlock<'a> {
    block: &'a [u8],
    hdr: BlockHeader,
    held: bool,
    /// Malformed blocks seen by walks.
    pub malformed: u64,
}

impl<'a> SyntheticBlock<'a> {
    /// Serve `block` (a whole block, descriptor included) as a held batch.
    pub fn new(block: &'a [u8]) -> SyntheticBlock<'a> {
        let hdr = block_header(block).unwrap_or_default();
        SyntheticBlock {
            block,
            hdr,
            held: true,
            malformed: 0,
        }
    }

    /// Hold the block again after a release.
    pub fn rehold(&mut self) {
        self.held = true;
    }
}

impl HeldBatch for SyntheticBlock<'_> {
    fn is_held(&self) -> bool {
        self.held
    }
    fn held_len(&self) -> usize {
        if self.held {
            self.hdr.num_pkts as usize
        } else {
            0
        }
    }
    fn held_seq(&self) -> u64 {
        if self.held { self.hdr.seq } else { 0 }
    }
    fn held_raw_block(&self) -> Option<crate::batch::RawBlock<'_>> {
        self.held.then_some(crate::batch::RawBlock {
            bytes: self.block,
            first: self.hdr.first,
            num_pkts: self.hdr.num_pkts,
        })
    }
    #[inline]
    fn walk_held<F>(&mut self, cursor: &mut Cursor, f: F) -> Result<Walk>
    where
        F: FnMut(&Packet<'_>) -> bool,
    {
        if !self.held {
            return Ok(Walk::Done);
        }
        walk_block(self.block, &self.hdr, cursor, f).map_err(|m| {
            self.malformed += 1;
            malformed_error(m)
        })
    }
    fn release_held(&mut self) -> Result<()> {
        if !self.held {
            return Err(not_held());
        }
        self.held = false;
        Ok(())
    }
}
