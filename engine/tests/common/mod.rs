//! The shared harness (the `netring-testkit` crate: namespaces, veth pairs,
//! frames, ...) plus what needs the engine's types. The root package's tests
//! that read a `Capture` include this file too.

#![allow(dead_code, unused_imports, unused_macros)]

pub use netring_testkit::*;

use std::time::{Duration, Instant};

use netring_engine::{Breaker, Capture, CaptureConfig, CaptureStats, Wait};

/// One `#[test]` a case: `name => call;` is a test `name` that runs `call`
/// (for a file whose tests run one function over a table of cases). Doc
/// comments before a name are kept.
macro_rules! cases {
    ($($(#[$doc:meta])* $name:ident => $call:expr;)+) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                $call;
            }
        )+
    };
}
pub(crate) use cases;

/// When a test breaks a blocked call, or removes the interface under it
/// (with `meanwhile`): long enough for the call to be blocked.
pub const BREAK_AFTER: Duration = Duration::from_millis(100);

/// A small ring so tests stay light: 64 KiB x 32, 10 ms block timeout.
pub fn small_ring() -> CaptureConfig {
    CaptureConfig {
        block_size: 64 << 10,
        block_count: 32,
        block_timeout_ms: 10,
        ..CaptureConfig::default()
    }
}

/// A ring for thousands of frames up to 1514 bytes: 1 MiB x 16, 10 ms
/// block timeout.
pub fn rx_ring() -> CaptureConfig {
    CaptureConfig {
        block_size: 1 << 20,
        block_count: 16,
        block_timeout_ms: 10,
        ..CaptureConfig::default()
    }
}

/// Test frames seen by `cap`, until `want` arrived and then `quiet` passed
/// with nothing new (so extra frames would be seen too), or `limit`.
pub fn collect(cap: &mut Capture, want: usize, quiet: Duration, limit: Duration) -> Vec<Vec<u8>> {
    netring_testkit::collect(want, quiet, limit, |each| {
        match cap
            .next_batch_timeout(Some(Duration::from_millis(20)))
            .unwrap()
        {
            Wait::Ready(mut b) => {
                b.for_each(|p| {
                    each(p.data());
                    true
                });
                true
            }
            _ => false,
        }
    })
}

/// Open `cfg` (a ring too small for `n` 1000-byte frames) on `ifname`, send
/// the frames from `peer` while nobody reads, then read what the ring kept.
/// Checks the statistics' deltas on the way; returns the lifetime totals
/// and the number of packets the batches held.
pub fn fill_then_drain(
    ifname: &str,
    peer: &str,
    cfg: &CaptureConfig,
    n: u32,
) -> (CaptureStats, u64) {
    let mut cap = Capture::open(ifname, cfg).unwrap();
    let tx = Sender::open(peer);
    for i in 0..n {
        tx.send(&frame(1000, i, OTHER_MAC));
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut delivered = 0u64;
    while let Wait::Ready(b) = cap
        .next_batch_timeout(Some(Duration::from_millis(50)))
        .unwrap()
    {
        delivered += b.len() as u64;
    }
    let (total, delta) = cap.stats_with_delta().unwrap();
    assert_eq!(total, delta, "first read: delta equals total");
    let (total2, delta2) = cap.stats_with_delta().unwrap();
    assert_eq!(total2, total, "totals survive the kernel's reset-on-read");
    assert_eq!(delta2.drops, 0);
    (total, delivered)
}

/// [`collect`] with no quiet time while `send` runs on another thread
/// (joined before returning): the frames `cap` saw, until `want` arrived
/// or `limit`.
pub fn collect_while(
    cap: &mut Capture,
    want: usize,
    quiet: Duration,
    limit: Duration,
    send: impl FnOnce() + Send,
) -> Vec<Vec<u8>> {
    std::thread::scope(|s| {
        let h = s.spawn(send);
        let got = collect(cap, want, quiet, limit);
        h.join().unwrap();
        got
    })
}

/// The frame length test number `i` has in the tests that send frames of
/// every size: `60 + i % 1455` (60 to 1514 bytes).
pub fn every_size(i: usize) -> usize {
    60 + i % 1455
}

/// Sends the test frames `0..n`, frame `i` [`every_size`]`(i)` bytes long,
/// from `tx` on another thread (calling `after(tx, i)` after each), while
/// collecting them from `cap` with no quiet time, for up to 20 s.
pub fn send_every_size_and_collect(
    cap: &mut Capture,
    tx: &Sender,
    n: u32,
    after: impl Fn(&Sender, u32) + Sync,
) -> Vec<Vec<u8>> {
    collect_while(
        cap,
        n as usize,
        Duration::ZERO,
        Duration::from_secs(20),
        || {
            for i in 0..n {
                tx.send(&frame(every_size(i as usize), i, OTHER_MAC));
                after(tx, i);
            }
        },
    )
}

/// Checks that `got` holds the test frames 0, 1, 2, ... in order, frame
/// `i` [`every_size`]`(i)` bytes long.
pub fn assert_every_size_in_order(got: &[Vec<u8>]) {
    for (i, f) in got.iter().enumerate() {
        assert_eq!(frame_seq(f), Some(i as u32), "order");
        assert_eq!(f.len(), every_size(i));
    }
}

/// Checks that `wait` (a wait with no timeout) returns true within 2 s
/// when `brk` breaks it from another thread after [`BREAK_AFTER`].
pub fn assert_break_wakes(brk: Breaker, wait: impl FnOnce() -> bool) {
    let t = Instant::now();
    let w = meanwhile(BREAK_AFTER, move || brk.break_loop(), wait);
    assert!(w && t.elapsed() < Duration::from_secs(2));
}
