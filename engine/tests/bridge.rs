//! The bridge on two veth pairs in one namespace:
//!
//!   b (host side A) ==veth== a [bridge] c ==veth== d (host side B)
//!
//! Frames sent on b must come out of d byte for byte, frames sent on d out
//! of b; the callback's drops are exactly the missing frames (the nrbridge
//! example: tests/wire_c.rs).

mod common;

use std::time::{Duration, Instant};

use common::{BREAK_AFTER, Net, OTHER_MAC, Sender, frame, frame_seq, meanwhile};
use netring_engine::{Bridge, BridgeConfig, BridgeDirection, Capture, CaptureConfig, Verdict};

fn rx_cfg() -> CaptureConfig {
    CaptureConfig {
        promiscuous: false,
        ignore_outgoing: true,
        ..common::rx_ring()
    }
}

const BA: u32 = 1_000_000;

fn a_to_b_drop(seq: u32) -> bool {
    seq % 10 == 3
}

fn b_to_a_drop(seq: u32) -> bool {
    seq % 7 == 0
}

#[test]
fn frames_cross_both_ways_byte_exact_and_drops_are_exact() {
    let net = Net::new();
    let (c, d) = net.second_pair();
    const N: u32 = 2000;
    let len = |i: u32| 60 + (i as usize * 13) % 1455;
    let (at_d, at_b, stats) = net.enter(|| {
        let mut bridge = Bridge::open(&net.a, &c, &BridgeConfig::default()).unwrap();
        let brk = bridge.breaker();
        let mut cap_b = Capture::open(&net.b, &rx_cfg()).unwrap();
        let mut cap_d = Capture::open(&d, &rx_cfg()).unwrap();
        let tx_b = Sender::open(&net.b);
        let tx_d = Sender::open(&d);
        std::thread::scope(|s| {
            let run = s.spawn(move || {
                bridge
                    .run(|dir, p| {
                        let seq = frame_seq(p.data()).unwrap_or(0);
                        let drop = match dir {
                            BridgeDirection::AToB => a_to_b_drop(seq),
                            BridgeDirection::BToA => b_to_a_drop(seq - BA),
                        };
                        if drop {
                            Verdict::Drop
                        } else {
                            Verdict::Forward
                        }
                    })
                    .unwrap();
                assert!(bridge.drain(Some(Duration::from_secs(2))).unwrap());
                bridge.stats().unwrap()
            });
            let senders = s.spawn(|| {
                for i in 0..N {
                    tx_b.send(&frame(len(i), i, OTHER_MAC));
                    tx_d.send(&frame(len(i), BA + i, OTHER_MAC));
                    if i % 64 == 0 {
                        // Let the bridge keep up with two senders on 2 CPUs.
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            });
            let want_d = (0..N).filter(|&i| !a_to_b_drop(i)).count();
            let want_b = (0..N).filter(|&i| !b_to_a_drop(i)).count();
            let rx = s.spawn(move || {
                common::collect(
                    &mut cap_b,
                    want_b,
                    Duration::from_millis(200),
                    Duration::from_secs(20),
                )
            });
            let at_d = common::collect(
                &mut cap_d,
                want_d,
                Duration::from_millis(200),
                Duration::from_secs(20),
            );
            let at_b = rx.join().unwrap();
            senders.join().unwrap();
            brk.break_loop();
            let stats = run.join().unwrap();
            (at_d, at_b, stats)
        })
    });
    let want_d: Vec<Vec<u8>> = (0..N)
        .filter(|&i| !a_to_b_drop(i))
        .map(|i| frame(len(i), i, OTHER_MAC))
        .collect();
    let want_b: Vec<Vec<u8>> = (0..N)
        .filter(|&i| !b_to_a_drop(i))
        .map(|i| frame(len(i), BA + i, OTHER_MAC))
        .collect();
    assert_eq!(at_d.len(), want_d.len(), "A->B count; stats {stats:?}");
    assert!(at_d == want_d, "A->B frames differ");
    assert_eq!(at_b.len(), want_b.len(), "B->A count; stats {stats:?}");
    assert!(at_b == want_b, "B->A frames differ");
    let [ab, ba] = stats;
    assert_eq!(ab.forwarded, want_d.len() as u64, "{ab:?}");
    assert_eq!(ab.dropped, u64::from(N) - want_d.len() as u64, "{ab:?}");
    assert_eq!(ba.forwarded, want_b.len() as u64, "{ba:?}");
    assert_eq!(ba.dropped, u64::from(N) - want_b.len() as u64, "{ba:?}");
    assert_eq!((ab.failed, ba.failed), (0, 0));
    assert_eq!((ab.capture_drops, ba.capture_drops), (0, 0));
}

/// A bridge callback that forwards everything.
fn forward(_: BridgeDirection, _: &netring_engine::Packet<'_>) -> Verdict {
    Verdict::Forward
}

#[test]
fn breakloop_stops_an_idle_bridge_and_removal_is_an_error() {
    let net = Net::new();
    let (c, _d) = net.second_pair();
    net.enter(|| {
        let mut bridge = Bridge::open(&net.a, &c, &BridgeConfig::default()).unwrap();
        let brk = bridge.breaker();
        let t = Instant::now();
        meanwhile(
            BREAK_AFTER,
            move || brk.break_loop(),
            || bridge.run(forward),
        )
        .unwrap();
        assert!(t.elapsed() < Duration::from_secs(2));
        // An interface removed under a running bridge ends run() with an
        // error, not a hang.
        let t = Instant::now();
        let r = meanwhile(
            BREAK_AFTER,
            || net.ip(&["link", "del", &c]),
            || bridge.run(forward),
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let e = r.unwrap_err();
        assert_eq!(e.kind(), netring_engine::ErrorKind::InterfaceGone, "{e}");
    });
    let e = Bridge::open("lo", "lo", &BridgeConfig::default()).unwrap_err();
    assert_eq!(e.kind(), netring_engine::ErrorKind::InvalidArgument);
}
