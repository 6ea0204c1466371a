//! C programs that put frames on the wire, checked byte for byte by a
//! capture at the peer: tests/c/test_inject.c (the injector through the C
//! API, ring and sendmmsg) and the nrbridge example (both directions, then
//! SIGINT). The Rust API's tests are the engine's tests/inject.rs and
//! tests/bridge.rs.

/// The engine tests' harness: netring-testkit plus `collect` and the ring
/// configurations over a `Capture`.
#[path = "../engine/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::{Net, OTHER_MAC, Sender, cbuild, frame};
use netring::{Capture, CaptureConfig};

/// A capture ring for the receiving side; `ignore_outgoing` for the bridge
/// ends, which also send.
fn rx_cfg(ignore_outgoing: bool) -> CaptureConfig {
    CaptureConfig {
        promiscuous: false,
        ignore_outgoing,
        ..common::rx_ring()
    }
}

/// The bridge's B -> A frames carry sequence numbers from here on.
const BA: u32 = 1_000_000;

#[test]
fn c_program_injects_byte_exact_frames() {
    let bin = cbuild::build_c("tests/c/test_inject.c");
    for mode in ["ring", "sendmmsg"] {
        let net = Net::new();
        const N: u32 = 1000;
        let (got, out) = net.enter(|| {
            let mut cap = Capture::open(&net.b, &rx_cfg(false)).unwrap();
            let out = net
                .command(bin.to_str().unwrap())
                .args([net.a.as_str(), &N.to_string(), mode])
                .output()
                .unwrap();
            let got = common::collect(
                &mut cap,
                N as usize,
                Duration::from_millis(150),
                Duration::from_secs(10),
            );
            (got, out)
        });
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("RESULT sent={N} rejected=0 pending=0 failures=0")),
            "{stdout}"
        );
        let want: Vec<Vec<u8>> = (0..N)
            .map(|k| frame(60 + (k as usize * 7) % 1455, k, OTHER_MAC))
            .collect();
        assert_eq!(got.len(), want.len(), "{mode}");
        assert!(got == want, "{mode}: frames differ");
    }
}

#[test]
fn nrbridge_c_example_forwards_both_ways_and_stops_on_sigint() {
    let bin = cbuild::build_c("c-examples/nrbridge.c");
    let net = Net::new();
    let (c, d) = net.second_pair();
    const N: u32 = 300;
    let (at_d, at_b, stderr) = net.enter(|| {
        let mut cap_b = Capture::open(&net.b, &rx_cfg(true)).unwrap();
        let mut cap_d = Capture::open(&d, &rx_cfg(true)).unwrap();
        let mut child = net
            .command(bin.to_str().unwrap())
            .args(["-a", net.a.as_str(), "-b", c.as_str()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("bridging"), "{line}");
        let tx_b = Sender::open(&net.b);
        let tx_d = Sender::open(&d);
        for i in 0..N {
            tx_b.send(&frame(60 + i as usize, i, OTHER_MAC));
            tx_d.send(&frame(1514 - i as usize, BA + i, OTHER_MAC));
        }
        let at_d = common::collect(
            &mut cap_d,
            N as usize,
            Duration::from_millis(200),
            Duration::from_secs(10),
        );
        let at_b = common::collect(
            &mut cap_b,
            N as usize,
            Duration::from_millis(200),
            Duration::from_secs(10),
        );
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "{rest}");
        (at_d, at_b, rest)
    });
    let want_d: Vec<Vec<u8>> = (0..N)
        .map(|i| frame(60 + i as usize, i, OTHER_MAC))
        .collect();
    let want_b: Vec<Vec<u8>> = (0..N)
        .map(|i| frame(1514 - i as usize, BA + i, OTHER_MAC))
        .collect();
    assert!(at_d == want_d, "A->B: {} frames; {stderr}", at_d.len());
    assert!(at_b == want_b, "B->A: {} frames; {stderr}", at_b.len());
    assert!(
        stderr.contains(&format!("RESULT a_to_b={N} b_to_a={N}")),
        "{stderr}"
    );
}
