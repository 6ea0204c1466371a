//! Opening into a network namespace leaves the calling thread in its own
//! (issue 15, item 8), checked from C through /proc/thread-self/ns/net:
//! missing namespace, not a namespace, interface missing there, success,
//! and without CAP_SYS_ADMIN. The program is built with ASan/UBSan and also
//! run under valgrind memcheck.

use std::process::Command;

use netring_testkit::Net;
use netring_testkit::cbuild;

#[path = "common/valgrind.rs"]
mod valgrind;

fn check(out: std::process::Output, want_ok: u32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("RESULT ok={want_ok}")),
        "{stdout}{stderr}"
    );
    // The status text is true for a missing namespace (not "no such
    // interface").
    assert!(
        stdout.contains("missing namespace: rc=-5 (invalid configuration)"),
        "{stdout}"
    );
}

#[test]
fn thread_stays_in_its_namespace_on_every_path() {
    let bin = cbuild::build_c("tests/c/test_netns.c");
    let net = Net::new();
    let out = Command::new(&bin).args([&net.ns, &net.a]).output().unwrap();
    check(out, 5);
    // Without CAP_SYS_ADMIN (but with CAP_NET_RAW): setns is refused.
    let out = Command::new("setpriv")
        .args([
            "--inh-caps=-all,+net_raw",
            "--ambient-caps=+net_raw",
            "--bounding-set=-all,+net_raw",
            "--",
        ])
        .arg(&bin)
        .arg(&net.ns)
        .output()
        .unwrap();
    check(out, 4);
}

#[test]
fn valgrind_finds_nothing_in_the_namespace_paths() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        netring_testkit::skip("valgrind is not installed");
        return;
    }
    let bin = valgrind::plain("tests/c/test_netns.c");
    let net = Net::new();
    let out = valgrind::run_ok(&bin, [&net.ns, &net.a], "test_netns");
    check(out, 5);
}
