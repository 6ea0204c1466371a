/*
 * nrcap — a small tcpdump-like capture tool on netring's C API.
 *
 *   nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
 *
 * One line per packet (time, lengths, a short Ethernet/IP summary) unless -q.
 * Stops after COUNT packets or on SIGINT/SIGTERM (through
 * nr_capture_breakloop, which is async-signal-safe). At exit it prints on
 * stderr exactly one line:
 *
 *   RESULT packets=<packets handed to the callback> drops=<lifetime kernel drops>
 */
#define _GNU_SOURCE
#include <netring.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static nr_capture *g_cap;

static void on_signal(int sig)
{
    (void)sig;
    if (g_cap)
        nr_capture_breakloop(g_cap);
}

struct state {
    uint64_t packets;
    uint64_t limit; /* 0 = no limit */
    int quiet;
    int verbose;
};

static void print_packet(const nr_packet *p, int verbose)
{
    time_t sec = (time_t)(p->ts_ns / 1000000000u);
    unsigned nsec = (unsigned)(p->ts_ns % 1000000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    const uint8_t *d = p->data;
    printf("%02d:%02d:%02d.%09u len %u cap %u", tm.tm_hour, tm.tm_min, tm.tm_sec, nsec, p->len, p->caplen);
    if (p->caplen >= 14) {
        uint16_t et = (uint16_t)(d[12] << 8 | d[13]);
        printf(" %02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x", d[6], d[7], d[8], d[9], d[10],
               d[11], d[0], d[1], d[2], d[3], d[4], d[5]);
        if (et == 0x0800 && p->caplen >= 34) {
            const uint8_t *ip = d + 14;
            printf(" IPv4 %u.%u.%u.%u > %u.%u.%u.%u proto %u", ip[12], ip[13], ip[14], ip[15], ip[16], ip[17],
                   ip[18], ip[19], ip[9]);
            unsigned ihl = (ip[0] & 0x0fu) * 4u;
            if ((ip[9] == 6 || ip[9] == 17) && p->caplen >= 14 + ihl + 4) {
                const uint8_t *l4 = ip + ihl;
                printf(" %u > %u", (unsigned)(l4[0] << 8 | l4[1]), (unsigned)(l4[2] << 8 | l4[3]));
            }
        } else if (et == 0x86dd) {
            printf(" IPv6");
        } else if (et == 0x0806) {
            printf(" ARP");
        } else {
            printf(" ethertype 0x%04x", et);
        }
    }
    if (p->flags & NR_PKT_VLAN_VALID)
        printf(" vlan %u", p->vlan_tci & 0x0fffu);
    if (verbose)
        printf(" ifindex %d type %u flags 0x%x", p->ifindex, p->pkt_type, p->flags);
    putchar('\n');
}

static int on_packet(void *user, const nr_packet *p)
{
    struct state *st = user;
    st->packets++;
    if (!st->quiet)
        print_packet(p, st->verbose);
    return st->limit && st->packets >= st->limit; /* non-zero stops */
}

static void usage(void)
{
    fprintf(stderr, "usage: nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]\n"
                    "  -c COUNT     stop after COUNT packets\n"
                    "  -s SNAPLEN   bytes to capture per packet\n"
                    "  -B KIB       ring block size in KiB (power of two)\n"
                    "  -n BLOCKS    number of ring blocks\n"
                    "  -p           do not put the interface in promiscuous mode\n"
                    "  -q           quiet: no line per packet\n"
                    "  -v           verbose per-packet lines\n");
}

static unsigned long parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || end == s) {
        fprintf(stderr, "nrcap: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *ifname = NULL;
    struct state st = {0};
    nr_capture_config cfg;
    NR_CAPTURE_CONFIG_INIT(&cfg);

    int opt;
    while ((opt = getopt(argc, argv, "i:c:s:B:n:pqvh")) != -1) {
        switch (opt) {
        case 'i': ifname = optarg; break;
        case 'c': st.limit = parse_num(optarg, "count"); break;
        case 's': cfg.snaplen = (uint32_t)parse_num(optarg, "snaplen"); break;
        case 'B': cfg.block_size = (uint32_t)(parse_num(optarg, "block size") * 1024u); break;
        case 'n': cfg.block_count = (uint32_t)parse_num(optarg, "block count"); break;
        case 'p': cfg.promiscuous = false; break;
        case 'q': st.quiet = 1; break;
        case 'v': st.verbose = 1; break;
        default: usage(); return 2;
        }
    }
    if (!ifname) {
        usage();
        return 2;
    }

    int rc = nr_capture_open(ifname, &cfg, &g_cap);
    if (rc != NR_OK) {
        fprintf(stderr, "nrcap: %s (%s)\n", nr_last_error(), nr_strerror(rc));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    nr_ring_info ri;
    if (!st.quiet && nr_capture_ring_info(g_cap, &ri) == NR_OK)
        fprintf(stderr, "nrcap: capturing on %s, ring %u x %u KiB%s\n", ifname, ri.block_count, ri.block_size / 1024,
                ri.locked ? " (locked)" : "");

    int status = 0;
    for (;;) {
        nr_batch *b;
        rc = nr_next_batch(g_cap, 1000, &b);
        if (rc == NR_OK) {
            rc = nr_batch_for_each(b, on_packet, &st);
            if (rc < 0)
                fprintf(stderr, "nrcap: %s\n", nr_last_error());
            nr_batch_release(b);
            if (rc == NR_STOPPED)
                break;
            continue;
        }
        if (rc == NR_TIMEOUT || rc == NR_IFACE_DOWN)
            continue;
        if (rc == NR_BREAK)
            break;
        fprintf(stderr, "nrcap: %s (%s)\n", nr_last_error(), nr_strerror(rc));
        status = 1;
        break;
    }
    if (!st.quiet)
        fflush(stdout);

    nr_stats total;
    memset(&total, 0, sizeof total);
    if (nr_capture_stats(g_cap, &total, NULL) != NR_OK)
        fprintf(stderr, "nrcap: stats: %s\n", nr_last_error());
    nr_capture *cap = g_cap;
    g_cap = NULL;
    nr_capture_close(cap);
    fprintf(stderr, "RESULT packets=%" PRIu64 " drops=%" PRIu64 "\n", st.packets, total.drops);
    return status;
}
