//! Shared by the export crate's integration tests: a generated capture
//! with many flows, tool checks, the nrexport binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Skip a test for a missing tool, unless NR_TEST_STRICT is set (make
/// test: scripts/deps.sh installed every tool, so a skip is a failure).
pub fn skip(why: &str) {
    if std::env::var_os("NR_TEST_STRICT").is_some() {
        panic!(
            "cannot run: {why} (NR_TEST_STRICT: make test runs every test; see scripts/deps.sh)"
        );
    }
    eprintln!("skipped: {why}");
}

/// True when running as root; else a skip naming what needs it.
pub fn root_for(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip(&format!("root ({what})"));
    false
}

/// A network namespace with its loopback up; deleted on drop.
pub struct Ns(pub String);

impl Ns {
    pub fn new(tag: &str) -> Ns {
        let name = format!("nrx-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Ns(name);
        run(&mut ns.cmd("ip", &["link", "set", "lo", "up"]));
        ns
    }
    /// `prog args` inside the namespace.
    pub fn cmd(&self, prog: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, prog]).args(args);
        c
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// True when `python3 -c "import m"` works for every module.
pub fn have_python(modules: &[&str]) -> bool {
    let code = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    Command::new("python3")
        .args(["-c", &code])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when `cmd` runs.
pub fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("-v").output().is_ok()
        || Command::new(cmd).arg("--version").output().is_ok()
}

/// Run, panic with the output on failure; stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The nrexport binary of this crate.
pub fn nrexport() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nrexport"))
}

/// `nrexport -q -r PCAP -F FORMAT`: reading a capture quietly; the
/// caller adds the rest.
pub fn nrexport_read(pcap: &Path, format: &str) -> Command {
    let mut c = nrexport();
    c.args(["-q", "-r", pcap.to_str().unwrap(), "-F", format]);
    c
}

/// A fresh directory, removed on drop.
pub struct TmpDir(pub PathBuf);

impl TmpDir {
    pub fn new(tag: &str) -> TmpDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("nr-export-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TmpDir(d)
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

/// A fresh directory (`tag` in its name) holding gen.pcap, [`gen_pcap`]'s
/// capture of `packets` packets in `flows` flows.
pub fn with_capture(tag: &str, packets: u32, flows: u32, seed: u64) -> (TmpDir, PathBuf) {
    let d = TmpDir::new(tag);
    let pcap = d.join("gen.pcap");
    gen_pcap(&pcap, packets, flows, seed);
    (d, pcap)
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// [`netring_export::testdata::gen_pcap`], panicking on an error.
pub fn gen_pcap(path: &Path, packets: u32, flows: u32, seed: u64) {
    netring_export::testdata::gen_pcap(path, packets, flows, seed).unwrap()
}

/// build/bin/nrcap (made by `make`), checked to be newer than its source;
/// None after a skip when it was not built.
pub fn nrcap_path() -> Option<String> {
    let root = netring_testkit::root();
    let bin = root.join("build/bin/nrcap");
    let Ok(built) = std::fs::metadata(&bin).and_then(|m| m.modified()) else {
        skip("build/bin/nrcap (run `make` first)");
        return None;
    };
    let src = std::fs::metadata(root.join("c-examples/nrcap.c"))
        .and_then(|m| m.modified())
        .unwrap();
    assert!(
        built >= src,
        "build/bin/nrcap is older than c-examples/nrcap.c: run `make` first"
    );
    Some(bin.to_str().unwrap().to_owned())
}

/// `build/bin/nrcap ARGS` (inside `ns` if given) as a user runs it for
/// records out (-F arrow|parquet, --records, --ipfix), running this
/// crate's nrexport through `NETRING_NREXPORT`: the nrexport of these
/// sources, where build/bin/nrexport (`make export`) may be older. None
/// after a skip when nrcap was not built.
pub fn nrcap(ns: Option<&Ns>, args: &[&str]) -> Option<Command> {
    let bin = nrcap_path()?;
    let mut c = match ns {
        Some(ns) => ns.cmd(&bin, args),
        None => {
            let mut c = Command::new(&bin);
            c.args(args);
            c
        }
    };
    c.env("NETRING_NREXPORT", env!("CARGO_BIN_EXE_nrexport"));
    Some(c)
}

/// A child process, killed (if still running) and reaped on drop: no
/// capture outlives a failed test.
pub struct Kid(pub std::process::Child);

impl Kid {
    /// Wait up to `secs` for the exit; panics (the drop kills) after that.
    pub fn wait_for(&mut self, secs: u64, what: &str) -> std::process::ExitStatus {
        let t0 = std::time::Instant::now();
        loop {
            if let Some(st) = self.0.try_wait().unwrap() {
                return st;
            }
            assert!(
                t0.elapsed().as_secs() < secs,
                "{what} did not exit within {secs} s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Send `sig` to the child.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child this test spawned and has
        // not reaped yet.
        unsafe { libc::kill(self.0.id() as i32, sig) };
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An Ethernet + IPv4 + UDP frame from 10.0.0.1:`sport` to 10.0.0.2:`dport`
/// with `payload` bytes of payload (a valid IP header checksum).
pub fn udp4_frame(sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let ip_len = 20 + 8 + payload;
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0x6e, 0x72, 0x00, 0x00, 0x01, 0x08, 0x00]);
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    let sum = netring_testkit::ip_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(14 + ip_len, 0x61);
    f
}

/// Run `cmd`, expecting exit status `code` and every one of `needles` in
/// its stderr; the stderr.
pub fn fails_with(cmd: &mut Command, code: i32, needles: &[&str]) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{cmd:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{cmd:?}: no '{n}' in: {err}");
    }
    err
}
