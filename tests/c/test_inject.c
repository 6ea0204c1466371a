/* Injection from C: send COUNT test frames on IFACE with every way the API
 * offers (zero-copy slots, nr_inject, nr_inject_batch), check the documented
 * statuses for bad input, and that the ring keeps working after them. The
 * test driver captures at the veth peer and checks every byte.
 *
 * usage: test_inject IFACE COUNT MODE      (MODE: ring | sendmmsg | auto)
 * prints on exit "RESULT sent=N rejected=N pending=N failures=N".
 *
 * Test frames (see testkit/src/frames.rs): dst 02:cb:00:00:00:ff,
 * src 02:6e:72:00:00:01, EtherType 0x88b5, seq (be32), byte i (i >= 18) =
 * (uint8_t)(i * 31 + seq); frame k has length 60 + (k * 7) % 1455. */
#include <netring.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static size_t frame_len(uint32_t k) { return 60 + (size_t)(k * 7u) % 1455u; }

static void build_frame(uint8_t *f, size_t len, uint32_t seq)
{
    static const uint8_t hdr[14] = {0x02, 0xcb, 0x00, 0x00, 0x00, 0xff, 0x02, 0x6e, 0x72, 0x00, 0x00, 0x01, 0x88, 0xb5};
    memcpy(f, hdr, sizeof hdr);
    f[14] = (uint8_t)(seq >> 24);
    f[15] = (uint8_t)(seq >> 16);
    f[16] = (uint8_t)(seq >> 8);
    f[17] = (uint8_t)seq;
    for (size_t i = 18; i < len; i++)
        f[i] = (uint8_t)((uint32_t)i * 31u + seq);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s IFACE COUNT ring|sendmmsg|auto\n", argv[0]);
        return 2;
    }
    uint32_t count = (uint32_t)strtoul(argv[2], NULL, 10);
    nr_injector_config cfg;
    CHECK(NR_INJECTOR_CONFIG_INIT(&cfg) == NR_OK);
    CHECK(cfg.size == sizeof cfg && cfg.frame_size == 2048 && cfg.frame_count == 256);
    CHECK(cfg.mode == NR_TX_AUTO && cfg.wait_timeout_ms == 1000 && !cfg.qdisc_bypass);
    cfg.mode = strcmp(argv[3], "ring") == 0       ? NR_TX_RING
               : strcmp(argv[3], "sendmmsg") == 0 ? NR_TX_SENDMMSG
                                                  : NR_TX_AUTO;
    nr_injector *inj = NULL;
    int rc = nr_injector_open(argv[1], &cfg, &inj);
    if (rc != NR_OK) {
        fprintf(stderr, "nr_injector_open: %s: %s\n", nr_strerror(rc), nr_last_error());
        return 1;
    }
    nr_injector_info info;
    CHECK(nr_injector_get_info(inj, &info) == NR_OK);
    CHECK(info.slot_capacity == 2016 && info.max_frame_len == 1514 && info.frame_count == 256);
    CHECK(info.mode == (cfg.mode == NR_TX_RING ? NR_TX_RING : NR_TX_SENDMMSG));

    /* Bad input first: documented statuses, nothing queued. */
    uint8_t big[4096];
    build_frame(big, 1515, 0);
    CHECK(nr_inject(inj, big, 0) == NR_E_INVALID_ARG);
    CHECK(nr_inject(inj, big, 13) == NR_E_INVALID_ARG);
    CHECK(nr_inject(inj, big, 1515) == NR_E_TOO_BIG);
    CHECK(nr_inject(inj, big, 3000) == NR_E_TOO_BIG);
    CHECK(nr_inject(inj, NULL, 60) == NR_E_INVALID_ARG);
    CHECK(nr_injector_send(inj, 60) == NR_E_INVALID_ARG); /* no slot allocated */
    uint8_t *buf = NULL;
    size_t cap = 0;
    CHECK(nr_injector_alloc(inj, 0, &buf, &cap) == NR_OK && buf != NULL && cap == 2016);
    CHECK(nr_injector_send(inj, 0) == NR_E_INVALID_ARG);
    CHECK(nr_injector_send(inj, 2017) == NR_E_TOO_BIG);
    nr_injector_stats st;
    CHECK(nr_injector_get_stats(inj, &st, NULL) == NR_OK);
    CHECK(st.pending == 0 && st.available == 256 && st.sent == 0);

    /* Then COUNT frames: a third zero-copy, a third nr_inject, a third batched. */
    uint32_t k = 0;
    while (k < count) {
        if (k % 3 == 0) {
            rc = nr_injector_alloc(inj, 1000, &buf, &cap);
            CHECK(rc == NR_OK);
            if (rc != NR_OK)
                break;
            build_frame(buf, frame_len(k), k);
            CHECK(nr_injector_send(inj, frame_len(k)) == NR_OK);
            k++;
        } else if (k % 3 == 1) {
            uint8_t f[1514];
            build_frame(f, frame_len(k), k);
            CHECK(nr_inject(inj, f, frame_len(k)) == NR_OK);
            k++;
        } else {
            static uint8_t store[8][1514];
            nr_frame frames[8];
            size_t n = 0;
            /* A batch of up to 8 consecutive frames. */
            for (; n < 8 && k + n < count; n++) {
                build_frame(store[n], frame_len(k + (uint32_t)n), k + (uint32_t)n);
                frames[n].data = store[n];
                frames[n].len = frame_len(k + (uint32_t)n);
            }
            size_t queued = 0;
            CHECK(nr_inject_batch(inj, frames, n, &queued) == NR_OK);
            CHECK(queued == n);
            k += (uint32_t)queued;
            if (queued == 0)
                break;
        }
        if (k % 100 == 0)
            CHECK(nr_injector_flush(inj) == NR_OK);
    }
    rc = nr_injector_wait_drained(inj, 5000);
    CHECK(rc == NR_OK);
    CHECK(nr_injector_get_stats(inj, &st, NULL) == NR_OK);
    CHECK(st.sent == count && st.pending == 0 && st.rejected == 0);
    printf("RESULT sent=%" PRIu64 " rejected=%" PRIu64 " pending=%u failures=%d\n", st.sent, st.rejected,
           st.pending, failures);
    nr_injector_close(inj);
    nr_injector_close(NULL);
    return failures ? 1 : 0;
}
