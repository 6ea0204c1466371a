//! Exactly-once joins of a [`FanoutMode::Flow`] group.
//!
//! The kernel steers frames to a socket from the moment it joins a fanout
//! group, but a socket bound to the device before it joins also receives,
//! through its own hook, every frame the group receives: a capture must
//! reject all frames until it has joined, and then swap in its real
//! filter. With a kernel mode (`PACKET_FANOUT_HASH`) a frame steered to it
//! between the join and the swap is lost, uncounted.
//!
//! A `Flow` group spreads frames with a classic BPF program that returns
//! the flow hash modulo the number of *ready* members
//! ([`flowhash::program`]). The kernel keeps a group's members in the
//! order they joined, so a joining socket is the last one and the program
//! leaves it out until it is ready:
//!
//! 1. take the group's lock (a file lock, so processes and threads queue;
//!    after 2 s of waiting on a holder that does not finish, go ahead
//!    without it);
//! 2. count the members already in the group (`sock_diag`): `m`;
//! 3. join: the socket is member `m`, the program still says "modulo `m`",
//!    so nothing is steered to it;
//! 4. wait 2 ms (a frame another CPU was delivering through the socket's
//!    own hook when it joined is then past the reject-all filter), and
//!    replace the reject-all filter by the real one;
//! 5. set the program to "modulo `m + 1`": from this frame on, the new
//!    member has its share; release the lock.
//!
//! A member leaving cleanly (the capture dropped) sets the program to its
//! count minus one under the lock, so the count stays right for the next
//! join. A member that dies without that (SIGKILL) leaves a count one too
//! high: the kernel wraps the extra index onto the first member (no frame
//! is lost, one member carries more), and the next join is exposed to the
//! window above until it sets the count right again.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};

use super::flowhash::{self, FlowKey};
use super::options::{Fanout, FanoutFlags};
use crate::error::{Error, Result};
use crate::sys::{diag, sockopt as so};

/// Where the group locks live (one file per namespace and group id).
const LOCK_DIR: &str = "/run/netring";
/// How long a joined socket keeps its reject-all filter before the swap.
const HOOK_GRACE: std::time::Duration = std::time::Duration::from_millis(2);
/// The longest a join waits for another member's join to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What a member needs to leave its group cleanly.
#[derive(Debug)]
pub(crate) struct Gate {
    group: u16,
    key: FlowKey,
    /// The network namespace the group lives in (its inode): the lock's name.
    ns: u64,
    /// A sock_diag socket in that namespace (opened there, so counting
    /// works from any thread).
    diag: OwnedFd,
}

/// The calling thread's network namespace: its inode and a sock_diag
/// socket in it. Made where the capture's socket is made (inside its
/// namespace when it has one).
#[derive(Debug)]
pub(crate) struct Here {
    ns: u64,
    diag: OwnedFd,
}

impl Here {
    pub(crate) fn now() -> Result<Here> {
        let ns = std::fs::metadata("/proc/thread-self/ns/net").map_or(0, |m| m.ino());
        let diag = diag::socket().map_err(|e| {
            Error::os(
                "fanout flow mode: opening a NETLINK_SOCK_DIAG socket (needs the kernel's \
                 packet_diag module)",
                e,
            )
        })?;
        Ok(Here { ns, diag })
    }
}

/// An exclusive `flock` on the group's lock file, released when dropped.
/// Without a writable lock directory, no lock: joins of one group at the
/// same instant may then race (as with a kernel mode).
struct Lock {
    _file: Option<File>,
}

impl Lock {
    fn take(ns: u64, group: u16) -> Lock {
        // Shared by every user that may capture: the directory sticky and
        // world-writable like /tmp (set explicitly: the umask masks the
        // mode at creation), and a lock file another user made is locked
        // through a read-only descriptor (flock needs no write access).
        if std::fs::DirBuilder::new().create(LOCK_DIR).is_ok() {
            let _ = std::fs::set_permissions(LOCK_DIR, std::fs::Permissions::from_mode(0o1777));
        }
        let path = format!("{LOCK_DIR}/fanout-{ns}-{group}.lock");
        let opened = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o666)
            .open(&path)
            .or_else(|_| File::open(&path));
        let Ok(f) = opened else {
            return Lock { _file: None };
        };
        // A holder that never lets go (a process stopped in the middle of
        // its join) must not hang every later open: after LOCK_WAIT the
        // join goes ahead unlocked (as with a kernel mode).
        let until = std::time::Instant::now() + LOCK_WAIT;
        loop {
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Lock { _file: Some(f) };
            }
            let e = io::Error::last_os_error().raw_os_error();
            if e != Some(libc::EWOULDBLOCK) && e != Some(libc::EINTR)
                || std::time::Instant::now() >= until
            {
                return Lock { _file: None };
            }
            std::thread::sleep(std::time::Duration::from_micros(500));
        }
    }
}

fn members(here_diag: &OwnedFd, group: u16) -> Result<u32> {
    diag::fanout_members_on(here_diag, group).map_err(|e| {
        Error::os(
            format!(
                "fanout flow mode: counting the members of group {group} with \
                 NETLINK_SOCK_DIAG (needs the kernel's packet_diag module: modprobe packet_diag)"
            ),
            e,
        )
    })
}

fn set_program(fd: &OwnedFd, key: FlowKey, members: u32) -> io::Result<()> {
    so::fanout_data_cbpf(fd, &flowhash::program(key, members))
}

/// Join `fd` (bound, receiving nothing it should not: a reject-all filter,
/// or no other member yet) to the `Flow` group `fo`. `join` is the
/// `PACKET_FANOUT` call; `ready` swaps in the real filter. Returns the
/// group id and what the capture needs to leave.
pub(crate) fn join(
    fd: &OwnedFd,
    fo: &Fanout,
    key: FlowKey,
    here: Here,
    join: impl FnOnce() -> Result<()>,
    ready: impl FnOnce() -> Result<()>,
) -> Result<(u16, Gate)> {
    // A unique id is a group nobody else is in yet: nothing to wait for.
    let unique = fo.flags.contains(FanoutFlags::UNIQUE_ID);
    let _lock = (!unique).then(|| Lock::take(here.ns, fo.group));
    let before = if unique {
        0
    } else {
        members(&here.diag, fo.group)?
    };
    join()?;
    // The kernel removed the socket's own receive hook when it joined,
    // without waiting for a CPU that was already delivering a frame
    // through it: such a frame meets the filter only when that delivery
    // runs on. The program steers nothing here yet, so the swap can wait
    // for those deliveries to end (well within a millisecond: they run in
    // softirq, under RCU); a frame the group also delivered is then never
    // seen here a second time.
    std::thread::sleep(HOOK_GRACE);
    ready()?;
    let group = super::Capture::fanout_id(fd)?;
    set_program(fd, key, before + 1).map_err(|e| {
        Error::os(
            format!(
                "fanout group {group} ({} flow hash): PACKET_FANOUT_DATA refused",
                key.name()
            ),
            e,
        )
    })?;
    Ok((
        group,
        Gate {
            group,
            key,
            ns: here.ns,
            diag: here.diag,
        },
    ))
}

impl Gate {
    /// Before `fd` (a member) closes: set the group's count to the members
    /// that stay. Best effort (a capture being dropped has no one to tell).
    pub(crate) fn leave(&self, fd: &OwnedFd) {
        let _lock = Lock::take(self.ns, self.group);
        if let Ok(m) = members(&self.diag, self.group)
            && m > 1
        {
            let _ = set_program(fd, self.key, m - 1);
        }
    }
}
