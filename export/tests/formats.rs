//! nrexport's outputs beyond the engines test: a full disk during a
//! Parquet write (a clear error, every file left readable by DuckDB), time
//! rotation, an Arrow stream on stdout through a pipe, flow records at a
//! table's limit (evictions counted, counts exact), live captures into an
//! Arrow stream (nrexport -i, and nrcap -i -F arrow, which runs nrexport).

mod common;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{
    Kid, Ns, TmpDir, fails_with, have_python, nrcap, nrexport, nrexport_read, root_for, run, skip,
    udp4_frame, with_capture,
};
use netring_testkit::Net;

/// A tmpfs of `kib` KiB on a fresh directory; unmounted on drop.
struct SmallFs(PathBuf);

impl SmallFs {
    fn new(kib: u32) -> SmallFs {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("nr-export-tmpfs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("mount").args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={kib}k,mode=0700"),
            "nr-export-full",
            dir.to_str().unwrap(),
        ]));
        SmallFs(dir)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let c = CString::new(self.0.to_str().unwrap()).unwrap();
        // SAFETY: umount2 on a NUL-terminated path this test mounted.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Rows DuckDB reads from each file (panics if any is unreadable).
fn duckdb_rows(files: &[PathBuf]) -> Vec<u64> {
    let code = "import sys, duckdb\nfor f in sys.argv[1:]:\n    print(duckdb.sql(f\"SELECT count(*) FROM read_parquet('{f}')\").fetchall()[0][0])";
    let mut c = Command::new("python3");
    c.args(["-c", code]).args(files);
    run(&mut c).lines().map(|l| l.parse().unwrap()).collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn need_duckdb() -> bool {
    if have_python(&["duckdb", "pyarrow"]) {
        return true;
    }
    skip("python3 modules duckdb, pyarrow (scripts/deps.sh)");
    false
}

#[test]
fn a_full_disk_leaves_only_complete_parquet_files() {
    if !need_duckdb() || !root_for("mount a tmpfs") {
        return;
    }
    let (_d, pcap) = with_capture("full", 100_000, 3_000, 7);
    // 100,000 rows of Parquet take ~2.6 MB: the first file (one batch of
    // 65,536 rows, ~1.7 MB, then -C 1 rotates) fits, the second does not.
    let fs = SmallFs::new(2000);
    let out = fs.0.join("pk.parquet");
    let err = fails_with(
        nrexport_read(&pcap, "parquet").args(["-w", out.to_str().unwrap(), "-C", "1"]),
        1,
        &["disk full", "unfinished file was removed"],
    );
    eprintln!("nrexport said: {err}");
    let files = files_in(&fs.0);
    assert!(
        !files.is_empty(),
        "some files were complete before the disk filled: {err}"
    );
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "parquet")),
        "no partial file left: {files:?}"
    );
    let rows = duckdb_rows(&files);
    assert!(rows.iter().all(|&n| n > 0), "{rows:?}");
    assert!(rows.iter().sum::<u64>() < 100_000);
}

#[test]
fn time_rotation_and_a_stream_on_stdout() {
    if !need_duckdb() {
        return;
    }
    // 300,000 packets 10 us apart: 3 s of record time; -G 1 rotates by
    // record time, so 3 files.
    let (d, pcap) = with_capture("rot", 300_000, 500, 9);
    let out = d.join("pk.parquet");
    run(nrexport_read(&pcap, "parquet").args(["-w", out.to_str().unwrap(), "-G", "1"]));
    let files: Vec<_> = files_in(&d.0)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        .collect();
    let rows = duckdb_rows(&files);
    assert!(files.len() >= 3, "{files:?}");
    assert_eq!(rows.iter().sum::<u64>(), 300_000);
    // The Arrow stream on stdout, through a pipe into pyarrow.
    let mut child = nrexport_read(&pcap, "arrow")
        .args(["--records", "flows", "-w", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys, pyarrow.ipc as i; t = i.open_stream(sys.stdin.buffer).read_all(); \
             print(t.num_rows, sum(t['packets_fwd'].to_pylist()) + sum(t['packets_rev'].to_pylist()))",
        ])
        .stdin(child.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let s = String::from_utf8_lossy(&py.stdout);
    let v: Vec<u64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(v.len(), 2, "{s} {}", String::from_utf8_lossy(&py.stderr));
    assert_eq!(v[1], 300_000, "every packet in a flow row");
}

#[test]
fn a_flow_table_at_its_limit_counts_evictions_and_loses_no_packet() {
    let (d, pcap) = with_capture("evict", 50_000, 2_000, 11);
    let o = nrexport()
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-F",
            "arrow",
            "--records",
            "flows",
            "--max-flows",
            "100",
        ])
        .args(["-w", d.join("f.arrows").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let evicted: u64 = err
        .split("created, ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no eviction count in: {err}"));
    assert!(evicted > 10_000, "{err}");
    // Every packet is in some row.
    let mut r = netring_engine::pcapfile::Reader::open(d.join("f.arrows")).err();
    assert!(r.take().is_some(), "an Arrow stream is not a pcap");
    let f = std::fs::File::open(d.join("f.arrows")).unwrap();
    let rd = arrow_ipc::reader::StreamReader::try_new(f, None).unwrap();
    let mut n = 0u64;
    for b in rd {
        let b = b.unwrap();
        for c in ["packets_fwd", "packets_rev"] {
            let a = b.column_by_name(c).unwrap();
            let a = a
                .as_any()
                .downcast_ref::<arrow_array::UInt64Array>()
                .unwrap();
            n += a.iter().map(|x| x.unwrap()).sum::<u64>();
        }
    }
    assert_eq!(n, 50_000);
}

/// Live: nrexport -i on the loopback of a namespace of the test's own
/// captures datagrams the test sends there, into an Arrow stream with the
/// exact count and lengths (lo shows each datagram once).
#[test]
fn live_capture_into_an_arrow_stream() {
    if !need_duckdb() || !root_for("network namespaces") {
        return;
    }
    let ns = Ns::new("live");
    let d = TmpDir::new("live");
    let out = d.join("live.arrows");
    let mut child = ns
        .cmd(
            env!("CARGO_BIN_EXE_nrexport"),
            &["-q", "-i", "lo", "-c", "20"],
        )
        .args(["-F", "arrow", "-w", out.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Datagrams of 30 bytes every 5 ms until nrexport has its 20 (a
    // receiver is bound, so no ICMP unreachable adds packets; the first
    // ones may go before nrexport's socket is bound: it counts from there).
    let stop = d.join("stop");
    let send = format!(
        "import socket, time, os\nr = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         r.bind(('127.0.0.1', 9999))\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for i in range(4000):\n    if os.path.exists('{}'): break\n    \
         s.sendto(b'x' * 30, ('127.0.0.1', 9999))\n    time.sleep(0.005)",
        stop.display()
    );
    let mut sender = ns.cmd("python3", &["-c", &send]).spawn().unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed().as_secs() > 20 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nrexport did not see its 20 packets in 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::fs::write(&stop, b"").unwrap();
    assert!(sender.wait().unwrap().success());
    assert!(status.success());
    let q = format!(
        "import pyarrow.ipc as i\nt = i.open_stream('{}').read_all()\n\
         print(t.num_rows, sum(1 for p in t['dst_port'].to_pylist() if p == 9999), \
         sum(t['len'].to_pylist()))",
        out.display()
    );
    let r = run(Command::new("python3").args(["-c", &q]));
    // 20 datagrams of 30 bytes: each 14 + 20 + 8 + 30 on the wire.
    assert_eq!(r.trim(), format!("20 20 {}", 20 * 72), "{r}");
}

/// Live through nrcap: `nrcap --netns NS -i IFACE -s 60 -c 500 -F arrow -w
/// OUT` (build/bin/nrcap, which runs nrexport with the same options) on a
/// veth of a namespace of the test's own; the test sends exactly 500 UDP
/// datagrams of 100 bytes on the wire, the stream holds exactly those 500
/// rows: wire lengths, captured lengths cut at the snaplen, the
/// interface's index, the ports.
#[test]
fn live_capture_through_nrcap_into_an_arrow_stream() {
    if !need_duckdb() || !root_for("network namespaces") || nrcap(None, &[]).is_none() {
        return;
    }
    let net = Net::new();
    let d = TmpDir::new("nrcap-live");
    let out = d.join("live.arrows");
    let args = [
        "--netns",
        &net.ns,
        "-i",
        &net.a,
        "-s",
        "60",
        "-c",
        "500",
        "-q",
        "-F",
        "arrow",
        "-w",
        out.to_str().unwrap(),
    ];
    let mut kid = Kid(nrcap(None, &args).unwrap().spawn().unwrap());
    net.wait_packet_socket();
    let tx = net.sender(&net.b);
    for i in 0..500u16 {
        tx.send(&udp4_frame(30_000 + i % 7, 4000, 100 - 42));
    }
    assert!(kid.wait_for(20, "nrcap -c 500").success());
    let q = format!(
        "import pyarrow.ipc as i\nt = i.open_stream('{}').read_all()\n\
         print(t.num_rows, sum(t['len'].to_pylist()), set(t['caplen'].to_pylist()), \
         set(t['ifindex'].to_pylist()), sum(1 for p in t['dst_port'].to_pylist() if p == 4000), \
         len(set(t['src_port'].to_pylist())))",
        out.display()
    );
    let r = run(Command::new("python3").args(["-c", &q]));
    let want = format!("500 50000 {{60}} {{{}}} 500 7", net.ifindex(&net.a));
    assert_eq!(r.trim(), want, "{r}");
}
