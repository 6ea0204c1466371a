//! The `tokio` feature on real veth pairs: AsyncCapture counts exactly what
//! an independent sender (a plain AF_PACKET socket) sent, through
//! `next_batch` and through the `packets()` Stream; AsyncInjector loses
//! nothing behind a shaping qdisc that refuses most sends. In both, a
//! ticker task on the same single-threaded runtime keeps running: nothing
//! blocks the runtime.
//!
//! cargo test -p netring-engine --features tokio --test asyncio

#![cfg(feature = "tokio")]

mod common;

use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Net, OTHER_MAC, frame, frame_seq, rx_ring};
use futures_core::Stream;
use netring_engine::asyncio::{AsyncCapture, AsyncInjector};
use netring_engine::{Capture, CaptureConfig, Injector, InjectorConfig};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A task that ticks every millisecond; returns its counter.
fn ticker() -> Arc<AtomicU64> {
    let ticks = Arc::new(AtomicU64::new(0));
    let t = ticks.clone();
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_millis(1));
        loop {
            iv.tick().await;
            t.fetch_add(1, Ordering::Relaxed);
        }
    });
    ticks
}

/// On a fresh veth pair, a capture on `net.a` while `n` test frames are
/// sent from `net.b` on a plain thread, starting after 100 ms (so the
/// runtime is already waiting): runs `f` on the capture made async, on a
/// single-threaded runtime with a [`ticker`]. Returns what `f` returned,
/// the ticks when it returned and the frames sent.
fn capture_what_is_sent<T>(
    n: u32,
    f: impl AsyncFnOnce(&mut AsyncCapture) -> T,
) -> (T, u64, Vec<Vec<u8>>) {
    let net = Net::new();
    let cap = net.enter(|| Capture::open(&net.a, &rx_ring())).unwrap();
    let tx = net.sender(&net.b);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let frames: Vec<Vec<u8>> = (0..n)
            .map(|k| frame(60 + (k as usize * 11) % 1400, k, OTHER_MAC))
            .collect();
        for f in &frames {
            tx.send(f);
        }
        frames
    });
    let rt = runtime();
    let (r, ticks) = rt.block_on(async {
        let ticks = ticker();
        let mut cap = AsyncCapture::new(cap).unwrap();
        let r = f(&mut cap).await;
        (r, ticks.load(Ordering::Relaxed))
    });
    (r, ticks, sender.join().unwrap())
}

#[test]
fn async_capture_counts_exactly_what_an_independent_sender_sent() {
    const N: u32 = 5000;
    let (got, ticks, sent) = capture_what_is_sent(N, async |cap| {
        let mut got: Vec<Vec<u8>> = Vec::new();
        // Until every frame is in, then 300 ms more in which nothing else
        // may arrive.
        let deadline = Instant::now() + Duration::from_secs(30);
        while (got.len() as u32) < N && Instant::now() < deadline {
            let mut b = cap.next_batch().await.unwrap();
            b.for_each(|p| {
                if frame_seq(p.data()).is_some() {
                    got.push(p.data().to_vec());
                }
                true
            });
        }
        let extra = tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                let mut b = cap.next_batch().await.unwrap();
                let mut n = 0;
                b.for_each(|p| {
                    n += frame_seq(p.data()).is_some() as usize;
                    true
                });
                if n > 0 {
                    return n;
                }
            }
        })
        .await;
        assert!(extra.is_err(), "frames beyond the {N} sent");
        got
    });
    assert_eq!(got.len(), sent.len(), "captured vs sent");
    assert_eq!(got, sent, "every frame, in order, byte for byte");
    // The runtime kept running while the capture waited (100 ms before
    // the first frame, 300 ms after the last): a blocking wait would stop
    // the ticker.
    assert!(ticks >= 100, "ticker ran only {ticks} times");
}

#[test]
fn async_packet_stream_counts_exactly_what_an_independent_sender_sent() {
    const N: u32 = 3000;
    let (got, _, sent) = capture_what_is_sent(N, async |cap| {
        let mut stream = pin!(cap.packets());
        let mut got = Vec::new();
        let next = tokio::time::timeout(Duration::from_secs(30), async {
            while (got.len() as u32) < N {
                let p = poll_fn(|cx| stream.as_mut().poll_next(cx))
                    .await
                    .expect("the stream does not end")
                    .unwrap();
                if frame_seq(&p.data).is_some() {
                    got.push(p.data);
                }
            }
        })
        .await;
        assert!(next.is_ok(), "only {} of {N} frames", got.len());
        got
    });
    assert_eq!(got, sent, "every frame, in order, byte for byte");
}

#[test]
fn async_injector_loses_nothing_under_backpressure() {
    const N: u32 = 3000;
    let net = Net::new();
    // A shaper with a 6 KB queue in front of the injector: most sends are
    // refused (ENOBUFS), the 64 slots fill up, send() must wait.
    net.shape(&net.b, "4mbit", "4k", "6k");
    let icfg = InjectorConfig {
        frame_count: 64,
        ..InjectorConfig::default()
    };
    let inj = net.enter(|| Injector::open(&net.b, &icfg)).unwrap();
    let mut cap = net.enter(|| Capture::open(&net.a, &rx_ring())).unwrap();
    let frames: Vec<Vec<u8>> = (0..N).map(|k| frame(60, k, OTHER_MAC)).collect();
    let receiver = std::thread::spawn(move || {
        common::collect(
            &mut cap,
            N as usize,
            Duration::from_millis(300),
            Duration::from_secs(30),
        )
    });
    let rt = runtime();
    let (stats, ticks, took) = rt.block_on(async {
        let ticks = ticker();
        let mut inj = AsyncInjector::new(inj).unwrap();
        let t0 = Instant::now();
        for f in &frames[..N as usize / 2] {
            inj.send(f).await.unwrap();
        }
        inj.send_all(frames[N as usize / 2..].iter().map(|f| f.as_slice()))
            .await
            .unwrap();
        inj.drained().await.unwrap();
        let took = t0.elapsed();
        (inj.get_mut().stats(), ticks.load(Ordering::Relaxed), took)
    });
    let got = receiver.join().unwrap();
    assert_eq!(got.len(), frames.len(), "received vs sent");
    assert_eq!(got, frames, "every frame, in order, byte for byte");
    assert_eq!(stats.pending, 0);
    assert!(
        stats.transient > 0,
        "the qdisc never pushed back: {stats:?}"
    );
    // 3000 x 60 B at 4 Mbit/s take >= 0.3 s, all spent waiting in
    // .await: the ticker must have run through most of it.
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(
        ticks as u128 >= took.as_millis() / 4,
        "ticker ran {ticks} times in {took:?}: the runtime was blocked"
    );
}

/// The async bridge on two veth pairs (b ==veth== a [bridge] c ==veth== d):
/// frames sent on b come out of d and frames sent on d out of b, byte for
/// byte, except exactly those the callback dropped.
#[test]
fn async_bridge_forwards_both_ways_byte_exact() {
    use netring_engine::asyncio::AsyncBridge;
    use netring_engine::{BridgeConfig, BridgeDirection, Verdict};
    const N: u32 = 1500;
    const BA: u32 = 1_000_000;
    let net = Net::new();
    let (c, d) = net.second_pair();
    let rx = CaptureConfig {
        promiscuous: false,
        ignore_outgoing: true,
        ..rx_ring()
    };
    let cap_b = net.enter(|| Capture::open(&net.b, &rx)).unwrap();
    let cap_d = net.enter(|| Capture::open(&d, &rx)).unwrap();
    let len = |i: u32| 60 + (i as usize * 13) % 1455;
    let ab: Vec<Vec<u8>> = (0..N).map(|i| frame(len(i), i, OTHER_MAC)).collect();
    let ba: Vec<Vec<u8>> = (0..N).map(|i| frame(len(i), BA + i, OTHER_MAC)).collect();
    let want_d: Vec<Vec<u8>> = ab
        .iter()
        .filter(|f| frame_seq(f).unwrap() % 10 != 3)
        .cloned()
        .collect();
    let want_b: Vec<Vec<u8>> = ba
        .iter()
        .filter(|f| (frame_seq(f).unwrap() - BA) % 7 != 0)
        .cloned()
        .collect();
    let (nd, nb) = (want_d.len(), want_b.len());
    let collect_on_a_thread = |mut cap: Capture, n| {
        std::thread::spawn(move || {
            common::collect(
                &mut cap,
                n,
                Duration::from_millis(300),
                Duration::from_secs(30),
            )
        })
    };
    let at_d = collect_on_a_thread(cap_d, nd);
    let at_b = collect_on_a_thread(cap_b, nb);
    let tx_b = net.sender(&net.b);
    let tx_d = net.sender(&d);
    let rt = runtime();
    // Open in the namespace (the sockets stay there), registered with this
    // runtime's reactor.
    let handle = rt.handle().clone();
    let mut bridge = net.enter(|| {
        let _rt = handle.enter();
        AsyncBridge::open(&net.a, &c, &BridgeConfig::default()).unwrap()
    });
    let senders = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..N as usize {
            tx_b.send(&ab[i]);
            tx_d.send(&ba[i]);
        }
    });
    let stats = rt.block_on(async {
        let ticks = ticker();
        // Run until both receivers had time to see everything, then stop
        // the bridge by dropping its future.
        let run = tokio::time::timeout(
            Duration::from_secs(3),
            bridge.run(|dir, p| {
                let seq = frame_seq(p.data()).unwrap_or(0);
                let drop = match dir {
                    BridgeDirection::AToB => seq % 10 == 3,
                    BridgeDirection::BToA => (seq - BA) % 7 == 0,
                };
                if drop {
                    Verdict::Drop
                } else {
                    Verdict::Forward
                }
            }),
        )
        .await;
        assert!(run.is_err(), "the bridge stopped by itself: {run:?}");
        bridge.drained().await.unwrap();
        assert!(
            ticks.load(Ordering::Relaxed) > 1000,
            "the runtime was blocked"
        );
        bridge.stats().unwrap()
    });
    senders.join().unwrap();
    let (got_d, got_b) = (at_d.join().unwrap(), at_b.join().unwrap());
    assert_eq!(
        got_d, want_d,
        "A to B: every forwarded frame, byte for byte"
    );
    assert_eq!(
        got_b, want_b,
        "B to A: every forwarded frame, byte for byte"
    );
    assert_eq!(
        (stats[0].forwarded, stats[0].dropped, stats[0].failed),
        (nd as u64, (N as usize - nd) as u64, 0)
    );
    assert_eq!(
        (stats[1].forwarded, stats[1].dropped, stats[1].failed),
        (nb as u64, (N as usize - nb) as u64, 0)
    );
}
