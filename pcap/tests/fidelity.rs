//! The drop-in against the system libpcap, field by field: the same
//! program (tcpdump, or tests/c/fidelity.c printing what the libpcap API
//! returns) runs on both libraries and its output, its exit status and the
//! files it writes must be byte-identical. Savefiles: every field of the
//! file and record headers at its edges (magics, versions, snapshot
//! lengths, link-type upper bits, time stamps at 2^31 s and past, record
//! lengths); errors: each failure's status, text and errno.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use netring_testkit::{self as kit, Net, TempDir, frame, require};

/// The drop-in cargo built with this test, as `libpcap.so.0.8` in a
/// directory of its own.
fn dropin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let deps = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .to_owned();
        let dir = deps.parent().unwrap().join("pcap-fidelity-test");
        std::fs::create_dir_all(&dir).unwrap();
        // The SONAME, and the name masscan dlopen()s (as `make` installs).
        for name in ["libpcap.so.0.8", "libpcap.so"] {
            let link = dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(deps.join("libpcap.so"), &link).unwrap();
        }
        dir
    })
}

/// tests/c/fidelity.c built against the system's libpcap (None: no
/// libpcap-dev, skipped).
fn program(dir: &TempDir) -> Option<PathBuf> {
    if !Path::new("/usr/include/pcap/pcap.h").exists() {
        kit::skip("libpcap-dev is not installed");
        return None;
    }
    let exe = dir.path("fidelity");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/fidelity.c");
    let st = Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(src)
        .arg("-lpcap")
        .status()
        .unwrap();
    assert!(st.success(), "cc fidelity.c -lpcap failed");
    Some(exe)
}

/// `cmd` on the drop-in (`dropin`) or on the system libpcap.
fn on(dropin: bool, mut cmd: Command) -> Command {
    cmd.stdin(Stdio::null());
    for v in [
        "NETRING_PCAP_FANOUT",
        "NETRING_PCAP_RING",
        "NETRING_PCAP_ENGINE",
    ] {
        cmd.env_remove(v);
    }
    if dropin {
        cmd.env("LD_LIBRARY_PATH", dropin_dir());
    } else {
        cmd.env_remove("LD_LIBRARY_PATH");
    }
    cmd
}

/// Run `cmd` (program and arguments) on both libraries, each writing to
/// its own copy of the output file (the argument "OUT"; seeded with `out`
/// when given); the runs and the files must be identical.
fn same(dir: &TempDir, cmd: &[&str], out: Option<&[u8]>) {
    let mut runs = Vec::new();
    for (dropin, tag) in [(false, "system"), (true, "dropin")] {
        let o = dir.path(&format!("out-{tag}"));
        let _ = std::fs::remove_file(&o);
        if let Some(seed) = out {
            std::fs::write(&o, seed).unwrap();
        }
        let mut c = Command::new(cmd[0]);
        c.args(cmd[1..].iter().map(|a| match *a {
            "OUT" => o.to_str().unwrap(),
            a => a,
        }));
        let r = on(dropin, c).output().unwrap();
        // The file name differs between the runs; the text must not.
        let text = |b: &[u8]| String::from_utf8_lossy(b).replace(o.to_str().unwrap(), "OUT");
        runs.push((
            (text(&r.stdout), text(&r.stderr), r.status.code()),
            std::fs::read(&o).ok(),
        ));
    }
    let (sys, drop) = (&runs[0], &runs[1]);
    assert_eq!(drop.0, sys.0, "{cmd:?}: output differs");
    assert!(drop.1 == sys.1, "{cmd:?}: written file differs");
}

/// A classic pcap file header: magic, version, thiszone, sigfigs,
/// snaplen, link type; big-endian when `big`.
struct Hdr {
    magic: u32,
    ver: (u16, u16),
    zone: u32,
    sigfigs: u32,
    snap: u32,
    link: u32,
    big: bool,
}

const HDR: Hdr = Hdr {
    magic: 0xa1b2_c3d4,
    ver: (2, 4),
    zone: 0,
    sigfigs: 0,
    snap: 65535,
    link: 1,
    big: false,
};

fn w32(v: &mut Vec<u8>, x: u32, big: bool) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}

impl Hdr {
    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        w32(&mut v, self.magic, self.big);
        for x in [self.ver.0, self.ver.1] {
            v.extend_from_slice(&if self.big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            });
        }
        for x in [self.zone, self.sigfigs, self.snap, self.link] {
            w32(&mut v, x, self.big);
        }
        v
    }

    /// The header and `recs` (sec, frac, caplen, len; data = caplen bytes
    /// of a test frame).
    fn file(&self, recs: &[(u32, u32, u32, u32)]) -> Vec<u8> {
        let mut v = self.bytes();
        let eth = frame(1514, 7, [0xff; 6]);
        for &(s, f, cap, len) in recs {
            for x in [s, f, cap, len] {
                w32(&mut v, x, self.big);
            }
            v.extend_from_slice(&eth[..(cap as usize).min(eth.len())]);
            v.resize(v.len() + (cap as usize).saturating_sub(eth.len()), 0);
        }
        v
    }
}

/// Records with the same small frame at times `secs` (fraction `frac`).
fn at(secs: &[u32], frac: u32) -> Vec<(u32, u32, u32, u32)> {
    secs.iter().map(|&s| (s, frac, 60, 60)).collect()
}

/// The edge files: each header field and record field at its limits.
fn crafted() -> Vec<(&'static str, Vec<u8>)> {
    const Y2038: [u32; 5] = [
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_fffe,
        0xffff_ffff,
    ];
    let h = |f: fn(&mut Hdr)| {
        let mut h = Hdr { ..HDR };
        f(&mut h);
        h
    };
    let normal = at(&[1000, 1001, 1002], 123_456);
    let mut v = vec![
        ("plain", HDR.file(&normal)),
        ("y2038", HDR.file(&at(&Y2038, 999_999))),
        ("y2038-big-endian", h(|h| h.big = true).file(&at(&Y2038, 5))),
        (
            "y2038-nano",
            h(|h| h.magic = 0xa1b2_3c4d).file(&at(&Y2038, 999_999_999)),
        ),
        (
            "y2038-nano-big-endian",
            h(|h| {
                h.magic = 0xa1b2_3c4d;
                h.big = true
            })
            .file(&at(&Y2038, 1)),
        ),
        // Fractions of a second or more, and "negative" ones.
        (
            "frac-overflow",
            HDR.file(&at(&[5, 0x8000_0000], 0x8000_0000)),
        ),
        (
            "frac-million",
            HDR.file(&[(5, 1_000_000, 60, 60), (6, 0xffff_ffff, 60, 60)]),
        ),
        (
            "frac-nano-billion",
            h(|h| h.magic = 0xa1b2_3c4d).file(&at(&[5, 6], 1_000_000_000)),
        ),
        (
            "thiszone-sigfigs",
            h(|h| {
                h.zone = (-3600i32) as u32;
                h.sigfigs = 6
            })
            .file(&normal),
        ),
        ("empty", Vec::new()),
        ("header-only", HDR.bytes()),
        ("short-header", HDR.bytes()[..10].to_vec()),
        (
            "zero-length-records",
            HDR.file(&[(1, 2, 0, 0), (3, 4, 0, 60), (5, 6, 60, 60)]),
        ),
        (
            "caplen-above-len",
            HDR.file(&[(1, 2, 60, 60), (3, 4, 60, 20), (5, 6, 60, 60)]),
        ),
        ("caplen-above-snaplen", h(|h| h.snap = 40).file(&normal)),
        (
            "caplen-huge",
            HDR.file(&[(1, 2, 60, 60), (3, 4, 300_000, 300_000)]),
        ),
        ("truncated-record-header", {
            let mut v = HDR.file(&normal);
            v.extend_from_slice(&[1, 2, 3, 4, 5]);
            v
        }),
        ("truncated-record-data", {
            let mut v = HDR.file(&normal);
            let n = v.len();
            v.truncate(n - 20);
            v
        }),
        ("kuznetzov", h(|h| h.magic = 0xa1b2_cd34).bytes()),
        ("navtel", h(|h| h.magic = 0xa12b_3c4d).file(&normal)),
        ("bad-magic", h(|h| h.magic = 0x1234_5678).file(&normal)),
        (
            "pcapng-magic-only",
            vec![0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0],
        ),
    ];
    for (name, ver) in [
        ("version-1.0", (1, 0)),
        ("version-2.2", (2, 2)),
        ("version-2.3", (2, 3)),
        ("version-2.5", (2, 5)),
        ("version-3.0", (3, 0)),
        ("version-543.0", (543, 0)),
    ] {
        let mut hd = Hdr { ..HDR };
        hd.ver = ver;
        // 2.2 and 2.3 files may have caplen and len swapped.
        v.push((
            name,
            hd.file(&[(1, 2, 60, 60), (3, 4, 60, 40), (5, 6, 40, 60)]),
        ));
    }
    for (name, snap) in [
        ("snaplen-0", 0),
        ("snaplen-1", 1),
        ("snaplen-262144", 262_144),
        ("snaplen-262145", 262_145),
        ("snaplen-2^31", 0x8000_0000),
        ("snaplen-max", 0xffff_ffff),
    ] {
        let mut hd = Hdr { ..HDR };
        hd.snap = snap;
        v.push((name, hd.file(&normal)));
    }
    for (name, link) in [
        // LT_FCS_LENGTH_PRESENT with 4 bytes of FCS, on Ethernet.
        ("link-fcs-4", 0x4400_0001),
        ("link-fcs-2-big", 0x2400_0001),
        ("link-reserved-bits", 0x0800_0001),
        ("link-all-upper-bits", 0xfc00_0001),
        ("link-raw-101", 101),
        ("link-raw-12", 12),
        ("link-sll-fcs", 0x4400_0071),
        ("link-32", 32),
        ("link-300", 300),
        ("link-65535", 65535),
        ("link-unknown-ext", 0x4400_012c),
    ] {
        let mut hd = Hdr { ..HDR };
        hd.link = link;
        v.push((name, hd.file(&normal)));
    }
    v
}

/// pcapng files (served by the real libpcap, dumped by the drop-in) with
/// time stamps at 2^31 s and past, in micro- and nanosecond resolution.
fn pcapng_y2038() -> Vec<(&'static str, Vec<u8>)> {
    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let l = (12 + body.len()) as u32;
        [
            &t.to_le_bytes()[..],
            &l.to_le_bytes(),
            body,
            &l.to_le_bytes(),
        ]
        .concat()
    }
    let shb = block(
        0x0a0d_0d0a,
        &[
            &0x1a2b_3c4du32.to_le_bytes()[..],
            &[1, 0, 0, 0],
            &(-1i64).to_le_bytes(),
        ]
        .concat(),
    );
    let idb = |nano: bool| {
        let mut b = vec![1, 0, 0, 0, 0xff, 0xff, 0, 0];
        if nano {
            // if_tsresol = 9 (nanoseconds), then opt_endofopt.
            b.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        }
        block(1, &b)
    };
    let data: Vec<u8> = (0..60).collect();
    let epb = |units: u64| {
        let mut b = vec![0; 4];
        b.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(units as u32).to_le_bytes());
        b.extend_from_slice(&60u32.to_le_bytes());
        b.extend_from_slice(&60u32.to_le_bytes());
        b.extend_from_slice(&data);
        block(6, &b)
    };
    let secs = [
        0x7fff_ffffu64,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0x2_0000_0000,
    ];
    let file = |nano: bool| {
        let (unit, frac) = if nano {
            (1_000_000_000, 999_999_999)
        } else {
            (1_000_000, 999_999)
        };
        let recs: Vec<u8> = secs.iter().flat_map(|s| epb(s * unit + frac)).collect();
        [shb.clone(), idb(nano), recs].concat()
    };
    vec![
        ("y2038-usec.pcapng", file(false)),
        ("y2038-nsec.pcapng", file(true)),
    ]
}

/// Every crafted file and the corpus under tests/data, through the C
/// program (pcap_pkthdr fields, pcap_datalink/_ext, snapshot, version,
/// pcap_dump's output, in micro- and nanosecond precision) and tcpdump
/// (`-r F -w OUT`, `-r F -tt -v -nn`, `--nano`): the drop-in's output is
/// the system libpcap's, byte for byte.
#[test]
fn savefiles_byte_for_byte() {
    let dir = TempDir::new("fidelity-files");
    let Some(exe) = program(&dir) else {
        return;
    };
    let tcpdump = kit::have("tcpdump");
    if !tcpdump {
        kit::skip("tcpdump is not installed (the C program still runs)");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(kit::root().join("tests/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (name, bytes) in crafted() {
        let p = dir.path(&format!("{name}.pcap"));
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    }
    for (name, bytes) in pcapng_y2038() {
        let p = dir.path(name);
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    }
    let exe = exe.to_str().unwrap();
    for f in &files {
        let f = f.to_str().unwrap();
        same(&dir, &[exe, "read", f, "OUT"], None);
        same(&dir, &[exe, "read", f, "nano", "OUT"], None);
        // pcap_file after a record, from the file and from a pipe.
        same(&dir, &[exe, "file", f], None);
        let piped = format!("cat '{f}' | '{exe}' file -");
        same(&dir, &["sh", "-c", &piped], None);
        if tcpdump {
            same(&dir, &["tcpdump", "-r", f, "-w", "OUT"], None);
            same(&dir, &["tcpdump", "-r", f, "-tt", "-v", "-nn"], None);
            let nano = ["tcpdump", "-r", f, "--nano", "-tttt", "-nn", "-c", "4"];
            same(&dir, &nano, None);
        }
    }
}

/// `pcap_dump_open_append` on each kind of existing file: libpcap's
/// checks, texts and the bytes it leaves.
#[test]
fn append_checks_as_libpcap() {
    let dir = TempDir::new("fidelity-append");
    let Some(exe) = program(&dir) else {
        return;
    };
    let src = dir.path("src.pcap");
    let normal = at(&[1, 2], 3);
    std::fs::write(&src, HDR.file(&normal)).unwrap();
    let mut fcs = Hdr { ..HDR };
    fcs.link = 0x4400_0001;
    let src_fcs = dir.path("src-fcs.pcap");
    std::fs::write(&src_fcs, fcs.file(&normal)).unwrap();
    let variant = |f: fn(&mut Hdr)| {
        let mut h = Hdr { ..HDR };
        f(&mut h);
        h.file(&normal)
    };
    let seeds: Vec<Vec<u8>> = vec![
        Vec::new(),
        HDR.file(&normal),
        HDR.bytes()[..7].to_vec(),
        variant(|h| h.magic = 0xa1b2_3c4d),
        variant(|h| h.big = true),
        variant(|h| h.magic = 0xa1b2_cd34),
        variant(|h| h.magic = 0xa12b_3c4d),
        variant(|h| h.magic = 7),
        variant(|h| h.ver = (2, 3)),
        variant(|h| h.link = 101),
        variant(|h| h.link = 0x4400_0001),
        variant(|h| h.snap = 1500),
    ];
    let exe = exe.to_str().unwrap();
    for s in &[src, src_fcs] {
        let s = s.to_str().unwrap();
        for seed in &seeds {
            same(&dir, &[exe, "append", s, "OUT"], Some(seed));
        }
        same(&dir, &[exe, "append", s, "/nonexistent/x"], None);
    }
}

/// Failed opens and activations: status, text and errno as libpcap leaves
/// them (tests/c/fidelity.c prints all three), every call's result and
/// text on a handle before and after activation, and tcpdump's messages: a
/// missing file, a directory, a file of another format, a missing device,
/// a device that is down (libpcap refuses it: PCAP_ERROR_IFACE_NOT_UP),
/// devices served by netring and by the real libpcap; a fork right after
/// the open (the child compiles on the inherited handle: the shadow's
/// activation thread must be over by then); then the same without
/// privileges (libpcap's "socket: Operation not permitted" first,
/// netring's hint after it).
#[test]
fn errors_as_libpcap() {
    require!("setpriv");
    let dir = TempDir::new("fidelity-errors");
    let Some(exe) = program(&dir) else {
        return;
    };
    let exe = exe.to_str().unwrap();
    let net = Net::new();
    let down = format!("{}d", net.a);
    net.ip(&[
        "link",
        "add",
        &down,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{}e", net.b),
    ]);
    let ns = net.ns.as_str();
    let in_ns = ["ip", "netns", "exec", ns];
    let file = kit::root().join("Cargo.toml");
    let file = file.to_str().unwrap();
    for a in [
        ["offline", "/nonexistent/file"],
        ["offline", "/tmp"],
        ["offline", file],
        ["offline", "/dev/null"],
        ["live", "nosuchdev0"],
        ["activate", "nosuchdev0"],
        ["live", &down],
        ["activate", &down],
        ["activate", &net.a],
        ["live", &net.a],
        ["activate", "any"],
        ["live", "lo"],
        // The device list, part of it freed by the program itself.
        ["devs", "any"],
        // A getaddrinfo list the program frees itself.
        ["addrinfo", "localhost"],
        // Every call before and after activation.
        ["api", &net.a],
        ["api", "any"],
    ] {
        same(&dir, &[&in_ns[..], &[exe], &a[..]].concat(), None);
    }
    // A fork right after the open (a daemon's order): the child compiles
    // on the handle it inherits, as the parent does, and neither hangs.
    let fork = [&["timeout", "20"][..], &in_ns[..], &[exe, "fork", &net.a]].concat();
    same(&dir, &fork, None);
    let mut c = Command::new(fork[0]);
    c.args(&fork[1..]);
    let text = String::from_utf8_lossy(&on(true, c).output().unwrap().stdout).into_owned();
    assert!(
        text.contains("child: (000) ") && text.contains("child exit 0\nparent: (000) "),
        "fork after the open, through the drop-in:\n{text}"
    );
    // A signal handler's siglongjmp out of a blocked pcap_next_ex (scan6's
    // timeout): the handle filters, reads and closes afterwards.
    let jump = [
        &["timeout", "20"][..],
        &in_ns[..],
        &[exe, "longjmp", &net.a],
    ]
    .concat();
    same(&dir, &jump, None);
    let mut c = Command::new(jump[0]);
    c.args(&jump[1..]);
    let text = String::from_utf8_lossy(&on(true, c).output().unwrap().stdout).into_owned();
    assert!(
        text.contains("round 2: left pcap_next_ex by siglongjmp\nround 2: setfilter 0")
            && text.contains("pcap_next_ex, non-blocking: 0\nclosed"),
        "siglongjmp out of pcap_next_ex, through the drop-in:\n{text}"
    );
    // A frame shorter than an Ethernet header: libpcap's status, errno and
    // text ("send: Invalid argument"), netring's reason after the text.
    let short = [&in_ns[..], &[exe, "sendshort", &net.a]].concat();
    let run = |dropin: bool| {
        let mut c = Command::new(short[0]);
        c.args(&short[1..]);
        String::from_utf8_lossy(&on(dropin, c).output().unwrap().stdout).into_owned()
    };
    let (sys, ours) = (run(false), run(true));
    let (sys_st, sys_text) = sys.split_once('\n').unwrap();
    let (our_st, our_text) = ours.split_once('\n').unwrap();
    assert_eq!(our_st, sys_st, "sendshort status and errno");
    assert!(
        our_text.starts_with(sys_text.trim_end()) && our_text.contains("Ethernet header"),
        "sendshort text: libpcap {sys_text:?}, drop-in {our_text:?}"
    );
    // Monitor mode asked on a device without it.
    same(
        &dir,
        &[&in_ns[..], &[exe, "activate", &net.a, "rfmon"]].concat(),
        None,
    );
    for a in [
        &["-i", &down, "-c", "1"][..],
        &["-i", "nosuchdev0", "-c", "1"],
        &["-r", "/nonexistent/file"],
        &["-r", file],
    ] {
        same(&dir, &[&in_ns[..], &["tcpdump"], a].concat(), None);
    }
    // Without privileges.
    let nobody = [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--inh-caps=-all",
    ];
    let hint = "needs CAP_NET_RAW";
    for a in [
        ["live", net.a.as_str()],
        ["activate", &net.a],
        ["activate", "any"],
        ["live", "lo"],
        ["activate", "nosuchdev0"],
    ] {
        let cmd = [&in_ns[..], &nobody, &[exe], &a[..]].concat();
        let mut runs = Vec::new();
        for dropin in [false, true] {
            let mut c = Command::new(cmd[0]);
            c.args(&cmd[1..]);
            let o = on(dropin, c).output().unwrap();
            runs.push(String::from_utf8_lossy(&o.stdout).into_owned());
        }
        // The drop-in's text is libpcap's, then netring's hint inside the
        // same parentheses where netring serves the device.
        let (sys, ours) = (&runs[0], &runs[1]);
        let plain = ours.replace(
            " (needs CAP_NET_RAW: run as root or `setcap cap_net_raw+ep` the program)",
            "",
        );
        assert_eq!(&plain, sys, "{a:?}");
        let served = a[1] != "lo" && a[1] != "nosuchdev0";
        assert_eq!(ours.contains(hint), served, "{a:?}: {ours}");
    }
}

// ------------------------------------------------ other Debian programs

/// The files of `dir` (recursively, by relative path), except tcpflow's
/// report.xml (its run's resource usage and times).
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().is_some_and(|n| n != "report.xml") {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The lines of `text` that mention a measured quantity (`volatile`: a
/// time, a rate) with every number and time unit masked.
fn mask(text: &str, volatile: &[&str]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if volatile.iter().any(|v| line.contains(v)) {
            let mut prev_digit = false;
            for c in line.replace("msec", "usec").chars() {
                let d = c.is_ascii_digit() || (prev_digit && c == '.');
                if !d {
                    out.push(c);
                } else if !prev_digit {
                    out.push('N');
                }
                prev_digit = d;
            }
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Run `cmd` on both libraries, each in a fresh directory of its own
/// (relative output names then embed the same text); stdout, stderr
/// (masked on `volatile` lines), exit status and every file written must
/// be the same.
fn same_in_dir(dir: &TempDir, prefix: &[&str], cmd: &[&str], volatile: &[&str]) {
    let mut runs = Vec::new();
    for (dropin, tag) in [(false, "system"), (true, "dropin")] {
        let wd = dir.path(tag);
        let _ = std::fs::remove_dir_all(&wd);
        std::fs::create_dir_all(&wd).unwrap();
        // A program that never ends fails the comparison, not the suite.
        let full = [&["timeout", "60"][..], prefix, cmd].concat();
        let mut c = Command::new(full[0]);
        c.args(&full[1..]).current_dir(&wd);
        let o = on(dropin, c).output().unwrap();
        let text = |b: &[u8]| mask(&String::from_utf8_lossy(b), volatile);
        runs.push((
            (text(&o.stdout), text(&o.stderr), o.status.code()),
            tree(&wd),
        ));
    }
    let (sys, ours) = (&runs[0], &runs[1]);
    assert_eq!(ours.0, sys.0, "{cmd:?}: output differs");
    assert!(ours.1 == sys.1, "{cmd:?}: written files differ");
}

/// Debian programs linked with libpcap.so.0.8 beyond tcpdump, reading
/// savefiles (the corpus and crafted edges): ngrep (matches, hex dump and
/// its own dump file), tcprewrite and tcpprep (pcap_dump_fopen), tcpslice
/// (pcap_file: it moves the stream and reads it itself), tcpflow
/// (pcap_fopen_offline), p0f, tcpstat, tcptrace (pcap_open_offline("-")
/// on a stdin it read and rewound), ssldump, tcpick, urlsnarf and dsniff
/// (libnids), tcpxtract, httpry, ipgrab, dnscap and softflowd: the same
/// output and files on both libraries (ettercap, whose own threads race
/// at the end of a file, is covered by `fidelity devs`: it frees entries
/// of pcap_findalldevs' list itself). The corpus: tests/data and
/// pcap/tests/data/sessions.pcap (HTTP, DNS, TLS, ICMP and refused TCP
/// between two hosts, captured by tcpdump).
#[test]
fn debian_programs_read_files_identically() {
    let dir = TempDir::new("fidelity-programs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(kit::root().join("tests/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sessions.pcap"));
    files.sort();
    let edges = crafted();
    for name in [
        "y2038",
        "y2038-big-endian",
        "link-fcs-4",
        "truncated-record-data",
    ] {
        let (_, bytes) = edges.iter().find(|(n, _)| *n == name).unwrap();
        let p = dir.path(&format!("{name}.pcap"));
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    }
    let runs: &[(&str, &[&str])] = &[
        (
            "ngrep",
            &["ngrep", "-I", "F", "-q", "-x", "-O", "out.pcap", ""],
        ),
        (
            "ngrep",
            &["ngrep", "-I", "F", "-t", "-W", "byline", "udp or arp"],
        ),
        ("tcprewrite", &["tcprewrite", "-i", "F", "-o", "out.pcap"]),
        (
            "tcpprep",
            &[
                "tcpprep",
                "--auto=bridge",
                "--pcap=F",
                "--cachefile=out.cache",
            ],
        ),
        ("tcpslice", &["tcpslice", "-w", "out.pcap", "F"]),
        ("tcpslice", &["tcpslice", "-w", "out.pcap", "+1", "+2", "F"]),
        ("tcpslice", &["tcpslice", "-r", "F"]),
        ("sh", &["sh", "-c", "tcpslice -w out.pcap - < F"]),
        ("tcpflow", &["tcpflow", "-r", "F", "-o", "flows"]),
        ("p0f", &["p0f", "-r", "F"]),
        // tcpstat loops for ever over a file whose time stamps go back
        // (2^31 s and more): the corpus only.
        ("tcpstat", &["tcpstat", "-r", "F", "1"]),
        ("tcptrace", &["tcptrace", "-l", "-r", "F"]),
        ("tcptrace", &["tcptrace", "-n", "--csv", "-l", "F"]),
        ("ssldump", &["ssldump", "-n", "-A", "-x", "-r", "F"]),
        ("tcpick", &["tcpick", "-r", "F", "-C", "-yP", "-wR"]),
        ("urlsnarf", &["urlsnarf", "-p", "F"]),
        ("dsniff", &["dsniff", "-p", "F"]),
        ("tcpxtract", &["tcpxtract", "-f", "F"]),
        ("httpry", &["httpry", "-r", "F"]),
        ("ipgrab", &["ipgrab", "-r", "F"]),
        ("dnscap", &["dnscap", "-r", "F", "-g"]),
        (
            "softflowd",
            &["softflowd", "-r", "F", "-n", "127.0.0.1:9", "-d"],
        ),
    ];
    let corpus = files.len() - 4;
    for (program, cmd) in runs {
        if !kit::have_or_skip(program) {
            continue;
        }
        let n = if *program == "tcpstat" {
            corpus
        } else {
            files.len()
        };
        for f in &files[..n] {
            let f = f.to_str().unwrap();
            let cmd: Vec<String> = cmd.iter().map(|a| a.replace("F", f)).collect();
            let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
            // tcptrace prints its own run time.
            same_in_dir(&dir, &[], &cmd, &["elapsed wallclock time"]);
        }
    }
    daemonlogger_writes_files_identically(&dir, &files);
}

/// daemonlogger reading a file and writing it again (`-R F -n out`): it
/// calls `ftell((FILE *)dumper)` on its pcap_dumper_t (libpcap's dumper is
/// the stream). The file it writes is named after the current second: the
/// one file each run writes, compared whatever its name.
fn daemonlogger_writes_files_identically(dir: &TempDir, files: &[PathBuf]) {
    if !kit::have_or_skip("daemonlogger") {
        return;
    }
    for f in files {
        let mut got = Vec::new();
        for dropin in [false, true] {
            let wd = dir.path(&format!("dl-{dropin}"));
            let _ = std::fs::remove_dir_all(&wd);
            std::fs::create_dir_all(&wd).unwrap();
            let mut c = Command::new("timeout");
            c.args(["60", "daemonlogger", "-R"])
                .arg(f)
                .args(["-l", ".", "-n", "out"])
                .current_dir(&wd);
            let o = on(dropin, c).output().unwrap();
            let written: Vec<Vec<u8>> = tree(&wd)
                .into_iter()
                .filter(|(n, _)| n.starts_with("out."))
                .map(|(_, b)| b)
                .collect();
            // Its output names the file (the second it was made).
            let text = |b: &[u8]| {
                let t = String::from_utf8_lossy(b);
                let mut parts = t.split("out.");
                let mut s = parts.next().unwrap_or("").to_owned();
                for p in parts {
                    s.push_str("out.N");
                    s.push_str(p.trim_start_matches(|c: char| c.is_ascii_digit()));
                }
                s
            };
            got.push((text(&o.stdout), text(&o.stderr), o.status.code(), written));
        }
        assert_eq!(got[1], got[0], "daemonlogger -R {}", f.display());
    }
}

/// A namespace of its own holding a veth end moved out of a [`Net`] (the
/// kernel answers ARP for its address there), deleted on drop.
struct Peer(String);

impl Peer {
    fn new(net: &Net, addr: &str) -> Peer {
        let p = Peer(format!("{}-peer", net.ns));
        kit::run("ip", &["netns", "add", &p.0]);
        net.ip(&["link", "set", &net.b, "netns", &p.0]);
        for args in [
            &["addr", "add", addr, "dev", &net.b][..],
            &["link", "set", &net.b, "up"],
        ] {
            kit::run("ip", &[&["-n", p.0.as_str()][..], args].concat());
        }
        p
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Debian programs capturing and sending live through the drop-in and
/// through libpcap, against a peer in another namespace: arping,
/// arp-scan and netdiscover (ARP requests injected, replies captured;
/// times masked; netdiscover sends on a handle of its own),
/// tcpreplay sending a file (what the peer receives, byte for byte) and
/// ngrep capturing what the peer replays.
#[test]
fn debian_programs_live_identically() {
    require!("tcpdump");
    let dir = TempDir::new("fidelity-live");
    let net = Net::new();
    net.ip(&["addr", "add", "10.9.0.1/24", "dev", &net.a]);
    let peer = Peer::new(&net, "10.9.0.2/24");
    let in_ns = ["ip", "netns", "exec", net.ns.as_str()];
    let in_peer = ["ip", "netns", "exec", peer.0.as_str()];
    if kit::have_or_skip("arping") {
        let cmd = ["arping", "-c", "3", "-I", &net.a, "10.9.0.2"];
        same_in_dir(&dir, &in_ns, &cmd, &["time=", "rtt "]);
    }
    if kit::have_or_skip("arp-scan") {
        let cmd = ["arp-scan", "-I", &net.a, "10.9.0.0/30"];
        same_in_dir(&dir, &in_ns, &cmd, &["Ending arp-scan"]);
    }
    if kit::have_or_skip("netdiscover") {
        // Two handles of one device in one process: one only sends (the
        // drop-in must not give it a share of the traffic), one reads the
        // replies. About 5 s each: netdiscover waits for late replies.
        let cmd = [
            "netdiscover",
            "-P",
            "-N",
            "-i",
            &net.a,
            "-r",
            "10.9.0.0/24",
            "-c",
            "1",
            "-s",
            "0",
        ];
        same_in_dir(&dir, &in_ns, &cmd, &[]);
    }
    let file = kit::root().join("tests/data/layers.pcap");
    let file = file.to_str().unwrap();
    if kit::have_or_skip("tcpreplay") {
        // What the peer receives (captured with the system's tcpdump),
        // without time stamps, for tcpreplay on each library.
        let mut got = Vec::new();
        for dropin in [false, true] {
            let cap = dir.path(&format!("rx-{dropin}.pcap"));
            let mut c = Command::new("ip");
            c.args(&in_peer[1..])
                .args(["tcpdump", "-i", &net.b, "-U", "-w"])
                .arg(&cap);
            let mut tcpdump = kit::spawn_piped(on(false, c));
            listening(&mut tcpdump);
            let mut c = Command::new("ip");
            c.args(&in_ns[1..])
                .args(["tcpreplay", "-t", "-i", &net.a, file]);
            let o = on(dropin, c).output().unwrap();
            let out = mask(
                &String::from_utf8_lossy(&o.stdout),
                &["Actual", "Rated", "Flows"],
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
            // SAFETY: a signal to our own child.
            unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
            let _ = tcpdump.wait();
            let mut r = Command::new("tcpdump");
            r.args(["-r"]).arg(&cap).args(["-nn", "-t", "-x"]);
            let frames = on(false, r).output().unwrap().stdout;
            got.push((out, String::from_utf8_lossy(&o.stderr).into_owned(), frames));
        }
        assert_eq!(got[1], got[0], "tcpreplay");
    }
    if kit::have_or_skip("ngrep") && kit::have("tcpreplay") {
        let mut got = Vec::new();
        for dropin in [false, true] {
            let mut c = Command::new("ip");
            c.args(&in_ns[1..])
                .args(["ngrep", "-l", "-d", &net.a, "-n", "12", "-q", "-x", ""]);
            let ngrep = kit::spawn_piped(on(dropin, c));
            net.wait_bound(&net.a, 1);
            let mut c = Command::new("ip");
            c.args(&in_peer[1..])
                .args(["tcpreplay", "-t", "-i", &net.b, file]);
            on(false, c).output().unwrap();
            let o = kit::output_within(ngrep, std::time::Duration::from_secs(20));
            got.push(shown_text(&o));
        }
        assert_eq!(got[1], got[0], "ngrep -d");
    }
}

/// Read tcpdump's stderr until it says "listening on" (its socket is
/// bound); panic with what it said if it exits first.
fn listening(c: &mut std::process::Child) {
    use std::io::BufRead;
    let mut err = std::io::BufReader::new(c.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut l = String::new();
        let n = err.read_line(&mut l).unwrap();
        assert!(n > 0, "tcpdump exited: {said}");
        said.push_str(&l);
        if l.contains("listening on") {
            return;
        }
    }
}

/// stdout, stderr and status of a finished program.
fn shown_text(o: &std::process::Output) -> (String, String, Option<i32>) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

/// Suricata reading a savefile: the same events (eve.json, in a sorted
/// order: flows are logged from several threads at shutdown; flow ids are
/// random; the stats events hold run times) and the same packet count.
#[test]
fn suricata_reads_files_identically() {
    if !kit::have_or_skip("suricata") {
        return;
    }
    let dir = TempDir::new("fidelity-suricata");
    // layers.pcap: IPv4, IPv6, VLAN, TCP, UDP, ICMP flows.
    for f in ["tests/data/layers.pcap"] {
        let f = kit::root().join(f);
        let mut got = Vec::new();
        for (dropin, tag) in [(false, "system"), (true, "dropin")] {
            let logs = dir.path(tag);
            let _ = std::fs::remove_dir_all(&logs);
            std::fs::create_dir_all(&logs).unwrap();
            let mut c = Command::new("timeout");
            c.args(["120", "suricata", "-k", "none", "-r"])
                .arg(&f)
                .arg("-l")
                .arg(&logs);
            let o = on(dropin, c).output().unwrap();
            assert!(
                o.status.success(),
                "suricata: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            let read = out
                .lines()
                .filter(|l| l.contains("pcap: read"))
                .collect::<Vec<_>>()
                .join("\n");
            let eve = std::fs::read_to_string(logs.join("eve.json")).unwrap();
            let mut events: Vec<String> = eve
                .lines()
                .filter(|l| !l.contains("\"event_type\":\"stats\""))
                .map(|l| {
                    let mut l = l.to_string();
                    if let Some(i) = l.find("\"flow_id\":") {
                        let end = l[i + 10..].find(',').map_or(l.len(), |e| i + 10 + e);
                        l.replace_range(i..end, "\"flow_id\":N");
                    }
                    l
                })
                .collect();
            events.sort();
            got.push((read, events));
        }
        assert!(!got[0].1.is_empty(), "no events from suricata");
        assert_eq!(got[1], got[0], "suricata -r {}", f.display());
    }
}
