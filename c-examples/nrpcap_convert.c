/*
 * nrpcap_convert: copy a capture file, converting its format.
 *
 *   nrpcap_convert [-F pcap|pcap-ns|pcapng] [-s SNAPLEN] [-C MB] [-W FILES] IN OUT
 *
 * Reads IN (pcap or pcapng, either byte order, any resolution; "-" for
 * stdin) batch by batch and writes every batch straight from the reader's
 * buffer with nr_writer_write_batch(). -C/-W rotate the output like
 * tcpdump (OUT, OUT1, OUT2, ... or OUT0..OUT(W-1)).
 *
 * The same calls write a live capture: replace nr_reader_next_batch() by
 * nr_next_batch(cap, timeout, &batch), and before nr_writer_close() pass
 * the capture's counts with nr_writer_set_stats(w, st.packets + st.drops,
 * st.drops).
 */
#include <netring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "usage: nrpcap_convert [-F pcap|pcap-ns|pcapng] [-s SNAPLEN] "
                    "[-C MB] [-W FILES] IN OUT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int format = NR_FORMAT_PCAPNG;
    nr_writer_config cfg;
    int opt, rc;

    if (nr_writer_config_init(&cfg, sizeof cfg) != NR_OK)
        return 1;
    while ((opt = getopt(argc, argv, "F:s:C:W:")) != -1) {
        switch (opt) {
        case 'F':
            if (strcmp(optarg, "pcap") == 0)
                format = NR_FORMAT_PCAP;
            else if (strcmp(optarg, "pcap-ns") == 0)
                format = NR_FORMAT_PCAP_NS;
            else if (strcmp(optarg, "pcapng") == 0)
                format = NR_FORMAT_PCAPNG;
            else
                usage();
            break;
        case 's': cfg.snaplen = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'C': cfg.rotate_bytes = strtoull(optarg, NULL, 0) * 1000000ull; break;
        case 'W': cfg.rotate_files = (uint32_t)strtoul(optarg, NULL, 0); break;
        default: usage();
        }
    }
    if (argc - optind != 2)
        usage();

    nr_reader *r = NULL;
    rc = strcmp(argv[optind], "-") == 0 ? nr_reader_open_fd(dup(0), &r)
                                         : nr_reader_open(argv[optind], &r);
    if (rc != NR_OK) {
        fprintf(stderr, "nrpcap_convert: %s: %s\n", nr_strerror(rc), nr_last_error());
        return 1;
    }
    nr_reader_info info;
    nr_reader_get_info(r, &info);
    cfg.link_type = info.link_type;
    if (info.snaplen != 0 && cfg.snaplen > info.snaplen)
        cfg.snaplen = info.snaplen;

    nr_writer *w = NULL;
    rc = nr_writer_open(argv[optind + 1], format, &cfg, &w);
    if (rc != NR_OK) {
        fprintf(stderr, "nrpcap_convert: %s: %s\n", nr_strerror(rc), nr_last_error());
        nr_reader_close(r);
        return 1;
    }

    unsigned long long packets = 0;
    nr_batch *b;
    while ((rc = nr_reader_next_batch(r, &b)) == NR_OK) {
        packets += nr_batch_len(b);
        int wrc = nr_writer_write_batch(w, b);
        nr_batch_release(b);
        if (wrc != NR_OK) {
            rc = wrc;
            break;
        }
    }
    int status = 0;
    if (rc != NR_EOF) {
        /* A corrupt or truncated input: the packets before it are kept. */
        fprintf(stderr, "nrpcap_convert: %s: %s\n", nr_strerror(rc), nr_last_error());
        status = 1;
    }
    nr_reader_close(r);
    if ((rc = nr_writer_close(w)) != NR_OK) {
        fprintf(stderr, "nrpcap_convert: %s: %s\n", nr_strerror(rc), nr_last_error());
        status = 1;
    }
    fprintf(stderr, "%llu packets\n", packets);
    return status;
}
