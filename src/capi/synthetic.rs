//! A batch over memory that is not a ring, for the micro benchmark
//! (`examples/micro.rs`): it runs the real exported [`nr_batch_for_each`]
//! and [`nr_batch_fill`] over synthetic TPACKET_V3 blocks through the same
//! engine protocol ([`SyntheticBlock`] implements `HeldBatch`), so the price
//! of the C iteration can be measured without a socket. Not part of the C
//! API.
//!
//! [`nr_batch_for_each`]: super::batch::nr_batch_for_each
//! [`nr_batch_fill`]: super::batch::nr_batch_fill

use super::batch::{self, Owner, nr_batch};
use crate::afpacket::block::{Malformed, PacketIter};
use crate::fixtures::SyntheticBlock;

/// A live `nr_batch` over a caller-owned, well-formed block. The block is
/// borrowed immutably for the batch's lifetime; dropping it frees the batch.
#[doc(hidden)]
#[derive(Debug)]
pub struct SyntheticBatch<'a> {
    b: *mut nr_batch,
    engine: *mut SyntheticBlock<'a>,
}

impl<'a> SyntheticBatch<'a> {
    /// Wrap `block` (a whole block, descriptor included). The block is
    /// walked once here and refused if any packet is malformed.
    pub fn new(block: &'a [u8]) -> Result<SyntheticBatch<'a>, Malformed> {
        let mut it = PacketIter::new(block);
        it.by_ref().count();
        if let Some(m) = it.error() {
            return Err(m);
        }
        let engine = Box::into_raw(Box::new(SyntheticBlock::new(block)));
        let b = batch::new(Owner::Synthetic(engine.cast::<SyntheticBlock<'static>>()));
        // SAFETY: b is a fresh batch whose engine holds its block.
        unsafe { batch::arm(b) };
        Ok(SyntheticBatch { b, engine })
    }

    /// Wrap `block` without walking it first (the cross-CPU micro
    /// benchmark must not pull the block into this CPU's cache before the
    /// timed walk). A malformed block is reported by the walk itself, as
    /// from a ring.
    pub fn new_unverified(block: &'a [u8]) -> SyntheticBatch<'a> {
        let engine = Box::into_raw(Box::new(SyntheticBlock::new(block)));
        let b = batch::new(Owner::Synthetic(engine.cast::<SyntheticBlock<'static>>()));
        // SAFETY: b is a fresh batch whose engine holds its block.
        unsafe { batch::arm(b) };
        SyntheticBatch { b, engine }
    }

    /// The batch, for `nr_batch_for_each` / `nr_batch_fill` /
    /// `nr_batch_len`. Do not release it: [`SyntheticBatch::rearm`] after
    /// a release makes it live again.
    pub fn as_ptr(&self) -> *mut nr_batch {
        self.b
    }

    /// Make the batch live again with its fill position at the start.
    pub fn rearm(&self) {
        // SAFETY: engine and b are this value's own allocations; no other
        // reference to them is alive during this call.
        unsafe {
            (*self.engine).rehold();
            batch::arm(self.b);
        }
    }
}

impl Drop for SyntheticBatch<'_> {
    fn drop(&mut self) {
        // SAFETY: b came from batch::new and engine from Box::into_raw; both
        // are freed only here, once, the batch first.
        unsafe {
            batch::free(self.b);
            drop(Box::from_raw(self.engine));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::NR_OK;
    use crate::capi::batch::{nr_batch_for_each, nr_batch_len, nr_packet};
    use crate::fixtures::synth;
    use std::ffi::{c_int, c_void};

    unsafe extern "C" fn sum(user: *mut c_void, p: *const nr_packet) -> c_int {
        // SAFETY: user is a &mut u64 from the test; p is valid for the call.
        unsafe { *(user as *mut u64) += u64::from((*p).caplen) };
        0
    }

    #[test]
    fn iterates_a_synthetic_block_and_refuses_a_bad_one() {
        let mut w = synth::block(8192, 3, &[&[1; 60], &[2; 1514]]);
        let bytes = synth::bytes(&mut w);
        {
            let sb = SyntheticBatch::new(bytes).unwrap();
            let mut total = 0u64;
            // SAFETY: a live batch and a callback that takes a &mut u64.
            let rc = unsafe {
                nr_batch_for_each(sb.as_ptr(), Some(sum), (&mut total as *mut u64).cast())
            };
            assert_eq!(rc, NR_OK);
            assert_eq!(total, 60 + 1514);
            // SAFETY: live batch.
            assert_eq!(unsafe { nr_batch_len(sb.as_ptr()) }, 2);
        }
        // tp_mac of the first packet pointing into its own header.
        let first = crate::afpacket::block::block_header(bytes).unwrap().first as usize;
        bytes[first + 24..first + 26].copy_from_slice(&4u16.to_ne_bytes());
        assert!(SyntheticBatch::new(bytes).is_err());
    }
}
