//! The libpcap drop-in (`libpcap.so.0.8` of this crate) under unmodified
//! Debian tcpdump, dumpcap and tshark, compared with the same tools on the
//! real libpcap, on throwaway namespaces with veth pairs.
//!
//! The library is the one `cargo test` just built for these tests (the
//! crate's cdylib next to this test binary, in the same profile), linked as
//! `libpcap.so.0.8` into a directory of its own for `LD_LIBRARY_PATH`:
//! never an older `make` install. Every test that needs root or a tool
//! skips with a message when it is absent (and fails under `make test`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use netring_testkit::{self as common, Net, frame, frame_seq, have, require};

const SYSTEM_LIBPCAP: &str = "/usr/lib/x86_64-linux-gnu/libpcap.so.0.8";
const BCAST: [u8; 6] = [0xff; 6];

/// This crate's directory (its C test programs are under tests/c).
fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory holding the drop-in as `libpcap.so.0.8`: a link to the
/// cdylib cargo built with this test (target/PROFILE/deps/libpcap.so).
fn shim_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let deps = exe.parent().unwrap();
        let built = deps.join("libpcap.so");
        assert!(
            built.exists(),
            "{}: missing (cargo builds the cdylib with the tests of netring-pcap)",
            built.display()
        );
        let dir = deps.parent().unwrap().join("pcap-shim-test");
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("libpcap.so.0.8");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&built, &link).unwrap();
        dir
    })
    .clone()
}

fn shim_lib() -> PathBuf {
    shim_dir().join("libpcap.so.0.8")
}

/// Compile `src` (a C program of the repository) against the system's
/// libpcap headers as `tmp(name)`: the same source then runs through the
/// shim or the real libpcap. None (skipped) without cc or libpcap-dev.
fn libpcap_program(name: &str, src: &str) -> Option<Tmp> {
    if !common::have_or_skip("cc") {
        return None;
    }
    if !Path::new("/usr/include/pcap/pcap.h").exists() {
        common::skip("libpcap-dev is not installed");
        return None;
    }
    let exe = tmp(name);
    let st = Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(crate_dir().join(src))
        .arg("-lpcap")
        .status()
        .unwrap();
    assert!(st.success(), "cc {src} -lpcap failed");
    Some(exe)
}

/// A tool run inside `net`, through the shim (`shim`) or the real libpcap.
fn tool(net: Option<&Net>, shim: bool, program: &str, args: &[&str]) -> Command {
    let mut c = match net {
        Some(n) => n.command(program),
        None => {
            let mut c = Command::new(program);
            c.stdin(Stdio::null());
            c
        }
    };
    c.args(args);
    if shim {
        c.env("LD_LIBRARY_PATH", shim_dir());
    } else {
        c.env_remove("LD_LIBRARY_PATH");
    }
    c.env_remove("NETRING_PCAP_FANOUT")
        .env_remove("NETRING_PCAP_RING")
        .env_remove("NETRING_PCAP_ENGINE");
    c
}

fn output(mut c: Command) -> Output {
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The same stdout, stderr and exit status from the drop-in (`ours`) and
/// the real libpcap (`real`).
#[track_caller]
fn assert_same_output(ours: &Output, real: &Output, what: &str) {
    assert_eq!(
        (text(&ours.stdout), text(&ours.stderr), ours.status.code()),
        (text(&real.stdout), text(&real.stderr), real.status.code()),
        "{what}"
    );
}

/// A program's output (its stdout or stderr) says `what`.
#[track_caller]
fn assert_says(out: &[u8], what: &str) {
    let out = text(out);
    assert!(out.contains(what), "{out}");
}

/// tests/c/cancel.c succeeded and cancelled all its `n` threads.
#[track_caller]
fn assert_cancelled(out: &Output, n: u32, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout).trim(),
        format!("cancelled {n} of {n}"),
        "{what}"
    );
}

/// Wait until both `procs` are bound to net.a and say they listen.
fn wait_listening(net: &Net, procs: &mut [Proc]) {
    net.wait_bound(&net.a, 2);
    for p in procs {
        p.wait_listening();
    }
}

/// A child process killed (and reaped) on drop, so no tool outlives a
/// failed test.
struct Proc {
    child: Option<Child>,
    err: Option<BufReader<std::process::ChildStderr>>,
    err_text: String,
}

impl Proc {
    fn spawn(mut c: Command) -> Proc {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        Proc {
            child: Some(c.spawn().unwrap()),
            err: None,
            err_text: String::new(),
        }
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Read stderr until tcpdump says "listening on" (activated, filter
    /// set, fanout group joined).
    fn wait_listening(&mut self) {
        if self.err.is_none() {
            let e = self.child.as_mut().unwrap().stderr.take().unwrap();
            self.err = Some(BufReader::new(e));
        }
        loop {
            let mut l = String::new();
            let n = self.err.as_mut().unwrap().read_line(&mut l).unwrap();
            assert!(n > 0, "exited before listening: {}", self.err_text);
            self.err_text.push_str(&l);
            if l.contains("listening on") {
                return;
            }
        }
    }

    /// Wait up to `limit`; None when it did not exit (it is killed on drop).
    /// Wait up to `limit` for `what` (e.g. "tcpdump -c") to exit, which
    /// it must, successfully.
    #[track_caller]
    fn finish(&mut self, limit: Duration, what: &str) -> Output {
        let out = self
            .wait(limit)
            .unwrap_or_else(|| panic!("{what} did not stop within {limit:?}"));
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        out
    }

    fn wait(&mut self, limit: Duration) -> Option<Output> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.child.as_mut().unwrap().try_wait().unwrap().is_some() {
                let mut out = self.child.take().unwrap().wait_with_output().unwrap();
                if let Some(mut e) = self.err.take() {
                    let mut rest = String::new();
                    let _ = std::io::Read::read_to_string(&mut e, &mut rest);
                    out.stderr = format!("{}{rest}", self.err_text).into_bytes();
                }
                return Some(out);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The records of a pcap file: (header fields, [(caplen, len, data)]).
#[allow(clippy::type_complexity)]
fn read_pcap(path: &Path) -> ((u32, u16, u16, u32, u32), Vec<(u32, u32, Vec<u8>)>) {
    let d = std::fs::read(path).unwrap();
    assert!(d.len() >= 24, "{} is too short", path.display());
    let u32_at = |o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
    let u16_at = |o: usize| u16::from_le_bytes(d[o..o + 2].try_into().unwrap());
    let hdr = (u32_at(0), u16_at(4), u16_at(6), u32_at(16), u32_at(20));
    let mut recs = Vec::new();
    let mut o = 24;
    while o + 16 <= d.len() {
        let (cl, len) = (u32_at(o + 8), u32_at(o + 12));
        let data = d[o + 16..o + 16 + cl as usize].to_vec();
        recs.push((cl, len, data));
        o += 16 + cl as usize;
    }
    assert_eq!(o, d.len(), "trailing bytes in {}", path.display());
    (hdr, recs)
}

/// A scratch file in a directory of its own (tcpdump drops to user
/// tcpdump after opening the device, so the directory is world-writable);
/// the directory and everything in it (rotated siblings included) is
/// removed on drop, panics included.
struct Tmp {
    dir: PathBuf,
    path: PathBuf,
}

impl std::ops::Deref for Tmp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for Tmp {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl AsRef<Path> for Tmp {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tmp(name: &str) -> Tmp {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nr-pcap-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _ = Command::new("chmod").args(["777"]).arg(&dir).status();
    Tmp {
        path: dir.join(name),
        dir,
    }
}

fn send_frames(net: &Net, seqs: impl IntoIterator<Item = u32>, alt_type: impl Fn(u32) -> bool) {
    let s = net.sender(&net.b);
    for i in seqs {
        let mut f = frame(60, i, BCAST);
        if alt_type(i) {
            f[13] = 0xb6;
        }
        s.send(&f);
    }
}

/// Send `frames` from net.b.
fn send_all(net: &Net, frames: &[Vec<u8>]) {
    let s = net.sender(&net.b);
    for f in frames {
        s.send(f);
    }
}

// ---------------------------------------------------------------- library

#[test]
fn exports_equal_system_libpcap() {
    if !Path::new(SYSTEM_LIBPCAP).exists() || !have("nm") {
        common::skip("no system libpcap or nm");
        return;
    }
    let syms = |p: &Path| {
        let o = Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(p)
            .output()
            .unwrap();
        assert!(o.status.success());
        text(&o.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3).then(|| format!("{} {}", f[1], f[2]))
            })
            .collect::<BTreeSet<String>>()
    };
    let ours = syms(&shim_lib());
    let theirs = syms(Path::new(SYSTEM_LIBPCAP));
    assert!(ours.len() > 90, "{ours:?}");
    assert!(!ours.iter().any(|s| s.contains(" nr_")), "{ours:?}");
    assert_eq!(ours, theirs, "export lists differ (type letter and name)");
}

#[test]
fn soname_is_debians() {
    if !have("readelf") {
        common::skip("no readelf");
        return;
    }
    let o = Command::new("readelf")
        .arg("-d")
        .arg(shim_lib())
        .output()
        .unwrap();
    assert_says(&o.stdout, "Library soname: [libpcap.so.0.8]");
}

#[test]
fn tcpdump_loads_the_shim() {
    require!("tcpdump");
    let o = output(tool(None, true, "tcpdump", &["--version"]));
    assert_says(&o.stdout, "netring engine");
}

// ---------------------------------------------------------------- same output

#[test]
fn listings_and_programs_identical() {
    require!("tcpdump");
    let net = Net::new();
    let a = net.a.as_str();
    let data = netring_testkit::root().join("tests/data/tcpdump.pcap");
    let data = data.to_str().unwrap();
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["-D"],
        vec!["-L", "-i", a],
        vec!["-J", "-i", a],
        vec!["-L", "-i", "any"],
        vec!["-J", "-i", "any"],
    ];
    // Time stamp types: accepted or refused (with libpcap's warning) as
    // the device's list says.
    for j in ["host", "host_lowprec", "adapter", "adapter_unsynced"] {
        cases.push(vec!["-j", j, "-d", "-i", a]);
        cases.push(vec!["-j", j, "-d", "-i", "any"]);
    }
    let exprs = [
        "",
        "tcp port 80",
        "vlan 100",
        "vlan 100 and udp",
        "ether proto 0x88b5",
        "ip and not net 10.0.0.0/8",
        "icmp or arp",
        "ip6 and tcp[tcpflags] & tcp-syn != 0",
        "greater 100",
    ];
    for e in exprs {
        for d in ["-d", "-dd", "-ddd"] {
            cases.push(vec![d, "-i", a, e]);
            cases.push(vec![d, "-i", "any", e]);
            cases.push(vec![d, "-r", data, e]);
        }
    }
    for args in &cases {
        let ours = output(tool(Some(&net), true, "tcpdump", args));
        let real = output(tool(Some(&net), false, "tcpdump", args));
        assert_same_output(&ours, &real, &format!("tcpdump {args:?}"));
    }
}

#[test]
fn read_files_identical() {
    require!("tcpdump");
    let mut files: Vec<PathBuf> = std::fs::read_dir(netring_testkit::root().join("tests/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        let f = f.to_str().unwrap();
        for opts in [
            &["-nn"][..],
            &["-nn", "-v", "-xx"],
            &["-e", "-tttt"],
            &["-nn", "-c", "3", "udp or arp"],
        ] {
            let mut args = vec!["-r", f];
            args.extend_from_slice(opts);
            let ours = output(tool(None, true, "tcpdump", &args));
            let real = output(tool(None, false, "tcpdump", &args));
            assert_eq!(
                (text(&ours.stdout), text(&ours.stderr)),
                (text(&real.stdout), text(&real.stderr)),
                "tcpdump {args:?}"
            );
        }
        // Rewritten through the shim: byte-exact with the real library's.
        let (w1, w2) = (tmp("shim-w.pcap"), tmp("real-w.pcap"));
        for (shim, w) in [(true, &w1), (false, &w2)] {
            let o = output(tool(
                None,
                shim,
                "tcpdump",
                &["-r", f, "-w", w.to_str().unwrap()],
            ));
            assert!(o.status.success(), "{}", text(&o.stderr));
        }
        assert_eq!(
            std::fs::read(&w1).unwrap(),
            std::fs::read(&w2).unwrap(),
            "{f}"
        );
    }
}

// ---------------------------------------------------------------- live

/// `tcpdump -c K -w f` while N > K frames arrive (mixed with frames the
/// filter rejects): exactly the first K matching frames, byte for byte,
/// libpcap's file header and statistics lines.
#[test]
fn live_count_exact_with_filter() {
    require!("tcpdump");
    let net = Net::new();
    let f = tmp("live.pcap");
    let (k, n) = (7u32, 30u32);
    let mut td = Proc::spawn(tool(
        Some(&net),
        true,
        "tcpdump",
        &[
            "-i",
            &net.a,
            "-c",
            &k.to_string(),
            "-w",
            f.to_str().unwrap(),
            "ether proto 0x88b5",
        ],
    ));
    net.wait_bound(&net.a, 1);
    td.wait_listening();
    // Odd sequence numbers carry another EtherType: the filter drops them.
    send_frames(&net, 0..n, |i| i % 2 == 1);
    let out = td.finish(Duration::from_secs(10), "tcpdump -c");
    let err = text(&out.stderr);
    let (hdr, recs) = read_pcap(&f);
    assert_eq!(hdr, (0xa1b2_c3d4, 2, 4, 262_144, 1), "file header");
    assert_eq!(recs.len(), k as usize, "records");
    for (j, (cl, len, data)) in recs.iter().enumerate() {
        let want = frame(60, 2 * j as u32, BCAST);
        assert_eq!((*cl, *len), (60, 60));
        assert_eq!(data, &want, "record {j}");
    }
    assert!(err.contains(&format!("\n{k} packets captured\n")), "{err}");
    assert!(
        err.contains(&format!("\n{} packets received by filter\n", n / 2)),
        "{err}"
    );
    assert!(err.contains("\n0 packets dropped by kernel\n"), "{err}");
    // The real tools read the file the same way.
    let o = output(tool(
        None,
        false,
        "tcpdump",
        &["-r", f.to_str().unwrap(), "-nn"],
    ));
    let lines = text(&o.stdout);
    let summaries = lines.lines().filter(|l| !l.starts_with('\t')).count();
    assert_eq!(summaries, k as usize, "{lines}");
}

/// Frames that reached the ring before pcap_setfilter are filtered too;
/// dispatch(cnt=1) and next_ex lose nothing.
#[test]
fn frames_before_setfilter_are_filtered() {
    let Some(exe) = libpcap_program("prefilter", "tests/c/prefilter.c") else {
        return;
    };
    let net = Net::new();
    let mut c = tool(
        Some(&net),
        true,
        exe.to_str().unwrap(),
        &[&net.a, "ether proto 0x88b5"],
    );
    c.stdin(Stdio::piped());
    let mut child = Proc::spawn(c);
    let ch = child.child.as_mut().unwrap();
    let mut stdin = ch.stdin.take().unwrap();
    let mut lines = BufReader::new(ch.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    // Ten frames land in the ring with no filter, half of them not matching.
    send_frames(&net, 0..10, |i| i % 2 == 1);
    writeln!(stdin, "go").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "filtered");
    send_frames(&net, 10..20, |i| i % 2 == 1);
    let mut got = Vec::new();
    let mut stats = String::new();
    for l in lines {
        let l = l.unwrap();
        if l.starts_with("stats") {
            stats = l;
            break;
        }
        got.push(l);
    }
    let want: Vec<String> = (0..20)
        .filter(|i| i % 2 == 0)
        .map(|i| format!("88b5 {i} 60 60"))
        .collect();
    assert_eq!(got, want);
    // ps_recv: the 10 frames before the filter and the 5 it let through.
    assert_eq!(stats, "stats 15 0");
    child.finish(Duration::from_secs(5), "the test program");
}

/// SIGINT with no traffic: tcpdump exits at once with its statistics.
#[test]
fn sigint_without_traffic_exits_fast() {
    require!("tcpdump");
    let net = Net::new();
    let f = tmp("sigint.pcap");
    let mut td = Proc::spawn(tool(
        Some(&net),
        true,
        "tcpdump",
        &["-i", &net.a, "-w", f.to_str().unwrap()],
    ));
    net.wait_bound(&net.a, 1);
    td.wait_listening();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    td.signal(libc::SIGINT);
    let out = td
        .wait(Duration::from_secs(5))
        .expect("tcpdump ignored SIGINT");
    let took = t.elapsed();
    let err = text(&out.stderr);
    assert!(took < Duration::from_millis(200), "exit took {took:?}");
    assert!(err.contains("\n0 packets captured\n"), "{err}");
    assert!(err.contains("0 packets dropped by kernel"), "{err}");
}

/// dumpcap selects and dispatches one packet at a time; tshark reads
/// dumpcap's pipe: both stop at N, promptly.
#[test]
fn dumpcap_and_tshark_count() {
    require!("dumpcap", "tshark", "editcap");
    let net = Net::new();
    let f = tmp("dumpcap.pcapng");
    let n = 9;
    let mut dc = Proc::spawn(tool(
        Some(&net),
        true,
        "dumpcap",
        &[
            "-i",
            &net.a,
            "-c",
            &n.to_string(),
            "-w",
            f.to_str().unwrap(),
        ],
    ));
    net.wait_bound(&net.a, 1);
    send_frames(&net, 0..20, |_| false);
    dc.finish(Duration::from_secs(5), "dumpcap -c");
    let conv = tmp("dumpcap.pcap");
    common::run(
        "editcap",
        &["-F", "pcap", f.to_str().unwrap(), conv.to_str().unwrap()],
    );
    let (_, recs) = read_pcap(&conv);
    let seqs: Vec<u32> = recs.iter().filter_map(|r| frame_seq(&r.2)).collect();
    assert_eq!(seqs, (0..n).collect::<Vec<u32>>());
    for (cl, len, data) in &recs {
        assert_eq!((*cl, *len), (60, 60));
        assert_eq!(data, &frame(60, frame_seq(data).unwrap(), BCAST));
    }

    let mut ts = Proc::spawn(tool(
        Some(&net),
        true,
        "tshark",
        &["-i", &net.a, "-c", "5", "-l"],
    ));
    // tshark's dumpcap child opens the capture.
    net.wait_bound(&net.a, 1);
    send_frames(&net, 0..8, |_| false);
    let out = ts.finish(Duration::from_secs(10), "tshark -c");
    assert_eq!(
        text(&out.stdout).lines().count(),
        5,
        "{}",
        text(&out.stdout)
    );
}

/// Two tcpdumps in one fanout group (NETRING_PCAP_FANOUT): every frame is
/// seen by exactly one of them.
#[test]
fn fanout_group_sees_each_frame_once() {
    require!("tcpdump");
    let net = Net::new();
    let files = [tmp("fan1.pcap"), tmp("fan2.pcap")];
    let group = (std::process::id() % 60000 + 1).to_string();
    let mut procs: Vec<Proc> = files
        .iter()
        .map(|f| {
            let mut c = tool(
                Some(&net),
                true,
                "tcpdump",
                &[
                    "-i",
                    &net.a,
                    "--immediate-mode",
                    "-U",
                    "-w",
                    f.to_str().unwrap(),
                ],
            );
            c.env("NETRING_PCAP_FANOUT", format!("lb:{group}"));
            Proc::spawn(c)
        })
        .collect();
    wait_listening(&net, &mut procs);
    let n = 200u32;
    send_frames(&net, 0..n, |_| false);
    std::thread::sleep(Duration::from_millis(300));
    let mut all = Vec::new();
    for (p, f) in procs.iter_mut().zip(&files) {
        p.signal(libc::SIGINT);
        p.finish(Duration::from_secs(5), "tcpdump after SIGINT");
        let (_, recs) = read_pcap(f);
        assert!(
            !recs.is_empty(),
            "one member saw nothing: not load balanced"
        );
        all.extend(recs.iter().filter_map(|r| frame_seq(&r.2)));
    }
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<u32>>(), "each frame exactly once");
}

/// A bad environment value is an activate error naming the variable.
#[test]
fn bad_environment_fails_activation() {
    require!("tcpdump");
    let net = Net::new();
    for (var, val) in [
        ("NETRING_PCAP_FANOUT", "hash"),
        ("NETRING_PCAP_RING", "12x"),
        ("NETRING_PCAP_ENGINE", "warp"),
        ("NETRING_PCAP_BUSY_POLL", "soon"),
    ] {
        let mut c = tool(Some(&net), true, "tcpdump", &["-i", &net.a, "-c", "1"]);
        c.env(var, val);
        let o = output(c);
        assert!(!o.status.success());
        let err = text(&o.stderr);
        assert!(err.contains(&format!("{var}='{val}'")), "{err}");
    }
    // Entered with setns only (nsenter, no private /sys): the interface is
    // still recognised as netring's (hardware type by ioctl, not sysfs).
    if have("nsenter") {
        let mut c = tool(
            None,
            true,
            "nsenter",
            &[
                &format!("--net=/run/netns/{}", net.ns),
                "tcpdump",
                "-i",
                &net.a,
                "-c",
                "1",
            ],
        );
        c.env("NETRING_PCAP_FANOUT", "hash");
        let o = output(c);
        let err = text(&o.stderr);
        assert!(err.contains("NETRING_PCAP_FANOUT='hash'"), "{err}");
    }
}

/// nrcap takes a trailing filter expression like tcpdump (nr_bpf_compile:
/// the system libpcap's compiler for a live handle of the interface).
#[test]
fn nrcap_trailing_filter_expression() {
    require!();
    let nrcap = netring_testkit::root().join("build/bin/nrcap");
    if !nrcap.exists() {
        common::skip("build/bin/nrcap missing (run make)");
        return;
    }
    let nrcap = nrcap.to_str().unwrap();
    let net = Net::new();
    let f = tmp("nrcap.pcap");
    let mut p = Proc::spawn(tool(
        Some(&net),
        false,
        nrcap,
        &[
            "-i",
            &net.a,
            "-q",
            "-c",
            "5",
            "-w",
            f.to_str().unwrap(),
            "ether",
            "proto",
            "0x88b5",
        ],
    ));
    net.wait_bound(&net.a, 1);
    send_frames(&net, 0..20, |i| i % 2 == 1);
    p.finish(Duration::from_secs(10), "nrcap -c");
    let (_, recs) = read_pcap(&f);
    let seqs: Vec<u32> = recs.iter().filter_map(|r| frame_seq(&r.2)).collect();
    assert_eq!(seqs, vec![0, 2, 4, 6, 8]);
    for (_, _, data) in &recs {
        assert_eq!(data, &frame(60, frame_seq(data).unwrap(), BCAST));
    }
    // A syntax error is libpcap's message, before any capture starts.
    let o = output(tool(
        Some(&net),
        false,
        nrcap,
        &["-i", &net.a, "tcp", "port"],
    ));
    assert_eq!(o.status.code(), Some(2));
    assert_says(&o.stderr, "syntax error");
}

/// VLAN tags the kernel strips are put back as libpcap does, and the live
/// `vlan 100` program (which tests the kernel's VLAN metadata) selects the
/// same frames: the same records as tcpdump on the real libpcap.
#[test]
fn vlan_tags_reinserted_and_filtered() {
    require!("tcpdump");
    let net = Net::new();
    let tagged = |i: u32, vid: u16| {
        let mut f = frame(64, i, BCAST);
        let tag = [0x81, 0x00, (vid >> 8) as u8, vid as u8];
        f.splice(12..12, tag);
        f.truncate(64);
        f
    };
    let frames: Vec<Vec<u8>> = (0..12u32)
        .map(|i| match i % 3 {
            0 => tagged(i, 100),
            1 => tagged(i, 200),
            _ => frame(64, i, BCAST),
        })
        .collect();
    let mut results = Vec::new();
    for shim in [true, false] {
        let f = tmp(&format!("vlan-{}.pcap", if shim { "shim" } else { "real" }));
        let mut td = Proc::spawn(tool(
            Some(&net),
            shim,
            "tcpdump",
            &[
                "-i",
                &net.a,
                "-c",
                "4",
                "-w",
                f.to_str().unwrap(),
                "vlan 100",
            ],
        ));
        net.wait_bound(&net.a, 1);
        td.wait_listening();
        send_all(&net, &frames);
        td.finish(Duration::from_secs(10), "tcpdump -c");
        let (_, recs) = read_pcap(&f);
        results.push(recs.into_iter().map(|r| r.2).collect::<Vec<_>>());
    }
    let want: Vec<Vec<u8>> = frames.iter().step_by(3).cloned().collect();
    assert_eq!(results[0], want, "through the shim");
    assert_eq!(results[1], want, "through the real libpcap");
}

/// pcap_inject / pcap_sendpacket through the drop-in: every frame arrives
/// at the peer byte for byte, in order.
#[test]
fn inject_and_sendpacket_arrive_byte_exact() {
    let Some(exe) = libpcap_program("inject", "tests/c/inject.c") else {
        return;
    };
    let net = Net::new();
    let n = 10u32;
    // An independent receiver on the peer (no netring code).
    let rx = net.receiver(&net.b);
    let o = output(tool(
        Some(&net),
        true,
        exe.to_str().unwrap(),
        &[&net.a, &n.to_string()],
    ));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("sent {n}\n"));
    let got = rx.frames(
        n as usize,
        Duration::from_millis(100),
        Duration::from_secs(5),
        |f| frame_seq(f).is_some(),
    );
    let want: Vec<Vec<u8>> = (0..n).map(|i| frame(60, i, BCAST)).collect();
    assert_eq!(got, want);
}

/// `tcpdump -C` rotation (pcap_dump_ftell64, close, reopen) through the
/// drop-in: the files hold every frame once, in order, and are cut where
/// tcpdump on the real libpcap cuts them.
#[test]
fn rotation_with_dash_c() {
    require!("tcpdump");
    let net = Net::new();
    let n = 1000u32;
    let frames: Vec<Vec<u8>> = (0..n).map(|i| frame(1514, i, BCAST)).collect();
    let mut layouts = Vec::new();
    for shim in [true, false] {
        let base = tmp(&format!("rot-{}.pcap", if shim { "shim" } else { "real" }));
        let b = base.to_str().unwrap().to_owned();
        let mut td = Proc::spawn(tool(
            Some(&net),
            shim,
            "tcpdump",
            &["-i", &net.a, "-c", &n.to_string(), "-C", "1", "-w", &b],
        ));
        net.wait_bound(&net.a, 1);
        td.wait_listening();
        send_all(&net, &frames);
        td.finish(Duration::from_secs(20), "tcpdump -c");
        let mut all = Vec::new();
        let mut sizes = Vec::new();
        for suffix in ["", "1", "2"] {
            let p = PathBuf::from(format!("{b}{suffix}"));
            if !p.exists() {
                continue;
            }
            sizes.push(std::fs::metadata(&p).unwrap().len());
            let (hdr, recs) = read_pcap(&p);
            assert_eq!(hdr, (0xa1b2_c3d4, 2, 4, 262_144, 1));
            all.extend(recs.into_iter().map(|r| r.2));
        }
        assert_eq!(all, frames, "every frame once, in order (shim: {shim})");
        layouts.push(sizes);
    }
    assert!(layouts[0].len() >= 2, "no rotation: {layouts:?}");
    assert_eq!(layouts[0], layouts[1], "files cut at the same places");
}

/// The timeout bounds a wait with no traffic, non-blocking mode returns at
/// once, immediate mode delivers a frame within milliseconds of its time
/// stamp (not at the 5 s timeout).
#[test]
fn timeout_nonblock_and_immediate_mode() {
    let Some(exe) = libpcap_program("timing", "tests/c/timing.c") else {
        return;
    };
    let net = Net::new();
    let mut child = Proc::spawn(tool(Some(&net), true, exe.to_str().unwrap(), &[&net.a]));
    let ch = child.child.as_mut().unwrap();
    let mut lines = BufReader::new(ch.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    let nums = |l: &str| -> Vec<f64> {
        l.split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let t = nums(&next());
    assert!(
        t[0] >= 150.0 && t[0] < 1000.0,
        "timeout 200 ms waited {} ms",
        t[0]
    );
    assert_eq!(t[1], 0.0, "dispatch on timeout returns 0");
    let nb = nums(&next());
    assert!(nb[0] < 20.0, "non-blocking dispatch took {} ms", nb[0]);
    assert_eq!((nb[1], nb[2]), (0.0, 1.0), "returns 0, getnonblock 1");
    assert_eq!(next(), "ready");
    std::thread::sleep(Duration::from_millis(50));
    send_frames(&net, 0..1, |_| false);
    let im = nums(&next());
    assert_eq!(im[1], 1.0, "one packet");
    // Immediate mode is the engine's frame ring (TPACKET_V2, as libpcap's):
    // each frame is handed over as it arrives; the bound allows for the
    // scheduling of a loaded 2-CPU test machine.
    eprintln!(
        "immediate mode: delivered {} ms after the time stamp",
        im[0]
    );
    assert!(
        (0.0..20.0).contains(&im[0]),
        "immediate mode delivered {} ms after the time stamp",
        im[0]
    );
    child.finish(Duration::from_secs(5), "the test program");
}

/// `tcpdump -i A ARGS -w FILE AFTER` through the drop-in into `files[0]`
/// and on the real libpcap into `files[1]`, both started.
fn tcpdump_both(net: &Net, files: &[Tmp; 2], args: &[&str], after: &[&str]) -> Vec<Proc> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut all = vec!["-i", net.a.as_str()];
            all.extend_from_slice(args);
            all.extend_from_slice(&["-w", f.to_str().unwrap()]);
            all.extend_from_slice(after);
            Proc::spawn(tool(Some(net), i == 0, "tcpdump", &all))
        })
        .collect()
}

/// Immediate mode cuts no frame below the snap length: `tcpdump
/// --immediate-mode -w` through the drop-in and on the real libpcap, a
/// 60-byte, a 1514-byte and an 8000-byte frame (MTU 9000), each recorded
/// whole by both.
#[test]
fn immediate_mode_records_jumbo_frames_whole() {
    require!("tcpdump");
    let net = Net::new();
    for ifname in [&net.a, &net.b] {
        net.ip(&["link", "set", ifname, "mtu", "9000"]);
    }
    let sizes = [60usize, 1514, 8000];
    let files = [tmp("imm-shim.pcap"), tmp("imm-real.pcap")];
    let mut procs = tcpdump_both(&net, &files, &["--immediate-mode", "-c", "3"], &[]);
    wait_listening(&net, &mut procs);
    let s = net.sender(&net.b);
    for (i, &len) in sizes.iter().enumerate() {
        s.send(&frame(len, i as u32, BCAST));
    }
    for (p, f) in procs.iter_mut().zip(&files) {
        p.finish(Duration::from_secs(5), "tcpdump -c 3");
        // Each record header: ts_sec, ts_usec, incl_len, orig_len.
        let b = std::fs::read(f).unwrap();
        let (mut off, mut lens) = (24, Vec::new());
        while off + 16 <= b.len() {
            let rd = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
            let (incl, orig) = (rd(off + 8), rd(off + 12));
            lens.push((incl, orig));
            off += 16 + incl;
        }
        let want: Vec<(usize, usize)> = sizes.iter().map(|&n| (n, n)).collect();
        assert_eq!(lens, want, "{}: (caplen, len) per record", f.display());
    }
}

/// `NETRING_PCAP_BUSY_POLL`: tcpdump in immediate mode through the drop-in
/// with the engine spinning 2 ms before each sleep records every frame,
/// byte for byte, in order, and exits at its count.
#[test]
fn immediate_mode_with_busy_poll_records_every_frame() {
    require!("tcpdump");
    let net = Net::new();
    let f = tmp("imm-busy.pcap");
    let n = 40usize;
    let mut c = tool(
        Some(&net),
        true,
        "tcpdump",
        &[
            "-i",
            &net.a,
            "--immediate-mode",
            "-c",
            &n.to_string(),
            "-w",
            f.to_str().unwrap(),
        ],
    );
    c.env("NETRING_PCAP_BUSY_POLL", "2000");
    let mut procs = vec![Proc::spawn(c)];
    wait_listening(&net, &mut procs);
    let s = net.sender(&net.b);
    let sent: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(60 + (i * 37) % 1455, i as u32, BCAST))
        .collect();
    for (i, fr) in sent.iter().enumerate() {
        if i % 8 == 0 {
            // Gaps longer than the spin too: the wait sleeps, then wakes.
            std::thread::sleep(Duration::from_millis(5));
        }
        s.send(fr);
    }
    procs[0].finish(
        Duration::from_secs(10),
        "tcpdump -c 40 with NETRING_PCAP_BUSY_POLL",
    );
    let b = std::fs::read(&f).unwrap();
    let (mut off, mut got) = (24, Vec::new());
    while off + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        got.push(b[off + 16..off + 16 + incl].to_vec());
        off += 16 + incl;
    }
    assert_eq!(got, sent);
}

/// Immediate mode keeps a GSO aggregate whole, as libpcap does: a TCP
/// flow over the veth pair (the peer end in a namespace of its own, TSO on
/// as veth has it) delivers aggregates of up to 64 KiB to the capture side,
/// longer than the MTU-sized frames of the drop-in's ring (libpcap sizes
/// its frames for 64 KiB when the device has offloads; the drop-in's ring
/// holds 40 times more frames and takes a longer one from the copy the
/// kernel queues on the socket). `tcpdump --immediate-mode -w` through the
/// drop-in and on the real libpcap: the same records, every one whole.
#[test]
fn immediate_mode_records_offload_aggregates_whole() {
    require!("tcpdump");
    if !have("python3") {
        return common::skip("python3 is not installed");
    }
    let net = Net::new();
    let peer = Net::new();
    net.ip(&["link", "set", &net.b, "netns", &peer.ns]);
    peer.ip(&["addr", "add", "10.78.0.2/24", "dev", &net.b]);
    peer.ip(&["link", "set", &net.b, "up"]);
    net.ip(&["addr", "add", "10.78.0.1/24", "dev", &net.a]);
    let files = [tmp("gso-shim.pcap"), tmp("gso-real.pcap")];
    // -B 64 MiB: tcpdump's default 2 MiB is 32 of libpcap's 64 KiB frames,
    // too few for the burst.
    let mut procs = tcpdump_both(
        &net,
        &files,
        &["--immediate-mode", "-B", "65536"],
        &["tcp and src host 10.78.0.2"],
    );
    wait_listening(&net, &mut procs);
    let in_ns = |ns: &str, script: &str| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, "python3", "-c", script]);
        c
    };
    let server = Proc::spawn(in_ns(
        &net.ns,
        "import socket\n\
         s = socket.socket(); s.bind(('10.78.0.1', 5001)); s.listen(1)\n\
         c, _ = s.accept()\n\
         while c.recv(1 << 20): pass\n",
    ));
    let client = in_ns(
        &peer.ns,
        "import socket, time\n\
         for _ in range(500):\n\
         \x20   try:\n\
         \x20       c = socket.create_connection(('10.78.0.1', 5001)); break\n\
         \x20   except OSError: time.sleep(0.01)\n\
         c.sendall(b'x' * 4000000); c.close()\n",
    );
    let out = output(client);
    assert!(out.status.success(), "client: {}", text(&out.stderr));
    let mut server = server;
    server.finish(Duration::from_secs(10), "the TCP server");
    std::thread::sleep(Duration::from_millis(300));
    let mut recs = Vec::new();
    for (p, f) in procs.iter_mut().zip(&files) {
        p.signal(libc::SIGINT);
        p.finish(Duration::from_secs(5), "tcpdump");
        let lens: Vec<(u32, u32)> = read_pcap(f).1.iter().map(|r| (r.0, r.1)).collect();
        assert!(
            lens.iter().all(|&(cl, len)| cl == len),
            "{}: a record was cut: {lens:?}",
            f.display()
        );
        recs.push(lens);
    }
    let longest = recs[1].iter().map(|r| r.1).max().unwrap_or(0);
    assert!(
        longest > 1518,
        "no aggregate longer than the MTU: {:?}",
        recs[1]
    );
    assert_eq!(
        recs[0], recs[1],
        "(caplen, len) per record: drop-in, libpcap"
    );
}

/// `tcpdump -i any -c K -w f` through the shim and on the real libpcap at
/// the same time, on the same traffic over two veth pairs (plain,
/// VLAN-tagged and IPv4 frames, each seen leaving one end and arriving at
/// the other): the same records, header fields and bytes, timestamps
/// aside, for DLT_LINUX_SLL2 (tcpdump's default on any) and DLT_LINUX_SLL
/// (`-y`), unfiltered and with filters the kernel runs after libpcap's
/// offset fix-up (`ip`, `inbound`, `ether proto`, `udp port`) or that stay
/// in user space (`ether[2:2]`, `ether[6:4]`: the SLL hardware type and
/// address fields).
#[test]
fn any_device_same_records_as_libpcap() {
    require!("tcpdump");
    let net = Net::new();
    let (a2, b2) = (format!("{}c", net.a), format!("{}d", net.a));
    net.ip(&["link", "add", &a2, "type", "veth", "peer", "name", &b2]);
    net.ip(&["link", "set", &a2, "up"]);
    net.ip(&["link", "set", &b2, "up"]);
    net.ip(&["addr", "add", "10.77.0.1/24", "dev", &a2]);
    let tagged = |i: u32, vid: u16| {
        let mut f = frame(64, i, BCAST);
        f.splice(12..12, [0x81, 0x00, (vid >> 8) as u8, vid as u8]);
        f.truncate(64);
        f
    };
    // An IPv4/UDP broadcast (protocol 0x0800 in the SLL header).
    let ipv4 = |i: u32| {
        let mut f = BCAST.to_vec();
        f.extend_from_slice(&[0x02, 0x6e, 0x72, 0x00, 0x00, 0x02, 0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 77, 0, 2, 255, 255, 255, 255,
        ];
        let mut sum = 0u32;
        for c in ip.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x30, 0x39, 0x30, 0x39, 0, 12, 0, 0]);
        f.extend_from_slice(&i.to_be_bytes());
        f
    };
    let n = 24u32;
    let frames: Vec<(bool, Vec<u8>)> = (0..n)
        .map(|i| {
            let f = match i % 4 {
                0 => tagged(i, 100),
                1 => ipv4(i),
                _ => frame(60, i, BCAST),
            };
            (i % 2 == 0, f)
        })
        .collect();
    // tcpdump picks LINUX_SLL2 on any by default; -y LINUX_SLL asks v1.
    let cases: [(&[&str], &str, usize); 7] = [
        (&["-y", "LINUX_SLL"], "", 40),
        (&[], "", 40),
        (&["-y", "LINUX_SLL"], "ip", 10),
        (&["-y", "LINUX_SLL"], "inbound", 12),
        (&[], "ether proto 0x88b5", 12),
        (
            &["-y", "LINUX_SLL"],
            "ether[2:2] = 1 and ether[6:4] = 0x026e7200",
            20,
        ),
        (&[], "udp port 12345", 6),
    ];
    for (opts, expr, k) in cases {
        let files = [tmp("any-shim.pcap"), tmp("any-real.pcap")];
        let mut procs: Vec<Proc> = [true, false]
            .iter()
            .zip(&files)
            .map(|(&shim, f)| {
                let kk = k.to_string();
                let mut args = vec!["-i", "any", "-c", &kk, "-w", f.to_str().unwrap()];
                args.extend_from_slice(opts);
                if !expr.is_empty() {
                    args.push(expr);
                }
                Proc::spawn(tool(Some(&net), shim, "tcpdump", &args))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        for p in &mut procs {
            if let Some(o) = p.wait(Duration::from_millis(1)) {
                panic!("exited: {}", text(&o.stderr));
            }
        }
        net.wait_bound_any(2);
        for p in &mut procs {
            p.wait_listening();
        }
        let (s1, s2) = (net.sender(&net.b), net.sender(&b2));
        for (first, f) in &frames {
            if *first { &s1 } else { &s2 }.send(f);
        }
        let mut recs = Vec::new();
        for (p, f) in procs.iter_mut().zip(&files) {
            let what = format!("tcpdump -i any -c {k} {opts:?} {expr}");
            p.finish(Duration::from_secs(10), &what);
            recs.push(read_pcap(f));
        }
        let (shim, real) = (&recs[0], &recs[1]);
        assert_eq!(shim.0, real.0, "file header, {opts:?} {expr}");
        assert_eq!(shim.1.len(), k, "{opts:?} {expr}");
        assert_eq!(shim.1, real.1, "records, {opts:?} {expr}");
    }
}

/// `NETRING_PCAP_ENGINE=xdp:generic`: tcpdump captures through the AF_XDP
/// engine (generic XDP on a veth end) and gets exactly the frames sent,
/// byte for byte; with a filter (run in user space: AF_XDP has no socket
/// filter) exactly the first K matching ones; the statistics lines come
/// from the XDP counters.
#[test]
fn xdp_engine_by_environment() {
    require!("tcpdump");
    let net = Net::new();
    let run = |args: &[&str], send: &dyn Fn()| -> (Output, Vec<(u32, u32, Vec<u8>)>) {
        let f = tmp("xdp.pcap");
        let mut a = vec!["-i", net.a.as_str(), "-w", f.to_str().unwrap()];
        a.extend_from_slice(args);
        let mut c = tool(Some(&net), true, "tcpdump", &a);
        c.env("NETRING_PCAP_ENGINE", "xdp:generic");
        let mut td = Proc::spawn(c);
        // The XDP program is attached and the socket is in its map before
        // activation returns: "listening on" means ready.
        td.wait_listening();
        send();
        let out = td.finish(Duration::from_secs(10), "tcpdump -c");
        let (hdr, recs) = read_pcap(&f);
        assert_eq!(hdr, (0xa1b2_c3d4, 2, 4, 262_144, 1), "file header");
        (out, recs)
    };
    // Unfiltered: every frame sent, in order, byte for byte.
    let n = 40u32;
    let (out, recs) = run(&["-c", &n.to_string()], &|| {
        send_frames(&net, 0..n, |_| false)
    });
    let err = text(&out.stderr);
    assert_eq!(recs.len(), n as usize, "{err}");
    for (j, (cl, len, data)) in recs.iter().enumerate() {
        assert_eq!((*cl, *len), (60, 60));
        assert_eq!(data, &frame(60, j as u32, BCAST), "record {j}");
    }
    assert!(err.contains(&format!("\n{n} packets captured\n")), "{err}");
    assert!(
        err.contains(&format!("\n{n} packets received by filter\n")),
        "{err}"
    );
    assert!(err.contains("\n0 packets dropped by kernel\n"), "{err}");
    // Filtered: odd sequence numbers carry another EtherType.
    let k = 9u32;
    let (out, recs) = run(&["-c", &k.to_string(), "ether proto 0x88b5"], &|| {
        send_frames(&net, 0..n, |i| i % 2 == 1)
    });
    let err = text(&out.stderr);
    assert_eq!(recs.len(), k as usize, "{err}");
    for (j, (_, _, data)) in recs.iter().enumerate() {
        assert_eq!(data, &frame(60, 2 * j as u32, BCAST), "record {j}");
    }
    assert!(err.contains(&format!("\n{k} packets captured\n")), "{err}");
    // A bad value is an activation error naming the variable.
    let mut c = tool(Some(&net), true, "tcpdump", &["-i", &net.a, "-c", "1"]);
    c.env("NETRING_PCAP_ENGINE", "xdp:fast");
    let o = output(c);
    assert!(!o.status.success());
    assert_says(&o.stderr, "NETRING_PCAP_ENGINE='xdp:fast'");
}

/// `tcpdump -r` reads classic pcap files on netring's reader; at a record
/// the reader cannot reproduce exactly (wire length below the captured
/// length, a microsecond fraction of a second or more, a record longer
/// than the snapshot) or a malformed one (truncated header or data, a
/// length past any limit) the real libpcap takes over from that record on.
/// Either way the output is the real libpcap's, byte for byte: stdout,
/// stderr and exit status, with and without a filter, -c, --nano.
#[test]
fn read_crafted_files_identical() {
    require!("tcpdump");
    let d = tmp("crafted");
    std::fs::create_dir_all(&*d).unwrap();
    let hdr = |magic: u32, snap: u32, ver: (u16, u16), big: bool| {
        let mut h = Vec::new();
        let w32 = |h: &mut Vec<u8>, v: u32| {
            h.extend_from_slice(&if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        w32(&mut h, magic);
        for v in [ver.0, ver.1] {
            h.extend_from_slice(&if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        w32(&mut h, 0);
        w32(&mut h, 0);
        w32(&mut h, snap);
        w32(&mut h, 1);
        h
    };
    let rec = |sec: u32, frac: u32, data: &[u8], len: u32, big: bool| {
        let mut r = Vec::new();
        for v in [sec, frac, data.len() as u32, len] {
            r.extend_from_slice(&if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        r.extend_from_slice(data);
        r
    };
    let eth = frame(60, 7, BCAST);
    let n = eth.len() as u32;
    let good = |big: bool| -> Vec<u8> {
        (0..5u32)
            .flat_map(|i| rec(1000 + i, 123_456 + i, &eth, n, big))
            .collect()
    };
    let cat = |parts: &[&[u8]]| parts.concat();
    let micro = hdr(0xa1b2_c3d4, 65535, (2, 4), false);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("good.pcap", cat(&[&micro, &good(false)])),
        (
            "big-endian.pcap",
            cat(&[&hdr(0xa1b2_c3d4, 65535, (2, 4), true), &good(true)]),
        ),
        (
            "nano.pcap",
            cat(&[
                &hdr(0xa1b2_3c4d, 65535, (2, 4), false),
                &rec(5, 123_456_789, &eth, n, false),
                &rec(6, 999_999_999, &eth, n, false),
            ]),
        ),
        (
            "truncated-data.pcap",
            cat(&[&micro, &good(false), &rec(9, 1, &eth, n, false)[..30]]),
        ),
        (
            "truncated-header.pcap",
            cat(&[&micro, &good(false), &rec(9, 1, &eth, n, false)[..9]]),
        ),
        (
            "len-below-caplen.pcap",
            cat(&[
                &micro,
                &good(false),
                &rec(9, 1, &eth, 20, false),
                &good(false),
            ]),
        ),
        (
            "usec-overflow.pcap",
            cat(&[
                &micro,
                &good(false),
                &rec(9, 1_500_000, &eth, n, false),
                &good(false),
            ]),
        ),
        (
            "longer-than-snapshot.pcap",
            cat(&[&hdr(0xa1b2_c3d4, 40, (2, 4), false), &good(false)]),
        ),
        (
            "huge-record.pcap",
            cat(&[
                &micro,
                &good(false),
                &rec(9, 1, &[0; 8], 300_000, false)[..16],
                &[0xe0, 0x93, 0x04, 0x00],
            ]),
        ),
        (
            "version-2.2.pcap",
            cat(&[&hdr(0xa1b2_c3d4, 65535, (2, 2), false), &good(false)]),
        ),
    ];
    for (name, bytes) in &files {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_str().unwrap();
        for opts in [
            &["-nn"][..],
            &["-nn", "--nano", "-v"],
            &["-nn", "-c", "3", "ether proto 0x88b5"],
            &["-nn", "-tt", "-c", "7"],
            &["-nn", "not ether proto 0x88b5"],
        ] {
            let mut args = vec!["-r", p];
            args.extend_from_slice(opts);
            let ours = output(tool(None, true, "tcpdump", &args));
            let real = output(tool(None, false, "tcpdump", &args));
            assert_same_output(&ours, &real, &format!("tcpdump {args:?}"));
        }
    }
}

/// pthread_cancel on a thread blocked in pcap_loop, pcap_dispatch,
/// pcap_next_ex or pcap_next, or in pcap_loop's callback (sleeping; live,
/// and on a savefile): the thread ends with PTHREAD_CANCELED, the process
/// goes on, and the handle then answers pcap_stats and closes, through the
/// drop-in as on the system libpcap (the drop-in aborted the process:
/// "FATAL: exception not rethrown"). 12 repetitions of each, cancelled 0
/// to 30 ms after the thread started (or entered the callback).
#[test]
fn cancelled_threads_end_cancelled_as_with_libpcap() {
    let Some(exe) = libpcap_program("cancel", "tests/c/cancel.c") else {
        return;
    };
    let net = Net::new();
    let file = netring_testkit::root().join("tests/data/tcpdump.pcap");
    for mode in ["loop", "dispatch", "next_ex", "next", "callback", "offline"] {
        for shim in [false, true] {
            let who = if shim { "drop-in" } else { "libpcap" };
            let source = if mode == "offline" {
                file.to_str().unwrap()
            } else {
                &net.a
            };
            let out = output(tool(
                Some(&net),
                shim,
                exe.to_str().unwrap(),
                &[source, mode, "12"],
            ));
            assert_cancelled(&out, 12, &format!("{mode} on {who}"));
        }
    }
}

/// The cancelled reads leak nothing under valgrind memcheck (no definite
/// leak, no error), through the drop-in as on the system libpcap.
#[test]
fn cancelled_threads_leak_nothing_under_valgrind() {
    require!("cc", "valgrind");
    let Some(exe) = libpcap_program("cancel-vg", "tests/c/cancel.c") else {
        return;
    };
    let net = Net::new();
    for mode in ["loop", "next_ex", "callback"] {
        for shim in [false, true] {
            let who = if shim { "drop-in" } else { "libpcap" };
            let out = output(tool(
                Some(&net),
                shim,
                "valgrind",
                &[
                    "-q",
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    exe.to_str().unwrap(),
                    &net.a,
                    mode,
                    "3",
                ],
            ));
            assert_cancelled(&out, 3, &format!("{mode} on {who}"));
        }
    }
}
