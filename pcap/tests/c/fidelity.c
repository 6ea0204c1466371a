/* What a libpcap program sees, printed so that two runs (system libpcap,
 * netring's drop-in) can be compared byte for byte.
 *
 *   fidelity read FILE [nano] [OUT]   handle queries, every record's
 *                                     pcap_pkthdr fields (and gmtime of
 *                                     its seconds), the end status and
 *                                     text; OUT: each record dumped with
 *                                     pcap_dump to OUT
 *   fidelity append FILE OUT          pcap_dump_open_append(OUT) on FILE's
 *                                     handle: the status and text
 *   fidelity offline PATH             pcap_open_offline: result, text,
 *                                     errno
 *   fidelity live DEV                 pcap_open_live: result, text, errno
 *   fidelity activate DEV             pcap_create + pcap_activate: status,
 *                                     text, errno
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void queries(pcap_t *p)
{
	printf("datalink %d ext %d snapshot %d version %d.%d swapped %d "
	       "precision %d\n",
	       pcap_datalink(p), pcap_datalink_ext(p), pcap_snapshot(p),
	       pcap_major_version(p), pcap_minor_version(p),
	       pcap_is_swapped(p), pcap_get_tstamp_precision(p));
}

static int do_read(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	int nano = argc > 3 && strcmp(argv[3], "nano") == 0;
	pcap_t *p = pcap_open_offline_with_tstamp_precision(
	    argv[2],
	    nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO,
	    err);
	if (!p) {
		printf("open failed: %s\n", err);
		return 1;
	}
	queries(p);
	pcap_dumper_t *d = NULL;
	const char *out = argc > 4 ? argv[4] : argc > 3 && !nano ? argv[3] : NULL;
	if (out) {
		d = pcap_dump_open(p, out);
		if (!d)
			printf("dump_open failed: %s\n", pcap_geterr(p));
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	int r, n = 0;
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		time_t t = h->ts.tv_sec;
		struct tm tm;
		char when[64] = "?";
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		unsigned sum = 0;
		for (bpf_u_int32 i = 0; i < h->caplen; i++)
			sum = sum * 31 + data[i];
		printf("%d: sec %lld (%s) frac %lld caplen %u len %u sum %08x\n",
		       n++, (long long)h->ts.tv_sec, when,
		       (long long)h->ts.tv_usec, h->caplen, h->len, sum);
		if (d)
			pcap_dump((u_char *)d, h, data);
	}
	printf("end %d: %s\n", r, r == PCAP_ERROR ? pcap_geterr(p) : "");
	if (d)
		pcap_dump_close(d);
	pcap_close(p);
	return 0;
}

static int do_append(char **argv)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_offline(argv[2], err);
	if (!p) {
		printf("open failed: %s\n", err);
		return 1;
	}
	pcap_dumper_t *d = pcap_dump_open_append(p, argv[3]);
	printf("append %s: %s\n", d ? "ok" : "failed", d ? "" : pcap_geterr(p));
	if (d)
		pcap_dump_close(d);
	pcap_close(p);
	return 0;
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	if (argc < 3)
		return 2;
	const char *what = argv[1], *arg = argv[2];
	if (strcmp(what, "read") == 0)
		return do_read(argc, argv);
	if (strcmp(what, "append") == 0 && argc > 3)
		return do_append(argv);
	pcap_t *p = NULL;
	int st = 0;
	errno = 0;
	if (strcmp(what, "offline") == 0) {
		p = pcap_open_offline(arg, err);
		st = p ? 0 : -1;
	} else if (strcmp(what, "live") == 0) {
		p = pcap_open_live(arg, 256, 0, 100, err);
		st = p ? 0 : -1;
	} else if (strcmp(what, "activate") == 0) {
		p = pcap_create(arg, err);
		if (!p) {
			printf("create failed: %s\n", err);
			return 1;
		}
		errno = 0;
		st = pcap_activate(p);
		if (st != 0)
			snprintf(err, sizeof err, "%s", pcap_geterr(p));
	} else {
		return 2;
	}
	int e = errno;
	printf("%s %s: status %d (%s) errno %d (%s): %s\n", what, arg, st,
	       st ? pcap_statustostr(st) : "ok", e, strerror(e), err);
	if (p)
		pcap_close(p);
	return 0;
}
