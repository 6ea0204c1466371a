/* pthread_cancel (deferred, the default) on a thread blocked in a call of
 * libnetring, or in a callback it runs: the thread must end with
 * PTHREAD_CANCELED (its cleanup handlers run), the process go on, and the
 * handle then answer and close.
 *
 * usage: test_cancel A B MODE REPS  (A, B: the two ends of a veth pair)
 *   next_batch, next_packet: blocked waiting on A (no timeout);
 *   for_each: inside nr_batch_for_each's callback (sleeping), the batch
 *     released by the thread's cleanup handler;
 *   xdp: blocked in nr_xdp_next_batch on A, queue 0;
 *   bridge: blocked in nr_bridge_run(A, B);
 *   bridge_cb: inside nr_bridge_run's callback (sleeping);
 *   inject: in nr_injector_wait_drained on A, frames held in flight by a
 *     slow qdisc the test driver put on A (tbf).
 * Frames for the callbacks are sent from B by this program. Each
 * repetition cancels after a different delay (0-30 ms after the thread
 * started, or entered the callback). Prints "RESULT cancelled=N reps=N
 * failures=N", or "RESULT skipped: why" when AF_XDP cannot open. */
#define _GNU_SOURCE
#include <netring.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static const char *mode;
static nr_capture *cap;
static nr_xdp *xdp;
static nr_bridge *br;
static nr_injector *txq;
static volatile int in_callback;

/* If handle h (of type prefix) is open: its stats still read (no call left
 * marked busy), then close it. */
#define STATS_THEN_CLOSE(h, prefix)                                    \
    do {                                                               \
        if (h) {                                                       \
            prefix##_stats st;                                         \
            CHECK(prefix##_get_stats((h), &st, NULL) == NR_OK);        \
            prefix##_close(h);                                         \
            (h) = NULL;                                                \
        }                                                              \
    } while (0)

static int sleeping_cb(void *user, const nr_packet *p)
{
    (void)user;
    (void)p;
    in_callback = 1;
    for (;;)
        sleep(100);
    return 0;
}

static int sleeping_bridge_cb(void *user, int direction, const nr_packet *p)
{
    (void)direction;
    return sleeping_cb(user, p);
}

static void release_batch(void *arg)
{
    nr_batch **b = arg;
    if (*b)
        CHECK(nr_batch_release(*b) == NR_OK);
    *b = NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    nr_batch *b = NULL;
    const nr_packet *p;
    pthread_cleanup_push(release_batch, &b);
    for (;;) {
        if (!strcmp(mode, "next_batch")) {
            if (nr_next_batch(cap, -1, &b) == NR_OK)
                release_batch(&b);
        } else if (!strcmp(mode, "next_packet")) {
            nr_next_packet(cap, -1, &p);
        } else if (!strcmp(mode, "for_each")) {
            if (nr_next_batch(cap, -1, &b) == NR_OK) {
                nr_batch_for_each(b, sleeping_cb, NULL);
                release_batch(&b);
            }
        } else if (!strcmp(mode, "xdp")) {
            if (nr_xdp_next_batch(xdp, -1, &b) == NR_OK)
                release_batch(&b);
        } else if (!strcmp(mode, "inject")) {
            nr_injector_wait_drained(txq, -1);
        } else if (!strcmp(mode, "bridge")) {
            nr_bridge_run(br, NULL, NULL);
        } else {
            nr_bridge_run(br, sleeping_bridge_cb, NULL);
        }
    }
    pthread_cleanup_pop(0);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: test_cancel A B MODE REPS\n");
        return 2;
    }
    const char *a = argv[1], *bname = argv[2];
    mode = argv[3];
    int reps = atoi(argv[4]), cancelled = 0;
    int needs_frames = !strcmp(mode, "for_each") || !strcmp(mode, "bridge_cb");
    nr_injector *inj = NULL;
    if (needs_frames)
        CHECK(nr_injector_open(bname, NULL, &inj) == NR_OK);
    /* Broadcast frames of a local experimental EtherType. */
    uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5};
    for (int i = 0; i < reps; i++) {
        if (!strcmp(mode, "xdp")) {
            int rc = nr_xdp_open(a, 0, NULL, &xdp);
            if (rc != NR_OK) {
                printf("RESULT skipped: nr_xdp_open: %s\n", nr_last_error());
                return 0;
            }
        } else if (!strcmp(mode, "inject")) {
            nr_injector_config cfg;
            CHECK(nr_injector_config_init(&cfg, sizeof cfg) == NR_OK);
            cfg.mode = NR_TX_RING;
            CHECK(nr_injector_open(a, &cfg, &txq) == NR_OK);
            for (int k = 0; k < 64; k++)
                CHECK(nr_inject(txq, frame, sizeof frame) == NR_OK);
            CHECK(nr_injector_flush(txq) == NR_OK);
        } else if (!strncmp(mode, "bridge", 6)) {
            CHECK(nr_bridge_open(a, bname, &br) == NR_OK);
        } else {
            CHECK(nr_capture_open(a, NULL, &cap) == NR_OK);
        }
        in_callback = 0;
        pthread_t t;
        CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
        for (int k = 0; needs_frames && k < 5000 && !in_callback; k++) {
            nr_inject(inj, frame, sizeof frame);
            usleep(1000);
        }
        if (needs_frames)
            CHECK(in_callback);
        usleep((useconds_t)((i * 7919) % 30000));
        CHECK(pthread_cancel(t) == 0);
        void *res = NULL;
        CHECK(pthread_join(t, &res) == 0);
        if (res == PTHREAD_CANCELED)
            cancelled++;
        else
            fprintf(stderr, "repetition %d: the thread was not cancelled\n", i);
        /* The handle is usable again (no call left marked busy), then closes. */
        STATS_THEN_CLOSE(cap, nr_capture);
        STATS_THEN_CLOSE(xdp, nr_xdp);
        STATS_THEN_CLOSE(txq, nr_injector);
        STATS_THEN_CLOSE(br, nr_bridge);
    }
    nr_injector_close(inj);
    CHECK(cancelled == reps);
    printf("RESULT cancelled=%d reps=%d failures=%d\n", cancelled, reps, failures);
    return failures ? 1 : 0;
}
