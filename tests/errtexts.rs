//! Each status text is true wherever it is returned (issue 15, item 6): the
//! tools are run unprivileged and against a busy AF_XDP queue, and their
//! messages (nr_strerror() + nr_last_error()) are checked for the right
//! capability and the right cause.

use std::process::{Command, Stdio};

use netring_testkit::Net;
use netring_testkit::cbuild::bin;

/// Run `args` as user nobody with no capabilities at all: its exit code
/// and stderr.
fn unprivileged(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn nrsend_unprivileged_names_cap_net_raw_and_not_promiscuous_mode() {
    let (code, e) = unprivileged(&[&bin("nrsend"), "-i", "lo", "-n", "1"]);
    assert_eq!(code, Some(1), "{e}");
    assert!(e.contains("needs CAP_NET_RAW"), "{e}");
    assert!(!e.to_lowercase().contains("promisc"), "{e}");
    assert!(!e.contains("CAP_NET_ADMIN"), "{e}");
}

#[test]
fn nrcap_unprivileged_names_cap_net_raw() {
    let (code, e) = unprivileged(&[&bin("nrcap"), "-i", "lo", "-c", "1"]);
    assert_ne!(code, Some(0), "{e}");
    assert!(e.contains("needs CAP_NET_RAW"), "{e}");
}

#[test]
fn nrxdp_unprivileged_names_the_capabilities_of_the_failing_call() {
    for args in [vec!["-i", "lo"], vec!["--tx", "-i", "lo", "-n", "1"]] {
        let mut full = vec![bin("nrxdp")];
        full.extend(args.iter().map(|s| s.to_string()));
        let full: Vec<&str> = full.iter().map(|s| s.as_str()).collect();
        let (code, e) = unprivileged(&full);
        assert_eq!(code, Some(1), "{args:?}: {e}");
        // The generic status text claims no capability of its own.
        assert!(
            e.contains("permission denied (a privilege is missing; the message names it)"),
            "{args:?}: {e}"
        );
        if args[0] == "--tx" {
            // TX only: no program, the AF_XDP socket is what is refused.
            assert!(
                e.contains("socket(AF_XDP)") && e.contains("needs CAP_NET_RAW"),
                "{e}"
            );
        } else {
            // RX: the XDP program (map) is created first.
            assert!(e.contains("CAP_BPF and CAP_NET_ADMIN"), "{e}");
        }
        assert!(!e.to_lowercase().contains("promisc"), "{args:?}: {e}");
    }
}

#[test]
fn busy_xdp_queue_says_so_without_mentioning_a_batch() {
    let net = Net::new();
    let mut first = net
        .command(&bin("nrxdp"))
        .args(["-i", &net.a, "-Q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    net.wait_xdp(&net.a);
    let o = net
        .command(&bin("nrxdp"))
        .args(["-i", &net.a, "-q", "0"])
        .output()
        .unwrap();
    let _ = first.kill();
    let _ = first.wait();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("in use by another AF_XDP socket"), "{e}");
    assert!(!e.contains("batch"), "{e}");
}
