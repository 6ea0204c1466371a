//! Capture options from C: tests/c/test_options.c and the nrfanout, nrcap
//! and nrstats examples, built against this build of the library
//! (netring_testkit::cbuild), driven with real frames on throwaway veth pairs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netring_testkit::cbuild;
use netring_testkit::{Net, OTHER_MAC, frame, spawn_piped};

/// An IPv4/UDP frame of `len` bytes to OTHER_MAC, source port `sport`,
/// destination port `dport`.
fn udp(seq: u32, sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&OTHER_MAC);
    f.extend_from_slice(&[0x02, 0x6e, 0x72, 0, 0, 3]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (len - 14) as u16;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 1, 1,
    ];
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(ip_len - 20).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(len, 0x5a);
    f
}

/// Read the child's stderr until a line containing `what` (or panic after 10 s).
fn wait_line(r: &mut impl BufRead, what: &str) -> String {
    let start = Instant::now();
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).unwrap();
        assert!(n > 0, "stream ended before '{what}'");
        if line.contains(what) {
            return line;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no '{what}'");
    }
}

fn interrupt(child: &Child) {
    // SAFETY: signalling our own child (`ip netns exec` execs the program).
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

fn result_line(text: &str) -> (u64, u64) {
    let l = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in {text}"));
    let mut it = l
        .split_whitespace()
        .skip(1)
        .map(|kv| kv.split_once('=').unwrap().1.parse::<u64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn c_options_filter_fanout_tstamp_direction_profile_in_a_netns() {
    let bin = cbuild::build_c("tests/c/test_options.c");
    let net = Net::new();
    // The C program stays in the root namespace; every capture is opened
    // in the test namespace through nr_capture_config.netns.
    let mut child = Command::new(&bin)
        .args([&net.a, &net.ns])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    wait_line(&mut out, "READY");
    let tx = net.sender(&net.b);
    for i in 0..20u32 {
        tx.send(&udp(
            i,
            1000 + i as u16,
            if i % 2 == 0 { 53 } else { 54 },
            300,
        ));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.stdin.take().unwrap().write_all(b"GO\n").unwrap();
    wait_line(&mut out, "OK");
    assert!(child.wait().unwrap().success());
}

/// Run `nrfanout -n 3 -m MODE` on a fresh veth pair, send `frames`, stop
/// it: each thread's packet count and the RESULT line.
fn nrfanout_three_threads(mode: &str, frames: &[Vec<u8>]) -> (Vec<u64>, (u64, u64)) {
    let bin = cbuild::build_c("c-examples/nrfanout.c");
    let net = Net::new();
    let mut child = spawn_piped(
        net.command(bin.to_str().unwrap())
            .args(["-i", &net.a, "-n", "3", "-m", mode]),
    );
    let mut err = BufReader::new(child.stderr.take().unwrap());
    wait_line(&mut err, "captures on");
    let tx = net.sender(&net.b);
    for f in frames {
        tx.send(f);
    }
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{rest}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let per: Vec<u64> = stdout
        .lines()
        .filter(|l| l.starts_with("thread "))
        .map(|l| {
            l.split_whitespace().nth(2).unwrap()["packets=".len()..]
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(per.len(), 3, "{stdout}");
    (per, result_line(&rest))
}

#[test]
fn nrfanout_splits_traffic_between_threads_and_sums_exactly() {
    let frames: Vec<Vec<u8>> = (0..300u32).map(|i| frame(60, i, OTHER_MAC)).collect();
    let (per, result) = nrfanout_three_threads("lb", &frames);
    assert!(per.iter().all(|&p| p == 100), "round robin over 3: {per:?}");
    assert_eq!(result, (300, 0));
}

/// `nrfanout -m flow` (NR_FANOUT_FLOW): three threads joined exactly
/// once; UDP flows spread over all three, each frame counted once.
#[test]
fn nrfanout_flow_mode_spreads_flows_and_sums_exactly() {
    let frames: Vec<Vec<u8>> = (0..600u32)
        .map(|i| udp(i, 30000 + (i % 60) as u16, 53, 64))
        .collect();
    let (per, result) = nrfanout_three_threads("flow", &frames);
    // 60 flows of 10 frames: each thread has some, whole flows only.
    assert!(
        per.iter().all(|&p| p > 0 && p % 10 == 0),
        "flows over 3 threads: {per:?}"
    );
    assert_eq!(result, (600, 0));
}

#[test]
fn nrcap_bpf_file_direction_and_fanout_options() {
    let bin = cbuild::build_c("c-examples/nrcap.c");
    let net = Net::new();
    // `tcpdump -ddd 'udp dst port 53'`-shaped program (IPv4 only).
    let dir = std::env::temp_dir().join(format!("nrcap-bpf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bpf = dir.join("port53.txt");
    std::fs::write(
        &bpf,
        "8\n40 0 0 12\n21 0 5 2048\n48 0 0 23\n21 0 3 17\n40 0 0 36\n21 0 1 53\n6 0 0 262144\n6 0 0 0\n",
    )
    .unwrap();
    for (args, sends, want) in [
        (vec!["--bpf", bpf.to_str().unwrap()], 20u32, 10u64),
        (vec!["--direction", "out"], 20, 0),
        (
            vec![
                "--direction",
                "in",
                "--fanout",
                "hash:99",
                "--profile",
                "memory-constrained",
            ],
            20,
            20,
        ),
        (vec!["--tstamp", "hw"], 20, 20),
    ] {
        let mut child = net
            .command(bin.to_str().unwrap())
            .args(["-i", &net.a])
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        if args[0] == "--tstamp" {
            let w = wait_line(&mut err, "warning");
            assert!(w.contains("SIOCSHWTSTAMP"), "{w}");
        }
        wait_line(&mut err, "capturing on");
        let tx = net.sender(&net.b);
        for i in 0..sends {
            tx.send(&udp(i, 1000, if i % 2 == 0 { 53 } else { 54 }, 120));
        }
        std::thread::sleep(Duration::from_millis(300));
        interrupt(&child);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "{args:?}: {rest}");
        assert_eq!(result_line(&rest).0, want, "{args:?}: {rest}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nrstats_reports_rates_per_interval() {
    let bin = cbuild::build_c("c-examples/nrstats.c");
    let net = Net::new();
    let child = spawn_piped(
        net.command(bin.to_str().unwrap())
            .args(["-i", &net.a, "-I", "0.5", "-c", "3"]),
    );
    std::thread::sleep(Duration::from_millis(200));
    let tx = net.sender(&net.b);
    for i in 0..200u32 {
        tx.send(&frame(100, i, OTHER_MAC));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("pkts/s=") && l.contains("bytes/s=") && l.contains("drops/s="))
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(result_line(&stderr), (200, 0), "{stdout}");
}
