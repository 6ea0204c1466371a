/*
 * test_netns NS IFACE — opening a capture into a network namespace leaves
 * the calling thread in its own namespace on every path: a namespace that
 * does not exist, one that exists without the interface, success, and
 * (when run without CAP_SYS_ADMIN) a refused setns. The thread's
 * /proc/thread-self/ns/net is compared before and after each call.
 *
 * Prints "RESULT ok=<n>" on success; exits 1 at the first mismatch.
 */
#define _GNU_SOURCE
#include <netring.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int ok;

static void own_ns(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/thread-self/ns/net", buf, len - 1);
    buf[n < 0 ? 0 : n] = '\0';
}

static int check(const char *what, const char *ns, const char *ifname, int want)
{
    char before[PATH_MAX], after[PATH_MAX];
    own_ns(before, sizeof before);
    nr_capture_config cfg;
    nr_capture_config_init(&cfg, sizeof cfg);
    cfg.netns = ns;
    cfg.block_count = 4;
    nr_capture *cap = NULL;
    int rc = nr_capture_open(ifname, &cfg, &cap);
    own_ns(after, sizeof after);
    printf("%s: rc=%d (%s) %s\n", what, rc, nr_strerror(rc), rc ? nr_last_error() : "");
    if (cap)
        nr_capture_close(cap);
    if (strcmp(before, after) != 0 || before[0] == '\0') {
        printf("FAIL %s: thread namespace changed: %s -> %s\n", what, before, after);
        return 1;
    }
    if (want == 0 ? rc != NR_OK : rc >= 0) {
        printf("FAIL %s: rc %d\n", what, rc);
        return 1;
    }
    ok++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 2) {
        fprintf(stderr, "usage: test_netns NS [IFACE]   (IFACE absent: unprivileged run)\n");
        return 2;
    }
    const char *ns = argv[1];
    if (check("missing namespace", "nr-no-such-netns-0", "lo", -1)) return 1;
    if (check("missing namespace path", "/proc/nonexistent/ns/net", "lo", -1)) return 1;
    if (check("not a namespace", "/dev/null", "lo", -1)) return 1;
    if (argc == 2) {
        /* Without CAP_SYS_ADMIN: setns is refused, the thread stays. */
        if (check("setns refused", ns, "lo", -1)) return 1;
    } else {
        if (check("interface missing there", ns, "nr-nosuch0", -1)) return 1;
        if (check("success", ns, argv[2], 0)) return 1;
    }
    printf("RESULT ok=%d\n", ok);
    return 0;
}
