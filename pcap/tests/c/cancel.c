/* pthread_cancel on a thread blocked in a pcap call: the thread must end
 * with PTHREAD_CANCELED, the process go on, the handle stay usable
 * (pcap_stats) and close. Same source on the system libpcap and on the
 * drop-in.
 *
 * usage: cancel IFACE MODE REPS
 *   MODE loop | dispatch | next_ex | next: blocked waiting (a filter that
 *   matches nothing but the frames this program sends: none here);
 *   MODE callback: inside pcap_loop's callback, blocked in sleep();
 *   MODE offline: the same on a savefile (IFACE is then its path).
 * Each repetition cancels after a different delay (0 to ~30 ms after the
 * thread started, or after the callback was entered). Prints
 * "cancelled N of N" and exits 0 when every thread ended cancelled. */
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pcap_t *p;
static volatile int in_callback;
static const char *mode;

static void cb_block(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
    (void)u; (void)h; (void)d;
    in_callback = 1;
    for (;;)
        sleep(100);
}

static void cb_none(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
    (void)u; (void)h; (void)d;
}

static void *reader(void *arg)
{
    (void)arg;
    struct pcap_pkthdr *h;
    const u_char *d;
    struct pcap_pkthdr hdr;
    for (;;) {
        if (!strcmp(mode, "loop"))
            pcap_loop(p, -1, cb_none, NULL);
        else if (!strcmp(mode, "dispatch"))
            pcap_dispatch(p, -1, cb_none, NULL);
        else if (!strcmp(mode, "next_ex"))
            pcap_next_ex(p, &h, &d);
        else if (!strcmp(mode, "next"))
            pcap_next(p, &hdr);
        else
            pcap_loop(p, -1, cb_block, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: cancel IFACE MODE REPS\n");
        return 2;
    }
    mode = argv[2];
    int reps = atoi(argv[3]), cancelled = 0;
    char err[PCAP_ERRBUF_SIZE];
    int offline = !strcmp(mode, "offline");
    pcap_t *tx = offline ? pcap_open_dead(DLT_EN10MB, 256) : pcap_open_live(argv[1], 256, 0, 10, err);
    if (!tx) {
        printf("open_live: %s\n", err);
        return 1;
    }
    /* A frame of a local experimental EtherType, broadcast. */
    unsigned char frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5};
    for (int i = 0; i < reps; i++) {
        if (offline) {
            p = pcap_open_offline(argv[1], err);
            if (!p) {
                printf("open_offline: %s\n", err);
                return 1;
            }
            goto opened;
        }
        p = pcap_create(argv[1], err);
        if (!p) {
            printf("create: %s\n", err);
            return 1;
        }
        pcap_set_timeout(p, 0);
        pcap_set_snaplen(p, 256);
        if (pcap_activate(p) < 0) {
            printf("activate: %s\n", pcap_geterr(p));
            return 1;
        }
        struct bpf_program prog;
        if (pcap_compile(p, &prog, "ether proto 0x88b5", 1, PCAP_NETMASK_UNKNOWN) < 0 ||
            pcap_setfilter(p, &prog) < 0) {
            printf("filter: %s\n", pcap_geterr(p));
            return 1;
        }
        pcap_freecode(&prog);
    opened:
        in_callback = 0;
        pthread_t t;
        pthread_create(&t, NULL, reader, NULL);
        if (!strcmp(mode, "callback") || offline) {
            for (int k = 0; k < 5000 && !in_callback; k++) {
                if (!offline)
                    pcap_inject(tx, frame, sizeof frame);
                usleep(1000);
            }
        }
        usleep((useconds_t)((i * 7919) % 30000));
        pthread_cancel(t);
        void *res;
        pthread_join(t, &res);
        if (res == PTHREAD_CANCELED)
            cancelled++;
        else
            printf("repetition %d: the thread was not cancelled\n", i);
        struct pcap_stat st;
        if (!offline && pcap_stats(p, &st) != 0)
            printf("repetition %d: pcap_stats after the cancel: %s\n", i, pcap_geterr(p));
        pcap_close(p);
    }
    pcap_close(tx);
    printf("cancelled %d of %d\n", cancelled, reps);
    return cancelled == reps ? 0 : 1;
}
