//! The four AF_XDP rings: single-producer/single-consumer queues shared
//! with the kernel.
//!
//! Indices are free-running `u32`s that wrap (`prod - cons` is the fill
//! level in wrapping arithmetic); the slot is `index & mask`. The side that
//! produces writes descriptors, then publishes its index with a Release
//! store; the side that consumes loads the other index with Acquire before
//! reading descriptors, and publishes its own index with Release after it
//! is done with them. The other side's index is cached and reloaded only
//! when the cache says the ring is full/empty.
//!
//! This module is pure logic over memory: its tests use synthetic rings.

use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use crate::sys::xdp::{XDP_RING_NEED_WAKEUP, XdpMap, XdpRingOffset};

/// One ring (fill, completion: `T = u64`; RX, TX: `T = XdpDesc`).
#[derive(Debug)]
pub struct Ring<T: Copy> {
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut T,
    size: u32,
    /// Our own index (producer index for a producer ring, consumer index
    /// for a consumer ring).
    local: u32,
    /// The last seen index of the other side.
    cached: u32,
    _map: Option<XdpMap>,
}

// SAFETY: the ring is a view of memory shared with the kernel, owned by the
// socket it belongs to; moving it to another thread moves that ownership.
unsafe impl<T: Copy> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// A ring over a socket mapping laid out per `off`, with `size` slots
    /// (a power of two).
    ///
    /// # Safety
    /// `map` is the ring's mapping of at least `off.desc + size *
    /// size_of::<T>()` bytes; the offsets come from `XDP_MMAP_OFFSETS`.
    pub unsafe fn from_map(map: XdpMap, off: &XdpRingOffset, size: u32) -> Ring<T> {
        let base = map.as_ptr();
        // SAFETY: the offsets are inside the mapping per the contract.
        let mut r = unsafe {
            Ring::from_raw(
                base.add(off.producer as usize).cast(),
                base.add(off.consumer as usize).cast(),
                base.add(off.flags as usize).cast(),
                base.add(off.desc as usize).cast(),
                size,
            )
        };
        r._map = Some(map);
        r
    }

    /// A ring over raw words.
    ///
    /// # Safety
    /// The pointers are valid, aligned and live as long as the ring; `desc`
    /// has `size` slots; `size` is a power of two.
    pub unsafe fn from_raw(
        producer: *const AtomicU32,
        consumer: *const AtomicU32,
        flags: *const AtomicU32,
        desc: *mut T,
        size: u32,
    ) -> Ring<T> {
        debug_assert!(size.is_power_of_two());
        Ring {
            producer,
            consumer,
            flags,
            desc,
            size,
            local: 0,
            cached: 0,
            _map: None,
        }
    }

    fn prod(&self) -> &AtomicU32 {
        // SAFETY: valid for the ring's lifetime (constructor contract).
        unsafe { &*self.producer }
    }

    fn cons(&self) -> &AtomicU32 {
        // SAFETY: as above.
        unsafe { &*self.consumer }
    }

    /// Number of slots.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Start as the producer: take the current indices.
    pub fn init_producer(&mut self) {
        self.local = self.prod().load(Ordering::Relaxed);
        self.cached = self.cons().load(Ordering::Acquire);
    }

    /// Start as the consumer: take the current indices.
    pub fn init_consumer(&mut self) {
        self.local = self.cons().load(Ordering::Relaxed);
        self.cached = self.prod().load(Ordering::Acquire);
    }

    // ---- producer side (fill, TX) ----

    /// Free slots, reloading the consumer index only if fewer than `want`
    /// are known to be free.
    pub fn free(&mut self, want: u32) -> u32 {
        let free = self.size - self.local.wrapping_sub(self.cached);
        if free >= want {
            return free;
        }
        self.cached = self.cons().load(Ordering::Acquire);
        self.size - self.local.wrapping_sub(self.cached)
    }

    /// Write the `i`-th slot after the producer index (not yet published).
    /// The caller checked `i < free()`.
    #[inline(always)]
    pub fn write(&mut self, i: u32, v: T) {
        let slot = (self.local.wrapping_add(i) & (self.size - 1)) as usize;
        // SAFETY: slot < size; the slot is owned by the producer until the
        // index is published.
        unsafe { ptr::write_volatile(self.desc.add(slot), v) }
    }

    /// Publish `n` written slots (Release).
    pub fn submit(&mut self, n: u32) {
        self.local = self.local.wrapping_add(n);
        self.prod().store(self.local, Ordering::Release);
    }

    /// Slots produced but not yet consumed by the kernel.
    pub fn outstanding(&mut self) -> u32 {
        self.cached = self.cons().load(Ordering::Acquire);
        self.local.wrapping_sub(self.cached)
    }

    /// Whether the kernel asked for a wake-up (`XDP_RING_NEED_WAKEUP`).
    /// Ordered after the preceding index store.
    pub fn needs_wakeup(&self) -> bool {
        fence(Ordering::SeqCst);
        // SAFETY: valid for the ring's lifetime.
        unsafe { &*self.flags }.load(Ordering::Relaxed) & XDP_RING_NEED_WAKEUP != 0
    }

    // ---- consumer side (RX, completion) ----

    /// Entries ready to read, at most `max` (reloads the producer index).
    pub fn available(&mut self, max: u32) -> u32 {
        let mut n = self.cached.wrapping_sub(self.local);
        if n == 0 {
            self.cached = self.prod().load(Ordering::Acquire);
            n = self.cached.wrapping_sub(self.local);
        }
        // A kernel never produces more than the ring holds; clamp anyway so
        // a corrupted index cannot make us read a slot twice.
        n.min(self.size).min(max)
    }

    /// Read the `i`-th entry after the consumer index. The caller checked
    /// `i < available()`.
    #[inline(always)]
    pub fn read(&self, i: u32) -> T {
        let slot = (self.local.wrapping_add(i) & (self.size - 1)) as usize;
        // SAFETY: slot < size; the entry was published (Acquire in
        // available()) and is not reused until release().
        unsafe { ptr::read_volatile(self.desc.add(slot)) }
    }

    /// Give `n` read entries back (Release).
    pub fn release(&mut self, n: u32) {
        self.local = self.local.wrapping_add(n);
        self.cons().store(self.local, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic ring: words [prod, cons, flags, pad] then `size` u64
    /// slots, all reached through one raw pointer (miri-friendly).
    struct Synth {
        base: *mut u64,
        len: usize,
    }

    impl Synth {
        fn new(size: usize) -> Synth {
            let b = vec![0u64; 2 + size].into_boxed_slice();
            let len = b.len();
            Synth {
                base: Box::into_raw(b).cast(),
                len,
            }
        }
        fn ring(&mut self, size: u32) -> Ring<u64> {
            // SAFETY: the words and slots live until Synth drops, after the
            // ring in every test; u64 alignment covers AtomicU32.
            unsafe {
                let w = self.base.cast::<AtomicU32>();
                Ring::from_raw(w, w.add(1), w.add(2), self.base.add(2), size)
            }
        }
        fn word(&self, i: usize) -> u32 {
            // SAFETY: i < 4 words inside the allocation.
            unsafe { (*self.base.cast::<AtomicU32>().add(i)).load(Ordering::SeqCst) }
        }
        fn set_word(&mut self, i: usize, v: u32) {
            // SAFETY: as above.
            unsafe { (*self.base.cast::<AtomicU32>().add(i)).store(v, Ordering::SeqCst) }
        }
        fn slot(&self, i: usize) -> u64 {
            assert!(2 + i < self.len);
            // SAFETY: in bounds (checked).
            unsafe { self.base.add(2 + i).read() }
        }
        fn set_slot(&mut self, i: usize, v: u64) {
            assert!(2 + i < self.len);
            // SAFETY: in bounds (checked).
            unsafe { self.base.add(2 + i).write(v) }
        }
    }

    impl Drop for Synth {
        fn drop(&mut self) {
            // SAFETY: base/len came from Box::into_raw of a boxed slice.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.base, self.len)) });
        }
    }

    #[test]
    fn producer_fills_and_wraps() {
        let mut s = Synth::new(4);
        // Start near the u32 wrap point.
        s.set_word(0, u32::MAX - 1);
        s.set_word(1, u32::MAX - 1);
        let mut r = s.ring(4);
        r.init_producer();
        assert_eq!(r.free(1), 4);
        for i in 0..4 {
            r.write(i, 100 + u64::from(i));
        }
        r.submit(4);
        assert_eq!(r.free(1), 0);
        assert_eq!(s.word(0), (u32::MAX - 1).wrapping_add(4));
        // Slots: index MAX-1 → slot 2, MAX → 3, 0 → 0, 1 → 1.
        assert_eq!(
            [s.slot(0), s.slot(1), s.slot(2), s.slot(3)],
            [102, 103, 100, 101]
        );
        // The "kernel" consumes 3.
        s.set_word(1, (u32::MAX - 1).wrapping_add(3));
        assert_eq!(r.free(1), 3);
        assert_eq!(r.outstanding(), 1);
    }

    #[test]
    fn consumer_reads_in_order_and_releases() {
        let mut s = Synth::new(8);
        s.set_word(0, 5);
        s.set_word(1, 2);
        for (i, v) in (2..5).zip([20u64, 30, 40]) {
            s.set_slot(i & 7, v);
        }
        let mut r = s.ring(8);
        r.init_consumer();
        assert_eq!(r.available(16), 3);
        assert_eq!(r.available(2), 2);
        assert_eq!((r.read(0), r.read(1), r.read(2)), (20, 30, 40));
        r.release(3);
        assert_eq!(s.word(1), 5);
        assert_eq!(r.available(16), 0);
    }

    #[test]
    fn corrupted_producer_index_is_clamped() {
        let mut s = Synth::new(4);
        s.set_word(0, 1000);
        let mut r = s.ring(4);
        r.init_consumer();
        // init took cons=0, prod=1000: never more than the ring size.
        assert_eq!(r.available(u32::MAX), 4);
    }

    #[test]
    fn need_wakeup_flag() {
        let mut s = Synth::new(2);
        let r = s.ring(2);
        assert!(!r.needs_wakeup());
        drop(r);
        s.set_word(2, XDP_RING_NEED_WAKEUP);
        let r = s.ring(2);
        assert!(r.needs_wakeup());
    }
}
