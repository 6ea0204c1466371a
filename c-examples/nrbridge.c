/*
 * nrbridge — forward every frame between two interfaces with netring.
 *
 *   nrbridge -a IF1 -b IF2 [-q]
 *
 * Frames captured on IF1 go out on IF2 unchanged and vice versa, until
 * SIGINT/SIGTERM (through nr_bridge_breakloop(), which is
 * async-signal-safe). Unless -q, it says on stderr when it starts and
 * prints per-direction counters at exit. Always prints on stderr at exit
 *
 *   RESULT a_to_b=<forwarded> b_to_a=<forwarded>
 */
#define _GNU_SOURCE
#include <netring.h>

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static nr_bridge *g_br;

static void on_signal(int sig)
{
    (void)sig;
    if (g_br)
        nr_bridge_breakloop(g_br);
}

static void usage(const char *argv0) { fprintf(stderr, "usage: %s -a IF1 -b IF2 [-q]\n", argv0); }

int main(int argc, char **argv)
{
    const char *a = NULL, *b = NULL;
    int quiet = 0;
    static const struct option opts[] = {
        {"a", required_argument, NULL, 'a'},
        {"b", required_argument, NULL, 'b'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "a:b:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'a': a = optarg; break;
        case 'b': b = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(argv[0]); return 0;
        default: usage(argv[0]); return 2;
        }
    }
    if (!a || !b || optind != argc) {
        usage(argv[0]);
        return 2;
    }
    int rc = nr_bridge_open(a, b, &g_br);
    if (rc != NR_OK) {
        fprintf(stderr, "nrbridge: %s\n", nr_last_error());
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* empty mask, no flags */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!quiet)
        fprintf(stderr, "nrbridge: bridging %s <-> %s (^C to stop)\n", a, b);
    rc = nr_bridge_run(g_br, NULL, NULL);
    int status = 0;
    if (rc != NR_BREAK) {
        fprintf(stderr, "nrbridge: %s\n", nr_last_error());
        status = 1;
    }
    nr_bridge_stats st;
    memset(&st, 0, sizeof st);
    nr_bridge_get_stats(g_br, &st, NULL);
    nr_bridge_path_stats ab = st.a_to_b, ba = st.b_to_a;
    if (!quiet) {
        fprintf(stderr, "%s -> %s: forwarded %" PRIu64 " dropped %" PRIu64 " failed %" PRIu64 " capture drops %" PRIu64 "\n",
                a, b, ab.forwarded, ab.dropped, ab.failed, ab.capture_drops);
        fprintf(stderr, "%s -> %s: forwarded %" PRIu64 " dropped %" PRIu64 " failed %" PRIu64 " capture drops %" PRIu64 "\n",
                b, a, ba.forwarded, ba.dropped, ba.failed, ba.capture_drops);
    }
    fprintf(stderr, "RESULT a_to_b=%" PRIu64 " b_to_a=%" PRIu64 "\n", ab.forwarded, ba.forwarded);
    nr_bridge *br = g_br;
    g_br = NULL;
    nr_bridge_close(br);
    return status;
}
