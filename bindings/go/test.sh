#!/usr/bin/env bash
# Go binding tests: go vet, the netring module's tests without network and
# on a throwaway veth pair (as root), both with plain cgo calls (the default)
# and with -tags netring_fastcall, the gopacket adapter module's tests,
# nrgocap against trafgen, the README's example module (bindings/go/example,
# and a copy of it outside the repository) against trafgen.
# No module proxy: GOFLAGS=-mod=mod GOPROXY=off.
# Prints "go: N passed, M failed" (N counts Go tests and tool checks).
set -uo pipefail
cd "$(dirname "$0")/../.."
. bindings/lib.sh
PREFIX=${PREFIX:-$PWD/build/prefix}
OUT=${OUT:-$PWD/build/go}
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig GOFLAGS=-mod=mod GOPROXY=off
export CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib" GOCACHE=${GOCACHE:-$PWD/build/go/cache}
mkdir -p "$OUT" build/bin
pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
gotest() { # name, test binary, args...: counts --- PASS / --- FAIL lines
    local name=$1; shift
    local log; log=$(mktemp)
    "$@" -test.v -test.count=1 >"$log" 2>&1; local st=$?
    local p f
    p=$(grep -c -- '^--- PASS' "$log"); f=$(grep -c -- '^--- FAIL' "$log")
    pass=$((pass + p)); fail=$((fail + f))
    if [ $st != 0 ] && [ "$f" = 0 ]; then fail=$((fail + 1)); fi
    local s; s=$(grep -c -- '^--- SKIP' "$log")
    case $name in *veth*) fail=$((fail + s)) ;; esac # on the veth pair nothing may skip
    echo "$name: $p passed, $f failed, $s skipped"
    [ $st = 0 ] || cat "$log"
    rm -f "$log"
}
(cd bindings/go && go vet ./...) && ok "go vet netring" || ko "go vet netring"
(cd bindings/go/gopacket && go vet ./...) && ok "go vet netring/gopacket" || ko "go vet netring/gopacket"
[ -z "$(gofmt -l bindings/go)" ] && ok "gofmt" || ko "gofmt: $(gofmt -l bindings/go)"
if (cd bindings/go && go test -c -o "$OUT/netring.test" . && go build -o "$PWD/../../build/bin/nrgocap" ./cmd/nrgocap); then
    ok "build netring tests and nrgocap"
    gotest "netring, no network" "$OUT/netring.test"
    GODEBUG=cgocheck=2 gotest "netring, veth pair (cgocheck=2)" bash bindings/netns.sh "$OUT/netring.test"
    run_harness bash bindings/tooltest.sh nrgocap build/bin/nrgocap
else
    ko "build netring tests and nrgocap"
fi
# The opt-in fast-call variant (-tags netring_fastcall: runtime.asmcgocall on
# Go < 1.23; the plain cgo call above is the default): same tests on the veth
# pair, and nrgocap built with it against trafgen.
if (cd bindings/go && go vet -tags netring_fastcall . && go test -tags netring_fastcall -c -o "$OUT/netring-fast.test" . \
    && go build -tags netring_fastcall -o "$OUT/nrgocap-fast" ./cmd/nrgocap); then
    ok "vet and build netring tests and nrgocap with -tags netring_fastcall"
    gotest "netring -tags netring_fastcall, veth pair" bash bindings/netns.sh "$OUT/netring-fast.test"
    run_harness bash bindings/tooltest.sh nrgocap-fast "$OUT/nrgocap-fast"
else
    ko "vet and build netring tests and nrgocap with -tags netring_fastcall"
fi
if (cd bindings/go/gopacket && go test -c -o "$OUT/gopacket.test" .); then
    ok "build netring/gopacket tests"
    gotest "netring/gopacket, no network" "$OUT/gopacket.test"
    gotest "netring/gopacket, veth pair" bash bindings/netns.sh "$OUT/gopacket.test"
else
    ko "build netring/gopacket tests"
fi
# The README's "Start here": the example module as is (replace netring => ../),
# then main.go alone in a directory of its own with a go.mod made by
# go mod init/edit (replace netring => the absolute path), as a user would.
if (cd bindings/go/example && go vet . && go build -o "$OUT/example" .); then
    ok "vet and build bindings/go/example"
    run_harness bash bindings/exampletest.sh go-example "$OUT/example"
else
    ko "vet and build bindings/go/example"
fi
own=$(mktemp -d /tmp/nr-go-example.XXXXXX)
cp bindings/go/example/main.go "$own/"
gomod=$PWD/bindings/go
if (cd "$own" && go mod init example >/dev/null 2>&1 && go mod edit -require netring@v0.0.0 -replace "netring=$gomod" \
    && go build -o capture . && [ -x capture ]); then
    ok "build main.go in $own (go mod init; go mod edit -replace netring=$gomod)"
else
    ko "build main.go in $own (go mod init; go mod edit -replace netring=$gomod)"
fi
rm -rf "$own"
# The README shows the example's files verbatim: a reader copies them from there.
readme_shows bindings/go/README.md bindings/go/example/go.mod bindings/go/example/main.go
echo "go: $pass passed, $fail failed"
[ "$fail" = 0 ]
