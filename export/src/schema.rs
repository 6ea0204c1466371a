//! The two row schemas, in one place: packet records and flow records.
//!
//! Chosen for ClickHouse's and DuckDB's Arrow/Parquet type mapping:
//!
//! | Arrow type | ClickHouse | DuckDB | used for |
//! |---|---|---|---|
//! | `Timestamp(ns, "UTC")` | `DateTime64(9, 'UTC')` | `TIMESTAMP_NS`/`TIMESTAMPTZ` | time stamps |
//! | `UInt32` (nullable) | `UInt32`, castable to `IPv4` | `UINTEGER` | IPv4 addresses (host order: 10.0.0.1 = 0x0a000001) |
//! | `FixedSizeBinary(16)` (nullable) | `FixedString(16)`, castable to `IPv6` | `BLOB` | IPv6 addresses (network order) |
//! | `UInt64` | `UInt64` (`MACNumToString`) | `UBIGINT` | MAC addresses (48 bits, first byte highest) |
//! | `UInt8`/`UInt16`/`UInt64` | same | same | ports, protocol, counters |
//!
//! An IPv4 row has the `*_ip4` columns set and the `*_ip6` ones null; an
//! IPv6 row the reverse; a non-IP row both null. Each schema carries its
//! kind (`netring.records` = `packets` | `flows`) and [`SCHEMA_VERSION`]
//! (`netring.schema_version`) in its metadata; a change to a column is a
//! new version.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The version of both schemas (metadata key `netring.schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// Which rows a stream or file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// One row per packet ([`packet_schema`]).
    Packets,
    /// One row per flow record ([`flow_schema`]).
    Flows,
}

impl Records {
    /// `packets` or `flows`.
    pub fn name(self) -> &'static str {
        match self {
            Records::Packets => "packets",
            Records::Flows => "flows",
        }
    }
    /// The schema of these rows.
    pub fn schema(self) -> SchemaRef {
        match self {
            Records::Packets => packet_schema(),
            Records::Flows => flow_schema(),
        }
    }
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn f(name: &str, t: DataType) -> Field {
    Field::new(name, t, false)
}

/// The columns both schemas share, in this order: who talked to whom.
fn key_fields() -> Vec<Field> {
    vec![
        f("src_mac", DataType::UInt64),
        f("dst_mac", DataType::UInt64),
        f("vlan", DataType::UInt16),
        f("vlan_inner", DataType::UInt16),
        f("ethertype", DataType::UInt16),
        f("ip_version", DataType::UInt8),
        Field::new("src_ip4", DataType::UInt32, true),
        Field::new("dst_ip4", DataType::UInt32, true),
        Field::new("src_ip6", DataType::FixedSizeBinary(16), true),
        Field::new("dst_ip6", DataType::FixedSizeBinary(16), true),
        f("proto", DataType::UInt8),
        f("src_port", DataType::UInt16),
        f("dst_port", DataType::UInt16),
    ]
}

fn with_meta(fields: Vec<Field>, kind: Records) -> SchemaRef {
    let meta = HashMap::from([
        ("netring.records".to_string(), kind.name().to_string()),
        (
            "netring.schema_version".to_string(),
            SCHEMA_VERSION.to_string(),
        ),
    ]);
    Arc::new(Schema::new_with_metadata(fields, meta))
}

/// One row per packet:
///
/// | column | type | meaning |
/// |---|---|---|
/// | `ts` | Timestamp(ns, UTC) | capture time stamp |
/// | `ifindex` | Int32 | interface index (0 from a file) |
/// | `caplen` | UInt32 | captured bytes |
/// | `len` | UInt32 | wire length (link header included) |
/// | `src_mac`, `dst_mac` | UInt64 | Ethernet addresses (a frame shorter than 12 bytes: 0) |
/// | `vlan`, `vlan_inner` | UInt16 | VLAN IDs, 0 = none (a tag the kernel stripped counts as the outer) |
/// | `ethertype` | UInt16 | after the VLAN tags |
/// | `ip_version` | UInt8 | 4, 6, 0 = not IP |
/// | `src_ip4`, `dst_ip4` | UInt32, null unless IPv4 | |
/// | `src_ip6`, `dst_ip6` | FixedSizeBinary(16), null unless IPv6 | |
/// | `proto` | UInt8 | IP protocol, 0 = not IP |
/// | `src_port`, `dst_port` | UInt16 | TCP/UDP/SCTP, else 0 |
/// | `tcp_flags` | UInt8 | TCP flags byte, else 0 |
/// | `flow_hash` | UInt64 | `FlowKey::hash`: equal for both directions, joins flow rows |
pub fn packet_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut v = vec![
            f("ts", ts()),
            f("ifindex", DataType::Int32),
            f("caplen", DataType::UInt32),
            f("len", DataType::UInt32),
        ];
        v.extend(key_fields());
        v.extend([
            f("tcp_flags", DataType::UInt8),
            f("flow_hash", DataType::UInt64),
        ]);
        with_meta(v, Records::Packets)
    })
    .clone()
}

/// One row per flow record (`netring_engine::flow::FlowRecord`), oriented
/// by the initiator (`src` sent the first packet):
///
/// | column | type | meaning |
/// |---|---|---|
/// | `first_ts`, `last_ts` | Timestamp(ns, UTC) | first and last packet |
/// | `src_mac`, `dst_mac` | UInt64 | the first packet's |
/// | `vlan`, `vlan_inner` | UInt16 | VLAN IDs, 0 = none |
/// | `ethertype` | UInt16 | |
/// | `ip_version` | UInt8 | 4, 6, 0 = not IP (keyed by MACs) |
/// | `src_ip4` .. `dst_ip6` | as in packet rows | |
/// | `proto` | UInt8 | |
/// | `src_port`, `dst_port` | UInt16 | |
/// | `packets_fwd`, `bytes_fwd` | UInt64 | src → dst (bytes: wire length) |
/// | `packets_rev`, `bytes_rev` | UInt64 | dst → src |
/// | `tcp_flags_fwd`, `tcp_flags_rev` | UInt8 | OR of the flags each side sent |
/// | `end_reason` | UInt8 | 1 idle, 2 active, 3 FIN, 4 RST, 5 table full, 6 flush |
/// | `flow_hash` | UInt64 | as in packet rows |
pub fn flow_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut v = vec![f("first_ts", ts()), f("last_ts", ts())];
        v.extend(key_fields());
        v.extend([
            f("packets_fwd", DataType::UInt64),
            f("bytes_fwd", DataType::UInt64),
            f("packets_rev", DataType::UInt64),
            f("bytes_rev", DataType::UInt64),
            f("tcp_flags_fwd", DataType::UInt8),
            f("tcp_flags_rev", DataType::UInt8),
            f("end_reason", DataType::UInt8),
            f("flow_hash", DataType::UInt64),
        ]);
        with_meta(v, Records::Flows)
    })
    .clone()
}
