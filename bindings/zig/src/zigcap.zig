//! zigcap: nrcap's capture loop written with the Zig binding.
//!
//!   zigcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
//!          [--netns NAME] [-w FILE [-F pcap|pcap-ns|pcapng]]
//!   zigcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]
//!
//! Stops after COUNT packets or on SIGINT/SIGTERM (breakloop from the
//! signal handler), then prints on stderr exactly one line, as nrcap does:
//!
//!   RESULT packets=<packets seen> drops=<lifetime kernel drops>
const std = @import("std");
const netring = @import("netring");

extern "c" fn printf(fmt: [*:0]const u8, ...) c_int;
extern "c" fn fflush(stream: ?*anyopaque) c_int;
extern "c" fn signal(sig: c_int, handler: ?*const fn (c_int) callconv(.c) void) ?*anyopaque;
extern "c" fn exit(code: c_int) noreturn;

var g_cap: ?*netring.c.nr_capture = null;
var g_stop: bool = false;

fn onSignal(_: c_int) callconv(.c) void {
    @atomicStore(bool, &g_stop, true, .seq_cst);
    if (@atomicLoad(?*netring.c.nr_capture, &g_cap, .seq_cst)) |cp| _ = netring.c.nr_capture_breakloop(cp);
}

const Options = struct {
    ifname: ?[:0]const u8 = null,
    rfile: ?[:0]const u8 = null,
    wfile: ?[:0]const u8 = null,
    netns: ?[:0]const u8 = null,
    format: netring.Format = .pcap,
    limit: u64 = 0,
    snaplen: u32 = 0,
    block_kib: u32 = 0,
    blocks: u32 = 0,
    no_promisc: bool = false,
    quiet: bool = false,
    verbose: bool = false,
};

fn usage() noreturn {
    std.debug.print(
        \\usage: zigcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
        \\              [--netns NAME] [-w FILE [-F pcap|pcap-ns|pcapng]]
        \\       zigcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]
        \\
    , .{});
    exit(2);
}

fn num(comptime T: type, s: ?[:0]const u8) T {
    const v = s orelse usage();
    return std.fmt.parseInt(T, v, 0) catch {
        std.debug.print("zigcap: bad number '{s}'\n", .{v});
        exit(2);
    };
}

fn parse(args: std.process.Args) Options {
    var o: Options = .{};
    var it = args.iterate();
    _ = it.skip();
    while (it.next()) |a| {
        const eq = std.mem.eql;
        if (eq(u8, a, "-i")) o.ifname = it.next() orelse usage()
        else if (eq(u8, a, "-r")) o.rfile = it.next() orelse usage()
        else if (eq(u8, a, "-w")) o.wfile = it.next() orelse usage()
        else if (eq(u8, a, "--netns")) o.netns = it.next() orelse usage()
        else if (eq(u8, a, "-c")) o.limit = num(u64, it.next())
        else if (eq(u8, a, "-s")) o.snaplen = num(u32, it.next())
        else if (eq(u8, a, "-B")) o.block_kib = num(u32, it.next())
        else if (eq(u8, a, "-n")) o.blocks = num(u32, it.next())
        else if (eq(u8, a, "-p")) o.no_promisc = true
        else if (eq(u8, a, "-q")) o.quiet = true
        else if (eq(u8, a, "-v")) o.verbose = true
        else if (eq(u8, a, "-F")) {
            const f = it.next() orelse usage();
            o.format = if (eq(u8, f, "pcap")) .pcap else if (eq(u8, f, "pcap-ns")) .pcap_ns else if (eq(u8, f, "pcapng")) .pcapng else usage();
        } else usage();
    }
    if ((o.ifname == null) == (o.rfile == null)) usage();
    return o;
}

fn printPacket(p: netring.Packet, verbose: bool) void {
    const d = p.data;
    const secs = p.ts_ns / 1_000_000_000;
    const day = secs % 86400;
    _ = printf("%02u:%02u:%02u.%09u len %u cap %u", @as(c_uint, @intCast(day / 3600)), @as(c_uint, @intCast(day / 60 % 60)), @as(c_uint, @intCast(day % 60)), @as(c_uint, @intCast(p.ts_ns % 1_000_000_000)), p.len, @as(c_uint, @intCast(d.len)));
    if (d.len >= 14) {
        _ = printf(" %02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x ethertype 0x%04x", @as(c_uint, d[6]), @as(c_uint, d[7]), @as(c_uint, d[8]), @as(c_uint, d[9]), @as(c_uint, d[10]), @as(c_uint, d[11]), @as(c_uint, d[0]), @as(c_uint, d[1]), @as(c_uint, d[2]), @as(c_uint, d[3]), @as(c_uint, d[4]), @as(c_uint, d[5]), @as(c_uint, d[12]) << 8 | d[13]);
    }
    if (verbose) _ = printf(" ifindex %d type %u flags 0x%x", p.ifindex, @as(c_uint, p.pkt_type), p.flags);
    _ = printf("\n");
}

const State = struct {
    o: *const Options,
    w: ?netring.Writer = null,
    packets: u64 = 0,

    write_err: ?netring.Error = null,

    /// Count (print, write) a batch; true once the limit is reached. The
    /// callback walk, as nrcap does (the iterator works too: see the tests).
    fn take(st: *State, b: netring.Batch) !bool {
        if (st.w) |w| if (st.o.limit == 0) try w.writeBatch(b);
        const walked = try b.forEach(st, onPacket);
        if (st.write_err) |e| return e;
        return !walked;
    }

    fn onPacket(st: *State, p: netring.Packet) bool {
        st.packets += 1;
        if (st.w) |w| if (st.o.limit != 0) w.writePacket(p.data, p.len, p.ts_ns) catch |e| {
            st.write_err = e;
            return false;
        };
        if (!st.o.quiet) printPacket(p, st.o.verbose);
        return !(st.o.limit != 0 and st.packets >= st.o.limit);
    }
};

fn fail(what: []const u8, e: anyerror) noreturn {
    std.debug.print("zigcap: {s}: {s} ({s})\n", .{ what, netring.lastError(), @errorName(e) });
    exit(1);
}

pub fn main(init: std.process.Init.Minimal) u8 {
    const o = parse(init.args);
    _ = signal(2, onSignal); // SIGINT
    _ = signal(15, onSignal); // SIGTERM
    var st: State = .{ .o = &o };
    if (o.wfile) |path| {
        var wc = netring.defaultWriterConfig();
        if (o.snaplen != 0) wc.snaplen = o.snaplen;
        if (o.ifname) |n| wc.if_name = n.ptr;
        st.w = netring.Writer.open(path, o.format, &wc) catch |e| fail(path, e);
    }
    if (o.rfile) |path| {
        const r = netring.Reader.open(path) catch |e| fail(path, e);
        defer r.close();
        while (!@atomicLoad(bool, &g_stop, .seq_cst)) {
            const b = (r.nextBatch() catch |e| fail("read", e)) orelse break;
            defer b.release();
            if (st.take(b) catch |e| fail("read", e)) break;
        }
        _ = fflush(null);
        if (st.w) |w| w.close() catch |e| fail("write", e);
        std.debug.print("RESULT packets={d} drops=0\n", .{st.packets});
        return 0;
    }

    var cfg = netring.defaultConfig();
    if (o.snaplen != 0) cfg.snaplen = o.snaplen;
    if (o.block_kib != 0) cfg.block_size = o.block_kib * 1024;
    if (o.blocks != 0) cfg.block_count = o.blocks;
    if (o.no_promisc) cfg.promiscuous = false;
    if (o.netns) |ns| cfg.netns = ns.ptr;
    const cap = netring.Capture.open(o.ifname.?, &cfg) catch |e| fail("open", e);
    @atomicStore(?*netring.c.nr_capture, &g_cap, cap.ptr, .seq_cst);
    if (cap.info()) |i| {
        if (i.warning != null) std.debug.print("zigcap: warning: {s}\n", .{std.mem.span(i.warning)});
        if (!o.quiet) std.debug.print("zigcap: capturing on {s}, ring {d} x {d} KiB\n", .{ o.ifname.?, i.ring.block_count, i.ring.block_size / 1024 });
    } else |_| {}
    var status: u8 = 0;
    while (true) {
        const b = cap.nextBatch(1000) catch |e| switch (e) {
            error.Timeout, error.IfaceDown => {
                if (st.w) |w| w.flush() catch {};
                continue;
            },
            error.Break => break,
            else => {
                std.debug.print("zigcap: {s} ({s})\n", .{ netring.lastError(), @errorName(e) });
                status = 1;
                break;
            },
        };
        defer b.release();
        const done = st.take(b) catch |e| {
            std.debug.print("zigcap: {s} ({s})\n", .{ netring.lastError(), @errorName(e) });
            status = 1;
            break;
        };
        if (done) break;
    }
    _ = fflush(null);
    const total = cap.stats() catch std.mem.zeroes(netring.c.nr_capture_stats);
    @atomicStore(?*netring.c.nr_capture, &g_cap, null, .seq_cst);
    cap.close();
    if (st.w) |w| {
        w.setStats(total.packets + total.drops, total.drops);
        w.close() catch |e| fail("write", e);
    }
    std.debug.print("RESULT packets={d} drops={d}\n", .{ st.packets, total.drops });
    return status;
}
