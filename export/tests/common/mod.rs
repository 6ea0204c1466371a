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
