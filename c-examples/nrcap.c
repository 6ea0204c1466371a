/*
 * nrcap — a small tcpdump-like capture tool on netring's C API.
 *
 *   nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
 *         [--bpf FILE] [--netns NAME] [--direction in|out|inout] [--tstamp soft|hw]
 *         [--profile NAME] [--fanout MODE:GROUP] [--immediate [--busy-poll US]] [--latency]
 *         [-w FILE [-F pcap|pcap-ns|pcapng] [-C MB] [-W FILES]]
 *   nrcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]      (read a capture file)
 *   nrcap (-i IFACE | -r FILE) -F arrow|parquet [--records packets|flows] -w OUT
 *         [-C MB] [-G SECS] [--ipfix HOST:PORT] ...           (records out: runs nrexport)
 *
 * Records out: -F arrow|parquet, --records, --ipfix (and nrexport's other
 * options -G, --ipfix-rate, --idle, --active, --max-flows) are nrexport's
 * job (export/, the netring-export crate, which links the Apache Arrow
 * crates). nrcap translates its options and execs nrexport, so that
 * libnetring.so stays free of the Arrow crates: $NETRING_NREXPORT if set,
 * else nrexport next to nrcap's own executable (make export installs it into
 * build/bin), else from $PATH; none: a message and exit status 2. An
 * option nrexport has no equivalent for (-v, -W, --bpf, a filter
 * expression, ...) is refused (exit 2). nrexport prints its own summary
 * line instead of RESULT.
 *
 * -w writes what is captured (or read) to a capture file: whole batches go
 * straight from ring memory into one large buffer, no syscall per packet.
 * -C rotates after MB megabytes (10^6 bytes), -W keeps at most FILES files
 * (tcpdump's naming). With -r the packets come from a pcap/pcapng file
 * through the same batch API, and the RESULT line reports drops=0.
 *
 * --immediate hands each frame over as soon as the kernel wrote it (the
 * TPACKET_V2 frame ring, as libpcap's immediate mode) instead of when its
 * ring block is full or timed out; with --busy-poll US each wait spins on the
 * ring for up to US microseconds before it sleeps (no wake-up while frames
 * keep coming within US; a core spins meanwhile). --latency measures, per
 * packet, the time
 * from its time stamp to the callback, and prints at exit on stderr
 *
 *   LATENCY n=<packets> p50_us=<median> p99_us=<99th percentile> max_us=<max>
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

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    nr_packet_cb inner; /* --latency: the callback after the measurement */
};

/* What the command line asked for (parse_options(), at the end). */
struct options {
    const char *ifname, *wfile, *rfile;
    int wformat;
    unsigned long rotate_mb, rotate_files;
    uint64_t limit;
    int quiet, verbose, direct, latency;
    nr_capture_config cfg;
    /* Records out: nrexport's arguments (xargv[0..xargc-1]), whether an
     * option asked for them, the first option nrexport has no equivalent for. */
    const char **xargv;
    int xargc, records_out;
    const char *refused;
};
static void parse_options(int argc, char **argv, struct options *o);

/* -v: a second line with what nr_packet_parse() found, as key=value pairs. */
static void print_layers(const nr_packet *p)
{
    static const char *const status[] = {"complete", "truncated", "malformed"};
    static const char *const layer[] = {"none", "link", "network", "transport", "payload"};
    static const char *const l3[] = {"none", "ipv4", "ipv6", "arp"};
    static const char *const l4[] = {"none", "tcp", "udp", "icmp", "icmpv6", "sctp"};
    nr_layers l;
    l.size = sizeof l;
    if (nr_packet_parse(p, &l) != NR_OK) {
        printf("  parse: error %s\n", nr_last_error());
        return;
    }
    printf("  parse: status=%s", l.status <= 2 ? status[l.status] : "?");
    if (l.status != NR_PARSE_COMPLETE)
        printf(" at=%s", l.stop_layer <= 4 ? layer[l.stop_layer] : "?");
    printf(" ethertype=0x%04x", l.ethertype);
    for (unsigned i = 0; i < l.vlan_count && i < 2; i++)
        printf(" vlan%u=0x%04x/%u%s", i, l.vlan_tpid[i], l.vlan_tci[i] & 0x0fffu,
               i == 0 && l.vlan_from_metadata ? "(meta)" : "");
    printf(" link=0+%u", l.link_len);
    if (l.l3 != NR_L3_NONE) {
        char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
        int af = l.l3 == NR_L3_IPV6 ? AF_INET6 : AF_INET;
        inet_ntop(af, l.src_addr, src, sizeof src);
        inet_ntop(af, l.dst_addr, dst, sizeof dst);
        printf(" l3=%s net=%u+%u src=%s dst=%s", l.l3 <= 3 ? l3[l.l3] : "?", l.net_off, l.net_len, src, dst);
        if (l.l3 == NR_L3_ARP)
            printf(" op=%u", l.arp_op);
        else
            printf(" proto=%u ttl=%u iplen=%u", l.ip_proto, l.ttl, l.ip_len);
        if (l.frag_flags)
            printf(" frag=%s%s%s off=%u id=0x%x", l.frag_flags & NR_FRAG_FLAG_DF ? "DF" : "",
                   l.frag_flags & NR_FRAG_FLAG_MF ? "MF" : "", l.frag_flags & NR_FRAG_FLAG_FRAGMENT ? ",fragment" : "",
                   l.frag_offset, l.frag_id);
    }
    if (l.l4 == NR_L4_OTHER)
        printf(" l4=other");
    else if (l.l4 != NR_L4_NONE)
        printf(" l4=%s transport=%u+%u", l.l4 <= 5 ? l4[l.l4] : "?", l.transport_off, l.transport_len);
    if (l.l4 == NR_L4_TCP || l.l4 == NR_L4_UDP || l.l4 == NR_L4_SCTP)
        printf(" sport=%u dport=%u", l.src_port, l.dst_port);
    if (l.l4 == NR_L4_TCP)
        printf(" tcpflags=0x%02x", l.tcp_flags);
    printf(" payload=%u+%u\n", l.payload_off, l.payload_len);
}

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
    if (p->flags & NR_PACKET_FLAG_VLAN_VALID)
        printf(" vlan %u", p->vlan_tci & 0x0fffu);
    if (verbose)
        printf(" ifindex %d type %u flags 0x%x", p->ifindex, p->pkt_type, p->flags);
    putchar('\n');
    if (verbose)
        print_layers(p);
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

/* -q without -c or a per-packet writer: the callback only counts. */
static int count_packet(void *user, const nr_packet *p)
{
    (void)p;
    ((struct state *)user)->packets++;
    return 0;
}

/* -q without -w or -c: count the batch's packets with the inline iterator
 * (no call per packet; the fastest way to walk a batch). */
static int count_batch(nr_batch *b, struct state *st)
{
    nr_iter it = nr_batch_iter(b);
    nr_packet p;
    int rc;
    uint64_t n = 0;
    while ((rc = nr_iter_next(&it, &p)) == NR_OK)
        n++;
    st->packets += n;
    return rc == NR_EOF ? NR_OK : rc;
}

/* --latency: microseconds from each packet's time stamp to its callback
 * (the first LAT_MAX packets; stored in tenths of a microsecond). */
#define LAT_MAX (1u << 22)
static uint32_t *g_lat;
static uint64_t g_nlat;

static int latency_packet(void *user, const nr_packet *p)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    uint64_t d = t > p->ts_ns ? (t - p->ts_ns) / 100u : 0;
    if (g_nlat < LAT_MAX)
        g_lat[g_nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    struct state *st = user;
    return st->inner(user, p);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void print_latency(void)
{
    if (!g_nlat) {
        fprintf(stderr, "LATENCY n=0\n");
        return;
    }
    qsort(g_lat, g_nlat, sizeof g_lat[0], cmp_u32);
    fprintf(stderr, "LATENCY n=%" PRIu64 " p50_us=%.1f p99_us=%.1f max_us=%.1f\n", g_nlat,
            g_lat[(g_nlat - 1) * 50 / 100] / 10.0, g_lat[(g_nlat - 1) * 99 / 100] / 10.0,
            g_lat[g_nlat - 1] / 10.0);
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
    struct options o;
    parse_options(argc, argv, &o); /* option parsing: at the end of this file */
    struct state st = {0};
    st.quiet = o.quiet;
    st.verbose = o.verbose;
    st.limit = o.limit;
    nr_capture_config cfg = o.cfg;
    const char *ifname = o.ifname, *wfile = o.wfile;

    struct sigaction sa = {.sa_handler = on_signal}; /* empty mask, no flags */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (wfile) {
        nr_writer_config wc;
        NR_WRITER_CONFIG_INIT(&wc);
        wc.snaplen = cfg.snaplen;
        wc.rotate_bytes = (uint64_t)o.rotate_mb * 1000000u;
        wc.rotate_files = (uint32_t)o.rotate_files;
        wc.if_name = ifname;
        wc.direct = o.direct != 0;
        if (nr_writer_open(wfile, o.wformat, &wc, &st.writer) != NR_OK) {
            fprintf(stderr, "nrcap: %s\n", nr_last_error());
            return 1;
        }
        st.write_each = st.limit != 0;
    }
    if (o.rfile)
        return read_file(o.rfile, &st);

    int rc = nr_capture_open(ifname, &cfg, &g_cap);
    if (rc != NR_OK) {
        fprintf(stderr, "nrcap: %s (%s)\n", nr_last_error(), nr_strerror(rc));
        nr_writer_close(st.writer);
        return 1;
    }

    nr_capture_info ci;
    if (nr_capture_get_info(g_cap, &ci) == NR_OK) {
        if (ci.warning)
            fprintf(stderr, "nrcap: warning: %s\n", ci.warning);
        if (!st.quiet)
            fprintf(stderr, "nrcap: capturing on %s, ring %u x %u KiB%s\n", ifname, ci.ring.block_count,
                    ci.ring.block_size / 1024, ci.ring.locked ? " (locked)" : "");
    }

    nr_packet_cb cb = st.quiet && !st.write_each && !st.limit ? count_packet : on_packet;
    if (o.latency) {
        g_lat = malloc(LAT_MAX * sizeof g_lat[0]);
        if (!g_lat) {
            fprintf(stderr, "nrcap: --latency: out of memory\n");
            return 1;
        }
        st.inner = cb;
        cb = latency_packet;
    }
    int status = 0;
    for (;;) {
        nr_batch *b;
        rc = nr_next_batch(g_cap, 1000, &b);
        if (rc == NR_OK) {
            if (st.writer && !st.write_each && !st.write_failed && nr_writer_write_batch(st.writer, b) != NR_OK) {
                fprintf(stderr, "nrcap: write: %s\n", nr_last_error());
                st.write_failed = 1;
            }
            rc = cb == count_packet ? count_batch(b, &st) : nr_batch_for_each(b, cb, &st);
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

    nr_capture_stats total;
    memset(&total, 0, sizeof total);
    if (nr_capture_get_stats(g_cap, &total, NULL) != NR_OK)
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
    if (o.latency) {
        print_latency();
        free(g_lat);
    }
    return status;
}

/* ---- option parsing ---------------------------------------------------- */

/* Capture options: --bpf, --netns, --direction, --tstamp, --profile,
 * --fanout. */
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

/* A word of the command line and the value it stands for. */
struct named {
    const char *name;
    int value;
};

/* The value that `arg` names in table[0..n-1]; if none, print the error
 * line `fmt` (a printf format, which may show `arg` with %s) and exit 2. */
static int value_of(const char *arg, const struct named *table, size_t n, const char *fmt)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arg, table[i].name) == 0)
            return table[i].value;
    fprintf(stderr, fmt, arg);
    exit(2);
}
#define VALUE_OF(arg, table, fmt) value_of(arg, table, sizeof table / sizeof table[0], fmt)

static uint8_t fanout_mode_of(const char *m)
{
    static const struct named modes[] = {
        {"hash", NR_FANOUT_HASH},     {"lb", NR_FANOUT_LB},         {"cpu", NR_FANOUT_CPU},
        {"rollover", NR_FANOUT_ROLLOVER}, {"random", NR_FANOUT_RANDOM}, {"qm", NR_FANOUT_QM},
    };
    return (uint8_t)VALUE_OF(m, modes, "nrcap: unknown fanout mode '%s' (hash, lb, cpu, rollover, random, qm)\n");
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
    case 1002: {
        static const struct named dirs[] = {
            {"in", NR_DIRECTION_IN}, {"out", NR_DIRECTION_OUT}, {"inout", NR_DIRECTION_INOUT},
        };
        cfg->direction = VALUE_OF(arg, dirs, "nrcap: --direction in|out|inout\n");
        return 1;
    }
    case 1003: {
        static const struct named tstamps[] = {{"soft", NR_TSTAMP_SOFTWARE}, {"hw", NR_TSTAMP_HW_RAW}};
        cfg->tstamp = VALUE_OF(arg, tstamps, "nrcap: --tstamp soft|hw\n");
        return 1;
    }
    case 1004: {
        static const struct named profiles[] = {
            {"default", NR_PROFILE_DEFAULT}, {"high-throughput", NR_PROFILE_HIGH_THROUGHPUT},
            {"low-latency", NR_PROFILE_LOW_LATENCY}, {"memory-constrained", NR_PROFILE_MEMORY_CONSTRAINED},
            {"jumbo", NR_PROFILE_JUMBO},
        };
        nr_capture_config_apply_profile(
            cfg, VALUE_OF(arg, profiles, "nrcap: --profile default|high-throughput|low-latency|memory-constrained|jumbo\n"));
        return 1;
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
    {"direct", no_argument, NULL, 1006}, {"immediate", no_argument, NULL, 1007},
    {"latency", no_argument, NULL, 1008},    {"busy-poll", required_argument, NULL, 1009},
    /* nrexport's (records out): opt values 1100.. */
    {"records", required_argument, NULL, 1100}, {"ipfix", required_argument, NULL, 1101},
    {"ipfix-rate", required_argument, NULL, 1102}, {"idle", required_argument, NULL, 1103},
    {"active", required_argument, NULL, 1104}, {"max-flows", required_argument, NULL, 1105},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
    fprintf(stderr, "usage: nrcap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]\n"
                    "             [-w FILE [-F pcap|pcap-ns|pcapng] [-C MB] [-W FILES] [--direct]] [EXPRESSION]\n"
                    "       nrcap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]\n"
                    "  -c COUNT     stop after COUNT packets\n"
                    "  -s SNAPLEN   bytes to capture per packet\n"
                    "  -B KIB       ring block size in KiB (power of two)\n"
                    "  -n BLOCKS    number of ring blocks\n"
                    "  -p           do not put the interface in promiscuous mode\n"
                    "  -q           quiet: no line per packet\n"
                    "  -v           verbose per-packet lines, with the headers nr_packet_parse() found\n"
                    "  --bpf FILE   classic BPF filter, text as `tcpdump -ddd` prints it\n"
                    "  --netns NAME capture in network namespace NAME (/run/netns/NAME)\n"
                    "  --direction in|out|inout\n"
                    "  --tstamp soft|hw   timestamp source (hw falls back to soft, with a warning)\n"
                    "  --profile NAME     default|high-throughput|low-latency|memory-constrained|jumbo\n"
                    "                     (give it before -B/-n to override its geometry)\n"
                    "  --fanout MODE:GROUP  join fanout group (hash, lb, cpu, rollover, random, qm)\n"
                    "  --immediate  hand each frame over at once (TPACKET_V2 frame ring, as\n"
                    "               libpcap's immediate mode) instead of per full or timed-out block\n"
                    "  --busy-poll US  with --immediate: spin on the ring up to US microseconds\n"
                    "               before sleeping (latency without a wake-up, a core spins)\n"
                    "  --latency    print at exit the time from each packet's time stamp to its\n"
                    "               callback: LATENCY n= p50_us= p99_us= max_us=\n"
                    "  -w FILE      write packets to a capture file\n"
                    "  -F FORMAT    pcap (default), pcap-ns or pcapng\n"
                    "  -C MB        rotate after MB megabytes; -W FILES keeps at most FILES files\n"
                    "  --direct     write the file with direct I/O (O_DIRECT, double-buffered,\n"
                    "               bypassing the page cache; not on every file system)\n"
                    "  -r FILE      read packets from a pcap or pcapng file\n"
                    "  EXPRESSION   filter in tcpdump's syntax (\"tcp port 80\"), compiled by the\n"
                    "               system's libpcap (package libpcap0.8)\n"
                    "records out (nrcap runs nrexport, so libnetring.so stays free of the Arrow crates):\n"
                    "       nrcap (-i IFACE | -r FILE) -F arrow|parquet [--records packets|flows] -w OUT\n"
                    "             [-C MB] [-G SECS] [--ipfix HOST:PORT [--ipfix-rate MSGS]] [-c COUNT] [-q]\n"
                    "             [--idle SECS] [--active SECS] [--max-flows N] [-s SNAPLEN] [-p] [-B KIB]\n"
                    "             [-n BLOCKS] [--netns NAME]\n"
                    "  -F arrow|parquet  an Arrow IPC stream (-w - is stdout) or Parquet files\n"
                    "  --records packets|flows  one row per packet (default) or per flow\n"
                    "  -G SECS      a new file every SECS seconds of record time (-C: by size)\n"
                    "  --ipfix HOST:PORT  flow records to an IPFIX collector over UDP\n"
                    "  -q           no progress line (a file conversion prints one a second)\n"
                    "  nrexport is $NETRING_NREXPORT, else next to nrcap, else in $PATH\n"
                    "  (`make export` builds it into build/bin); see export/README.md\n");
}

/* ---- records out: nrexport ------------------------------------------------ */

/* The command-line spelling of option `opt` ("-v", "--bpf"). */
/* "-x" or "--name" for option `opt`: a string of its own per option, that
 * lives as long as the program (nrexport's argument vector points at it). */
static const char *option_name(int opt)
{
    static char shortnames[256][3];
    static char longnames[64][32];
    if (opt >= 0 && opt < 256) {
        shortnames[opt][0] = '-';
        shortnames[opt][1] = (char)opt;
        return shortnames[opt];
    }
    int i = 0;
    for (const struct option *l = long_options; l->name && i < 64; l++, i++)
        if (l->val == opt) {
            snprintf(longnames[i], sizeof longnames[i], "--%s", l->name);
            return longnames[i];
        }
    return "?";
}

/* nrcap's option `opt` in nrexport's words, appended to o->xargv; or, if
 * nrexport has none, remembered in o->refused (an error in records-out mode
 * only). Sets o->records_out for the options that ask for records. */
static void export_option(struct options *o, int opt, const char *arg)
{
    /* Same spelling, same meaning in nrexport (export/src/bin/nrexport.rs):
     * input, output, count, rotation by size (-C MB) and time (-G SECS), -q,
     * the live capture's snaplen, promiscuity, ring geometry and namespace,
     * and nrexport's own (records, IPFIX, flow meter). */
    static const int same[] = {'i', 'r', 'w', 'c', 'C', 'G', 'q', 's', 'p', 'B', 'n', 1001,
                               1100, 1101, 1102, 1103, 1104, 1105};
    int known = opt == 'F' && (strcmp(arg, "arrow") == 0 || strcmp(arg, "parquet") == 0);
    if (opt == 'F' && !known) {
        if (!o->refused)
            o->refused = "-F pcap|pcap-ns|pcapng";
        return;
    }
    if (known || opt == 'G' || opt >= 1100)
        o->records_out = 1;
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        known |= opt == same[i];
    if (!known) {
        if (!o->refused && opt != '?' && opt != 'h')
            o->refused = option_name(opt);
        return;
    }
    o->xargv[o->xargc++] = option_name(opt);
    if (arg)
        o->xargv[o->xargc++] = arg;
}

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* nrexport: $NETRING_NREXPORT, else next to this executable, else in $PATH;
 * NULL if none (`dir` then holds this executable's directory). */
static const char *find_nrexport(char *buf, size_t size, char *dir, size_t dirsize)
{
    const char *env = getenv("NETRING_NREXPORT");
    if (env && *env) {
        if (!is_executable(env)) {
            fprintf(stderr, "nrcap: NETRING_NREXPORT=%s is not an executable file\n", env);
            exit(2);
        }
        return env;
    }
    snprintf(dir, dirsize, "?");
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n > 0) {
        buf[n] = 0;
        char *slash = strrchr(buf, '/');
        if (slash) {
            *slash = 0;
            snprintf(dir, dirsize, "%s", buf);
            if ((size_t)snprintf(buf, size, "%s/nrexport", dir) < size && is_executable(buf))
                return buf;
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        if ((size_t)snprintf(buf, size, "%.*s/nrexport", len ? (int)len : 1, len ? path : ".") < size &&
            is_executable(buf))
            return buf;
        path += len + (path[len] == ':');
    }
    return NULL;
}

/* Records out: exec nrexport with the translated options; never returns. */
static void run_nrexport(struct options *o, int has_expression)
{
    if (has_expression && !o->refused)
        o->refused = "a filter expression";
    if (o->refused) {
        fprintf(stderr,
                "nrcap: %s cannot be combined with -F arrow|parquet, --records or --ipfix: nrcap runs nrexport "
                "for those, which has no such option (see export/README.md)\n",
                o->refused);
        exit(2);
    }
    static char buf[4096], dir[4096];
    const char *path = find_nrexport(buf, sizeof buf, dir, sizeof dir);
    if (!path) {
        fprintf(stderr,
                "nrcap: -F arrow|parquet, --records and --ipfix run nrexport (the netring-export crate, kept out "
                "of libnetring.so), and none was found: $NETRING_NREXPORT is not set, there is no %s/nrexport, "
                "none in $PATH. Build it with `make export` (installs build/bin/nrexport next to nrcap).\n",
                dir);
        exit(2);
    }
    o->xargv[o->xargc] = NULL;
    execv(path, (char *const *)o->xargv);
    fprintf(stderr, "nrcap: running %s: %s\n", path, strerror(errno));
    exit(2);
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

static void parse_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->wformat = NR_FORMAT_PCAP;
    NR_CAPTURE_CONFIG_INIT(&o->cfg);
    nr_capture_config *cfg = &o->cfg;
    int opt;
    o->xargv = calloc((size_t)argc * 2 + 2, sizeof *o->xargv); /* each option at most 2 words */
    if (!o->xargv)
        exit(1);
    o->xargv[o->xargc++] = "nrexport";
    while ((opt = getopt_long(argc, argv, "i:c:s:B:n:pqvw:F:C:G:W:r:h", long_options, NULL)) != -1) {
        export_option(o, opt, optarg);
        if (opt >= 1100 || opt == 'G')
            continue; /* nrexport's alone */
        if (capture_option(opt, optarg, cfg))
            continue;
        switch (opt) {
        case 'i': o->ifname = optarg; break;
        case 'c': o->limit = parse_num(optarg, "count"); break;
        case 's': cfg->snaplen = (uint32_t)parse_num(optarg, "snaplen"); break;
        case 'B': cfg->block_size = (uint32_t)(parse_num(optarg, "block size") * 1024u); break;
        case 'n': cfg->block_count = (uint32_t)parse_num(optarg, "block count"); break;
        case 'p': cfg->promiscuous = false; break;
        case 'q': o->quiet = 1; break;
        case 1006: o->direct = 1; break;
        case 1007: cfg->immediate = true; break;
        case 1008: o->latency = 1; break;
        case 1009: cfg->busy_poll_us = (uint32_t)parse_num(optarg, "busy-poll microseconds"); break;
        case 'v': o->verbose = 1; break;
        case 'w': o->wfile = optarg; break;
        case 'r': o->rfile = optarg; break;
        case 'C': o->rotate_mb = parse_num(optarg, "file size"); break;
        case 'W': o->rotate_files = parse_num(optarg, "file count"); break;
        case 'F': {
            if (strcmp(optarg, "arrow") == 0 || strcmp(optarg, "parquet") == 0)
                break; /* records out */
            static const struct named formats[] = {
                {"pcap", NR_FORMAT_PCAP}, {"pcap-ns", NR_FORMAT_PCAP_NS}, {"pcapng", NR_FORMAT_PCAPNG},
            };
            o->wformat = VALUE_OF(optarg, formats, "nrcap: unknown format '%s' (pcap, pcap-ns, pcapng)\n");
            break;
        }
        default: usage(); exit(2);
        }
    }
    if (o->records_out)
        run_nrexport(o, optind < argc); /* does not return */
    free(o->xargv);
    o->xargv = NULL;
    if (!o->ifname == !o->rfile) {
        usage();
        exit(2);
    }
    if (optind < argc) {
        /* A trailing filter expression, as tcpdump takes it, compiled by the
         * system's libpcap for a live capture on the interface (for Ethernet
         * when the capture is in another namespace). */
        if (!o->ifname) {
            fprintf(stderr, "nrcap: a filter expression needs -i (live capture)\n");
            exit(2);
        }
        if (cfg->filter) {
            fprintf(stderr, "nrcap: give either --bpf FILE or a filter expression, not both\n");
            exit(2);
        }
        size_t total = 1;
        for (int i = optind; i < argc; i++)
            total += strlen(argv[i]) + 1;
        char *expr = calloc(1, total);
        if (!expr)
            exit(1);
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                strcat(expr, " ");
            strcat(expr, argv[i]);
        }
        size_t n = 0;
        int frc = nr_bpf_compile(cfg->netns ? NULL : o->ifname, expr, cfg->snaplen, g_bpf,
                                 sizeof g_bpf / sizeof g_bpf[0], &n);
        free(expr);
        if (frc != NR_OK) {
            fprintf(stderr, "nrcap: %s (%s)\n", nr_last_error(), nr_strerror(frc));
            exit(2);
        }
        cfg->filter = g_bpf;
        cfg->filter_len = n;
    }
}
