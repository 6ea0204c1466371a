//! valgrind memcheck over the C test programs (API contract, capture-file
//! round trip, capture and injection on a veth pair), next to their
//! ASan/UBSan runs: no invalid access, no uninitialised read, no definite
//! leak. Skipped (with a note) when valgrind is not installed.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use netring_testkit::cbuild;
use netring_testkit::{Net, OTHER_MAC, frame, output_within, spawn_piped};

#[path = "common/valgrind.rs"]
mod valgrind;
use valgrind::{VALGRIND, plain};

fn valgrind_ok(src: &str, args: &[&str]) {
    if !netring_testkit::have("valgrind") {
        netring_testkit::skip(&format!("valgrind is not installed ({src})"));
        return;
    }
    valgrind::run_ok(&plain(src), args, src);
}

#[test]
fn valgrind_test_api() {
    valgrind_ok("tests/c/test_api.c", &[]);
}

#[test]
fn valgrind_pcapfile() {
    let dir = cbuild::root().join("target/ctests/pcapfile-valgrind");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    valgrind_ok("tests/c/pcapfile.c", &[dir.to_str().unwrap()]);
}

#[test]
fn valgrind_test_capture_on_a_veth_pair() {
    if !netring_testkit::have("valgrind") {
        return;
    }
    const N: u32 = 300;
    let bin = plain("tests/c/test_capture.c");
    let net = Net::new();
    let mut child = spawn_piped(
        net.command("valgrind")
            .args(VALGRIND)
            .arg(&bin)
            .args([net.a.as_str(), &N.to_string()]),
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY");
    let tx = net.sender(&net.b);
    for k in 0..N {
        // The lengths test_capture.c checks (as in c_api.rs).
        let len = if k == 1 {
            1514
        } else {
            60 + (k as usize * 97) % 1455
        };
        tx.send(&frame(len, k, OTHER_MAC));
        // valgrind runs the receiver ~20x slower: keep within its ring.
        if k % 50 == 49 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let done = output_within(child, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{rest}{err}");
    assert!(
        rest.contains(&format!("RESULT packets={N} bad=0 drops=0 failures=0")),
        "{rest}{err}"
    );
}

#[test]
fn valgrind_test_inject_on_a_veth_pair() {
    if !netring_testkit::have("valgrind") {
        return;
    }
    let bin = plain("tests/c/test_inject.c");
    for mode in ["ring", "sendmmsg"] {
        let net = Net::new();
        let out = net
            .command("valgrind")
            .args(VALGRIND)
            .arg(&bin)
            .args([net.a.as_str(), "300", mode])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("failures=0"), "{mode}: {stdout}");
    }
}
