//! The exported libpcap API: thin entry points. Each function runs inside
//! [`guard!`](crate::guard), checks its pointers, resolves the handle
//! ([`handle::enter`](crate::handle::enter)), then forwards to the real
//! libpcap or calls the concern's module (live, savefile, filter,
//! datalink, dump) and converts the result: a status, and the handle's
//! error text.

mod datalink;
mod dump;
mod filter;
mod handle;
mod names;
mod read;

/// The handle behind a `pcap_t *`, or return `$default` (NULL, or not
/// ours).
macro_rules! enter {
    ($p:expr, $default:expr) => {
        // SAFETY: the pointer is NULL or a handle of this library
        // (libpcap's contract); the borrow follows the rule of
        // `crate::handle` and ends before the host program is called.
        match unsafe { $crate::handle::enter($p) } {
            Some(h) => h,
            None => return $default,
        }
    };
}
pub(crate) use enter;

/// libpcap's answer of an operation that needs an activated handle
/// (`pcap_set_not_initialized_message`): the text, and
/// `PCAP_ERROR_NOT_ACTIVATED`.
pub(crate) fn not_activated(io: &mut crate::handle::Io) -> std::ffi::c_int {
    io.set_err(crate::handle::NOT_ACTIVATED_TEXT);
    crate::code::NOT_ACTIVATED
}

/// A status or an error message: the message goes into the handle's
/// error buffer and the status is returned.
pub(crate) fn status(
    io: &mut crate::handle::Io,
    r: Result<std::ffi::c_int, String>,
) -> std::ffi::c_int {
    match r {
        Ok(v) => v,
        Err(m) => {
            io.set_err(&m);
            crate::code::ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every exported function runs inside its panic boundary
    /// ([`guard!`](crate::guard)) and is `extern "C-unwind"`: a pthread
    /// cancellation ends the thread by unwinding out of the export (see
    /// `guard!`); through a plain "C" export it would abort the process.
    #[test]
    fn every_export_is_guarded_and_c_unwind() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/export");
        let exports = netring_testkit::exports(dir.as_ref());
        for e in &exports {
            assert!(
                e.head.contains("extern \"C-unwind\" fn"),
                "export not extern \"C-unwind\": {}",
                e.shown()
            );
            // pcap_lib_version returns a constant: nothing in it can panic.
            let constant = e.head.contains("fn pcap_lib_version()");
            assert!(
                constant || e.body.starts_with("guard!("),
                "export without guard!: {}",
                e.shown()
            );
        }
        assert!(exports.len() >= 50, "only {} exports found", exports.len());
    }
}
