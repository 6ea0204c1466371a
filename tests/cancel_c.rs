//! pthread_cancel from C on a thread blocked in libnetring (tests/c/
//! test_cancel.c): nr_next_batch, nr_next_packet, nr_batch_for_each's
//! callback, nr_xdp_next_batch, nr_bridge_run and its callback, and
//! nr_injector_wait_drained. Each thread must end with PTHREAD_CANCELED
//! (its cleanup handler releasing a held batch), the process go on, and
//! the handle then answer (statistics) and close; 12 repetitions of each at
//! delays of 0 to 30 ms (races are found by repetition). Built with ASan
//! and UBSan, and run once more under valgrind memcheck (no definite
//! leak). Before issue 22 each of these aborted the process ("FATAL:
//! exception not rethrown").

use std::process::Output;

use netring_testkit::{Net, cbuild, require};

#[path = "common/valgrind.rs"]
mod valgrind;

const MODES: [&str; 7] = [
    "next_batch",
    "next_packet",
    "for_each",
    "xdp",
    "bridge",
    "bridge_cb",
    "inject",
];

/// `test_cancel A B MODE REPS` in `net`, through `wrapper` (e.g. valgrind).
fn run(net: &Net, wrapper: &[&str], bin: &str, mode: &str, reps: u32) -> Output {
    let mut c = match wrapper.split_first() {
        Some((w, rest)) => {
            let mut c = net.command(w);
            c.args(rest).arg(bin);
            c
        }
        None => net.command(bin),
    };
    c.args([&net.a, &net.b, mode, &reps.to_string()]);
    c.output().unwrap()
}

fn check(out: &Output, mode: &str, reps: u32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{mode}: {:?}\n{stdout}{stderr}",
        out.status
    );
    if stdout.contains("RESULT skipped") {
        netring_testkit::skip(&format!("{mode}: {}", stdout.trim()));
        return;
    }
    assert!(
        stdout.contains(&format!("RESULT cancelled={reps} reps={reps} failures=0")),
        "{mode}: {stdout}{stderr}"
    );
}

/// A network whose A holds frames sent from it in flight (a token bucket
/// of 8 bit/s after a 1600-byte burst), so an injector's drain wait
/// blocks; frames from B reach A at once.
fn net() -> Net {
    let net = Net::new();
    let st = net
        .command("tc")
        .args(["qdisc", "add", "dev", &net.a, "root", "tbf"])
        .args(["rate", "8bit", "burst", "1600", "latency", "100s"])
        .status()
        .unwrap();
    assert!(st.success(), "tc qdisc add tbf");
    net
}

#[test]
fn cancelled_threads_end_cancelled_and_handles_close() {
    require!("cc", "tc");
    let bin = cbuild::build_c("tests/c/test_cancel.c");
    let net = net();
    for mode in MODES {
        check(&run(&net, &[], bin.to_str().unwrap(), mode, 12), mode, 12);
    }
}

#[test]
fn valgrind_finds_no_leak_after_cancellation() {
    require!("cc", "tc", "valgrind");
    let bin = valgrind::plain("tests/c/test_cancel.c");
    let net = net();
    let vg: Vec<&str> = ["valgrind"]
        .into_iter()
        .chain(valgrind::VALGRIND.iter().copied())
        .collect();
    for mode in MODES {
        check(&run(&net, &vg, bin.to_str().unwrap(), mode, 3), mode, 3);
    }
}
