//! Several handles of one device in one process split its traffic:
//! Suricata's `pcap: threads: N` opens the same device N times and expects
//! the library to spread the flows over them (as the accelerator cards'
//! libpcaps do). With no fanout group configured, every capture opens as
//! a plain one; a handle takes part when it first reads (or asks for its
//! descriptor: `live::split_on_first_read`). The first handle of a device
//! to read is listed as it is; when a second one reads while the first is
//! open, the first joins a new kernel fanout group (netring's symmetric
//! flow hash with exactly-once joins, `FanoutMode::Flow`; fragments
//! reassembled first; an id the kernel picks) and the second reopens its
//! capture as a member of it, and so on. A handle that never reads (a
//! program's handle opened only to send: netdiscover, ettercap) is never
//! in a group and takes no share. One handle alone is never in a group,
//! so it sees fragments as they are. `NETRING_PCAP_FANOUT=none` turns
//! this off (every handle sees every frame, as with libpcap).
//!
//! The captures of the process that read are listed here by device
//! (network namespace and interface name) with a duplicate of their
//! socket; the list is held locked while a capture joins, so two threads
//! reading at once cannot both be "the first".

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

/// What [`join_on_read`] did.
pub enum Joined<T> {
    /// No other handle of the device reads: the capture stays as it is,
    /// listed.
    Alone(Member),
    /// Others do: a new capture, opened in their group.
    Reopened(T, Member),
}

/// A handle's first read: list its capture (socket `fd`) when it is the
/// first of its device to read, else open a new one with `open(fanout)`
/// in the group of the handles that read.
pub fn join_on_read<T>(
    ifname: &str,
    fd: RawFd,
    open: impl FnOnce(Option<Fanout>) -> Result<(T, RawFd), (i32, String)>,
) -> Result<Joined<T>, (i32, String)> {
    let key = (netns(), ifname.to_owned());
    let mut l = LIST.lock().unwrap_or_else(|e| e.into_inner());
    if l.entries.iter().any(|e| e.key == key) {
        return open_locked(&mut l, key, ifname, open).map(|(t, m)| Joined::Reopened(t, m));
    }
    let m = push(&mut l, key, fd, None, ifname)?;
    Ok(Joined::Alone(m))
}

/// List the capture on socket `fd` (a duplicate is kept).
fn push(
    l: &mut List,
    key: Key,
    fd: RawFd,
    group: Option<u16>,
    ifname: &str,
) -> Result<Member, (i32, String)> {
    // SAFETY: fd is the socket of a capture open while the caller's
    // capture lives; it is only duplicated here.
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
    Ok(Member(id))
}

/// Open a capture of device `ifname` with `open(fanout)`, in the group of
/// the process's other listed captures of the same device (made now from
/// the first of them when needed); the list is locked.
fn open_locked<T>(
    l: &mut List,
    key: Key,
    ifname: &str,
    open: impl FnOnce(Option<Fanout>) -> Result<(T, RawFd), (i32, String)>,
) -> Result<(T, Member), (i32, String)> {
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
    let m = push(l, key, fd, group, ifname)?;
    Ok((t, m))
}
