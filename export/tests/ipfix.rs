//! IPFIX export against a real collector (issue 24, item 4): `nrcap -r
//! FILE --ipfix` (build/bin/nrcap, which runs nrexport) sends a generated
//! capture's flows to nfcapd on 127.0.0.1 inside a
//! network namespace of the test's own; `nfdump -r` on what nfcapd stored
//! shows the same flow records, and per 5-tuple the packets and IP bytes
//! tshark counts in the capture (export/tests/ipfix.py). A collector that
//! is down: export goes on, the send errors are counted and reported.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Ns, have, nrcap, root_for, run, skip, with_capture};

/// nfcapd, stopped (SIGTERM, so it closes its file) on drop.
struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child this test spawned.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn udp_listening(ns: &Ns, port: u16) -> bool {
    let out = ns.cmd("ss", &["-Hunl"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} "))
}

fn need_root_and_tools() -> bool {
    if !root_for("network namespaces") {
        return false;
    }
    for t in ["nfcapd", "nfdump", "tshark", "ss"] {
        if !have(t) {
            skip(&format!("{t} (scripts/deps.sh)"));
            return false;
        }
    }
    true
}

fn sent_records(stderr: &str) -> u64 {
    stderr
        .split("ipfix: ")
        .nth(1)
        .and_then(|s| s.split(" messages, ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no IPFIX record count in: {stderr}"))
}

#[test]
fn nfcapd_stores_what_tshark_counts() {
    if !need_root_and_tools() || nrcap(None, &[]).is_none() {
        return;
    }
    let (d, pcap) = with_capture("ipfix", 50_000, 2_000, 31);
    let store = d.join("nfcapd");
    std::fs::create_dir_all(&store).unwrap();
    let ns = Ns::new("ipfix");
    let port = 4739u16;
    let mut nfcapd = Collector(
        ns.cmd(
            "nfcapd",
            &[
                "-w",
                store.to_str().unwrap(),
                "-p",
                &port.to_string(),
                "-b",
                "127.0.0.1",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let t0 = Instant::now();
    while !udp_listening(&ns, port) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "nfcapd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = nrcap(Some(&ns), &["-r", pcap.to_str().unwrap()])
        .unwrap()
        // 2,000 flows: ~4,000 records in ~180 datagrams, paced (UDP has no
        // backpressure: at full speed they overrun nfcapd's socket buffer).
        .args([
            "--ipfix",
            &format!("127.0.0.1:{port}"),
            "--ipfix-rate",
            "2000",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("send errors") || err.contains(" 0 send errors"),
        "{err}"
    );
    let records = sent_records(&err);
    // Let nfcapd take the last datagrams in, then stop it: it closes its
    // file under its final name.
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the pid of a child this test spawned.
    unsafe { libc::kill(nfcapd.0.id() as i32, libc::SIGTERM) };
    let _ = nfcapd.0.wait();
    let files: Vec<_> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("nfcapd.2")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let check = run(Command::new("python3").args([
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ipfix.py"),
        pcap.to_str().unwrap(),
        files[0].to_str().unwrap(),
        &records.to_string(),
    ]));
    eprintln!("{err}{check}");
    assert!(check.contains("nfdump counts equal tshark's"), "{check}");
}

#[test]
fn a_collector_that_is_down_is_reported_not_fatal() {
    if !need_root_and_tools() {
        return;
    }
    let (_d, pcap) = with_capture("ipfix-down", 20_000, 2_000, 5);
    let ns = Ns::new("down");
    // Nobody listens: the kernel answers ICMP port unreachable, the next
    // send on the connected socket fails with ECONNREFUSED.
    let out = ns
        .cmd(
            env!("CARGO_BIN_EXE_nrexport"),
            &["-r", pcap.to_str().unwrap()],
        )
        .args(["--ipfix", "127.0.0.1:4739", "--max-flows", "100"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("IPFIX sends failed (Connection refused"),
        "{err}"
    );
    let errors: u64 = err
        .split(" send errors")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(errors > 0, "{err}");
}
