//! Write a synthetic capture: `genpcap FILE [PACKETS] [FLOWS] [SEED]`
//! (defaults 1,000,000 packets over 10,000 flows): IPv4 and IPv6, TCP and
//! UDP, a quarter VLAN-tagged, both directions.

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = a.first() else {
        eprintln!("usage: genpcap FILE [PACKETS] [FLOWS] [SEED]");
        std::process::exit(2);
    };
    let num = |i: usize, d: u64| a.get(i).map_or(d, |s| s.parse().expect("a number"));
    if let Err(e) = netring_export::testdata::gen_pcap(
        std::path::Path::new(path),
        num(1, 1_000_000) as u32,
        num(2, 10_000).max(1) as u32,
        num(3, 1),
    ) {
        eprintln!("genpcap: {e}");
        std::process::exit(1);
    }
}
