/* C API contract checks that need no traffic: statuses, messages, NULLs,
 * config handling, version. Exit 0 and "RESULT ok" when every check holds. */
#include <netring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

int main(void)
{
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
