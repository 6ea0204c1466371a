//! The C hand-off from C (issue 24, item 4): export/tests/c/flow_arrow.c,
//! built against the installed prefix (build/prefix, made by `make`)
//! through pkg-config as strict C99, plainly, with AddressSanitizer +
//! UBSan, and run under valgrind: it meters a generated capture through
//! nr_flow_meter_*, takes the records through the Arrow C Data Interface,
//! checks the columns, releases, and every packet is in a record.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{have, run, skip, with_capture};
use netring_testkit::{cbuild, root};

/// export/tests/c/flow_arrow.c built plainly and with the sanitizers
/// (testkit's strict C99 variants); None: skipped, no build/prefix.
fn build() -> Option<[PathBuf; 2]> {
    if !root().join("build/prefix/lib/libnetring.so.0").exists() {
        skip("build/prefix (run `make` first)");
        return None;
    }
    let built = cbuild::variants("export/tests/c/flow_arrow.c");
    Some(built.try_into().expect("a plain and a sanitized build"))
}

#[test]
fn a_c_program_takes_flow_records_through_the_arrow_c_data_interface() {
    let (_d, pcap) = with_capture("cflow", 30_000, 2_000, 13);
    let Some([plain, san]) = build() else {
        return;
    };
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
    let (_d, pcap) = with_capture("pyarrow", 30_000, 2_000, 17);
    let out = run(Command::new("python3").args([
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cdata_pyarrow.py"),
        lib.to_str().unwrap(),
        pcap.to_str().unwrap(),
        "30000",
    ]));
    assert!(out.contains(" flows, 30000 packets"), "{out}");
}
