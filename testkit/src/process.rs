//! Processes: running tools, waiting for children, skipping a test that
//! cannot run here.

use std::borrow::BorrowMut;
use std::ffi::{OsStr, OsString};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A test that cannot run here (no root, a tool missing): it passes with a
/// note, except under `make test` (`NR_TEST_STRICT` set by scripts/test.sh,
/// after scripts/deps.sh installed every tool), where it fails: a suite
/// must not pass by skipping. The caller returns right after.
pub fn skip(why: &str) {
    if std::env::var_os("NR_TEST_STRICT").is_some() {
        panic!(
            "cannot run: {why} (NR_TEST_STRICT: make test runs every test; see scripts/deps.sh)"
        );
    }
    eprintln!("skipped: {why}");
}

/// Whether the test runs as root (namespaces, raw sockets, XDP).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether `tool` is on the PATH; if not, [`skip`] says so (the caller
/// leaves out what needs it).
pub fn have_or_skip(tool: &str) -> bool {
    let ok = have(tool);
    if !ok {
        skip(&format!("{tool} is not installed"));
    }
    ok
}

/// Run a command, panic with its output if it fails.
pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Poll `ready` every 20 ms until it holds; panic naming `what` after
/// `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `now` on this thread while another one runs `later` once `after`
/// has passed (a break, an interface removed under a blocked call); both
/// end before this returns. Returns what `now` returned.
pub fn meanwhile<T>(after: Duration, later: impl FnOnce() + Send, now: impl FnOnce() -> T) -> T {
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(after);
            later();
        });
        now()
    })
}

/// Start `cmd` (a `Command` or `&mut Command`) with stdout and stderr
/// piped, for [`output_of`] or [`output_within`].
pub fn spawn_piped(mut cmd: impl BorrowMut<Command>) -> Child {
    let cmd = cmd.borrow_mut();
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// Wait for a child, at most `limit` (then kill it, so a hang fails the
/// test instead of blocking the suite), and collect its output.
pub fn output_within(child: Child, limit: Duration) -> Output {
    let pid = child.id() as i32;
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if flag.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: signalling our own (hung) child, which has not been
        // reaped (`done` is still false).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::Relaxed);
    out
}

/// [`output_within`] 60 s, as (success, stdout, stderr).
pub fn output_of(child: Child) -> (bool, String, String) {
    let out = output_within(child, Duration::from_secs(60));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// CPU time (user + system) the calling thread has used.
pub fn thread_cpu_time() -> Duration {
    // SAFETY: rusage is plain data; getrusage writes into the local value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Run an independent tool (tcpdump, tshark, capinfos, editcap, ...);
/// panic if it fails. Returns its stdout and the stderr lines that are not
/// the tools' usual chatter ("reading from file", tshark's "Running as
/// user"): a caller that wants silence asserts they are empty.
pub fn tool<A: AsRef<OsStr>>(
    program: &str,
    args: impl IntoIterator<Item = A>,
) -> (String, Vec<String>) {
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = Command::new(program)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let complaints: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| {
            !l.starts_with("reading from file")
                && !l.starts_with("Running as user")
                && !l.trim().is_empty()
        })
        .map(str::to_owned)
        .collect();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        complaints.join("\n")
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        complaints,
    )
}

/// The packets in tcpdump's output: the lines that start with a timestamp
/// (for an unknown EtherType it adds hex-dump lines, which start with a
/// tab).
pub fn tcpdump_packets(stdout: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .count()
}

/// `tcpdump -r` reads the whole file without complaint; returns its count
/// from `capinfos`.
pub fn check_with_tools(path: &std::path::Path) -> u64 {
    let out = Command::new("tcpdump")
        .args(["-n", "-r", path.to_str().unwrap(), "-w", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("truncated"),
        "tcpdump -r {}: {err}",
        path.display()
    );
    let out = Command::new("capinfos")
        .args(["-c", "-M", "-T", "-r", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "capinfos {}: {text}{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // "-T -r": one line "name<TAB>count".
    text.trim()
        .rsplit('\t')
        .next()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("capinfos output: {text}"))
}
