//! Test harness: throwaway network namespaces with veth pairs, and an
//! independent frame sender (a plain AF_PACKET socket, no netring code).
//!
//! Every `Net` has a unique name (pid + counter) and is removed on drop, so
//! tests can run in parallel and clean up on every exit path, panics included.

#![allow(dead_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

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

/// A network namespace holding one veth pair `a` <-> `b`, both up, IPv6 off
/// (so the kernel sends nothing on its own).
pub struct Net {
    /// Namespace name (under /run/netns).
    pub ns: String,
    /// Capture side.
    pub a: String,
    /// Peer side (traffic source).
    pub b: String,
}

impl Net {
    /// A namespace with a veth pair, both ends up.
    pub fn new() -> Net {
        Self::with_queues(1)
    }

    /// Same, with `queues` RX/TX queues per veth end.
    pub fn with_queues(queues: u32) -> Net {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id() % 100_000;
        let net = Net {
            ns: format!("nrt-{pid}-{n}"),
            a: format!("nr{pid}x{n}a"),
            b: format!("nr{pid}x{n}b"),
        };
        assert!(net.a.len() < 16, "interface name too long: {}", net.a);
        run("ip", &["netns", "add", &net.ns]);
        // From here on, Drop cleans up.
        for k in ["all", "default"] {
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    &net.ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
                ],
            );
        }
        let q = queues.to_string();
        run(
            "ip",
            &[
                "-n",
                &net.ns,
                "link",
                "add",
                &net.a,
                "numtxqueues",
                &q,
                "numrxqueues",
                &q,
                "type",
                "veth",
                "peer",
                "name",
                &net.b,
                "numtxqueues",
                &q,
                "numrxqueues",
                &q,
            ],
        );
        run("ip", &["-n", &net.ns, "link", "set", &net.a, "up"]);
        run("ip", &["-n", &net.ns, "link", "set", &net.b, "up"]);
        run("ip", &["-n", &net.ns, "link", "set", "lo", "up"]);
        net
    }

    /// `ip -n NS ARGS...`
    pub fn ip(&self, args: &[&str]) {
        let mut full = vec!["-n", self.ns.as_str()];
        full.extend_from_slice(args);
        run("ip", &full);
    }

    /// The MAC address of interface `ifname` in the namespace.
    pub fn mac(&self, ifname: &str) -> [u8; 6] {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-br", "link", "show", ifname])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let field = text
            .split_whitespace()
            .nth(2)
            .expect("mac in `ip -br link` output");
        let mut mac = [0u8; 6];
        for (i, part) in field.split(':').enumerate() {
            mac[i] = u8::from_str_radix(part, 16).unwrap();
        }
        mac
    }

    /// Run `f` on a thread that has entered this namespace; sockets created
    /// there stay in it.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.ns);
        std::thread::scope(|s| {
            s.spawn(|| {
                enter_ns(&path);
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// A command run inside the namespace (`ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program])
            .stdin(Stdio::null());
        c
    }

    /// A raw sender bound to interface `ifname` of this namespace.
    /// Wait (up to 10 s, then panic) until a packet socket is *bound* with
    /// ETH_P_ALL in the namespace: the consumer is ready (before bind it
    /// exists with protocol 0, and traffic sent then is lost by design).
    pub fn wait_packet_socket(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let out = self
                .command("cat")
                .arg("/proc/net/packet")
                .output()
                .unwrap();
            // Columns: sk RefCnt Type Proto Iface ...
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(3) == Some("0003"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no packet socket appeared");
    }

    pub fn sender(&self, ifname: &str) -> Sender {
        let name = ifname.to_owned();
        self.enter(move || Sender::open(&name))
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Move the calling thread into the network namespace at `path`.
pub fn enter_ns(path: &str) {
    let c = CString::new(path).unwrap();
    // SAFETY: plain system calls on a path we own; the fd is closed below.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        assert!(fd >= 0, "open {path}: {}", std::io::Error::last_os_error());
        let rc = libc::setns(fd, libc::CLONE_NEWNET);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(rc, 0, "setns {path}: {err}");
    }
}

/// An independent traffic source: an AF_PACKET socket bound to one
/// interface, sending whole Ethernet frames with send(2).
pub struct Sender {
    fd: OwnedFd,
}

impl Sender {
    /// Bind to `ifname` in the calling thread's namespace.
    pub fn open(ifname: &str) -> Sender {
        let c = CString::new(ifname).unwrap();
        // SAFETY: plain system calls with valid arguments; the fd is owned.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let idx = libc::if_nametoindex(c.as_ptr());
            assert!(idx > 0, "no interface {ifname}");
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = 0;
            sll.sll_ifindex = idx as i32;
            let rc = libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            Sender { fd }
        }
    }

    /// Send one frame; retries on ENOBUFS/EAGAIN so counts stay exact.
    pub fn send(&self, frame: &[u8]) {
        loop {
            // SAFETY: the slice is valid for reads of its length.
            let rc =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if rc == frame.len() as isize {
                return;
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    std::thread::sleep(std::time::Duration::from_micros(50))
                }
                _ => panic!("send: {e}"),
            }
        }
    }

    /// Send one frame like [`Sender::send`], but return false instead of
    /// panicking once the interface is gone (or any other hard error).
    pub fn try_send(&self, frame: &[u8]) -> bool {
        loop {
            // SAFETY: the slice is valid for reads of its length.
            let rc =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if rc == frame.len() as isize {
                return true;
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    std::thread::sleep(std::time::Duration::from_micros(50))
                }
                _ => return false,
            }
        }
    }
}

/// The EtherType test frames carry (IEEE local experimental 1): the IP stack
/// ignores it, so nothing answers.
pub const TEST_ETHERTYPE: u16 = 0x88b5;

/// A test frame of `len` bytes (>= 60) to `dst`: Ethernet header, then a
/// 4-byte sequence number, then a pattern derived from it, so every byte
/// can be checked at the receiver.
pub fn frame(len: usize, seq: u32, dst: [u8; 6]) -> Vec<u8> {
    assert!(len >= 18);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&[0x02, 0x6e, 0x72, 0x00, 0x00, 0x01]);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    for i in 18..len {
        f.push((i as u32).wrapping_mul(31).wrapping_add(seq) as u8);
    }
    f
}

/// The sequence number of a test frame, if it is one.
pub fn frame_seq(data: &[u8]) -> Option<u32> {
    if data.len() >= 18 && data[12..14] == TEST_ETHERTYPE.to_be_bytes() {
        Some(u32::from_be_bytes(data[14..18].try_into().unwrap()))
    } else {
        None
    }
}

/// A MAC no interface has (frames to it are PACKET_OTHERHOST).
pub const OTHER_MAC: [u8; 6] = [0x02, 0xcb, 0x00, 0x00, 0x00, 0xff];

/// Test frames seen by `cap`, until `want` arrived and then `quiet` passed
/// with nothing new (so extra frames would be seen too), or `limit`.
pub fn collect(
    cap: &mut netring::Capture,
    want: usize,
    quiet: Duration,
    limit: Duration,
) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut last = Instant::now();
    while start.elapsed() < limit {
        if got.len() >= want && last.elapsed() >= quiet {
            break;
        }
        if let netring::Wait::Ready(mut b) = cap
            .next_batch_timeout(Some(Duration::from_millis(20)))
            .unwrap()
        {
            b.for_each(|p| {
                if frame_seq(p.data()).is_some() {
                    got.push(p.data().to_vec());
                }
                true
            });
            last = Instant::now();
        }
    }
    got
}

/// An ext4 file system of `mib` MiB in an image file, loop-mounted on a
/// fresh directory; files go to `dir` (not the mount point, which holds
/// `lost+found`). Unmounted, image and directories removed on drop.
pub struct Ext4 {
    mnt: PathBuf,
    img: PathBuf,
    /// An empty directory on the file system.
    pub dir: PathBuf,
}

impl Ext4 {
    pub fn new(mib: u32) -> Ext4 {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!("nr-ext4-{}-{n}", std::process::id()));
        let mnt = base.with_extension("mnt");
        let img = base.with_extension("img");
        std::fs::create_dir_all(&mnt).unwrap();
        let fs = Ext4 {
            dir: mnt.join("d"),
            mnt,
            img,
        };
        // From here on, Drop cleans up.
        std::fs::File::create(&fs.img)
            .unwrap()
            .set_len(u64::from(mib) << 20)
            .unwrap();
        run(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-b",
                "4096",
                "-O",
                "^has_journal",
                fs.img.to_str().unwrap(),
            ],
        );
        run(
            "mount",
            &[
                "-o",
                "loop",
                fs.img.to_str().unwrap(),
                fs.mnt.to_str().unwrap(),
            ],
        );
        std::fs::create_dir(&fs.dir).unwrap();
        fs
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let c = CString::new(self.mnt.to_str().unwrap()).unwrap();
        // SAFETY: umount2 on a NUL-terminated path; fails harmlessly if it
        // was never mounted.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir(&self.mnt);
        let _ = std::fs::remove_file(&self.img);
    }
}

/// Wait for a child (at most 60 s, then kill it so a hang fails the test
/// instead of blocking the suite) and collect its output.
pub fn output_of(child: std::process::Child) -> (bool, String, String) {
    let pid = child.id() as i32;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if flag.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: signalling our own (hung) child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
