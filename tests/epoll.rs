//! c-examples/nrepoll.c (one thread, one epoll set: capture + injector +
//! timerfd + signalfd, all non-blocking) on a veth pair: it captures
//! exactly what an independent sender sent, byte for byte, plus exactly
//! what it injected itself, and loses nothing when a shaping qdisc pushes
//! back on the injector.

use std::collections::BTreeMap;

use netring_testkit::cbuild;
use netring_testkit::{Net, output_of, spawn_piped};

/// FNV-1a 32, as nrepoll prints it.
fn fnv(d: &[u8]) -> u32 {
    d.iter().fold(2166136261u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    })
}

/// A UDP frame 198.18.0.1:1111 > 198.18.0.2:9 with `seq` first in the
/// payload, `len` bytes in all.
fn external(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![
        0x02, 0xcb, 0, 0, 0, 0xff, 0x02, 0x6e, 0x72, 0, 0, 0x07, 0x08, 0x00,
    ];
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
    f.extend_from_slice(&1111u16.to_be_bytes());
    f.extend_from_slice(&9u16.to_be_bytes());
    f.extend_from_slice(&(ip_len - 20).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&seq.to_be_bytes());
    while f.len() < len {
        f.push((f.len() as u32).wrapping_mul(13).wrapping_add(seq) as u8);
    }
    f
}

/// The frame nrepoll injects with sequence number `seq` (build_frame()).
fn own(seq: u32) -> Vec<u8> {
    let mut f = vec![
        0x02, 0xcb, 0x00, 0x00, 0x00, 0xff, 0x02, 0x6e, 0x72, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x2e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 198, 18, 0, 1, 198, 18,
        0, 2, 0x08, 0xae, 0x00, 0x09, 0x00, 0x1a, 0x00, 0x00,
    ];
    f.extend_from_slice(&seq.to_be_bytes());
    for i in 4..18u32 {
        f.push(seq.wrapping_add(i) as u8);
    }
    f
}

/// nrepoll in `net`, capturing on a and injecting `own` frames on b,
/// `per_tick` per 10 ms tick (-b, -t 10).
fn nrepoll_cmd(net: &Net, own: u32, per_tick: u32) -> std::process::Command {
    let mut cmd = net.command(&nrepoll());
    cmd.args(["-i", &net.a, "-o", &net.b])
        .args(["-n", &own.to_string(), "-b", &per_tick.to_string()])
        .args(["-t", "10"]);
    cmd
}

/// nrepoll built with AddressSanitizer and UBSan (once per test binary).
fn nrepoll() -> String {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        cbuild::build_c("c-examples/nrepoll.c")
            .to_str()
            .unwrap()
            .to_owned()
    })
    .clone()
}

fn kv(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

struct Run {
    result: BTreeMap<String, String>,
    /// (sport, seq) -> (len, fnv) per captured frame, and how often.
    rx: BTreeMap<(u16, u32), Vec<(usize, u32)>>,
}

fn parse_output(out: &str) -> Run {
    let mut rx: BTreeMap<(u16, u32), Vec<(usize, u32)>> = BTreeMap::new();
    let mut result = None;
    for line in out.lines() {
        if line.starts_with("RESULT ") {
            result = Some(kv(line));
        } else if line.starts_with("rx ") {
            let m = kv(line);
            rx.entry((m["sport"].parse().unwrap(), m["seq"].parse().unwrap()))
                .or_default()
                .push((
                    m["len"].parse().unwrap(),
                    u32::from_str_radix(&m["fnv"], 16).unwrap(),
                ));
        }
    }
    Run {
        result: result.unwrap_or_else(|| panic!("no RESULT line:\n{out}")),
        rx,
    }
}

fn check_own(run: &Run, n: u32) {
    for seq in 0..n {
        let f = own(seq);
        assert_eq!(
            run.rx.get(&(2222, seq)),
            Some(&vec![(f.len(), fnv(&f))]),
            "own frame {seq}: captured once, byte for byte"
        );
    }
}

#[test]
fn nrepoll_serves_capture_injector_and_timer_on_one_thread() {
    let net = Net::new();
    const OWN: u32 = 2000;
    const EXT: u32 = 500;
    let child =
        spawn_piped(nrepoll_cmd(&net, OWN, 200).args(["-c", &(OWN + EXT).to_string(), "-T", "10"]));
    net.wait_packet_socket();
    let tx = net.sender(&net.b);
    let sent: Vec<Vec<u8>> = (0..EXT)
        .map(|k| external(k, 60 + (k as usize * 7) % 1400))
        .collect();
    for f in &sent {
        tx.send(f);
    }
    let (ok, out, err) = output_of(child);
    assert!(ok, "nrepoll failed: {err}");
    let run = parse_output(&out);
    let r = &run.result;
    assert_eq!(r["captured"], (OWN + EXT).to_string(), "{r:?} {err}");
    assert_eq!(
        (r["own"].as_str(), r["other"].as_str()),
        (OWN.to_string().as_str(), EXT.to_string().as_str())
    );
    assert_eq!(
        (r["injected"].as_str(), r["drops"].as_str()),
        (OWN.to_string().as_str(), "0")
    );
    // 2000 frames at 200 per 10 ms tick: the timer ran at least 10 times.
    assert!(r["ticks"].parse::<u64>().unwrap() >= 10, "{r:?}");
    for (k, f) in sent.iter().enumerate() {
        assert_eq!(
            run.rx.get(&(1111, k as u32)),
            Some(&vec![(f.len(), fnv(f))]),
            "external frame {k}: captured once, byte for byte"
        );
    }
    check_own(&run, OWN);
    assert_eq!(run.rx.len() as u32, OWN + EXT, "nothing else captured");
}

#[test]
fn nrepoll_injector_loses_nothing_under_backpressure() {
    let net = Net::new();
    // A shaper with a tiny queue in front of the injector: sends fail with
    // ENOBUFS most of the time, the injector's 64 slots fill up, and the
    // loop must wait for the fd (or the next tick) and retry.
    net.ip(&["link", "set", &net.b, "down"]);
    net.shape(&net.b, "4mbit", "4k", "6k");
    net.ip(&["link", "set", &net.b, "up"]);
    const OWN: u32 = 3000;
    let child = spawn_piped(nrepoll_cmd(&net, OWN, 500).args(["-T", "10"]));
    let (ok, out, err) = output_of(child);
    assert!(ok, "nrepoll failed: {err}");
    let run = parse_output(&out);
    let r = &run.result;
    assert_eq!(
        (r["captured"].as_str(), r["injected"].as_str()),
        (OWN.to_string().as_str(), OWN.to_string().as_str()),
        "{r:?} {err}"
    );
    assert_eq!(r["drops"], "0");
    assert!(
        r["waits"].parse::<u64>().unwrap() > 0,
        "the injector was never full: {r:?}"
    );
    check_own(&run, OWN);
    assert_eq!(run.rx.len() as u32, OWN);
}
