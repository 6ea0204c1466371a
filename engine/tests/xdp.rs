//! AF_XDP on real veth pairs: frames checked byte for byte, TX verified by
//! an independent AF_PACKET socket on the peer, program lifetime checked
//! with `ip link`.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Net, OTHER_MAC, Receiver, frame, frame_seq};
use netring_engine::ErrorKind;
use netring_engine::afpacket::Wait;
use netring_engine::afxdp::{AttachMode, BindMode, Program, Xdp, XdpConfig, XdpDirection};

/// A small UMEM so tests stay light.
fn small() -> XdpConfig {
    XdpConfig {
        frame_count: 512,
        ..XdpConfig::default()
    }
}

/// Read test frames until `want` arrived or `limit` passed: (queue, bytes).
fn collect(xdp: &mut Xdp, want: usize, limit: Duration) -> Vec<(u32, Vec<u8>)> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < want && start.elapsed() < limit {
        let idle = match xdp
            .next_batch_timeout(Some(Duration::from_millis(50)))
            .unwrap()
        {
            Wait::Ready(mut b) => {
                let q = b.queue();
                b.for_each(|p| {
                    if frame_seq(p.data()).is_some() {
                        got.push((q, p.data().to_vec()));
                    }
                    true
                });
                false
            }
            _ => true,
        };
        if idle {
            // Stop early once every missing frame is accounted for as a
            // kernel drop (the callers check that sum).
            let st = xdp.stats().unwrap();
            if got.len() as u64 + st.rx_dropped + st.rx_ring_full >= want as u64 {
                break;
            }
        }
    }
    got
}

fn rx_byte_exact(mode: AttachMode) {
    let net = Net::new();
    let sizes = [60usize, 61, 64, 100, 128, 500, 1000, 1499, 1500, 1513, 1514];
    let (got, native) = net.enter(|| {
        let cfg = XdpConfig {
            attach: mode,
            ..small()
        };
        let mut xdp = Xdp::open(&net.a, 0, &cfg).unwrap();
        assert!(!xdp.info().zero_copy, "veth has no zero-copy");
        let tx = common::Sender::open(&net.b);
        for (i, &len) in sizes.iter().enumerate() {
            tx.send(&frame(len, i as u32, OTHER_MAC));
        }
        let got = collect(&mut xdp, sizes.len(), Duration::from_secs(5));
        let st = xdp.stats().unwrap();
        assert_eq!(st.rx_packets as usize, got.len(), "{st:?}");
        assert_eq!(st.rx_dropped + st.rx_ring_full + st.rx_refused, 0, "{st:?}");
        assert!(net.has_xdp(&net.a));
        (got, xdp.info().native)
    });
    match mode {
        AttachMode::Native => assert_eq!(native, Some(true)),
        AttachMode::Generic => assert_eq!(native, Some(false)),
        AttachMode::Auto => assert!(native.is_some()),
    }
    assert_eq!(got.len(), sizes.len());
    for (i, &len) in sizes.iter().enumerate() {
        assert_eq!(
            got[i].1,
            frame(len, i as u32, OTHER_MAC),
            "frame {i} ({len} bytes) differs"
        );
    }
    assert!(
        net.wait_no_xdp(&net.a),
        "program still attached after close"
    );
}

#[test]
fn rx_native_byte_exact_and_program_gone_after_close() {
    rx_byte_exact(AttachMode::Native);
}

#[test]
fn rx_generic_byte_exact_and_program_gone_after_close() {
    rx_byte_exact(AttachMode::Generic);
}

/// Send `n` frames of 60..1514 bytes (sequence numbers 0..n) from an
/// independent sender, pausing 120 ms after every `pause_every` frames
/// (so the batching wait sleeps, wakes on a quarter ring and falls back to
/// poll() in the pauses), and collect them through an AF_XDP socket opened
/// with `cfg`. Checks that every frame that arrived is intact and in
/// order, that the count reconciles with the kernel's drop counters and
/// that no descriptor was refused; returns the frames received and the
/// kernel's drops.
fn rx_in_order(cfg: &XdpConfig, n: u32, pause_every: Option<u32>) -> (usize, u64) {
    let net = Net::new();
    let (got, st) = net.enter(|| {
        let mut xdp = Xdp::open(&net.a, 0, cfg).unwrap();
        let tx = common::Sender::open(&net.b);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                for i in 0..n {
                    tx.send(&frame(60 + (i as usize % 1455), i, OTHER_MAC));
                    if pause_every.is_some_and(|p| i % p == p - 1) {
                        std::thread::sleep(Duration::from_millis(120));
                    }
                }
            });
            let got = collect(&mut xdp, n as usize, Duration::from_secs(30));
            h.join().unwrap();
            (got, xdp.stats().unwrap())
        })
    });
    let drops = st.rx_dropped + st.rx_ring_full;
    assert_eq!(got.len() as u64 + drops, u64::from(n), "{st:?}");
    let mut last = None;
    for (_, f) in &got {
        let s = frame_seq(f).unwrap();
        assert!(last.is_none_or(|l| s > l), "order");
        last = Some(s);
        assert_eq!(f, &frame(60 + (s as usize % 1455), s, OTHER_MAC));
    }
    assert_eq!(st.rx_refused, 0);
    (got.len(), drops)
}

/// 20 000 frames sent flat out into a 512-frame UMEM: the kernel drops
/// when the consumer falls behind (10 000 to 0 of them in runs here), and
/// the counters must say exactly how many; what arrives is intact and in
/// order, and at least a UMEM's worth does.
#[test]
fn rx_auto_many_frames_exact_count() {
    let (got, drops) = rx_in_order(&small(), 20_000, None);
    assert!(got >= 512, "only {got} of 20000 arrived ({drops} dropped)");
}

/// 6 000 frames in bursts of 1 500 fit in the UMEM (`cfg` keeps the
/// default 16384 frames): all of them arrive, whatever the wait mode.
fn rx_exact_with(cfg: XdpConfig) {
    assert!(cfg.frame_count >= 6_000);
    let (got, drops) = rx_in_order(&cfg, 6_000, Some(1_500));
    assert_eq!((got, drops), (6_000, 0));
}

#[test]
fn rx_batching_wait_short_latency_budget_exact_count() {
    rx_exact_with(XdpConfig {
        max_latency: Duration::from_micros(200),
        ..XdpConfig::default()
    });
}

#[test]
fn rx_batching_wait_default_budget_exact_count() {
    rx_exact_with(XdpConfig::default());
}

#[test]
fn rx_busy_poll_exact_count() {
    rx_exact_with(XdpConfig {
        busy_poll_us: 50,
        prefer_busy_poll: true,
        busy_poll_budget: 64,
        ..XdpConfig::default()
    });
}

#[test]
fn tx_copy_frames_arrive_on_the_peer_byte_exact() {
    let net = Net::new();
    let sizes: Vec<usize> = (0..300).map(|i| 60 + (i * 37) % 1455).collect();
    let (got, st) = net.enter(|| {
        let rx = Receiver::open(&net.b);
        let cfg = XdpConfig {
            direction: XdpDirection::Tx,
            frame_count: 64, // fewer frames than frames to send: recycling
            ..XdpConfig::default()
        };
        let mut xdp = Xdp::open(&net.a, 0, &cfg).unwrap();
        assert_eq!(xdp.info().native, None, "TX only loads no program");
        assert!(!net.has_xdp(&net.a));
        let frames: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &l)| frame(l, i as u32, OTHER_MAC))
            .collect();
        let mut sent = 0;
        let start = Instant::now();
        while sent < frames.len() {
            let batch: Vec<&[u8]> = frames[sent..].iter().map(|f| f.as_slice()).collect();
            let n = xdp.send(&batch).unwrap();
            sent += n;
            if n == 0 {
                xdp.flush(Some(Duration::from_millis(10))).unwrap();
            }
            assert!(start.elapsed() < Duration::from_secs(10), "TX starved");
        }
        assert!(xdp.flush(Some(Duration::from_secs(5))).unwrap());
        let got = rx.test_frames(frames.len(), Duration::from_secs(5));
        (got, xdp.stats().unwrap())
    });
    assert_eq!(got.len(), sizes.len(), "{st:?}");
    for (i, &len) in sizes.iter().enumerate() {
        assert_eq!(got[i], frame(len, i as u32, OTHER_MAC), "frame {i}");
    }
    assert_eq!(st.tx_queued, sizes.len() as u64);
    assert_eq!(st.tx_completed, sizes.len() as u64);
    assert_eq!(st.tx_invalid_descs, 0);
}

#[test]
fn tx_zero_copy_path_alloc_fill_submit() {
    let net = Net::new();
    let (got, rejected) = net.enter(|| {
        let rx = Receiver::open(&net.b);
        let cfg = XdpConfig {
            direction: XdpDirection::RxTx,
            frame_count: 128,
            ..XdpConfig::default()
        };
        let mut xdp = Xdp::open(&net.a, 0, &cfg).unwrap();
        for i in 0..200u32 {
            let f = frame(100 + i as usize, i, OTHER_MAC);
            let (ptr, cap) = loop {
                if let Some(x) = xdp.tx_alloc().unwrap() {
                    break x;
                }
                xdp.flush(Some(Duration::from_millis(10))).unwrap();
            };
            assert!(cap as usize >= f.len());
            // SAFETY: the reserved frame has `cap` writable bytes.
            unsafe { std::ptr::copy_nonoverlapping(f.as_ptr(), ptr, f.len()) };
            xdp.tx_submit(f.len() as u32).unwrap();
        }
        // Robustness: zero length and oversize are refused, frame kept.
        xdp.tx_alloc().unwrap().unwrap();
        let zero = xdp.tx_submit(0).unwrap_err().kind();
        let big = xdp.tx_submit(5000).unwrap_err().kind();
        let empty = xdp.send(&[&[]]).unwrap_err().kind();
        assert!(xdp.flush(Some(Duration::from_secs(5))).unwrap());
        (
            rx.test_frames(200, Duration::from_secs(5)),
            (zero, big, empty),
        )
    });
    assert_eq!(
        rejected,
        (
            ErrorKind::InvalidArgument,
            ErrorKind::TooBig,
            ErrorKind::InvalidArgument
        )
    );
    assert_eq!(got.len(), 200);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g, &frame(100 + i, i as u32, OTHER_MAC));
    }
}

#[test]
fn shared_umem_two_queues_every_frame_once() {
    let net = Net::with_queues(2);
    const N: u32 = 4000;
    // XPS on the peer: CPU 0 sends on TX queue 0, CPU 1 on TX queue 1; a
    // veth's TX queue i feeds the other end's RX queue i.
    for q in 0..2 {
        let st = net
            .command("sh")
            .args([
                "-c",
                &format!(
                    "echo {} > /sys/class/net/{}/queues/tx-{q}/xps_cpus",
                    1 << q,
                    net.b
                ),
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let (got, info) = net.enter(|| {
        let mut xdp = Xdp::open_all(
            &net.a,
            &XdpConfig {
                frame_count: 4096,
                ..small()
            },
        )
        .unwrap();
        let info = xdp.info().clone();
        // One sender per CPU, so both queues see traffic.
        let got = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2u32)
                .map(|t| {
                    let b = net.b.clone();
                    let path = net.path();
                    s.spawn(move || {
                        common::enter_ns(&path);
                        pin(t as usize);
                        let tx = common::Sender::open(&b);
                        for i in (t..N).step_by(2) {
                            tx.send(&frame(60 + (i as usize % 200), i, OTHER_MAC));
                            if i % 512 < 2 {
                                std::thread::sleep(Duration::from_millis(2));
                            }
                        }
                    })
                })
                .collect();
            let got = collect(&mut xdp, N as usize, Duration::from_secs(20));
            for h in hs {
                h.join().unwrap();
            }
            got
        });
        let st = xdp.stats().unwrap();
        assert_eq!(st.rx_dropped + st.rx_ring_full, 0, "{st:?}");
        (got, info)
    });
    assert_eq!(info.queues, vec![0, 1]);
    let mut seen = HashMap::new();
    let mut per_queue = [0usize; 2];
    for (q, f) in &got {
        let s = frame_seq(f).unwrap();
        assert_eq!(f, &frame(60 + (s as usize % 200), s, OTHER_MAC));
        assert!(seen.insert(s, *q).is_none(), "frame {s} received twice");
        per_queue[*q as usize] += 1;
    }
    assert_eq!(seen.len(), N as usize, "per queue {per_queue:?}");
    assert!(
        per_queue[0] > 0 && per_queue[1] > 0,
        "both queues: {per_queue:?}"
    );
}

fn pin(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity on this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % 2, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[test]
fn robustness_errors_are_clear() {
    let net = Net::with_queues(2);
    net.enter(|| {
        // Queue out of range.
        let e = Xdp::open(&net.a, 7, &small()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains("queue 7 does not exist"), "{e}");
        // Unknown interface.
        let e = Xdp::open("nosuchif0", 0, &small()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoDevice, "{e}");
        // Zero-copy forced on veth.
        let e = Xdp::open(
            &net.a,
            0,
            &XdpConfig {
                bind: BindMode::ZeroCopy,
                ..small()
            },
        )
        .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::InvalidConfig),
            "{e}"
        );
        // Another XDP program on the interface.
        let first = Xdp::open(&net.a, 0, &small()).unwrap();
        let e = Xdp::open(&net.a, 1, &small()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(e.message().contains("another XDP program"), "{e}");
        drop(first);
        // Immediate re-open of the same queue: EBUSY from the kernel's
        // asynchronous teardown is retried.
        for _ in 0..3 {
            let x = Xdp::open(&net.a, 0, &small()).unwrap();
            drop(x);
        }
    });
    assert!(net.wait_no_xdp(&net.a));
}

#[test]
fn external_program_only_registers_the_socket() {
    use netring_engine::afxdp::program::AttachMode as M;
    let net = Net::new();
    net.enter(|| {
        // The "user's" program: netring's loader used as a stand-in.
        let loaded = netring_engine::afxdp::program::Loaded::new(4).unwrap();
        let map_fd = loaded.map_fd();
        let idx = {
            let c = std::ffi::CString::new(net.a.as_str()).unwrap();
            // SAFETY: valid C string.
            unsafe { libc::if_nametoindex(c.as_ptr()) as i32 }
        };
        let attached = loaded.attach(&net.a, idx, M::Generic).unwrap();
        let cfg = XdpConfig {
            program: Program::External(map_fd),
            ..small()
        };
        let mut xdp = Xdp::open(&net.a, 0, &cfg).unwrap();
        assert_eq!(xdp.info().native, None);
        let tx = common::Sender::open(&net.b);
        tx.send(&frame(200, 9, OTHER_MAC));
        let got = collect(&mut xdp, 1, Duration::from_secs(5));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, frame(200, 9, OTHER_MAC));
        drop(xdp);
        assert!(net.has_xdp(&net.a), "the user's program stays");
        // Not an XSKMAP: refused clearly.
        let cfg = XdpConfig {
            program: Program::External(tx_fd(&tx)),
            ..small()
        };
        let e = Xdp::open(&net.a, 0, &cfg).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        drop(attached);
    });
    assert!(net.wait_no_xdp(&net.a));
}

fn tx_fd(_s: &common::Sender) -> i32 {
    // Any fd that is not a BPF map: stdin.
    0
}

#[test]
fn breaker_wakes_a_blocked_wait() {
    let net = Net::new();
    net.enter(|| {
        let mut xdp = Xdp::open(&net.a, 0, &small()).unwrap();
        common::assert_break_wakes(xdp.breaker(), || {
            matches!(xdp.next_batch_timeout(None).unwrap(), Wait::Interrupted)
        });
        let t = Instant::now();
        assert!(matches!(
            xdp.next_batch_timeout(Some(Duration::from_millis(100)))
                .unwrap(),
            Wait::Timeout
        ));
        assert!(t.elapsed() >= Duration::from_millis(100));
    });
}

/// Run by `program_gone_after_sigkill` in a child process: open AF_XDP in
/// the namespace named by the environment, say READY, wait to be killed.
#[test]
#[ignore = "helper process for program_gone_after_sigkill"]
fn sigkill_child_helper() {
    let (Ok(ns), Ok(ifname)) = (
        std::env::var("NR_XDP_CHILD_NS"),
        std::env::var("NR_XDP_CHILD_IF"),
    ) else {
        return;
    };
    common::enter_ns(&ns);
    let _xdp = Xdp::open(&ifname, 0, &small()).unwrap();
    println!("READY");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn program_gone_after_sigkill() {
    let net = Net::new();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigkill_child_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NR_XDP_CHILD_NS", net.path())
        .env("NR_XDP_CHILD_IF", &net.a)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !net.has_xdp(&net.a) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the child never attached its program"
        );
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(
        net.wait_no_xdp(&net.a),
        "the program outlived its SIGKILLed owner: {}",
        net.link_text(&net.a)
    );
}

/// Drop CAP_IPC_LOCK from this thread's effective set (capabilities are
/// per thread; the thread ends with the test's `enter`).
fn drop_ipc_lock() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget/capset with a valid header and two data structs.
    unsafe {
        assert_eq!(libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()), 0);
        d[0].effective &= !(1 << 14); // CAP_IPC_LOCK
        assert_eq!(libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()), 0);
    }
}

#[test]
fn memlock_too_small_says_so() {
    let net = Net::new();
    let e = net.enter(|| {
        drop_ipc_lock();
        // SAFETY: getrlimit/setrlimit on local structs. The limit is
        // process-wide, but every other test thread keeps CAP_IPC_LOCK,
        // which exempts it.
        let old = unsafe {
            let mut old: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut old);
            let small = libc::rlimit {
                rlim_cur: 64 << 10,
                rlim_max: old.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_MEMLOCK, &small);
            old
        };
        let r = Xdp::open(&net.a, 0, &small());
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &old) };
        r.unwrap_err()
    });
    assert_eq!(e.kind(), ErrorKind::NoMemory, "{e}");
    assert!(e.message().contains("RLIMIT_MEMLOCK"), "{e}");
    assert!(e.message().contains("CAP_IPC_LOCK"), "{e}");
    assert!(net.wait_no_xdp(&net.a));
}
