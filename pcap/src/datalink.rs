//! Link types: what a live handle offers (libpcap's lists for Ethernet and
//! for the cooked `any` device), switching between them, and the
//! `LINKTYPE_` value a savefile records.

use std::ffi::c_int;

use crate::cmem::owned;
use crate::live::Live;
use crate::real;

/// `DLT_EN10MB`.
pub const DLT_EN10MB: c_int = 1;
/// `DLT_LINUX_SLL`.
pub const DLT_LINUX_SLL: c_int = 113;
/// `DLT_LINUX_SLL2`.
pub const DLT_LINUX_SLL2: c_int = 276;
/// `DLT_DOCSIS`.
pub const DLT_DOCSIS: c_int = 143;

/// libpcap's `dlt_to_linktype`: the LINKTYPE_ value written into savefiles.
pub fn dlt_to_linktype(dlt: c_int) -> Option<u32> {
    match dlt {
        0..=10 | 32 | 99 => Some(dlt as u32),
        11 => Some(100),
        12 => Some(101),
        15 => Some(102),
        16 => Some(103),
        19 => Some(106),
        50 | 51 => Some(dlt as u32),
        104..=0xffff => Some(dlt as u32),
        _ => None,
    }
}

/// Link types a live device offers.
pub fn offered(l: &Live) -> Vec<c_int> {
    if l.cooked {
        vec![DLT_LINUX_SLL, DLT_LINUX_SLL2]
    } else {
        vec![DLT_EN10MB, DLT_DOCSIS]
    }
}

/// `pcap_set_datalink` on a live handle (the shadow follows, so filters
/// compile for the new link type).
pub fn set(l: &mut Live, dlt: c_int) -> Result<(), String> {
    if offered(l).contains(&dlt) {
        l.linktype = dlt;
        if let Some((r, sp)) = l.shadow.active() {
            // SAFETY: the shadow is activated.
            unsafe { (r.pcap_set_datalink)(sp, dlt) };
        }
        return Ok(());
    }
    let name = match real::try_get() {
        // SAFETY: returns a static string or NULL.
        Some(r) => unsafe { owned((r.pcap_datalink_val_to_name)(dlt)) },
        None => String::new(),
    };
    Err(if name.is_empty() {
        format!("DLT {dlt} is not one of the DLTs supported by this device")
    } else {
        format!("{name} is not one of the DLTs supported by this device")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savefile_linktypes() {
        assert_eq!(dlt_to_linktype(DLT_EN10MB), Some(1));
        assert_eq!(dlt_to_linktype(DLT_LINUX_SLL), Some(113));
        assert_eq!(dlt_to_linktype(12), Some(101));
        assert_eq!(dlt_to_linktype(60), None);
    }
}
