/*
 * fuzz_h2rpc.c - libFuzzer target for the gRPC front end (lib/api/h2rpc.c)
 * and the nghttp2 server session under it.
 *
 * Input: one mode byte, then bytes as an HTTP/2 client would send them.
 *   bit 0     prepend a valid client preface and an empty SETTINGS frame,
 *             so the mutator starts past the preface;
 *   bits 1-3  slice size: 0 all at once, k: 1 << (k - 1) bytes at a time
 *             (1..64);
 *   bits 4-5  clock step after each slice: 0, 1, 7 or 1000 ms (the calls
 *             carry grpc-timeout deadlines; h2rpc_conn_tick runs after each
 *             slice);
 *   bit 6     h2rpc_conn_shutdown after the first slice;
 *   bit 7     drain with a writer that asks to stop after each piece.
 * After every slice the connection is drained into a sink; a feed error
 * ends the input (as the daemon would: drain, close). The method table has
 * every kind (unary echo, a unary that answers from on_message, server
 * streaming that can fill the 4 MiB queue and waits for on_writable,
 * client streaming, bidi, auth, handlers that refuse in on_start, fail or
 * never answer). Beyond ASan/UBSan/LSan it checks the handler contract:
 * every call that got on_start gets exactly one on_close (a per-call
 * allocation freed there; a counter compared at the end), nothing after
 * on_close, on_message only between on_start and on_close, h2rpc_conn_find
 * finds a live call, and a call's id stays its own.
 *
 * Seeds (tests/fuzz/corpus_h2rpc/, mode byte 0 or a slicing mode, then
 * the client side of real calls) are written by the unit test's client:
 *   tests/check_h2rpc --corpus tests/fuzz/corpus_h2rpc
 * Build and run with tests/fuzz/run.sh [SECONDS] h2rpc.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEND (300u * 1024)

typedef struct fstate {
    uint64_t id;
    uint32_t count, size, sent;
    int hold;
    int ended;
    uint8_t *keep;
    size_t keep_len;
} fstate;

typedef struct fctx {
    h2rpc_conn *conn;
    long starts, closes;
    int stop_each;
} fctx;

/* One connection at a time; the handlers reach the test's counters. */
static fctx *cur;

static fstate *st_of(h2rpc_call *c)
{
    fstate *s = h2rpc_call_data(c);

    if (!s || s->id != h2rpc_call_id(c))
        abort();
    return s;
}

static int f_start(h2rpc_call *c)
{
    fstate *s = calloc(1, sizeof *s);

    if (!s)
        abort();
    if (h2rpc_call_data(c) != NULL || h2rpc_call_method(c) == NULL ||
        h2rpc_call_conn(c) != cur->conn || h2rpc_app(c) != cur)
        abort();
    s->id = h2rpc_call_id(c);
    h2rpc_call_set_data(c, s);
    if (h2rpc_conn_find(cur->conn, s->id) != c)
        abort();
    (void)h2rpc_call_header(c, "x-trace");
    (void)h2rpc_call_deadline(c);
    cur->starts++;
    return 0;
}

static void f_close(h2rpc_call *c, int cancelled)
{
    fstate *s = st_of(c);

    (void)cancelled;
    if (h2rpc_conn_find(cur->conn, s->id) != NULL)
        abort();
    /* nothing more to say once closed */
    if (h2rpc_send(c, "x", 1) != -EPIPE)
        abort();
    free(s->keep);
    free(s);
    h2rpc_call_set_data(c, NULL);
    cur->closes++;
}

static int f_keep(h2rpc_call *c, const uint8_t *m, size_t n)
{
    fstate *s = st_of(c);

    free(s->keep);
    s->keep = malloc(n ? n : 1);
    if (!s->keep)
        abort();
    if (n)
        memcpy(s->keep, m, n);
    s->keep_len = n;
    return 0;
}

static void f_echo_end(h2rpc_call *c)
{
    fstate *s = st_of(c);

    if (s->ended++)
        abort();
    h2rpc_send(c, s->keep, s->keep_len);
    h2rpc_finish(c, H2RPC_OK, NULL);
}

static int f_quick(h2rpc_call *c, const uint8_t *m, size_t n)
{
    st_of(c);
    h2rpc_send(c, m, n);
    if (h2rpc_finishf(c, H2RPC_ABORTED, "%zu bytes \xff%%\n", n) != 0)
        abort();
    if (h2rpc_send(c, m, n) != -EPIPE)
        abort();
    return 0;
}

static void f_end(h2rpc_call *c)
{
    fstate *s = st_of(c);

    if (s->ended++)
        abort();
}

static void f_pump(h2rpc_call *c)
{
    fstate *s = st_of(c);
    static const uint8_t zero[64];

    while (s->sent < s->count) {
        uint8_t *b = s->size <= sizeof zero ? NULL : calloc(1, s->size);
        int rv = h2rpc_send(c, b ? b : zero, s->size);
        free(b);
        s->sent++;
        if (rv == -EAGAIN)
            return;
        if (rv != 0)
            abort();
    }
    if (!s->hold)
        h2rpc_finish(c, H2RPC_OK, NULL);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Server stream, the request of tests/check_h2rpc.c: count (u32, at most
 * 24 here), size (u32, at most max_send), hold (u8: never finish). */
static int f_stream(h2rpc_call *c, const uint8_t *m, size_t n)
{
    fstate *s = st_of(c);

    if (n < 9)
        return h2rpc_finish(c, H2RPC_INVALID_ARGUMENT, "short request");
    s->count = get32(m);
    if (s->count > 24)
        s->count = 24;
    s->size = get32(m + 4) % (MAX_SEND + 1);
    s->hold = m[8];
    f_pump(c);
    return 0;
}

static void f_writable(h2rpc_call *c)
{
    f_pump(c);
}

static int f_count(h2rpc_call *c, const uint8_t *m, size_t n)
{
    fstate *s = st_of(c);

    (void)m;
    s->sent++;
    s->keep_len += n;
    return 0;
}

static void f_count_end(h2rpc_call *c)
{
    fstate *s = st_of(c);
    uint8_t out[8] = { 0 };

    memcpy(out, &s->keep_len, sizeof out < sizeof s->keep_len
                                  ? sizeof out : sizeof s->keep_len);
    h2rpc_send(c, out, sizeof out);
    h2rpc_finishf(c, H2RPC_OK, "%u", (unsigned)s->sent);
}

static int f_bidi(h2rpc_call *c, const uint8_t *m, size_t n)
{
    st_of(c);
    h2rpc_send(c, m, n);
    return n > 0 && m[0] == 0xee ? -1 : 0;
}

static void f_bidi_end(h2rpc_call *c)
{
    f_end(c);
    h2rpc_finish(c, H2RPC_OK, "bye");
}

static int f_refuse(h2rpc_call *c)
{
    f_start(c);
    h2rpc_finish(c, H2RPC_PERMISSION_DENIED, "no \x01 way");
    return 0;
}

static int f_fail_start(h2rpc_call *c)
{
    f_start(c);
    return -1;
}

static int f_slow(h2rpc_call *c, const uint8_t *m, size_t n)
{
    (void)m;
    (void)n;
    st_of(c);
    return 0;
}

static const h2rpc_method methods[] = {
    { "/t.Echo/Unary", H2RPC_UNARY, 0, f_start, f_keep, f_echo_end, NULL,
      f_close },
    { "/t.Echo/Quick", H2RPC_UNARY, 0, f_start, f_quick, f_end, NULL,
      f_close },
    { "/t.Echo/Stream", H2RPC_SERVER_STREAM, 0, f_start, f_stream, f_end,
      f_writable, f_close },
    { "/t.Echo/Collect", H2RPC_CLIENT_STREAM, 0, f_start, f_count,
      f_count_end, NULL, f_close },
    { "/t.Echo/Chat", H2RPC_BIDI, 0, f_start, f_bidi, f_bidi_end, NULL,
      f_close },
    { "/t.Echo/Secure", H2RPC_UNARY, 1, f_start, f_keep, f_echo_end, NULL,
      f_close },
    { "/t.Echo/Refuse", H2RPC_UNARY, 0, f_refuse, f_keep, f_echo_end, NULL,
      f_close },
    { "/t.Echo/FailStart", H2RPC_UNARY, 0, f_fail_start, f_keep,
      f_echo_end, NULL, f_close },
    { "/t.Echo/Slow", H2RPC_UNARY, 0, f_start, f_slow, f_end, NULL,
      f_close },
};

static int f_auth(void *app, const char *a)
{
    if (app != cur)
        abort();
    return a && strcmp(a, "Bearer good") == 0 ? 0 : -1;
}

static uint64_t f_clock(void *arg)
{
    return *(const uint64_t *)arg;
}

static int sink(void *arg, const uint8_t *buf, size_t len)
{
    fctx *x = arg;

    if (len == 0 || !buf)
        abort();
    return x->stop_each;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                     "\0\0\0\4\0\0\0\0\0";
    static const uint64_t steps[4] = { 0, 1, 7, 1000 };
    h2rpc_cfg cfg;
    fctx x;
    uint64_t now = 1000;
    uint8_t mode;
    size_t slice, off = 0;
    char err[256];
    int rc = 0, first = 1;

    if (size < 1)
        return 0;
    mode = data[0];
    data++;
    size--;
    memset(&cfg, 0, sizeof cfg);
    cfg.methods = methods;
    cfg.n_methods = (int)(sizeof methods / sizeof methods[0]);
    cfg.max_recv = 64 * 1024;
    cfg.max_send = MAX_SEND;
    cfg.auth = f_auth;
    memset(&x, 0, sizeof x);
    cfg.app = &x;
    cur = &x;
    x.stop_each = (mode >> 7) & 1;
    if (h2rpc_conn_new(&cfg, 0xabcdef, &x.conn) != 0)
        abort();
    h2rpc_conn_set_clock(x.conn, f_clock, &now);
    slice = (mode >> 1) & 7;
    slice = slice ? (size_t)1 << (slice - 1) : size;
    if (slice == 0)
        slice = 1;

    if (mode & 1) {
        rc = h2rpc_conn_feed(x.conn, preface, sizeof preface - 1, err,
                             sizeof err);
        if (rc != 0)
            abort();
    }
    while (rc == 0 && off < size) {
        size_t n = size - off < slice ? size - off : slice;
        long d;

        err[0] = '\0';
        rc = h2rpc_conn_feed(x.conn, data + off, n, err, sizeof err);
        if (rc != 0 && (rc != -EPROTO || err[0] == '\0'))
            abort();
        off += n;
        if (first && (mode & 0x40))
            h2rpc_conn_shutdown(x.conn);
        first = 0;
        do {
            d = h2rpc_conn_drain(x.conn, sink, &x);
            if (d < 0 && d != -EPROTO)
                abort();
        } while (d > 0 && x.stop_each && h2rpc_conn_want_write(x.conn));
        now += steps[(mode >> 4) & 3];
        h2rpc_conn_tick(x.conn, now);
        (void)h2rpc_conn_done(x.conn);
    }
    h2rpc_conn_drain(x.conn, sink, &x);
    h2rpc_conn_tick(x.conn, UINT64_MAX);
    h2rpc_conn_drain(x.conn, sink, &x);
    h2rpc_conn_free(x.conn);
    if (x.starts != x.closes)
        abort();
    cur = NULL;
    return 0;
}
