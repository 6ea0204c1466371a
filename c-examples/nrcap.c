/*
 * nrcap — a small tcpdump-like capture tool on netring's C API.
 *
 *   nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
 *         [--bpf FILE] [--netns NAME] [--direction in|out|inout] [--tstamp soft|hw]
 *         [--profile NAME] [--fanout MODE:GROUP]
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

/* ---- capture options (issue 5): --bpf, --netns, --direction, --tstamp,
 * --profile, --fanout. Kept in one block so other option sets can be added
 * next to it. ---- */
static nr_bpf_insn g_bpf[4096];

/* Read the text `tcpdump -ddd` prints: the count, then "code jt jf k" lines. */
static size_t load_bpf(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "nrcap: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    unsigned long n = 0;
    if (fscanf(f, "%lu", &n) != 1 || n == 0 || n > 4096) {
        fprintf(stderr, "nrcap: %s: first line must be the instruction count (1..4096)\n", path);
        exit(2);
    }
    for (unsigned long i = 0; i < n; i++) {
        unsigned code, jt, jf;
        unsigned long k;
        if (fscanf(f, "%u %u %u %lu", &code, &jt, &jf, &k) != 4 || code > 0xffff || jt > 255 || jf > 255 ||
            k > 0xffffffffUL) {
            fprintf(stderr, "nrcap: %s: instruction %lu is not 'code jt jf k'\n", path, i + 1);
            exit(2);
        }
        g_bpf[i].code = (uint16_t)code;
        g_bpf[i].jt = (uint8_t)jt;
        g_bpf[i].jf = (uint8_t)jf;
        g_bpf[i].k = (uint32_t)k;
    }
    fclose(f);
    return (size_t)n;
}

static uint8_t fanout_mode_of(const char *m)
{
    static const struct { const char *name; uint8_t mode; } modes[] = {
        {"hash", NR_FANOUT_HASH},     {"lb", NR_FANOUT_LB},         {"cpu", NR_FANOUT_CPU},
        {"rollover", NR_FANOUT_ROLLOVER}, {"random", NR_FANOUT_RANDOM}, {"qm", NR_FANOUT_QM},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(m, modes[i].name) == 0)
            return modes[i].mode;
    fprintf(stderr, "nrcap: unknown fanout mode '%s' (hash, lb, cpu, rollover, random, qm)\n", m);
    exit(2);
}

/* Apply one long option; returns 0 if `opt` is not one of them. */
static int capture_option(int opt, const char *arg, nr_capture_config *cfg)
{
    switch (opt) {
    case 1000:
        cfg->filter_len = load_bpf(arg);
        cfg->filter = g_bpf;
        return 1;
    case 1001:
        cfg->netns = arg;
        return 1;
    case 1002:
        if (strcmp(arg, "in") == 0)
            cfg->direction = NR_DIRECTION_IN;
        else if (strcmp(arg, "out") == 0)
            cfg->direction = NR_DIRECTION_OUT;
        else if (strcmp(arg, "inout") == 0)
            cfg->direction = NR_DIRECTION_INOUT;
        else {
            fprintf(stderr, "nrcap: --direction in|out|inout\n");
            exit(2);
        }
        return 1;
    case 1003:
        if (strcmp(arg, "soft") == 0)
            cfg->tstamp = NR_TSTAMP_SOFTWARE;
        else if (strcmp(arg, "hw") == 0)
            cfg->tstamp = NR_TSTAMP_HW_RAW;
        else {
            fprintf(stderr, "nrcap: --tstamp soft|hw\n");
            exit(2);
        }
        return 1;
    case 1004: {
        static const struct { const char *name; int p; } profiles[] = {
            {"default", NR_PROFILE_DEFAULT}, {"high-throughput", NR_PROFILE_HIGH_THROUGHPUT},
            {"low-latency", NR_PROFILE_LOW_LATENCY}, {"memory-constrained", NR_PROFILE_MEMORY_CONSTRAINED},
            {"jumbo", NR_PROFILE_JUMBO},
        };
        for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
            if (strcmp(arg, profiles[i].name) == 0) {
                nr_capture_config_profile(cfg, profiles[i].p);
                return 1;
            }
        fprintf(stderr, "nrcap: --profile default|high-throughput|low-latency|memory-constrained|jumbo\n");
        exit(2);
    }
    case 1005: {
        char mode[32];
        const char *colon = strchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= sizeof mode) {
            fprintf(stderr, "nrcap: --fanout MODE:GROUP\n");
            exit(2);
        }
        memcpy(mode, arg, (size_t)(colon - arg));
        mode[colon - arg] = 0;
        cfg->fanout_mode = fanout_mode_of(mode);
        char *end;
        unsigned long g = strtoul(colon + 1, &end, 0);
        if (*end || g > 65535) {
            fprintf(stderr, "nrcap: bad fanout group '%s'\n", colon + 1);
            exit(2);
        }
        cfg->fanout_group = (uint16_t)g;
        return 1;
    }
    }
    return 0;
}

static const struct option long_options[] = {
    {"bpf", required_argument, NULL, 1000},     {"netns", required_argument, NULL, 1001},
    {"direction", required_argument, NULL, 1002}, {"tstamp", required_argument, NULL, 1003},
    {"profile", required_argument, NULL, 1004}, {"fanout", required_argument, NULL, 1005},
    {NULL, 0, NULL, 0},
};
/* ---- end of capture options ---- */

static void usage(void)
{
    fprintf(stderr, "usage: nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]\n"
                    "             [-w FILE [-F pcap|pcap-ns|pcapng] [-C MB] [-W FILES]] [EXPRESSION]\n"
                    "       nrcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]\n"
                    "  -c COUNT     stop after COUNT packets\n"
                    "  -s SNAPLEN   bytes to capture per packet\n"
                    "  -B KIB       ring block size in KiB (power of two)\n"
                    "  -n BLOCKS    number of ring blocks\n"
                    "  -p           do not put the interface in promiscuous mode\n"
                    "  -q           quiet: no line per packet\n"
                    "  -v           verbose per-packet lines\n"
                    "  --bpf FILE   classic BPF filter, text as `tcpdump -ddd` prints it\n"
                    "  --netns NAME capture in network namespace NAME (/run/netns/NAME)\n"
                    "  --direction in|out|inout\n"
                    "  --tstamp soft|hw   timestamp source (hw falls back to soft, with a warning)\n"
                    "  --profile NAME     default|high-throughput|low-latency|memory-constrained|jumbo\n"
                    "                     (give it before -B/-n to override its geometry)\n"
                    "  --fanout MODE:GROUP  join fanout group (hash, lb, cpu, rollover, random, qm)\n"
                    "  -w FILE      write packets to a capture file\n"
                    "  -F FORMAT    pcap (default), pcap-ns or pcapng\n"
                    "  -C MB        rotate after MB megabytes; -W FILES keeps at most FILES files\n"
                    "  -r FILE      read packets from a pcap or pcapng file\n"
                    "  EXPRESSION   filter in tcpdump's syntax (\"tcp port 80\"), compiled by the\n"
                    "               system's libpcap (package libpcap0.8)\n");
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
    while ((opt = getopt_long(argc, argv, "i:c:s:B:n:pqvw:F:C:W:r:h", long_options, NULL)) != -1) {
        if (capture_option(opt, optarg, &cfg))
            continue;
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
    if (optind < argc) {
        /* A trailing filter expression, as tcpdump takes it, compiled by the
         * system's libpcap for a live capture on the interface (for Ethernet
         * when the capture is in another namespace). */
        if (!ifname) {
            fprintf(stderr, "nrcap: a filter expression needs -i (live capture)\n");
            return 2;
        }
        if (cfg.filter) {
            fprintf(stderr, "nrcap: give either --bpf FILE or a filter expression, not both\n");
            return 2;
        }
        size_t total = 1;
        for (int i = optind; i < argc; i++)
            total += strlen(argv[i]) + 1;
        char *expr = calloc(1, total);
        if (!expr)
            return 1;
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                strcat(expr, " ");
            strcat(expr, argv[i]);
        }
        size_t n = 0;
        int frc = nr_bpf_compile(cfg.netns ? NULL : ifname, expr, cfg.snaplen, g_bpf,
                                 sizeof g_bpf / sizeof g_bpf[0], &n);
        free(expr);
        if (frc != NR_OK) {
            fprintf(stderr, "nrcap: %s (%s)\n", nr_last_error(), nr_strerror(frc));
            return 2;
        }
        cfg.filter = g_bpf;
        cfg.filter_len = n;
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

    nr_capture_info ci;
    if (nr_capture_get_info(g_cap, &ci, sizeof ci) == NR_OK && ci.warning)
        fprintf(stderr, "nrcap: warning: %s\n", ci.warning);

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
