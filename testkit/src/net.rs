//! Throwaway network namespaces with veth pairs, and an independent frame
//! sender and receiver (plain AF_PACKET sockets, no netring code).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::frames::frame_seq;
use crate::process::{run, wait_until};

/// Namespaces made by this harness are called `nrk-PID-N-TEST`.
const NS_PREFIX: &str = "nrk-";

/// How long [`Net::wait_bound`] and [`Net::wait_xdp`] wait for a consumer.
const READY_LIMIT: Duration = Duration::from_secs(10);

/// A network namespace holding one veth pair `a` <-> `b`, both up, IPv6 off
/// (so the kernel sends nothing on its own).
///
/// The namespace is named after the process, a counter and the test (the
/// thread's name), so tests run in parallel, and several test binaries at
/// once, without meeting. It is deleted on drop (panics included), which
/// removes every interface in it; namespaces left by a test process that
/// was killed are deleted by the next `Net::new` of any test run.
pub struct Net {
    /// Namespace name (under /run/netns).
    pub ns: String,
    /// Capture side.
    pub a: String,
    /// Peer side (traffic source).
    pub b: String,
}

// `Net::new` runs `ip` and creates a namespace: not a `Default` value.
#[allow(clippy::new_without_default)]
impl Net {
    /// A namespace with a veth pair, both ends up.
    pub fn new() -> Net {
        Self::with_queues(1)
    }

    /// Same, with `queues` RX/TX queues per veth end.
    pub fn with_queues(queues: u32) -> Net {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(remove_orphans);
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let test: String = std::thread::current()
            .name()
            .unwrap_or("main")
            .rsplit("::")
            .next()
            .unwrap_or("main")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        // Interface names live inside the namespace (at most 15 bytes).
        let short = pid % 100_000;
        let net = Net {
            ns: format!("{NS_PREFIX}{pid}-{n}-{test}"),
            a: format!("nr{short}x{n}a"),
            b: format!("nr{short}x{n}b"),
        };
        assert!(net.a.len() < 15, "interface name too long: {}", net.a);
        run("ip", &["netns", "add", &net.ns]);
        // From here on, Drop cleans up.
        for k in ["all", "default"] {
            let arg = format!("net.ipv6.conf.{k}.disable_ipv6=1");
            run("ip", &["netns", "exec", &net.ns, "sysctl", "-qw", &arg]);
        }
        let (a, b) = (net.a.as_str(), net.b.as_str());
        let q = format!("numtxqueues {queues} numrxqueues {queues}");
        let add = format!("link add {a} {q} type veth peer name {b} {q}");
        net.ip(&add.split_whitespace().collect::<Vec<_>>());
        for ifname in [a, b, "lo"] {
            net.ip(&["link", "set", ifname, "up"]);
        }
        net
    }

    /// A second veth pair `{a}c` <-> `{a}d` in the namespace, both up.
    pub fn second_pair(&self) -> (String, String) {
        let (c, d) = (format!("{}c", self.a), format!("{}d", self.a));
        self.ip(&["link", "add", &c, "type", "veth", "peer", "name", &d]);
        self.ip(&["link", "set", &c, "up"]);
        self.ip(&["link", "set", &d, "up"]);
        (c, d)
    }

    /// A token-bucket shaper (`tc qdisc add dev IFNAME root tbf`) on
    /// `ifname`: `rate` (e.g. "4mbit"), `burst` and a queue of `limit` bytes,
    /// beyond which sends fail with ENOBUFS (backpressure on demand).
    pub fn shape(&self, ifname: &str, rate: &str, burst: &str, limit: &str) {
        let ns = self.ns.as_str();
        run(
            "ip",
            &[
                "netns", "exec", ns, "tc", "qdisc", "add", "dev", ifname, "root", "tbf", "rate",
                rate, "burst", burst, "limit", limit,
            ],
        );
    }

    /// The namespace's path, for setns(2) or `--net=`.
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.ns)
    }

    /// `ip -n NS ARGS...`; panics if it fails.
    pub fn ip(&self, args: &[&str]) {
        let mut full = vec!["-n", self.ns.as_str()];
        full.extend_from_slice(args);
        run("ip", &full);
    }

    /// `ip -n NS -d link show IFNAME`: the interface's details.
    pub fn link_text(&self, ifname: &str) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-d", "link", "show", ifname])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
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

    /// The interface index of `ifname` in the namespace.
    pub fn ifindex(&self, ifname: &str) -> u32 {
        let c = CString::new(ifname).unwrap();
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        let idx = self.enter(|| unsafe { libc::if_nametoindex(c.as_ptr()) });
        assert!(idx > 0, "no interface {ifname} in {}", self.ns);
        idx
    }

    /// Run `f` on a thread that has entered this namespace; sockets created
    /// there stay in it.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = self.path();
        std::thread::scope(|s| {
            s.spawn(|| {
                enter_ns(&path);
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// A command run inside the namespace (`ip netns exec`), stdin closed.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program])
            .stdin(Stdio::null());
        c
    }

    /// A raw sender bound to interface `ifname` of this namespace.
    pub fn sender(&self, ifname: &str) -> Sender {
        let name = ifname.to_owned();
        self.enter(move || Sender::open(&name))
    }

    /// An independent receiver on interface `ifname` of this namespace.
    pub fn receiver(&self, ifname: &str) -> Receiver {
        let name = ifname.to_owned();
        self.enter(move || Receiver::open(&name))
    }

    /// How many packet sockets receiving every protocol (ETH_P_ALL) are
    /// bound in the namespace, from its /proc/net/packet: to interface
    /// index `ifindex` (0: the `any` device), or to any interface (None).
    pub fn bound_sockets(&self, ifindex: Option<u32>) -> usize {
        let text = self.enter(|| std::fs::read_to_string("/proc/thread-self/net/packet"));
        let idx = ifindex.map(|i| i.to_string());
        // Columns: sk RefCnt Type Proto Iface ...
        text.unwrap()
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 4 && f[3] == "0003" && idx.as_ref().is_none_or(|i| f[4] == i)
            })
            .count()
    }

    /// Wait (up to 10 s, then panic) until `n` packet sockets receiving
    /// every protocol are bound to `ifname`: the consumers are ready
    /// (before bind a socket exists with protocol 0, and traffic sent then
    /// is lost by design).
    pub fn wait_bound(&self, ifname: &str, n: usize) {
        let idx = self.ifindex(ifname);
        wait_until(
            &format!("{n} capture(s) bound to {ifname}"),
            READY_LIMIT,
            || self.bound_sockets(Some(idx)) >= n,
        );
    }

    /// [`Net::wait_bound`] for one consumer on the capture side `a`.
    pub fn wait_packet_socket(&self) {
        self.wait_bound(&self.a, 1);
    }

    /// Wait (up to 10 s, then panic) until `n` packet sockets receiving
    /// every protocol are bound to the `any` device (every interface).
    pub fn wait_bound_any(&self, n: usize) {
        wait_until(&format!("{n} capture(s) bound to any"), READY_LIMIT, || {
            self.bound_sockets(Some(0)) >= n
        });
    }

    /// Whether an XDP program (native or generic) is attached to `ifname`.
    pub fn has_xdp(&self, ifname: &str) -> bool {
        let t = self.link_text(ifname);
        t.contains("prog/xdp") || t.contains("xdpgeneric") || t.contains(" xdp ")
    }

    /// Wait (up to 10 s, then panic) until an XDP program is attached to
    /// `ifname`: an AF_XDP consumer is ready (it attaches after its socket
    /// is bound and registered).
    pub fn wait_xdp(&self, ifname: &str) {
        wait_until(&format!("an XDP program on {ifname}"), READY_LIMIT, || {
            self.has_xdp(ifname)
        });
    }

    /// Poll (up to 5 s) until no XDP program is on `ifname` (detach may lag
    /// a little behind a close); whether it went.
    pub fn wait_no_xdp(&self, ifname: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if !self.has_xdp(ifname) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Delete the namespaces this harness made in test processes that are gone
/// (killed, so their `Drop` never ran).
fn remove_orphans() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for name in dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        let Some(pid) = name
            .strip_prefix(NS_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
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

/// An AF_PACKET socket for whole Ethernet frames bound to `ifname` (in the
/// calling thread's namespace) for `protocol` (host order; 0: none, so it
/// only sends).
fn packet_socket(ifname: &str, protocol: u16) -> OwnedFd {
    let c = CString::new(ifname).unwrap();
    // SAFETY: plain system calls with valid arguments; the fd is owned.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(protocol.to_be()),
        );
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let idx = libc::if_nametoindex(c.as_ptr());
        assert!(idx > 0, "no interface {ifname}");
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = idx as i32;
        let rc = libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        fd
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
        // Protocol 0: the socket sends but receives nothing.
        Sender {
            fd: packet_socket(ifname, 0),
        }
    }

    /// Send one frame; retries on ENOBUFS/EAGAIN so counts stay exact.
    pub fn send(&self, frame: &[u8]) {
        if let Err(e) = self.send_or_err(frame) {
            panic!("send: {e}");
        }
    }

    /// Send one frame like [`Sender::send`], but return false instead of
    /// panicking once the interface is gone (or any other hard error).
    pub fn try_send(&self, frame: &[u8]) -> bool {
        self.send_or_err(frame).is_ok()
    }

    fn send_or_err(&self, frame: &[u8]) -> std::io::Result<()> {
        loop {
            // SAFETY: the slice is valid for reads of its length.
            let rc =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if rc == frame.len() as isize {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    std::thread::sleep(Duration::from_micros(50))
                }
                _ => return Err(e),
            }
        }
    }
}

/// An independent receiver: an AF_PACKET socket (no netring code) bound to
/// one interface for every protocol, with a 64 MiB receive buffer.
pub struct Receiver {
    fd: OwnedFd,
}

impl Receiver {
    /// Bind to `ifname` in the calling thread's namespace.
    pub fn open(ifname: &str) -> Receiver {
        let fd = packet_socket(ifname, libc::ETH_P_ALL as u16);
        let big: libc::c_int = 64 << 20;
        // SAFETY: setsockopt reads a c_int of the given size; the fd is ours.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&big as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        Receiver { fd }
    }

    /// The frames received that pass `keep`, until `want` arrived and then
    /// `quiet` passed with nothing new (so extra frames would be seen too),
    /// or `limit`.
    pub fn frames(
        &self,
        want: usize,
        quiet: Duration,
        limit: Duration,
        mut keep: impl FnMut(&[u8]) -> bool,
    ) -> Vec<Vec<u8>> {
        let start = Instant::now();
        let mut last = Instant::now();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while start.elapsed() < limit && (got.len() < want || last.elapsed() < quiet) {
            let mut p = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut p, 1, 20) };
            loop {
                // SAFETY: buf is valid for writes of its length.
                let n = unsafe {
                    libc::recv(
                        self.fd.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                if n <= 0 {
                    break;
                }
                let f = &buf[..n as usize];
                if keep(f) {
                    got.push(f.to_vec());
                    last = Instant::now();
                }
            }
        }
        got
    }

    /// The test frames ([`crate::frame`]) received, until `want` arrived
    /// or `limit` passed.
    pub fn test_frames(&self, want: usize, limit: Duration) -> Vec<Vec<u8>> {
        self.frames(want, Duration::ZERO, limit, |f| frame_seq(f).is_some())
    }
}
