//! Injection on real veth pairs: what leaves through the Injector is
//! captured at the peer by an independent socket and checked byte for byte
//! (tests/c/test_inject.c through the C API: tests/wire_c.rs).

mod common;

use std::time::{Duration, Instant};

use common::{BREAK_AFTER, Net, OTHER_MAC, frame, meanwhile};
use netring_engine::{Capture, CaptureConfig, ErrorKind, Injector, InjectorConfig, TxMode};

const MODES: [TxMode; 2] = [TxMode::Ring, TxMode::Sendmmsg];

fn rx_cfg() -> CaptureConfig {
    CaptureConfig {
        promiscuous: false,
        ..common::rx_ring()
    }
}

/// The frames `cap` saw: `want`, then 150 ms with nothing new (at most 5 s).
fn collect(cap: &mut Capture, want: usize) -> Vec<Vec<u8>> {
    common::collect(
        cap,
        want,
        Duration::from_millis(150),
        Duration::from_secs(5),
    )
}

/// The test frames `0..n`, each `len` bytes.
fn frames(n: u32, len: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| frame(len, i, OTHER_MAC)).collect()
}

/// Runs `f` in a fresh veth pair's namespace with a capture on `net.b`
/// and an injector in `mode` on `net.a`.
fn on_a_pair<T: Send>(
    mode: TxMode,
    f: impl FnOnce(&Net, &mut Capture, &mut Injector) -> T + Send,
) -> T {
    let net = Net::new();
    net.enter(|| {
        let mut cap = Capture::open(&net.b, &rx_cfg()).unwrap();
        let mut inj = Injector::open(&net.a, &cfg(mode)).unwrap();
        f(&net, &mut cap, &mut inj)
    })
}

fn cfg(mode: TxMode) -> InjectorConfig {
    InjectorConfig {
        mode,
        ..InjectorConfig::default()
    }
}

/// Send `frames` from net.a with `icfg` and return what net.b saw.
fn roundtrip(net: &Net, icfg: &InjectorConfig, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    net.enter(|| {
        let mut cap = Capture::open(&net.b, &rx_cfg()).unwrap();
        let mut inj = Injector::open(&net.a, icfg).unwrap();
        common::collect_while(
            &mut cap,
            frames.len(),
            Duration::from_millis(150),
            Duration::from_secs(30),
            || {
                for f in frames {
                    assert!(inj.inject(f).unwrap(), "no slot within the timeout");
                }
                assert!(inj.wait_drained(Some(Duration::from_secs(5))).unwrap());
                let st = inj.stats();
                assert_eq!(st.sent, frames.len() as u64, "{st:?}");
                assert_eq!(st.pending, 0);
                assert_eq!(st.rejected, 0);
                assert_eq!(st.available, inj.frame_count());
            },
        )
    })
}

#[test]
fn frames_arrive_byte_exact_at_every_size_up_to_the_slot() {
    for mode in MODES {
        let net = Net::new();
        net.ip(&["link", "set", &net.a, "mtu", "9000"]);
        net.ip(&["link", "set", &net.b, "mtu", "9000"]);
        let largest = 2048 - 32;
        let sizes = [60usize, 61, 64, 1000, 1514, 1515, largest - 1, largest];
        let frames: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &l)| frame(l, i as u32, OTHER_MAC))
            .collect();
        let got = roundtrip(&net, &cfg(mode), &frames);
        // Byte-exact frames at the right offsets and lengths prove the ring
        // speaks TPACKET_V2 (V1 keeps tp_len at another offset; V1 headers
        // under a V3 socket send nothing at all).
        assert_eq!(got, frames, "{mode:?}");
    }
}

#[test]
fn exact_counts_across_ring_wrap_around() {
    for mode in MODES {
        for n in [1u32, 255, 256, 257, 10_000] {
            let net = Net::new();
            let frames: Vec<Vec<u8>> = (0..n)
                .map(|i| frame(60 + (i as usize * 7) % 1455, i, OTHER_MAC))
                .collect();
            let got = roundtrip(&net, &cfg(mode), &frames);
            assert_eq!(got.len(), n as usize, "{mode:?} n={n}");
            assert!(
                got == frames,
                "{mode:?} n={n}: frames differ or out of order"
            );
        }
    }
}

#[test]
fn zero_copy_slots_and_abandoned_slots() {
    for mode in MODES {
        let got = on_a_pair(mode, |_, cap, inj| {
            // Abandoned slot: nothing is sent, the slot stays free.
            {
                let mut s = inj.slot().unwrap();
                s.buf()[..60].copy_from_slice(&frame(60, 99, OTHER_MAC));
            }
            assert_eq!(inj.stats().available, inj.frame_count());
            for i in 0..3u32 {
                let f = frame(100, i, OTHER_MAC);
                let mut s = inj.slot().unwrap();
                assert_eq!(s.buf().len(), 2016);
                s.buf()[..100].copy_from_slice(&f);
                s.send(100).unwrap();
            }
            assert_eq!(inj.stats().pending, 3);
            inj.flush().unwrap();
            assert!(inj.wait_drained(Some(Duration::from_secs(2))).unwrap());
            collect(cap, 3)
        });
        assert_eq!(got, frames(3, 100), "{mode:?}");
    }
}

#[test]
fn bad_lengths_are_refused_and_the_ring_still_works() {
    for mode in MODES {
        let got = on_a_pair(mode, |net, cap, inj| {
            inj.inject(&frame(60, 0, OTHER_MAC)).unwrap();
            let e = inj.inject(&[]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            let e = inj.inject(&[0u8; 13]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            // MTU 1500: 1515 bytes is one too many.
            let e = inj.inject(&frame(1515, 1, OTHER_MAC)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TooBig, "{e}");
            assert!(e.to_string().contains("MTU"), "{e}");
            // Beyond the slot (even with a large MTU).
            net.ip(&["link", "set", &net.a, "mtu", "9000"]);
            let e = inj.inject(&frame(2017, 1, OTHER_MAC)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TooBig, "{e}");
            assert!(e.to_string().contains("slot"), "{e}");
            // Slot::send with a bad length leaves the slot free.
            let s = inj.slot().unwrap();
            assert_eq!(s.send(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
            let st = inj.stats();
            assert_eq!(st.pending + st.available, inj.frame_count());
            assert_eq!(st.pending, 1, "only the first good frame is queued");
            for i in 1..4u32 {
                assert!(inj.inject(&frame(60, i, OTHER_MAC)).unwrap());
            }
            assert!(inj.wait_drained(Some(Duration::from_secs(2))).unwrap());
            let st = inj.stats();
            assert_eq!((st.sent, st.rejected, st.pending), (4, 0, 0), "{st:?}");
            collect(cap, 4)
        });
        assert_eq!(got, frames(4, 60), "{mode:?}");
    }
}

#[test]
fn a_frame_the_kernel_rejects_is_skipped_and_the_rest_go_out_in_order() {
    for mode in MODES {
        let (got, st) = on_a_pair(mode, |net, cap, inj| {
            // Lower the MTU behind the injector's back: its cached limit
            // (1514) lets a 1400-byte frame through, the kernel refuses it.
            net.ip(&["link", "set", &net.a, "mtu", "1000"]);
            inj.inject(&frame(60, 0, OTHER_MAC)).unwrap();
            inj.inject(&frame(1400, 1, OTHER_MAC)).unwrap();
            for i in 2..6 {
                inj.inject(&frame(60, i, OTHER_MAC)).unwrap();
            }
            assert!(inj.wait_drained(Some(Duration::from_secs(2))).unwrap());
            let st = inj.stats();
            // The ring keeps working.
            for i in 6..300 {
                assert!(inj.inject(&frame(60, i, OTHER_MAC)).unwrap());
            }
            assert!(inj.wait_drained(Some(Duration::from_secs(2))).unwrap());
            let got = collect(cap, 299);
            (got, st)
        });
        assert_eq!(
            (st.sent, st.rejected, st.pending),
            (5, 1, 0),
            "{mode:?} {st:?}"
        );
        let want: Vec<Vec<u8>> = (0..300)
            .filter(|&i| i != 1)
            .map(|i| frame(60, i, OTHER_MAC))
            .collect();
        assert!(got == want, "{mode:?}: got {} frames", got.len());
    }
}

#[test]
fn auto_picks_sendmmsg_on_veth_and_defaults_hold() {
    let net = Net::new();
    net.enter(|| {
        let inj = Injector::open(&net.a, &InjectorConfig::default()).unwrap();
        assert_eq!(inj.mode(), TxMode::Sendmmsg);
        assert_eq!(inj.frame_count(), 256);
        assert_eq!(inj.slot_capacity(), 2016);
        assert_eq!(inj.max_frame_len(), 1514);
        let inj = Injector::open(
            &net.a,
            &InjectorConfig {
                frame_size: 4096,
                frame_count: 3,
                qdisc_bypass: true,
                mode: TxMode::Ring,
                ..InjectorConfig::default()
            },
        )
        .unwrap();
        assert_eq!(inj.mode(), TxMode::Ring);
        assert_eq!(inj.frame_count(), 3);
        assert_eq!(inj.slot_capacity(), 4064);
    });
    for (c, want) in [
        (
            InjectorConfig {
                frame_size: 100,
                ..InjectorConfig::default()
            },
            "frame_size 100",
        ),
        (
            InjectorConfig {
                frame_count: 0,
                ..InjectorConfig::default()
            },
            "frame_count 0",
        ),
    ] {
        let e = Injector::open("lo", &c).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.to_string().contains(want), "{e}");
    }
    let e = Injector::open("nr-nosuch0", &InjectorConfig::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
}

#[test]
fn interface_removed_while_sending_is_an_error_not_a_hang() {
    for mode in MODES {
        let net = Net::new();
        let r = net.enter(|| {
            let mut inj = Injector::open(&net.a, &cfg(mode)).unwrap();
            let remove = || net.ip(&["link", "del", &net.a]);
            meanwhile(BREAK_AFTER, remove, || {
                let t = Instant::now();
                let f = frame(60, 0, OTHER_MAC);
                let r = loop {
                    if t.elapsed() > Duration::from_secs(5) {
                        panic!("{mode:?}: still sending after the interface was removed");
                    }
                    match inj.inject(&f).and_then(|_| inj.flush()) {
                        Ok(()) => continue,
                        // On its way out the interface is down first.
                        Err(e) if e.to_string().contains("is down") => {
                            std::thread::sleep(Duration::from_millis(1));
                            continue;
                        }
                        Err(e) => break e,
                    }
                };
                // Waiting for the queue after that is an error too, not a hang.
                let w = inj.wait_drained(None);
                (r, w.map(|_| ()))
            })
        });
        assert_eq!(r.0.kind(), ErrorKind::InterfaceGone, "{mode:?}: {}", r.0);
        if let Err(e) = r.1 {
            assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{mode:?}: {e}");
        }
    }
}

/// A slow egress (a tbf qdisc at 1 Mbit/s) must never block the caller:
/// flush hands the kernel what the socket buffer takes and returns; the
/// rest stays queued (counted as a transient kick) and goes out with later
/// flushes, every frame arriving in order. (Before the fix, sendmmsg
/// blocked in the socket buffer for seconds, starving a single-threaded
/// event loop's capture: c-examples/nrepoll.c lost half its frames.)
#[test]
fn a_slow_qdisc_never_blocks_flush_and_loses_nothing() {
    let net = Net::new();
    net.shape(&net.a, "1mbit", "4k", "4m");
    const N: u32 = 600;
    let frames = frames(N, 1000);
    let got = net.enter(|| {
        let mut cap = Capture::open(&net.b, &rx_cfg()).unwrap();
        let mut inj = Injector::open(
            &net.a,
            &InjectorConfig {
                mode: TxMode::Sendmmsg,
                frame_count: 1024,
                ..InjectorConfig::default()
            },
        )
        .unwrap();
        for f in &frames {
            assert!(inj.inject(f).unwrap());
        }
        // 600 kB at 1 Mbit/s take ~5 s to leave; a blocking flush would
        // sit in the socket buffer for most of that.
        let t0 = Instant::now();
        inj.flush().unwrap();
        let took = t0.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "flush blocked for {took:?}"
        );
        assert!(
            inj.stats().pending > 0,
            "everything left at once: the qdisc did not slow it"
        );
        let mut got: Vec<Vec<u8>> = Vec::new();
        let start = Instant::now();
        while got.len() < N as usize && start.elapsed() < Duration::from_secs(30) {
            inj.flush().unwrap();
            if let netring_engine::Wait::Ready(mut b) = cap
                .next_batch_timeout(Some(Duration::from_millis(20)))
                .unwrap()
            {
                b.for_each(|p| {
                    if common::frame_seq(p.data).is_some() {
                        got.push(p.data.to_vec());
                    }
                    true
                });
            }
        }
        got
    });
    assert_eq!(got.len(), N as usize);
    assert!(got == frames, "frames differ or arrive out of order");
}
