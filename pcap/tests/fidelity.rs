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
        let link = dir.join("libpcap.so.0.8");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(deps.join("libpcap.so"), &link).unwrap();
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
    let exe = exe.to_str().unwrap();
    for f in &files {
        let f = f.to_str().unwrap();
        same(&dir, &[exe, "read", f, "OUT"], None);
        same(&dir, &[exe, "read", f, "nano", "OUT"], None);
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
/// devices served by netring and by the real libpcap; then the same
/// without privileges (libpcap's "socket: Operation not permitted" first,
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
        // Every call before and after activation.
        ["api", &net.a],
        ["api", "any"],
    ] {
        same(&dir, &[&in_ns[..], &[exe], &a[..]].concat(), None);
    }
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
