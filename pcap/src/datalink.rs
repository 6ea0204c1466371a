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

/// libpcap's `dlt_to_linktype` (1.10, Linux values): the LINKTYPE_ value
/// written into savefiles; None where libpcap returns -1.
pub fn dlt_to_linktype(dlt: c_int) -> Option<u32> {
    match dlt {
        // The same value on every platform, and the matching range
        // (DLT_MATCHING_MIN..=DLT_MATCHING_MAX).
        0..=10 | 50 | 51 | 99 | 104..=289 => Some(dlt as u32),
        11 => Some(100), // DLT_ATM_RFC1483
        12 => Some(101), // DLT_RAW
        15 => Some(102), // DLT_SLIP_BSDOS
        16 => Some(103), // DLT_PPP_BSDOS
        19 => Some(106), // DLT_ATM_CLIP
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
    if l.active.is_some() && offered(l).contains(&dlt) {
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
        assert_eq!(dlt_to_linktype(32), None);
        assert_eq!(dlt_to_linktype(289), Some(289));
        assert_eq!(dlt_to_linktype(290), None);
    }
}
