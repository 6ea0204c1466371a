/*
 * Capture options through the C API, on real traffic sent by the Rust
 * driver (tests/options_c.rs):
 *
 *   test_options IFACE NETNS
 *
 * Opens the captures below in network namespace NETNS (the program itself
 * stays in its own), prints "READY", waits for a line on stdin (the driver
 * sends 10 UDP frames to port 53 and 10 to port 54, 300 bytes each, from
 * the peer), then checks what each capture got and prints "OK".
 */
#include <netring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_FATAL 1
#include "check.h"

struct tally {
    unsigned packets, short_caps, sw_ts, udp53;
};

static int on_packet(void *user, const nr_packet *p)
{
    struct tally *t = user;
    if (p->caplen < 14 || p->data[12] != 0x08 || p->data[13] != 0x00)
        return 0; /* only our IPv4 frames */
    t->packets++;
    if (p->caplen == 100 && p->len == 300)
        t->short_caps++;
    if (p->flags & NR_PACKET_FLAG_TS_SOFTWARE)
        t->sw_ts++;
    if (p->caplen >= 38 && p->data[36] == 0 && p->data[37] == 53)
        t->udp53++;
    return 0;
}

static struct tally drain(nr_capture *cap)
{
    struct tally t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < 10; i++) {
        nr_batch *b;
        int rc = nr_next_batch(cap, 30, &b);
        if (rc == NR_OK) {
            CHECK(nr_batch_for_each(b, on_packet, &t) == NR_OK);
            CHECK(nr_batch_release(b) == NR_OK);
        } else {
            CHECK(rc == NR_TIMEOUT);
        }
    }
    return t;
}

static void base(nr_capture_config *cfg, const char *ns)
{
    NR_CAPTURE_CONFIG_INIT(cfg);
    cfg->block_size = 64u << 10;
    cfg->block_count = 8;
    cfg->block_timeout_ms = 5;
    cfg->netns = ns;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_options IFACE NETNS\n");
        return 2;
    }
    const char *ifname = argv[1], *ns = argv[2];
    nr_capture_config cfg;

    /* Classic filter "udp dst port 53" (ldh [36]; jeq #53; ret #65535; ret #0,
     * after an IPv4/UDP check), snap length 100: accepted frames are cut. */
    static const nr_bpf_insn port53[] = {
        {0x28, 0, 0, 12}, {0x15, 0, 5, 0x0800}, {0x30, 0, 0, 23}, {0x15, 0, 3, 17},
        {0x28, 0, 0, 36}, {0x15, 0, 1, 53},     {0x06, 0, 0, 65535}, {0x06, 0, 0, 0},
    };
    nr_capture *filt;
    base(&cfg, ns);
    cfg.filter = port53;
    cfg.filter_len = sizeof port53 / sizeof port53[0];
    cfg.snaplen = 100;
    CHECK(nr_capture_open(ifname, &cfg, &filt) == NR_OK);

    /* Fanout: two members of one load-balance group. */
    nr_capture *fo[2];
    base(&cfg, ns);
    cfg.fanout_mode = NR_FANOUT_LB;
    cfg.fanout_group = 4242;
    for (int i = 0; i < 2; i++) {
        CHECK(nr_capture_open(ifname, &cfg, &fo[i]) == NR_OK);
        nr_capture_info info;
        CHECK(nr_capture_get_info(fo[i], &info) == NR_OK);
        CHECK(info.fanout_joined && info.fanout_group == 4242);
        CHECK(info.warning == NULL);
    }
    /* Same group, other mode: refused, naming the option. */
    nr_capture *bad = NULL;
    cfg.fanout_mode = NR_FANOUT_HASH;
    CHECK(nr_capture_open(ifname, &cfg, &bad) == NR_E_CONFIG);
    CHECK(strstr(nr_last_error(), "fanout group 4242") != NULL);
    CHECK(bad == NULL);

    /* Hardware timestamps on veth: fallback reported, or a clear refusal. */
    nr_capture *ts;
    base(&cfg, ns);
    cfg.tstamp = NR_TSTAMP_HW_RAW;
    CHECK(nr_capture_open(ifname, &cfg, &ts) == NR_OK);
    nr_capture_info info;
    CHECK(nr_capture_get_info(ts, &info) == NR_OK);
    CHECK(info.tstamp_fallback && info.tstamp_source == NR_TSTAMP_SOFTWARE);
    CHECK(info.warning && strstr(info.warning, "SIOCSHWTSTAMP"));
    cfg.tstamp_fallback = false;
    CHECK(nr_capture_open(ifname, &cfg, &bad) == NR_E_UNSUPPORTED);
    CHECK(strstr(nr_last_error(), "timestamp") != NULL);

    /* Direction out: frames from the peer are incoming, so none. */
    nr_capture *out;
    base(&cfg, ns);
    cfg.direction = NR_DIRECTION_OUT;
    CHECK(nr_capture_open(ifname, &cfg, &out) == NR_OK);

    /* A profile, then still adjustable. */
    nr_capture *prof;
    base(&cfg, ns);
    CHECK(nr_capture_config_apply_profile(&cfg, NR_PROFILE_LOW_LATENCY) == NR_OK);
    CHECK(cfg.block_size == 256u << 10 && cfg.block_timeout_ms == 1 && cfg.busy_poll_us == 50);
    cfg.block_count = 8;
    CHECK(nr_capture_open(ifname, &cfg, &prof) == NR_OK);
    CHECK(nr_capture_config_apply_profile(&cfg, 77) == NR_E_INVALID_ARG);

    /* Bad C values are named. */
    base(&cfg, ns);
    cfg.direction = 7;
    CHECK(nr_capture_open(ifname, &cfg, &bad) == NR_E_CONFIG);
    CHECK(strstr(nr_last_error(), "direction 7") != NULL);

    printf("READY\n");
    fflush(stdout);
    char line[64];
    CHECK(fgets(line, sizeof line, stdin) != NULL);

    struct tally t = drain(filt);
    CHECK(t.packets == 10 && t.short_caps == 10 && t.udp53 == 10);
    nr_capture_stats st;
    CHECK(nr_capture_get_stats(filt, &st, NULL) == NR_OK);
    CHECK(st.packets == 10);
    struct tally a = drain(fo[0]), b = drain(fo[1]);
    CHECK(a.packets + b.packets == 20 && a.packets > 0 && b.packets > 0);
    t = drain(ts);
    CHECK(t.packets == 20 && t.sw_ts == 20);
    t = drain(out);
    CHECK(t.packets == 0);
    t = drain(prof);
    CHECK(t.packets == 20);
    /* Runtime filter change: detach (NULL, 0) is accepted, a bad program is named. */
    CHECK(nr_capture_set_filter(filt, NULL, 0) == NR_OK);
    static const nr_bpf_insn jump_out[] = {{0x15, 9, 0, 0}};
    CHECK(nr_capture_set_filter(filt, jump_out, 1) == NR_E_CONFIG);
    CHECK(strstr(nr_last_error(), "instruction 0") != NULL);

    nr_capture_close(filt);
    nr_capture_close(fo[0]);
    nr_capture_close(fo[1]);
    nr_capture_close(ts);
    nr_capture_close(out);
    nr_capture_close(prof);
    printf("OK\n");
    return 0;
}
