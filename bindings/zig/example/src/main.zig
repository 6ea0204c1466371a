//! Capture COUNT packets (default 5) on IFACE with the netring Zig binding,
//! print each one's length and first bytes, then the capture's stats.
//!
//!   capture IFACE [COUNT]
const std = @import("std");
const netring = @import("netring");

pub fn main(init: std.process.Init) !u8 {
    var args = init.minimal.args.iterate();
    _ = args.skip();
    const ifname = args.next() orelse {
        std.debug.print("usage: capture IFACE [COUNT]\n", .{});
        return 2;
    };
    const count = if (args.next()) |s| try std.fmt.parseInt(u64, s, 10) else 5;

    var buf: [4096]u8 = undefined;
    var stdout = std.Io.File.stdout().writer(init.io, &buf);
    const out = &stdout.interface;
    defer out.flush() catch {};

    var cfg = netring.defaultConfig(); // the library's defaults; change what you need
    cfg.snaplen = 256;
    const cap = netring.Capture.open(ifname, &cfg) catch |e| {
        std.debug.print("capture: {s} ({s})\n", .{ netring.lastError(), @errorName(e) });
        return 1;
    };
    defer cap.close();

    var seen: u64 = 0;
    while (seen < count) {
        const b = cap.nextBatch(1000) catch |e| switch (e) {
            error.Timeout, error.IfaceDown => continue, // not failures: wait again
            error.Break => break, // cap.breakloop() from another thread
            else => {
                std.debug.print("capture: {s} ({s})\n", .{ netring.lastError(), @errorName(e) });
                return 1;
            },
        };
        defer b.release(); // hand the ring block back to the kernel
        var it = b.iterator();
        while (try it.next()) |p| { // p.data: the bytes in the ring (zero copy)
            try out.print("{d} bytes:", .{p.len});
            for (p.data[0..@min(p.data.len, 16)]) |byte| try out.print(" {x:0>2}", .{byte});
            try out.print("\n", .{});
            seen += 1;
            if (seen == count) break;
        }
    }

    const st = cap.stats() catch |e| {
        std.debug.print("capture: {s} ({s})\n", .{ netring.lastError(), @errorName(e) });
        return 1;
    };
    try out.print("stats: packets={d} drops={d}\n", .{ st.packets, st.drops });
    return 0;
}
