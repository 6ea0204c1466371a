// Tests of netring.hpp. Built as C++17 and C++20 with -Wall -Wextra -Werror
// and run under ASan/UBSan by bindings/cpp/test.sh.
//
// Without NR_TEST_IF_A: only the tests that need no network (files through
// the writer and reader, errors, handles). With NR_TEST_IF_A/NR_TEST_IF_B
// (set by bindings/netns.sh, which runs this inside a throwaway namespace
// holding the veth pair A <-> B): capture on A what a raw AF_PACKET socket
// sends on B.
#include <netring.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

int g_pass, g_fail;
std::string g_test;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            ++g_pass;                                                                                                  \
        } else {                                                                                                       \
            ++g_fail;                                                                                                  \
            std::fprintf(stderr, "FAIL %s: %s:%d: %s\n", g_test.c_str(), __FILE__, __LINE__, #cond);                 \
        }                                                                                                              \
    } while (0)

template <typename F> void test(const char *name, F f)
{
    g_test = name;
    int before = g_fail;
    try {
        f();
    } catch (const std::exception &e) {
        ++g_fail;
        std::fprintf(stderr, "FAIL %s: exception: %s\n", name, e.what());
    }
    std::printf("%s %s\n", g_fail == before ? "ok  " : "FAIL", name);
}

constexpr std::uint16_t kEthertype = 0x88b5;

// The frame of tests/common: dst, src, EtherType 0x88b5, 4-byte sequence,
// then a pattern derived from it.
std::vector<std::uint8_t> frame(std::size_t len, std::uint32_t seq)
{
    std::vector<std::uint8_t> f = {0x02, 0xcb, 0, 0, 0, 0xff, 0x02, 0x6e, 0x72, 0, 0, 1, 0x88, 0xb5};
    for (int s = 24; s >= 0; s -= 8)
        f.push_back(static_cast<std::uint8_t>(seq >> s));
    for (std::size_t i = 18; i < len; i++)
        f.push_back(static_cast<std::uint8_t>(static_cast<std::uint32_t>(i) * 31u + seq));
    return f;
}

bool is_test_frame(netring::bytes_view d)
{
    return d.size() >= 18 && d[12] == (kEthertype >> 8) && d[13] == (kEthertype & 0xff);
}

std::uint32_t seq_of(netring::bytes_view d)
{
    return static_cast<std::uint32_t>(d[14]) << 24 | static_cast<std::uint32_t>(d[15]) << 16 |
           static_cast<std::uint32_t>(d[16]) << 8 | d[17];
}

std::string tmpfile_path(const char *tag)
{
    return "/tmp/netring-cpp-" + std::to_string(getpid()) + "-" + tag;
}

// ------------------------------------------------------------ no network

void unit_tests()
{
    test("parse: Ethernet/IPv4/UDP offsets and fields", [] {
        const std::uint8_t f[] = {
            0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,        // Ethernet
            0x45, 0, 0, 32, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, // IPv4
            10, 0, 0, 2, 0x04, 0xd2, 0x00, 0x35, 0, 12, 0, 0,              // UDP 1234 -> 53
            'a', 'b', 'c', 'd',
        };
        nr_packet raw{};
        raw.data = f;
        raw.caplen = raw.len = sizeof f;
        netring::packet p(raw);
        netring::layers l = netring::parse(p);
        CHECK(l.status == NR_PARSE_COMPLETE && l.l3 == NR_L3_IPV4 && l.l4 == NR_L4_UDP);
        CHECK(l.net_off == 14 && l.transport_off == 34 && l.payload_off == 42 && l.payload_len == 4);
        CHECK(l.src_port == 1234 && l.dst_port == 53 && l.ttl == 64);
        raw.caplen = 20;
        raw.flags = NR_PACKET_FLAG_TRUNCATED;
        netring::layers t;
        CHECK(netring::try_parse(netring::packet(raw), &t) == NR_OK);
        CHECK(t.status == NR_PARSE_TRUNCATED && t.stop_layer == NR_LAYER_NETWORK);
    });
    test("handles are move-only", [] {
        CHECK(!std::is_copy_constructible<netring::capture>::value);
        CHECK(!std::is_copy_assignable<netring::batch>::value);
        CHECK(std::is_nothrow_move_constructible<netring::capture>::value);
        CHECK(std::is_nothrow_move_assignable<netring::batch>::value);
        netring::capture c;
        CHECK(!c);
        netring::batch b;
        CHECK(!b);
        CHECK(b.size() == 0);
        int n = 0;
        for (const netring::packet &p : b)
            n += static_cast<int>(p.len());
        CHECK(n == 0);
    });

    test("error category and codes", [] {
        std::error_code ec = netring::status::no_device;
        CHECK(ec.category() == netring::error_category());
        CHECK(std::string(ec.category().name()) == "netring");
        CHECK(ec.message() == nr_strerror(NR_E_NO_DEVICE));
        CHECK(ec == std::errc::no_such_device);
        netring::error e(NR_E_CONFIG, "block_size 3000 is not a power of two");
        const std::system_error &se = e;
        CHECK(se.code().value() == NR_E_CONFIG);
        CHECK(e.status_code() == NR_E_CONFIG);
        CHECK(std::string(e.what()).find("block_size 3000") != std::string::npos);
        CHECK(e.sentence() == "block_size 3000 is not a power of two");
    });

    test("bad config: exception with the library's sentence", [] {
        netring::capture_config cfg;
        cfg.block_size = 3000;
        try {
            netring::capture::open("lo", cfg);
            CHECK(false);
        } catch (const netring::error &e) {
            CHECK(e.code() == netring::status::config);
            CHECK(!e.sentence().empty());
            CHECK(e.sentence() == nr_last_error());
        }
        netring::capture c;
        CHECK(netring::capture::try_open("lo", &cfg, c) == NR_E_CONFIG);
        CHECK(!c);
    });

    test("writer then reader: byte-exact, range-for, chunks", [] {
        std::string path = tmpfile_path("rw.pcap");
        const std::uint32_t n = 300; // more than one chunk of 64
        {
            netring::writer w = netring::writer::open(path, NR_FORMAT_PCAP_NS);
            for (std::uint32_t i = 0; i < n; i++) {
                std::vector<std::uint8_t> f = frame(i % 2 ? 1514 : 60, i);
                nr_packet p{};
                p.data = f.data();
                p.caplen = p.len = static_cast<std::uint32_t>(f.size());
                p.ts_ns = 1000000000ull * 1700000000ull + i;
                w.write(p);
            }
            CHECK(w.stats().packets == n);
            w.close();
            CHECK(!w);
        }
        netring::reader r = netring::reader::open(path);
        CHECK(r.info().link_type == NR_LINKTYPE_ETHERNET);
        std::uint32_t seen = 0, exact = 0;
        netring::batch b;
        while (r.next_batch(b) == netring::status::ok) {
            std::size_t in_batch = 0;
            for (const auto &p : b) {
                std::vector<std::uint8_t> want = frame(seen % 2 ? 1514 : 60, seen);
                netring::bytes_view d = p.data();
                if (d.size() == want.size() && std::equal(d.begin(), d.end(), want.begin()) &&
                    p.ts_ns() == 1000000000ull * 1700000000ull + seen)
                    exact++;
                seen++;
                in_batch++;
            }
            CHECK(in_batch == b.size());
            // a second walk starts at the first packet again
            std::size_t again = 0;
            for (const auto &p : b)
                again += p.caplen() > 0;
            CHECK(again == in_batch);
        }
        CHECK(seen == n);
        CHECK(exact == n);
        CHECK(r.next_batch(b) == netring::status::eof);
        std::remove(path.c_str());
    });

    test("for_each: every packet, stop, exceptions come back", [] {
        std::string path = tmpfile_path("fe.pcap");
        {
            netring::writer w = netring::writer::open(path);
            for (std::uint32_t i = 0; i < 100; i++) {
                std::vector<std::uint8_t> f = frame(60, i);
                nr_packet p{};
                p.data = f.data();
                p.caplen = p.len = 60;
                w.write(p);
            }
            w.close();
        }
        netring::reader r = netring::reader::open(path);
        netring::batch b;
        CHECK(r.next_batch(b) == netring::status::ok);
        std::uint32_t seen = 0, exact = 0;
        CHECK(b.for_each([&](const netring::packet &p) {
            exact += std::vector<std::uint8_t>(p.data().begin(), p.data().end()) == frame(60, seen);
            seen++;
        }) == netring::status::ok);
        CHECK(seen == b.size() && exact == seen);
        std::uint32_t n = 0;
        CHECK(b.for_each([&](const netring::packet &) { return ++n < 10; }) == netring::status::stopped);
        CHECK(n == 10);
        bool caught = false;
        try {
            b.for_each([](const netring::packet &) { throw std::runtime_error("from the callback"); });
        } catch (const std::runtime_error &e) {
            caught = std::string(e.what()) == "from the callback";
        }
        CHECK(caught);
        b.release();
        std::remove(path.c_str());
    });

#if __cplusplus >= 202002L
    test("bytes_view converts to std::span (C++20)", [] {
        const std::uint8_t raw[3] = {1, 2, 3};
        netring::bytes_view v(raw, 3);
        std::span<const std::uint8_t> s = v;
        CHECK(s.size() == 3 && s[2] == 3);
    });
#endif

    test("missing file: exception with the library's sentence", [] {
        try {
            netring::reader::open("/nonexistent/netring.pcap");
            CHECK(false);
        } catch (const netring::error &e) {
            CHECK(e.status_code() < 0);
            CHECK(e.sentence().find("/nonexistent/netring.pcap") != std::string::npos);
        }
    });
}

// ------------------------------------------------------------ veth pair

struct raw_sender {
    int fd = -1;
    explicit raw_sender(const char *ifname)
    {
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
        if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&sll), sizeof sll) != 0) {
            std::perror("raw sender");
            std::exit(1);
        }
    }
    ~raw_sender() { close(fd); }
    void send(const std::vector<std::uint8_t> &f) const
    {
        for (;;) {
            ssize_t rc = ::send(fd, f.data(), f.size(), 0);
            if (rc == static_cast<ssize_t>(f.size()))
                return;
            if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
                std::perror("send");
                std::exit(1);
            }
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
};

// Copies of b's test frames appended to got; then b is released.
void take_test_frames(netring::batch &b, std::vector<std::vector<std::uint8_t>> &got)
{
    for (const netring::packet &p : b)
        if (is_test_frame(p.data()))
            got.emplace_back(p.data().begin(), p.data().end());
    b.release();
}

// Test frames on `cap` until `want` arrived and 200 ms passed quietly.
std::vector<std::vector<std::uint8_t>> collect(netring::capture &cap, std::size_t want)
{
    std::vector<std::vector<std::uint8_t>> got;
    auto start = std::chrono::steady_clock::now(), last = start;
    netring::batch b;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
        auto now = std::chrono::steady_clock::now();
        if (got.size() >= want && now - last > std::chrono::milliseconds(200))
            break;
        if (cap.next_batch(b, std::chrono::milliseconds(20)) != netring::status::ok)
            continue;
        take_test_frames(b, got);
        last = std::chrono::steady_clock::now();
    }
    return got;
}

netring::capture_config small_ring()
{
    netring::capture_config cfg;
    cfg.block_size = 1 << 20;
    cfg.block_count = 8;
    cfg.block_timeout_ms = 5;
    return cfg;
}

void veth_tests(const char *a, const char *b)
{
    for (std::size_t len : {std::size_t(60), std::size_t(1514)}) {
        std::string name = "veth: exact count, byte-exact frames, no drops at " + std::to_string(len) + " B";
        test(name.c_str(), [&] {
            netring::capture cap = netring::capture::open(a, small_ring());
            const std::uint32_t n = 2000;
            // The sender runs while the capture drains the ring.
            std::thread sender([&] {
                raw_sender tx(b);
                for (std::uint32_t i = 0; i < n; i++)
                    tx.send(frame(len, i));
            });
            auto got = collect(cap, n);
            sender.join();
            CHECK(got.size() == n);
            std::uint32_t exact = 0;
            for (std::uint32_t i = 0; i < got.size(); i++)
                exact += got[i] == frame(len, i);
            CHECK(exact == n);
            nr_capture_stats total{}, delta{};
            cap.stats(total, delta);
            CHECK(total.drops == 0);
            CHECK(total.packets >= n);
            CHECK(total.delivered >= n);
            CHECK(delta.packets == total.packets);
            cap.stats(total, delta);
            CHECK(delta.packets == 0);
        });
    }

    test("veth: breakloop from another thread ends a blocking wait", [&] {
        netring::capture cap = netring::capture::open(a, small_ring());
        std::atomic<bool> started{false};
        std::thread t([&] {
            while (!started.load())
                std::this_thread::yield();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            cap.breakloop();
        });
        netring::batch bt;
        started = true;
        auto t0 = std::chrono::steady_clock::now();
        netring::status s = cap.next_batch(bt, std::chrono::milliseconds(-1));
        auto took = std::chrono::steady_clock::now() - t0;
        t.join();
        CHECK(s == netring::status::break_requested);
        CHECK(!bt);
        CHECK(took < std::chrono::seconds(5));
    });

    test("veth: unknown interface gives the library's sentence", [&] {
        try {
            netring::capture::open("nrnosuch0");
            CHECK(false);
        } catch (const netring::error &e) {
            CHECK(e.code() == netring::status::no_device);
            CHECK(e.sentence().find("nrnosuch0") != std::string::npos);
            CHECK(std::string(e.what()).find(e.sentence()) != std::string::npos);
        }
    });

    test("veth: filter set at run time drops non-matching frames", [&] {
        netring::capture cap = netring::capture::open(a, small_ring());
        // accept only frames whose byte 17 (low byte of seq) is even
        const nr_bpf_insn prog[] = {
            {0x30, 0, 0, 17},        // ldb [17]
            {0x45, 1, 0, 1},         // jset #1 -> drop
            {0x06, 0, 0, 262144},    // ret #262144
            {0x06, 0, 0, 0},         // ret #0
        };
        cap.set_filter(prog);
        raw_sender tx(b);
        for (std::uint32_t i = 0; i < 100; i++)
            tx.send(frame(60, i));
        auto got = collect(cap, 50);
        CHECK(got.size() == 50);
        bool all_even = true;
        for (auto &f : got)
            all_even = all_even && (seq_of(netring::bytes_view(f.data(), f.size())) % 2 == 0);
        CHECK(all_even);
    });

    test("veth: AF_XDP (generic XDP) receives byte-exact, breakloop", [&] {
        netring::xdp_config cfg;
        cfg.frame_count = 512;
        cfg.attach_mode = NR_XDP_ATTACH_GENERIC;
        netring::xdp x = netring::xdp::open(a, 0, cfg);
        CHECK(!x.info().zero_copy);
        const std::size_t sizes[] = {60, 61, 100, 1000, 1514};
        std::thread sender([&] {
            raw_sender tx(b);
            for (std::uint32_t i = 0; i < 5; i++)
                tx.send(frame(sizes[i], i));
        });
        std::vector<std::vector<std::uint8_t>> got;
        netring::batch bt;
        auto start = std::chrono::steady_clock::now();
        while (got.size() < 5 && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
            if (x.next_batch(bt, std::chrono::milliseconds(50)) != netring::status::ok)
                continue;
            take_test_frames(bt, got);
        }
        sender.join();
        CHECK(got.size() == 5);
        for (std::uint32_t i = 0; i < got.size(); i++)
            CHECK(got[i] == frame(sizes[i], i));
        nr_xdp_stats st = x.stats();
        CHECK(st.rx_packets >= 5 && st.rx_dropped == 0 && st.rx_ring_full == 0);
        std::thread t([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            x.breakloop();
        });
        CHECK(x.next_batch(bt, std::chrono::milliseconds(-1)) == netring::status::break_requested);
        t.join();
    });

    test("veth: injector sends what the capture sees", [&] {
        netring::capture cap = netring::capture::open(a, small_ring());
        netring::injector inj = netring::injector::open(b);
        for (std::uint32_t i = 0; i < 100; i++)
            CHECK(inj.inject(frame(200, i)) == netring::status::ok);
        inj.flush();
        CHECK(inj.wait_drained(std::chrono::milliseconds(2000)) == netring::status::ok);
        auto got = collect(cap, 100);
        CHECK(got.size() == 100);
        CHECK(inj.stats().sent == 100);
    });

    test("veth: pthread_cancel in next_batch or in a for_each callback ends the thread", [&] {
        // The thread ends with PTHREAD_CANCELED (the forced unwind passes
        // the binding: no noexcept wait, for_each rethrows it), its batch
        // is released by its destructor, the capture is usable after.
        struct arg {
            netring::capture *cap;
            bool in_callback_mode;
            std::atomic<bool> in_callback;
        };
        for (int mode = 0; mode < 2; mode++) {
            for (int i = 0; i < 5; i++) {
                netring::capture cap = netring::capture::open(a, small_ring());
                netring::injector inj = netring::injector::open(b);
                arg x{&cap, mode == 1, {false}};
                pthread_t t;
                auto body = [](void *p) -> void * {
                    arg *x = static_cast<arg *>(p);
                    netring::batch bt;
                    for (;;) {
                        if (x->cap->next_batch(bt) == netring::status::ok && x->in_callback_mode)
                            bt.for_each([x](const netring::packet &) {
                                x->in_callback = true;
                                for (;;)
                                    sleep(100);
                            });
                    }
                    return nullptr;
                };
                CHECK(pthread_create(&t, nullptr, body, &x) == 0);
                for (std::uint32_t k = 0; x.in_callback_mode && k < 3000 && !x.in_callback; k++) {
                    inj.inject(frame(200, k));
                    usleep(1000);
                }
                usleep(static_cast<useconds_t>(i) * 5000);
                CHECK(pthread_cancel(t) == 0);
                void *res = nullptr;
                CHECK(pthread_join(t, &res) == 0);
                CHECK(res == PTHREAD_CANCELED);
                netring::batch again;
                CHECK(cap.next_batch(again, std::chrono::milliseconds(0)) != netring::status::ok || again.size() > 0);
            }
        }
    });
}

} // namespace

int main()
{
    std::printf("netring.hpp tests, C++%ld, library %s\n", __cplusplus / 100 % 100, netring::version());
    unit_tests();
    const char *a = std::getenv("NR_TEST_IF_A"), *b = std::getenv("NR_TEST_IF_B");
    if (a && b)
        veth_tests(a, b);
    else
        std::printf("skip veth tests (run through bindings/netns.sh)\n");
    std::printf("cpp tests: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
