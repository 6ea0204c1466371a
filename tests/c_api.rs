//! The C API, tested from C: programs in tests/c/ and c-examples/ are built
//! against the installed prefix (build/prefix, made by `make`) through
//! pkg-config, plainly and with AddressSanitizer + UBSan, and run against
//! real traffic on throwaway veth pairs.

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::Duration;

#[path = "common/cmd.rs"]
mod cmd;
use cmd::run_ok;

use netring_testkit::cbuild::{STRICT_C, bin, build, pkg_config, prefix, root, variants};
use netring_testkit::{
    Net, OTHER_MAC, Receiver, Sender, frame, ip_checksum, output_of, spawn_piped, tcpdump_packets,
    tool,
};

/// `nm -D --defined-only` of the installed libnetring.so.0.
fn nm_defined() -> String {
    let out = run_ok(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(prefix().join("lib/libnetring.so.0")),
        "nm",
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn header_compiles_as_c99_and_cxx_with_warnings_as_errors() {
    let inc = prefix().join("include");
    let tu = root().join("target/ctests/header_c99.c");
    std::fs::create_dir_all(tu.parent().unwrap()).unwrap();
    std::fs::write(
        &tu,
        "#include <netring.h>\nint main(void) { return nr_strerror(NR_OK) == 0; }\n",
    )
    .unwrap();
    for (compiler, std, src) in [
        ("cc", "-std=c99", tu.clone()),
        ("c++", "-std=c++11", root().join("tests/c/header_cxx.cpp")),
        ("c++", "-std=c++20", root().join("tests/c/header_cxx.cpp")),
    ] {
        run_ok(
            Command::new(compiler)
                .args([
                    std,
                    "-pedantic",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-fsyntax-only",
                    "-I",
                ])
                .arg(&inc)
                .arg(&src),
            &format!("{compiler} {std}"),
        );
    }
}

#[test]
fn c_api_contract() {
    for bin in variants("tests/c/test_api.c") {
        let (ok, out, err) = output_of(spawn_piped(Command::new(&bin)));
        assert!(
            ok && out.contains("RESULT ok"),
            "{}:\n{out}\n{err}",
            bin.display()
        );
    }
}

#[test]
fn c_api_links_statically() {
    let libs = pkg_config(&["--static", "--libs"]);
    // Force the archive: name it instead of -lnetring.
    let mut link: Vec<String> = libs.into_iter().filter(|a| a != "-lnetring").collect();
    link.insert(0, prefix().join("lib/libnetring.a").display().to_string());
    let bin = build(
        &root().join("tests/c/test_api.c"),
        "test_api-static",
        "cc",
        STRICT_C,
        &link,
    );
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ldd.stdout).contains("libnetring"),
        "linked dynamically"
    );
    let (ok, out, err) = output_of(spawn_piped(Command::new(&bin)));
    assert!(ok && out.contains("RESULT ok"), "{out}\n{err}");
}

fn test_frame_len(k: u32) -> usize {
    if k == 1 {
        1514
    } else {
        60 + (k as usize * 97) % 1455
    }
}

#[test]
fn c_capture_receives_every_frame_byte_exact() {
    for bin in variants("tests/c/test_capture.c") {
        let net = Net::new();
        const N: u32 = 3000;
        let mut child = spawn_piped(
            net.command(bin.to_str().unwrap())
                .args([net.a.as_str(), &N.to_string()]),
        );
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "{}", bin.display());
        let tx = net.sender(&net.b);
        for k in 0..N {
            tx.send(&frame(test_frame_len(k), k, OTHER_MAC));
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let (ok, _, err) = output_of(child);
        assert!(ok, "{}: {rest}\n{err}", bin.display());
        assert!(
            rest.contains(&format!("RESULT packets={N} bad=0 drops=0 failures=0")),
            "{rest}\n{err}"
        );
    }
}

/// nrcap on `net.a` stopping after `n` packets (quiet, a 4 MiB ring),
/// with `extra` arguments, once its socket is bound.
fn nrcap_counting(net: &Net, n: u32, extra: &[&str]) -> std::process::Child {
    let n = n.to_string();
    let mut args = vec!["-i", &net.a, "-c", &n, "-q", "-B", "256", "-n", "16"];
    args.extend_from_slice(extra);
    let child = spawn_piped(net.command(&bin("nrcap")).args(&args));
    net.wait_packet_socket();
    child
}

#[test]
fn nrcap_counts_exactly_what_an_independent_sender_sent() {
    let net = Net::new();
    const N: u32 = 5000;
    let child = nrcap_counting(&net, N, &[]);
    let tx = net.sender(&net.b);
    for k in 0..N {
        tx.send(&frame(if k % 2 == 0 { 60 } else { 1514 }, k, OTHER_MAC));
    }
    let (ok, _, err) = output_of(child);
    assert!(ok, "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("RESULT"))
            .collect::<Vec<_>>(),
        vec![format!("RESULT packets={N} drops=0")]
    );
}

/// nrcap --immediate --latency (the TPACKET_V2 frame ring): every frame
/// counted, and a LATENCY line for all of them (its numbers are measured
/// by bench/latency.sh; here only bounded by a second).
#[test]
fn nrcap_immediate_counts_every_frame_and_reports_its_latency() {
    let net = Net::new();
    const N: u32 = 200;
    let child = spawn_piped(net.command(&bin("nrcap")).args([
        "-i",
        &net.a,
        "-c",
        &N.to_string(),
        "-q",
        "--immediate",
        "--latency",
        "-B",
        "256",
        "-n",
        "4",
    ]));
    net.wait_packet_socket();
    let tx = net.sender(&net.b);
    for k in 0..N {
        tx.send(&frame(60, k, OTHER_MAC));
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    let (ok, _, err) = output_of(child);
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!("RESULT packets={N} drops=0")),
        "{err}"
    );
    let lat = err
        .lines()
        .find(|l| l.starts_with("LATENCY"))
        .unwrap_or_else(|| panic!("{err}"));
    let max: f64 = lat
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("max_us="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{lat}"));
    assert!(lat.contains(&format!("n={N} ")), "{lat}");
    assert!(max < 1e6, "{lat}");
}

/// The README's first program: hello.c captures exactly what arrives and
/// prints one line per packet with its real size.
#[test]
fn hello_example_captures_what_was_sent() {
    let net = Net::new();
    const N: u32 = 10;
    let child = spawn_piped(
        net.command(&bin("hello"))
            .args([net.a.as_str(), &N.to_string()]),
    );
    net.wait_packet_socket();
    let tx = net.sender(&net.b);
    for k in 0..N {
        tx.send(&frame(test_frame_len(k), k, OTHER_MAC));
    }
    let (ok, out, err) = output_of(child);
    assert!(ok, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    let want: Vec<String> = (0..N)
        .map(|k| {
            let len = test_frame_len(k);
            format!("packet {}: {len} bytes ({len} on the wire)", k + 1)
        })
        .collect();
    assert_eq!(lines, want, "{err}");
}

#[test]
fn nrcap_prints_lines_and_stops_on_sigint() {
    let net = Net::new();
    let child = spawn_piped(
        net.command(&bin("nrcap"))
            .args(["-i", &net.a, "-B", "64", "-n", "8"]),
    );
    net.wait_packet_socket();
    let tx = net.sender(&net.b);
    for k in 0..10 {
        tx.send(&frame(60, k, OTHER_MAC));
    }
    std::thread::sleep(Duration::from_millis(300));
    // `ip netns exec` execs the program, so the child pid is nrcap's.
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (ok, out, err) = output_of(child);
    assert!(ok, "{err}");
    assert!(err.contains("RESULT packets=10 drops=0"), "{err}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("ethertype 0x88b5"))
            .count(),
        10,
        "{out}"
    );
    assert!(
        out.contains("02:6e:72:00:00:01 > 02:cb:00:00:00:ff"),
        "{out}"
    );
}

#[test]
fn nrcap_unknown_interface_fails_and_names_it() {
    let out = Command::new(bin("nrcap"))
        .args(["-i", "nr-nosuch0", "-q"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'nr-nosuch0'"), "{err}");
}

#[allow(dead_code)]
fn unused(_: Sender) {}

#[test]
fn c_capture_files_round_trip() {
    for bin in variants("tests/c/pcapfile.c") {
        let dir = root().join(format!(
            "target/ctests/pcapfile-{}",
            bin.file_name().unwrap().to_str().unwrap()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (ok, out, err) = output_of(spawn_piped(Command::new(&bin).arg(&dir)));
        assert!(ok, "{}:\n{out}\n{err}", bin.display());
    }
}

/// nrcap -w: files that independent readers open without complaint, with the
/// exact frames; nrcap -r reads them back through the same batch API.
#[test]
fn nrcap_writes_files_independent_readers_accept_and_reads_them_back() {
    const N: u32 = 2000;
    for format in ["pcap", "pcap-ns", "pcapng"] {
        let net = Net::new();
        let dir = root().join("target/ctests");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("nrcap-{}-{format}.file", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let file_arg = file.to_str().unwrap();
        let child = nrcap_counting(&net, N, &["-F", format, "-w", file_arg]);
        let tx = net.sender(&net.b);
        let frames: Vec<Vec<u8>> = (0..N)
            .map(|k| {
                frame(
                    if k % 3 == 0 {
                        1514
                    } else {
                        60 + k as usize % 900
                    },
                    k,
                    OTHER_MAC,
                )
            })
            .collect();
        for f in &frames {
            tx.send(f);
        }
        let (ok, _, err) = output_of(child);
        assert!(
            ok && err.contains(&format!("RESULT packets={N} drops=0")),
            "{format}: {err}"
        );

        // Byte-exact, through netring's reader.
        let mut r = netring::pcapfile::Reader::open(&file).unwrap();
        let mut got = Vec::new();
        while let Some(b) = r.next_batch().unwrap() {
            got.extend(b.iter().map(|p| p.data().to_vec()));
        }
        assert!(
            got == frames,
            "{format}: file content differs from what was sent"
        );

        // Independent readers: same count, nothing on stderr but tcpdump's banner.
        let path = file.to_str().unwrap();
        let (out, complaints) = tool("tcpdump", ["-nn", "-r", path]);
        assert_eq!(tcpdump_packets(&out), N as usize, "{format}: tcpdump");
        assert!(
            complaints.is_empty(),
            "{format}: tcpdump said {complaints:?}"
        );
        let (out, complaints) = tool("tshark", ["-n", "-r", path]);
        assert_eq!(out.lines().count(), N as usize, "{format}: tshark count");
        assert!(
            complaints.is_empty(),
            "{format}: tshark said {complaints:?}"
        );

        // nrcap -r prints the same RESULT line and one line per packet.
        let rd = Command::new(bin("nrcap"))
            .arg("-r")
            .arg(&file)
            .output()
            .unwrap();
        assert!(rd.status.success());
        assert!(
            String::from_utf8_lossy(&rd.stderr).contains(&format!("RESULT packets={N} drops=0"))
        );
        assert_eq!(
            String::from_utf8_lossy(&rd.stdout)
                .lines()
                .filter(|l| l.contains("ethertype 0x88b5"))
                .count(),
            N as usize
        );
        let _ = std::fs::remove_file(&file);
    }
}

#[test]
fn nrcap_reads_files_written_by_tcpdump_and_converts_them() {
    let data = root().join("tests/data");
    for name in ["tcpdump.pcap", "editcap.pcapng", "mergecap-2if.pcapng"] {
        let src = data.join(name);
        let n = tcpdump_packets(&tool("tcpdump", ["-nn", "-r", src.to_str().unwrap()]).0);
        assert!(n > 0, "{name}: tcpdump sees no packets");
        let out = root().join(format!(
            "target/ctests/conv-{}-{name}.pcapng",
            std::process::id()
        ));
        let rd = run_ok(
            Command::new(bin("nrcap"))
                .args(["-q", "-F", "pcapng", "-r"])
                .arg(&src)
                .arg("-w")
                .arg(&out),
            name,
        );
        assert!(
            String::from_utf8_lossy(&rd.stderr).contains(&format!("RESULT packets={n} drops=0")),
            "{name}"
        );
        let conv = tool("tcpdump", ["-nn", "-r", out.to_str().unwrap()]).0;
        assert_eq!(tcpdump_packets(&conv), n, "{name}: converted file");
        let _ = std::fs::remove_file(&out);
    }
}

#[test]
fn nrcap_rejects_a_corrupt_file_with_its_offset() {
    let file = root().join(format!("target/ctests/corrupt-{}.pcap", std::process::id()));
    let mut bytes = std::fs::read(root().join("tests/data/tcpdump.pcap")).unwrap();
    // Claim an absurd captured length in the first record header.
    bytes[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    std::fs::write(&file, &bytes).unwrap();
    let rd = Command::new(bin("nrcap"))
        .args(["-q", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&rd.stderr);
    assert!(!rd.status.success(), "{err}");
    assert!(err.contains("offset"), "{err}");
    let _ = std::fs::remove_file(&file);
}

/// The header is the contract: every function it declares is exported by
/// the shared library, and the library exports nothing else.
#[test]
fn header_declares_exactly_the_exported_functions() {
    let header = std::fs::read_to_string(prefix().join("include/netring.h")).unwrap();
    let mut declared: Vec<String> = header
        .lines()
        .filter(|l| {
            !l.starts_with(' ')
                && !l.starts_with('#')
                && !l.starts_with("typedef")
                && l.ends_with(");")
        })
        .filter_map(|l| {
            let name_end = l.find('(')?;
            let name = l[..name_end].rsplit([' ', '*']).next()?;
            name.starts_with("nr_").then(|| name.to_owned())
        })
        .collect();
    declared.sort();
    let nm = nm_defined();
    let mut exported: Vec<String> = nm
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, kind, name) = (f.next()?, f.next()?, f.next()?);
            (kind == "T").then(|| name.to_owned())
        })
        .collect();
    exported.sort();
    assert!(
        declared.len() >= 60,
        "only {} declarations found in the header",
        declared.len()
    );
    assert_eq!(
        declared, exported,
        "header declarations and exported symbols differ"
    );
}

/// The C API crate is the only one that exports: `libnetring.so.0` defines
/// `nr_*` names and nothing else (no engine or Rust symbol), and the engine
/// crate declares no `#[no_mangle]` item that could leak into any library
/// built on it (the libpcap-compatible one included).
#[test]
fn only_nr_symbols_are_exported_and_the_engine_exports_none() {
    let nm = nm_defined();
    let names: Vec<String> = nm
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    assert!(names.len() >= 60, "only {} symbols: {names:?}", names.len());
    let foreign: Vec<&String> = names.iter().filter(|n| !n.starts_with("nr_")).collect();
    assert!(foreign.is_empty(), "exported beyond nr_*: {foreign:?}");

    fn scan(dir: &std::path::Path, hits: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                scan(&p, hits);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for (i, l) in text.lines().enumerate() {
                    let t = l.trim_start();
                    if !t.starts_with("//")
                        && (t.contains("no_mangle") || t.contains("export_name"))
                    {
                        hits.push(format!("{}:{}: {t}", p.display(), i + 1));
                    }
                }
            }
        }
    }
    let mut hits = Vec::new();
    scan(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/src"),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "the engine crate must export nothing: {hits:?}"
    );
}

/// Run the sending tool `name ARGS` in `net` to its end (it must report
/// "RESULT sent=N"); the frames `rx` saw, waiting 500 ms after the N-th
/// for any extra.
fn sent_frames(net: &Net, rx: &Receiver, name: &str, args: &[&str], n: usize) -> Vec<Vec<u8>> {
    let (ok, _, err) = output_of(spawn_piped(net.command(&bin(name)).args(args)));
    assert!(
        ok && err.contains(&format!("RESULT sent={n}")),
        "{name}: {err}"
    );
    let quiet = Duration::from_millis(500);
    rx.frames(n, quiet, Duration::from_secs(10), |_| true)
}

/// nrsend: the frames an independent receiver sees on the peer are the
/// valid Ethernet/IPv4/UDP frames nrsend promises, and exactly as many as its
/// RESULT line says.
#[test]
fn nrsend_frames_arrive_on_the_peer_valid_and_counted() {
    let net = Net::new();
    let rx = net.receiver(&net.b);
    const N: usize = 3000;
    for len in [60usize, 1514] {
        let (n, l) = (N.to_string(), len.to_string());
        let args = [
            "-i",
            &net.a,
            "-n",
            &n,
            "-l",
            &l,
            "--dst",
            "02:cb:00:00:00:ff",
        ];
        let got = sent_frames(&net, &rx, "nrsend", &args, N);
        assert_eq!(got.len(), N, "{len}-byte frames counted on the peer");
        let f = &got[0];
        assert_eq!(f.len(), len);
        assert_eq!(&f[..6], &[0x02, 0xcb, 0, 0, 0, 0xff], "destination MAC");
        assert_eq!(&f[12..14], &[0x08, 0x00], "IPv4");
        let ip = &f[14..34];
        assert_eq!(ip[0], 0x45);
        assert_eq!(
            usize::from(u16::from_be_bytes([ip[2], ip[3]])),
            len - 14,
            "IP total length"
        );
        assert_eq!(ip[9], 17, "UDP");
        assert_eq!(&ip[12..20], &[198, 18, 0, 1, 198, 18, 0, 2]);
        assert_eq!(ip_checksum(ip), 0, "IPv4 header checksum");
        assert_eq!(&f[34..38], &[0, 9, 0, 9], "UDP ports 9 -> 9");
        assert!(got.iter().all(|g| g == f), "every frame identical");
    }
}

/// nrxdp receives exactly the frames an independent sender sent, native and
/// generic, and its program is gone when it exits.
#[test]
fn nrxdp_receives_every_frame_native_and_generic() {
    const N: u32 = 2000;
    for mode in ["native", "generic"] {
        let net = Net::new();
        let child = spawn_piped(net.command(&bin("nrxdp")).args([
            "-i",
            &net.a,
            "-m",
            mode,
            "-c",
            &N.to_string(),
            "-Q",
        ]));
        net.wait_xdp(&net.a);
        std::thread::sleep(Duration::from_millis(100));
        let tx = net.sender(&net.b);
        for k in 0..N {
            tx.send(&frame(if k % 2 == 0 { 60 } else { 1514 }, k, OTHER_MAC));
        }
        let (ok, _, err) = output_of(child);
        assert!(
            ok && err.contains(&format!("RESULT packets={N} drops=0")),
            "{mode}: {err}"
        );
        assert!(!net.has_xdp(&net.a), "{mode}: program left behind");
    }
}

/// nrxdp --tx: the frames arrive on the peer byte-exact and in order.
#[test]
fn nrxdp_tx_frames_arrive_byte_exact() {
    let net = Net::new();
    let rx = net.receiver(&net.b);
    const N: usize = 1000;
    const LEN: usize = 200;
    let (n, l) = (N.to_string(), LEN.to_string());
    let got = sent_frames(
        &net,
        &rx,
        "nrxdp",
        &["--tx", "-i", &net.a, "-n", &n, "-l", &l],
        N,
    );
    assert_eq!(got.len(), N);
    for (k, f) in got.iter().enumerate() {
        let mut want = vec![
            0x02, 0xcb, 0, 0, 0, 0xff, 0x02, 0xcb, 0, 0, 0, 0x01, 0x88, 0xb5,
        ];
        want.extend_from_slice(&(k as u32).to_be_bytes());
        want.resize(LEN, 0);
        assert_eq!(f, &want, "frame {k}");
    }
}
