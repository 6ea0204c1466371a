//! Several handles of one device in one process split its traffic:
//! Suricata's `pcap: threads: N` opens the same device N times and expects
//! the library to spread the flows over them (as the accelerator cards'
//! libpcaps do). With no fanout group configured, the first capture of a
//! device opens as a plain capture; when a second one of the same device
//! is activated while the first is open, the first joins a new kernel
//! fanout group (netring's symmetric flow hash with exactly-once joins,
//! `FanoutMode::Flow`; fragments reassembled first; an id the kernel
//! picks) and the second opens as a member of it, and so on.
//! One handle alone is never in a group, so it sees fragments as they
//! are. `NETRING_PCAP_FANOUT=none` turns this off (every handle sees
//! every frame, as with libpcap).
//!
//! The captures of the process are listed here by device (network
//! namespace and interface name) with a duplicate of their socket; the
//! list is held locked while a capture opens, so two threads activating at
//! once cannot both open as "the first".

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use netring_engine::{Capture, Fanout, FanoutFlags, FanoutMode, FlowKey, FlowMembership};

/// A device: (network namespace inode, interface name).
type Key = (u64, String);

struct Entry {
    key: Key,
    id: u64,
    /// A duplicate of the capture's socket (the fanout group is the
    /// socket's, whichever descriptor joins it).
    fd: OwnedFd,
    group: Option<u16>,
    /// The first capture's membership, when it joined the group after it
    /// opened (the others' is their capture's).
    _joined: Option<FlowMembership>,
}

struct List {
    next_id: u64,
    entries: Vec<Entry>,
}

static LIST: Mutex<List> = Mutex::new(List {
    next_id: 0,
    entries: Vec::new(),
});

/// The calling thread's network namespace (0 when unknown).
fn netns() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net").map_or(0, |m| m.ino())
}

/// The distribution of the groups made here.
fn fanout(group: u16, flags: FanoutFlags) -> Fanout {
    Fanout {
        group,
        mode: FanoutMode::Flow(FlowKey::FiveTuple),
        flags: flags | FanoutFlags::DEFRAG,
    }
}

/// A capture in the list; leaving the list when dropped (with its handle).
pub struct Member(u64);

impl Drop for Member {
    fn drop(&mut self) {
        let mut l = LIST.lock().unwrap_or_else(|e| e.into_inner());
        l.entries.retain(|e| e.id != self.0);
    }
}

/// Open a capture of device `ifname` with `open(fanout)`, in the group of
/// the process's other open captures of the same device (made now from
/// the first of them when needed).
pub fn open_split<T>(
    ifname: &str,
    open: impl FnOnce(Option<Fanout>) -> Result<(T, RawFd), (i32, String)>,
) -> Result<(T, Member), (i32, String)> {
    let key = (netns(), ifname.to_owned());
    let mut l = LIST.lock().unwrap_or_else(|e| e.into_inner());
    let mut group = l
        .entries
        .iter()
        .find(|e| e.key == key && e.group.is_some())
        .and_then(|e| e.group);
    if group.is_none() {
        if let Some(first) = l.entries.iter_mut().find(|e| e.key == key) {
            let (g, joined) =
                Capture::join_fanout(&first.fd, ifname, &fanout(0, FanoutFlags::UNIQUE_ID))
                    .map_err(|e| {
                        (
                            crate::code::ERROR,
                            format!(
                                "{ifname} is already open in this process: splitting its traffic \
                             between the handles: {e} (NETRING_PCAP_FANOUT=none turns the \
                             split off)"
                            ),
                        )
                    })?;
            first.group = Some(g);
            first._joined = joined;
            group = Some(g);
        }
    }
    let (t, fd) = open(group.map(|g| fanout(g, FanoutFlags::empty())))?;
    // SAFETY: fd is the socket of the capture `open` just made, open while
    // `t` lives; it is only duplicated here.
    let dup = unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .map_err(|e| (crate::code::ERROR, format!("{ifname}: dup: {e}")))?;
    let id = l.next_id;
    l.next_id += 1;
    l.entries.push(Entry {
        key,
        id,
        fd: dup,
        group,
        _joined: None,
    });
    Ok((t, Member(id)))
}
