// Capture COUNT packets (default 5) on IFACE with netring.hpp, print each
// one's length and first bytes, then the capture's stats.
//
//   capture IFACE [COUNT]
#include <netring.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: capture IFACE [COUNT]\n");
        return 2;
    }
    const unsigned long count = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 5;
    try {
        netring::capture_config cfg; // the library's defaults; change what you need
        cfg.snaplen = 256;
        netring::capture cap = netring::capture::open(argv[1], cfg); // throws netring::error
        netring::batch b;                                            // releases itself
        unsigned long seen = 0;
        while (seen < count) {
            netring::status st = cap.next_batch(b, std::chrono::milliseconds(1000));
            if (st == netring::status::break_requested) // cap.breakloop() from another thread
                break;
            // status::timeout / iface_down: b is empty, wait again
            for (const netring::packet &p : b) { // p.data(): the bytes in the ring (zero copy)
                std::printf("%u bytes:", p.len());
                netring::bytes_view d = p.data();
                for (std::size_t i = 0; i < std::min<std::size_t>(d.size(), 16); i++)
                    std::printf(" %02x", d[i]);
                std::printf("\n");
                if (++seen == count)
                    break;
            }
        }
        nr_capture_stats total = cap.stats();
        std::printf("stats: packets=%llu drops=%llu\n", static_cast<unsigned long long>(total.packets),
                    static_cast<unsigned long long>(total.drops));
    } catch (const netring::error &e) {
        std::fflush(stdout);
        std::fprintf(stderr, "capture: %s\n", e.what()); // the library's sentence
        return 1;
    }
    return 0;
}
