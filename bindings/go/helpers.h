// C helpers of the Go binding, included by every file of the package
// (static, so each cgo unit gets its own copy).
#ifndef NETRING_GO_HELPERS_H
#define NETRING_GO_HELPERS_H
#include <netring.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// nr_last_error() is per OS thread and a goroutine may change thread between
// two cgo calls: every helper that can fail copies the sentence into a
// caller buffer inside the same C call.
#define GO_ERRLEN 512
static void go_copy_err(int rc, char *err) {
    if (rc < 0 && err) snprintf(err, GO_ERRLEN, "%s", nr_last_error());
}

// A call's status, its failure's sentence copied into the handle's buffer.
static int go_rc_err(int rc, char *err) {
    go_copy_err(rc, err);
    return rc;
}

// A packet's descriptor rebuilt in C from the Go fields (the data stays
// where it is: zero copy), for one cgo call per packet.
static nr_packet go_packet(const uint8_t *data, uint32_t caplen, uint32_t len, uint64_t ts,
                           uint32_t flags, uint16_t tci, uint16_t proto)
{
    nr_packet p;
    memset(&p, 0, sizeof p);
    p.data = data;
    p.caplen = caplen;
    p.len = len;
    p.ts_ns = ts;
    p.flags = flags;
    p.vlan_tci = tci;
    p.protocol = proto;
    return p;
}

// One handle of any kind, with the batch it holds and two C-owned arrays
// of its descriptors, both reused: `pkts` takes all of a batch's
// descriptors in one call (go_fill_all: Len/At/Data) and grows to the
// largest nr_batch_len seen; `win` takes the next GO_WIN of them per call
// (go_fill_win: Batch.Window), small enough to stay in L1 while Go reads it
// (on the veth benchmark 32-64 tended to be cheaper than 128-4096, within
// a run-to-run noise of the same size as the differences).
// Go then reads them with no cgo call and no bounds check beyond a slice's.
enum { GO_CAPTURE = 1, GO_READER = 2, GO_XDP = 3 };
#define GO_WIN 64
typedef struct go_h {
    void *h;
    int kind;
    nr_batch *batch;
    size_t n;       // descriptors in pkts (the whole batch, or up to a fault)
    nr_packet *pkts;
    size_t cap;     // elements allocated at pkts
    uint64_t seq;   // nr_batch_seq of the batch
    int nb_rc;      // go_next_nb's result when called by fastcall.go
    int win_rc;     // go_fill_win's status
    size_t wn;      // descriptors in win
    char err[GO_ERRLEN];
    nr_packet win[GO_WIN];
} go_h;

static go_h *go_h_new(void *h, int kind) {
    go_h *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->h = h; g->kind = kind;
    return g;
}

static void go_release(go_h *g) {
    if (g->batch) { nr_batch_release(g->batch); g->batch = NULL; }
    g->n = 0;
}

// Copy every descriptor of the held batch into g->pkts (g->n of them);
// rewind: go_fill_win moved the batch's fill position, start over. NR_OK,
// or the status that ended the batch early (g->n descriptors before the
// fault, g->err says why). The batch is kept even when this fails: Release
// gives it back.
static int go_fill_all(go_h *g, int rewind) {
    if (!g->batch) { g->n = 0; return NR_OK; }
    if (rewind) nr_batch_rewind(g->batch);
    size_t len = nr_batch_len(g->batch);
    if (len > g->cap) {
        size_t c = g->cap ? g->cap : 256;
        while (c < len) c *= 2;
        nr_packet *p = realloc(g->pkts, c * sizeof *p);
        if (!p) { snprintf(g->err, GO_ERRLEN, "out of memory for %zu packet descriptors", len); return NR_E_NO_MEMORY; }
        g->pkts = p; g->cap = c;
    }
    size_t n = 0;
    int rc = NR_OK;
    while (n < g->cap) {
        size_t got = 0;
        rc = nr_batch_fill(g->batch, g->pkts + n, g->cap - n, &got);
        if (rc != NR_OK || got == 0) break;
        n += got;
    }
    g->n = n;
    if (rc != NR_OK) go_copy_err(rc, g->err);
    return rc;
}

// The next GO_WIN (at most) descriptors of the held batch into g->win
// (g->wn of them; 0 at the end). g->win_rc: NR_OK or the status that ended
// the batch (then g->wn is 0 and g->err says why).
static void go_fill_win(go_h *g) {
    size_t got = 0;
    int rc = g->batch ? nr_batch_fill(g->batch, g->win, GO_WIN, &got) : NR_OK;
    g->wn = rc == NR_OK ? got : 0;
    g->win_rc = rc;
    go_copy_err(rc, g->err);
}

// Release the held batch and take the next one (no descriptor is copied
// yet: go_fill_all or go_fill_win do it when Go asks).
static int go_next(go_h *g, int timeout_ms) {
    go_release(g);
    nr_batch *b = NULL;
    int rc;
    switch (g->kind) {
    case GO_CAPTURE: rc = nr_next_batch(g->h, timeout_ms, &b); break;
    case GO_READER: rc = nr_reader_next_batch(g->h, &b); break;
    case GO_XDP: rc = nr_xdp_next_batch(g->h, timeout_ms, &b); break;
    default: rc = NR_E_INVALID_ARG;
    }
    if (rc != NR_OK) { go_copy_err(rc, g->err); return rc; }
    g->batch = b;
    g->seq = nr_batch_seq(b);
    return NR_OK;
}

// The capture's non-blocking step for a wait in Go's netpoller: go_next
// with timeout 0 (never blocks). NR_TIMEOUT is returned only when the
// socket is quiet; if it reports an error or hang-up (interface down or
// removed: the library only notices that inside its own wait), the answer
// is GO_WAIT_IN_C: wait in nr_next_batch instead, which reports it.
#define GO_WAIT_IN_C 1000
static int go_next_nb(go_h *g) {
    int rc = go_next(g, 0);
    if (rc == NR_TIMEOUT) {
        struct pollfd p = { .fd = nr_capture_fd(g->h), .events = POLLIN, .revents = 0 };
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return GO_WAIT_IN_C;
    }
    return rc;
}

static void go_h_free(go_h *g) {
    if (!g) return;
    go_release(g);
    free(g->pkts);
    switch (g->kind) {
    case GO_CAPTURE: nr_capture_close(g->h); break;
    case GO_READER: nr_reader_close(g->h); break;
    case GO_XDP: nr_xdp_close(g->h); break;
    }
    free(g);
}

static int go_capture_open(const char *ifname, const nr_capture_config *cfg, go_h **out, char *err) {
    nr_capture *c = NULL;
    int rc = nr_capture_open(ifname, cfg, &c);
    if (rc != NR_OK) { go_copy_err(rc, err); return rc; }
    *out = go_h_new(c, GO_CAPTURE);
    if (!*out) { nr_capture_close(c); snprintf(err, GO_ERRLEN, "out of memory"); return NR_E_NO_MEMORY; }
    return NR_OK;
}

static int go_reader_open(const char *path, go_h **out, char *err) {
    nr_reader *r = NULL;
    int rc = nr_reader_open(path, &r);
    if (rc != NR_OK) { go_copy_err(rc, err); return rc; }
    *out = go_h_new(r, GO_READER);
    if (!*out) { nr_reader_close(r); snprintf(err, GO_ERRLEN, "out of memory"); return NR_E_NO_MEMORY; }
    return NR_OK;
}

static int go_xdp_open(const char *ifname, int all, uint32_t queue, const nr_xdp_config *cfg, go_h **out, char *err) {
    nr_xdp *x = NULL;
    int rc = all ? nr_xdp_open_all(ifname, cfg, &x) : nr_xdp_open(ifname, queue, cfg, &x);
    if (rc != NR_OK) { go_copy_err(rc, err); return rc; }
    *out = go_h_new(x, GO_XDP);
    if (!*out) { nr_xdp_close(x); snprintf(err, GO_ERRLEN, "out of memory"); return NR_E_NO_MEMORY; }
    return NR_OK;
}

static int go_capture_stats(go_h *g, nr_capture_stats *total, nr_capture_stats *delta) {
    return go_rc_err(nr_capture_get_stats(g->h, total, delta), g->err);
}

static int go_capture_info(go_h *g, nr_capture_info *info) {
    return go_rc_err(nr_capture_get_info(g->h, info), g->err);
}

static int go_capture_set_filter(go_h *g, const nr_bpf_insn *insns, size_t len) {
    return go_rc_err(nr_capture_set_filter(g->h, insns, len), g->err);
}

static int go_breakloop(go_h *g) {
    return g->kind == GO_XDP ? nr_xdp_breakloop(g->h) : nr_capture_breakloop(g->h);
}

static int go_capture_fd(go_h *g) { return nr_capture_fd(g->h); }

static int go_reader_info(go_h *g, nr_reader_info *info) {
    return go_rc_err(nr_reader_get_info(g->h, info), g->err);
}

static int go_xdp_stats(go_h *g, nr_xdp_stats *total) {
    return go_rc_err(nr_xdp_get_stats(g->h, total, NULL), g->err);
}

static int go_xdp_info(go_h *g, nr_xdp_info *info) {
    return go_rc_err(nr_xdp_get_info(g->h, info), g->err);
}

// Frames laid end to end in `buf`, lens[i] bytes each: nr_frame descriptors
// are built here, in C, so no Go pointer is stored in C memory.
static int go_xdp_send(go_h *g, const uint8_t *buf, const uint32_t *lens, size_t count, size_t *sent) {
    nr_frame f[64];
    size_t off = 0, done = 0;
    while (done < count) {
        size_t k = 0;
        size_t start = done;
        size_t o = off;
        while (k < 64 && start + k < count) {
            f[k].data = buf + o; f[k].len = lens[start + k]; o += lens[start + k]; k++;
        }
        int rc = nr_xdp_send(g->h, f, k);
        if (rc < 0) { go_copy_err(rc, g->err); *sent = done; return rc; }
        for (int i = 0; i < rc; i++) off += lens[done + i];
        done += (size_t)rc;
        if ((size_t)rc < k) break;
    }
    *sent = done;
    return NR_OK;
}

static int go_xdp_flush(go_h *g, int timeout_ms) {
    return go_rc_err(nr_xdp_flush(g->h, timeout_ms), g->err);
}

// ---- writer
static int go_writer_open(const char *path, int format, const nr_writer_config *cfg, nr_writer **out, char *err) {
    int rc = nr_writer_open(path, format, cfg, out);
    go_copy_err(rc, err);
    return rc;
}
static int go_writer_write_batch(nr_writer *w, go_h *g, char *err) {
    int rc = g->batch ? nr_writer_write_batch(w, g->batch) : NR_E_BAD_BATCH;
    if (!g->batch && err) { snprintf(err, GO_ERRLEN, "no batch is held"); return rc; }
    go_copy_err(rc, err);
    return rc;
}
static int go_writer_write_packet(nr_writer *w, const uint8_t *data, uint32_t caplen, uint32_t len, uint64_t ts, char *err) {
    nr_packet p;
    memset(&p, 0, sizeof p);
    p.data = data; p.caplen = caplen; p.len = len; p.ts_ns = ts;
    int rc = nr_writer_write_packet(w, &p);
    go_copy_err(rc, err);
    return rc;
}
static int go_writer_flush(nr_writer *w, char *err) { int rc = nr_writer_flush(w); go_copy_err(rc, err); return rc; }
static int go_writer_close(nr_writer *w, char *err) { int rc = nr_writer_close(w); go_copy_err(rc, err); return rc; }
static int go_writer_stats(nr_writer *w, nr_writer_stats *t, char *err) {
    int rc = nr_writer_get_stats(w, t, NULL); go_copy_err(rc, err); return rc;
}

// ---- injector
static int go_injector_open(const char *ifname, const nr_injector_config *cfg, nr_injector **out, char *err) {
    int rc = nr_injector_open(ifname, cfg, out);
    go_copy_err(rc, err);
    return rc;
}
static int go_inject(nr_injector *inj, const uint8_t *data, size_t len, char *err) {
    int rc = nr_inject(inj, data, len); go_copy_err(rc, err); return rc;
}
// Frames end to end in buf (see go_xdp_send): queue them in order, then flush once.
static int go_inject_batch(nr_injector *inj, const uint8_t *buf, const uint32_t *lens, size_t count, size_t *queued, char *err) {
    nr_frame f[64];
    size_t off = 0, done = 0;
    int rc = NR_OK;
    while (done < count && rc == NR_OK) {
        size_t k = 0, o = off;
        while (k < 64 && done + k < count) { f[k].data = buf + o; f[k].len = lens[done + k]; o += lens[done + k]; k++; }
        size_t q = 0;
        rc = nr_inject_batch(inj, f, k, &q);
        for (size_t i = 0; i < q; i++) off += lens[done + i];
        done += q;
    }
    go_copy_err(rc, err);
    *queued = done;
    return rc;
}
static int go_injector_flush(nr_injector *inj, char *err) { int rc = nr_injector_flush(inj); go_copy_err(rc, err); return rc; }
static int go_injector_wait(nr_injector *inj, int t, char *err) { int rc = nr_injector_wait_drained(inj, t); go_copy_err(rc, err); return rc; }
static int go_injector_stats(nr_injector *inj, nr_injector_stats *s, char *err) {
    int rc = nr_injector_get_stats(inj, s, NULL); go_copy_err(rc, err); return rc;
}
#endif
