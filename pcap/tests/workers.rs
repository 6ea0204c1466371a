//! Several workers, no edits: unmodified multi-worker tools split one
//! device's traffic through the drop-in, each frame to exactly one worker,
//! both directions of a flow to the same one.
//!
//! The traffic is real UDP flows over a veth pair between two namespaces:
//! an echo server on the capture side, 64 clients (64 source ports) on the
//! peer side, each request carrying its flow's sequence number, which the
//! reply echoes. It flows before the workers start, so the join of each
//! worker happens under traffic.
//!
//! - Two tcpdumps started as zeekctl's `lb_method=pf_ring` starts its
//!   workers (`PCAP_PF_RING_CLUSTER_ID` and
//!   `PCAP_PF_RING_USE_CLUSTER_PER_FLOW`, same id).
//! - Suricata 7 in `--pcap` mode with `threads: 2` (one process opening the
//!   device twice; no variable).
//!
//! The library is the cdylib cargo built with this test (as in
//! pcap_shim.rs), linked as `libpcap.so.0.8` for `LD_LIBRARY_PATH`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netring_testkit::{self as kit, Net, TempDir, enter_ns, require};

const PORT: u16 = 7777;
const FLOWS: usize = 64;
const MAGIC: u32 = 0x6e72_776b;

/// The drop-in as `libpcap.so.0.8` in a directory of its own.
fn dropin_dir() -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let built = deps.join("libpcap.so");
    assert!(built.exists(), "{}: missing", built.display());
    let dir = deps.parent().unwrap().join("pcap-workers-test");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("libpcap.so.0.8");
    if std::fs::read_link(&link).ok().as_deref() != Some(built.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&built, &link).unwrap();
    }
    dir
}

/// A second namespace holding the peer end `b` (the veth pair then crosses
/// namespaces, so IP traffic really goes over it), removed on drop.
struct Peer {
    ns: String,
}

impl Peer {
    fn new(net: &Net) -> Peer {
        let ns = format!("{}p", net.ns);
        kit::run("ip", &["netns", "add", &ns]);
        let p = Peer { ns };
        net.ip(&["link", "set", &net.b, "netns", &p.ns]);
        net.ip(&["addr", "add", "10.99.0.1/24", "dev", &net.a]);
        for args in [
            vec!["addr", "add", "10.99.0.2/24", "dev", &net.b],
            vec!["link", "set", &net.b, "up"],
            vec!["link", "set", "lo", "up"],
        ] {
            let mut full = vec!["-n", p.ns.as_str()];
            full.extend(args);
            kit::run("ip", &full);
        }
        p
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// A frame of the test traffic: (reply?, client port, sequence number).
type Key = (bool, u16, u32);

/// Per client port: (first sequence sent after every worker was ready,
/// last sequence sent).
type Sent = BTreeMap<u16, (Option<u32>, u32)>;

/// The echo traffic: the server on `a`'s side, the clients on the peer's.
struct Traffic {
    stop: Arc<AtomicBool>,
    /// Set by the test once every worker is ready: each client then notes
    /// the first sequence number it sends afterwards.
    ready: Arc<AtomicBool>,
    /// Per client port: (first sequence sent after `ready`, last sent).
    clients: Arc<Mutex<Sent>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Traffic {
    /// Start it at about `pps` requests per second in total.
    fn start(net: &Net, peer: &Peer, pps: u32) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(Mutex::new(BTreeMap::new()));
        let up = Arc::new(AtomicU32::new(0));
        let mut threads = Vec::new();
        {
            let (path, stop, up) = (net.path(), stop.clone(), up.clone());
            threads.push(std::thread::spawn(move || {
                enter_ns(&path);
                let s = UdpSocket::bind(("10.99.0.1", PORT)).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                up.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = s.recv_from(&mut buf) {
                        let _ = s.send_to(&buf[..n], from);
                    }
                }
            }));
        }
        kit::wait_until("echo server", Duration::from_secs(5), || {
            up.load(Ordering::SeqCst) == 1
        });
        {
            let path = format!("/run/netns/{}", peer.ns);
            let (stop, ready, clients) = (stop.clone(), ready.clone(), clients.clone());
            threads.push(std::thread::spawn(move || {
                enter_ns(&path);
                let socks: Vec<UdpSocket> = (0..FLOWS)
                    .map(|_| {
                        let s = UdpSocket::bind("10.99.0.2:0").unwrap();
                        s.connect(("10.99.0.1", PORT)).unwrap();
                        s.set_nonblocking(true).unwrap();
                        s
                    })
                    .collect();
                let ports: Vec<u16> = socks
                    .iter()
                    .map(|s| s.local_addr().unwrap().port())
                    .collect();
                let mut seq = vec![0u32; FLOWS];
                let mut first = vec![None; FLOWS];
                let gap = Duration::from_secs_f64(FLOWS as f64 / f64::from(pps));
                let start = Instant::now();
                let mut round = 0u32;
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let is_ready = ready.load(Ordering::SeqCst);
                    for (i, s) in socks.iter().enumerate() {
                        let mut msg = [0u8; 64];
                        msg[..4].copy_from_slice(&MAGIC.to_be_bytes());
                        msg[4..8].copy_from_slice(&seq[i].to_be_bytes());
                        if s.send(&msg).is_ok() {
                            if is_ready && first[i].is_none() {
                                first[i] = Some(seq[i]);
                            }
                            seq[i] += 1;
                        }
                        while s.recv(&mut buf).is_ok() {}
                    }
                    round += 1;
                    let due = start + gap * round;
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
                let mut c = clients.lock().unwrap();
                for i in 0..FLOWS {
                    c.insert(ports[i], (first[i], seq[i].wrapping_sub(1)));
                }
            }));
        }
        Traffic {
            stop,
            ready,
            clients,
            threads,
        }
    }

    /// Stop it (after letting the last replies cross); per client port:
    /// (first sequence sent after ready, last sequence sent).
    fn stop(mut self) -> Sent {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        self.clients.lock().unwrap().clone()
    }
}

/// The test frames of a pcap file (Ethernet, IPv4, UDP to or from PORT).
fn keys_of(path: &Path) -> Vec<Key> {
    let d = std::fs::read(path).unwrap();
    assert!(d.len() >= 24, "{} is too short", path.display());
    let u32le = |o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
    let be16 = |b: &[u8], o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
    let mut out = Vec::new();
    let mut o = 24;
    while o + 16 <= d.len() {
        let cl = u32le(o + 8) as usize;
        let f = &d[o + 16..o + 16 + cl];
        o += 16 + cl;
        if f.len() < 14 + 20 + 8 + 8 || be16(f, 12) != 0x0800 || f[14 + 9] != 17 {
            continue;
        }
        let l4 = 14 + usize::from(f[14] & 0xf) * 4;
        let (sport, dport) = (be16(f, l4), be16(f, l4 + 2));
        let p = &f[l4 + 8..];
        if p.len() < 8 || u32::from_be_bytes(p[..4].try_into().unwrap()) != MAGIC {
            continue;
        }
        let seq = u32::from_be_bytes(p[4..8].try_into().unwrap());
        if dport == PORT {
            out.push((false, sport, seq));
        } else if sport == PORT {
            out.push((true, dport, seq));
        }
    }
    out
}

/// What the workers wrote against the traffic: no frame twice (in one
/// file or in two), every flow (both directions) in one worker only, and
/// every request sent once every worker was ready, and its reply, in
/// exactly one file. Returns the frames each worker got and the number of
/// frames missing before every worker was ready (the join).
fn check_split(per_worker: &[Vec<Key>], clients: &Sent) -> (Vec<usize>, usize) {
    let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
    let mut flow_owner: BTreeMap<u16, BTreeSet<usize>> = BTreeMap::new();
    for (w, keys) in per_worker.iter().enumerate() {
        for k in keys {
            if let Some(other) = seen.insert(*k, w) {
                panic!("frame {k:?} delivered twice (workers {other} and {w})");
            }
            // While the group grows the kernel moves flows to the new
            // member (as PF_RING does): ownership counts once all are in.
            if clients
                .get(&k.1)
                .and_then(|c| c.0)
                .is_some_and(|first| k.2 >= first)
            {
                flow_owner.entry(k.1).or_default().insert(w);
            }
        }
    }
    for (port, owners) in &flow_owner {
        assert_eq!(
            owners.len(),
            1,
            "flow from port {port} split over workers {owners:?}"
        );
    }
    let mut missing_before = 0;
    for (port, (first, last)) in clients {
        let first = first.expect("every client sent after the workers were ready");
        for seq in first..=*last {
            for reply in [false, true] {
                assert!(
                    seen.contains_key(&(reply, *port, seq)),
                    "port {port} seq {seq} {}: sent after every worker was ready, captured by none",
                    if reply { "reply" } else { "request" }
                );
            }
        }
        // Before: count the holes after the first frame any worker has.
        let start = (0..first).find(|s| seen.contains_key(&(false, *port, *s)));
        if let Some(s) = start {
            for seq in s..first {
                for reply in [false, true] {
                    missing_before += usize::from(!seen.contains_key(&(reply, *port, seq)));
                }
            }
        }
    }
    let counts = per_worker.iter().map(Vec::len).collect();
    (counts, missing_before)
}

/// A tool killed (and reaped) on drop.
struct Proc(
    Option<Child>,
    Option<BufReader<std::process::ChildStderr>>,
    String,
);

impl Proc {
    fn spawn(mut c: Command) -> Proc {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut ch = c.spawn().unwrap();
        let err = ch.stderr.take().map(BufReader::new);
        Proc(Some(ch), err, String::new())
    }

    /// Read stderr until a line contains `what`.
    fn wait_for(&mut self, what: &str) {
        loop {
            let mut l = String::new();
            let n = self.1.as_mut().unwrap().read_line(&mut l).unwrap();
            assert!(n > 0, "exited before '{what}': {}", self.2);
            self.2.push_str(&l);
            if l.contains(what) {
                return;
            }
        }
    }

    /// Signal it and wait (up to 20 s) for its exit; its stderr.
    fn stop(&mut self, sig: i32) -> String {
        let mut ch = self.0.take().unwrap();
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(ch.id() as i32, sig) };
        let start = Instant::now();
        while ch.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "did not stop: {}",
                self.2
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut rest = String::new();
        if let Some(mut e) = self.1.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut rest);
        }
        let st = ch.wait().unwrap();
        let text = format!("{}{rest}", self.2);
        assert!(st.success(), "exit {st}: {text}");
        text
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A command in `net`'s namespace through the drop-in, with only the
/// variables given (none of the drop-in's own).
fn through_dropin(net: &Net, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut c = net.command(program);
    c.args(args).env("LD_LIBRARY_PATH", dropin_dir());
    for v in [
        "NETRING_PCAP_FANOUT",
        "NETRING_PCAP_RING",
        "NETRING_PCAP_ENGINE",
    ] {
        c.env_remove(v);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c
}

/// Two tcpdumps started as zeekctl's lb_pf_ring starts two workers (the
/// same cluster id, PER_FLOW), while the flows already run; several runs,
/// the second worker started after a varied delay.
#[test]
fn zeekctl_pf_ring_workers_split_exactly_once() {
    require!("tcpdump");
    let mut lost = Vec::new();
    for (run, delay_ms) in [0u64, 7, 31, 90].into_iter().enumerate() {
        let net = Net::new();
        let peer = Peer::new(&net);
        let traffic = Traffic::start(&net, &peer, 4000);
        std::thread::sleep(Duration::from_millis(100));
        let dir = TempDir::new("workers");
        let _ = Command::new("chmod").arg("777").arg(&*dir).status();
        let id = (std::process::id() % 200 + 1 + run as u32).to_string();
        let files: Vec<PathBuf> = (0..2).map(|i| dir.path(&format!("w{i}.pcap"))).collect();
        let mut workers = Vec::new();
        for f in &files {
            let mut p = Proc::spawn(through_dropin(
                &net,
                "tcpdump",
                &[
                    "-i",
                    &net.a,
                    "-n",
                    "-U",
                    "--immediate-mode",
                    "-w",
                    f.to_str().unwrap(),
                ],
                &[
                    ("PCAP_PF_RING_CLUSTER_ID", &id),
                    ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW", "1"),
                ],
            ));
            p.wait_for("listening on");
            workers.push(p);
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        traffic.ready.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(700));
        let clients = traffic.stop();
        for w in &mut workers {
            w.stop(libc::SIGINT);
        }
        let per: Vec<Vec<Key>> = files.iter().map(|f| keys_of(f)).collect();
        let (counts, missing) = check_split(&per, &clients);
        let total: usize = counts.iter().sum();
        for c in &counts {
            assert!(*c * 10 > total * 2, "unbalanced: {counts:?}");
        }
        eprintln!(
            "run {run} (second worker after {delay_ms} ms): {counts:?}, {missing} missing at the join"
        );
        lost.push(missing);
    }
    eprintln!("frames missing at the joins: {lost:?}");
}

/// Per-thread decoder packets, flow counts and wrong-thread packets from
/// Suricata's last stats record (eve.json, `threads: yes`).
fn suricata_threads(eve: &Path) -> Vec<(String, u64, u64, u64, u64)> {
    let text = std::fs::read_to_string(eve).unwrap();
    let last = text
        .lines()
        .rfind(|l| l.contains("\"event_type\":\"stats\""))
        .expect("a stats record in eve.json");
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    let threads = v["stats"]["threads"].as_object().expect("per-thread stats");
    threads
        .iter()
        .filter(|(name, t)| name.starts_with('W') && t["decoder"]["pkts"].is_u64())
        .map(|(name, t)| {
            let n = |a: &str, b: &str| t[a][b].as_u64().unwrap_or(0);
            (
                name.clone(),
                n("decoder", "pkts"),
                n("capture", "kernel_drops"),
                n("flow", "udp"),
                n("flow", "wrong_thread"),
            )
        })
        .collect()
}

/// Suricata 7, `--pcap` mode, `threads: 2`, through the drop-in, no
/// variable: both threads used, counts exact, every flow on one thread.
#[test]
fn suricata_pcap_threads_split_exactly_once() {
    require!("suricata");
    let net = Net::new();
    let peer = Peer::new(&net);
    let traffic = Traffic::start(&net, &peer, 4000);
    std::thread::sleep(Duration::from_millis(100));
    let dir = TempDir::new("suricata");
    let conf = dir.path("suricata.yaml");
    std::fs::write(
        &conf,
        "%YAML 1.1\n---\n\
         outputs:\n  - eve-log:\n      enabled: yes\n      filename: eve.json\n      types:\n        - stats:\n            threads: yes\n\
         stats:\n  enabled: yes\n  interval: 1\n\
         logging:\n  outputs:\n    - console:\n        enabled: yes\n",
    )
    .unwrap();
    let dev = format!("pcap.0.interface={}", net.a);
    let mut s = Proc::spawn(through_dropin(
        &net,
        "suricata",
        &[
            "-c",
            conf.to_str().unwrap(),
            "-l",
            dir.to_str().unwrap(),
            "-k",
            "none",
            "--pcap",
            "--runmode",
            "workers",
            "--set",
            &dev,
            "--set",
            "pcap.0.threads=2",
            "-S",
            "/dev/null",
        ],
        &[],
    ));
    s.wait_for("threads created");
    std::thread::sleep(Duration::from_millis(300));
    traffic.ready.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let clients = traffic.stop();
    std::thread::sleep(Duration::from_millis(1200));
    let log = s.stop(libc::SIGTERM);
    let threads = suricata_threads(&dir.path("eve.json"));
    assert_eq!(threads.len(), 2, "{threads:?}\n{log}");
    let total: u64 = threads.iter().map(|t| t.1).sum();
    let sent: u64 = clients.values().map(|(_, last)| u64::from(*last) + 1).sum();
    eprintln!("suricata threads {threads:?}; {sent} requests sent");
    for t in &threads {
        assert_eq!(t.2, 0, "kernel drops on {}", t.0);
        assert_eq!(t.4, 0, "packets on the wrong thread on {}", t.0);
        assert!(
            t.1 * 100 >= total * 40 && t.1 * 100 <= total * 60,
            "thread {} has {} of {total} packets",
            t.0,
            t.1
        );
    }
    let flows: u64 = threads.iter().map(|t| t.3).sum();
    assert_eq!(flows, FLOWS as u64, "each flow made by one thread");
}
