//! Writers: record batches into an Arrow IPC stream (a file, a pipe,
//! stdout) or Parquet files, with rotation by size and by time.
//!
//! Regular files are written under a temporary name (`NAME.part`) and
//! renamed to their final name once complete (a FIFO or a device such as
//! `/dev/null` is written in place), so a reader globbing `*.parquet` (a
//! ClickHouse or DuckDB query over the directory while it is written) never
//! sees a half-written file. When a write fails (a full disk), the
//! unfinished file is removed and the error says so: every file that exists
//! under a final name is complete and readable.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::schema::Records;

/// What went wrong, as a sentence naming the file.
#[derive(Debug)]
pub struct Error {
    msg: String,
    disk_full: bool,
}

impl Error {
    pub(crate) fn new_plain(msg: String) -> Error {
        Error::new(msg, false)
    }
    fn new(msg: String, disk_full: bool) -> Error {
        Error { msg, disk_full }
    }
    /// True when the cause was a full disk (ENOSPC or EDQUOT).
    pub fn is_disk_full(&self) -> bool {
        self.disk_full
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// `Result` with this module's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Arrow IPC stream (`.arrows`; ClickHouse `FORMAT ArrowStream`).
    Arrow,
    /// Parquet (snappy-compressed pages).
    Parquet,
}

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// The format.
    pub format: Format,
    /// The rows.
    pub records: Records,
    /// The output path; `-` is stdout (Arrow only, no rotation).
    pub path: PathBuf,
    /// Start a new file once the current one holds this many bytes.
    pub rotate_bytes: Option<u64>,
    /// Start a new file when a batch's time stamp is this many ns after
    /// the current file's first (record time, so a file conversion and a
    /// live capture rotate the same way).
    pub rotate_ns: Option<u64>,
}

impl SinkConfig {
    fn rotates(&self) -> bool {
        self.rotate_bytes.is_some() || self.rotate_ns.is_some()
    }

    /// The `n`-th file's name: `path` itself without rotation; with it,
    /// the index before the extension (`out.parquet` → `out.000000.parquet`,
    /// `out.000001.parquet`, ...).
    pub fn file_name(&self, n: u64) -> PathBuf {
        if !self.rotates() {
            return self.path.clone();
        }
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match self.path.extension() {
            Some(e) => format!("{stem}.{n:06}.{}", e.to_string_lossy()),
            None => format!("{stem}.{n:06}"),
        };
        self.path.with_file_name(name)
    }
}

/// What a sink wrote.
#[derive(Debug, Clone, Default)]
pub struct SinkStats {
    /// Rows written.
    pub rows: u64,
    /// Bytes written (all files).
    pub bytes: u64,
    /// The complete files, in order (empty for stdout).
    pub files: Vec<PathBuf>,
}

/// A `Write` that counts bytes and remembers the last OS error.
struct Counting<W> {
    inner: W,
    bytes: Arc<std::sync::atomic::AtomicU64>,
    errno: Arc<AtomicI32>,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.write(buf) {
            Ok(n) => {
                self.bytes.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.errno
                    .store(e.raw_os_error().unwrap_or(-1), Ordering::Relaxed);
                Err(e)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|e| {
            self.errno
                .store(e.raw_os_error().unwrap_or(-1), Ordering::Relaxed)
        })
    }
}

type Out = Counting<BufWriter<Box<dyn Write + Send>>>;

enum Inner {
    Arrow(StreamWriter<Out>),
    Parquet(ArrowWriter<Out>),
}

struct Open {
    inner: Inner,
    /// The final name; the data goes to `part` until it is complete.
    path: Option<PathBuf>,
    part: Option<PathBuf>,
    first_ts: u64,
    bytes: Arc<std::sync::atomic::AtomicU64>,
    errno: Arc<AtomicI32>,
}

/// Writes record batches of one schema to an Arrow stream or Parquet
/// files, rotating as configured.
pub struct Sink {
    cfg: SinkConfig,
    cur: Option<Open>,
    next_file: u64,
    stats: SinkStats,
}

fn part_name(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

impl Sink {
    /// A sink; the first file is created by the first write.
    pub fn new(cfg: SinkConfig) -> Result<Sink> {
        let stdout = cfg.path.as_os_str() == "-";
        if stdout && (cfg.format == Format::Parquet || cfg.rotates()) {
            return Err(Error::new(
                "stdout takes an Arrow stream without rotation (Parquet needs a file: its footer is written last)".into(),
                false,
            ));
        }
        if cfg.rotate_bytes == Some(0) || cfg.rotate_ns == Some(0) {
            return Err(Error::new("a rotation size or period of 0".into(), false));
        }
        Ok(Sink {
            cfg,
            cur: None,
            next_file: 0,
            stats: SinkStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SinkConfig {
        &self.cfg
    }

    /// What was written so far (files: those completed).
    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }

    fn open(&mut self, first_ts: u64) -> Result<()> {
        let (w, path, part): (Box<dyn Write + Send>, _, _) = if self.cfg.path.as_os_str() == "-" {
            (Box::new(io::stdout()), None, None)
        } else {
            let path = self.cfg.file_name(self.next_file);
            let cannot = |p: &Path, e: io::Error| {
                Error::new(
                    format!("cannot create {}: {e}", p.display()),
                    is_full(e.raw_os_error()),
                )
            };
            // A FIFO, a device (/dev/null, /dev/stdout) or a socket is
            // written in place: never replaced by a renamed file.
            let special = std::fs::metadata(&path).is_ok_and(|m| !m.is_file() && !m.is_dir());
            if special {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| cannot(&path, e))?;
                (Box::new(f), None, None)
            } else {
                let part = part_name(&path);
                let f = File::create(&part).map_err(|e| cannot(&part, e))?;
                (Box::new(f), Some(path), Some(part))
            }
        };
        self.next_file += 1;
        let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let errno = Arc::new(AtomicI32::new(0));
        let out = Counting {
            inner: BufWriter::with_capacity(1 << 20, w),
            bytes: bytes.clone(),
            errno: errno.clone(),
        };
        let schema = self.cfg.records.schema();
        let inner = match self.cfg.format {
            Format::Arrow => StreamWriter::try_new(out, &schema)
                .map(Inner::Arrow)
                .map_err(|e| e.to_string()),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_size(1 << 17)
                    .set_created_by(format!("netring-export {}", env!("CARGO_PKG_VERSION")))
                    .build();
                ArrowWriter::try_new(out, schema, Some(props))
                    .map(Inner::Parquet)
                    .map_err(|e| e.to_string())
            }
        };
        let mut open = Open {
            inner: match inner {
                Ok(i) => i,
                Err(e) => {
                    let full = is_full(Some(errno.load(Ordering::Relaxed)));
                    if let Some(p) = &part {
                        let _ = std::fs::remove_file(p);
                    }
                    return Err(self.fail_msg(part.as_deref(), &e, full));
                }
            },
            path,
            part,
            first_ts,
            bytes,
            errno,
        };
        // The Arrow stream's schema message goes out with the first batch.
        if let Inner::Arrow(_) = open.inner {
            open.first_ts = first_ts;
        }
        self.cur = Some(open);
        Ok(())
    }

    fn fail_msg(&self, part: Option<&Path>, e: &str, full: bool) -> Error {
        let what = match part {
            Some(p) => format!(
                "writing {}: {}{e}; the unfinished file was removed ({} complete file(s) before it are intact)",
                p.display(),
                if full { "disk full: " } else { "" },
                self.stats.files.len()
            ),
            None => format!("writing the Arrow stream: {e}"),
        };
        Error::new(what, full)
    }

    /// Write one batch; `ts_ns` is its (first) record time stamp, for time
    /// rotation. An empty batch is skipped.
    pub fn write(&mut self, b: &RecordBatch, ts_ns: u64) -> Result<()> {
        if b.num_rows() == 0 {
            return Ok(());
        }
        if let Some(cur) = &self.cur {
            let size = cur.bytes.load(Ordering::Relaxed)
                + match &cur.inner {
                    Inner::Parquet(w) => w.in_progress_size() as u64,
                    Inner::Arrow(_) => 0,
                };
            let by_size = self.cfg.rotate_bytes.is_some_and(|m| size >= m);
            let by_time = self
                .cfg
                .rotate_ns
                .is_some_and(|ns| ts_ns >= cur.first_ts.saturating_add(ns));
            if by_size || by_time {
                self.close_current()?;
            }
        }
        if self.cur.is_none() {
            self.open(ts_ns)?;
        }
        let Some(cur) = self.cur.as_mut() else {
            return Ok(());
        };
        let r = match &mut cur.inner {
            Inner::Arrow(w) => w
                .write(b)
                .and_then(|_| w.flush())
                .map_err(|e| e.to_string()),
            Inner::Parquet(w) => w.write(b).map_err(|e| e.to_string()),
        };
        match r {
            Ok(()) => {
                self.stats.rows += b.num_rows() as u64;
                Ok(())
            }
            Err(e) => Err(self.abandon(&e)),
        }
    }

    /// Drop the current file after a failed write.
    fn abandon(&mut self, e: &str) -> Error {
        let Some(cur) = self.cur.take() else {
            return Error::new(e.to_string(), false);
        };
        let full = is_full(Some(cur.errno.load(Ordering::Relaxed)));
        let part = cur.part.clone();
        self.stats.bytes += cur.bytes.load(Ordering::Relaxed);
        drop(cur.inner); // its buffered bytes may fail to flush again: ignored
        if let Some(p) = &part {
            let _ = std::fs::remove_file(p);
        }
        self.fail_msg(part.as_deref(), e, full)
    }

    fn close_current(&mut self) -> Result<()> {
        let Some(mut cur) = self.cur.take() else {
            return Ok(());
        };
        let r = match &mut cur.inner {
            Inner::Arrow(w) => w
                .finish()
                .and_then(|_| w.flush())
                .map_err(|e| e.to_string()),
            Inner::Parquet(w) => w
                .finish()
                .map(|_| ())
                .and_then(|_| w.flush())
                .map_err(|e| e.to_string()),
        };
        let r = r.and_then(|_| {
            let out = match &mut cur.inner {
                Inner::Arrow(w) => w.get_mut(),
                Inner::Parquet(w) => w.inner_mut(),
            };
            out.flush().map_err(|e| e.to_string())
        });
        if let Err(e) = r {
            self.cur = Some(cur);
            return Err(self.abandon(&e));
        }
        self.stats.bytes += cur.bytes.load(Ordering::Relaxed);
        if let (Some(part), Some(path)) = (&cur.part, &cur.path) {
            drop(cur.inner);
            std::fs::rename(part, path).map_err(|e| {
                Error::new(
                    format!("renaming {} to {}: {e}", part.display(), path.display()),
                    false,
                )
            })?;
            self.stats.files.push(path.clone());
        }
        Ok(())
    }

    /// Complete the current file (footer, rename) and return the totals.
    /// With no row written, no file is created (an Arrow stream to stdout
    /// still gets its schema, so a reader sees an empty table).
    pub fn finish(mut self) -> Result<SinkStats> {
        if self.cur.is_none() && self.cfg.path.as_os_str() == "-" {
            self.open(0)?;
        }
        self.close_current()?;
        Ok(self.stats)
    }
}

fn is_full(errno: Option<i32>) -> bool {
    matches!(errno, Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(format: Format, path: &str, rb: Option<u64>) -> SinkConfig {
        SinkConfig {
            format,
            records: Records::Flows,
            path: path.into(),
            rotate_bytes: rb,
            rotate_ns: None,
        }
    }

    #[test]
    fn names_and_bad_configs() {
        assert_eq!(
            cfg(Format::Parquet, "/d/x.parquet", None).file_name(7),
            PathBuf::from("/d/x.parquet")
        );
        assert_eq!(
            cfg(Format::Parquet, "/d/x.parquet", Some(1)).file_name(7),
            PathBuf::from("/d/x.000007.parquet")
        );
        assert_eq!(
            cfg(Format::Arrow, "out", Some(1)).file_name(12),
            PathBuf::from("out.000012")
        );
        assert!(Sink::new(cfg(Format::Parquet, "-", None)).is_err());
        assert!(Sink::new(cfg(Format::Arrow, "-", Some(5))).is_err());
        assert!(Sink::new(cfg(Format::Arrow, "x", Some(0))).is_err());
    }

    /// A batch of one flow row (the example capture's flow).
    fn one_flow() -> RecordBatch {
        let mut rows = crate::rows::FlowRows::with_capacity(1);
        let mut m = netring_engine::flow::FlowMeter::new(&Default::default()).unwrap();
        let mut r = netring_engine::pcapfile::Reader::from_read(
            std::io::Cursor::new(netring_engine::flow::example_pcap()),
            "x",
        )
        .unwrap();
        while let Some(p) = r.next_packet().unwrap() {
            m.observe(&p);
        }
        m.flush();
        for rec in m.drain_ended() {
            rows.push(&rec);
        }
        rows.finish().unwrap()
    }

    #[test]
    fn a_fifo_is_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = std::env::temp_dir().join(format!("nr-sink-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path in our own directory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let f = fifo.clone();
            std::thread::spawn(move || std::fs::read(f).unwrap().len())
        };
        let mut s = Sink::new(SinkConfig {
            path: fifo.clone(),
            ..cfg(Format::Arrow, "", None)
        })
        .unwrap();
        s.write(&one_flow(), 1).unwrap();
        let st = s.finish().unwrap();
        assert!(st.files.is_empty());
        assert!(reader.join().unwrap() > 0);
        let ft = std::fs::metadata(&fifo).unwrap().file_type();
        assert!(ft.is_fifo(), "still a FIFO");
        assert!(!part_name(&fifo).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_appears_complete_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("nr-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.parquet");
        let mut s = Sink::new(SinkConfig {
            path: path.clone(),
            ..cfg(Format::Parquet, "", None)
        })
        .unwrap();
        s.write(&one_flow(), 1).unwrap();
        // Written under the temporary name until finished.
        assert!(!path.exists() && part_name(&path).exists());
        let st = s.finish().unwrap();
        assert!(path.exists() && !part_name(&path).exists());
        assert_eq!((st.rows, st.files), (1, vec![path.clone()]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
