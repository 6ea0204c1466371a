/*
 * nrstats — live packet, byte and drop rates of an interface.
 *
 *   nrstats -i IFACE [-I SECONDS] [-c INTERVALS]
 *
 * Every interval (default 1 s) prints one line:
 *   "<t> pkts/s=<P> bytes/s=<B> drops/s=<D>"
 * (bytes are wire lengths). Stops on SIGINT/SIGTERM or after -c intervals,
 * then prints on stderr: RESULT packets=<total> drops=<total>.
 */
#define _GNU_SOURCE
#include <netring.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static nr_capture *g_cap;

static void on_signal(int sig)
{
    (void)sig;
    if (g_cap)
        nr_capture_breakloop(g_cap);
}

struct acc {
    uint64_t packets, bytes;
};

static int on_packet(void *user, const nr_packet *p)
{
    struct acc *a = user;
    a->packets++;
    a->bytes += p->len;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *ifname = NULL;
    double interval = 1.0;
    long intervals = 0;
    int opt;
    while ((opt = getopt(argc, argv, "i:I:c:h")) != -1) {
        switch (opt) {
        case 'i': ifname = optarg; break;
        case 'I': interval = atof(optarg); break;
        case 'c': intervals = atol(optarg); break;
        default:
            fprintf(stderr, "usage: nrstats -i IFACE [-I SECONDS] [-c INTERVALS]\n");
            return 2;
        }
    }
    if (!ifname || interval <= 0) {
        fprintf(stderr, "usage: nrstats -i IFACE [-I SECONDS] [-c INTERVALS]\n");
        return 2;
    }
    nr_capture_config cfg;
    NR_CAPTURE_CONFIG_INIT(&cfg);
    nr_capture_config_apply_profile(&cfg, NR_PROFILE_MEMORY_CONSTRAINED);
    cfg.block_timeout_ms = 10;
    cfg.snaplen = 64; /* rates only: keep the ring light */
    int rc = nr_capture_open(ifname, &cfg, &g_cap);
    if (rc != NR_OK) {
        fprintf(stderr, "nrstats: %s (%s)\n", nr_last_error(), nr_strerror(rc));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* empty mask, no flags */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct acc a = {0, 0};
    uint64_t total = 0;
    double start = now_s(), last = start;
    long done = 0;
    int status = 0;
    for (;;) {
        double left = last + interval - now_s();
        int ms = left > 0 ? (int)(left * 1000) + 1 : 0;
        nr_batch *b;
        rc = nr_next_batch(g_cap, ms, &b);
        if (rc == NR_OK) {
            nr_batch_for_each(b, on_packet, &a);
            nr_batch_release(b);
        } else if (rc == NR_BREAK) {
            break;
        } else if (rc != NR_TIMEOUT && rc != NR_IFACE_DOWN) {
            fprintf(stderr, "nrstats: %s (%s)\n", nr_last_error(), nr_strerror(rc));
            status = 1;
            break;
        }
        double t = now_s();
        if (t - last >= interval) {
            nr_capture_stats delta;
            nr_capture_get_stats(g_cap, NULL, &delta);
            double dt = t - last;
            printf("%.3f pkts/s=%.0f bytes/s=%.0f drops/s=%.0f\n", t - start, (double)a.packets / dt,
                   (double)a.bytes / dt, (double)delta.drops / dt);
            fflush(stdout);
            total += a.packets;
            a.packets = a.bytes = 0;
            last = t;
            if (intervals && ++done >= intervals)
                break;
        }
    }
    total += a.packets;
    nr_capture_stats st;
    memset(&st, 0, sizeof st);
    nr_capture_get_stats(g_cap, &st, NULL);
    nr_capture *c = g_cap;
    g_cap = NULL;
    nr_capture_close(c);
    fprintf(stderr, "RESULT packets=%" PRIu64 " drops=%" PRIu64 "\n", total, st.drops);
    return status;
}
