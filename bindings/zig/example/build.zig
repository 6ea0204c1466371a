//! A program of its own that uses the netring Zig package (build.zig.zon:
//! a dependency named "netring"). netring's build finds the installed C
//! library with pkg-config: set PKG_CONFIG_PATH=<prefix>/lib/pkgconfig.
//!
//!   zig build                      zig-out/bin/capture
//!   zig build run -- IFACE [COUNT]
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const netring = b.dependency("netring", .{ .target = target, .optimize = optimize }).module("netring");

    const exe = b.addExecutable(.{
        .name = "capture",
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/main.zig"),
            .target = target,
            .optimize = optimize,
            .imports = &.{.{ .name = "netring", .module = netring }},
        }),
    });
    b.installArtifact(exe);

    const run = b.addRunArtifact(exe);
    run.addPassthruArgs(); // zig build run -- IFACE COUNT
    b.step("run", "run the capture: zig build run -- IFACE [COUNT]").dependOn(&run.step);
}
