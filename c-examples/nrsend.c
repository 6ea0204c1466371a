/*
 * nrsend — send UDP/IPv4 test traffic with netring's injector.
 *
 *   nrsend -i IFACE [-n COUNT] [-l LEN] [-t SECONDS] [--dst MAC] [--src MAC]
 *          [-m auto|ring|sendmmsg] [-b] [-F FRAMES]
 *
 * Frames are valid Ethernet/IPv4/UDP, 198.18.0.1:9 -> 198.18.0.2:9, LEN
 * bytes each (60 .. MTU + 14; default 60), to --dst (default
 * 02:cb:00:00:00:ff) from --src (default 02:cb:00:00:00:01). Sends COUNT
 * frames, or for SECONDS, or until SIGINT/SIGTERM (whichever comes first;
 * with neither -n nor -t it runs until a signal). Every frame is built in
 * place in an injector slot (zero copy through the library).
 * -m picks the send path (default auto), -b bypasses the qdisc layer,
 * -F sets the number of slots (default 256).
 *
 * At exit it waits up to 1 s for queued frames and prints on stderr exactly
 *
 *   RESULT sent=<frames the kernel took>
 */
#define _GNU_SOURCE
#include <netring.h>

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255)
            return -1;
        mac[i] = (uint8_t)v[i];
    }
    return 0;
}

static void build_udp(uint8_t *f, size_t len, const uint8_t dst[6], const uint8_t src[6])
{
    memset(f, 0, len);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t *ip = f + 14;
    size_t iplen = len - 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(iplen >> 8);
    ip[3] = (uint8_t)iplen;
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 198, ip[13] = 18, ip[14] = 0, ip[15] = 1;
    ip[16] = 198, ip[17] = 18, ip[18] = 0, ip[19] = 2;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t csum = (uint16_t)~sum;
    ip[10] = (uint8_t)(csum >> 8);
    ip[11] = (uint8_t)csum;
    uint8_t *udp = ip + 20;
    size_t udplen = iplen - 20;
    udp[1] = 9;
    udp[3] = 9;
    udp[4] = (uint8_t)(udplen >> 8);
    udp[5] = (uint8_t)udplen;
    /* UDP checksum 0: none (legal for IPv4). */
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s -i IFACE [-n COUNT] [-l LEN] [-t SECONDS] [--dst MAC] [--src MAC]\n"
            "          [-m auto|ring|sendmmsg] [-b] [-F FRAMES]\n",
            argv0);
}

int main(int argc, char **argv)
{
    const char *ifname = NULL;
    uint64_t count = 0;
    unsigned long len = 60;
    double secs = 0;
    uint8_t dst[6] = {0x02, 0xcb, 0, 0, 0, 0xff};
    uint8_t src[6] = {0x02, 0xcb, 0, 0, 0, 0x01};
    nr_injector_config cfg;
    NR_INJECTOR_CONFIG_INIT(&cfg);
    static const struct option opts[] = {
        {"iface", required_argument, NULL, 'i'}, {"count", required_argument, NULL, 'n'},
        {"len", required_argument, NULL, 'l'},   {"time", required_argument, NULL, 't'},
        {"dst", required_argument, NULL, 'D'},   {"src", required_argument, NULL, 'S'},
        {"mode", required_argument, NULL, 'm'},  {"bypass", no_argument, NULL, 'b'},
        {"frames", required_argument, NULL, 'F'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "i:n:l:t:m:bF:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': ifname = optarg; break;
        case 'n': count = strtoull(optarg, NULL, 10); break;
        case 'l': len = strtoul(optarg, NULL, 10); break;
        case 't': secs = atof(optarg); break;
        case 'D':
            if (parse_mac(optarg, dst) != 0) {
                fprintf(stderr, "nrsend: bad MAC '%s'\n", optarg);
                return 2;
            }
            break;
        case 'S':
            if (parse_mac(optarg, src) != 0) {
                fprintf(stderr, "nrsend: bad MAC '%s'\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (strcmp(optarg, "ring") == 0)
                cfg.mode = NR_TX_RING;
            else if (strcmp(optarg, "sendmmsg") == 0)
                cfg.mode = NR_TX_SENDMMSG;
            else if (strcmp(optarg, "auto") == 0)
                cfg.mode = NR_TX_AUTO;
            else {
                fprintf(stderr, "nrsend: mode must be auto, ring or sendmmsg\n");
                return 2;
            }
            break;
        case 'b': cfg.qdisc_bypass = true; break;
        case 'F': cfg.frame_count = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'h': usage(argv[0]); return 0;
        default: usage(argv[0]); return 2;
        }
    }
    if (!ifname || optind != argc) {
        usage(argv[0]);
        return 2;
    }
    nr_injector *inj = NULL;
    int rc = nr_injector_open(ifname, &cfg, &inj);
    if (rc != NR_OK) {
        fprintf(stderr, "nrsend: %s\n", nr_last_error());
        return 1;
    }
    nr_injector_info info;
    nr_injector_get_info(inj, &info);
    if (len < 60 || len > info.max_frame_len) {
        fprintf(stderr, "nrsend: LEN %lu must be between 60 and %u (MTU + 14, slot size)\n", len,
                info.max_frame_len);
        nr_injector_close(inj);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* empty mask, no flags */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    uint8_t frame[65536];
    build_udp(frame, len, dst, src);
    double deadline = secs > 0 ? now() + secs : 0;
    uint64_t queued = 0;
    int status = 0;
    while (!g_stop && (count == 0 || queued < count)) {
        uint8_t *buf;
        size_t cap;
        rc = nr_injector_alloc(inj, 100, &buf, &cap);
        if (rc == NR_TIMEOUT)
            continue;
        if (rc != NR_OK) {
            fprintf(stderr, "nrsend: %s\n", nr_last_error());
            status = 1;
            break;
        }
        memcpy(buf, frame, len); /* the frame is built in the slot itself */
        rc = nr_injector_send(inj, len);
        if (rc != NR_OK) {
            fprintf(stderr, "nrsend: %s\n", nr_last_error());
            status = 1;
            break;
        }
        queued++;
        if ((queued & 63) == 0) {
            rc = nr_injector_flush(inj);
            if (rc != NR_OK) {
                fprintf(stderr, "nrsend: %s\n", nr_last_error());
                status = 1;
                break;
            }
            if (deadline > 0 && (queued & 1023) == 0 && now() >= deadline)
                break;
        }
    }
    if (nr_injector_wait_drained(inj, 1000) < 0)
        fprintf(stderr, "nrsend: %s\n", nr_last_error());
    nr_injector_stats st;
    memset(&st, 0, sizeof st);
    nr_injector_get_stats(inj, &st, NULL);
    nr_injector_close(inj);
    fprintf(stderr, "RESULT sent=%" PRIu64 "\n", st.sent);
    return status;
}
