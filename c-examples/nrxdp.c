/* nrxdp - receive or send with AF_XDP through netring.
 *
 *   nrxdp -i IFACE [-q QUEUE | -a] [-m native|generic] [-c COUNT] [-Q]
 *         [-L LATENCY_US] [-b BUSY_POLL_US]
 *       Receive on one queue (default 0) or all queues (-a, one socket per
 *       queue over a shared UMEM) with netring's built-in XDP program.
 *       -L: latency budget of the batching wait (max_latency_us, default
 *       50000); -b: busy polling for a dedicated core (busy_poll_us, with
 *       SO_PREFER_BUSY_POLL and a budget of 64).
 *       Prints one line per frame unless -Q; stops after COUNT frames or on
 *       SIGINT/SIGTERM; then prints on stderr
 *         RESULT packets=<n> drops=<n> batches=<n> kicks=<n> fill_empty=<n>
 *       (drops = kernel rx_dropped + rx_ring_full; batches handed out,
 *       wake-up syscalls, and the kernel's rx_fill_ring_empty_descs).
 *
 *   nrxdp --tx -i IFACE [-q QUEUE] [-n COUNT] [-l LEN] [-t SECONDS]
 *       Send COUNT frames (default: unlimited) of LEN bytes (default 60) to
 *       02:cb:00:00:00:ff, EtherType 0x88b5, for at most SECONDS (default
 *       10), then prints on stderr
 *         RESULT sent=<n>
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netring.h>

static nr_xdp *g_xdp;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_xdp) nr_xdp_breakloop(g_xdp); /* async-signal-safe */
}

struct rx_state {
    unsigned long long packets;
    unsigned long long limit;
    int quiet;
};

static int on_packet(void *user, const nr_packet *p)
{
    struct rx_state *st = user;
    st->packets++;
    if (!st->quiet)
        printf("len=%u proto=0x%04x type=%u\n", p->caplen, p->protocol, p->pkt_type);
    if (st->limit && st->packets >= st->limit) return 1; /* stop */
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s -i IFACE [-q QUEUE | -a] [-m native|generic] [-c COUNT] [-Q] [-L LATENCY_US] [-b BUSY_POLL_US]\n"
            "             [-F FRAMES] [-S FRAME_SIZE] [-B BATCH]   (UMEM frames, 2048 or 4096 B, frames per batch)\n"
            "       %s --tx -i IFACE [-q QUEUE] [-n COUNT] [-l LEN] [-t SECONDS]\n",
            prog, prog);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "nrxdp: %s: %s: %s\n", what, nr_strerror(rc), nr_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *ifname = NULL;
    unsigned queue = 0;
    int all = 0, quiet = 0, tx = 0;
    unsigned long long count = 0;
    unsigned len = 60;
    double seconds = 10;
    nr_xdp_config cfg;
    NR_XDP_CONFIG_INIT(&cfg);

    static const struct option longopts[] = {
        {"tx", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "i:q:am:c:Qn:l:t:L:b:F:S:B:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': ifname = optarg; break;
        case 'q': queue = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'a': all = 1; break;
        case 'm':
            if (!strcmp(optarg, "native")) cfg.attach_mode = NR_XDP_ATTACH_NATIVE;
            else if (!strcmp(optarg, "generic")) cfg.attach_mode = NR_XDP_ATTACH_GENERIC;
            else { usage(argv[0]); return 2; }
            break;
        case 'c':
        case 'n': count = strtoull(optarg, NULL, 0); break;
        case 'Q': quiet = 1; break;
        case 'l': len = (unsigned)strtoul(optarg, NULL, 0); break;
        case 't': seconds = strtod(optarg, NULL); break;
        case 'T': tx = 1; break;
        case 'F': cfg.frame_count = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'S': cfg.frame_size = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'B': cfg.batch_size = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'L': cfg.max_latency_us = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'b':
            cfg.busy_poll_us = (uint32_t)strtoul(optarg, NULL, 0);
            cfg.prefer_busy_poll = cfg.busy_poll_us > 0;
            cfg.busy_poll_budget = cfg.busy_poll_us > 0 ? 64 : 0;
            break;
        default: usage(argv[0]); return c == 'h' ? 0 : 2;
        }
    }
    if (!ifname) { usage(argv[0]); return 2; }

    struct sigaction sa = {.sa_handler = on_signal}; /* empty mask, no flags */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (tx) cfg.direction = NR_XDP_TX;
    int rc = all ? nr_xdp_open_all(ifname, &cfg, &g_xdp) : nr_xdp_open(ifname, queue, &cfg, &g_xdp);
    if (rc != NR_OK) return fail("open", rc);

    nr_xdp_info info;
    nr_xdp_get_info(g_xdp, &info);
    fprintf(stderr, "nrxdp: %s, %u queue(s) from %u, %s mode, XDP %s, UMEM %u x %u B\n", ifname,
            info.queue_count, info.first_queue, info.zero_copy ? "zero-copy" : "copy",
            info.native == 1 ? "native" : info.native == 0 ? "generic" : "none", info.frame_count,
            info.frame_size);

    if (tx) {
        if (len < 18 || len > info.frame_size) {
            fprintf(stderr, "nrxdp: -l %u: length must be 18..%u\n", len, info.frame_size);
            nr_xdp_close(g_xdp);
            return 2;
        }
        enum { BATCH = 64 };
        unsigned char *buf = calloc(BATCH, len);
        nr_frame frames[BATCH];
        static const unsigned char hdr[14] = {0x02, 0xcb, 0, 0, 0, 0xff, 0x02, 0xcb, 0, 0, 0, 0x01, 0x88, 0xb5};
        unsigned long long sent = 0;
        double end = now_s() + seconds;
        while (!g_stop && (!count || sent < count) && now_s() < end) {
            unsigned n = BATCH;
            if (count && count - sent < n) n = (unsigned)(count - sent);
            for (unsigned i = 0; i < n; i++) {
                unsigned char *f = buf + (size_t)i * len;
                unsigned long long seq = sent + i;
                memcpy(f, hdr, sizeof(hdr));
                for (int k = 0; k < 4; k++) f[14 + k] = (unsigned char)(seq >> (24 - 8 * k));
                frames[i].data = f;
                frames[i].len = len;
            }
            rc = nr_xdp_send(g_xdp, frames, n);
            if (rc < 0) { free(buf); return fail("send", rc); }
            sent += (unsigned)rc;
            if ((unsigned)rc < n) nr_xdp_complete(g_xdp);
        }
        nr_xdp_flush(g_xdp, 2000);
        free(buf);
        fprintf(stderr, "RESULT sent=%llu\n", sent);
        nr_xdp_close(g_xdp);
        return 0;
    }

    struct rx_state st = {0, count, quiet};
    int status = 0;
    while (!g_stop && (!count || st.packets < count)) {
        nr_batch *b;
        rc = nr_xdp_next_batch(g_xdp, 1000, &b);
        if (rc == NR_TIMEOUT || rc == NR_IFACE_DOWN) continue;
        if (rc == NR_BREAK) break;
        if (rc != NR_OK) {
            /* Every frame of the RX ring was delivered before this error
             * (interface removed, ...): report them, then fail. */
            status = fail("next_batch", rc);
            break;
        }
        nr_batch_for_each(b, on_packet, &st);
        nr_batch_release(b);
    }
    if (g_stop && status == 0) {
        /* Stopped by a signal: hand out what the RX ring already holds
         * (the break was consumed by the wait it ended). */
        nr_batch *b;
        while ((!count || st.packets < count) && nr_xdp_next_batch(g_xdp, 0, &b) == NR_OK) {
            nr_batch_for_each(b, on_packet, &st);
            nr_batch_release(b);
        }
    }
    fflush(stdout);
    nr_xdp_stats total;
    memset(&total, 0, sizeof(total));
    nr_xdp_get_stats(g_xdp, &total, NULL);
    fprintf(stderr, "RESULT packets=%llu drops=%llu batches=%llu kicks=%llu fill_empty=%llu\n", st.packets,
            (unsigned long long)(total.rx_dropped + total.rx_ring_full), (unsigned long long)total.rx_batches,
            (unsigned long long)total.kicks, (unsigned long long)total.rx_fill_ring_empty);
    nr_xdp_close(g_xdp);
    return status;
}
