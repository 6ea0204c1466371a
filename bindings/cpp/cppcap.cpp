// cppcap: nrcap's capture loop written with netring.hpp (C++17).
//
//   cppcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
//          [--netns NAME] [-w FILE [-F pcap|pcap-ns|pcapng]]
//   cppcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]
//
// Stops after COUNT packets or on SIGINT/SIGTERM (breakloop from the signal
// handler), then prints on stderr exactly one line, as nrcap does:
//
//   RESULT packets=<packets seen> drops=<lifetime kernel drops>
#include <netring.hpp>

#include <getopt.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

nr_capture *g_cap;                  // for the signal handler
volatile std::sig_atomic_t g_stop;  // for -r

extern "C" void on_signal(int)
{
    g_stop = 1;
    if (g_cap)
        nr_capture_breakloop(g_cap);
}

struct options {
    std::string ifname, wfile, rfile;
    nr_format wformat = NR_FORMAT_PCAP;
    std::uint64_t limit = 0;
    bool quiet = false, verbose = false;
    netring::capture_config cfg;
};

void print_packet(const netring::packet &p, bool verbose)
{
    std::time_t sec = static_cast<std::time_t>(p.ts_ns() / 1000000000u);
    unsigned nsec = static_cast<unsigned>(p.ts_ns() % 1000000000u);
    std::tm tm{};
    gmtime_r(&sec, &tm);
    netring::bytes_view d = p.data();
    std::printf("%02d:%02d:%02d.%09u len %u cap %u", tm.tm_hour, tm.tm_min, tm.tm_sec, nsec, p.len(), p.caplen());
    if (d.size() >= 14) {
        unsigned et = static_cast<unsigned>(d[12] << 8 | d[13]);
        std::printf(" %02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x ethertype 0x%04x", d[6], d[7],
                    d[8], d[9], d[10], d[11], d[0], d[1], d[2], d[3], d[4], d[5], et);
    }
    if (verbose)
        std::printf(" ifindex %d type %u flags 0x%x", p.ifindex(), p.pkt_type(), p.flags());
    std::putchar('\n');
}

[[noreturn]] void usage()
{
    std::fprintf(stderr,
                 "usage: cppcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]\n"
                 "              [--netns NAME] [-w FILE [-F pcap|pcap-ns|pcapng]]\n"
                 "       cppcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]\n");
    std::exit(2);
}

unsigned long num(const char *s, const char *what)
{
    char *end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(s, &end, 0);
    if (errno || *end || end == s) {
        std::fprintf(stderr, "cppcap: bad %s '%s'\n", what, s);
        std::exit(2);
    }
    return v;
}

options parse(int argc, char **argv)
{
    static const struct option longs[] = {{"netns", required_argument, nullptr, 1001}, {nullptr, 0, nullptr, 0}};
    options o;
    int opt;
    while ((opt = getopt_long(argc, argv, "i:c:s:B:n:pqvw:F:r:h", longs, nullptr)) != -1) {
        switch (opt) {
        case 'i': o.ifname = optarg; break;
        case 'c': o.limit = num(optarg, "count"); break;
        case 's': o.cfg.snaplen = static_cast<std::uint32_t>(num(optarg, "snaplen")); break;
        case 'B': o.cfg.block_size = static_cast<std::uint32_t>(num(optarg, "block size") * 1024u); break;
        case 'n': o.cfg.block_count = static_cast<std::uint32_t>(num(optarg, "block count")); break;
        case 'p': o.cfg.promiscuous = false; break;
        case 'q': o.quiet = true; break;
        case 'v': o.verbose = true; break;
        case 'w': o.wfile = optarg; break;
        case 'r': o.rfile = optarg; break;
        case 1001: o.cfg.netns = optarg; break;
        case 'F':
            if (!std::strcmp(optarg, "pcap"))
                o.wformat = NR_FORMAT_PCAP;
            else if (!std::strcmp(optarg, "pcap-ns"))
                o.wformat = NR_FORMAT_PCAP_NS;
            else if (!std::strcmp(optarg, "pcapng"))
                o.wformat = NR_FORMAT_PCAPNG;
            else
                usage();
            break;
        default: usage();
        }
    }
    if (o.ifname.empty() == o.rfile.empty())
        usage();
    return o;
}

struct counter {
    const options &o;
    netring::writer *w;
    std::uint64_t packets = 0;
    // Count (and print) the batch's packets; with -c and -w each packet is
    // written alone so the file holds exactly COUNT. True once the limit is reached.
    bool take(netring::batch &b)
    {
        if (w && *w && !o.limit)
            w->write(b);
        // The callback walk, as nrcap does (range-for works too: see the tests).
        return b.for_each([this](const netring::packet &p) {
            ++packets;
            if (w && *w && o.limit)
                w->write(p);
            if (!o.quiet)
                print_packet(p, o.verbose);
            return !(o.limit && packets >= o.limit);
        }) == netring::status::stopped;
    }
};

int run(const options &o)
{
    netring::writer w;
    if (!o.wfile.empty()) {
        netring::writer_config wc;
        wc.snaplen = o.cfg.snaplen;
        if (!o.ifname.empty())
            wc.if_name = o.ifname.c_str();
        w = netring::writer::open(o.wfile, o.wformat, wc);
    }
    counter c{o, &w};
    if (!o.rfile.empty()) {
        netring::reader r = netring::reader::open(o.rfile);
        netring::batch b;
        while (!g_stop && r.next_batch(b) == netring::status::ok)
            if (c.take(b))
                break;
        b.release();
        if (w)
            w.close();
        std::fflush(stdout);
        std::fprintf(stderr, "RESULT packets=%" PRIu64 " drops=0\n", c.packets);
        return 0;
    }

    netring::capture cap = netring::capture::open(o.ifname, o.cfg);
    g_cap = cap.get();
    nr_capture_info ci = cap.info();
    if (ci.warning)
        std::fprintf(stderr, "cppcap: warning: %s\n", ci.warning);
    if (!o.quiet)
        std::fprintf(stderr, "cppcap: capturing on %s, ring %u x %u KiB\n", o.ifname.c_str(), ci.ring.block_count,
                     ci.ring.block_size / 1024);
    netring::batch b;
    for (;;) {
        netring::status s = cap.next_batch(b, std::chrono::milliseconds(1000));
        if (s == netring::status::ok) {
            bool done = c.take(b);
            b.release();
            if (done)
                break;
        } else if (s == netring::status::break_requested) {
            break;
        } else if (w) {
            w.flush(); // quiet moment: make the file complete
        }
    }
    std::fflush(stdout);
    nr_capture_stats total = cap.stats();
    g_cap = nullptr;
    cap.close();
    if (w) {
        w.set_stats(total.packets + total.drops, total.drops);
        w.close();
    }
    std::fprintf(stderr, "RESULT packets=%" PRIu64 " drops=%" PRIu64 "\n", c.packets, total.drops);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    options o = parse(argc, argv);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    try {
        return run(o);
    } catch (const netring::error &e) {
        std::fprintf(stderr, "cppcap: %s\n", e.what());
        return 1;
    }
}
