/* hello: the smallest complete netring program. Captures N packets on an
 * interface and prints their sizes. Build and run (as root):
 *
 *   cc hello.c $(pkg-config --cflags --libs netring) -o hello
 *   ./hello eth0 10
 */
#include <netring.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *ifname = argc > 1 ? argv[1] : "eth0";
    unsigned long want = argc > 2 ? strtoul(argv[2], NULL, 10) : 10, got = 0;

    nr_capture_config cfg;
    NR_CAPTURE_CONFIG_INIT(&cfg);                 /* the library's defaults */
    cfg.block_timeout_ms = 10;                    /* hand over a block after 10 ms */
    nr_capture *cap;
    if (nr_capture_open(ifname, &cfg, &cap) != NR_OK) {
        fprintf(stderr, "hello: %s\n", nr_last_error());   /* says what to do */
        return 1;
    }
    nr_packet pkts[64];
    while (got < want) {
        nr_batch *batch;
        int rc = nr_next_batch(cap, 1000, &batch);   /* one ring block, zero copy */
        if (rc < 0) {                                /* NR_E_*: an error */
            fprintf(stderr, "hello: %s\n", nr_last_error());
            break;
        }
        if (rc != NR_OK)                             /* NR_TIMEOUT, NR_IFACE_DOWN: wait on */
            continue;
        size_t n;
        while (nr_batch_fill(batch, pkts, 64, &n) == NR_OK && n > 0)
            for (size_t i = 0; i < n && got < want; i++, got++)
                printf("packet %lu: %u bytes (%u on the wire)\n", got + 1, pkts[i].caplen, pkts[i].len);
        nr_batch_release(batch);                     /* the block goes back to the kernel */
    }
    nr_capture_close(cap);
    return got == want ? 0 : 1;
}
