//! zig build          zigcap into zig-out/bin
//! zig build test     the binding's tests (veth tests only with NR_TEST_IF_A/B set)
//! zig build test-bin the test binary into zig-out/bin/test
//!
//! netring is found through pkg-config (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig):
//! its header is translated with addTranslateC, the library linked with an rpath.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const includedir = std.mem.trim(u8, b.run(&.{ "pkg-config", "--variable=includedir", "netring" }), " \n");
    const libdir = std.mem.trim(u8, b.run(&.{ "pkg-config", "--variable=libdir", "netring" }), " \n");

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

    const exe_mod = b.createModule(.{
        .root_source_file = b.path("src/zigcap.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    exe_mod.addImport("netring", netring);
    const exe = b.addExecutable(.{ .name = "zigcap", .root_module = exe_mod });
    b.installArtifact(exe);

    const test_mod = b.createModule(.{
        .root_source_file = b.path("src/test.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    test_mod.addImport("netring", netring);
    const tests = b.addTest(.{ .root_module = test_mod });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "run the binding's tests").dependOn(&run_tests.step);
    // The test binary itself (zig-out/bin/test), to run it inside a network
    // namespace: `zig build test` caches a passing run.
    b.step("test-bin", "install the test binary").dependOn(&b.addInstallArtifact(tests, .{}).step);
}
