//! nrexport's records in the real engines (issue 24, item 3): a generated
//! capture with many flows (IPv4 and IPv6, TCP and UDP, VLAN-tagged and
//! not) converted to Arrow streams and Parquet files, packet rows and flow
//! rows; ClickHouse (embedded, chdb) ingests them with `INSERT ... FORMAT
//! ArrowStream` / `FORMAT Parquet`, DuckDB reads them; per-5-tuple packet
//! and byte counts from both equal tshark's count of the capture
//! (export/tests/engines.py).

mod common;

use std::process::Command;

use common::{TmpDir, gen_pcap, have, have_python, nrexport, nrexport_read, run, skip};

#[test]
fn chdb_and_duckdb_count_what_tshark_counts() {
    if !have_python(&["chdb", "duckdb", "pyarrow"]) {
        return skip("python3 modules chdb, duckdb, pyarrow (scripts/deps.sh)");
    }
    if !have("tshark") {
        return skip("tshark");
    }
    let d = TmpDir::new("engines");
    let pcap = d.join("gen.pcap");
    // 10^5 packets keep `make test` fast; NR_EXPORT_TEST_PACKETS=1000000
    // runs the issue's full size (a few minutes).
    let n = std::env::var("NR_EXPORT_TEST_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    gen_pcap(&pcap, n, 3_000, 24);
    let p = |s: &str| d.join(s).to_str().unwrap().to_string();
    let pcap_s = pcap.to_str().unwrap();
    for (fmt, rec, out, extra) in [
        ("arrow", "packets", p("pk.arrows"), vec![]),
        ("parquet", "packets", p("pk.parquet"), vec!["-C", "1"]),
        // Short idle/active timeouts: flows end in pieces, the sums still
        // match.
        (
            "arrow",
            "flows",
            p("fl.arrows"),
            vec!["--idle", "1", "--max-flows", "2000"],
        ),
        ("parquet", "flows", p("fl.parquet"), vec!["--active", "1"]),
    ] {
        run(nrexport()
            .args(["-q", "-r", pcap_s, "-F", fmt, "--records", rec, "-w", &out])
            .args(extra));
    }
    // -C 1: the packet rows span several files.
    let parts = std::fs::read_dir(&d.0)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("pk.0")
        })
        .count();
    assert!(parts >= 2, "-C 1 rotated into {parts} file(s)");
    let out = run(Command::new("python3").args([
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/engines.py"),
        pcap_s,
        &p("pk.arrows"),
        &p("pk.*.parquet"),
        &p("fl.arrows"),
        &p("fl.parquet"),
    ]));
    eprintln!("{out}");
    assert!(out.contains("engines: all counts equal"), "{out}");
}

/// The README's scale-out recipe, as far as one machine goes: two sensors
/// (two nrexport processes, each with its own capture) write rotated
/// Parquet files into one shared directory, at the same time; one
/// ClickHouse query over the directory sees both, per sensor (by file
/// name) exactly its own packets, and no half-written file on the way.
#[test]
fn two_sensors_one_directory_one_query() {
    if !have_python(&["chdb"]) {
        return skip("python3 module chdb (scripts/deps.sh)");
    }
    let d = TmpDir::new("scaleout");
    let shared = d.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let mut kids = vec![];
    for (sensor, n, seed) in [("sensor-a", 60_000u32, 1u64), ("sensor-b", 45_000, 2)] {
        let pcap = d.join(&format!("{sensor}.pcap"));
        gen_pcap(&pcap, n, 1_000, seed);
        let out = shared.join(format!("{sensor}.parquet"));
        kids.push(
            nrexport_read(&pcap, "parquet")
                .args(["-C", "1", "-w", out.to_str().unwrap()])
                .spawn()
                .unwrap(),
        );
    }
    for mut k in kids {
        assert!(k.wait().unwrap().success());
    }
    let q = format!(
        "import chdb\nprint(chdb.query(\"SELECT splitByChar('.', _file)[1] AS sensor, count() \
         FROM file('{}/*.parquet', Parquet) GROUP BY sensor ORDER BY sensor\", 'TSV'))",
        shared.display()
    );
    let out = run(Command::new("python3").args(["-c", &q]));
    assert_eq!(out.trim(), "sensor-a\t60000\nsensor-b\t45000", "{out}");
}
