//! The C hand-off from C (issue 24, item 4): export/tests/c/flow_arrow.c,
//! built against the installed prefix (build/prefix, made by `make`)
//! through pkg-config as strict C99, plainly, with AddressSanitizer +
//! UBSan, and run under valgrind: it meters a generated capture through
//! nr_flow_meter_*, takes the records through the Arrow C Data Interface,
//! checks the columns, releases, and every packet is in a record.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{TmpDir, gen_pcap, have, run, skip};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn build(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let prefix = root().join("build/prefix");
    if !prefix.join("lib/libnetring.so.0").exists() {
        skip("build/prefix (run `make` first)");
        return None;
    }
    let installed = std::fs::read_to_string(prefix.join("include/netring.h")).unwrap();
    let source = std::fs::read_to_string(root().join("include/netring.h")).unwrap();
    assert!(
        installed == source,
        "build/prefix is older than the sources: run `make` first"
    );
    let flags = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .args(["--cflags", "--libs", "netring"]));
    let out = root().join("target/ctests").join(name);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    run(Command::new("cc")
        .args([
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-O1",
        ])
        .args(extra)
        .arg(root().join("export/tests/c/flow_arrow.c"))
        .arg("-o")
        .arg(&out)
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display())));
    Some(out)
}

#[test]
fn a_c_program_takes_flow_records_through_the_arrow_c_data_interface() {
    let d = TmpDir::new("cflow");
    let pcap = d.join("gen.pcap");
    gen_pcap(&pcap, 30_000, 2_000, 13);
    let Some(plain) = build("flow_arrow", &[]) else {
        return;
    };
    let san = build(
        "flow_arrow-asan",
        &[
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
        ],
    )
    .unwrap();
    let p = pcap.to_str().unwrap();
    for bin in [&plain, &san] {
        let out = run(Command::new(bin).arg(p));
        eprint!("{}: {out}", bin.display());
        assert!(
            out.starts_with("flows ") && out.contains(" packets 30000 "),
            "{out}"
        );
    }
    if !have("valgrind") {
        return skip("valgrind");
    }
    let out = run(Command::new("valgrind")
        .args([
            "--error-exitcode=9",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "-q",
        ])
        .arg(&plain)
        .arg(p));
    eprint!("valgrind: {out}");
    assert!(out.contains(" packets 30000 "), "{out}");
}

/// The same records into pyarrow (`RecordBatch._import_from_c`) and DuckDB
/// from Python through ctypes on the installed libnetring.so: no Arrow
/// library in netring, no netring Python package.
#[test]
fn pyarrow_and_duckdb_import_the_c_export() {
    if !common::have_python(&["pyarrow", "duckdb"]) {
        return skip("python3 modules pyarrow, duckdb (scripts/deps.sh)");
    }
    let lib = root().join("build/prefix/lib/libnetring.so.0");
    if !lib.exists() {
        return skip("build/prefix (run `make` first)");
    }
    let d = TmpDir::new("pyarrow");
    let pcap = d.join("gen.pcap");
    gen_pcap(&pcap, 30_000, 2_000, 17);
    let out = run(Command::new("python3").args([
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cdata_pyarrow.py"),
        lib.to_str().unwrap(),
        pcap.to_str().unwrap(),
        "30000",
    ]));
    assert!(out.contains(" flows, 30000 packets"), "{out}");
}
