/*
 * nrcap — a small tcpdump-like capture tool on netring's C API.
 *
 *   nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
 *         [-w FILE [-F pcap|pcap-ns|pcapng] [-C MB] [-W FILES]]
 *   nrcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]      (read a capture file)
 *
 * -w writes what is captured (or read) to a capture file: whole batches go
 * straight from ring memory into one large buffer, no syscall per packet.
 * -C rotates after MB megabytes (10^6 bytes), -W keeps at most FILES files
 * (tcpdump's naming). With -r the packets come from a pcap/pcapng file
 * through the same batch API, and the RESULT line reports drops=0.
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
static volatile sig_atomic_t g_stop; /* for -r: no breakloop on a reader */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_cap)
        nr_capture_breakloop(g_cap);
}

struct state {
    uint64_t packets;
    uint64_t limit; /* 0 = no limit */
    int quiet;
    int verbose;
    nr_writer *writer; /* -w */
    int write_each;    /* write per packet (exact -c with -w) instead of per batch */
    int write_failed;
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
    if (st->write_each && !st->write_failed && nr_writer_write_packet(st->writer, p) != NR_OK) {
        fprintf(stderr, "nrcap: write: %s\n", nr_last_error());
        st->write_failed = 1;
    }
    if (!st->quiet)
        print_packet(p, st->verbose);
    return st->limit && st->packets >= st->limit; /* non-zero stops */
}

static void usage(void)
{
    fprintf(stderr, "usage: nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]\n"
                    "             [-w FILE [-F pcap|pcap-ns|pcapng] [-C MB] [-W FILES]]\n"
                    "       nrcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]\n"
                    "  -c COUNT     stop after COUNT packets\n"
                    "  -s SNAPLEN   bytes to capture per packet\n"
                    "  -B KIB       ring block size in KiB (power of two)\n"
                    "  -n BLOCKS    number of ring blocks\n"
                    "  -p           do not put the interface in promiscuous mode\n"
                    "  -q           quiet: no line per packet\n"
                    "  -v           verbose per-packet lines\n"
                    "  -w FILE      write packets to a capture file\n"
                    "  -F FORMAT    pcap (default), pcap-ns or pcapng\n"
                    "  -C MB        rotate after MB megabytes; -W FILES keeps at most FILES files\n"
                    "  -r FILE      read packets from a pcap or pcapng file\n");
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

/* -r: packets from a capture file through the same batch API. */
static int read_file(const char *path, struct state *st)
{
    nr_reader *r = NULL;
    int status = 0;
    if (nr_reader_open(path, &r) != NR_OK) {
        fprintf(stderr, "nrcap: %s\n", nr_last_error());
        nr_writer_close(st->writer);
        return 1;
    }
    while (!g_stop) {
        nr_batch *b;
        int rc = nr_reader_next_batch(r, &b);
        if (rc == NR_EOF)
            break;
        if (rc != NR_OK) {
            fprintf(stderr, "nrcap: %s (%s)\n", nr_last_error(), nr_strerror(rc));
            status = 1;
            break;
        }
        if (st->writer && !st->write_each && !st->write_failed && nr_writer_write_batch(st->writer, b) != NR_OK) {
            fprintf(stderr, "nrcap: write: %s\n", nr_last_error());
            st->write_failed = 1;
        }
        rc = nr_batch_for_each(b, on_packet, st);
        nr_batch_release(b);
        if (rc == NR_STOPPED)
            break;
    }
    nr_reader_close(r);
    if (!st->quiet)
        fflush(stdout);
    if (st->writer && nr_writer_close(st->writer) != NR_OK) {
        fprintf(stderr, "nrcap: %s\n", nr_last_error());
        status = 1;
    }
    if (st->write_failed)
        status = 1;
    fprintf(stderr, "RESULT packets=%" PRIu64 " drops=0\n", st->packets);
    return status;
}

int main(int argc, char **argv)
{
    const char *ifname = NULL, *wfile = NULL, *rfile = NULL;
    int wformat = NR_FORMAT_PCAP;
    unsigned long rotate_mb = 0, rotate_files = 0;
    struct state st = {0};
    nr_capture_config cfg;
    NR_CAPTURE_CONFIG_INIT(&cfg);

    int opt;
    while ((opt = getopt(argc, argv, "i:c:s:B:n:pqvw:F:C:W:r:h")) != -1) {
        switch (opt) {
        case 'i': ifname = optarg; break;
        case 'c': st.limit = parse_num(optarg, "count"); break;
        case 's': cfg.snaplen = (uint32_t)parse_num(optarg, "snaplen"); break;
        case 'B': cfg.block_size = (uint32_t)(parse_num(optarg, "block size") * 1024u); break;
        case 'n': cfg.block_count = (uint32_t)parse_num(optarg, "block count"); break;
        case 'p': cfg.promiscuous = false; break;
        case 'q': st.quiet = 1; break;
        case 'v': st.verbose = 1; break;
        case 'w': wfile = optarg; break;
        case 'r': rfile = optarg; break;
        case 'C': rotate_mb = parse_num(optarg, "file size"); break;
        case 'W': rotate_files = parse_num(optarg, "file count"); break;
        case 'F':
            if (strcmp(optarg, "pcap") == 0)
                wformat = NR_FORMAT_PCAP;
            else if (strcmp(optarg, "pcap-ns") == 0)
                wformat = NR_FORMAT_PCAP_NS;
            else if (strcmp(optarg, "pcapng") == 0)
                wformat = NR_FORMAT_PCAPNG;
            else {
                fprintf(stderr, "nrcap: unknown format '%s' (pcap, pcap-ns, pcapng)\n", optarg);
                return 2;
            }
            break;
        default: usage(); return 2;
        }
    }
    if (!ifname == !rfile) {
        usage();
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (wfile) {
        nr_writer_config wc;
        NR_WRITER_CONFIG_INIT(&wc);
        wc.snaplen = cfg.snaplen;
        wc.rotate_bytes = (uint64_t)rotate_mb * 1000000u;
        wc.rotate_files = (uint32_t)rotate_files;
        wc.if_name = ifname;
        if (nr_writer_open(wfile, wformat, &wc, &st.writer) != NR_OK) {
            fprintf(stderr, "nrcap: %s\n", nr_last_error());
            return 1;
        }
        st.write_each = st.limit != 0;
    }
    if (rfile)
        return read_file(rfile, &st);

    int rc = nr_capture_open(ifname, &cfg, &g_cap);
    if (rc != NR_OK) {
        fprintf(stderr, "nrcap: %s (%s)\n", nr_last_error(), nr_strerror(rc));
        nr_writer_close(st.writer);
        return 1;
    }

    nr_ring_info ri;
    if (!st.quiet && nr_capture_ring_info(g_cap, &ri) == NR_OK)
        fprintf(stderr, "nrcap: capturing on %s, ring %u x %u KiB%s\n", ifname, ri.block_count, ri.block_size / 1024,
                ri.locked ? " (locked)" : "");

    int status = 0;
    for (;;) {
        nr_batch *b;
        rc = nr_next_batch(g_cap, 1000, &b);
        if (rc == NR_OK) {
            if (st.writer && !st.write_each && !st.write_failed && nr_writer_write_batch(st.writer, b) != NR_OK) {
                fprintf(stderr, "nrcap: write: %s\n", nr_last_error());
                st.write_failed = 1;
            }
            rc = nr_batch_for_each(b, on_packet, &st);
            if (rc < 0)
                fprintf(stderr, "nrcap: %s\n", nr_last_error());
            nr_batch_release(b);
            if (rc == NR_STOPPED)
                break;
            continue;
        }
        if (rc == NR_TIMEOUT || rc == NR_IFACE_DOWN) {
            if (st.writer)
                nr_writer_flush(st.writer); /* quiet moments: make the file complete */
            continue;
        }
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
    if (st.writer) {
        nr_writer_set_stats(st.writer, total.packets + total.drops, total.drops);
        if (nr_writer_close(st.writer) != NR_OK) {
            fprintf(stderr, "nrcap: closing %s: %s\n", wfile, nr_last_error());
            status = 1;
        }
    }
    if (st.write_failed)
        status = 1;
    fprintf(stderr, "RESULT packets=%" PRIu64 " drops=%" PRIu64 "\n", st.packets, total.drops);
    return status;
}
