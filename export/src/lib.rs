//! netring's records out: packets and flows as Arrow IPC streams and
//! Parquet files, for ClickHouse, DuckDB, Spark, Polars.
//!
//! A crate of its own (on the Apache Arrow crates) so that `libnetring.so`
//! stays small for users who do not need it. The pieces:
//!
//! * [`schema`]: the two row layouts (packets, flows), in one place, with
//!   their version;
//! * [`rows`]: builders that turn `Packet`s and `FlowRecord`s into Arrow
//!   record batches;
//! * [`sink`]: an Arrow IPC stream (file, pipe, stdout) or Parquet files,
//!   rotated by size and by time, never leaving a half-written file;
//! * [`ipfix`]: flow records over UDP to an IPFIX collector (RFC 7011);
//! * [`Exporter`]: all of them together, what the `nrexport` tool runs.
//!
//! ```no_run
//! use netring_export::{Exporter, schema::Records, sink::{Format, SinkConfig}};
//! use netring_engine::pcapfile::Reader;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = SinkConfig { format: Format::Parquet, records: Records::Flows,
//!     path: "flows.parquet".into(), rotate_bytes: None, rotate_ns: None };
//! let mut ex = Exporter::new(cfg, Default::default())?;
//! let mut r = Reader::open("capture.pcap")?;
//! while let Some(p) = r.next_packet()? {
//!     ex.packet(&p)?;
//! }
//! let sum = ex.finish()?;
//! println!("{} rows in {:?}", sum.sink.rows, sum.sink.files);
//! # Ok(()) }
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod ipfix;
pub mod rows;
pub mod schema;
pub mod sink;
pub mod testdata;

use netring_engine::Packet;
use netring_engine::flow::{FlowConfig, FlowMeter, FlowStats};
use netring_engine::parse::Layers;

use ipfix::{IpfixExporter, IpfixStats};
use rows::{FlowRows, PacketRows};
use schema::Records;
use sink::{Error, Result, Sink, SinkConfig, SinkStats};

/// Rows per record batch.
pub const BATCH_ROWS: usize = 65_536;

/// Flow records drained from the meter at a time.
const FLOW_BATCH: usize = 4_096;

/// What an [`Exporter`] did, at [`Exporter::finish`].
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The Arrow/Parquet output (empty without one).
    pub sink: SinkStats,
    /// The flow meter's counters (with flow rows or IPFIX).
    pub flows: Option<FlowStats>,
    /// The IPFIX exporter's counters.
    pub ipfix: Option<IpfixStats>,
    /// The first IPFIX send error (the collector unreachable, ...).
    pub ipfix_error: Option<String>,
}

/// Packets in, rows out: packet rows directly, flow rows and IPFIX
/// records through a [`FlowMeter`].
pub struct Exporter {
    sink: Option<Sink>,
    packets: Option<PacketRows>,
    meter: Option<FlowMeter>,
    flow_rows: Option<FlowRows>,
    ipfix: Option<IpfixExporter>,
    batch_ts: Option<u64>,
}

fn meter(flow: &FlowConfig) -> Result<FlowMeter> {
    FlowMeter::new(flow).map_err(|e| Error::new_plain(format!("flow meter: {e}")))
}

impl Exporter {
    /// An exporter writing `cfg.records` rows; `flow` configures the meter
    /// for flow rows (ignored for packet rows).
    pub fn new(cfg: SinkConfig, flow: FlowConfig) -> Result<Exporter> {
        let records = cfg.records;
        let mut x = Exporter {
            sink: Some(Sink::new(cfg)?),
            packets: None,
            meter: None,
            flow_rows: None,
            ipfix: None,
            batch_ts: None,
        };
        match records {
            Records::Packets => x.packets = Some(PacketRows::with_capacity(BATCH_ROWS)),
            Records::Flows => {
                x.meter = Some(meter(&flow)?);
                x.flow_rows = Some(FlowRows::with_capacity(FLOW_BATCH));
            }
        }
        Ok(x)
    }

    /// An exporter that sends flow records over IPFIX only. `flow` should
    /// count IP bytes (`ip_bytes`), what IPFIX octet counts mean.
    pub fn ipfix_only(ipfix: IpfixExporter, flow: FlowConfig) -> Result<Exporter> {
        Ok(Exporter {
            sink: None,
            packets: None,
            meter: Some(meter(&flow)?),
            flow_rows: None,
            ipfix: Some(ipfix),
            batch_ts: None,
        })
    }

    /// Also send flow records over IPFIX (next to packet rows: a meter is
    /// added; next to flow rows: the same records).
    pub fn with_ipfix(mut self, ipfix: IpfixExporter, flow: FlowConfig) -> Result<Exporter> {
        if self.meter.is_none() {
            self.meter = Some(meter(&flow)?);
        }
        self.ipfix = Some(ipfix);
        Ok(self)
    }

    /// Count or record one packet.
    pub fn packet(&mut self, p: &Packet<'_>) -> Result<()> {
        let l = Layers::parse_packet(p);
        if let Some(m) = &mut self.meter {
            m.observe_parsed(p, &l);
            if m.ended_len() >= FLOW_BATCH {
                self.flush_flows()?;
            }
        }
        if let Some(rows) = &mut self.packets {
            self.batch_ts.get_or_insert(p.ts_ns);
            rows.push(p, &l);
            if rows.len() >= BATCH_ROWS {
                return self.flush_packets();
            }
        }
        Ok(())
    }

    /// Move the flow meter's clock (live capture with no packets); ended
    /// flows are written.
    pub fn expire(&mut self, now_ns: u64) -> Result<()> {
        if let Some(m) = &mut self.meter {
            m.expire(now_ns);
        }
        self.flush_flows()?;
        if let Some(x) = &mut self.ipfix {
            x.flush();
        }
        Ok(())
    }

    fn write(
        &mut self,
        batch: std::result::Result<arrow_array::RecordBatch, arrow_schema::ArrowError>,
    ) -> Result<()> {
        let batch = batch.map_err(|e| Error::new_plain(format!("building a record batch: {e}")))?;
        let ts = self.batch_ts.take().unwrap_or(0);
        match &mut self.sink {
            Some(s) => s.write(&batch, ts),
            None => Ok(()),
        }
    }

    fn flush_packets(&mut self) -> Result<()> {
        match &mut self.packets {
            Some(rows) if !rows.is_empty() => {
                let b = rows.finish();
                self.write(b)
            }
            _ => Ok(()),
        }
    }

    fn flush_flows(&mut self) -> Result<()> {
        let Some(m) = &mut self.meter else {
            return Ok(());
        };
        for r in m.drain_ended() {
            if let Some(rows) = &mut self.flow_rows {
                if self.packets.is_none() {
                    self.batch_ts.get_or_insert(r.first_ns);
                }
                rows.push(&r);
            }
            if let Some(x) = &mut self.ipfix {
                x.push(&r);
            }
        }
        match &mut self.flow_rows {
            Some(rows) if !rows.is_empty() => {
                let b = rows.finish();
                self.write(b)
            }
            _ => Ok(()),
        }
    }

    /// Write the rows accumulated so far.
    pub fn flush_rows(&mut self) -> Result<()> {
        self.flush_packets()?;
        self.flush_flows()
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.sink.as_ref().map_or(0, |s| s.stats().rows)
    }

    /// End every flow, write and send what is left, complete the last
    /// file.
    pub fn finish(mut self) -> Result<Summary> {
        if let Some(m) = &mut self.meter {
            m.flush();
        }
        self.flush_rows()?;
        let mut sum = Summary {
            flows: self.meter.as_mut().map(|m| m.stats()),
            ..Summary::default()
        };
        if let Some(x) = &mut self.ipfix {
            x.flush();
            sum.ipfix = Some(x.stats());
            sum.ipfix_error = x.first_error().map(str::to_string);
        }
        if let Some(s) = self.sink.take() {
            sum.sink = s.finish()?;
        }
        Ok(sum)
    }
}
