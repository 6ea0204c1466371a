//! AF_PACKET capture on real veth pairs: real frames, checked byte for byte.

mod common;

use std::time::{Duration, Instant};

use common::{BREAK_AFTER, Net, OTHER_MAC, frame, frame_seq, meanwhile, small_ring};
use netring_engine::{Capture, CaptureConfig, ErrorKind, PacketFlags, Wait};

#[test]
fn frames_arrive_byte_exact_at_every_size() {
    let net = Net::new();
    let sizes = [60usize, 61, 64, 100, 128, 500, 1000, 1499, 1500, 1513, 1514];
    let got = net.enter(|| {
        let mut cap = Capture::open(&net.a, &small_ring()).unwrap();
        let tx = common::Sender::open(&net.b);
        for (i, &len) in sizes.iter().enumerate() {
            tx.send(&frame(len, i as u32, OTHER_MAC));
        }
        common::collect(
            &mut cap,
            sizes.len(),
            Duration::ZERO,
            Duration::from_secs(5),
        )
    });
    assert_eq!(got.len(), sizes.len());
    for (i, &len) in sizes.iter().enumerate() {
        assert_eq!(
            got[i],
            frame(len, i as u32, OTHER_MAC),
            "frame {i} ({len} bytes) differs"
        );
    }
}

#[test]
fn thousands_of_frames_exact_count_and_stats() {
    let net = Net::new();
    const N: u32 = 20_000;
    let (got, stats) = net.enter(|| {
        let mut cap = Capture::open(&net.a, &small_ring()).unwrap();
        let tx = common::Sender::open(&net.b);
        let sender = common::send_every_size_and_collect(&mut cap, &tx, N, |_, _| {});
        let stats = cap.stats().unwrap();
        (sender, stats)
    });
    assert_eq!(got.len(), N as usize, "stats: {stats:?}");
    common::assert_every_size_in_order(&got);
    assert_eq!(stats.drops, 0, "{stats:?}");
    assert_eq!(stats.packets, u64::from(N), "{stats:?}");
    assert_eq!(stats.seq_gaps, 0);
    assert_eq!(stats.malformed, 0);
}

#[test]
fn tiny_ring_counts_drops_exactly() {
    let net = Net::new();
    const N: u64 = 3000;
    let stats = net.enter(|| {
        // One 4 KiB block: fills after a few frames; nobody reads meanwhile.
        let cfg = CaptureConfig {
            block_size: 4096,
            block_count: 2,
            frame_size: 2048,
            ..small_ring()
        };
        common::fill_then_drain(&net.a, &net.b, &cfg, N as u32)
    });
    let (total, delivered) = stats;
    assert!(total.drops > 0, "{total:?}");
    assert_eq!(
        total.packets + total.drops,
        N,
        "every frame is either in the ring or dropped: {total:?}"
    );
    assert_eq!(delivered, total.packets, "{total:?}");
    assert!(total.freezes > 0 || total.drops > 0);
}

#[test]
fn snaplen_cuts_frames_and_keeps_wire_length() {
    let net = Net::new();
    let got = net.enter(|| {
        let mut cap = Capture::open(
            &net.a,
            &CaptureConfig {
                snaplen: 96,
                ..small_ring()
            },
        )
        .unwrap();
        let tx = common::Sender::open(&net.b);
        tx.send(&frame(1514, 1, OTHER_MAC));
        tx.send(&frame(64, 2, OTHER_MAC));
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < 2 && Instant::now() < deadline {
            if let Wait::Ready(b) = cap
                .next_batch_timeout(Some(Duration::from_millis(50)))
                .unwrap()
            {
                for p in b.iter() {
                    got.push((p.data().to_vec(), p.wire_len(), p.flags()));
                }
            }
        }
        got
    });
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, frame(1514, 1, OTHER_MAC)[..96].to_vec());
    assert_eq!(got[0].1, 1514);
    assert!(got[0].2.contains(PacketFlags::TRUNCATED));
    assert_eq!(got[1].0, frame(64, 2, OTHER_MAC));
    assert!(!got[1].2.contains(PacketFlags::TRUNCATED));
}

fn promiscuity(net: &Net) -> u32 {
    let out = std::process::Command::new("ip")
        .args(["-n", &net.ns, "-d", "link", "show", &net.a])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "promiscuity" {
            return words.next().unwrap().parse().unwrap();
        }
    }
    panic!("no promiscuity in {text}");
}

#[test]
fn promiscuous_mode_is_held_while_open_and_dropped_on_close() {
    // veth has no MAC filter, so AF_PACKET sees frames for other hosts either
    // way; what promiscuous mode changes is the device's promiscuity count.
    let net = Net::new();
    let mac_a = net.mac(&net.a);
    net.enter(|| {
        assert_eq!(promiscuity(&net), 0);
        let strict = Capture::open(
            &net.a,
            &CaptureConfig {
                promiscuous: false,
                ..small_ring()
            },
        )
        .unwrap();
        assert_eq!(
            promiscuity(&net),
            0,
            "promiscuous: false must not touch the device"
        );
        let mut promisc = Capture::open(&net.a, &small_ring()).unwrap();
        assert_eq!(promiscuity(&net), 1, "promiscuous: true enables it");
        let tx = common::Sender::open(&net.b);
        tx.send(&frame(60, 1, OTHER_MAC));
        tx.send(&frame(60, 2, mac_a));
        let start = Instant::now();
        let mut types = Vec::new();
        while types.len() < 2 && start.elapsed() < Duration::from_secs(5) {
            if let Wait::Ready(b) = promisc
                .next_batch_timeout(Some(Duration::from_millis(50)))
                .unwrap()
            {
                for p in b.iter() {
                    if let Some(s) = frame_seq(p.data()) {
                        types.push((s, p.packet_type()));
                    }
                }
            }
        }
        assert_eq!(
            types,
            vec![
                (1, netring_engine::PacketType::OtherHost),
                (2, netring_engine::PacketType::Host)
            ]
        );
        drop(promisc);
        assert_eq!(
            promiscuity(&net),
            0,
            "closing the capture drops promiscuous mode"
        );
        drop(strict);
    });
}

#[test]
fn ignore_outgoing_skips_our_own_frames() {
    let net = Net::new();
    let (with, without) = net.enter(|| {
        let mut keep = Capture::open(&net.a, &small_ring()).unwrap();
        let mut skip = Capture::open(
            &net.a,
            &CaptureConfig {
                ignore_outgoing: true,
                ..small_ring()
            },
        )
        .unwrap();
        // Sent *from* a: outgoing on a.
        let tx = common::Sender::open(&net.a);
        tx.send(&frame(60, 7, OTHER_MAC));
        let with = common::collect(&mut keep, 1, Duration::ZERO, Duration::from_secs(3)).len();
        let without =
            common::collect(&mut skip, 1, Duration::ZERO, Duration::from_millis(300)).len();
        (with, without)
    });
    assert_eq!(with, 1);
    assert_eq!(without, 0);
}

#[test]
fn timeout_with_no_traffic_is_not_an_error_and_is_on_time() {
    let net = Net::new();
    net.enter(|| {
        let mut cap = Capture::open(&net.a, &small_ring()).unwrap();
        let t = Instant::now();
        assert!(matches!(
            cap.next_batch_timeout(Some(Duration::from_millis(200)))
                .unwrap(),
            Wait::Timeout
        ));
        let e = t.elapsed();
        assert!(
            e >= Duration::from_millis(200) && e < Duration::from_millis(1000),
            "{e:?}"
        );
        // Sub-millisecond timeouts are not rounded down to a busy 0.
        let t = Instant::now();
        assert!(matches!(
            cap.next_batch_timeout(Some(Duration::from_micros(300)))
                .unwrap(),
            Wait::Timeout
        ));
        assert!(t.elapsed() >= Duration::from_micros(300));
        // Non-blocking.
        let t = Instant::now();
        assert!(matches!(
            cap.next_batch_timeout(Some(Duration::ZERO)).unwrap(),
            Wait::Timeout
        ));
        assert!(t.elapsed() < Duration::from_millis(100));
    });
}

#[test]
fn breakloop_from_another_thread_wakes_a_blocked_wait() {
    let net = Net::new();
    net.enter(|| {
        let mut cap = Capture::open(&net.a, &small_ring()).unwrap();
        common::assert_break_wakes(cap.breaker(), || {
            matches!(cap.next_batch_timeout(None).unwrap(), Wait::Interrupted)
        });
        // Consumed: the next wait times out normally.
        assert!(matches!(
            cap.next_batch_timeout(Some(Duration::from_millis(20)))
                .unwrap(),
            Wait::Timeout
        ));
        // A break before the wait is not lost.
        cap.breaker().break_loop();
        assert!(matches!(
            cap.next_batch_timeout(Some(Duration::from_secs(5)))
                .unwrap(),
            Wait::Interrupted
        ));
    });
}

static SIG_BREAKER: std::sync::OnceLock<netring_engine::Breaker> = std::sync::OnceLock::new();

extern "C" fn on_alarm(_: libc::c_int) {
    if let Some(b) = SIG_BREAKER.get() {
        b.break_loop();
    }
}

#[test]
fn breakloop_from_a_signal_handler() {
    let net = Net::new();
    net.enter(|| {
        let mut cap = Capture::open(&net.a, &small_ring()).unwrap();
        SIG_BREAKER.set(cap.breaker()).ok();
        // SAFETY: installing a handler that only calls the async-signal-safe
        // break_loop; the timer is per-thread via pthread_kill below.
        unsafe {
            libc::signal(libc::SIGUSR1, on_alarm as *const () as libc::sighandler_t);
        }
        // SAFETY: pthread_self is always valid.
        let me = unsafe { libc::pthread_self() } as usize;
        let t = Instant::now();
        let signal = move || {
            // SAFETY: the target thread is alive (meanwhile joins this one
            // before it returns).
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
        };
        let w = meanwhile(BREAK_AFTER, signal, || {
            let w = cap.next_batch_timeout(Some(Duration::from_secs(10)));
            matches!(w.unwrap(), Wait::Interrupted)
        });
        assert!(w && t.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn invalid_geometry_is_refused_with_a_clear_message() {
    let cases: Vec<(CaptureConfig, &str)> = vec![
        (
            CaptureConfig {
                block_size: 3000,
                ..small_ring()
            },
            "block_size 3000 is not a power of two",
        ),
        (
            CaptureConfig {
                block_size: 2048,
                frame_size: 2048,
                ..small_ring()
            },
            "not a multiple of the page size",
        ),
        (
            CaptureConfig {
                block_size: 4096,
                frame_size: 8192,
                ..small_ring()
            },
            "frame_size 8192 is larger than block_size 4096",
        ),
        (
            CaptureConfig {
                frame_size: 100,
                ..small_ring()
            },
            "frame_size 100 must be a multiple of 16",
        ),
        (
            CaptureConfig {
                block_count: 0,
                ..small_ring()
            },
            "block_count 0",
        ),
        (
            CaptureConfig {
                snaplen: 0,
                ..small_ring()
            },
            "snaplen 0",
        ),
        (
            CaptureConfig {
                block_timeout_ms: 70_000,
                ..small_ring()
            },
            "block_timeout_ms 70000",
        ),
        (
            CaptureConfig {
                block_size: 1 << 30,
                block_count: 64,
                ..small_ring()
            },
            "exceeds the 16 GiB limit",
        ),
    ];
    for (cfg, want) in cases {
        let e = Capture::open("lo", &cfg).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
        assert!(
            e.to_string().contains(want),
            "'{e}' should contain '{want}'"
        );
    }
}

#[test]
fn unknown_interface_is_named_in_the_error() {
    let e = Capture::open("nr-nosuch0", &small_ring()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
    assert!(e.to_string().contains("'nr-nosuch0'"), "{e}");
    let e = Capture::open("this-name-is-far-too-long", &small_ring()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn interface_deleted_during_capture_is_an_error_not_a_hang() {
    let net = Net::new();
    let r = net.enter(|| {
        let mut cap = Capture::open(&net.a, &small_ring()).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(150));
                net.ip(&["link", "del", &net.a]);
            });
            let t = Instant::now();
            let r = loop {
                match cap.next_batch_timeout(None) {
                    Ok(Wait::Ready(_)) => continue,
                    other => break other.map(|_| ()),
                }
            };
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "took {:?}",
                t.elapsed()
            );
            r
        })
    });
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{e}");
}

#[test]
fn interface_down_does_not_spin_and_recovers() {
    let net = Net::new();
    net.enter(|| {
        let mut cap = Capture::open(&net.a, &small_ring()).unwrap();
        net.ip(&["link", "set", &net.a, "down"]);
        let cpu0 = common::thread_cpu_time();
        let t = Instant::now();
        let mut outcomes = Vec::new();
        while t.elapsed() < Duration::from_millis(600) {
            match cap
                .next_batch_timeout(Some(Duration::from_millis(200)))
                .unwrap()
            {
                Wait::InterfaceDown => outcomes.push("down"),
                Wait::Timeout => outcomes.push("timeout"),
                _ => outcomes.push("other"),
            }
        }
        let cpu = common::thread_cpu_time() - cpu0;
        assert!(
            cpu < Duration::from_millis(100),
            "waiting on a down interface burned {cpu:?} of CPU"
        );
        assert!(outcomes.contains(&"down"), "{outcomes:?}");
        assert!(
            outcomes.len() <= 4,
            "each wait should take its timeout: {outcomes:?}"
        );
        // Back up: capture resumes.
        net.ip(&["link", "set", &net.a, "up"]);
        std::thread::sleep(Duration::from_millis(300));
        let tx = common::Sender::open(&net.b);
        tx.send(&frame(60, 99, OTHER_MAC));
        let got = common::collect(&mut cap, 1, Duration::ZERO, Duration::from_secs(5));
        assert_eq!(
            got.len(),
            1,
            "capture resumes after the interface is up again"
        );
    });
}

#[test]
fn next_packet_walks_frames_one_by_one_across_blocks() {
    let net = Net::new();
    let got = net.enter(|| {
        let mut cap = Capture::open(
            &net.a,
            &CaptureConfig {
                block_size: 4096,
                block_count: 64,
                ..small_ring()
            },
        )
        .unwrap();
        let tx = common::Sender::open(&net.b);
        for i in 0..100 {
            tx.send(&frame(300, i, OTHER_MAC));
        }
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < 100 && Instant::now() < deadline {
            if let Wait::Ready(p) = cap.next_packet(Some(Duration::from_millis(50))).unwrap() {
                if let Some(s) = frame_seq(p.data()) {
                    assert_eq!(p.data(), frame(300, s, OTHER_MAC).as_slice());
                    got.push(s);
                }
            }
        }
        let st = cap.stats().unwrap();
        assert!(
            st.blocks > 5,
            "100 x 300 bytes need many 4 KiB blocks: {st:?}"
        );
        got
    });
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn no_unfiltered_frames_slip_in_before_setup() {
    // With a snap length, every frame (including any that raced the setup)
    // must be cut: the filter is attached before bind.
    let net = Net::new();
    net.enter(|| {
        let tx = common::Sender::open(&net.b);
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tx.send(&frame(1000, i, OTHER_MAC));
                    i += 1;
                }
            });
            for _ in 0..20 {
                let mut cap = Capture::open(
                    &net.a,
                    &CaptureConfig {
                        snaplen: 64,
                        ..small_ring()
                    },
                )
                .unwrap();
                if let Wait::Ready(b) = cap
                    .next_batch_timeout(Some(Duration::from_millis(30)))
                    .unwrap()
                {
                    for p in b.iter() {
                        assert!(
                            p.caplen() <= 64,
                            "a frame of {} bytes slipped in before the filter",
                            p.caplen()
                        );
                    }
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    });
}

/// `Capture::open_any`: one cooked capture on every interface of the
/// namespace. A frame sent on b is seen leaving b and arriving at a, each
/// copy starting at the network header, with the link-layer header's
/// fields in the metadata (protocol, packet type, interface, hardware type
/// and source address).
#[test]
fn open_any_sees_every_interface_cooked() {
    let net = Net::new();
    let src = [0x02, 0x6e, 0x72, 0x00, 0x00, 0x01];
    let (ia, ib, got) = net.enter(|| {
        let idx = |n: &str| {
            let c = std::ffi::CString::new(n).unwrap();
            // SAFETY: a NUL-terminated name.
            unsafe { libc::if_nametoindex(c.as_ptr()) as i32 }
        };
        let (ia, ib) = (idx(&net.a), idx(&net.b));
        let refused = CaptureConfig {
            vlan_reinsert: true,
            ..small_ring()
        };
        assert_eq!(
            Capture::open_any(&refused).unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
        let mut cap = Capture::open_any(&small_ring()).unwrap();
        assert_eq!((cap.ifname(), cap.ifindex()), ("any", 0));
        let tx = common::Sender::open(&net.b);
        for i in 0..3u32 {
            tx.send(&frame(60, i, OTHER_MAC));
        }
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < 6 && start.elapsed() < Duration::from_secs(5) {
            if let Wait::Ready(mut b) = cap
                .next_batch_timeout(Some(Duration::from_millis(20)))
                .unwrap()
            {
                b.for_each(|p| {
                    if p.protocol() == common::TEST_ETHERTYPE {
                        got.push((p.ifindex(), p.pkt_type, p.hw, p.data().to_vec()));
                    }
                    true
                });
            }
        }
        (ia, ib, got)
    });
    assert_eq!(got.len(), 6, "{got:?}");
    for (j, (idx, pkt_type, hw, data)) in got.iter().enumerate() {
        let i = (j / 2) as u32;
        // Network header on: the frame without its 14-byte Ethernet header.
        assert_eq!(data[..], frame(60, i, OTHER_MAC)[14..], "copy {j}");
        assert_eq!((hw.hatype, hw.len), (1, 6), "ARPHRD_ETHER, 6-byte address");
        assert_eq!(hw.addr[..6], src);
        if j % 2 == 0 {
            assert_eq!((*idx, *pkt_type), (ib, 4), "leaving b (PACKET_OUTGOING)");
        } else {
            assert_eq!(
                (*idx, *pkt_type),
                (ia, 3),
                "arriving at a (PACKET_OTHERHOST)"
            );
        }
    }
}
