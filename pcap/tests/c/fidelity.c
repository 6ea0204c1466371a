/* What a libpcap program sees, printed so that two runs (system libpcap,
 * netring's drop-in) can be compared byte for byte.
 *
 *   fidelity read FILE [nano] [OUT]   handle queries, every record's
 *                                     pcap_pkthdr fields (and gmtime of
 *                                     its seconds), the end status and
 *                                     text; OUT: each record dumped with
 *                                     pcap_dump to OUT
 *   fidelity file FILE                one record, then pcap_file (ftell),
 *                                     the rest of the records read after it
 *   fidelity append FILE OUT          pcap_dump_open_append(OUT) on FILE's
 *                                     handle: the status and text
 *   fidelity offline PATH             pcap_open_offline: result, text,
 *                                     errno
 *   fidelity live DEV                 pcap_open_live: result, text, errno
 *   fidelity activate DEV [rfmon]     pcap_create (+ pcap_set_rfmon) +
 *                                     pcap_activate: status, text, errno
 *   fidelity devs any                 pcap_findalldevs: every device and
 *                                     address; the "any" entry unlinked and
 *                                     freed with the program's free() (as
 *                                     ettercap does), then pcap_freealldevs
 *   fidelity addrinfo NAME            pcap_nametoaddrinfo: each entry,
 *                                     then the program's freeaddrinfo
 *   fidelity api DEV                  each call on a created handle before
 *                                     activation, then the failing calls on
 *                                     the activated handle: results, texts
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pcap/namedb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

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
		if (d) {
			pcap_dump((u_char *)d, h, data);
			/* libpcap's dumper is the stream (daemonlogger relies on it). */
			printf("dumped to %ld\n", ftell((FILE *)d));
		}
	}
	printf("end %d: %s\n", r, r == PCAP_ERROR ? pcap_geterr(p) : "");
	if (d)
		pcap_dump_close(d);
	pcap_close(p);
	return 0;
}

static int do_file(const char *path)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_offline(path, err);
	if (!p) {
		printf("open failed: %s\n", err);
		return 1;
	}
	struct pcap_pkthdr h;
	const u_char *d = pcap_next(p, &h);
	printf("first %u\n", d ? h.caplen : 0);
	FILE *f = pcap_file(p);
	printf("pcap_file %s, ftell %ld\n", f ? "a stream" : "NULL",
	       f ? ftell(f) : -2L);
	int n = 0;
	unsigned sum = 0;
	while ((d = pcap_next(p, &h)) != NULL) {
		n++;
		for (bpf_u_int32 i = 0; i < h.caplen; i++)
			sum = sum * 31 + d[i];
	}
	printf("%d more, sum %08x\n", n, sum);
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

/* One call's result and the handle's text (cleared before the call). */
#define SHOW(p, call)                                                      \
	do {                                                               \
		pcap_geterr(p)[0] = 0;                                     \
		long long r_ = (long long)(call);                          \
		printf("%s = %lld [%s]\n", #call, r_, pcap_geterr(p));     \
	} while (0)

static void cb(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
	(void)u;
	(void)h;
	(void)d;
}

static void calls(pcap_t *p)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_stat st;
	struct bpf_program prog;
	struct pcap_pkthdr *h;
	const u_char *d;
	int *list = NULL;
	u_char frame[60] = {0};

	SHOW(p, pcap_datalink(p));
	SHOW(p, pcap_datalink_ext(p));
	SHOW(p, pcap_snapshot(p));
	SHOW(p, pcap_is_swapped(p));
	SHOW(p, pcap_major_version(p));
	SHOW(p, pcap_minor_version(p));
	SHOW(p, pcap_fileno(p) >= 0);
	SHOW(p, pcap_get_selectable_fd(p) >= 0);
	SHOW(p, pcap_get_tstamp_precision(p));
	SHOW(p, pcap_stats(p, &st));
	SHOW(p, pcap_setdirection(p, PCAP_D_IN));
	SHOW(p, pcap_setdirection(p, 7));
	SHOW(p, pcap_set_datalink(p, DLT_EN10MB));
	SHOW(p, pcap_set_datalink(p, 12345));
	SHOW(p, pcap_set_datalink(p, DLT_PPP));
	SHOW(p, pcap_getnonblock(p, err));
	SHOW(p, pcap_inject(p, frame, 0));
	SHOW(p, pcap_sendpacket(p, frame, -1));
	SHOW(p, pcap_dispatch(p, 1, cb, NULL) < 0 ? -99 : 0);
	SHOW(p, pcap_next_ex(p, &h, &d) < 0 ? -99 : 0);
	SHOW(p, pcap_setfilter(p, NULL));
	SHOW(p, pcap_compile(p, &prog, "udp", 1, PCAP_NETMASK_UNKNOWN));
	SHOW(p, pcap_compile(p, &prog, "bogus syntax (", 1, 0));
	SHOW(p, pcap_set_tstamp_precision(p, 7));
	SHOW(p, pcap_set_tstamp_type(p, 99));
	SHOW(p, pcap_set_snaplen(p, 100));
	SHOW(p, pcap_set_promisc(p, 1));
	SHOW(p, pcap_set_timeout(p, 10));
	SHOW(p, pcap_set_buffer_size(p, 1 << 20));
	SHOW(p, pcap_set_immediate_mode(p, 1));
	SHOW(p, pcap_set_protocol_linux(p, 0x88b5));
	SHOW(p, pcap_can_set_rfmon(p));
	int n = pcap_list_datalinks(p, &list);
	printf("pcap_list_datalinks = %d [%s]\n", n, pcap_geterr(p));
	if (n > 0)
		pcap_free_datalinks(list);
	list = NULL;
	n = pcap_list_tstamp_types(p, &list);
	printf("pcap_list_tstamp_types = %d\n", n > 0 ? 1 : n);
	if (n > 0)
		pcap_free_tstamp_types(list);
	pcap_dumper_t *dp = pcap_dump_open(p, "/nonexistent/dir/file");
	printf("pcap_dump_open = %s [%s]\n", dp ? "ok" : "NULL", pcap_geterr(p));
	if (dp)
		pcap_dump_close(dp);
}

static int do_api(const char *dev)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(dev, err);
	if (!p) {
		printf("create failed: %s\n", err);
		return 1;
	}
	printf("-- created\n");
	calls(p);
	SHOW(p, pcap_set_snaplen(p, 128));
	SHOW(p, pcap_set_timeout(p, 1));
	SHOW(p, pcap_setnonblock(p, 1, err));
	printf("-- activate %d\n", pcap_activate(p));
	calls(p);
	SHOW(p, pcap_activate(p));
	pcap_close(p);
	return 0;
}

/* Whether p is in the program's own malloc heap (between the end of its
 * data and the break): memory another libc's malloc made is elsewhere. */
extern char end;
static const char *heap(const void *p)
{
	if (!p)
		return "null";
	return (const char *)p >= &end && (const char *)p < (const char *)sbrk(0)
		   ? "heap"
		   : "NOT THE PROGRAM'S HEAP";
}

static void show_addr(const char *what, const struct sockaddr *sa)
{
	if (!sa)
		return;
	printf("  %s family %d (%s)", what, sa->sa_family, heap(sa));
	if (sa->sa_family == AF_INET) {
		const unsigned char *a =
		    (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		printf(" %u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	}
	printf("\n");
}

static int do_devs(void)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	pcap_if_t *list = NULL;
	if (pcap_findalldevs(&list, err) != 0) {
		printf("findalldevs failed: %s\n", err);
		return 1;
	}
	pcap_if_t **link = &list;
	while (*link) {
		pcap_if_t *d = *link;
		printf("%s (%s) flags %x: node %s, name %s, description %s\n",
		       d->name, d->description ? d->description : "-", d->flags,
		       heap(d), heap(d->name), heap(d->description));
		for (pcap_addr_t *a = d->addresses; a; a = a->next) {
			show_addr("addr", a->addr);
			show_addr("netmask", a->netmask);
			show_addr("broadaddr", a->broadaddr);
			show_addr("dstaddr", a->dstaddr);
		}
		if (strcmp(d->name, "any") == 0) {
			*link = d->next;
			free(d->name);
			free(d->description);
			free(d);
			continue;
		}
		link = &d->next;
	}
	pcap_freealldevs(list);
	printf("freed\n");
	return 0;
}

static int do_addrinfo(const char *name)
{
	struct addrinfo *list = pcap_nametoaddrinfo(name);
	if (!list) {
		printf("nametoaddrinfo %s: NULL\n", name);
		return 0;
	}
	for (struct addrinfo *a = list; a; a = a->ai_next)
		printf("family %d socktype %d protocol %d addrlen %u: node %s, "
		       "canonname %s\n",
		       a->ai_family, a->ai_socktype, a->ai_protocol,
		       (unsigned)a->ai_addrlen, heap(a), heap(a->ai_canonname));
	/* The program's freeaddrinfo: the list must be of its heap. */
	freeaddrinfo(list);
	printf("freed\n");
	return 0;
}

/* Compile a VLAN filter (a program only an activated handle compiles
 * this way) and print it, prefixed with `who`. */
static void print_program(pcap_t *p, const char *who)
{
	struct bpf_program f;
	if (pcap_compile(p, &f, "vlan and tcp port 80", 1, PCAP_NETMASK_UNKNOWN) != 0) {
		printf("%s: compile: %s\n", who, pcap_geterr(p));
		return;
	}
	for (u_int i = 0; i < f.bf_len; i++)
		printf("%s: (%03u) %u %u %u %u\n", who, i, f.bf_insns[i].code, f.bf_insns[i].jt,
		       f.bf_insns[i].jf, f.bf_insns[i].k);
	pcap_freecode(&f);
}

/* A daemon's order: open the capture, fork at once; the child compiles a
 * filter, reads, closes; then the parent does the same. */
static int do_fork(const char *dev)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_live(dev, 256, 0, 100, err);
	if (!p) {
		printf("open: %s\n", err);
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		print_program(p, "child");
		pcap_close(p);
		fflush(stdout);
		_exit(0);
	}
	int ws = 0;
	waitpid(pid, &ws, 0);
	printf("child exit %d\n", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	print_program(p, "parent");
	pcap_close(p);
	return 0;
}

/* scan6's timeout: a SIGALRM handler leaves a blocked pcap_next_ex with
 * siglongjmp; the handle must then filter, read and close as before. */
static sigjmp_buf jumped;
static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(jumped, 1);
}

static int do_longjmp(const char *dev)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_live(dev, 256, 0, 5000, err);
	if (!p) {
		printf("open: %s\n", err);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	for (int round = 0; round < 3; round++) {
		struct pcap_pkthdr *h;
		const u_char *d;
		if (sigsetjmp(jumped, 1) == 0) {
			struct itimerval t = {{0, 0}, {0, 100000}};
			setitimer(ITIMER_REAL, &t, NULL);
			int rc = pcap_next_ex(p, &h, &d);
			printf("round %d: pcap_next_ex returned %d\n", round, rc);
		} else {
			printf("round %d: left pcap_next_ex by siglongjmp\n", round);
		}
		struct bpf_program f;
		int st = pcap_compile(p, &f, round ? "udp" : "tcp", 1, PCAP_NETMASK_UNKNOWN);
		if (st == 0) {
			st = pcap_setfilter(p, &f);
			pcap_freecode(&f);
		}
		printf("round %d: setfilter %d %s\n", round, st, st ? pcap_geterr(p) : "");
	}
	printf("setnonblock %d\n", pcap_setnonblock(p, 1, err));
	struct pcap_pkthdr *h;
	const u_char *d;
	printf("pcap_next_ex, non-blocking: %d\n", pcap_next_ex(p, &h, &d));
	pcap_close(p);
	printf("closed\n");
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
	if (strcmp(what, "file") == 0)
		return do_file(arg);
	if (strcmp(what, "api") == 0)
		return do_api(arg);
	if (strcmp(what, "devs") == 0)
		return do_devs();
	if (strcmp(what, "addrinfo") == 0)
		return do_addrinfo(arg);
	if (strcmp(what, "fork") == 0)
		return do_fork(arg);
	if (strcmp(what, "longjmp") == 0)
		return do_longjmp(arg);
	if (strcmp(what, "sendshort") == 0) {
		/* A frame shorter than an Ethernet header: status, errno, text. */
		pcap_t *p = pcap_open_live(arg, 256, 0, 100, err);
		if (!p) {
			printf("open: %s\n", err);
			return 1;
		}
		u_char frame[5] = {0};
		errno = 0;
		int rc = pcap_sendpacket(p, frame, 5);
		int e = errno;
		printf("status %d errno %d\n%s\n", rc, e, pcap_geterr(p));
		pcap_close(p);
		return 0;
	}
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
		if (argc > 3 && strcmp(argv[3], "rfmon") == 0)
			printf("set_rfmon %d\n", pcap_set_rfmon(p, 1));
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
