/*
 * C API test for capture files: write with nr_writer_write_packet in every
 * format, read back with nr_reader_next_batch/nr_batch_for_each and
 * nr_reader_next_packet, convert with nr_writer_write_batch, and check
 * the documented statuses for corrupt and truncated files.
 *
 * Usage: pcapfile DIR   (a scratch directory). Exit status 0 = pass.
 */
#define _XOPEN_SOURCE 700 /* truncate() */
#include <netring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_FATAL 1
#include "check.h"

#define N 2000

static uint8_t frames[N][1514];
static uint32_t lens[N];

static uint64_t ts_of(int i) { return 1700000000123456789ull + (uint64_t)i * 1000001ull; }

struct check {
    int next;
    int ns; /* timestamps kept to the nanosecond */
};

static int on_packet(void *user, const nr_packet *p)
{
    struct check *c = user;
    int i = c->next++;
    CHECK(i < N);
    CHECK(p->caplen == lens[i] && p->len == lens[i]);
    CHECK(memcmp(p->data, frames[i], lens[i]) == 0);
    CHECK(p->ts_ns == (c->ns ? ts_of(i) : ts_of(i) / 1000 * 1000));
    return 0;
}

static void write_file(const char *path, int format)
{
    nr_writer *w = NULL;
    CHECK(nr_writer_open(path, format, NULL, &w) == NR_OK);
    for (int i = 0; i < N; i++) {
        nr_packet p;
        memset(&p, 0, sizeof p);
        p.data = frames[i];
        p.caplen = p.len = lens[i];
        p.ts_ns = ts_of(i);
        CHECK(nr_writer_write_packet(w, &p) == NR_OK);
    }
    CHECK(nr_writer_set_stats(w, N, 0) == NR_OK);
    CHECK(nr_writer_close(w) == NR_OK);
}

static void read_batches(const char *path, int want_format, int ns, nr_writer *copy)
{
    nr_reader *r = NULL;
    nr_reader_info info;
    nr_batch *b;
    struct check c = {0, ns};
    int rc;

    CHECK(nr_reader_open(path, &r) == NR_OK);
    CHECK(nr_reader_get_info(r, &info) == NR_OK);
    CHECK((int)info.format == want_format && info.link_type == NR_LINKTYPE_ETHERNET);
    while ((rc = nr_reader_next_batch(r, &b)) == NR_OK) {
        CHECK(nr_batch_len(b) > 0);
        CHECK(nr_batch_for_each(b, on_packet, &c) == NR_OK);
        if (copy)
            CHECK(nr_writer_write_batch(copy, b) == NR_OK);
        CHECK(nr_batch_release(b) == NR_OK);
        CHECK(nr_batch_release(b) == NR_E_BAD_BATCH);
    }
    CHECK(rc == NR_EOF);
    CHECK(c.next == N);
    nr_reader_close(r);
}

static void read_packets(const char *path, int ns)
{
    nr_reader *r = NULL;
    const nr_packet *p;
    struct check c = {0, ns};
    int rc;

    CHECK(nr_reader_open(path, &r) == NR_OK);
    while ((rc = nr_reader_next_packet(r, &p)) == NR_OK)
        on_packet(&c, p);
    CHECK(rc == NR_EOF && c.next == N);
    nr_reader_close(r);
}

int main(int argc, char **argv)
{
    char a[4096], b[4096], bad[4096];
    if (argc != 2) {
        fprintf(stderr, "usage: pcapfile DIR\n");
        return 2;
    }
    for (int i = 0; i < N; i++) {
        lens[i] = 60 + (uint32_t)(i * 37) % 1455;
        for (uint32_t j = 0; j < lens[i]; j++)
            frames[i][j] = (uint8_t)(i * 31 + j);
    }
    snprintf(a, sizeof a, "%s/c-a.cap", argv[1]);
    snprintf(b, sizeof b, "%s/c-b.cap", argv[1]);
    snprintf(bad, sizeof bad, "%s/c-bad.cap", argv[1]);

    int formats[3] = {NR_FORMAT_PCAP, NR_FORMAT_PCAP_NS, NR_FORMAT_PCAPNG};
    for (int f = 0; f < 3; f++) {
        int ns = formats[f] != NR_FORMAT_PCAP;
        write_file(a, formats[f]);
        /* Convert to the next format while reading. */
        int to = formats[(f + 1) % 3];
        nr_writer *w = NULL;
        CHECK(nr_writer_open(b, to, NULL, &w) == NR_OK);
        read_batches(a, formats[f], ns, w);
        CHECK(nr_writer_close(w) == NR_OK);
        read_packets(a, ns);
        read_batches(b, to, ns && to != NR_FORMAT_PCAP, NULL);
    }

    /* Not a capture file. */
    FILE *fp = fopen(bad, "w");
    CHECK(fp);
    fputs("definitely not a capture file", fp);
    fclose(fp);
    nr_reader *r = NULL;
    CHECK(nr_reader_open(bad, &r) == NR_E_MALFORMED && r == NULL);
    CHECK(strstr(nr_last_error(), "byte offset 0") != NULL);

    /* Truncated: the first packets come, then NR_E_MALFORMED, again and again. */
    write_file(a, NR_FORMAT_PCAPNG);
    fp = fopen(a, "r+");
    CHECK(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    CHECK(truncate(a, size - 100) == 0);
    CHECK(nr_reader_open(a, &r) == NR_OK);
    nr_batch *batch;
    int rc, got = 0;
    while ((rc = nr_reader_next_batch(r, &batch)) == NR_OK) {
        got += (int)nr_batch_len(batch);
        nr_batch_release(batch);
    }
    CHECK(rc == NR_E_MALFORMED);
    CHECK(strstr(nr_last_error(), "byte offset") != NULL);
    CHECK(got > 0 && got < N);
    CHECK(nr_reader_next_batch(r, &batch) == NR_E_MALFORMED);
    nr_reader_close(r);

    /* Arguments. */
    CHECK(nr_writer_open(a, 42, NULL, NULL) == NR_E_INVALID_ARG);
    CHECK(nr_reader_open(NULL, &r) == NR_E_INVALID_ARG);
    CHECK(nr_writer_close(NULL) == NR_OK);
    nr_reader_close(NULL);
    CHECK(strcmp(nr_strerror(NR_EOF), "end of file") == 0);

    remove(a);
    remove(b);
    remove(bad);
    printf("pcapfile: ok\n");
    return 0;
}
