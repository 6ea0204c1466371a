//! Tests of the Zig binding (`zig build test`). Without NR_TEST_IF_A only
//! the tests that need no network run; with NR_TEST_IF_A/NR_TEST_IF_B
//! (bindings/netns.sh runs the test binary inside a throwaway namespace
//! holding the veth pair A <-> B) a raw AF_PACKET socket sends on B what the
//! capture on A must see.
const std = @import("std");
const netring = @import("netring");
const c = netring.c;
const expect = std.testing.expect;

extern "c" fn getenv(name: [*:0]const u8) ?[*:0]const u8;
extern "c" fn getpid() c_int;
extern "c" fn usleep(us: c_uint) c_int;
extern "c" fn unlink(path: [*:0]const u8) c_int;
extern "c" fn socket(domain: c_int, kind: c_int, protocol: c_int) c_int;
extern "c" fn bind(fd: c_int, addr: *const anyopaque, len: c_uint) c_int;
extern "c" fn send(fd: c_int, buf: [*]const u8, len: usize, flags: c_int) isize;
extern "c" fn close(fd: c_int) c_int;
extern "c" fn if_nametoindex(name: [*:0]const u8) c_uint;

const SockaddrLl = extern struct {
    family: u16 = 17, // AF_PACKET
    protocol: u16 = 0,
    ifindex: i32,
    hatype: u16 = 0,
    pkttype: u8 = 0,
    halen: u8 = 0,
    addr: [8]u8 = @splat(0),
};

/// The frame of tests/common: dst, src, EtherType 0x88b5, a 4-byte
/// sequence number, then a pattern derived from it.
fn frame(buf: []u8, seq: u32) []u8 {
    const head = [_]u8{ 0x02, 0xcb, 0, 0, 0, 0xff, 0x02, 0x6e, 0x72, 0, 0, 1, 0x88, 0xb5 };
    @memcpy(buf[0..14], &head);
    std.mem.writeInt(u32, buf[14..18], seq, .big);
    for (18..buf.len) |i| buf[i] = @truncate(@as(u32, @intCast(i)) *% 31 +% seq);
    return buf;
}

fn isTestFrame(d: []const u8) bool {
    return d.len >= 18 and d[12] == 0x88 and d[13] == 0xb5;
}

fn seqOf(d: []const u8) u32 {
    return std.mem.readInt(u32, d[14..18], .big);
}

test "errors map to Zig errors; the sentence is the library's" {
    try expect(netring.errorOf(c.NR_E_NO_DEVICE) == error.NoDevice);
    try expect(netring.errorOf(-999) == error.Unknown);
    var cfg = netring.defaultConfig();
    cfg.block_size = 3000;
    if (netring.Capture.open("lo", &cfg)) |cap| {
        cap.close();
        return error.TestUnexpectedResult;
    } else |e| {
        try expect(e == error.Config);
        try expect(std.mem.indexOf(u8, netring.lastError(), "block_size") != null);
    }
    try expect(netring.version().len > 0);
}

test "writer then reader: byte-exact, iterator over chunks" {
    var path_buf: [64]u8 = undefined;
    const path = try std.fmt.bufPrintSentinel(&path_buf, "/tmp/netring-zig-{d}.pcap", .{getpid()}, 0);
    defer _ = unlink(path.ptr);
    const n: u32 = 300;
    var buf: [1514]u8 = undefined;
    {
        const w = try netring.Writer.open(path, .pcap_ns, null);
        var i: u32 = 0;
        while (i < n) : (i += 1) {
            const f = frame(buf[0..if (i % 2 == 1) 1514 else 60], i);
            try w.writePacket(f, @intCast(f.len), 1_700_000_000_000_000_000 + @as(u64, i));
        }
        try w.close();
    }
    const r = try netring.Reader.open(path);
    defer r.close();
    try expect((try r.info()).link_type == c.NR_LINKTYPE_ETHERNET);
    var seen: u32 = 0;
    while (try r.nextBatch()) |b| {
        defer b.release();
        var it = b.iterator();
        var in_batch: usize = 0;
        while (try it.next()) |p| {
            const want = frame(buf[0..if (seen % 2 == 1) 1514 else 60], seen);
            try std.testing.expectEqualSlices(u8, want, p.data);
            try expect(p.ts_ns == 1_700_000_000_000_000_000 + @as(u64, seen));
            seen += 1;
            in_batch += 1;
        }
        try expect(in_batch == b.len());
        var again = b.iterator(); // a second walk starts at the first packet
        var k: usize = 0;
        while (try again.next()) |_| k += 1;
        try expect(k == in_batch);
    }
    try expect(seen == n);
}

fn countUpTo(st: *[2]u32, p: netring.Packet) bool {
    _ = p;
    st[0] += 1;
    return st[0] < st[1];
}

test "forEach: every packet, and stopping" {
    var path_buf: [64]u8 = undefined;
    const path = try std.fmt.bufPrintSentinel(&path_buf, "/tmp/netring-zig-fe-{d}.pcap", .{getpid()}, 0);
    defer _ = unlink(path.ptr);
    var buf: [60]u8 = undefined;
    {
        const w = try netring.Writer.open(path, .pcap, null);
        var i: u32 = 0;
        while (i < 100) : (i += 1) try w.writePacket(frame(&buf, i), 60, i);
        try w.close();
    }
    const r = try netring.Reader.open(path);
    defer r.close();
    const b = (try r.nextBatch()).?;
    defer b.release();
    var all = [2]u32{ 0, 1000 };
    try expect(try b.forEach(&all, countUpTo));
    try expect(all[0] == b.len());
    var some = [2]u32{ 0, 10 };
    try expect(!try b.forEach(&some, countUpTo));
    try expect(some[0] == 10);
}

test "missing file: error with the library's sentence" {
    if (netring.Reader.open("/nonexistent/netring.pcap")) |r| {
        r.close();
        return error.TestUnexpectedResult;
    } else |_| {
        try expect(std.mem.indexOf(u8, netring.lastError(), "/nonexistent/netring.pcap") != null);
    }
}

// ---- veth pair

fn veth() ?[2][:0]const u8 {
    const a = getenv("NR_TEST_IF_A") orelse return null;
    const b = getenv("NR_TEST_IF_B") orelse return null;
    return .{ std.mem.span(a), std.mem.span(b) };
}

fn smallRing() c.nr_capture_config {
    var cfg = netring.defaultConfig();
    cfg.block_size = 1 << 20;
    cfg.block_count = 8;
    cfg.block_timeout_ms = 5;
    return cfg;
}

const Sender = struct {
    fn run(ifname: [:0]const u8, size: usize, count: u32) void {
        const fd = socket(17, 3 | 0o2000000, 0); // AF_PACKET, SOCK_RAW | SOCK_CLOEXEC
        if (fd < 0) @panic("socket");
        defer _ = close(fd);
        const sll: SockaddrLl = .{ .ifindex = @intCast(if_nametoindex(ifname.ptr)) };
        if (bind(fd, &sll, @sizeOf(SockaddrLl)) != 0) @panic("bind");
        var buf: [1514]u8 = undefined;
        var i: u32 = 0;
        while (i < count) : (i += 1) {
            const f = frame(buf[0..size], i);
            while (send(fd, f.ptr, f.len, 0) != @as(isize, @intCast(f.len))) _ = usleep(50);
        }
    }
};

fn exact(size: usize) !void {
    const ifs = veth() orelse return error.SkipZigTest;
    var cfg = smallRing();
    const cap = try netring.Capture.open(ifs[0], &cfg);
    defer cap.close();
    const n: u32 = 2000;
    const t = try std.Thread.spawn(.{}, Sender.run, .{ ifs[1], size, n });
    var got: u32 = 0;
    var exact_frames: u32 = 0;
    var quiet: u32 = 0;
    var buf: [1514]u8 = undefined;
    var waited: u32 = 0;
    while (waited < 500 and (got < n or quiet < 10)) : (waited += 1) {
        const b = cap.nextBatch(20) catch |e| switch (e) {
            error.Timeout => {
                quiet += 1;
                continue;
            },
            else => return e,
        };
        defer b.release();
        quiet = 0;
        var it = b.iterator();
        while (try it.next()) |p| {
            if (!isTestFrame(p.data)) continue;
            if (std.mem.eql(u8, p.data, frame(buf[0..size], got))) exact_frames += 1;
            got += 1;
        }
    }
    t.join();
    try expect(got == n);
    try expect(exact_frames == n);
    var total: c.nr_capture_stats = undefined;
    var delta: c.nr_capture_stats = undefined;
    try cap.statsDelta(&total, &delta);
    try expect(total.drops == 0);
    try expect(total.packets >= n and total.delivered >= n);
    try expect(delta.packets == total.packets);
    try cap.statsDelta(&total, &delta);
    try expect(delta.packets == 0);
}

test "veth: exact count, byte-exact frames, no drops at 60 B" {
    try exact(60);
}

test "veth: exact count, byte-exact frames, no drops at 1514 B" {
    try exact(1514);
}

fn breakLater(cap: netring.Capture) void {
    _ = usleep(100_000);
    cap.breakloop();
}

test "veth: breakloop from another thread ends a blocking wait" {
    const ifs = veth() orelse return error.SkipZigTest;
    var cfg = smallRing();
    const cap = try netring.Capture.open(ifs[0], &cfg);
    defer cap.close();
    const t = try std.Thread.spawn(.{}, breakLater, .{cap});
    const r = cap.nextBatch(-1);
    t.join();
    try std.testing.expectError(error.Break, r);
}

test "veth: unknown interface gives the library's sentence" {
    _ = veth() orelse return error.SkipZigTest;
    try std.testing.expectError(error.NoDevice, netring.Capture.open("nrnosuch0", null));
    try expect(std.mem.indexOf(u8, netring.lastError(), "nrnosuch0") != null);
}

test "veth: run-time filter and injector" {
    const ifs = veth() orelse return error.SkipZigTest;
    var cfg = smallRing();
    const cap = try netring.Capture.open(ifs[0], &cfg);
    defer cap.close();
    // accept frames whose sequence number is even
    const prog = [_]c.nr_bpf_insn{
        .{ .code = 0x30, .jt = 0, .jf = 0, .k = 17 },
        .{ .code = 0x45, .jt = 1, .jf = 0, .k = 1 },
        .{ .code = 0x06, .jt = 0, .jf = 0, .k = 262144 },
        .{ .code = 0x06, .jt = 0, .jf = 0, .k = 0 },
    };
    try cap.setFilter(&prog);
    const inj = try netring.Injector.open(ifs[1], null);
    defer inj.close();
    var buf: [200]u8 = undefined;
    var i: u32 = 0;
    while (i < 100) : (i += 1) try inj.inject(frame(&buf, i));
    try inj.waitDrained(2000);
    try expect((try inj.stats()).sent == 100);
    var got: u32 = 0;
    var rounds: u32 = 0;
    while (rounds < 50) : (rounds += 1) {
        const b = cap.nextBatch(20) catch |e| switch (e) {
            error.Timeout => if (got >= 50) break else continue,
            else => return e,
        };
        defer b.release();
        var it = b.iterator();
        while (try it.next()) |p| {
            if (!isTestFrame(p.data)) continue;
            try expect(seqOf(p.data) % 2 == 0);
            got += 1;
        }
    }
    try expect(got == 50);
}

test "veth: AF_XDP (generic XDP) receives byte-exact" {
    const ifs = veth() orelse return error.SkipZigTest;
    var cfg = netring.defaultXdpConfig();
    cfg.frame_count = 512;
    cfg.attach_mode = c.NR_XDP_ATTACH_GENERIC;
    const x = try netring.Xdp.open(ifs[0], 0, &cfg);
    defer x.close();
    const t = try std.Thread.spawn(.{}, Sender.run, .{ ifs[1], 100, 5 });
    var got: u32 = 0;
    var buf: [100]u8 = undefined;
    var rounds: u32 = 0;
    while (got < 5 and rounds < 100) : (rounds += 1) {
        const b = x.nextBatch(50) catch |e| switch (e) {
            error.Timeout => continue,
            else => return e,
        };
        defer b.release();
        var it = b.iterator();
        while (try it.next()) |p| {
            if (!isTestFrame(p.data)) continue;
            try std.testing.expectEqualSlices(u8, frame(&buf, got), p.data);
            got += 1;
        }
    }
    t.join();
    try expect(got == 5);
    const st = try x.stats();
    try expect(st.rx_packets >= 5 and st.rx_dropped == 0);
}
