/* C API contract checks that need no traffic: statuses, messages, NULLs,
 * config handling, version. Exit 0 and "RESULT ok" when every check holds. */
#include <netring.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* The inline iterator over records written here in the kernel's layout:
 * a block of exactly `len` bytes (ASan and valgrind see any read past it)
 * with records at 16-byte steps from offset 48. */
static uint8_t *record(uint8_t *blk, size_t off, uint16_t mac, uint32_t snap, uint32_t wire,
                       uint32_t next)
{
    nr_v3_hdr h;
    memset(&h, 0, sizeof h);
    h.next_offset = next;
    h.sec = 1700000000u;
    h.nsec = 123456789u;
    h.snaplen = snap;
    h.len = wire;
    h.status = 1u /* TP_STATUS_USER: not a packet flag */ | NR_PACKET_FLAG_VLAN_VALID |
               NR_PACKET_FLAG_TS_SOFTWARE;
    h.mac = mac;
    h.rxhash = 0xabcdef01u;
    h.vlan_tci = 0x10064u; /* the low 16 bits are the TCI */
    h.vlan_tpid = 0x8100;
    h.sll_protocol = 0x0008; /* 0x0800 in network order (little-endian host) */
    h.sll_ifindex = 7;
    h.sll_pkttype = NR_PACKET_OTHERHOST;
    memcpy(blk + off, &h, sizeof h);
    for (uint32_t i = 0; i < snap; i++)
        blk[off + mac + i] = (uint8_t)(i + off);
    return blk + off + mac;
}

static nr_iter over(uint8_t *blk, size_t len, size_t first, uint32_t n)
{
    nr_iter it;
    memset(&it, 0, sizeof it);
    it.block = blk;
    it.block_len = len;
    it.off = first;
    it.left = n;
    it.batch = NULL; /* any record the inline walk refuses: NR_E_INVALID_ARG */
    return it;
}

static void iterator_checks(void)
{
    enum { LEN = 4096, MAC = 80 };
    uint8_t *blk = calloc(1, LEN);
    CHECK(blk != NULL);
    if (!blk)
        return;
    const uint8_t *d0 = record(blk, 48, MAC, 60, 60, 144);
    const uint8_t *d1 = record(blk, 192, MAC, 100, 1514, 192);
    const uint8_t *d2 = record(blk, 384, MAC, LEN - 384 - MAC, LEN - 384 - MAC, 0);
    nr_iter it = over(blk, LEN, 48, 3);
    nr_packet p;
    CHECK(nr_iter_next(&it, &p) == NR_OK);
    CHECK(p.data == d0 && p.caplen == 60 && p.len == 60);
    CHECK(p.ts_ns == 1700000000ull * 1000000000ull + 123456789u);
    CHECK(p.ifindex == 7 && p.rxhash == 0xabcdef01u && p.vlan_tci == 0x64 && p.vlan_tpid == 0x8100);
    CHECK(p.protocol == 0x0800 && p.pkt_type == NR_PACKET_OTHERHOST);
    CHECK(p.flags == (NR_PACKET_FLAG_VLAN_VALID | NR_PACKET_FLAG_TS_SOFTWARE));
    CHECK(nr_iter_next(&it, &p) == NR_OK);
    CHECK(p.data == d1 && p.caplen == 100 && p.len == 1514);
    CHECK(p.flags == (NR_PACKET_FLAG_VLAN_VALID | NR_PACKET_FLAG_TS_SOFTWARE | NR_PACKET_FLAG_TRUNCATED));
    CHECK(nr_iter_next(&it, &p) == NR_OK); /* the last record ends at the block's end */
    CHECK(p.data == d2 && p.caplen == LEN - 384 - MAC);
    CHECK(nr_iter_next(&it, &p) == NR_EOF);
    CHECK(nr_iter_next(&it, &p) == NR_EOF);
    CHECK(nr_iter_next(&it, NULL) == NR_E_INVALID_ARG);

    /* Each inconsistency is refused before a byte past the block is read,
     * and `out` is left as it was. */
    struct {
        const char *what;
        size_t first;
        uint16_t mac;
        uint32_t snap, next, n;
    } bad[] = {
        {"header past the end", LEN - 60, MAC, 0, 0, 1},
        {"first offset past the end", LEN + 64, MAC, 0, 0, 1},
        {"mac inside the header", 48, 40, 60, 144, 2},
        {"data past the end", 48, MAC, LEN, 0, 1},
        {"mac past the end", 48, 0xfff0, 1, 0, 1},
        {"next offset 0 with packets left", 48, MAC, 60, 0, 2},
        {"next offset overlapping the packet", 48, MAC, 60, 100, 2},
        {"misaligned record", 50, MAC, 60, 0, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(blk, 0, LEN);
        if (bad[i].first + sizeof(nr_v3_hdr) <= LEN)
            record(blk, bad[i].first, 0, 0, 0, 0); /* the header only */
        if (bad[i].first + sizeof(nr_v3_hdr) <= LEN) {
            nr_v3_hdr h;
            memcpy(&h, blk + bad[i].first, sizeof h);
            h.mac = bad[i].mac;
            h.snaplen = h.len = bad[i].snap;
            h.next_offset = bad[i].next;
            memcpy(blk + bad[i].first, &h, sizeof h);
        }
        it = over(blk, LEN, bad[i].first, bad[i].n);
        memset(&p, 0xa5, sizeof p);
        nr_packet before = p;
        int rc = nr_iter_next(&it, &p);
        if (rc == NR_OK || memcmp(&p, &before, sizeof p) != 0)
            fprintf(stderr, "inline iterator accepted: %s\n", bad[i].what);
        CHECK(rc != NR_OK && memcmp(&p, &before, sizeof p) == 0);
    }
    free(blk);
}

int main(void)
{
    iterator_checks();

    /* Version agrees with the header. */
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", NR_VERSION_MAJOR, NR_VERSION_MINOR, NR_VERSION_PATCH);
    CHECK(strcmp(nr_version(), want) == 0);
    CHECK(nr_version_number() == (unsigned)(NR_VERSION_MAJOR << 16 | NR_VERSION_MINOR << 8 | NR_VERSION_PATCH));

    /* nr_strerror: any int, never NULL. */
    CHECK(strcmp(nr_strerror(NR_OK), "success") == 0);
    CHECK(nr_strerror(12345) != NULL && strcmp(nr_strerror(12345), "unknown status") == 0);
    CHECK(nr_strerror(NR_E_NO_DEVICE) != NULL);
    CHECK(nr_last_error() != NULL);

    /* Config init and defaults. */
    nr_capture_config cfg;
    memset(&cfg, 0xff, sizeof cfg);
    CHECK(NR_CAPTURE_CONFIG_INIT(&cfg) == NR_OK);
    CHECK(cfg.size == sizeof cfg);
    CHECK(cfg.block_size == 4u << 20 && cfg.block_count == 64 && cfg.frame_size == 2048);
    CHECK(cfg.block_timeout_ms == 60 && cfg.promiscuous && !cfg.ignore_outgoing && !cfg.fill_rxhash);
    CHECK(nr_capture_config_init(NULL, sizeof cfg) == NR_E_INVALID_ARG);
    CHECK(nr_capture_config_init(&cfg, 1) == NR_E_INVALID_ARG);

    /* NULL arguments: documented status, message names the argument, out untouched. */
    nr_capture *cap = (nr_capture *)0x1;
    CHECK(nr_capture_open(NULL, NULL, &cap) == NR_E_INVALID_ARG);
    CHECK(contains(nr_last_error(), "ifname"));
    CHECK(cap == (nr_capture *)0x1);
    CHECK(nr_capture_open("lo", NULL, NULL) == NR_E_INVALID_ARG);
    CHECK(contains(nr_last_error(), "out"));
    CHECK(nr_next_batch(NULL, 0, NULL) == NR_E_INVALID_ARG);
    CHECK(nr_next_packet(NULL, 0, NULL) == NR_E_INVALID_ARG);
    CHECK(nr_capture_get_stats(NULL, NULL, NULL) == NR_E_INVALID_ARG);
    CHECK(nr_capture_fd(NULL) == NR_E_INVALID_ARG);
    CHECK(nr_capture_breakloop(NULL) == NR_E_INVALID_ARG);
    CHECK(nr_batch_release(NULL) == NR_E_INVALID_ARG);
    CHECK(nr_batch_for_each(NULL, NULL, NULL) == NR_E_INVALID_ARG);
    CHECK(nr_batch_len(NULL) == 0);
    nr_capture_close(NULL); /* accepted */

    /* Unknown interface: named in the message. */
    cap = NULL;
    CHECK(nr_capture_open("nr-nosuch0", NULL, &cap) == NR_E_NO_DEVICE);
    CHECK(contains(nr_last_error(), "'nr-nosuch0'"));
    CHECK(cap == NULL);

    /* Impossible geometry: NR_E_CONFIG, the message names field and rule. */
    NR_CAPTURE_CONFIG_INIT(&cfg);
    cfg.block_size = 3000;
    CHECK(nr_capture_open("lo", &cfg, &cap) == NR_E_CONFIG);
    CHECK(contains(nr_last_error(), "block_size 3000 is not a power of two"));
    NR_CAPTURE_CONFIG_INIT(&cfg);
    cfg.frame_size = 8192;
    cfg.block_size = 4096;
    CHECK(nr_capture_open("lo", &cfg, &cap) == NR_E_CONFIG);
    CHECK(contains(nr_last_error(), "frame_size 8192 is larger than block_size 4096"));
    NR_CAPTURE_CONFIG_INIT(&cfg);
    cfg.snaplen = 0;
    CHECK(nr_capture_open("lo", &cfg, &cap) == NR_E_CONFIG);
    CHECK(contains(nr_last_error(), "snaplen"));
    /* An uninitialised config (size 0) is refused, not read. */
    memset(&cfg, 0, sizeof cfg);
    CHECK(nr_capture_open("lo", &cfg, &cap) == NR_E_INVALID_ARG);
    CHECK(contains(nr_last_error(), "NR_CAPTURE_CONFIG_INIT"));
    /* An older caller that knows only the first fields gets defaults for the rest. */
    NR_CAPTURE_CONFIG_INIT(&cfg);
    cfg.size = offsetof(nr_capture_config, frame_size);
    cfg.block_size = 65536;
    cfg.block_count = 4;
    cfg.frame_size = 1; /* beyond the "old" size: must be ignored */
    CHECK(nr_capture_open("lo", &cfg, &cap) == NR_OK);
    if (cap) {
        nr_capture_info ci;
        CHECK(nr_capture_get_info(cap, &ci) == NR_OK);
        CHECK(ci.ring.block_size == 65536 && ci.ring.block_count == 4 && ci.ring.frame_size == 2048);
        CHECK(ci.ifindex == 1);
        CHECK(nr_capture_fd(cap) >= 0);
        nr_capture_close(cap);
    }

    if (failures) {
        fprintf(stderr, "RESULT failures=%d\n", failures);
        return 1;
    }
    printf("RESULT ok\n");
    return 0;
}
