//! Issue 25: every frame the kernel took before its interface was removed is
//! delivered before the removal is reported, every time.
//!
//! The sequence, repeated at least 50 times per consumer: a fresh veth pair,
//! the consumer bound (its packet socket shows in `/proc/net/packet`), 1000
//! frames sent from the peer, then the capture interface deleted after a
//! delay that steps from 0 to one block timeout (60 ms, nrcap's and the C
//! API's default). The frames then sit in the ring block the kernel is still
//! filling; the kernel hands a partly filled block over only when its retire
//! timer fires. A consumer that reports the removal as soon as it sees it
//! throws them away.
//!
//! Why the older removal tests could not see this: they either sent no
//! frame before deleting the interface, or waited 300 ms first (five block
//! timeouts, so every block had long been retired), or ran on AF_XDP, whose
//! RX ring has no unretired block. Here the deletion comes before the block
//! timeout, at many delays, many times.
//!
//! Consumers: nrcap (the C API through a C program), the C API called
//! directly (nr_next_batch and nr_next_packet), tcpdump through the libpcap
//! drop-in, and nrxdp (AF_XDP). Each run also checks that the error comes
//! within the documented bound (`Capture::removal_bound`: twice the block
//! timeout plus 100 ms) plus slack for a loaded machine.

use std::ffi::{CString, c_int, c_void};
use std::io::Read;
use std::mem::MaybeUninit;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use netring::capi::batch::{nr_batch, nr_batch_for_each, nr_batch_release, nr_packet};
use netring::capi::capture::*;
use netring::capi::nr_status;
use netring_testkit::cbuild::{bin, prefix};
use netring_testkit::{Net, OTHER_MAC, Receiver, TempDir, frame, frame_seq};

/// Frames per run.
const N: u32 = 1000;
/// Runs per consumer (the issue asks for at least 50).
const RUNS: u32 = 50;
/// The default block timeout of nrcap and of the C API (ms).
const TOV_MS: u64 = 60;
/// tcpdump's read timeout, which the drop-in (like libpcap) uses as the
/// block timeout (ms).
const TCPDUMP_TOV_MS: u64 = 1000;

/// From the deletion to the error: the engine's bound for a block timeout
/// of `tov_ms` (`Capture::removal_bound`: 2 x tov + 100 ms) plus slack for
/// process exit on a loaded 2-core machine.
fn report_bound(tov_ms: u64) -> Duration {
    Duration::from_millis(2 * tov_ms + 100 + 1500)
}

/// Run `i`'s delay between the last frame and the deletion: 0 to one block
/// timeout, in even steps.
fn delay(i: u32) -> Duration {
    Duration::from_micros(u64::from(i) * TOV_MS * 1000 / u64::from(RUNS - 1))
}

/// Send the N numbered test frames from the peer side.
fn send_frames(net: &Net) {
    let tx = net.sender(&net.b);
    for k in 0..N {
        tx.send(&frame(60, k, OTHER_MAC));
    }
}

/// The `rx_packets` counter of the capture interface.
fn rx_packets(net: &Net) -> u64 {
    let out = net
        .command("cat")
        .arg(format!("/sys/class/net/{}/statistics/rx_packets", net.a))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The test's witness that the kernel took every frame: an independent
/// packet socket on the capture interface ([`Receiver`], opened before the
/// frames are sent). Once it has received all N, the device's receive path
/// has run for each of them, and every packet socket of the device (the
/// consumer's included) got each frame in that same pass. Without it the
/// test would blame the consumer for frames the kernel never delivered: a
/// veth frame is counted in `rx_packets` when it is queued to the CPU's
/// backlog, and frames still queued there when the interface is deleted are
/// dropped by the kernel (on a loaded 2-core machine the backlog can wait
/// tens of milliseconds for its softirq).
fn witness_all(w: &Receiver) {
    let got = w.test_frames(N as usize, Duration::from_secs(10));
    let seqs: Vec<u32> = got.iter().filter_map(|f| frame_seq(f)).collect();
    assert_eq!(
        seqs,
        (0..N).collect::<Vec<_>>(),
        "the kernel delivered every frame, in order"
    );
}

/// Send, wait until the kernel took every frame (`witness`: into every
/// packet socket of the device; None, for AF_XDP: `rx_packets`, which a
/// veth in XDP mode counts when its NAPI poll hands the frame to XDP), wait
/// `d`, delete the capture interface; the instant of the deletion's return.
fn send_then_delete(net: &Net, witness: Option<&Receiver>, d: Duration) -> Instant {
    send_frames(net);
    match witness {
        Some(w) => witness_all(w),
        None => {
            let t = Instant::now();
            while rx_packets(net) < u64::from(N) {
                assert!(t.elapsed() < Duration::from_secs(10), "rx_packets stuck");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    std::thread::sleep(d);
    net.ip(&["link", "del", &net.a]);
    Instant::now()
}

/// Wait for `child` to exit (bounded); its status, stderr and the time
/// from `del` to its exit.
fn finish(mut child: Child, del: Instant) -> (Option<i32>, String, Duration) {
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if del.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running 10 s after its interface was removed");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let lag = del.elapsed();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err, lag)
}

/// Run `one` for runs 0..`runs` on a fresh veth pair each; it returns what
/// was wrong with the run (None: nothing) and the time from the removal (or
/// the link change) to the end of the run, which must stay within
/// [`report_bound`]`(tov_ms)`. Fails with every bad run listed (one green
/// run proves little; one red run is enough).
fn runs(
    what: &str,
    runs: u32,
    tov_ms: u64,
    mut one: impl FnMut(&Net, u32) -> (Option<String>, Duration),
) {
    let (mut bad, mut lags) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let net = Net::new();
        let (wrong, lag) = one(&net, i);
        if let Some(w) = wrong {
            bad.push(format!("run {i} (delay {:?}): {w}", delay(i)));
        }
        if lag > report_bound(tov_ms) {
            bad.push(format!("run {i}: the removal took {lag:?} to report"));
        }
        lags.push(lag);
    }
    let mut sorted = lags.clone();
    sorted.sort();
    eprintln!(
        "{what}: {runs} runs, {} bad; removal reported {:?} (median) to {:?} (max) after `ip link del` returned",
        bad.len(),
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
    assert!(
        bad.is_empty(),
        "{what}: {} bad runs:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// A C program on the capture side: `args` (the interface is net.a),
/// ready when `ready` returns; the frames sent, the interface deleted;
/// the program must exit 1 saying `gone` and print the RESULT line with
/// every frame.
fn program_run(
    net: &Net,
    i: u32,
    args: &[&str],
    xdp: bool,
    gone: &str,
) -> (Option<String>, Duration) {
    let child = net
        .command(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let witness = if xdp {
        // Ready: the XDP program is attached (after the socket is bound
        // and registered in the program's map).
        net.wait_xdp(&net.a);
        None
    } else {
        net.wait_packet_socket();
        Some(net.receiver(&net.a))
    };
    let del = send_then_delete(net, witness.as_ref(), delay(i));
    let (code, err, lag) = finish(child, del);
    let want = format!("RESULT packets={N} drops=0");
    let ok = code == Some(1) && err.contains(gone) && err.contains(&want);
    ((!ok).then(|| format!("exit {code:?}: {err}")), lag)
}

#[test]
fn nrcap_delivers_every_frame_before_reporting_the_removal() {
    let nrcap = bin("nrcap");
    runs("nrcap", RUNS, TOV_MS, |net, i| {
        program_run(net, i, &[&nrcap, "-i", &net.a, "-q"], false, "was removed")
    });
}

/// Read test frames through the C API until a status in `stop` (or all N
/// frames when `stop` is empty), at most 10 s: nr_next_batch +
/// nr_batch_for_each on even runs, nr_next_packet on odd ones. The frames
/// seen in order and the last status.
fn read_c_api(cap: *mut nr_capture, run: u32, stop: &[c_int]) -> (Vec<u32>, c_int) {
    unsafe extern "C" fn count(user: *mut c_void, p: *const nr_packet) -> c_int {
        // SAFETY: user is the &mut Vec<u32> passed below; p is a packet of
        // the batch being walked, valid during the callback.
        let (seen, p) = unsafe { (&mut *(user as *mut Vec<u32>), &*p) };
        // SAFETY: data points to caplen readable bytes while the batch is held.
        let data = unsafe { std::slice::from_raw_parts(p.data, p.caplen as usize) };
        seen.extend(frame_seq(data));
        0
    }
    let ok = nr_status::NR_OK as c_int;
    let t = Instant::now();
    let mut seen: Vec<u32> = Vec::new();
    loop {
        let rc = if run % 2 == 0 {
            let mut b: *mut nr_batch = std::ptr::null_mut();
            // SAFETY: a live handle; b is an out-parameter; the callback
            // gets &mut seen as its user pointer.
            unsafe {
                let rc = nr_next_batch(cap, 200, &mut b);
                if rc == ok {
                    nr_batch_for_each(b, Some(count), (&mut seen as *mut Vec<u32>).cast());
                    nr_batch_release(b);
                }
                rc
            }
        } else {
            let mut p: *const nr_packet = std::ptr::null();
            // SAFETY: a live handle; p is an out-parameter and on NR_OK
            // points to a packet valid until the next call.
            unsafe {
                let rc = nr_next_packet(cap, 200, &mut p);
                if rc == ok {
                    let p = &*p;
                    let data = std::slice::from_raw_parts(p.data, p.caplen as usize);
                    seen.extend(frame_seq(data));
                }
                rc
            }
        };
        let all = seen.len() >= N as usize;
        if stop.contains(&rc) || (stop.is_empty() && all) || t.elapsed() > Duration::from_secs(10) {
            return (seen, rc);
        }
        assert!(
            rc == ok
                || rc == nr_status::NR_TIMEOUT as c_int
                || rc == nr_status::NR_IFACE_DOWN as c_int,
            "unexpected status {rc}"
        );
    }
}

/// Open a capture with the C API's default configuration (60 ms blocks).
fn c_open(ifname: &str) -> *mut nr_capture {
    let ok = nr_status::NR_OK as c_int;
    let mut cfg = MaybeUninit::<nr_capture_config>::uninit();
    let name = CString::new(ifname).unwrap();
    let mut cap: *mut nr_capture = std::ptr::null_mut();
    // SAFETY: cfg has size_of bytes; name is NUL-terminated; cap is an
    // out-parameter.
    unsafe {
        assert_eq!(
            nr_capture_config_init(cfg.as_mut_ptr(), size_of::<nr_capture_config>()),
            ok
        );
        assert_eq!(nr_capture_open(name.as_ptr(), cfg.as_ptr(), &mut cap), ok);
    }
    cap
}

/// The C API in this process: wait for the deletion, then read until the
/// error.
#[test]
fn c_api_delivers_every_frame_before_reporting_the_removal() {
    let gone = nr_status::NR_E_IFACE_GONE as c_int;
    runs("C API", RUNS, TOV_MS, |net, i| {
        let (seen, rc, lag) = net.enter(|| {
            let cap = c_open(&net.a);
            let w = Receiver::open(&net.a);
            let del = send_then_delete(net, Some(&w), delay(i));
            let (seen, rc) = read_c_api(cap, i, &[gone]);
            let lag = del.elapsed();
            // SAFETY: the handle is live and no batch is held.
            unsafe { nr_capture_close(cap) };
            (seen, rc, lag)
        });
        let api = ["nr_next_batch", "nr_next_packet"][i as usize % 2];
        let ok = rc == gone && seen == (0..N).collect::<Vec<_>>();
        let why = format!("{api}: status {rc}, {} of {N} frames in order", seen.len());
        ((!ok).then_some(why), lag)
    });
}

/// A link set down (not removed) while frames sit in the block the kernel
/// is filling: the kernel leaves them there and retires the block on its
/// timer, so the capture hands every one of them out (NR_IFACE_DOWN meanwhile).
#[test]
fn c_api_delivers_every_frame_when_the_link_goes_down() {
    runs("C API, link down", RUNS / 2, TOV_MS, |net, i| {
        let (seen, t) = net.enter(|| {
            let cap = c_open(&net.a);
            let w = Receiver::open(&net.a);
            send_frames(net);
            witness_all(&w);
            std::thread::sleep(delay(i));
            net.ip(&["link", "set", &net.a, "down"]);
            let t = Instant::now();
            let (seen, _) = read_c_api(cap, i, &[]);
            let t = t.elapsed();
            // SAFETY: the handle is live and no batch is held.
            unsafe { nr_capture_close(cap) };
            (seen, t)
        });
        let ok = seen == (0..N).collect::<Vec<_>>();
        (
            (!ok).then(|| format!("{} of {N} frames in order", seen.len())),
            t,
        )
    });
}

#[test]
fn tcpdump_through_the_drop_in_delivers_every_frame_before_the_removal() {
    let lib = prefix().join("lib/netring");
    assert!(
        lib.join("libpcap.so.0.8").exists(),
        "run `make` first: {} is missing",
        lib.display()
    );
    let dir = TempDir::new("removal-frames");
    runs(
        "tcpdump through the drop-in",
        RUNS,
        TCPDUMP_TOV_MS,
        |net, i| {
            let out = dir.path(&format!("run{i}.pcap"));
            let child = net
                .command("env")
                .arg(format!("LD_LIBRARY_PATH={}", lib.display()))
                .args(["tcpdump", "-i", &net.a, "-U", "-Z", "root", "-w"])
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            net.wait_packet_socket();
            let w = net.receiver(&net.a);
            let del = send_then_delete(net, Some(&w), delay(i));
            let (code, err, lag) = finish(child, del);
            let seqs = read_seqs(&out);
            let ok = code == Some(1) && seqs == (0..N).collect::<Vec<_>>();
            let why = format!(
                "exit {code:?}, {} of {N} frames in order: {err}",
                seqs.len()
            );
            ((!ok).then_some(why), lag)
        },
    );
}

#[test]
fn nrxdp_delivers_every_frame_before_reporting_the_removal() {
    let nrxdp = bin("nrxdp");
    runs("nrxdp", RUNS, TOV_MS, |net, i| {
        program_run(
            net,
            i,
            &[&nrxdp, "-i", &net.a, "-Q"],
            true,
            "interface was removed",
        )
    });
}

/// The sequence numbers of the test frames in a pcap file, in file order.
fn read_seqs(path: &std::path::Path) -> Vec<u32> {
    let Ok(mut r) = netring::pcapfile::Reader::open(path) else {
        return Vec::new();
    };
    let mut seqs = Vec::new();
    while let Ok(Some(p)) = r.next_packet() {
        seqs.extend(frame_seq(p.data()));
    }
    seqs
}
