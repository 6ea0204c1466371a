//! Sets the SONAME of the shared library and generates the C header.
//!
//! cbindgen (pinned 0.29) turns the Rust sources into declarations; this
//! script then lays them out as a book a newcomer reads from the top: the
//! quick start and conventions, then one section per object in the order a
//! user meets them (conventions and errors, capture, batches and packets,
//! header parsing, injection, AF_XDP, capture files, bridge, version), each
//! item where the explicit lists of [`SECTIONS`] put it (the build fails on
//! an item no list places). The header is written to `$OUT_DIR/netring.h`;
//! `include/netring.h` is the checked-in copy (a test fails when the two
//! differ). `make header` (or `NETRING_WRITE_HEADER=1 cargo build`)
//! refreshes the checked-in copy.

use std::env;
use std::path::PathBuf;

/// The sections, in reading order: (title, what it is for, every item of
/// the section in the order it is printed). The lists are the header's
/// table of contents: the build fails when cbindgen emits an item that no
/// section lists, or a section lists a name cbindgen did not emit (a new
/// export is placed by adding its name where a reader meets it).
const SECTIONS: &[(&str, &str, &[&str])] = &[
    (
        "Conventions and errors",
        "Status codes, error messages, and the opaque handle types.",
        &[
            "nr_status",
            "nr_batch",
            "nr_bridge",
            "nr_capture",
            "nr_injector",
            "nr_reader",
            "nr_writer",
            "nr_xdp",
            "nr_last_error",
            "nr_strerror",
        ],
    ),
    (
        "Capture",
        "A TPACKET_V3 ring on one interface: configure, open, take batches \
         (or one packet at a time), statistics, filters, fanout.",
        &[
            "nr_direction",
            "nr_fanout_mode",
            "nr_fanout_flag",
            "nr_tstamp_source",
            "nr_profile",
            "nr_bpf_insn",
            "nr_capture_config",
            "nr_capture_stats",
            "nr_ring_info",
            "nr_capture_info",
            "nr_capture_config_init",
            "nr_capture_open",
            "nr_capture_close",
            "nr_next_batch",
            "nr_next_packet",
            "nr_capture_get_stats",
            "nr_capture_fd",
            "nr_capture_breakloop",
            "nr_capture_config_apply_profile",
            "nr_capture_get_info",
            "nr_capture_set_filter",
            "nr_bpf_compile",
        ],
    ),
    (
        "Batches and packets",
        "What every engine hands out: a batch of zero-copy packet \
         descriptors, walked with a callback, copied into your array, or \
         read in your own loop with the inline iterator (nr_iter_next()).",
        &[
            "NR_PACKET_FLAG_LOSING",
            "NR_PACKET_FLAG_CSUM_NOT_READY",
            "NR_PACKET_FLAG_VLAN_VALID",
            "NR_PACKET_FLAG_VLAN_TPID_VALID",
            "NR_PACKET_FLAG_CSUM_VALID",
            "NR_PACKET_FLAG_TRUNCATED",
            "NR_PACKET_FLAG_TS_SOFTWARE",
            "NR_PACKET_FLAG_TS_SYS_HARDWARE",
            "NR_PACKET_FLAG_TS_RAW_HARDWARE",
            "nr_packet_type",
            "nr_packet",
            "nr_packet_cb",
            "nr_batch_len",
            "nr_batch_seq",
            "nr_batch_for_each",
            "nr_batch_fill",
            "nr_batch_rewind",
            "nr_batch_release",
            "NR_PACKET_FLAGS_KERNEL_MASK",
            "nr_v3_hdr",
            "nr_iter",
            "nr_batch_iter",
            "nr_iter_next_slow",
        ],
    ),
    (
        "Header parsing",
        "Where each protocol header of a packet starts and ends, zero copy: \
         Ethernet, VLAN tags, IPv4, IPv6 with extension headers, ARP, TCP, \
         UDP, SCTP, ICMP.",
        &[
            "nr_parse_status",
            "nr_layer",
            "nr_l3",
            "nr_l4",
            "nr_frag_flag",
            "nr_layers",
            "nr_packet_parse",
        ],
    ),
    (
        "Injection",
        "Sending frames: zero-copy slots of a TX ring (or sendmmsg), and \
         copying conveniences.",
        &[
            "nr_tx_mode",
            "nr_injector_config",
            "nr_frame",
            "nr_injector_stats",
            "nr_injector_info",
            "nr_injector_config_init",
            "nr_injector_open",
            "nr_injector_close",
            "nr_injector_alloc",
            "nr_injector_send",
            "nr_injector_flush",
            "nr_injector_wait_drained",
            "nr_inject",
            "nr_inject_batch",
            "nr_injector_get_stats",
            "nr_injector_get_info",
            "nr_injector_fd",
        ],
    ),
    (
        "AF_XDP",
        "XDP sockets over a shared UMEM, with netring's own redirect program.",
        &[
            "nr_xdp_direction",
            "nr_xdp_bind_mode",
            "nr_xdp_attach_mode",
            "nr_xdp_config",
            "nr_xdp_info",
            "nr_xdp_stats",
            "nr_xdp_config_init",
            "nr_xdp_open",
            "nr_xdp_open_all",
            "nr_xdp_close",
            "nr_xdp_get_info",
            "nr_xdp_next_batch",
            "nr_xdp_send",
            "nr_xdp_tx_alloc",
            "nr_xdp_tx_submit",
            "nr_xdp_flush",
            "nr_xdp_complete",
            "nr_xdp_get_stats",
            "nr_xdp_fd",
            "nr_xdp_breakloop",
        ],
    ),
    (
        "Capture files",
        "pcap and pcapng: writing batches straight from ring memory, reading \
         files back as the same batches.",
        &[
            "nr_format",
            "nr_linktype",
            "nr_writer_config",
            "nr_writer_stats",
            "nr_reader_info",
            "nr_writer_config_init",
            "nr_writer_open",
            "nr_writer_open_fd",
            "nr_writer_write_batch",
            "nr_writer_write_packet",
            "nr_writer_set_stats",
            "nr_writer_flush",
            "nr_writer_get_stats",
            "nr_writer_close",
            "nr_reader_open",
            "nr_reader_open_fd",
            "nr_reader_get_info",
            "nr_reader_next_batch",
            "nr_reader_next_packet",
            "nr_reader_close",
        ],
    ),
    (
        "Bridge",
        "Forwarding between two interfaces with a per-packet verdict.",
        &[
            "nr_bridge_direction",
            "nr_bridge_verdict",
            "nr_bridge_cb",
            "nr_bridge_path_stats",
            "nr_bridge_stats",
            "nr_bridge_open",
            "nr_bridge_run",
            "nr_bridge_breakloop",
            "nr_bridge_get_stats",
            "nr_bridge_close",
        ],
    ),
    (
        "Flow meter and Arrow records",
        "Bidirectional flows counted over any engine's packets, and their \
         records handed on through the Arrow C Data Interface.",
        &[
            "NR_FLOW_IP_BYTES",
            "nr_flow_meter",
            "nr_flow_stats",
            "nr_arrow_schema",
            "nr_arrow_array",
            "nr_flow_meter_open",
            "nr_flow_meter_observe",
            "nr_flow_meter_expire",
            "nr_flow_meter_flush",
            "nr_flow_meter_get_stats",
            "nr_flow_meter_export",
            "nr_flow_meter_close",
            "nr_packets_export",
        ],
    ),
    (
        "Version",
        "The library's version at compile time and at run time.",
        &[
            "NR_VERSION_MAJOR",
            "NR_VERSION_MINOR",
            "NR_VERSION_PATCH",
            "nr_version",
            "nr_version_number",
        ],
    ),
];

/// `NR_*_CONFIG_INIT` macros appended to a section after its functions:
/// (section title, config type name without `nr_`).
/// C code of the header that is not generated from Rust items: `static
/// inline` functions, placed at the end of their section (title, text).
const INLINE: &[(&str, &str)] = &[("Batches and packets", include_str!("src/capi/iter.h"))];

const CONFIG_INIT_MACROS: &[(&str, &str)] = &[
    ("Capture", "capture_config"),
    ("Injection", "injector_config"),
    ("AF_XDP", "xdp_config"),
    ("Capture files", "writer_config"),
];

/// The `NR_<TYPE>_INIT` macro of config type `nr_<ty>`, with its doc comment.
fn config_init_macro(ty: &str) -> String {
    format!(
        "/** Initialise a nr_{ty} with the library defaults (the size is filled in for you). */\n\
         #define NR_{up}_INIT(cfg) nr_{ty}_init((cfg), sizeof(*(cfg)))",
        up = ty.to_uppercase()
    )
}

/// Split `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for w in text.split_whitespace() {
        let last = lines.last_mut().expect("non-empty");
        if !last.is_empty() && last.len() + 1 + w.len() > width {
            lines.push(w.to_owned());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(w);
        }
    }
    lines
}

/// One declaration (with its doc comment) from cbindgen's output.
struct Item {
    name: String,
    text: String,
}

fn name_of(decl: &str) -> String {
    let code: Vec<&str> = decl
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("/*") || t.starts_with('*') || t.starts_with("//"))
        })
        .collect();
    let first = code.first().copied().unwrap_or("");
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(r) = first.strip_prefix("#define ") {
        return word(r);
    }
    // A function returning a struct by value: `struct T f(...);`.
    if first.starts_with("struct ") && first.contains('(') && !first.contains('{') {
        let head = &first[..first.find('(').unwrap_or(first.len())];
        return head
            .rsplit([' ', '*'])
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
    }
    for kw in [
        "typedef enum ",
        "typedef struct ",
        "typedef union ",
        "struct ",
        "enum ",
    ] {
        if let Some(r) = first.strip_prefix(kw) {
            return word(r);
        }
    }
    if let Some(i) = first.find("(*") {
        return word(&first[i + 2..]);
    }
    let joined = code.join(" ");
    let paren = joined.find('(').unwrap_or(joined.len());
    let head = &joined[..paren];
    head.rsplit([' ', '*'])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// Split a run of declarations separated by blank lines into items,
/// keeping braces balanced.
fn items(body: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for chunk in body.split("\n\n") {
        if chunk.trim().is_empty() {
            continue;
        }
        if !cur.is_empty() {
            cur.push_str("\n\n");
        }
        cur.push_str(chunk.trim_matches('\n'));
        if cur.matches('{').count() == cur.matches('}').count() {
            out.push(Item {
                name: name_of(&cur),
                text: std::mem::take(&mut cur),
            });
        }
    }
    out
}

/// Lay cbindgen's output out by section, each item where [`SECTIONS`]
/// lists it. An error names what does not fit: cbindgen's output is not
/// of the expected shape, an item is listed nowhere (or twice), or a
/// listed name was not emitted.
fn arrange(raw: &str, preamble: &str) -> Result<String, String> {
    let ext_open = "#ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n";
    let ext_close = "#ifdef __cplusplus\n}  // extern \"C\"\n#endif  // __cplusplus\n";
    let shape = || "unexpected cbindgen output (no #include or extern \"C\" block)".to_owned();
    let includes_start = raw.find("#include <").ok_or_else(shape)?;
    let inc_end = raw.rfind("#include <").ok_or_else(shape)?;
    let inc_end = inc_end + raw[inc_end..].find('\n').ok_or_else(shape)? + 1;
    let fn_start = raw.find(ext_open).ok_or_else(shape)?;
    let fn_end = raw.find(ext_close).ok_or_else(shape)?;
    let includes = &raw[includes_start..inc_end];
    let mut all = items(&raw[inc_end..fn_start]);
    all.extend(items(&raw[fn_start + ext_open.len()..fn_end]));

    let mut by_name = std::collections::BTreeMap::new();
    for it in &all {
        if by_name.insert(it.name.as_str(), it).is_some() {
            return Err(format!("cbindgen emitted two items named {}", it.name));
        }
    }
    let mut placed = std::collections::BTreeSet::new();
    for (title, _, names) in SECTIONS {
        for n in names.iter() {
            if !by_name.contains_key(n) {
                return Err(format!(
                    "section \"{title}\" lists {n}, which cbindgen did not emit (renamed or removed? update SECTIONS in build.rs)"
                ));
            }
            if !placed.insert(*n) {
                return Err(format!("{n} is listed twice in SECTIONS"));
            }
        }
    }
    let unplaced: Vec<&str> = by_name
        .keys()
        .copied()
        .filter(|n| !placed.contains(n))
        .collect();
    if !unplaced.is_empty() {
        return Err(format!(
            "no section of netring.h lists {unplaced:?}: add each name to SECTIONS in build.rs, where a reader meets it"
        ));
    }

    let mut out = String::new();
    out.push_str(preamble);
    out.push_str("\n#ifndef NETRING_H\n#define NETRING_H\n\n");
    out.push_str(includes);
    out.push('\n');
    out.push_str(ext_open);
    let rule = "=".repeat(72);
    for (i, (title, what, names)) in SECTIONS.iter().enumerate() {
        out.push_str(&format!("\n/* {rule}\n * {}\n *\n", title.to_uppercase()));
        for line in wrap(what, 70) {
            out.push_str(&format!(" * {line}\n"));
        }
        out.push_str(&format!(" * {rule} */\n\n"));
        if i == 0 {
            out.push_str(
                "/* Forward declaration: functions of the Capture section return\n \
                 * packets, defined in \"Batches and packets\". */\nstruct nr_packet;\n\n",
            );
        }
        for n in names.iter() {
            out.push_str(&by_name[n].text);
            out.push_str("\n\n");
        }
        for (t, ty) in CONFIG_INIT_MACROS {
            if t == title {
                out.push_str(&config_init_macro(ty));
                out.push_str("\n\n");
            }
        }
        for (t, text) in INLINE {
            if t == title {
                out.push_str(text.trim_end());
                out.push_str("\n\n");
            }
        }
    }
    out.push_str(ext_close);
    out.push_str("\n#endif  /* NETRING_H */\n");
    Ok(out)
}

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnetring.so.{major}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NETRING_WRITE_HEADER");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("netring.h");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let preamble = format!(
        "{}\n\n{}\n",
        config.autogen_warning.clone().unwrap_or_default(),
        config.header.clone().unwrap_or_default()
    );
    let mut config = config;
    config.header = None;
    config.autogen_warning = None;
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            let mut raw = Vec::new();
            bindings.write(&mut raw);
            let raw = String::from_utf8(raw).expect("cbindgen writes UTF-8");
            // A header out of its reading order is a build error, not a
            // warning: the message says which name to place.
            let text = arrange(&raw, &preamble).unwrap_or_else(|e| panic!("netring.h: {e}"));
            std::fs::write(&out, &text).expect("write header");
            if env::var_os("NETRING_WRITE_HEADER").is_some() {
                std::fs::write(crate_dir.join("include/netring.h"), &text).expect("write header");
            }
        }
        Err(e) => {
            // Do not fail the library build over the header; the freshness
            // test fails instead, with this message.
            println!("cargo:warning=cbindgen failed: {e}");
            std::fs::write(&out, format!("/* cbindgen failed: {e} */\n")).expect("write header");
        }
    }
}
