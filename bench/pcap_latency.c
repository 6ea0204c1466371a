/* pcap_latency.c - delivery latency of a libpcap program in immediate mode.
 *
 * pcap_create + snaplen 256 + promisc off + timeout 1000 ms + immediate
 * mode + nanosecond time stamps, then pcap_loop with a callback that takes
 * the time (CLOCK_REALTIME) and stores now - the packet's time stamp: how
 * long after the kernel stamped a frame the program sees it.  Built against
 * libpcap; bench/latency.sh runs it on the system libpcap and on netring's
 * drop-in (LD_LIBRARY_PATH=build/prefix/lib/netring).
 *
 * usage: pcap_latency IFACE          (runs until SIGINT/SIGTERM)
 * env:   CB_LAT_IMMEDIATE=0 turns immediate mode off (for comparison)
 *        CB_LAT_SPIN=1 never sleeps: non-blocking pcap_dispatch in a loop
 *        (the latency without the consumer's wake-up, for comparison)
 * prints on exit:
 *   RESULT packets=N drops=N
 *   LATENCY n=N p50_us=X p99_us=X max_us=X     (same line as nrcap --latency)
 */
#define _GNU_SOURCE
#include "common.h"

#include <inttypes.h>
#include <pcap/pcap.h>

#define LAT_MAX (1u << 22)

static pcap_t *g_pcap;
static uint32_t *g_lat; /* tenths of a microsecond */
static uint64_t g_n, g_packets;
static int g_nano;

static void on_sig(int sig)
{
    (void)sig;
    cb_stop = 1;
    if (g_pcap) pcap_breakloop(g_pcap);
}

static void handler(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    (void)user;
    (void)bytes;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t t = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec * (g_nano ? 1 : 1000);
    int64_t d = t > ts ? (t - ts) / 100 : 0;
    g_packets++;
    if (g_n < LAT_MAX) g_lat[g_n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s IFACE\n", argv[0]);
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    g_lat = malloc(LAT_MAX * sizeof g_lat[0]);
    if (!g_lat) { fprintf(stderr, "out of memory\n"); return 1; }
    pcap_t *p = pcap_create(argv[1], err);
    if (!p) { fprintf(stderr, "pcap_create: %s\n", err); return 1; }
    const char *imm = getenv("CB_LAT_IMMEDIATE");
    pcap_set_snaplen(p, 256);
    pcap_set_promisc(p, 0);
    pcap_set_timeout(p, 1000);
    pcap_set_immediate_mode(p, !(imm && *imm == '0'));
    g_nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int rc = pcap_activate(p);
    if (rc < 0) { fprintf(stderr, "pcap_activate: %s\n", pcap_geterr(p)); return 1; }
    if (rc > 0) fprintf(stderr, "pcap_activate warning: %s\n", pcap_geterr(p));
    g_nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    g_pcap = p;

    cb_install_handler(on_sig);
    fprintf(stderr, "pcap_latency: %s, %s, %s time stamps, %s\n", argv[1],
            imm && *imm == '0' ? "immediate mode off" : "immediate mode",
            g_nano ? "ns" : "us", pcap_lib_version());

    const char *spin = getenv("CB_LAT_SPIN");
    if (spin && *spin == '1' && pcap_setnonblock(p, 1, err) < 0) {
        fprintf(stderr, "pcap_setnonblock: %s\n", err);
        return 1;
    }
    while (!cb_stop) {
        rc = spin && *spin == '1' ? pcap_dispatch(p, -1, handler, NULL) : pcap_loop(p, -1, handler, NULL);
        if (rc == PCAP_ERROR) { fprintf(stderr, "pcap_loop: %s\n", pcap_geterr(p)); break; }
        if (rc == PCAP_ERROR_BREAK) break;
    }
    struct pcap_stat ps;
    memset(&ps, 0, sizeof(ps));
    if (pcap_stats(p, &ps) < 0) fprintf(stderr, "pcap_stats: %s\n", pcap_geterr(p));
    printf("RESULT packets=%" PRIu64 " drops=%u\n", g_packets, ps.ps_drop);
    if (g_n) {
        qsort(g_lat, g_n, sizeof g_lat[0], cmp_u32);
        printf("LATENCY n=%" PRIu64 " p50_us=%.1f p99_us=%.1f max_us=%.1f\n", g_n,
               g_lat[(g_n - 1) * 50 / 100] / 10.0, g_lat[(g_n - 1) * 99 / 100] / 10.0, g_lat[g_n - 1] / 10.0);
    } else {
        printf("LATENCY n=0\n");
    }
    fflush(stdout);
    pcap_close(p);
    free(g_lat);
    return 0;
}
