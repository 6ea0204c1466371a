/*
 * nrfanout — one capture per thread, all in one fanout group.
 *
 *   nrfanout -i IFACE -n THREADS -m MODE [-g GROUP] [-q]
 *
 * MODE: flow (netring's flow hash, members join exactly once), hash, lb,
 * cpu, rollover, random, qm. Runs until SIGINT/SIGTERM
 * (each capture is woken with nr_capture_breakloop, async-signal-safe), then
 * prints one line per thread on stdout ("thread N packets=P drops=D"; -q
 * keeps quiet while running only) and on stderr exactly one line:
 *
 *   RESULT packets=<total packets handed out> drops=<total kernel drops>
 */
#define _GNU_SOURCE
#include <netring.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 64

struct worker {
    nr_capture *cap;
    pthread_t thread;
    uint64_t packets;
    int failed;
};

static struct worker g_workers[MAX_THREADS];
static int g_nthreads;

static void on_signal(int sig)
{
    (void)sig;
    for (int i = 0; i < g_nthreads; i++)
        if (g_workers[i].cap)
            nr_capture_breakloop(g_workers[i].cap);
}

static int count(void *user, const nr_packet *p)
{
    (void)p;
    ++*(uint64_t *)user;
    return 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        nr_batch *b;
        int rc = nr_next_batch(w->cap, 1000, &b);
        if (rc == NR_OK) {
            nr_batch_for_each(b, count, &w->packets);
            nr_batch_release(b);
        } else if (rc == NR_TIMEOUT || rc == NR_IFACE_DOWN) {
            continue;
        } else if (rc == NR_BREAK) {
            break;
        } else {
            fprintf(stderr, "nrfanout: %s (%s)\n", nr_last_error(), nr_strerror(rc));
            w->failed = 1;
            break;
        }
    }
    return NULL;
}

static uint8_t mode_of(const char *m)
{
    if (!strcmp(m, "flow")) return NR_FANOUT_FLOW;
    if (!strcmp(m, "hash")) return NR_FANOUT_HASH;
    if (!strcmp(m, "lb")) return NR_FANOUT_LB;
    if (!strcmp(m, "cpu")) return NR_FANOUT_CPU;
    if (!strcmp(m, "rollover")) return NR_FANOUT_ROLLOVER;
    if (!strcmp(m, "random")) return NR_FANOUT_RANDOM;
    if (!strcmp(m, "qm")) return NR_FANOUT_QM;
    fprintf(stderr, "nrfanout: unknown mode '%s' (flow, hash, lb, cpu, rollover, random, qm)\n", m);
    exit(2);
}

static void usage(void)
{
    fprintf(stderr, "usage: nrfanout -i IFACE -n THREADS -m MODE [-g GROUP] [-q]\n");
}

int main(int argc, char **argv)
{
    const char *ifname = NULL;
    int n = 0, quiet = 0;
    uint8_t mode = 0;
    unsigned long group = (unsigned long)(getpid() & 0xffff);
    int opt;
    while ((opt = getopt(argc, argv, "i:n:m:g:qh")) != -1) {
        switch (opt) {
        case 'i': ifname = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'm': mode = mode_of(optarg); break;
        case 'g': group = strtoul(optarg, NULL, 0); break;
        case 'q': quiet = 1; break;
        default: usage(); return 2;
        }
    }
    if (!ifname || n < 1 || n > MAX_THREADS || !mode || group > 65535) {
        usage();
        return 2;
    }

    nr_capture_config cfg;
    NR_CAPTURE_CONFIG_INIT(&cfg);
    cfg.block_size = 1u << 20;
    cfg.block_count = 16;
    cfg.block_timeout_ms = 10;
    cfg.fanout_mode = mode;
    cfg.fanout_group = (uint16_t)group;

    /* Signals go to the main thread only; workers block them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < n; i++) {
        int rc = nr_capture_open(ifname, &cfg, &g_workers[i].cap);
        if (rc != NR_OK) {
            fprintf(stderr, "nrfanout: %s (%s)\n", nr_last_error(), nr_strerror(rc));
            return 1;
        }
        g_nthreads = i + 1;
    }
    for (int i = 0; i < n; i++)
        pthread_create(&g_workers[i].thread, NULL, run, &g_workers[i]);
    struct sigaction sa = {.sa_handler = on_signal}; /* empty mask, no flags */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!quiet)
        fprintf(stderr, "nrfanout: %d captures on %s in fanout group %lu\n", n, ifname, group);

    uint64_t packets = 0, drops = 0;
    int status = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(g_workers[i].thread, NULL);
        nr_capture_stats st;
        memset(&st, 0, sizeof st);
        nr_capture_get_stats(g_workers[i].cap, &st, NULL);
        printf("thread %d packets=%" PRIu64 " drops=%" PRIu64 "\n", i, g_workers[i].packets, st.drops);
        packets += g_workers[i].packets;
        drops += st.drops;
        status |= g_workers[i].failed;
    }
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        nr_capture *c = g_workers[i].cap;
        g_workers[i].cap = NULL;
        nr_capture_close(c);
    }
    fprintf(stderr, "RESULT packets=%" PRIu64 " drops=%" PRIu64 "\n", packets, drops);
    return status;
}
