//! The one error type, its stable C status code, and its message.

use std::io;

/// What kind of failure an [`Error`] is; each kind has one stable C status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A NULL pointer or an argument outside its documented range.
    InvalidArgument,
    /// Missing privileges (CAP_NET_RAW, CAP_NET_ADMIN, CAP_IPC_LOCK, ...).
    Permission,
    /// No interface of that name or index.
    NoDevice,
    /// The kernel could not allocate the ring (or other memory).
    NoMemory,
    /// An impossible or inconsistent configuration (ring geometry, ...).
    InvalidConfig,
    /// The interface was removed while in use.
    InterfaceGone,
    /// The object is in a state that does not allow the call (a batch is
    /// still held, ...).
    Busy,
    /// A batch that is not live (already released, never acquired).
    BadBatch,
    /// The kernel or the device does not support what was asked.
    Unsupported,
    /// Ring or file contents failed validation.
    Malformed,
    /// A frame larger than the slot, ring or interface allows.
    TooBig,
    /// Any other operating-system failure (the message names errno).
    System,
    /// A bug in netring (a caught panic).
    Internal,
}

/// A netring error: a kind (→ stable status code) and a sentence that says
/// what was wrong and, where it helps, what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    errno: Option<i32>,
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            errno: None,
        }
    }

    /// An error from an OS failure while doing `what`; the kind is derived
    /// from errno and the message gets a hint for the common causes.
    ///
    /// A permission failure gets a generic hint (the call in `what` says
    /// which privilege was checked); where the capability is known, use
    /// [`Error::os_needing`] so the message names it.
    pub fn os(what: impl AsRef<str>, err: io::Error) -> Error {
        Self::os_hint(
            what.as_ref(),
            err,
            " (not permitted: run as root, or grant the program the capability this call \
             checks)"
                .into(),
        )
    }

    /// Like [`Error::os`], but a permission failure names the capabilities
    /// the call needs (`caps`, e.g. `"CAP_NET_RAW"`), with the `setcap`
    /// line that grants them.
    pub fn os_needing(what: impl AsRef<str>, err: io::Error, caps: &[&str]) -> Error {
        let setcap: Vec<String> = caps.iter().map(|c| c.to_ascii_lowercase()).collect();
        Self::os_hint(
            what.as_ref(),
            err,
            format!(
                " (needs {}: run as root or `setcap {}+ep` the program)",
                caps.join(" and "),
                setcap.join(",")
            ),
        )
    }

    fn os_hint(what: &str, err: io::Error, perm_hint: String) -> Error {
        let errno = err.raw_os_error().unwrap_or(0);
        let (kind, hint) = match errno {
            libc::EPERM | libc::EACCES => (ErrorKind::Permission, perm_hint.as_str()),
            libc::ENOMEM | libc::ENOBUFS => (
                ErrorKind::NoMemory,
                " (the kernel could not allocate the memory)",
            ),
            libc::ENODEV | libc::ENXIO => (ErrorKind::NoDevice, ""),
            libc::EINVAL => (ErrorKind::InvalidConfig, ""),
            libc::EOPNOTSUPP | libc::ENOPROTOOPT | libc::EAFNOSUPPORT => {
                (ErrorKind::Unsupported, "")
            }
            libc::EBUSY => (ErrorKind::Busy, ""),
            libc::EMSGSIZE => (ErrorKind::TooBig, ""),
            _ => (ErrorKind::System, ""),
        };
        Error {
            kind,
            message: format!("{what}: {err}{hint}"),
            errno: Some(errno),
        }
    }

    /// An [`ErrorKind::InvalidArgument`] error.
    pub fn invalid_arg(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// An [`ErrorKind::InvalidConfig`] error.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidConfig, message)
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The errno behind it, when it came from the OS.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_map_to_kinds_with_hints() {
        let e = Error::os_needing(
            "socket(AF_PACKET)",
            io::Error::from_raw_os_error(libc::EPERM),
            &["CAP_NET_RAW"],
        );
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert!(e.message().contains("needs CAP_NET_RAW"), "{}", e);
        assert!(e.message().contains("setcap cap_net_raw+ep"), "{}", e);
        // Without a known capability the hint names none (a wrong one
        // misleads: setns needs CAP_SYS_ADMIN, bpf CAP_BPF, ...).
        let e = Error::os("setns", io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert!(!e.message().contains("CAP_"), "{}", e);
        assert_eq!(e.errno(), Some(libc::EPERM));
        let e = Error::os("ring", io::Error::from_raw_os_error(libc::ENOMEM));
        assert_eq!(e.kind(), ErrorKind::NoMemory);
        let e = Error::os("x", io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(e.kind(), ErrorKind::System);
    }
}
