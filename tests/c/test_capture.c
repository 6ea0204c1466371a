/* Capture from C: receive COUNT test frames sent by the test driver from the
 * veth peer, check every byte, then exercise the batch life cycle
 * (busy, double release), single-packet access and breakloop from a thread.
 * Batches are walked three ways, in turn: nr_batch_for_each(), the array
 * accessor nr_batch_fill() in chunks of 7 (then rewound and counted
 * again), and the inline iterator nr_iter_next() (checked field for field
 * against nr_batch_fill()).
 *
 * usage: test_capture IFACE COUNT
 * prints "READY" on stdout once the capture is open, then on exit
 * "RESULT packets=N bad=N drops=N failures=N".
 *
 * Test frames (see testkit/src/frames.rs): dst(6) src(6) 0x88b5 seq(be32),
 * byte i (i >= 18) = (uint8_t)(i * 31 + seq); length of frame k is
 * frame_len(k). */
#define _GNU_SOURCE
#include <netring.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static uint32_t frame_len(uint32_t k) { return k == 1 ? 1514u : 60u + (k * 97u) % 1455u; }

struct rx {
    uint32_t next;  /* next expected sequence number */
    uint64_t bad;
    uint64_t other; /* non-test frames */
};

static int on_packet(void *user, const nr_packet *p)
{
    struct rx *rx = user;
    const uint8_t *d = p->data;
    if (p->caplen < 18 || d[12] != 0x88 || d[13] != 0xb5) {
        rx->other++;
        return 0;
    }
    uint32_t seq = (uint32_t)d[14] << 24 | (uint32_t)d[15] << 16 | (uint32_t)d[16] << 8 | d[17];
    int ok = seq == rx->next && p->len == frame_len(seq) && p->caplen == p->len && p->ts_ns > 0;
    for (uint32_t i = 18; ok && i < p->caplen; i++)
        ok = d[i] == (uint8_t)(i * 31u + seq);
    if (!ok) {
        if (rx->bad < 5)
            fprintf(stderr, "bad frame: seq %u (expected %u) len %u caplen %u\n", seq, rx->next, p->len, p->caplen);
        rx->bad++;
    }
    rx->next = seq + 1;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *breaker(void *arg)
{
    usleep(100 * 1000);
    nr_capture_breakloop(arg);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_capture IFACE COUNT\n");
        return 2;
    }
    uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
    nr_capture_config cfg;
    NR_CAPTURE_CONFIG_INIT(&cfg);
    cfg.block_size = 64 * 1024;
    cfg.block_count = 32;
    cfg.block_timeout_ms = 10;
    nr_capture *cap = NULL;
    int rc = nr_capture_open(argv[1], &cfg, &cap);
    if (rc != NR_OK) {
        fprintf(stderr, "open: %s\n", nr_last_error());
        return 1;
    }
    printf("READY\n");
    fflush(stdout);

    struct rx rx = {0};
    double deadline = now() + 20;
    while (rx.next < count && now() < deadline) {
        nr_batch *b = NULL;
        rc = nr_next_batch(cap, 100, &b);
        if (rc == NR_TIMEOUT)
            continue;
        CHECK(rc == NR_OK);
        if (rc != NR_OK)
            break;
        CHECK(nr_batch_len(b) > 0);
        /* One batch at a time: asking again while holding is refused. */
        nr_batch *b2 = NULL;
        CHECK(nr_next_batch(cap, 0, &b2) == NR_E_BUSY);
        CHECK(b2 == NULL);
        if (nr_batch_seq(b) % 3 == 2) {
            /* The inline iterator: the packets nr_batch_fill() gives, field
             * for field (checked against it one by one), then the end. */
            nr_iter it = nr_batch_iter(b);
            nr_packet p, q;
            size_t seen = 0, n = 0;
            CHECK(nr_batch_rewind(b) == NR_OK);
            while ((rc = nr_iter_next(&it, &p)) == NR_OK) {
                CHECK(nr_batch_fill(b, &q, 1, &n) == NR_OK && n == 1);
                CHECK(p.data == q.data && p.caplen == q.caplen && p.len == q.len &&
                      p.ts_ns == q.ts_ns && p.ifindex == q.ifindex && p.rxhash == q.rxhash &&
                      p.flags == q.flags && p.vlan_tci == q.vlan_tci &&
                      p.vlan_tpid == q.vlan_tpid && p.protocol == q.protocol &&
                      p.pkt_type == q.pkt_type);
                on_packet(&rx, &p);
                seen++;
            }
            CHECK(rc == NR_EOF);
            CHECK(seen == nr_batch_len(b));
            CHECK(nr_batch_fill(b, &q, 1, &n) == NR_OK && n == 0);
            CHECK(nr_iter_next(&it, &p) == NR_EOF); /* stays at the end */
            /* A second iterator starts again at the first packet. */
            nr_iter again = nr_batch_iter(b);
            size_t count2 = 0;
            while (nr_iter_next(&again, &p) == NR_OK)
                count2++;
            CHECK(count2 == seen);
        } else if (nr_batch_seq(b) % 3 == 1) {
            CHECK(nr_batch_for_each(b, on_packet, &rx) == NR_OK);
        } else {
            nr_packet arr[7];
            size_t n = 0, seen = 0;
            while ((rc = nr_batch_fill(b, arr, 7, &n)) == NR_OK && n > 0) {
                CHECK(n <= 7);
                for (size_t i = 0; i < n; i++)
                    on_packet(&rx, &arr[i]);
                seen += n;
            }
            CHECK(rc == NR_OK);
            CHECK(seen == nr_batch_len(b));
            CHECK(nr_batch_fill(b, arr, 7, &n) == NR_OK && n == 0); /* stays at the end */
            CHECK(nr_batch_rewind(b) == NR_OK);
            size_t again = 0;
            while (nr_batch_fill(b, arr, 7, &n) == NR_OK && n > 0)
                again += n;
            CHECK(again == seen);
        }
        CHECK(nr_batch_release(b) == NR_OK);
        {
            nr_packet one;
            size_t n = 0;
            CHECK(nr_batch_fill(b, &one, 1, &n) == NR_E_BAD_BATCH); /* released */
        }
        /* Double release is detected. */
        CHECK(nr_batch_release(b) == NR_E_BAD_BATCH);
        CHECK(nr_batch_for_each(b, on_packet, &rx) == NR_E_BAD_BATCH);
        {
            /* A released batch: the iterator's first call says so. */
            nr_iter it = nr_batch_iter(b);
            nr_packet p;
            CHECK(nr_iter_next(&it, &p) == NR_E_BAD_BATCH);
        }
    }

    nr_capture_stats total, delta;
    CHECK(nr_capture_get_stats(cap, &total, &delta) == NR_OK);
    CHECK(total.drops == 0);
    CHECK(total.packets >= count);
    CHECK(total.malformed == 0 && total.seq_gaps == 0);
    nr_capture_stats again;
    CHECK(nr_capture_get_stats(cap, &again, NULL) == NR_OK);
    CHECK(again.packets == total.packets); /* lifetime totals survive the kernel's reset-on-read */

    /* Non-blocking call with nothing ready. */
    nr_batch *b = NULL;
    CHECK(nr_next_batch(cap, 0, &b) == NR_TIMEOUT);
    const nr_packet *p = NULL;
    CHECK(nr_next_packet(cap, 0, &p) == NR_TIMEOUT);

    /* breakloop from another thread wakes an unlimited wait. */
    pthread_t th;
    pthread_create(&th, NULL, breaker, cap);
    double t0 = now();
    CHECK(nr_next_batch(cap, -1, &b) == NR_BREAK);
    CHECK(now() - t0 < 2.0);
    pthread_join(th, NULL);

    nr_capture_close(cap);
    printf("RESULT packets=%u bad=%" PRIu64 " drops=%" PRIu64 " failures=%d\n", rx.next, rx.bad, total.drops, failures);
    return failures || rx.bad || rx.next != count ? 1 : 0;
}
