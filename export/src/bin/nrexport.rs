//! nrexport: packets or flows from a capture file or an interface into an
//! Arrow IPC stream or Parquet files.
//!
//! ```text
//! nrexport (-r FILE | -i IFACE) [-F arrow|parquet [--records packets|flows]
//!          -w OUT [-C MB] [-G SECS]] [--ipfix HOST:PORT [--ipfix-rate MSGS]] [-c COUNT] [-q]
//!          [--idle SECS] [--active SECS] [--max-flows N]
//!          [-s SNAPLEN] [-p] [-B KIB] [-n BLOCKS] [--netns NAME]
//! ```
//!
//! `--ipfix` sends flow records to an IPFIX collector over UDP (its
//! meter counts IP bytes, as IPFIX octet counts mean; so it combines with
//! `--records packets` files, or none, but not with `--records flows`
//! files, whose bytes are wire lengths). `--ipfix-rate` caps the messages
//! a second (UDP has no backpressure: pace a large export so the
//! collector's socket buffer is not overrun).
//!
//! `-w -` writes an Arrow stream to stdout. `-C`/`-G` rotate files by size
//! (MB = 1,000,000 bytes) and by record time. A conversion of a file prints
//! a progress line on stderr every second (`-q`: none). A live capture runs
//! until `-c COUNT` packets or SIGINT/SIGTERM; it writes the rows it holds
//! every second (so `-G` rotates and a stream reader sees rows on a quiet
//! link), and at the end prints on stderr, as nrcap does, `RESULT
//! packets=<packets exported> drops=<kernel drops>`. `-s`, `-p`, `-B`, `-n`
//! and `--netns` set up the live capture as nrcap's options of the same
//! names do.
//!
//! `nrcap -F arrow|parquet`, `--records` and `--ipfix` run this program
//! (c-examples/nrcap.c translates its options), so that libnetring.so
//! stays free of the Arrow crates.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netring_engine::flow::FlowConfig;
use netring_engine::pcapfile::Reader;
use netring_engine::{Breaker, Capture, CaptureConfig, Wait};
use netring_export::Exporter;
use netring_export::ipfix::{IpfixConfig, IpfixExporter};
use netring_export::schema::Records;
use netring_export::sink::{Format, SinkConfig};

const USAGE: &str = "usage: nrexport (-r FILE | -i IFACE) [-F arrow|parquet [--records packets|flows] -w OUT \
[-C MB] [-G SECS]] [--ipfix HOST:PORT [--ipfix-rate MSGS]] [-c COUNT] [-q] [--idle SECS] [--active SECS] [--max-flows N] \
[-s SNAPLEN] [-p] [-B KIB] [-n BLOCKS] [--netns NAME]";

struct Args {
    read: Option<PathBuf>,
    iface: Option<String>,
    sink: Option<SinkConfig>,
    ipfix: Option<String>,
    ipfix_rate: Option<u32>,
    flow: FlowConfig,
    /// The live capture's settings (-s, -p, -B, -n, --netns).
    capture: CaptureConfig,
    count: Option<u64>,
    quiet: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = std::env::args().skip(1);
    let (mut read, mut iface, mut format, mut records, mut out) =
        (None, None, None, Records::Packets, None);
    let (mut rb, mut rt, mut count, mut quiet, mut ipfix) = (None, None, None, false, None);
    let mut ipfix_rate = None;
    let mut flow = FlowConfig::default();
    let mut capture = CaptureConfig::default();
    // The first live-capture option given, refused with -r.
    let mut live_only = None;
    fn num(v: Option<String>, what: &str) -> Result<u64, String> {
        let v = v.ok_or(format!("{what} needs a value"))?;
        v.parse()
            .map_err(|_| format!("{what}: '{v}' is not a number"))
    }
    while let Some(o) = a.next() {
        match o.as_str() {
            "-r" => read = Some(PathBuf::from(a.next().ok_or("-r needs a file")?)),
            "-i" => iface = Some(a.next().ok_or("-i needs an interface")?),
            "-w" => out = Some(PathBuf::from(a.next().ok_or("-w needs a path")?)),
            "-F" => {
                format = Some(match a.next().as_deref() {
                    Some("arrow") => Format::Arrow,
                    Some("parquet") => Format::Parquet,
                    v => return Err(format!("-F: '{}' is not arrow or parquet", v.unwrap_or(""))),
                })
            }
            "--records" => {
                records = match a.next().as_deref() {
                    Some("packets") => Records::Packets,
                    Some("flows") => Records::Flows,
                    v => {
                        return Err(format!(
                            "--records: '{}' is not packets or flows",
                            v.unwrap_or("")
                        ));
                    }
                }
            }
            "-C" => rb = Some(num(a.next(), "-C")? * 1_000_000),
            "-G" => rt = Some(num(a.next(), "-G")? * 1_000_000_000),
            "-c" => count = Some(num(a.next(), "-c")?),
            "-q" => quiet = true,
            "--ipfix" => ipfix = Some(a.next().ok_or("--ipfix needs HOST:PORT")?),
            "--ipfix-rate" => {
                ipfix_rate = Some(
                    u32::try_from(num(a.next(), "--ipfix-rate")?)
                        .map_err(|_| "--ipfix-rate is too large".to_string())?,
                )
            }
            "--idle" => flow.idle_timeout_ns = num(a.next(), "--idle")? * 1_000_000_000,
            "--active" => flow.active_timeout_ns = num(a.next(), "--active")? * 1_000_000_000,
            "--max-flows" => {
                flow.max_flows = u32::try_from(num(a.next(), "--max-flows")?)
                    .map_err(|_| "--max-flows is too large".to_string())?
            }
            "-s" => {
                capture.snaplen = u32::try_from(num(a.next(), "-s")?)
                    .map_err(|_| "-s is too large".to_string())?;
                live_only.get_or_insert("-s");
            }
            "-p" => {
                capture.promiscuous = false;
                live_only.get_or_insert("-p");
            }
            "-B" => {
                capture.block_size = u32::try_from(num(a.next(), "-B")? * 1024)
                    .map_err(|_| "-B is too large".to_string())?;
                live_only.get_or_insert("-B");
            }
            "-n" => {
                capture.block_count = u32::try_from(num(a.next(), "-n")?)
                    .map_err(|_| "-n is too large".to_string())?;
                live_only.get_or_insert("-n");
            }
            "--netns" => {
                capture.netns = Some(a.next().ok_or("--netns needs a name")?);
                live_only.get_or_insert("--netns");
            }
            "-h" | "--help" => return Err(String::new()),
            o => return Err(format!("unknown option '{o}'")),
        }
    }
    if read.is_some() == iface.is_some() {
        return Err("give exactly one of -r FILE and -i IFACE".into());
    }
    if let (Some(o), Some(_)) = (live_only, &read) {
        return Err(format!("{o} sets up a live capture (-i), not -r"));
    }
    let sink = match (format, out) {
        (Some(format), Some(path)) => Some(SinkConfig {
            format,
            records,
            path,
            rotate_bytes: rb,
            rotate_ns: rt,
        }),
        (None, None) if ipfix.is_some() => None,
        (Some(_), None) => return Err("-F needs -w OUT".into()),
        (None, Some(_)) => return Err("-w needs -F arrow|parquet".into()),
        (None, None) => {
            return Err("nothing to do: give -F FORMAT -w OUT, --ipfix HOST:PORT, or both".into());
        }
    };
    if ipfix.is_some() {
        if sink.as_ref().is_some_and(|s| s.records == Records::Flows) {
            return Err("--ipfix counts IP bytes, flow rows count wire bytes: export flows to a file and to IPFIX in two runs".into());
        }
        flow.ip_bytes = true;
    }
    Ok(Args {
        read,
        iface,
        sink,
        ipfix,
        ipfix_rate,
        flow,
        capture,
        count,
        quiet,
    })
}

fn from_file(path: &PathBuf, ex: &mut Exporter, a: &Args) -> Result<u64, String> {
    let mut r = Reader::open(path).map_err(|e| e.to_string())?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let (start, mut tick) = (Instant::now(), Instant::now());
    let mut n = 0u64;
    while let Some(p) = r.next_packet().map_err(|e| e.to_string())? {
        ex.packet(&p).map_err(|e| e.to_string())?;
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            break;
        }
        if !a.quiet && n % 65_536 == 0 && tick.elapsed() >= Duration::from_secs(1) {
            tick = Instant::now();
            let pct = if size > 0 {
                r.offset() as f64 * 100.0 / size as f64
            } else {
                0.0
            };
            let rate = n as f64 / start.elapsed().as_secs_f64() / 1e6;
            eprint!(
                "\rnrexport: {n} packets, {pct:.0}% of {}, {rate:.2} M packets/s",
                path.display()
            );
        }
    }
    if !a.quiet && tick != start {
        eprintln!();
    }
    Ok(n)
}

static BREAKER: OnceLock<Breaker> = OnceLock::new();

extern "C" fn on_signal(_: libc::c_int) {
    if let Some(b) = BREAKER.get() {
        b.break_loop();
    }
}

fn live(iface: &str, ex: &mut Exporter, a: &Args) -> Result<u64, String> {
    let mut cap = Capture::open(iface, &a.capture).map_err(|e| e.to_string())?;
    let _ = BREAKER.set(cap.breaker());
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: on_signal only calls Breaker::break_loop, which is
        // async-signal-safe (an atomic store and a write(2)).
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    let (mut n, mut failed) = (0u64, None);
    let mut last_expire = Instant::now();
    let done = |n: u64| a.count.is_some_and(|c| n >= c);
    loop {
        // A block at a time: the exporter sees each packet in place, and
        // the clock is read once a block, not once a packet.
        match cap
            .next_batch_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?
        {
            Wait::Ready(mut b) => {
                b.for_each(|p| match ex.packet(p) {
                    Ok(()) => {
                        n += 1;
                        !done(n)
                    }
                    Err(e) => {
                        failed = Some(e.to_string());
                        false
                    }
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                if done(n) {
                    break;
                }
            }
            Wait::Interrupted => break,
            Wait::Timeout | Wait::InterfaceDown => {}
        }
        if last_expire.elapsed() >= Duration::from_secs(1) {
            last_expire = Instant::now();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            ex.expire(now).map_err(|e| e.to_string())?;
            // Packet rows too: a quiet link still rotates (-G) and a
            // stream reader sees what was captured.
            ex.flush_rows().map_err(|e| e.to_string())?;
        }
    }
    let drops = cap.stats().map_or(0, |s| s.drops);
    // nrcap's last line, which bench/run.sh reads.
    eprintln!("RESULT packets={n} drops={drops}");
    Ok(n)
}

/// Keep freed memory in the heap for the next batch. A batch's columns
/// (6 MB for 65,536 packet rows) and the IPC writer's message body are
/// allocated afresh for every batch; with glibc's defaults they came from
/// mmap or from a heap top that was trimmed after each batch, so every
/// batch faulted its pages in again (95,000 page faults, half the CPU of a
/// pcap → Arrow conversion). Blocks below 32 MiB now come from the heap,
/// and up to 256 MiB of free heap is kept.
fn keep_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; it runs before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("nrexport: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let built = match (&a.sink, &a.ipfix) {
        (Some(cfg), None) => Exporter::new(cfg.clone(), a.flow).map_err(|e| e.to_string()),
        (sink, Some(c)) => IpfixExporter::connect(
            c,
            IpfixConfig {
                max_rate: a.ipfix_rate,
                ..IpfixConfig::default()
            },
        )
        .and_then(|x| match sink {
            Some(cfg) => Exporter::new(cfg.clone(), a.flow)
                .and_then(|e| e.with_ipfix(x, a.flow))
                .map_err(|e| e.to_string()),
            None => Exporter::ipfix_only(x, a.flow).map_err(|e| e.to_string()),
        }),
        (None, None) => unreachable!("checked by parse_args"),
    };
    let mut ex = match built {
        Ok(x) => x,
        Err(e) => {
            eprintln!("nrexport: {e}");
            return ExitCode::from(2);
        }
    };
    let r = match (&a.read, &a.iface) {
        (Some(f), _) => from_file(f, &mut ex, &a),
        (_, Some(i)) => live(i, &mut ex, &a),
        _ => unreachable!("checked by parse_args"),
    };
    let n = match r {
        Ok(n) => n,
        Err(e) => {
            eprintln!("nrexport: {e}");
            // Complete what can be completed; the error stands.
            let _ = ex.finish();
            return ExitCode::from(1);
        }
    };
    match ex.finish() {
        Ok(s) => {
            if !a.quiet {
                eprint!(
                    "nrexport: {n} packets, {} rows, {} bytes, {} file(s)",
                    s.sink.rows,
                    s.sink.bytes,
                    s.sink.files.len()
                );
                if let Some(f) = s.flows {
                    eprint!(
                        "; flows: {} created, {} evicted (table full)",
                        f.flows, f.evicted
                    );
                }
                if let Some(x) = s.ipfix {
                    eprint!(
                        "; ipfix: {} messages, {} records, {} template sends, {} send errors, {} non-IP skipped",
                        x.messages, x.records, x.template_sends, x.send_errors, x.skipped
                    );
                }
                eprintln!();
            }
            if let Some(e) = s.ipfix_error {
                eprintln!("nrexport: warning: IPFIX sends failed ({e}): is the collector up?");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nrexport: {e}");
            ExitCode::from(1)
        }
    }
}
