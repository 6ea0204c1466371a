//! The file reader on arbitrary bytes that start like a pcap file: every
//! packet handed out lies inside the input, errors are clean, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netring_engine::pcapfile::Reader;

fuzz_target!(|data: &[u8]| {
    read_all(data);
});

fn read_all(data: &[u8]) {
    let Ok(mut r) = Reader::from_read(std::io::Cursor::new(data.to_vec()), "fuzz") else {
        return;
    };
    let _ = (r.format(), r.link_type(), r.snaplen(), r.interfaces());
    let mut n = 0u64;
    loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                assert!(
                    p.data().len() <= data.len(),
                    "a packet larger than the file"
                );
                n += 1;
            }
            Ok(None) => break,
            Err(e) => {
                assert!(!e.message().is_empty());
                break;
            }
        }
        assert!(n <= data.len() as u64, "more packets than bytes");
    }
}
