//! Immediate mode (`CaptureConfig::immediate`): the TPACKET_V2 frame ring.
//! Real frames on veth pairs, checked byte for byte through batches, the
//! held-batch protocol and single packets, each frame delivered long before
//! a block timeout could retire a block, and the block ring's promises
//! (filter, fanout, statistics, drops, removal, breaks, the `any` device)
//! kept. The C API's test is the root
//! package's tests/immediate_c.rs.

mod common;

use std::time::{Duration, Instant};

use common::{Net, OTHER_MAC, frame, frame_seq};
use netring_engine::{Capture, CaptureConfig, ErrorKind, HeldBatch, PacketFlags, Wait};

/// Immediate mode on a small ring (64 KiB x 8 = 256 frames of 2048 B) with
/// a block timeout of 10 s: a block ring would hold a lone frame that long.
fn immediate() -> CaptureConfig {
    CaptureConfig {
        block_size: 64 << 10,
        block_count: 8,
        block_timeout_ms: 10_000,
        immediate: true,
        ..CaptureConfig::default()
    }
}

/// Up to `n` test frames one at a time ([`Capture::next_packet`]), each
/// whole and software-stamped, within 5 s.
fn next_packets(cap: &mut Capture, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let t = Instant::now();
    while got.len() < n && t.elapsed() < Duration::from_secs(5) {
        if let Wait::Ready(p) = cap.next_packet(Some(Duration::from_millis(50))).unwrap() {
            if frame_seq(p.data()).is_some() {
                assert!(p.flags().contains(PacketFlags::TS_SOFTWARE));
                assert!(!p.flags().contains(PacketFlags::TRUNCATED));
                assert_eq!(p.wire_len() as usize, p.data().len());
                got.push(p.data().to_vec());
            }
        }
    }
    got
}

const SIZES: [usize; 11] = [60, 61, 64, 100, 128, 500, 1000, 1499, 1500, 1513, 1514];

#[test]
fn frames_arrive_byte_exact_through_batches_and_single_packets() {
    let net = Net::new();
    let (batched, single, stats) = net.enter(|| {
        let mut cap = Capture::open(&net.a, &immediate()).unwrap();
        assert!(cap.is_immediate());
        let tx = common::Sender::open(&net.b);
        for (i, &len) in SIZES.iter().enumerate() {
            tx.send(&frame(len, i as u32, OTHER_MAC));
        }
        let batched = common::collect(
            &mut cap,
            SIZES.len(),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        for (i, &len) in SIZES.iter().enumerate() {
            tx.send(&frame(len, 100 + i as u32, OTHER_MAC));
        }
        let single = next_packets(&mut cap, SIZES.len());
        (batched, single, cap.stats().unwrap())
    });
    for (i, &len) in SIZES.iter().enumerate() {
        assert_eq!(
            batched[i],
            frame(len, i as u32, OTHER_MAC),
            "batch frame {i}"
        );
        assert_eq!(
            single[i],
            frame(len, 100 + i as u32, OTHER_MAC),
            "single frame {i}"
        );
    }
    assert_eq!(batched.len(), SIZES.len());
    assert_eq!(stats.drops, 0);
    assert_eq!(stats.malformed, 0);
    assert_eq!(stats.packets, 2 * SIZES.len() as u64, "{stats:?}");
}

/// Frames longer than a ring frame (here 256-byte frames: 190 bytes of
/// room) arrive whole, through the copy the kernel queues on the socket
/// (`TP_STATUS_COPY`), in order with the frames that fit, through batches,
/// the batch iterator and single packets; a copy is cut at the snap length
/// like any frame.
#[test]
fn frames_longer_than_a_ring_frame_arrive_whole() {
    let net = Net::new();
    net.ip(&["link", "set", &net.a, "mtu", "9000"]);
    net.ip(&["link", "set", &net.b, "mtu", "9000"]);
    let sizes = [60usize, 1000, 64, 1514, 150, 8000, 4000, 100, 3000];
    let small = CaptureConfig {
        frame_size: 256,
        ..immediate()
    };
    let (batched, iterated, single, cut, stats) = net.enter(|| {
        let tx = common::Sender::open(&net.b);
        let mut cap = Capture::open(&net.a, &small).unwrap();
        for (i, &len) in sizes.iter().enumerate() {
            tx.send(&frame(len, i as u32, OTHER_MAC));
        }
        let batched = common::collect(
            &mut cap,
            sizes.len(),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        for (i, &len) in sizes.iter().enumerate() {
            tx.send(&frame(len, 100 + i as u32, OTHER_MAC));
        }
        let mut iterated = Vec::new();
        let t = Instant::now();
        while iterated.len() < sizes.len() && t.elapsed() < Duration::from_secs(5) {
            if let Wait::Ready(b) = cap
                .next_batch_timeout(Some(Duration::from_millis(20)))
                .unwrap()
            {
                for p in b.iter() {
                    if frame_seq(p.data()).is_some() {
                        assert!(!p.flags().contains(PacketFlags::TRUNCATED));
                        assert_eq!(p.wire_len() as usize, p.data().len());
                        iterated.push(p.data().to_vec());
                    }
                }
            }
        }
        for (i, &len) in sizes.iter().enumerate() {
            tx.send(&frame(len, 200 + i as u32, OTHER_MAC));
        }
        let single = next_packets(&mut cap, sizes.len());
        let stats = cap.stats().unwrap();
        drop(cap);
        // Snap length 500: a copied frame is cut there, flagged, its wire
        // length kept.
        let mut cap = Capture::open(
            &net.a,
            &CaptureConfig {
                snaplen: 500,
                ..small.clone()
            },
        )
        .unwrap();
        tx.send(&frame(3000, 300, OTHER_MAC));
        let mut cut = None;
        let t = Instant::now();
        while cut.is_none() && t.elapsed() < Duration::from_secs(5) {
            if let Wait::Ready(p) = cap.next_packet(Some(Duration::from_millis(50))).unwrap() {
                if p.wire_len() == 3000 {
                    cut = Some((
                        p.data().to_vec(),
                        p.flags().contains(PacketFlags::TRUNCATED),
                    ));
                }
            }
        }
        (batched, iterated, single, cut, stats)
    });
    for (k, got) in [batched, iterated, single].iter().enumerate() {
        let want: Vec<_> = (0..sizes.len())
            .map(|i| frame(sizes[i], 100 * k as u32 + i as u32, OTHER_MAC))
            .collect();
        assert_eq!(
            got, &want,
            "walk {k}: batches, the batch iterator, single packets"
        );
    }
    assert_eq!(stats.drops, 0);
    assert_eq!(stats.malformed, 0);
    let (cut, truncated) = cut.expect("the 3000-byte frame under snap length 500");
    assert_eq!(cut, frame(3000, 300, OTHER_MAC)[..500]);
    assert!(truncated);
}

#[test]
fn a_lone_frame_is_delivered_at_once() {
    let net = Net::new();
    let lags = net.enter(|| {
        let mut cap = Capture::open(&net.a, &immediate()).unwrap();
        let tx = common::Sender::open(&net.b);
        let mut lags = Vec::new();
        for i in 0..20u32 {
            let t = Instant::now();
            tx.send(&frame(60, i, OTHER_MAC));
            loop {
                match cap.acquire(Some(Duration::from_secs(5))).unwrap() {
                    Wait::Ready(()) => {}
                    w => panic!("frame {i}: {w:?}"),
                }
                let mut got = false;
                cap.walk_held(&mut netring_engine::Cursor::default(), |p| {
                    got |= frame_seq(p.data()) == Some(i);
                    true
                })
                .unwrap();
                cap.release_held().unwrap();
                if got {
                    break;
                }
            }
            lags.push(t.elapsed());
        }
        lags
    });
    // The block ring would take the block timeout (10 s) per lone frame;
    // this is generous for a loaded 2-core machine (speed is measured by
    // make bench, not asserted here).
    let worst = lags.iter().max().unwrap();
    assert!(*worst < Duration::from_millis(200), "lags {lags:?}");
}

#[test]
fn thousands_of_frames_with_a_filter_exact_count_and_stats() {
    let net = Net::new();
    const N: u32 = 20_000;
    let (got, stats) = net.enter(|| {
        // Only the test EtherType (ldh [12]; jeq #0x88b5; ret #-1; ret #0).
        let filter = vec![
            netring_engine::BpfInsn {
                code: 0x28,
                jt: 0,
                jf: 0,
                k: 12,
            },
            netring_engine::BpfInsn {
                code: 0x15,
                jt: 0,
                jf: 1,
                k: 0x88b5,
            },
            netring_engine::BpfInsn {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: u32::MAX,
            },
            netring_engine::BpfInsn {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0,
            },
        ];
        let cfg = CaptureConfig {
            block_size: 1 << 20,
            block_count: 16,
            filter: Some(filter),
            ..immediate()
        };
        let mut cap = Capture::open(&net.a, &cfg).unwrap();
        let tx = common::Sender::open(&net.b);
        let got = common::send_every_size_and_collect(&mut cap, &tx, N, |tx, i| {
            if i % 97 == 0 {
                // Not the test EtherType: filtered out by the kernel.
                let mut f = frame(60, i, OTHER_MAC);
                f[12] = 0x08;
                f[13] = 0x00;
                tx.send(&f);
            }
        });
        (got, cap.stats().unwrap())
    });
    assert_eq!(got.len(), N as usize, "stats: {stats:?}");
    common::assert_every_size_in_order(&got);
    assert_eq!(stats.drops, 0, "{stats:?}");
    assert_eq!(stats.packets, u64::from(N), "{stats:?}");
    assert_eq!(stats.delivered, u64::from(N), "{stats:?}");
    assert_eq!(stats.malformed, 0);
}

#[test]
fn a_full_ring_counts_drops_exactly() {
    let net = Net::new();
    const N: u64 = 3000;
    let (total, delivered) = net.enter(|| {
        // 4 frames; nobody reads while the frames arrive.
        let cfg = CaptureConfig {
            block_size: 4096,
            block_count: 2,
            ..immediate()
        };
        common::fill_then_drain(&net.a, &net.b, &cfg, N as u32)
    });
    assert_eq!(delivered, 4);
    assert_eq!(total.packets + total.drops, N, "{total:?}");
    assert_eq!(total.packets, delivered, "{total:?}");
}

#[test]
fn the_removal_comes_after_every_frame() {
    let net = Net::new();
    let (seen, err) = net.enter(|| {
        let mut cap = Capture::open(&net.a, &immediate()).unwrap();
        let tx = common::Sender::open(&net.b);
        for i in 0..100u32 {
            tx.send(&frame(60, i, OTHER_MAC));
        }
        drop(tx);
        std::thread::sleep(Duration::from_millis(20));
        net.ip(&["link", "del", &net.a]);
        let t = Instant::now();
        let mut seen = Vec::new();
        loop {
            match cap.next_batch_timeout(Some(Duration::from_millis(100))) {
                Ok(Wait::Ready(mut b)) => {
                    b.for_each(|p| {
                        seen.extend(frame_seq(p.data()));
                        true
                    });
                }
                Ok(_) => assert!(t.elapsed() < Duration::from_secs(5), "no error after 5 s"),
                Err(e) => return (seen, e),
            }
        }
    });
    assert_eq!(err.kind(), ErrorKind::InterfaceGone, "{err}");
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
}

#[test]
fn options_the_frame_ring_cannot_keep_are_refused_at_open() {
    for (cfg, word) in [
        (
            CaptureConfig {
                fill_rxhash: true,
                ..immediate()
            },
            "fill_rxhash",
        ),
        (
            CaptureConfig {
                vlan_reinsert: true,
                ..immediate()
            },
            "vlan_reinsert",
        ),
    ] {
        let e = Capture::open("lo", &cfg).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
        assert!(e.to_string().contains(word), "{e}");
    }
}

#[test]
fn a_break_ends_a_wait_and_a_busy_read() {
    let net = Net::new();
    net.enter(|| {
        let mut cap = Capture::open(&net.a, &immediate()).unwrap();
        common::assert_break_wakes(cap.breaker(), || {
            matches!(cap.next_batch_timeout(None).unwrap(), Wait::Interrupted)
        });
        // Under steady traffic (the busy-link naps): a break still ends
        // the reading loop at once.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let brk = cap.breaker();
        std::thread::scope(|s| {
            s.spawn(|| {
                let tx = common::Sender::open(&net.b);
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tx.send(&frame(60, i, OTHER_MAC));
                    i += 1;
                }
            });
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                brk.break_loop();
            });
            let t = Instant::now();
            let mut seen = 0u64;
            loop {
                match cap
                    .next_batch_timeout(Some(Duration::from_secs(5)))
                    .unwrap()
                {
                    Wait::Ready(b) => seen += b.len() as u64,
                    Wait::Interrupted => break,
                    w => panic!("{w:?} after {seen} packets"),
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(seen > 0);
            assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        });
    });
}

#[test]
fn every_interface_at_once_in_immediate_mode() {
    let net = Net::new();
    let got = net.enter(|| {
        let mut cap = Capture::open_any(&immediate()).unwrap();
        assert!(cap.is_immediate());
        let tx = common::Sender::open(&net.b);
        let t = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && t.elapsed() < Duration::from_secs(5) {
            tx.send(&frame(100, 7, OTHER_MAC));
            if let Wait::Ready(p) = cap.next_packet(Some(Duration::from_millis(50))).unwrap() {
                // Cooked: the frame from its network header on.
                if p.protocol() == common::TEST_ETHERTYPE
                    && p.ifindex() as u32 == net.ifindex(&net.a)
                {
                    got = p.data().to_vec();
                }
            }
        }
        got
    });
    assert_eq!(got, frame(100, 7, OTHER_MAC)[14..].to_vec());
}

#[test]
fn a_fanout_group_of_frame_rings_splits_every_frame_once() {
    let net = Net::new();
    const N: u32 = 300;
    let sets = net.enter(|| {
        let cfg = CaptureConfig {
            fanout: Some(netring_engine::Fanout {
                group: 78,
                mode: netring_engine::FanoutMode::LoadBalance,
                flags: netring_engine::FanoutFlags::empty(),
            }),
            ..immediate()
        };
        let mut caps: Vec<Capture> = (0..2)
            .map(|_| Capture::open(&net.a, &cfg).unwrap())
            .collect();
        let tx = common::Sender::open(&net.b);
        for i in 0..N {
            tx.send(&frame(60, i, OTHER_MAC));
        }
        caps.iter_mut()
            .map(|c| {
                common::collect(c, 1, Duration::from_millis(200), Duration::from_secs(5))
                    .iter()
                    .filter_map(|f| frame_seq(f))
                    .collect::<Vec<u32>>()
            })
            .collect::<Vec<_>>()
    });
    assert!(
        sets.iter().all(|s| !s.is_empty()),
        "{:?}",
        sets.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let mut all: Vec<u32> = sets.concat();
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>(), "each frame exactly once");
}

/// `busy_poll_us` in immediate mode: the wait spins on the ring before it
/// sleeps. Frames still arrive byte exact and once; a wait with a timeout
/// shorter than the spin ends at its timeout, and a break ends a spinning
/// wait at once (the spin here is 3 s, longer than either bound).
#[test]
fn a_spinning_wait_keeps_every_frame_its_timeout_and_breaks() {
    let net = Net::new();
    net.enter(|| {
        let cfg = CaptureConfig {
            busy_poll_us: 3_000_000,
            ..immediate()
        };
        let mut cap = Capture::open(&net.a, &cfg).unwrap();
        let tx = common::Sender::open(&net.b);
        // Frames sent while the consumer spins.
        std::thread::scope(|s| {
            s.spawn(|| {
                for (i, &len) in SIZES.iter().enumerate() {
                    std::thread::sleep(Duration::from_millis(2));
                    tx.send(&frame(len, i as u32, OTHER_MAC));
                }
            });
            let got = next_packets(&mut cap, SIZES.len());
            assert_eq!(got.len(), SIZES.len());
            for (i, &len) in SIZES.iter().enumerate() {
                assert_eq!(got[i], frame(len, i as u32, OTHER_MAC), "frame {i}");
            }
        });
        // Nothing comes: a 30 ms timeout ends the spin after 30 ms.
        for _ in 0..5 {
            let t = Instant::now();
            assert!(matches!(
                cap.next_batch_timeout(Some(Duration::from_millis(30)))
                    .unwrap(),
                Wait::Timeout
            ));
            let e = t.elapsed();
            assert!(
                e >= Duration::from_millis(30) && e < Duration::from_millis(500),
                "{e:?}"
            );
        }
        // A break from another thread ends a spinning wait without limit.
        common::assert_break_wakes(cap.breaker(), || {
            matches!(cap.next_batch_timeout(None).unwrap(), Wait::Interrupted)
        });
        let st = cap.stats().unwrap();
        assert_eq!((st.drops, st.malformed), (0, 0), "{st:?}");
    });
}
