//! Interface names as the engines take them: one check of the name and
//! one error for a failed lookup, so capture, injection and AF_XDP say the
//! same thing.

use std::ffi::CString;
use std::io;

use crate::error::{Error, ErrorKind, Result};

/// Check an interface name as the kernel takes it (1 to 15 bytes, no '/',
/// space or NUL) and make it a C string.
pub(crate) fn check_name(ifname: &str) -> Result<CString> {
    if ifname.is_empty() || ifname.len() >= libc::IFNAMSIZ || ifname.contains(['\0', '/', ' ']) {
        return Err(Error::invalid_arg(format!(
            "interface name '{ifname}' is not valid (1 to 15 bytes, no '/', space or NUL)"
        )));
    }
    CString::new(ifname).map_err(|_| Error::invalid_arg("interface name contains NUL"))
}

/// The error for a failed lookup of `ifname`: ENODEV is
/// [`ErrorKind::NoDevice`] saying where to look (`netns`: the network
/// namespace it was looked up in, None: the calling thread's); anything
/// else is the system error.
pub(crate) fn lookup_error(ifname: &str, netns: Option<&str>, e: io::Error) -> Error {
    if e.raw_os_error() != Some(libc::ENODEV) {
        return Error::os(format!("looking up interface '{ifname}'"), e);
    }
    let place = match netns {
        Some(ns) => format!("network namespace '{ns}' (`ip -n {ns} link` lists them)"),
        None => "this network namespace (`ip link` lists the interfaces)".to_owned(),
    };
    Error::new(
        ErrorKind::NoDevice,
        format!("interface '{ifname}' not found in {place}"),
    )
}
