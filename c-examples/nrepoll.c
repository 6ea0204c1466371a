/*
 * nrepoll — one thread, one epoll set serving a capture, an injector, a
 * timer and the signals, with netring's non-blocking calls. This is the
 * pattern for event loops (libuv, libevent, GLib, ...):
 *
 *   capture   watch nr_capture_fd() for READ; when it fires, drain with
 *             nr_next_batch(cap, 0, &b) until it returns NR_TIMEOUT
 *             (timeout 0 never waits). TPACKET_V3 wakes the fd per block,
 *             so a short block_timeout_ms bounds the latency.
 *   injector  write frames with nr_injector_alloc(inj, 0, ...) +
 *             nr_injector_send(), then nr_injector_flush() (MSG_DONTWAIT,
 *             never blocks). When alloc says NR_TIMEOUT every slot is
 *             queued: flush once, and if still full, watch nr_injector_fd()
 *             for WRITE and resume when it fires. Nothing is dropped: the
 *             frame that did not fit is simply built later.
 *   timer     a timerfd paces the sender (and retries a flush, so the loop
 *             never depends on one wake-up alone).
 *   signals   a signalfd: SIGINT/SIGTERM end the loop between events.
 *
 * In libuv: uv_poll_init(loop, &h, nr_capture_fd(cap)) + uv_poll_start(&h,
 * UV_READABLE, cb), the same for nr_injector_fd() with UV_WRITABLE only
 * while blocked, and uv_timer_t for the timer; in libevent: event_new(base,
 * fd, EV_READ | EV_PERSIST, cb, arg). The callbacks are the functions
 * below (drain_capture, pump_injector).
 *
 *   nrepoll -i CAPIF -o TXIF [-n FRAMES] [-b BURST] [-t TICK_MS] [-c EXPECT]
 *           [-T IDLE_S] [-q]
 *
 * Every TICK_MS (default 10) the timer allows BURST (default 100) more
 * frames to be injected on TXIF, until FRAMES (default 1000) were: UDP
 * 198.18.0.1:2222 > 198.18.0.2:9, 60 bytes, a 4-byte sequence number as the
 * payload's start, to MAC 02:cb:00:00:00:ff. The injector has 64 slots, so
 * a burst fills it and the write-wait path runs.
 *
 * Every frame captured on CAPIF is parsed (nr_packet_parse); IPv4 UDP to
 * port 9 is counted ("own" when the source port is 2222, else "other") and,
 * unless -q, printed as
 *
 *   rx sport=<port> seq=<first 4 payload bytes, big endian> len=<caplen> fnv=<FNV-1a 32 of the frame>
 *
 * It stops when every frame was injected and handed to the kernel and at
 * least EXPECT (default FRAMES) such frames were captured, on
 * SIGINT/SIGTERM, or after IDLE_S (default 10) seconds without a captured
 * frame. Then it prints one line on stdout:
 *
 *   RESULT captured=<n> own=<n> other=<n> injected=<n> ticks=<timer expirations>
 *          waits=<times the injector was full> drops=<kernel drops on the capture>
 */
#define _GNU_SOURCE
#include <netring.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { TAG_CAP, TAG_INJ, TAG_TIMER, TAG_SIG };

struct loop {
    int ep;
    nr_capture *cap;
    nr_injector *inj;
    int inj_fd;
    int inj_armed; /* EPOLLOUT requested on the injector fd */
    int quiet;
    uint64_t frames, burst, budget, injected, waits, ticks;
    uint64_t captured, own, other;
};

static void die(const char *what, int rc)
{
    fprintf(stderr, "nrepoll: %s: %s (%s)\n", what, nr_last_error(), nr_strerror(rc));
    exit(1);
}

static uint32_t fnv1a(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int on_packet(void *user, const nr_packet *p)
{
    struct loop *lp = user;
    nr_layers l;
    l.size = sizeof l;
    if (nr_packet_parse(p, &l) != NR_OK || l.l3 != NR_L3_IPV4 || l.l4 != NR_L4_UDP || l.dst_port != 9)
        return 0;
    lp->captured++;
    if (l.src_port == 2222)
        lp->own++;
    else
        lp->other++;
    if (!lp->quiet) {
        const uint8_t *s = p->data + l.payload_off;
        uint32_t seq = l.payload_len >= 4 ? (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3] : 0;
        printf("rx sport=%u seq=%" PRIu32 " len=%u fnv=%08" PRIx32 "\n", l.src_port, seq, p->caplen,
               fnv1a(p->data, p->caplen));
    }
    return 0;
}

/* READ on the capture fd: take every ready block, never wait. */
static void drain_capture(struct loop *lp)
{
    for (;;) {
        nr_batch *b;
        int rc = nr_next_batch(lp->cap, 0, &b);
        if (rc == NR_TIMEOUT || rc == NR_IFACE_DOWN || rc == NR_BREAK)
            return;
        if (rc != NR_OK)
            die("nr_next_batch", rc);
        rc = nr_batch_for_each(b, on_packet, lp);
        nr_batch_release(b);
        if (rc != NR_OK)
            die("nr_batch_for_each", rc);
    }
}

static void arm_injector(struct loop *lp, int on)
{
    if (lp->inj_armed == on)
        return;
    struct epoll_event ev = {.events = on ? EPOLLOUT : 0, .data.u32 = TAG_INJ};
    if (epoll_ctl(lp->ep, EPOLL_CTL_MOD, lp->inj_fd, &ev) != 0) {
        perror("nrepoll: epoll_ctl");
        exit(1);
    }
    lp->inj_armed = on;
}

static size_t build_frame(uint8_t *f, uint32_t seq)
{
    static const uint8_t head[] = {
        0x02, 0xcb, 0x00, 0x00, 0x00, 0xff, 0x02, 0x6e, 0x72, 0x00, 0x00, 0x02, 0x08, 0x00, /* Ethernet */
        0x45, 0x00, 0x00, 0x2e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,             /* IPv4 */
        198,  18,   0,    1,    198,  18,   0,    2,                                        /* addresses */
        0x08, 0xae, 0x00, 0x09, 0x00, 0x1a, 0x00, 0x00,                                     /* UDP 2222 > 9 */
    };
    memcpy(f, head, sizeof head);
    uint8_t *pl = f + sizeof head;
    pl[0] = (uint8_t)(seq >> 24);
    pl[1] = (uint8_t)(seq >> 16);
    pl[2] = (uint8_t)(seq >> 8);
    pl[3] = (uint8_t)seq;
    for (size_t i = 4; i < 18; i++)
        pl[i] = (uint8_t)(seq + i);
    return sizeof head + 18; /* 60 bytes */
}

/* Timer tick or WRITE on the injector fd: build frames while the budget
 * lasts and a slot is free, then hand them to the kernel. Never waits. */
static void pump_injector(struct loop *lp)
{
    while (lp->budget > 0 && lp->injected < lp->frames) {
        uint8_t *buf;
        size_t cap;
        int rc = nr_injector_alloc(lp->inj, 0, &buf, &cap);
        if (rc == NR_TIMEOUT) { /* every slot queued: push them out, try once more */
            if ((rc = nr_injector_flush(lp->inj)) != NR_OK)
                die("nr_injector_flush", rc);
            rc = nr_injector_alloc(lp->inj, 0, &buf, &cap);
        }
        if (rc == NR_TIMEOUT) { /* still full: resume when the fd is writable */
            lp->waits++;
            arm_injector(lp, 1);
            return;
        }
        if (rc != NR_OK)
            die("nr_injector_alloc", rc);
        if ((rc = nr_injector_send(lp->inj, build_frame(buf, (uint32_t)lp->injected))) != NR_OK)
            die("nr_injector_send", rc);
        lp->injected++;
        lp->budget--;
    }
    int rc = nr_injector_flush(lp->inj);
    if (rc != NR_OK)
        die("nr_injector_flush", rc);
    arm_injector(lp, 0);
}

/* Every frame marked for sending was taken by the kernel. */
static int injector_drained(struct loop *lp)
{
    nr_injector_stats s;
    int rc = nr_injector_get_stats(lp->inj, &s, NULL);
    if (rc != NR_OK)
        die("nr_injector_stats", rc);
    return s.pending == 0;
}

static void add_fd(int ep, int fd, uint32_t events, uint32_t tag)
{
    struct epoll_event ev = {.events = events, .data.u32 = tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("nrepoll: epoll_ctl");
        exit(1);
    }
}

static uint64_t num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || end == s) {
        fprintf(stderr, "nrepoll: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *capif = NULL, *txif = NULL;
    uint64_t tick_ms = 10, expect = UINT64_MAX, idle_s = 10;
    struct loop lp = {.frames = 1000, .burst = 100, .inj_fd = -1};
    int opt;
    while ((opt = getopt(argc, argv, "i:o:n:b:t:c:T:q")) != -1) {
        switch (opt) {
        case 'i': capif = optarg; break;
        case 'o': txif = optarg; break;
        case 'n': lp.frames = num(optarg, "frame count"); break;
        case 'b': lp.burst = num(optarg, "burst"); break;
        case 't': tick_ms = num(optarg, "tick"); break;
        case 'c': expect = num(optarg, "expected count"); break;
        case 'T': idle_s = num(optarg, "idle time"); break;
        case 'q': lp.quiet = 1; break;
        default:
            fprintf(stderr, "usage: nrepoll -i CAPIF -o TXIF [-n FRAMES] [-b BURST] [-t TICK_MS] [-c EXPECT] "
                            "[-T IDLE_S] [-q]\n");
            return 2;
        }
    }
    if (!capif || !txif || tick_ms == 0) {
        fprintf(stderr, "nrepoll: -i CAPIF and -o TXIF are required (and TICK_MS > 0)\n");
        return 2;
    }
    if (expect == UINT64_MAX)
        expect = lp.frames;

    /* Signals arrive through a signalfd, between events. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

    nr_capture_config cc;
    NR_CAPTURE_CONFIG_INIT(&cc);
    cc.block_size = 256 * 1024; /* 16 x 256 KiB: small, and 16 block timeouts of slack */
    cc.block_count = 16;
    cc.block_timeout_ms = 20; /* a block (and so the fd) is ready within 20 ms */
    int rc = nr_capture_open(capif, &cc, &lp.cap);
    if (rc != NR_OK)
        die("nr_capture_open", rc);
    nr_injector_config ic;
    NR_INJECTOR_CONFIG_INIT(&ic);
    ic.frame_count = 64;
    ic.wait_timeout_ms = 0;
    if ((rc = nr_injector_open(txif, &ic, &lp.inj)) != NR_OK)
        die("nr_injector_open", rc);

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec its = {
        .it_interval = {.tv_sec = (time_t)(tick_ms / 1000), .tv_nsec = (long)(tick_ms % 1000) * 1000000L},
    };
    its.it_value = its.it_interval;
    lp.ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || tfd < 0 || lp.ep < 0 || timerfd_settime(tfd, 0, &its, NULL) != 0) {
        perror("nrepoll: signalfd/timerfd/epoll");
        return 1;
    }
    lp.inj_fd = nr_injector_fd(lp.inj);
    add_fd(lp.ep, nr_capture_fd(lp.cap), EPOLLIN, TAG_CAP);
    add_fd(lp.ep, lp.inj_fd, 0, TAG_INJ); /* EPOLLOUT only while the injector is full */
    add_fd(lp.ep, tfd, EPOLLIN, TAG_TIMER);
    add_fd(lp.ep, sfd, EPOLLIN, TAG_SIG);

    int stop = 0;
    double last_rx = now_s();
    while (!stop) {
        struct epoll_event evs[8];
        int n = epoll_wait(lp.ep, evs, 8, 1000);
        if (n < 0 && errno != EINTR) {
            perror("nrepoll: epoll_wait");
            return 1;
        }
        uint64_t before = lp.captured;
        for (int i = 0; i < n; i++) {
            switch (evs[i].data.u32) {
            case TAG_CAP:
                drain_capture(&lp);
                break;
            case TAG_INJ:
                pump_injector(&lp);
                break;
            case TAG_TIMER: {
                uint64_t exp;
                if (read(tfd, &exp, sizeof exp) == (ssize_t)sizeof exp) {
                    lp.ticks += exp;
                    lp.budget += exp * lp.burst;
                }
                pump_injector(&lp);
                break;
            }
            case TAG_SIG:
                stop = 1;
                break;
            }
        }
        if (lp.captured != before)
            last_rx = now_s();
        if (lp.injected == lp.frames && lp.captured >= expect && injector_drained(&lp))
            stop = 1;
        if (now_s() - last_rx > (double)idle_s) {
            fprintf(stderr, "nrepoll: nothing captured for %" PRIu64 " s, stopping\n", idle_s);
            stop = 1;
        }
    }
    nr_capture_stats st = {0};
    if ((rc = nr_capture_get_stats(lp.cap, &st, NULL)) != NR_OK)
        die("nr_capture_stats", rc);
    printf("RESULT captured=%" PRIu64 " own=%" PRIu64 " other=%" PRIu64 " injected=%" PRIu64 " ticks=%" PRIu64
           " waits=%" PRIu64 " drops=%" PRIu64 "\n",
           lp.captured, lp.own, lp.other, lp.injected, lp.ticks, lp.waits, st.drops);
    nr_injector_close(lp.inj);
    nr_capture_close(lp.cap);
    close(tfd);
    close(sfd);
    close(lp.ep);
    return 0;
}
