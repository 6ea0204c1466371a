#!/usr/bin/env bash
# `cargo cinstall` into a staging prefix must yield libnetring.so.0 (with that
# SONAME), libnetring.a, netring.pc and the checked-in netring.h, and a C
# program must build against it through pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$PWD/build/cinstall
rm -rf "$dest"
cargo cinstall --release --locked --prefix=/usr --libdir=/usr/lib --destdir="$dest"
lib=$dest/usr/lib
for f in libnetring.so.0 libnetring.so libnetring.a pkgconfig/netring.pc; do
    [ -e "$lib/$f" ] || { echo "cinstall: $f missing" >&2; exit 1; }
done
readelf -d "$lib/libnetring.so.0" | grep -q 'SONAME.*\[libnetring.so.0\]' || { echo "cinstall: wrong SONAME" >&2; exit 1; }
cmp include/netring.h "$dest/usr/include/netring.h" || { echo "cinstall: header differs from include/netring.h" >&2; exit 1; }
cmp bindings/cpp/netring.hpp "$dest/usr/include/netring.hpp" || { echo "cinstall: netring.hpp missing or differs from bindings/cpp/netring.hpp" >&2; exit 1; }
# One source for netring.pc: cargo-c's file must say what `make install`
# writes from pkgconfig/netring.pc.in (prefix aside).
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
if ! diff <(sed -e 's|@PREFIX@|/usr|' -e "s|@VERSION@|$version|" pkgconfig/netring.pc.in) "$lib/pkgconfig/netring.pc"; then
    echo "cinstall: netring.pc differs from pkgconfig/netring.pc.in (keep Cargo.toml's [package.metadata.capi.pkg_config] in step)" >&2
    exit 1
fi
# Build a C program against the staged install through its pkg-config file.
sed -e "s|^prefix=.*|prefix=$dest/usr|" "$lib/pkgconfig/netring.pc" > build/cinstall/netring.pc
out=build/cinstall/test_api
cc -std=c99 -Wall -Wextra -Werror tests/c/test_api.c -o "$out" \
    $(PKG_CONFIG_PATH=build/cinstall pkg-config --cflags --libs netring) -Wl,-rpath,"$lib"
"$out" | grep -q "RESULT ok"
# And a C++17 program against the installed wrapper (found next to netring.h).
if command -v g++ > /dev/null; then
    printf '#include <netring.hpp>\nint main() { return netring::version()[0] ? 0 : 1; }\n' > build/cinstall/hpp.cpp
    g++ -std=c++17 -Wall -Wextra -Werror build/cinstall/hpp.cpp -o build/cinstall/hpp \
        $(PKG_CONFIG_PATH=build/cinstall pkg-config --cflags --libs netring) -Wl,-rpath,"$lib"
    build/cinstall/hpp
fi
echo "cinstall: ok (libnetring.so.0, libnetring.a, netring.pc, netring.h, netring.hpp; C and C++ programs built and ran)"
