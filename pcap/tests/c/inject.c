/* pcap_inject and pcap_sendpacket through the drop-in.
 *
 *   inject DEV N   sends N 60-byte test frames (netring-testkit's frame():
 *   broadcast, EtherType 0x88b5, sequence number, pattern), alternating
 *   pcap_inject and pcap_sendpacket, then prints "sent N". */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	char eb[PCAP_ERRBUF_SIZE];
	unsigned char f[60];
	unsigned n, i, k;
	pcap_t *p;

	if (argc != 3)
		return 1;
	n = (unsigned)atoi(argv[2]);
	p = pcap_open_live(argv[1], 65535, 0, 100, eb);
	if (!p) {
		fprintf(stderr, "open: %s\n", eb);
		return 2;
	}
	for (i = 0; i < n; i++) {
		static const unsigned char head[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						       0x02, 0x6e, 0x72, 0x00, 0x00, 0x01};
		memcpy(f, head, sizeof head);
		f[12] = 0x88;
		f[13] = 0xb5;
		f[14] = (unsigned char)(i >> 24);
		f[15] = (unsigned char)(i >> 16);
		f[16] = (unsigned char)(i >> 8);
		f[17] = (unsigned char)i;
		for (k = 18; k < sizeof f; k++)
			f[k] = (unsigned char)(k * 31 + i);
		if (i % 2) {
			if (pcap_sendpacket(p, f, sizeof f) != 0) {
				fprintf(stderr, "sendpacket: %s\n", pcap_geterr(p));
				return 3;
			}
		} else if (pcap_inject(p, f, sizeof f) != (int)sizeof f) {
			fprintf(stderr, "inject: %s\n", pcap_geterr(p));
			return 4;
		}
	}
	printf("sent %u\n", n);
	pcap_close(p);
	return 0;
}
