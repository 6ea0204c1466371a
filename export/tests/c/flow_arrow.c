/* A C program hands libnetring's flow records on through the Arrow C Data
 * Interface: read a capture file, count its packets into an nr_flow_meter,
 * export the records (struct ArrowSchema / struct ArrowArray, layout-equal
 * to nr_arrow_schema / nr_arrow_array), check the schema and sum the packet
 * columns, release both. Prints "flows N packets P"; exit 0 on success. */
#include <netring.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "flow_arrow: %s: %s (%s)\n", what, nr_strerror(rc), nr_last_error());
    return 1;
}

static int find(const struct nr_arrow_schema *s, const char *name, const char *format)
{
    int64_t i;
    for (i = 0; i < s->n_children; i++) {
        const struct nr_arrow_schema *c = s->children[i];
        if (strcmp(c->name, name) == 0)
            return strcmp(c->format, format) == 0 ? (int)i : -2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct nr_reader *r = NULL;
    struct nr_flow_meter *m = NULL;
    const struct nr_packet *p;
    struct nr_arrow_schema s;
    struct nr_arrow_array a;
    struct nr_flow_stats st;
    unsigned long long n = 0, sum = 0;
    int rc, fwd, rev, ip6;
    int64_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: flow_arrow FILE\n");
        return 2;
    }
    if ((rc = nr_reader_open(argv[1], &r)) != NR_OK)
        return fail("nr_reader_open", rc);
    if ((rc = nr_flow_meter_open(0, 0, 1000, 0, &m)) != NR_OK)
        return fail("nr_flow_meter_open", rc);
    while ((rc = nr_reader_next_packet(r, &p)) == NR_OK) {
        if ((rc = nr_flow_meter_observe(m, p)) != NR_OK)
            return fail("nr_flow_meter_observe", rc);
        n++;
    }
    if (rc != NR_EOF)
        return fail("nr_reader_next_packet", rc);
    if ((rc = nr_flow_meter_flush(m)) != NR_OK)
        return fail("nr_flow_meter_flush", rc);
    if ((rc = nr_flow_meter_export(m, &s, &a)) != NR_OK)
        return fail("nr_flow_meter_export", rc);

    if (strcmp(s.format, "+s") != 0 || s.n_children != 23 || a.n_children != 23 || s.release == NULL ||
        a.release == NULL || s.metadata == NULL) {
        fprintf(stderr, "flow_arrow: unexpected schema/array shape\n");
        return 1;
    }
    fwd = find(&s, "packets_fwd", "L");
    rev = find(&s, "packets_rev", "L");
    ip6 = find(&s, "src_ip6", "w:16");
    if (fwd < 0 || rev < 0 || ip6 < 0 || !(s.children[ip6]->flags & 2)) {
        fprintf(stderr, "flow_arrow: columns not as documented (%d %d %d)\n", fwd, rev, ip6);
        return 1;
    }
    for (i = 0; i < a.length; i++) {
        const uint64_t *f = (const uint64_t *)a.children[fwd]->buffers[1];
        const uint64_t *b = (const uint64_t *)a.children[rev]->buffers[1];
        sum += f[i] + b[i];
    }
    if ((rc = nr_flow_meter_get_stats(m, &st, NULL)) != NR_OK)
        return fail("nr_flow_meter_get_stats", rc);
    printf("flows %lld packets %llu records %llu evicted %llu\n", (long long)a.length, sum,
           (unsigned long long)st.records, (unsigned long long)st.evicted);
    a.release(&a);
    s.release(&s);
    if (a.release != NULL || s.release != NULL) {
        fprintf(stderr, "flow_arrow: release did not mark the structs released\n");
        return 1;
    }
    nr_flow_meter_close(m);
    nr_reader_close(r);
    return sum == n && (unsigned long long)a.length == st.records ? 0 : 1;
}
