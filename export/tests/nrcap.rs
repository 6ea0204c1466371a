//! nrcap's records-out options (issue 24, item 2: `nrcap -F arrow|parquet
//! --records packets|flows`, `--ipfix`): build/bin/nrcap (a C tool on
//! libnetring.so, which stays free of the Arrow crates) translates its
//! options and execs nrexport, found through `$NETRING_NREXPORT`, next to
//! its own executable, or in `$PATH`; none: a message saying to run `make
//! export`, exit status 2. The conversions and captures through nrcap are
//! tested with the engines (engines.rs), nfcapd (ipfix.rs) and live
//! (formats.rs).

mod common;

use std::path::Path;
use std::process::Command;

use common::{TmpDir, fails_with, nrcap_path, run, with_capture};

/// A copy of build/bin/nrcap alone in `dir` (it finds libnetring.so.0
/// through its rpath), to run with no `NETRING_NREXPORT` and `PATH` =
/// `path`.
fn lone_nrcap(dir: &Path, path: &Path, args: &[&str]) -> Option<Command> {
    let bin = dir.join("nrcap");
    if !bin.exists() {
        std::fs::copy(nrcap_path()?, &bin).unwrap();
    }
    let mut c = Command::new(&bin);
    c.args(args)
        .env_remove("NETRING_NREXPORT")
        .env("PATH", path);
    Some(c)
}

/// Rows of an Arrow stream file, through arrow-rs.
fn arrow_rows(path: &Path) -> usize {
    let f = std::fs::File::open(path).unwrap();
    arrow_ipc::reader::StreamReader::try_new(f, None)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum()
}

#[test]
fn nrcap_finds_nrexport_or_says_what_to_run() {
    let (d, pcap) = with_capture("find", 2_000, 50, 3);
    let (lone, empty) = (d.join("lone"), d.join("empty"));
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::create_dir_all(&empty).unwrap();
    let out = d.join("pk.arrows");
    let args = [
        "-q",
        "-r",
        pcap.to_str().unwrap(),
        "-F",
        "arrow",
        "-w",
        out.to_str().unwrap(),
    ];
    // None anywhere: the documented message (naming where it looked),
    // exit status 2, no output.
    let Some(mut none) = lone_nrcap(&lone, &empty, &args) else {
        return;
    };
    fails_with(
        &mut none,
        2,
        &["none was found", "make export", lone.to_str().unwrap()],
    );
    assert!(!out.exists());
    // In $PATH.
    let bindir = d.join("bindir");
    std::fs::create_dir_all(&bindir).unwrap();
    let nrexport = env!("CARGO_BIN_EXE_nrexport");
    std::os::unix::fs::symlink(nrexport, bindir.join("nrexport")).unwrap();
    run(&mut lone_nrcap(&lone, &bindir, &args).unwrap());
    assert_eq!(arrow_rows(&out), 2_000);
    std::fs::remove_file(&out).unwrap();
    // Next to nrcap's own executable (as make export installs it), before
    // $PATH (here a directory with no nrexport).
    std::os::unix::fs::symlink(nrexport, lone.join("nrexport")).unwrap();
    run(&mut lone_nrcap(&lone, &empty, &args).unwrap());
    assert_eq!(arrow_rows(&out), 2_000);
    // $NETRING_NREXPORT first; one that is not a program is an error.
    let mut bad = lone_nrcap(&lone, &empty, &args).unwrap();
    bad.env("NETRING_NREXPORT", d.join("no-such-nrexport"));
    fails_with(&mut bad, 2, &["NETRING_NREXPORT=", "not an executable"]);
}

#[test]
fn nrcap_refuses_what_nrexport_cannot_do() {
    let Some(nrcap) = nrcap_path() else {
        return;
    };
    let d = TmpDir::new("refuse");
    let w = d.join("x.arrows");
    let w = w.to_str().unwrap();
    let nrexport = env!("CARGO_BIN_EXE_nrexport");
    for (args, named) in [
        (vec!["-r", "x.pcap", "-F", "arrow", "-w", w, "-v"], "-v"),
        (vec!["-i", "lo", "--records", "flows", "-W", "3"], "-W"),
        (
            vec!["-i", "lo", "--ipfix", "127.0.0.1:4739", "--immediate"],
            "--immediate",
        ),
        (
            vec!["-i", "lo", "-F", "parquet", "-w", w, "udp"],
            "a filter expression",
        ),
    ] {
        let mut c = Command::new(&nrcap);
        c.args(&args).env("NETRING_NREXPORT", nrexport);
        let err = fails_with(&mut c, 2, &[]);
        assert!(
            err.starts_with(&format!("nrcap: {named} cannot be combined")),
            "{args:?}: {err}"
        );
    }
    // nrexport's own checks speak for it once it runs.
    let mut c = Command::new(&nrcap);
    c.args(["-r", "x.pcap", "-F", "arrow"])
        .env("NETRING_NREXPORT", nrexport);
    fails_with(&mut c, 2, &["nrexport: -F needs -w OUT"]);
}
/// What a fresh clone has after the README's commands (`make test`
/// depends on `make export`): build/bin/nrcap finds build/bin/nrexport by
/// itself.
#[test]
fn the_installed_nrcap_runs_the_installed_nrexport() {
    let Some(nrcap) = nrcap_path() else {
        return;
    };
    if !netring_testkit::root().join("build/bin/nrexport").exists() {
        return common::skip("build/bin/nrexport (run `make export`)");
    }
    let (d, pcap) = with_capture("installed", 3_000, 100, 4);
    let out = d.join("pk.parquet");
    run(Command::new(nrcap)
        .args(["-q", "-r", pcap.to_str().unwrap(), "-F", "parquet"])
        .args(["-w", out.to_str().unwrap()])
        .env_remove("NETRING_NREXPORT"));
    let f = std::fs::File::open(&out).unwrap();
    let r = parquet::file::reader::SerializedFileReader::new(f).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(r.metadata().file_metadata().num_rows(), 3_000);
}
