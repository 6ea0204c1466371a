//! The XDP side: the built-in redirect program (loaded with raw bpf(2),
//! attached with a bpf_link so it goes away with its owner, however the
//! owner exits) or a user's XSKMAP into which netring only registers its
//! sockets.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::error::{Error, ErrorKind, Result};
use crate::sys::bpf;

/// Where XDP runs for the built-in program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttachMode {
    /// Native (driver) mode if the device supports it, else generic.
    #[default]
    Auto,
    /// Native (driver) mode only.
    Native,
    /// Generic (skb) mode.
    Generic,
}

/// Which program steers frames into the sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Program {
    /// netring loads and attaches its own redirect program (the default).
    #[default]
    BuiltIn,
    /// The caller runs its own XDP program with an XSKMAP; netring only
    /// stores its sockets at `map[queue]`. The fd is borrowed: it must stay
    /// open while the [`super::Xdp`] is open.
    External(RawFd),
    /// No program at all (TX only).
    None,
}

/// The built-in program while attached. Dropping it detaches the program
/// (the link fd is the only reference).
#[derive(Debug)]
pub struct Attached {
    // Drop order: link first (detaches), then program and map.
    link: OwnedFd,
    _prog: OwnedFd,
    map: OwnedFd,
    native: bool,
}

impl Attached {
    /// True for native (driver) mode, false for generic.
    pub fn native(&self) -> bool {
        self.native
    }

    /// The XSKMAP fd.
    pub fn map_fd(&self) -> RawFd {
        self.map.as_raw_fd()
    }

    /// The bpf_link fd.
    pub fn link_fd(&self) -> RawFd {
        self.link.as_raw_fd()
    }
}

/// An XSKMAP and the built-in program over it, loaded but not attached.
#[derive(Debug)]
pub struct Loaded {
    map: OwnedFd,
    prog: OwnedFd,
}

fn bpf_error(what: &str, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => Error::new(
            ErrorKind::Permission,
            format!("{what}: {e} (needs CAP_BPF and CAP_NET_ADMIN, or root)"),
        ),
        _ => Error::os(what, e),
    }
}

impl Loaded {
    /// Create an XSKMAP of `entries` slots and load the redirect program.
    pub fn new(entries: u32) -> Result<Loaded> {
        let map = bpf::create_xskmap("netring_xsks", entries)
            .map_err(|e| bpf_error("bpf(BPF_MAP_CREATE, XSKMAP)", e))?;
        let insns = bpf::redirect_program(map.as_raw_fd());
        let prog = bpf::load_xdp_program("netring_xdp", &insns).map_err(|(e, log)| {
            let mut err = bpf_error("bpf(BPF_PROG_LOAD) of the built-in XDP program", e);
            if !log.is_empty() {
                err = Error::new(err.kind(), format!("{}; verifier: {log}", err.message()));
            }
            err
        })?;
        Ok(Loaded { map, prog })
    }

    /// The XSKMAP fd.
    pub fn map_fd(&self) -> RawFd {
        self.map.as_raw_fd()
    }

    /// Attach to `ifindex` in `mode`; Auto tries native first and falls back
    /// to generic when the device cannot run it natively.
    pub fn attach(self, ifname: &str, ifindex: i32, mode: AttachMode) -> Result<Attached> {
        let busy =
            |e: &io::Error| matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EEXIST));
        let busy_err = |e: io::Error| {
            Error::new(
                ErrorKind::Busy,
                format!(
                    "another XDP program is already attached to '{ifname}' ({e}; `ip link show \
                     {ifname}` lists it as prog/xdp): detach it (`ip link set dev {ifname} xdp \
                     off`), or pass that program's XSKMAP so netring only registers its socket"
                ),
            )
        };
        let try_mode = |flags: u32| bpf::link_create_xdp(self.prog.as_raw_fd(), ifindex, flags);
        let (link, native) = match mode {
            AttachMode::Generic => match try_mode(bpf::XDP_FLAGS_SKB_MODE) {
                Ok(l) => (l, false),
                Err(e) if busy(&e) => return Err(busy_err(e)),
                Err(e) => {
                    return Err(bpf_error(
                        &format!("attaching the XDP program to '{ifname}' in generic mode"),
                        e,
                    ));
                }
            },
            AttachMode::Native | AttachMode::Auto => match try_mode(bpf::XDP_FLAGS_DRV_MODE) {
                Ok(l) => (l, true),
                Err(e) if busy(&e) => return Err(busy_err(e)),
                Err(e) if mode == AttachMode::Native => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "native XDP is not available on '{ifname}' ({e}): the driver lacks \
                             it or refuses this configuration (veth: its RX queue count must be \
                             at least the peer's TX queue count); use generic or auto mode"
                        ),
                    ));
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
                    return Err(bpf_error("attaching the XDP program", e));
                }
                Err(_) => match try_mode(bpf::XDP_FLAGS_SKB_MODE) {
                    Ok(l) => (l, false),
                    Err(e) if busy(&e) => return Err(busy_err(e)),
                    Err(e) => {
                        return Err(bpf_error(
                            &format!(
                                "attaching the XDP program to '{ifname}' (native mode failed, \
                                 generic too)"
                            ),
                            e,
                        ));
                    }
                },
            },
        };
        Ok(Attached {
            link,
            _prog: self.prog,
            map: self.map,
            native,
        })
    }
}

/// Check that `fd` is an XSKMAP with a slot for every queue in `queues`.
pub fn check_external_map(fd: RawFd, queues: &[u32]) -> Result<()> {
    let info = bpf::map_info(fd).map_err(|e| {
        Error::invalid_arg(format!(
            "the XSKMAP fd {fd} is not a BPF map ({e}): pass the fd of your program's XSKMAP"
        ))
    })?;
    if info.map_type != bpf::BPF_MAP_TYPE_XSKMAP {
        return Err(Error::invalid_arg(format!(
            "the map behind fd {fd} has type {}, not XSKMAP ({})",
            info.map_type,
            bpf::BPF_MAP_TYPE_XSKMAP
        )));
    }
    if let Some(&q) = queues.iter().find(|&&q| q >= info.max_entries) {
        return Err(Error::invalid_arg(format!(
            "the XSKMAP behind fd {fd} has {} entries: no slot for queue {q}",
            info.max_entries
        )));
    }
    Ok(())
}

/// Store socket `xsk_fd` at `map[queue]`.
pub fn register(map_fd: RawFd, queue: u32, xsk_fd: RawFd) -> Result<()> {
    bpf::map_update_u32(map_fd, queue, xsk_fd as u32)
        .map_err(|e| bpf_error(&format!("bpf(BPF_MAP_UPDATE_ELEM, xskmap[{queue}])"), e))
}
