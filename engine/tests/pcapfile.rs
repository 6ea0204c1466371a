//! Capture files against the reference tools: files netring writes are
//! read by tcpdump, tshark and capinfos (same count, no complaint); files
//! tcpdump, editcap and tshark write are read by netring byte for byte; a
//! live capture is written straight from ring memory.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Net, OTHER_MAC, TempDir, frame, frame_seq, have_or_skip as have, tcpdump_packets, tool,
};
use netring_engine::pcapfile::{Format, Reader, Writer, WriterConfig};
use netring_engine::{Capture, CaptureConfig, Wait};

/// A path as the `&str` a tool's argument list wants.
fn text(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn test_frames(n: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| frame(60 + (i as usize * 37) % 1455, i, OTHER_MAC))
        .collect()
}

fn read_all(path: &Path) -> Vec<(u64, u32, Vec<u8>)> {
    let mut r = Reader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_batch().unwrap() {
        out.extend(
            b.iter()
                .map(|p| (p.timestamp_ns(), p.wire_len(), p.data().to_vec())),
        );
    }
    out
}

#[test]
fn netring_files_satisfy_tcpdump_tshark_capinfos() {
    let d = TempDir::new("w");
    let frames = test_frames(3000);
    for (format, name) in [
        (Format::Pcap, "a.pcap"),
        (Format::PcapNs, "b.pcap"),
        (Format::Pcapng, "c.pcapng"),
    ] {
        let path = d.path(name);
        let cfg = WriterConfig {
            format,
            if_name: Some("veth-test".into()),
            comment: Some("netring interop test".into()),
            snaplen: 1000,
            ..WriterConfig::default()
        };
        let mut w = Writer::create(&path, &cfg).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.write_raw(
                1_700_000_000_000_000_000 + i as u64 * 1_000_001,
                f,
                f.len() as u32,
            )
            .unwrap();
        }
        w.set_stats(3005, 5);
        w.finish().unwrap();
        let p = text(&path);
        if have("tcpdump") {
            let (out, err) = tool("tcpdump", ["-n", "-r", p]);
            assert_eq!(tcpdump_packets(&out), frames.len(), "{name}");
            assert!(err.is_empty(), "tcpdump on {name}: {err:?}");
            // tcpdump shows the nanoseconds when asked.
            let (out, _) = tool("tcpdump", ["-n", "-tt", "--nano", "-c", "2", "-r", p]);
            let second = out
                .lines()
                .filter(|l| !l.starts_with([' ', '\t']))
                .nth(1)
                .unwrap();
            let want = if format == Format::Pcap {
                "1700000000.001000000"
            } else {
                "1700000000.001000001"
            };
            assert!(second.starts_with(want), "{name}: {second}");
        }
        if have("capinfos") {
            let (out, err) = tool("capinfos", ["-c", "-M", p]);
            assert!(
                out.contains(&format!("Number of packets:   {}", frames.len())),
                "{out}"
            );
            assert!(err.is_empty(), "capinfos on {name}: {err:?}");
        }
        if have("tshark") {
            let (out, err) = tool("tshark", ["-n", "-r", p, "-T", "fields", "-e", "frame.len"]);
            let lens: Vec<usize> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
            assert_eq!(lens, frames.iter().map(|f| f.len()).collect::<Vec<_>>());
            assert!(err.is_empty(), "tshark on {name}: {err:?}");
        }
    }
    if have("capinfos") {
        // The pcapng extras: interface name, section comment, statistics
        // block, nanosecond resolution.
        let p = d.path("c.pcapng");
        let (out, _) = tool("capinfos", [text(&p)]);
        for want in [
            "Name = veth-test",
            "Capture comment:     netring interop test",
            "Number of stat entries = 1",
            "Time ticks per second = 1000000000",
            "Capture length = 1000",
        ] {
            assert!(out.contains(want), "{want} not in {out}");
        }
    }
}

/// Start `tcpdump -w` in the namespace and wait until it listens.
fn start_tcpdump(net: &Net, args: &[&str]) -> std::process::Child {
    let mut child = net
        .command("tcpdump")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "tcpdump exited");
        if line.contains("listening on") {
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

#[test]
fn tcpdump_editcap_tshark_files_read_byte_exact() {
    if !have("tcpdump") {
        return;
    }
    let d = TempDir::new("r");
    let net = Net::new();
    const N: u32 = 500;
    let frames = test_frames(N);
    let pcap = d.path("td.pcap");
    let n_s = N.to_string();
    let mut td = start_tcpdump(
        &net,
        &[
            "-i",
            &net.a,
            "-U",
            "-c",
            &n_s,
            "-w",
            text(&pcap),
            "ether proto 0x88b5",
        ],
    );
    let tx = net.sender(&net.b);
    for f in &frames {
        tx.send(f);
    }
    let start = Instant::now();
    while td.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "tcpdump did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = read_all(&pcap);
    assert_eq!(got.len(), frames.len());
    for (i, (_, wl, data)) in got.iter().enumerate() {
        assert_eq!(data, &frames[i], "frame {i}");
        assert_eq!(*wl as usize, frames[i].len());
        assert_eq!(frame_seq(data), Some(i as u32));
    }
    let r = Reader::open(&pcap).unwrap();
    assert_eq!((r.format(), r.link_type()), (Format::Pcap, 1));

    // tcpdump's conversion to nanosecond pcap.
    let ns = d.path("td-ns.pcap");
    tool(
        "tcpdump",
        [
            "-r",
            text(&pcap),
            "--time-stamp-precision",
            "nano",
            "-w",
            text(&ns),
        ],
    );
    assert_eq!(Reader::open(&ns).unwrap().format(), Format::PcapNs);
    assert_eq!(read_all(&ns), got);

    if have("editcap") {
        let ng = d.path("ed.pcapng");
        tool("editcap", ["-F", "pcapng", text(&pcap), text(&ng)]);
        assert_eq!(Reader::open(&ng).unwrap().format(), Format::Pcapng);
        assert_eq!(read_all(&ng), got);
        // A second interface and section: merge with a nanosecond file.
        let merged = d.path("merged.pcapng");
        tool(
            "mergecap",
            ["-F", "pcapng", "-w", text(&merged), text(&ng), text(&ns)],
        );
        let m = read_all(&merged);
        assert_eq!(m.len(), 2 * got.len());
    }
    if have("tshark") {
        let ts = d.path("ts.pcapng");
        tool(
            "tshark",
            ["-r", text(&pcap), "-F", "pcapng", "-w", text(&ts)],
        );
        assert_eq!(read_all(&ts), got);
    }
}

#[test]
fn live_capture_written_from_ring_memory() {
    let d = TempDir::new("live");
    let net = Net::new();
    const N: u32 = 5000;
    let frames = test_frames(N);
    let path = d.path("live.pcapng");
    let written = net.enter(|| {
        // 8 MiB of ring holds every frame even if the writer falls behind
        // on a loaded machine (this test is about the writer, not drops).
        let cfg = CaptureConfig {
            block_size: 64 << 10,
            block_count: 128,
            block_timeout_ms: 10,
            ..CaptureConfig::default()
        };
        let mut cap = Capture::open(&net.a, &cfg).unwrap();
        let mut w = Writer::create(&path, &WriterConfig::default()).unwrap();
        let tx = common::Sender::open(&net.b);
        std::thread::scope(|s| {
            s.spawn(|| {
                for f in &frames {
                    tx.send(f);
                }
            });
            let start = Instant::now();
            let mut n = 0;
            while n < N as usize && start.elapsed() < Duration::from_secs(20) {
                if let Wait::Ready(b) = cap
                    .next_batch_timeout(Some(Duration::from_millis(50)))
                    .unwrap()
                {
                    n += b.iter().filter(|p| frame_seq(p.data()).is_some()).count();
                    w.write_batch(&b).unwrap();
                }
            }
        });
        let st = cap.stats().unwrap();
        w.set_stats(st.packets + st.drops, st.drops);
        w.finish().unwrap()
    });
    assert!(written.packets >= u64::from(N));
    let got: Vec<Vec<u8>> = read_all(&path)
        .into_iter()
        .map(|(_, _, d)| d)
        .filter(|d| frame_seq(d).is_some())
        .collect();
    assert_eq!(got, frames);
    if have("tcpdump") {
        let (out, err) = tool("tcpdump", ["-n", "-r", text(&path)]);
        assert_eq!(tcpdump_packets(&out) as u64, written.packets);
        assert!(err.is_empty(), "{err:?}");
    }
}

/// (user, system) CPU time of this process.
fn cpu_time() -> (f64, f64) {
    // SAFETY: getrusage fills the struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

fn per_packet(c0: (f64, f64), n: u64) -> String {
    let c = cpu_time();
    let (u, s) = (c.0 - c0.0, c.1 - c0.1);
    format!(
        "{:.0} ns/packet CPU (user {:.0}, sys {:.0})",
        (u + s) * 1e9 / n as f64,
        u * 1e9 / n as f64,
        s * 1e9 / n as f64
    )
}

/// CPU per packet: netring's writer, netring's pcap -> pcapng conversion,
/// and `tcpdump -r -w` on the same file. Run with
/// `cargo test --release -p netring-engine --test pcapfile -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_against_tcpdump() {
    let d = TempDir::new("bench");
    const N: u64 = 2_000_000;
    let small = std::env::var_os("NETRING_BENCH_SMALL").is_some();
    let frames: Vec<Vec<u8>> = if small {
        (0..64).map(|i| frame(64, i, OTHER_MAC)).collect()
    } else {
        test_frames(64)
    };
    let src = d.path("src.pcap");
    for format in [Format::Pcap, Format::Pcapng] {
        let path = if format == Format::Pcap {
            src.clone()
        } else {
            d.path("w.pcapng")
        };
        let cfg = WriterConfig {
            format,
            ..WriterConfig::default()
        };
        let c0 = cpu_time();
        let mut w = Writer::create(&path, &cfg).unwrap();
        for i in 0..N {
            let f = &frames[i as usize % 64];
            w.write_raw(i * 1000, f, f.len() as u32).unwrap();
        }
        let st = w.finish().unwrap();
        println!(
            "netring write {format:?}: {} ({} MB)",
            per_packet(c0, N),
            st.bytes >> 20
        );
    }
    let c0 = cpu_time();
    let mut r = Reader::open(&src).unwrap();
    let mut w = Writer::create(d.path("conv.pcapng"), &WriterConfig::default()).unwrap();
    let mut n = 0;
    while let Some(b) = r.next_batch().unwrap() {
        n += w.write_all(b.iter()).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(n as u64, N);
    println!("netring read pcap + write pcapng: {}", per_packet(c0, N));
    if have("tcpdump") {
        let out = d.path("td.pcap");
        let start = Instant::now();
        let st = Command::new("bash")
            .args([
                "-c",
                &format!(
                    "TIMEFORMAT='%U %S'; time tcpdump -r {} -w {} 2>/dev/null",
                    src.display(),
                    out.display()
                ),
            ])
            .output()
            .unwrap();
        let t = String::from_utf8_lossy(&st.stderr);
        let v: Vec<f64> = t
            .split_whitespace()
            .filter_map(|x| x.parse::<f64>().ok())
            .collect();
        println!(
            "tcpdump -r pcap -w pcap: {:.0} ns/packet CPU (user {:.0}, sys {:.0}; {:?} wall)",
            (v[0] + v[1]) * 1e9 / N as f64,
            v[0] * 1e9 / N as f64,
            v[1] * 1e9 / N as f64,
            start.elapsed()
        );
    }
}
