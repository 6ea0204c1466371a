//! zig build          zigcap into zig-out/bin
//! zig build test     the binding's tests (veth tests only with NR_TEST_IF_A/B set)
//! zig build test-bin the test binary into zig-out/bin/test
//!
//! netring is found through pkg-config (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig):
//! its header is translated with addTranslateC, the library linked with an rpath.
//! As a package (build.zig.zon), other projects import the module "netring":
//! b.dependency("netring", .{ .target = target, .optimize = optimize }).module("netring")
//! (example/ is such a project).
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    // pkg-config's answer depends on the environment (PKG_CONFIG_PATH),
    // which zig's configuration cache does not track: without this, a
    // cached configuration keeps the directories of an earlier prefix.
    b.graph.poisonCache();
    const includedir = pkgConfig(b, "includedir");
    const libdir = pkgConfig(b, "libdir");

    const tc = b.addTranslateC(.{
        .root_source_file = .{ .cwd_relative = b.fmt("{s}/netring.h", .{includedir}) },
        .target = target,
        .optimize = optimize,
    });
    tc.addIncludePath(.{ .cwd_relative = includedir });
    const c_mod = tc.createModule();

    const netring = b.addModule("netring", .{
        .root_source_file = b.path("src/netring.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    netring.addImport("c", c_mod);
    netring.linkSystemLibrary("netring", .{});
    netring.addRPath(.{ .cwd_relative = libdir });

    const exe = b.addExecutable(.{ .name = "zigcap", .root_module = userModule(b, "src/zigcap.zig", netring) });
    b.installArtifact(exe);

    const tests = b.addTest(.{ .root_module = userModule(b, "src/test.zig", netring) });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "run the binding's tests").dependOn(&run_tests.step);
    // The test binary itself (zig-out/bin/test), to run it inside a network
    // namespace: `zig build test` caches a passing run.
    b.step("test-bin", "install the test binary").dependOn(&b.addInstallArtifact(tests, .{}).step);
}

/// A module of this package (root source file `path`) that imports
/// "netring", with netring's target and optimisation, linked with libc.
fn userModule(b: *std.Build, path: []const u8, netring: *std.Build.Module) *std.Build.Module {
    const m = b.createModule(.{
        .root_source_file = b.path(path),
        .target = netring.resolved_target,
        .optimize = netring.optimize,
        .link_libc = true,
    });
    m.addImport("netring", netring);
    return m;
}

/// `pkg-config --variable=NAME netring`, or a sentence saying what to set.
fn pkgConfig(b: *std.Build, name: []const u8) []const u8 {
    var code: u8 = 0;
    const out = b.runAllowFail(&.{ "pkg-config", b.fmt("--variable={s}", .{name}), "netring" }, &code, .inherit) catch |e|
        std.process.fatal("netring: `pkg-config --variable={s} netring` failed ({t}): set PKG_CONFIG_PATH=<prefix>/lib/pkgconfig, the prefix netring is installed in (make installs into build/prefix)", .{ name, e });
    return std.mem.trim(u8, out, " \n");
}
