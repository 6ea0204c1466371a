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
//! * [`Exporter`]: the three together, what the `nrexport` tool runs.
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
//! let stats = ex.finish()?;
//! println!("{} rows in {:?}", stats.rows, stats.files);
//! # Ok(()) }
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod rows;
pub mod schema;
pub mod sink;

use netring_engine::Packet;
use netring_engine::flow::{FlowConfig, FlowMeter, FlowStats};
use netring_engine::parse::Layers;

use rows::{FlowRows, PacketRows};
use schema::Records;
use sink::{Error, Result, Sink, SinkConfig, SinkStats};

/// Rows per record batch.
pub const BATCH_ROWS: usize = 65_536;

/// Packets in, rows out: packet rows directly, or flow rows through a
/// [`FlowMeter`].
pub struct Exporter {
    sink: Sink,
    packets: Option<PacketRows>,
    flows: Option<(FlowMeter, FlowRows)>,
    batch_ts: Option<u64>,
}

impl Exporter {
    /// An exporter writing `cfg.records` rows; `flow` configures the meter
    /// for flow rows (ignored for packet rows).
    pub fn new(cfg: SinkConfig, flow: FlowConfig) -> Result<Exporter> {
        let records = cfg.records;
        let sink = Sink::new(cfg)?;
        let (packets, flows) = match records {
            Records::Packets => (Some(PacketRows::with_capacity(BATCH_ROWS)), None),
            Records::Flows => {
                let m = FlowMeter::new(&flow)
                    .map_err(|e| Error::new_plain(format!("flow meter: {e}")))?;
                (None, Some((m, FlowRows::with_capacity(4096))))
            }
        };
        Ok(Exporter {
            sink,
            packets,
            flows,
            batch_ts: None,
        })
    }

    /// Count or record one packet.
    pub fn packet(&mut self, p: &Packet<'_>) -> Result<()> {
        let l = Layers::parse_packet(p);
        if let Some(rows) = &mut self.packets {
            self.batch_ts.get_or_insert(p.ts_ns);
            rows.push(p, &l);
            if rows.len() >= BATCH_ROWS {
                return self.flush_rows();
            }
        } else if let Some((m, _)) = &mut self.flows {
            m.observe_parsed(p, &l);
            if m.ended_len() >= 4096 {
                return self.flush_rows();
            }
        }
        Ok(())
    }

    /// Move the flow meter's clock (live capture with no packets); ended
    /// flows are written.
    pub fn expire(&mut self, now_ns: u64) -> Result<()> {
        if let Some((m, _)) = &mut self.flows {
            m.expire(now_ns);
        }
        self.flush_rows()
    }

    /// Write the rows accumulated so far as a batch.
    pub fn flush_rows(&mut self) -> Result<()> {
        let batch = if let Some(rows) = &mut self.packets {
            rows.finish()
        } else if let Some((m, rows)) = &mut self.flows {
            for r in m.drain_ended() {
                self.batch_ts.get_or_insert(r.first_ns);
                rows.push(&r);
            }
            rows.finish()
        } else {
            return Ok(());
        };
        let batch = batch.map_err(|e| Error::new_plain(format!("building a record batch: {e}")))?;
        let ts = self.batch_ts.take().unwrap_or(0);
        self.sink.write(&batch, ts)
    }

    /// The flow meter's counters (None for packet rows).
    pub fn flow_stats(&mut self) -> Option<FlowStats> {
        self.flows.as_mut().map(|(m, _)| m.stats())
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.sink.stats().rows
    }

    /// End every flow, write what is left, complete the last file.
    pub fn finish(mut self) -> Result<SinkStats> {
        if let Some((m, _)) = &mut self.flows {
            m.flush();
        }
        self.flush_rows()?;
        self.sink.finish()
    }
}
