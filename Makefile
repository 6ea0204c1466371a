# netring — build, install into build/prefix, C examples, tests, demo.
#
#   make            library + header + pkg-config into build/prefix, C examples into build/bin,
#                   the libpcap drop-in into build/prefix/lib/netring/libpcap.so.0.8
#   make export     nrexport (Arrow, Parquet, IPFIX; the netring-export crate) into build/bin,
#                   where nrcap -F arrow|parquet / --records / --ipfix finds it (not in
#                   `make all`: libnetring.so and the demo stay free of the Arrow crates)
#   make demo       capture demo on a throwaway veth pair (installs what it needs)
#   make test       the whole test suite (installs what it needs)
#   make bench      benchmarks against the alternatives -> bench/results/<date>/
#                   (BENCH_ARGS="-d 5 -r 3" for longer runs; see bench/README.md)
#   make bench-smoke every benchmark once, a few seconds (part of make test)
#   make header     regenerate include/netring.h from the Rust sources
#   make fuzz       coverage-guided fuzzing, every target FUZZ_SECS seconds (default 60)
#   make soak       every engine at full rate for SOAK_SECS seconds (default 600)

PREFIX   ?= $(CURDIR)/build/prefix
BINDIR   ?= $(CURDIR)/build/bin
CARGO    ?= cargo
CC       ?= cc
VERSION  := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR    := $(firstword $(subst ., ,$(VERSION)))
LIBDIR   := $(PREFIX)/lib
RELEASE  := $(or $(CARGO_TARGET_DIR),target)/release
PKGCFG   := PKG_CONFIG_PATH=$(LIBDIR)/pkgconfig pkg-config
CFLAGS   ?= -O2 -g -std=gnu99 -Wall -Wextra -Werror
EXAMPLES := $(patsubst c-examples/%.c,$(BINDIR)/%,$(wildcard c-examples/*.c))

.PHONY: all lib install examples export header deps deps-demo demo test bench bench-smoke fuzz soak clean

FUZZ_SECS ?= 60
SOAK_SECS ?= 600

all: install examples

lib:
	$(CARGO) build --release --locked
	$(CARGO) build --release --locked -p netring-pcap

install: lib
	install -d $(LIBDIR)/pkgconfig $(PREFIX)/include
	install -m 0755 $(RELEASE)/libnetring.so $(LIBDIR)/libnetring.so.$(VERSION)
	ln -sf libnetring.so.$(VERSION) $(LIBDIR)/libnetring.so.$(MAJOR)
	ln -sf libnetring.so.$(MAJOR) $(LIBDIR)/libnetring.so
	install -m 0644 $(RELEASE)/libnetring.a $(LIBDIR)/libnetring.a
	install -m 0644 include/netring.h $(PREFIX)/include/netring.h
	install -m 0644 bindings/cpp/netring.hpp $(PREFIX)/include/netring.hpp
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' pkgconfig/netring.pc.in > $(LIBDIR)/pkgconfig/netring.pc
	# The libpcap drop-in, in a directory of its own so it never shadows
	# the system's libpcap: LD_LIBRARY_PATH=$(LIBDIR)/netring tcpdump ...
	install -d $(LIBDIR)/netring
	install -m 0755 $(RELEASE)/libpcap.so $(LIBDIR)/netring/libpcap.so.0.8
	# Programs that dlopen("libpcap.so") (masscan) find it there too.
	ln -sf libpcap.so.0.8 $(LIBDIR)/netring/libpcap.so

examples: install $(EXAMPLES)

$(BINDIR)/%: c-examples/%.c include/netring.h
	@mkdir -p $(BINDIR)
	$(CC) $(CFLAGS) $< -o $@ $$($(PKGCFG) --cflags --libs netring) -Wl,-rpath,$(LIBDIR) -lpthread

# nrcap runs nrexport for records out (-F arrow|parquet, --records,
# --ipfix): it looks next to its own executable first.
export:
	$(CARGO) build --release --locked -p netring-export --bin nrexport
	install -d $(BINDIR)
	install -m 0755 $(RELEASE)/nrexport $(BINDIR)/nrexport

header:
	NETRING_WRITE_HEADER=1 $(CARGO) build --locked

deps:
	bash scripts/deps.sh

deps-demo:
	@bash scripts/deps.sh demo

# The demo needs only the library, nrcap and trafgen: no cargo-c, no tshark.
demo: deps-demo
	@echo "== demo: building libnetring (release, about a minute) and the C examples"
	@$(MAKE) --no-print-directory all >/dev/null
	bash scripts/demo.sh

test: deps all export
	bash scripts/test.sh

bench: deps all
	$(CARGO) build --release --locked --features bench-fixtures --example micro --example parse
	$(CARGO) build --release --locked -p netring-export --bin nrexport --example genpcap -p netring-engine --example flowbench
	MICRO=$(RELEASE)/examples/micro NREXPORT=$(RELEASE)/nrexport bash bench/bench.sh $(BENCH_ARGS)

# The smoke run only checks that every benchmark still produces numbers, so
# the micro benchmark and the export tools may come from the debug build.
# The micro benchmark needs the bench-fixtures feature (synthetic blocks),
# which the shipped library leaves out.
bench-smoke: all
	$(CARGO) build --locked --features bench-fixtures --example micro --example parse
	$(CARGO) build --locked -p netring-export --bin nrexport --example genpcap -p netring-engine --example flowbench
	MICRO=$(or $(CARGO_TARGET_DIR),target)/debug/examples/micro NREXPORT=$(or $(CARGO_TARGET_DIR),target)/debug/nrexport \
		bash bench/bench.sh --smoke

fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECS)

soak: deps all
	SOAK_SECS=$(SOAK_SECS) bash scripts/soak.sh

clean:
	rm -rf build
	$(CARGO) clean
