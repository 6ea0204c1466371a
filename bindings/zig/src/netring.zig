//! netring for Zig: the C API of libnetring.so.0 (translated from the
//! installed netring.h by build.zig's addTranslateC) with Zig errors
//! instead of status codes, slices instead of pointer + length, close and
//! release that fit `defer`, and an iterator over a batch that walks it
//! with nr_batch_fill() in chunks (no call per packet, no copy of bytes).
//!
//!     var cap = try netring.Capture.open("eth0", null);
//!     defer cap.close();
//!     while (true) {
//!         var b = cap.nextBatch(1000) catch |e| switch (e) {
//!             error.Timeout, error.IfaceDown => continue,
//!             error.Break => break, // cap.breakloop() from another thread
//!             else => return e,
//!         };
//!         defer b.release();
//!         var it = b.iterator();
//!         while (try it.next()) |p| use(p.data); // ring memory, valid until release
//!     }
//!
//! After any error, `lastError()` is the library's sentence for this thread.
const std = @import("std");

/// The translated C API, for anything this wrapper does not cover.
pub const c = @import("c");

/// A failed call (the NR_E_* statuses) ...
pub const Error = error{
    InvalidArg,
    Permission,
    NoDevice,
    NoMemory,
    Config,
    IfaceGone,
    Busy,
    BadBatch,
    Unsupported,
    Malformed,
    TooBig,
    System,
    Internal,
    Unknown,
};

/// ... and the informational statuses of a wait, as errors so `catch`
/// and `switch` handle them.
pub const WaitError = Error || error{ Timeout, Break, IfaceDown };

/// nr_last_error(): what the last failed call on this thread said (what
/// was wrong and what to do). Valid until the next failing call.
pub fn lastError() [:0]const u8 {
    return std.mem.span(c.nr_last_error());
}

/// nr_strerror(): static text of any status.
pub fn strerror(status: c_int) [:0]const u8 {
    return std.mem.span(c.nr_strerror(status));
}

/// The library's version at run time.
pub fn version() [:0]const u8 {
    return std.mem.span(c.nr_version());
}

/// The Error of a negative status.
pub fn errorOf(rc: c_int) Error {
    return switch (rc) {
        c.NR_E_INVALID_ARG => error.InvalidArg,
        c.NR_E_PERMISSION => error.Permission,
        c.NR_E_NO_DEVICE => error.NoDevice,
        c.NR_E_NO_MEMORY => error.NoMemory,
        c.NR_E_CONFIG => error.Config,
        c.NR_E_IFACE_GONE => error.IfaceGone,
        c.NR_E_BUSY => error.Busy,
        c.NR_E_BAD_BATCH => error.BadBatch,
        c.NR_E_UNSUPPORTED => error.Unsupported,
        c.NR_E_MALFORMED => error.Malformed,
        c.NR_E_TOO_BIG => error.TooBig,
        c.NR_E_SYSTEM => error.System,
        c.NR_E_INTERNAL => error.Internal,
        else => error.Unknown,
    };
}

fn check(rc: c_int) Error!void {
    if (rc < 0) return errorOf(rc);
}

fn checkWait(rc: c_int) WaitError!void {
    return switch (rc) {
        c.NR_OK => {},
        c.NR_TIMEOUT => error.Timeout,
        c.NR_BREAK => error.Break,
        c.NR_IFACE_DOWN => error.IfaceDown,
        else => if (rc < 0) errorOf(rc) else error.Unknown,
    };
}

/// One packet. `data` is ring (or UMEM, or file buffer) memory: valid
/// until its batch is released; never write to it.
pub const Packet = struct {
    data: []const u8,
    /// Length on the wire (>= data.len).
    len: u32,
    /// Nanoseconds since the Unix epoch.
    ts_ns: u64,
    ifindex: i32,
    flags: u32,
    protocol: u16,
    pkt_type: u8,
    vlan_tci: u16,

    pub fn fromC(p: *const c.nr_packet) Packet {
        return .{
            .data = if (p.caplen == 0) &.{} else p.data[0..p.caplen],
            .len = p.len,
            .ts_ns = p.ts_ns,
            .ifindex = p.ifindex,
            .flags = p.flags,
            .protocol = p.protocol,
            .pkt_type = p.pkt_type,
            .vlan_tci = p.vlan_tci,
        };
    }

    pub fn truncated(self: Packet) bool {
        return self.flags & c.NR_PACKET_FLAG_TRUNCATED != 0;
    }
};

/// A held batch: release it (`defer b.release()`) before the next
/// nextBatch() on its handle and before closing the handle.
pub const Batch = struct {
    ptr: *c.nr_batch,

    /// Packets in the batch.
    pub fn len(self: Batch) usize {
        return c.nr_batch_len(self.ptr);
    }

    pub fn seq(self: Batch) u64 {
        return c.nr_batch_seq(self.ptr);
    }

    /// Give the memory back to the kernel (or the file buffer).
    pub fn release(self: Batch) void {
        _ = c.nr_batch_release(self.ptr);
    }

    /// The array accessor: descriptors of the next packets into `out`;
    /// returns the filled part (empty at the end of the batch).
    pub fn fill(self: Batch, out: []c.nr_packet) Error![]c.nr_packet {
        var n: usize = 0;
        try check(c.nr_batch_fill(self.ptr, out.ptr, out.len, &n));
        return out[0..n];
    }

    /// The callback walk (nr_batch_for_each), the cheapest: no descriptor
    /// copy. `f(context, packet)` runs for each packet in order and returns
    /// false to stop. Returns true if every packet was visited, false if
    /// `f` stopped the walk. (Zig errors cannot cross the C callback: keep
    /// them in `context`.)
    pub fn forEach(self: Batch, context: anytype, comptime f: fn (@TypeOf(context), Packet) bool) Error!bool {
        const Ctx = @TypeOf(context);
        const S = struct {
            fn cb(user: ?*anyopaque, p: [*c]const c.nr_packet) callconv(.c) c_int {
                const ctx: *const Ctx = @ptrCast(@alignCast(user));
                return if (f(ctx.*, Packet.fromC(p))) 0 else 1;
            }
        };
        var ctx = context;
        const rc = c.nr_batch_for_each(self.ptr, S.cb, @ptrCast(&ctx));
        if (rc == c.NR_STOPPED) return false;
        try check(rc);
        return true;
    }

    /// An iterator from the first packet (it rewinds the batch's fill
    /// position). Holds a chunk of 64 descriptors.
    pub fn iterator(self: Batch) Iterator {
        _ = c.nr_batch_rewind(self.ptr);
        return .{ .batch = self };
    }

    pub const Iterator = struct {
        batch: Batch,
        buf: [64]c.nr_packet = undefined,
        n: usize = 0,
        i: usize = 0,
        done: bool = false,

        /// The next packet, or null at the end. error.Malformed when the
        /// ring block failed validation (the packets before it were given).
        pub fn next(it: *Iterator) Error!?Packet {
            if (it.i == it.n) {
                if (it.done) return null;
                const got = try it.batch.fill(&it.buf);
                it.n = got.len;
                it.i = 0;
                if (got.len == 0) {
                    it.done = true;
                    return null;
                }
            }
            defer it.i += 1;
            return Packet.fromC(&it.buf[it.i]);
        }
    };
};

/// nr_capture_config with the library's defaults.
pub fn defaultConfig() c.nr_capture_config {
    var cfg: c.nr_capture_config = undefined;
    _ = c.nr_capture_config_init(&cfg, @sizeOf(c.nr_capture_config));
    return cfg;
}

/// An AF_PACKET TPACKET_V3 capture.
pub const Capture = struct {
    ptr: *c.nr_capture,

    /// Open on `ifname` (`cfg` null: defaults). On error, lastError() names
    /// what was wrong (e.g. "interface 'eth9' not found ...").
    pub fn open(ifname: [:0]const u8, cfg: ?*const c.nr_capture_config) Error!Capture {
        var out: ?*c.nr_capture = null;
        try check(c.nr_capture_open(ifname.ptr, cfg, &out));
        return .{ .ptr = out.? };
    }

    pub fn close(self: Capture) void {
        c.nr_capture_close(self.ptr);
    }

    /// The next batch (one ring block), waiting up to `timeout_ms`
    /// (negative: no limit). error.Timeout, error.Break, error.IfaceDown
    /// are not failures: call again (or stop, for Break).
    pub fn nextBatch(self: Capture, timeout_ms: i32) WaitError!Batch {
        var out: ?*c.nr_batch = null;
        try checkWait(c.nr_next_batch(self.ptr, timeout_ms, &out));
        return .{ .ptr = out.? };
    }

    /// Lifetime totals.
    pub fn stats(self: Capture) Error!c.nr_capture_stats {
        var t: c.nr_capture_stats = undefined;
        try check(c.nr_capture_get_stats(self.ptr, &t, null));
        return t;
    }

    /// Totals and the change since the previous call.
    pub fn statsDelta(self: Capture, total: *c.nr_capture_stats, delta: *c.nr_capture_stats) Error!void {
        try check(c.nr_capture_get_stats(self.ptr, total, delta));
    }

    pub fn info(self: Capture) Error!c.nr_capture_info {
        var i: c.nr_capture_info = undefined;
        try check(c.nr_capture_get_info(self.ptr, &i));
        return i;
    }

    /// Make the current or next wait return error.Break. Safe from any
    /// thread and from a signal handler, while the capture is open.
    pub fn breakloop(self: Capture) void {
        _ = c.nr_capture_breakloop(self.ptr);
    }

    /// Replace the classic BPF filter (empty: capture everything).
    pub fn setFilter(self: Capture, prog: []const c.nr_bpf_insn) Error!void {
        try check(c.nr_capture_set_filter(self.ptr, if (prog.len == 0) null else prog.ptr, prog.len));
    }

    pub fn fd(self: Capture) c_int {
        return c.nr_capture_fd(self.ptr);
    }
};

/// A pcap/pcapng file being read.
pub const Reader = struct {
    ptr: *c.nr_reader,

    pub fn open(path: [:0]const u8) Error!Reader {
        var out: ?*c.nr_reader = null;
        try check(c.nr_reader_open(path.ptr, &out));
        return .{ .ptr = out.? };
    }

    pub fn close(self: Reader) void {
        c.nr_reader_close(self.ptr);
    }

    /// The next run of records, or null at the end of the file.
    pub fn nextBatch(self: Reader) Error!?Batch {
        var out: ?*c.nr_batch = null;
        const rc = c.nr_reader_next_batch(self.ptr, &out);
        if (rc == c.NR_EOF) return null;
        try check(rc);
        return .{ .ptr = out.? };
    }

    pub fn info(self: Reader) Error!c.nr_reader_info {
        var i: c.nr_reader_info = undefined;
        try check(c.nr_reader_get_info(self.ptr, &i));
        return i;
    }
};

pub const Format = enum(c_int) {
    pcap = c.NR_FORMAT_PCAP,
    pcap_ns = c.NR_FORMAT_PCAP_NS,
    pcapng = c.NR_FORMAT_PCAPNG,
};

/// nr_writer_config with the library's defaults.
pub fn defaultWriterConfig() c.nr_writer_config {
    var cfg: c.nr_writer_config = undefined;
    _ = c.nr_writer_config_init(&cfg, @sizeOf(c.nr_writer_config));
    return cfg;
}

/// A pcap/pcapng file being written.
pub const Writer = struct {
    ptr: *c.nr_writer,

    pub fn open(path: [:0]const u8, format: Format, cfg: ?*const c.nr_writer_config) Error!Writer {
        var out: ?*c.nr_writer = null;
        try check(c.nr_writer_open(path.ptr, @intFromEnum(format), cfg, &out));
        return .{ .ptr = out.? };
    }

    /// Finish the file; error.System if the last write failed. The handle
    /// is gone in every case.
    pub fn close(self: Writer) Error!void {
        try check(c.nr_writer_close(self.ptr));
    }

    /// Every packet of a held batch, straight from its memory.
    pub fn writeBatch(self: Writer, b: Batch) Error!void {
        try check(c.nr_writer_write_batch(self.ptr, b.ptr));
    }

    /// One packet: its bytes, wire length and timestamp.
    pub fn writePacket(self: Writer, data: []const u8, wire_len: u32, ts_ns: u64) Error!void {
        var p = std.mem.zeroes(c.nr_packet);
        p.data = data.ptr;
        p.caplen = @intCast(data.len);
        p.len = wire_len;
        p.ts_ns = ts_ns;
        try check(c.nr_writer_write_packet(self.ptr, &p));
    }

    pub fn setStats(self: Writer, received: u64, dropped: u64) void {
        _ = c.nr_writer_set_stats(self.ptr, received, dropped);
    }

    pub fn flush(self: Writer) Error!void {
        try check(c.nr_writer_flush(self.ptr));
    }
};

/// Sending frames (each copied once into a slot).
pub const Injector = struct {
    ptr: *c.nr_injector,

    pub fn open(ifname: [:0]const u8, cfg: ?*const c.nr_injector_config) Error!Injector {
        var out: ?*c.nr_injector = null;
        try check(c.nr_injector_open(ifname.ptr, cfg, &out));
        return .{ .ptr = out.? };
    }

    pub fn close(self: Injector) void {
        c.nr_injector_close(self.ptr);
    }

    /// Queue one frame; error.Timeout when the ring stayed full.
    pub fn inject(self: Injector, frame: []const u8) WaitError!void {
        try checkWait(c.nr_inject(self.ptr, frame.ptr, frame.len));
    }

    pub fn flush(self: Injector) Error!void {
        try check(c.nr_injector_flush(self.ptr));
    }

    /// Flush and wait until every queued frame left; error.Timeout if not.
    pub fn waitDrained(self: Injector, timeout_ms: i32) WaitError!void {
        try checkWait(c.nr_injector_wait_drained(self.ptr, timeout_ms));
    }

    pub fn stats(self: Injector) Error!c.nr_injector_stats {
        var t: c.nr_injector_stats = undefined;
        try check(c.nr_injector_get_stats(self.ptr, &t, null));
        return t;
    }
};

/// nr_xdp_config with the library's defaults.
pub fn defaultXdpConfig() c.nr_xdp_config {
    var cfg: c.nr_xdp_config = undefined;
    _ = c.nr_xdp_config_init(&cfg, @sizeOf(c.nr_xdp_config));
    return cfg;
}

/// AF_XDP: the same batches, from the UMEM.
pub const Xdp = struct {
    ptr: *c.nr_xdp,

    /// Bind `queue` of `ifname` (null: every queue).
    pub fn open(ifname: [:0]const u8, queue: ?u32, cfg: ?*const c.nr_xdp_config) Error!Xdp {
        var out: ?*c.nr_xdp = null;
        if (queue) |q| {
            try check(c.nr_xdp_open(ifname.ptr, q, cfg, &out));
        } else {
            try check(c.nr_xdp_open_all(ifname.ptr, cfg, &out));
        }
        return .{ .ptr = out.? };
    }

    pub fn close(self: Xdp) void {
        c.nr_xdp_close(self.ptr);
    }

    pub fn nextBatch(self: Xdp, timeout_ms: i32) WaitError!Batch {
        var out: ?*c.nr_batch = null;
        try checkWait(c.nr_xdp_next_batch(self.ptr, timeout_ms, &out));
        return .{ .ptr = out.? };
    }

    pub fn breakloop(self: Xdp) void {
        _ = c.nr_xdp_breakloop(self.ptr);
    }

    pub fn stats(self: Xdp) Error!c.nr_xdp_stats {
        var t: c.nr_xdp_stats = undefined;
        try check(c.nr_xdp_get_stats(self.ptr, &t, null));
        return t;
    }
};
