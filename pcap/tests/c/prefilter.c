/* Filters frames that reached the ring before pcap_setfilter, and reads
 * with pcap_dispatch(cnt=1) and pcap_next_ex alternately (the position in
 * a ring block is kept across calls).
 *
 *   prefilter DEV FILTER    prints "ready", reads a line from stdin (the
 *   test sends the first frames meanwhile), sets FILTER, prints "filtered",
 *   then prints "ETHERTYPE SEQ CAPLEN LEN" per frame until 5 idle timeouts,
 *   then "stats RECV DROP". */
#include <pcap/pcap.h>
#include <stdio.h>

static void show(u_char *user, const struct pcap_pkthdr *h, const u_char *d)
{
	(void)user;
	if (h->caplen >= 18)
		printf("%02x%02x %u %u %u\n", d[12], d[13],
		       (unsigned)d[14] << 24 | (unsigned)d[15] << 16 | (unsigned)d[16] << 8 | d[17],
		       h->caplen, h->len);
}

int main(int argc, char **argv)
{
	char eb[PCAP_ERRBUF_SIZE], line[64];
	struct bpf_program fp;
	struct pcap_stat st;
	int idle = 0, n = 0;
	pcap_t *p;

	if (argc != 3)
		return 1;
	p = pcap_open_live(argv[1], 262144, 0, 100, eb);
	if (!p) {
		fprintf(stderr, "open: %s\n", eb);
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 3;
	if (pcap_compile(p, &fp, argv[2], 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(p, &fp) < 0) {
		fprintf(stderr, "filter: %s\n", pcap_geterr(p));
		return 4;
	}
	pcap_freecode(&fp);
	printf("filtered\n");
	fflush(stdout);
	while (idle < 5) {
		int r;
		if (n++ % 2) {
			r = pcap_dispatch(p, 1, show, NULL);
		} else {
			struct pcap_pkthdr *h;
			const u_char *d;
			r = pcap_next_ex(p, &h, &d);
			if (r == 1)
				show(NULL, h, d);
		}
		if (r < 0) {
			fprintf(stderr, "read: %s\n", pcap_geterr(p));
			return 5;
		}
		idle = r == 0 ? idle + 1 : 0;
	}
	if (pcap_stats(p, &st) < 0)
		return 6;
	printf("stats %u %u\n", st.ps_recv, st.ps_drop);
	pcap_close(p);
	return 0;
}
