//! Interface removal and down links under AF_XDP (issue 15, items 1-2): the
//! removal is reported within one wait period as `InterfaceGone`, every
//! frame already in the RX ring is delivered first, and a down interface
//! neither spins nor hangs. The time to the error and the frames delivered
//! are printed (`--nocapture`) for the report. nrxdp's removal through the
//! C API is checked in the root package's tests/removal_frames.rs (50 runs).

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Net, OTHER_MAC, frame, frame_seq};
use netring_engine::ErrorKind;
use netring_engine::afpacket::Wait;
use netring_engine::afxdp::{LINK_CHECK_PERIOD, Xdp, XdpConfig, XdpDirection};

/// Bound on the time from `ip link del` returning to the error: one check
/// period plus generous slack for a loaded 2-core machine.
const REPORT_BOUND: Duration = Duration::from_millis(1500);

/// Send numbered 60-byte frames until `stop` or the interface is gone,
/// counting them in `sent`.
fn flood(tx: &common::Sender, stop: &AtomicBool, sent: &AtomicU64) {
    let mut k = 0u32;
    while !stop.load(Ordering::Relaxed) && tx.try_send(&frame(60, k, OTHER_MAC)) {
        k += 1;
        sent.store(u64::from(k), Ordering::Relaxed);
    }
}

fn cfg() -> XdpConfig {
    XdpConfig {
        frame_count: 2048,
        ..XdpConfig::default()
    }
}

/// Read until an error: (test frames in order, the error).
fn read_until_error(xdp: &mut Xdp, limit: Duration) -> (Vec<Vec<u8>>, netring_engine::Error) {
    let t = Instant::now();
    let mut got = Vec::new();
    loop {
        assert!(
            t.elapsed() < limit,
            "no error {limit:?} after the interface was removed ({} frames read)",
            got.len()
        );
        // Bounded, so a regression fails the test instead of hanging it.
        match xdp.next_batch_timeout(Some(limit.saturating_sub(t.elapsed()))) {
            Ok(Wait::Ready(mut b)) => {
                b.for_each(|p| {
                    if frame_seq(p.data()).is_some() {
                        got.push(p.data().to_vec());
                    }
                    true
                });
            }
            Ok(_) => {}
            Err(e) => return (got, e),
        }
    }
}

#[test]
fn xdp_removal_while_blocked_is_reported_within_a_wait_period() {
    let net = Net::new();
    let deleted = Mutex::new(None::<Instant>);
    let (r, cpu) = net.enter(|| {
        let mut xdp = Xdp::open(&net.a, 0, &cfg()).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                net.ip(&["link", "del", &net.a]);
                *deleted.lock().unwrap() = Some(Instant::now());
            });
            let cpu0 = common::thread_cpu_time();
            let r = read_until_error(&mut xdp, Duration::from_secs(10));
            let at = Instant::now();
            // A second call reports the same error at once.
            let again = xdp.next_batch_timeout(None).map(|_| ()).unwrap_err();
            assert_eq!(again.kind(), ErrorKind::InterfaceGone, "{again}");
            (r, (common::thread_cpu_time() - cpu0, at))
        })
    });
    let (got, e) = r;
    let (cpu, at) = cpu;
    assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{e}");
    assert!(e.to_string().contains(&net.a), "{e}");
    assert!(got.is_empty());
    let del = deleted.lock().unwrap().expect("deleted");
    // `ip link del` returns after the unregistration; the error may even
    // come first (the check sees the index gone before ip exits).
    let lag = at.saturating_duration_since(del);
    eprintln!(
        "xdp blocked: InterfaceGone {lag:?} after `ip link del` returned (check period \
         {LINK_CHECK_PERIOD:?}), CPU {cpu:?} for the whole wait"
    );
    assert!(lag < REPORT_BOUND, "took {lag:?}");
    assert!(cpu < Duration::from_millis(200), "the wait burned {cpu:?}");
}

#[test]
fn xdp_delivers_every_frame_in_its_ring_before_the_removal_error() {
    const N: u32 = 1000;
    let net = Net::new();
    let (got, e, st) = net.enter(|| {
        let mut xdp = Xdp::open(&net.a, 0, &cfg()).unwrap();
        let tx = common::Sender::open(&net.b);
        for k in 0..N {
            tx.send(&frame(60 + (k as usize * 13) % 1400, k, OTHER_MAC));
        }
        drop(tx);
        // Let the veth NAPI poll move every frame into the RX ring, then
        // remove the interface before reading any.
        std::thread::sleep(Duration::from_millis(300));
        let st = xdp.stats().unwrap();
        net.ip(&["link", "del", &net.a]);
        let (got, e) = read_until_error(&mut xdp, Duration::from_secs(10));
        (got, e, st)
    });
    eprintln!(
        "xdp ring drain: sent {N}, delivered {} before {:?}, kernel drops {}",
        got.len(),
        e.kind(),
        st.rx_dropped + st.rx_ring_full
    );
    assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{e}");
    assert_eq!(st.rx_dropped + st.rx_ring_full + st.rx_refused, 0, "{st:?}");
    assert_eq!(got.len(), N as usize, "frames in the RX ring were lost");
    for (k, g) in got.iter().enumerate() {
        assert!(
            *g == frame(60 + (k * 13) % 1400, k as u32, OTHER_MAC),
            "frame {k} differs"
        );
    }
}

#[test]
fn xdp_removal_while_traffic_flows() {
    let net = Net::new();
    let sent = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let deleted = Mutex::new(None::<Instant>);
    let (got, e, at) = net.enter(|| {
        let mut xdp = Xdp::open(&net.a, 0, &cfg()).unwrap();
        let tx = common::Sender::open(&net.b);
        std::thread::scope(|s| {
            s.spawn(|| flood(&tx, &stop, &sent));
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(400));
                net.ip(&["link", "del", &net.a]);
                *deleted.lock().unwrap() = Some(Instant::now());
            });
            let (got, e) = read_until_error(&mut xdp, Duration::from_secs(10));
            let at = Instant::now();
            stop.store(true, Ordering::Relaxed);
            (got, e, at)
        })
    });
    let sent = sent.load(Ordering::Relaxed);
    let lag = at.saturating_duration_since(deleted.lock().unwrap().expect("deleted"));
    eprintln!(
        "xdp under traffic: sent {sent}, delivered {}, InterfaceGone {lag:?} after `ip link del` \
         returned",
        got.len()
    );
    assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{e}");
    assert!(lag < REPORT_BOUND, "took {lag:?}");
    assert!(!got.is_empty(), "nothing received before the removal");
    assert!(got.len() as u64 <= sent);
    // One queue, one sender: frames arrive in order, none twice, none
    // corrupted (a frame handed out after the unbind would show here).
    for (i, g) in got.iter().enumerate() {
        let seq = frame_seq(g).unwrap();
        assert!(*g == frame(60, seq, OTHER_MAC), "frame {i} corrupt");
        if i > 0 {
            assert!(seq > frame_seq(&got[i - 1]).unwrap(), "out of order at {i}");
        }
    }
}

#[test]
fn xdp_down_interface_neither_spins_nor_hangs_and_recovers() {
    let net = Net::new();
    net.enter(|| {
        let mut xdp = Xdp::open(&net.a, 0, &cfg()).unwrap();
        net.ip(&["link", "set", &net.a, "down"]);
        let cpu0 = common::thread_cpu_time();
        let t = Instant::now();
        let mut outcomes = Vec::new();
        while t.elapsed() < Duration::from_millis(600) {
            let w = Instant::now();
            match xdp
                .next_batch_timeout(Some(Duration::from_millis(200)))
                .unwrap()
            {
                Wait::InterfaceDown => outcomes.push("down"),
                Wait::Timeout => outcomes.push("timeout"),
                _ => outcomes.push("other"),
            }
            assert!(w.elapsed() < Duration::from_secs(2), "a wait hung");
        }
        let cpu = common::thread_cpu_time() - cpu0;
        eprintln!("xdp down: {outcomes:?}, CPU {cpu:?} in 600 ms of waiting");
        assert!(cpu < Duration::from_millis(100), "burned {cpu:?}");
        assert!(outcomes.contains(&"down"), "{outcomes:?}");
        assert!(outcomes.len() <= 4, "{outcomes:?}");
        net.ip(&["link", "set", &net.a, "up"]);
        std::thread::sleep(Duration::from_millis(300));
        let tx = common::Sender::open(&net.b);
        let t = Instant::now();
        let mut got = 0;
        while got == 0 && t.elapsed() < Duration::from_secs(5) {
            tx.send(&frame(60, 7, OTHER_MAC));
            if let Wait::Ready(mut b) = xdp
                .next_batch_timeout(Some(Duration::from_millis(100)))
                .unwrap()
            {
                got += b.for_each(|p| frame_seq(p.data()) != Some(7));
            }
        }
        assert!(got > 0, "AF_XDP receives again once the interface is up");
    });
}

#[test]
fn xdp_tx_removal_is_an_error_not_a_hang() {
    let net = Net::new();
    let deleted = Mutex::new(None::<Instant>);
    let (e, at) = net.enter(|| {
        let mut xdp = Xdp::open(
            &net.a,
            0,
            &XdpConfig {
                direction: XdpDirection::Tx,
                frame_count: 512,
                ..XdpConfig::default()
            },
        )
        .unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                net.ip(&["link", "del", &net.a]);
                *deleted.lock().unwrap() = Some(Instant::now());
            });
            let f = frame(60, 0, OTHER_MAC);
            let frames = [f.as_slice(); 32];
            let t = Instant::now();
            let e = loop {
                assert!(t.elapsed() < Duration::from_secs(10), "TX never failed");
                let r = xdp.send(&frames).and_then(|_| xdp.flush(None));
                match r {
                    Ok(_) => {}
                    // On its way out the interface is down first.
                    Err(e) if e.to_string().contains("is down") => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(e) => break e,
                }
            };
            (e, Instant::now())
        })
    });
    let lag = at.saturating_duration_since(deleted.lock().unwrap().expect("deleted"));
    eprintln!(
        "xdp tx: {:?} {lag:?} after `ip link del` returned: {e}",
        e.kind()
    );
    assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{e}");
    assert!(lag < REPORT_BOUND, "took {lag:?}");
}

/// The injector while frames flow: the removal is an error within the
/// bound (not a hang in wait_drained), and every frame the peer captured
/// was one the kernel took.
#[test]
fn injector_removal_while_sending_and_draining() {
    use netring_engine::{Capture, CaptureConfig, Injector, InjectorConfig, TxMode};
    for mode in [TxMode::Ring, TxMode::Sendmmsg] {
        let net = Net::new();
        let deleted = Mutex::new(None::<Instant>);
        let (e, at, sent, captured) = net.enter(|| {
            let mut cap = Capture::open(&net.b, &CaptureConfig::default()).unwrap();
            let mut inj = Injector::open(
                &net.a,
                &InjectorConfig {
                    mode,
                    ..InjectorConfig::default()
                },
            )
            .unwrap();
            std::thread::scope(|s| {
                let rx = s.spawn(move || {
                    let mut n = 0u64;
                    loop {
                        match cap.next_batch_timeout(Some(Duration::from_secs(10))) {
                            Ok(Wait::Ready(mut b)) => {
                                b.for_each(|p| {
                                    n += u64::from(frame_seq(p.data()).is_some());
                                    true
                                });
                            }
                            Ok(Wait::Timeout) => panic!("capture: no removal error"),
                            Ok(_) => {}
                            Err(e) => {
                                assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{e}");
                                return n;
                            }
                        }
                    }
                });
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(300));
                    net.ip(&["link", "del", &net.a]);
                    *deleted.lock().unwrap() = Some(Instant::now());
                });
                let t = Instant::now();
                let mut k = 0u32;
                let e = loop {
                    assert!(t.elapsed() < Duration::from_secs(10), "{mode:?}: no error");
                    let r = inj
                        .inject(&frame(60, k, OTHER_MAC))
                        .and_then(|_| inj.flush())
                        .and_then(|_| {
                            if k % 64 == 63 {
                                inj.wait_drained(None).map(drop)
                            } else {
                                Ok(())
                            }
                        });
                    match r {
                        Ok(()) => k += 1,
                        // On its way out the interface is down first.
                        Err(e) if e.to_string().contains("is down") => {}
                        Err(e) => break e,
                    }
                };
                let at = Instant::now();
                // Draining after the removal is an error or done, at once.
                let w = Instant::now();
                let drained = inj.wait_drained(None);
                assert!(
                    w.elapsed() < Duration::from_secs(1),
                    "{mode:?}: wait_drained hung"
                );
                if let Err(d) = drained {
                    assert_eq!(d.kind(), ErrorKind::InterfaceGone, "{d}");
                }
                (e, at, inj.stats().sent, rx.join().unwrap())
            })
        });
        let lag = at.saturating_duration_since(deleted.lock().unwrap().expect("deleted"));
        eprintln!(
            "injector {mode:?}: kernel took {sent}, peer captured {captured}, {:?} {lag:?} after \
             `ip link del` returned",
            e.kind()
        );
        assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{mode:?}: {e}");
        assert!(lag < REPORT_BOUND, "{mode:?}: took {lag:?}");
        assert!(
            captured > 0 && captured <= sent,
            "{mode:?}: {captured} of {sent}"
        );
    }
}

/// The bridge while frames flow through it: removing the far side ends
/// run() with InterfaceGone within the bound; what reached the far side's
/// peer was forwarded by the bridge.
#[test]
fn bridge_removal_while_forwarding() {
    use netring_engine::{Bridge, BridgeConfig, Capture, CaptureConfig, Verdict};
    let net = Net::new();
    let c = format!("{}c", net.a);
    let d = format!("{}d", net.a);
    net.ip(&["link", "add", &c, "type", "veth", "peer", "name", &d]);
    net.ip(&["link", "set", &c, "up"]);
    net.ip(&["link", "set", &d, "up"]);
    let deleted = Mutex::new(None::<Instant>);
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let (r, at, forwarded, seen) = net.enter(|| {
        // b -> [a  bridge  c] -> d
        let mut bridge = Bridge::open(&net.a, &c, &BridgeConfig::default()).unwrap();
        let mut cap = Capture::open(&d, &CaptureConfig::default()).unwrap();
        let tx = common::Sender::open(&net.b);
        std::thread::scope(|s| {
            s.spawn(|| flood(&tx, &stop, &sent));
            let rx = s.spawn(move || {
                let mut n = 0u64;
                while let Ok(w) = cap.next_batch_timeout(Some(Duration::from_secs(10))) {
                    match w {
                        Wait::Ready(mut b) => {
                            b.for_each(|p| {
                                n += u64::from(frame_seq(p.data()).is_some());
                                true
                            });
                        }
                        Wait::Timeout => break,
                        _ => {}
                    }
                }
                n
            });
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(400));
                net.ip(&["link", "del", &c]);
                *deleted.lock().unwrap() = Some(Instant::now());
            });
            let mut forwarded = 0u64;
            let r = bridge.run(|_, p| {
                forwarded += u64::from(frame_seq(p.data()).is_some());
                Verdict::Forward
            });
            let at = Instant::now();
            stop.store(true, Ordering::Relaxed);
            (r, at, forwarded, rx.join().unwrap())
        })
    });
    let lag = at.saturating_duration_since(deleted.lock().unwrap().expect("deleted"));
    let e = r.unwrap_err();
    eprintln!(
        "bridge: sender sent {}, bridge saw {forwarded}, far peer captured {seen}, {:?} {lag:?} \
         after `ip link del` returned",
        sent.load(Ordering::Relaxed),
        e.kind()
    );
    assert_eq!(e.kind(), ErrorKind::InterfaceGone, "{e}");
    assert!(lag < REPORT_BOUND, "took {lag:?}");
    assert!(seen > 0 && seen <= forwarded, "{seen} of {forwarded}");
}

/// A break ends the wait it interrupts, and the frames already in the RX
/// ring stay deliverable afterwards (nrxdp drains them after SIGINT).
#[test]
fn xdp_frames_in_the_ring_survive_a_break() {
    const N: u32 = 500;
    let net = Net::new();
    let (first, got) = net.enter(|| {
        let mut xdp = Xdp::open(&net.a, 0, &cfg()).unwrap();
        let tx = common::Sender::open(&net.b);
        for k in 0..N {
            tx.send(&frame(60, k, OTHER_MAC));
        }
        std::thread::sleep(Duration::from_millis(300));
        xdp.breaker().break_loop();
        let first = matches!(
            xdp.next_batch_timeout(Some(Duration::from_secs(1)))
                .unwrap(),
            Wait::Interrupted
        );
        let mut got = Vec::new();
        while let Wait::Ready(mut b) = xdp.next_batch_timeout(Some(Duration::ZERO)).unwrap() {
            b.for_each(|p| {
                got.extend(frame_seq(p.data()));
                true
            });
        }
        (first, got)
    });
    assert!(first, "the break ends the wait it interrupts");
    assert_eq!(
        got,
        (0..N).collect::<Vec<_>>(),
        "ring frames after the break"
    );
}
