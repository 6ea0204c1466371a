//! The classic-BPF filter path: `tcpdump -ddd` text → parse_ddd →
//! check_program → assemble (direction and snap-length clamp wrapped around
//! the user's program). A parsed program either passes the check or is
//! refused with a message; whatever assemble builds passes the same check
//! (it would otherwise go to the kernel).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netring_engine::afpacket::CaptureDirection;
use netring_engine::afpacket::options::{assemble, check_program, parse_ddd};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(prog) = parse_ddd(text) else {
        return;
    };
    let user = match check_program(&prog, "fuzz") {
        Ok(()) => Some(prog.as_slice()),
        Err(e) => {
            assert!(e.message().contains("fuzz"), "{e}");
            None
        }
    };
    let dir = match sel % 3 {
        0 => CaptureDirection::Both,
        1 => CaptureDirection::In,
        _ => CaptureDirection::Out,
    };
    let snaplen = u32::from(sel) * 16 + 1;
    if let Ok(Some(out)) = assemble(user, dir, snaplen, 262_144) {
        check_program(&out, "assembled").expect("assemble built a program the check refuses");
    }
});
