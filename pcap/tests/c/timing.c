/* Timeout, non-blocking mode and immediate mode through the drop-in, with
 * no traffic (timeout, non-blocking) and with one frame (immediate mode).
 *
 *   timing DEV     prints "timeout MS", "nonblock MS RC GETNONBLOCK",
 *                  then "ready" and, after the test sends one frame,
 *                  "immediate MS RC" (from the kernel's time stamp to delivery). */
#include <pcap/pcap.h>
#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double g_delay_ms = -1;

static void nothing(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
	struct timespec ts;
	(void)u;
	(void)d;
	clock_gettime(CLOCK_REALTIME, &ts);
	g_delay_ms = (ts.tv_sec - h->ts.tv_sec) * 1e3 + (ts.tv_nsec / 1e3 - h->ts.tv_usec) / 1e3;
}

int main(int argc, char **argv)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p, *q;
	double t;
	int rc;

	if (argc != 2)
		return 1;
	p = pcap_open_live(argv[1], 262144, 0, 200, eb);
	if (!p) {
		fprintf(stderr, "open: %s\n", eb);
		return 2;
	}
	t = now_ms();
	rc = pcap_dispatch(p, -1, nothing, NULL);
	printf("timeout %.0f %d\n", now_ms() - t, rc);
	if (pcap_setnonblock(p, 1, eb) != 0)
		return 3;
	t = now_ms();
	rc = pcap_dispatch(p, -1, nothing, NULL);
	printf("nonblock %.0f %d %d\n", now_ms() - t, rc, pcap_getnonblock(p, eb));
	pcap_close(p);

	q = pcap_create(argv[1], eb);
	if (!q || pcap_set_immediate_mode(q, 1) != 0 || pcap_set_timeout(q, 5000) != 0 || pcap_activate(q) < 0) {
		fprintf(stderr, "immediate: %s\n", q ? pcap_geterr(q) : eb);
		return 4;
	}
	printf("ready\n");
	fflush(stdout);
	rc = pcap_dispatch(q, 1, nothing, NULL);
	printf("immediate %.3f %d\n", g_delay_ms, rc);
	pcap_close(q);
	return 0;
}
