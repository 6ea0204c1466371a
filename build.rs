//! Sets the SONAME of the shared library and generates the C header.
//!
//! cbindgen (pinned 0.29) turns the Rust sources into declarations; this
//! script then lays them out as a book a newcomer reads from the top: the
//! quick start and conventions, then one section per object in the order a
//! user meets them (conventions and errors, capture, batches and packets,
//! injection, AF_XDP, capture files, bridge, version), each section's types
//! next to its functions. The header is written to `$OUT_DIR/netring.h`;
//! `include/netring.h` is the checked-in copy (a test fails when the two
//! differ). `make header` (or `NETRING_WRITE_HEADER=1 cargo build`)
//! refreshes the checked-in copy.

use std::env;
use std::path::PathBuf;

/// The sections, in reading order: (title, what it is for, name prefixes
/// that belong to it). A name goes to the first section with a matching
/// prefix; `=name` matches exactly.
const SECTIONS: &[(&str, &str, &[&str])] = &[
    (
        "Conventions and errors",
        "Status codes, error messages, and the opaque handle types.",
        &["=nr_status", "=nr_last_error", "=nr_strerror", "@handles"],
    ),
    (
        "Capture",
        "A TPACKET_V3 ring on one interface: configure, open, take batches \
         (or one packet at a time), statistics, filters, fanout.",
        &[
            "nr_capture",
            "NR_CAPTURE",
            "=nr_next_batch",
            "=nr_next_packet",
            "nr_bpf",
            "nr_direction",
            "nr_fanout",
            "nr_tstamp",
            "nr_profile",
            "nr_ring_info",
        ],
    ),
    (
        "Batches and packets",
        "What every engine hands out: a batch of zero-copy packet \
         descriptors, walked with a callback or copied into your array.",
        &["nr_batch", "nr_packet", "NR_PKT_"],
    ),
    (
        "Header parsing",
        "Where each protocol header of a packet starts and ends, zero copy: \
         Ethernet, VLAN tags, IPv4, IPv6 with extension headers, ARP, TCP, \
         UDP, SCTP, ICMP.",
        &[
            "=nr_packet_parse",
            "nr_layers",
            "nr_parse_status",
            "nr_layer",
            "nr_l3",
            "nr_l4",
            "nr_frag_flag",
        ],
    ),
    (
        "Injection",
        "Sending frames: zero-copy slots of a TX ring (or sendmmsg), and \
         copying conveniences.",
        &[
            "nr_injector",
            "NR_INJECTOR",
            "=nr_inject",
            "nr_inject_",
            "nr_frame",
            "nr_tx_mode",
        ],
    ),
    (
        "AF_XDP",
        "XDP sockets over a shared UMEM, with netring's own redirect program.",
        &["nr_xdp", "NR_XDP"],
    ),
    (
        "Capture files",
        "pcap and pcapng: writing batches straight from ring memory, reading \
         files back as the same batches.",
        &[
            "nr_writer",
            "NR_WRITER",
            "nr_reader",
            "nr_format",
            "nr_linktype",
        ],
    ),
    (
        "Bridge",
        "Forwarding between two interfaces with a per-packet verdict.",
        &["nr_bridge"],
    ),
    (
        "Version",
        "The library's version at compile time and at run time.",
        &["nr_version", "NR_VERSION"],
    ),
];

/// Macros appended to a section after its functions: (section title, text).
const MACROS: &[(&str, &str)] = &[
    (
        "Capture",
        "/** Initialise a nr_capture_config with the library defaults (the size is filled in for you). */\n\
         #define NR_CAPTURE_CONFIG_INIT(cfg) nr_capture_config_init((cfg), sizeof(*(cfg)))",
    ),
    (
        "Injection",
        "/** Initialise a nr_injector_config with the library defaults (the size is filled in for you). */\n\
         #define NR_INJECTOR_CONFIG_INIT(cfg) nr_injector_config_init((cfg), sizeof(*(cfg)))",
    ),
    (
        "AF_XDP",
        "/** Initialise a nr_xdp_config with the library defaults (the size is filled in for you). */\n\
         #define NR_XDP_CONFIG_INIT(cfg) nr_xdp_config_init((cfg), sizeof(*(cfg)))",
    ),
    (
        "Capture files",
        "/** Initialise a nr_writer_config with the library defaults (the size is filled in for you). */\n\
         #define NR_WRITER_CONFIG_INIT(cfg) nr_writer_config_init((cfg), sizeof(*(cfg)))",
    ),
];

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
    is_fn: bool,
    /// `typedef struct X X;`: an opaque handle.
    opaque: bool,
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
fn items(body: &str, is_fn: bool) -> Vec<Item> {
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
        let open = cur.matches('{').count();
        let close = cur.matches('}').count();
        if open == close {
            let name = name_of(&cur);
            let opaque = cur
                .lines()
                .any(|l| l == format!("typedef struct {name} {name};"));
            out.push(Item {
                name,
                text: std::mem::take(&mut cur),
                is_fn,
                opaque,
            });
        }
    }
    out
}

fn section_of(it: &Item) -> usize {
    // Exact names first, so `=nr_packet_parse` wins over a `nr_packet` prefix.
    for (i, (_, _, names)) in SECTIONS.iter().enumerate() {
        if names
            .iter()
            .any(|p| p.strip_prefix('=') == Some(it.name.as_str()))
        {
            return i;
        }
    }
    for (i, (_, _, prefixes)) in SECTIONS.iter().enumerate() {
        for p in prefixes.iter() {
            let hit = if *p == "@handles" {
                it.opaque
            } else if let Some(exact) = p.strip_prefix('=') {
                it.name == exact
            } else {
                it.name.starts_with(p)
            };
            if hit {
                return i;
            }
        }
    }
    usize::MAX
}

/// Lay cbindgen's output out by section. Returns None if it does not have
/// the expected shape (the raw output is used then).
fn arrange(raw: &str, preamble: &str) -> Option<String> {
    let ext_open = "#ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n";
    let ext_close = "#ifdef __cplusplus\n}  // extern \"C\"\n#endif  // __cplusplus\n";
    let inc_end = raw.rfind("#include <")?;
    let inc_end = inc_end + raw[inc_end..].find('\n')? + 1;
    let fn_start = raw.find(ext_open)?;
    let fn_end = raw.find(ext_close)?;
    let includes_start = raw.find("#include <")?;
    let includes = &raw[includes_start..inc_end];
    let mut all = items(&raw[inc_end..fn_start], false);
    all.extend(items(&raw[fn_start + ext_open.len()..fn_end], true));

    let mut out = String::new();
    out.push_str(preamble);
    out.push_str("\n#ifndef NETRING_H\n#define NETRING_H\n\n");
    out.push_str(includes);
    out.push('\n');
    out.push_str(ext_open);
    let mut other = Vec::new();
    for (i, (title, what, _)) in SECTIONS.iter().enumerate() {
        let mine: Vec<&Item> = all.iter().filter(|it| section_of(it) == i).collect();
        let rule = "=".repeat(72);
        out.push_str(&format!("\n/* {rule}\n * {}\n *\n", title.to_uppercase()));
        for line in wrap(what, 70) {
            out.push_str(&format!(" * {line}\n"));
        }
        out.push_str(&format!(" * {rule} */\n\n"));
        // Types first (handles and forward declarations, constants and
        // enums, structs, callbacks), then the functions, then macros.
        if i == 0 {
            out.push_str(
                "/* Forward declaration: functions of the Capture section return\n \
                 * packets, defined in \"Batches and packets\". */\nstruct nr_packet;\n\n",
            );
        }
        for pass in 0..2 {
            for it in mine.iter().filter(|it| it.is_fn == (pass == 1)) {
                out.push_str(&it.text);
                out.push_str("\n\n");
            }
        }
        for (t, m) in MACROS {
            if t == title {
                out.push_str(m);
                out.push_str("\n\n");
            }
        }
    }
    for it in all.iter().filter(|it| section_of(it) == usize::MAX) {
        other.push(it);
    }
    if !other.is_empty() {
        let rule = "=".repeat(72);
        out.push_str(&format!("/* {rule}\n * More\n * {rule} */\n\n"));
        for pass in 0..2 {
            for it in other.iter().filter(|it| it.is_fn == (pass == 1)) {
                out.push_str(&it.text);
                out.push_str("\n\n");
            }
        }
    }
    out.push_str(ext_close);
    out.push_str("\n#endif  /* NETRING_H */\n");
    Some(out)
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
            let text = arrange(&raw, &preamble).unwrap_or_else(|| {
                println!("cargo:warning=netring.h: unexpected cbindgen layout, not arranged");
                raw
            });
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
