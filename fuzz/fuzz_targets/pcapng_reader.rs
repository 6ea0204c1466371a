//! The batch interface of the reader (pcapng and pcap are told apart by the
//! magic; the seeds of this target are pcapng files): batches and packets
//! stay inside the input, offsets only grow, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netring_engine::pcapfile::Reader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = Reader::from_read(std::io::Cursor::new(data.to_vec()), "fuzz") else {
        return;
    };
    let mut last = 0u64;
    loop {
        match r.next_batch() {
            Ok(Some(b)) => {
                for p in b.iter() {
                    assert!(p.data().len() <= data.len());
                }
            }
            Ok(None) => break,
            Err(_) => break,
        }
        let off = r.offset();
        assert!(off >= last, "offset went back");
        assert!(off <= data.len() as u64, "offset past the end");
        last = off;
    }
    let _ = r.interfaces();
});
