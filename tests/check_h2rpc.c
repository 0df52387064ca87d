/*
 * check_h2rpc.c - unit tests for lib/api/h2rpc.c, the gRPC server front
 * end. Each test drives an h2rpc_conn with an in-memory nghttp2 client
 * session: the client's bytes are fed to the server, the server's drained
 * into the client, until neither has anything left to say. A small method
 * table (unary echo, a unary that answers from on_message, server
 * streaming with backpressure, client streaming, bidi, handlers that fail,
 * stall or refuse) records every callback per stream, so the tests check
 * the wire (headers, messages, trailers, RST_STREAM codes) and the handler
 * contract (callback order, on_close exactly once and its cancelled flag).
 *
 * `check_h2rpc --corpus DIR` writes the client side of a few small calls,
 * one file each, as seeds for tests/fuzz/fuzz_h2rpc.c (the leading byte is
 * the fuzzer's mode byte: 0 fed as is, all at once; others slice it).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "h2rpc.h"

/* ------------------------------------------------------------ server side */

/* What the handlers saw, per stream id. */
typedef struct ev {
    char log[32];               /* S start, M message, E end, C close */
    int closes;
    int cancelled;
    int writables;
    int eagains;
    int rc_after_finish;        /* Quick: h2rpc_send after finish */
    int rc_finish_again;        /* Quick: second h2rpc_finish */
    int rc_big;                 /* Quick: oversized send */
    int found_before;           /* h2rpc_conn_find(id) == c in on_start */
    int found_in_close;         /* ... in on_close (must be 0) */
    uint64_t id;
    uint64_t deadline;
    char trace[64];             /* x-trace header */
    void *app;
} ev;

static ev evs[256];
static int app_token;
static uint64_t fake_now = 1000;
static h2rpc_conn *cur_conn;    /* for h2rpc_conn_find in handlers */

static ev *ev_of(h2rpc_call *c)
{
    return &evs[h2rpc_call_id(c) & 0xff];
}

static void logc(h2rpc_call *c, char ch)
{
    ev *e = ev_of(c);
    size_t n = strlen(e->log);

    if (n + 1 < sizeof e->log) {
        e->log[n] = ch;
        e->log[n + 1] = '\0';
    }
}

/* Per-call state of the handlers. */
typedef struct st {
    uint8_t *msg;
    size_t len;
    uint32_t count, size, sent;
    int hold;
    unsigned n_in;
    size_t bytes_in;
    uint32_t sum;
} st;

static int h_start(h2rpc_call *c)
{
    ev *e = ev_of(c);
    const char *tr = h2rpc_call_header(c, "x-trace");

    logc(c, 'S');
    e->id = h2rpc_call_id(c);
    e->deadline = h2rpc_call_deadline(c);
    e->app = h2rpc_app(c);
    e->found_before = cur_conn && h2rpc_conn_find(cur_conn, e->id) == c &&
                      h2rpc_call_conn(c) == cur_conn;
    snprintf(e->trace, sizeof e->trace, "%s", tr ? tr : "");
    h2rpc_call_set_data(c, calloc(1, sizeof(st)));
    return 0;
}

static void h_close(h2rpc_call *c, int cancelled)
{
    ev *e = ev_of(c);
    st *s = h2rpc_call_data(c);

    logc(c, 'C');
    e->closes++;
    e->cancelled = cancelled;
    e->found_in_close = cur_conn && h2rpc_conn_find(cur_conn, e->id) != NULL;
    if (s)
        free(s->msg);
    free(s);
}

/* Unary echo: keeps the message, answers on on_end. */
static int echo_msg(h2rpc_call *c, const uint8_t *m, size_t n)
{
    st *s = h2rpc_call_data(c);

    logc(c, 'M');
    free(s->msg);
    s->msg = malloc(n ? n : 1);
    memcpy(s->msg, m, n);
    s->len = n;
    return 0;
}

static void echo_end(h2rpc_call *c)
{
    st *s = h2rpc_call_data(c);

    logc(c, 'E');
    ck_assert_int_eq(h2rpc_send(c, s->msg, s->len), 0);
    ck_assert_int_eq(h2rpc_finish(c, H2RPC_OK, NULL), 0);
}

/* Quick: answers from inside on_message. */
static int quick_msg(h2rpc_call *c, const uint8_t *m, size_t n)
{
    ev *e = ev_of(c);
    static const char weird[] = "done: 100% \"sure\"\n\xc3\xa9\t~";

    logc(c, 'M');
    if (n == 3 && memcmp(m, "big", 3) == 0) {
        uint8_t *b = calloc(1, 2049);
        e->rc_big = h2rpc_send(c, b, 2049);   /* max_send 2048 */
        free(b);
    }
    ck_assert_int_eq(h2rpc_send(c, m, n), 0);
    ck_assert_int_eq(h2rpc_finish(c, H2RPC_OK, weird), 0);
    e->rc_after_finish = h2rpc_send(c, m, n);
    e->rc_finish_again = h2rpc_finish(c, H2RPC_INTERNAL, "again");
    return 0;
}

static void log_end(h2rpc_call *c)
{
    logc(c, 'E');
}

/* Server stream: request = count(u32) size(u32) hold(u8). */
static void ss_pump(h2rpc_call *c)
{
    st *s = h2rpc_call_data(c);
    ev *e = ev_of(c);

    while (s->sent < s->count) {
        uint8_t *b = malloc(s->size ? s->size : 1);
        int rv;
        for (uint32_t i = 0; i < s->size; i++)
            b[i] = (uint8_t)(s->sent * 7 + i);
        rv = h2rpc_send(c, b, s->size);
        free(b);
        s->sent++;
        if (rv == -EAGAIN) {
            e->eagains++;
            return;
        }
        ck_assert_int_eq(rv, 0);
    }
    if (!s->hold)
        ck_assert_int_eq(h2rpc_finish(c, H2RPC_OK, NULL), 0);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int ss_msg(h2rpc_call *c, const uint8_t *m, size_t n)
{
    st *s = h2rpc_call_data(c);

    logc(c, 'M');
    ck_assert_uint_eq(n, 9);
    s->count = get32(m);
    s->size = get32(m + 4);
    s->hold = m[8];
    ss_pump(c);
    return 0;
}

static void ss_writable(h2rpc_call *c)
{
    ev_of(c)->writables++;
    ss_pump(c);
}

/* Client stream: counts and sums, answers on on_end. */
static int cs_msg(h2rpc_call *c, const uint8_t *m, size_t n)
{
    st *s = h2rpc_call_data(c);

    logc(c, 'M');
    s->n_in++;
    s->bytes_in += n;
    for (size_t i = 0; i < n; i++)
        s->sum = s->sum * 31 + m[i];
    return 0;
}

static void cs_end(h2rpc_call *c)
{
    st *s = h2rpc_call_data(c);
    char out[96];
    int n;

    logc(c, 'E');
    n = snprintf(out, sizeof out, "n=%u bytes=%zu sum=%u", s->n_in,
                 s->bytes_in, s->sum);
    ck_assert_int_eq(h2rpc_send(c, out, (size_t)n), 0);
    ck_assert_int_eq(h2rpc_finishf(c, H2RPC_OK, "got %u", s->n_in), 0);
}

/* Bidi: echoes each message at once. */
static int bidi_msg(h2rpc_call *c, const uint8_t *m, size_t n)
{
    logc(c, 'M');
    ck_assert_int_eq(h2rpc_send(c, m, n), 0);
    return 0;
}

static void bidi_end(h2rpc_call *c)
{
    logc(c, 'E');
    ck_assert_int_eq(h2rpc_finish(c, H2RPC_OK, "bye"), 0);
}

/* Refuse in on_start. */
static const char refuse_msg[] = "no: 100%\r\n\x01\x7f\xff caf\xc3\xa9 [ok] ~";

static int refuse_start(h2rpc_call *c)
{
    h_start(c);
    ck_assert_int_eq(h2rpc_finish(c, H2RPC_PERMISSION_DENIED, refuse_msg), 0);
    return 0;
}

static int fail_start(h2rpc_call *c)
{
    h_start(c);
    return -1;
}

static int fail_msg(h2rpc_call *c, const uint8_t *m, size_t n)
{
    (void)m;
    (void)n;
    logc(c, 'M');
    return -1;
}

static int slow_msg(h2rpc_call *c, const uint8_t *m, size_t n)
{
    (void)m;
    (void)n;
    logc(c, 'M');
    return 0;
}

static const h2rpc_method methods[] = {
    { "/t.Echo/Unary", H2RPC_UNARY, 0, h_start, echo_msg, echo_end, NULL,
      h_close },
    { "/t.Echo/Quick", H2RPC_UNARY, 0, h_start, quick_msg, log_end, NULL,
      h_close },
    { "/t.Echo/Stream", H2RPC_SERVER_STREAM, 0, h_start, ss_msg, log_end,
      ss_writable, h_close },
    { "/t.Echo/Collect", H2RPC_CLIENT_STREAM, 0, h_start, cs_msg, cs_end,
      NULL, h_close },
    { "/t.Echo/Chat", H2RPC_BIDI, 0, h_start, bidi_msg, bidi_end, NULL,
      h_close },
    { "/t.Echo/Secure", H2RPC_UNARY, 1, h_start, echo_msg, echo_end, NULL,
      h_close },
    { "/t.Echo/Refuse", H2RPC_UNARY, 0, refuse_start, echo_msg, echo_end,
      NULL, h_close },
    { "/t.Echo/FailStart", H2RPC_UNARY, 0, fail_start, echo_msg, echo_end,
      NULL, h_close },
    { "/t.Echo/FailMsg", H2RPC_CLIENT_STREAM, 0, h_start, fail_msg, log_end,
      NULL, h_close },
    { "/t.Echo/Slow", H2RPC_UNARY, 0, h_start, slow_msg, log_end, NULL,
      h_close },
};

static int auth_cb(void *app, const char *a)
{
    ck_assert_ptr_eq(app, &app_token);
    return a && strcmp(a, "Bearer good") == 0 ? 0 : -1;
}

static uint64_t clock_cb(void *arg)
{
    return *(uint64_t *)arg;
}

static h2rpc_cfg make_cfg(void)
{
    h2rpc_cfg cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.methods = methods;
    cfg.n_methods = (int)(sizeof methods / sizeof methods[0]);
    cfg.max_recv = 1024;
    cfg.max_send = 2048;
    cfg.auth = auth_cb;
    cfg.app = &app_token;
    return cfg;
}

/* ------------------------------------------------------------ client side */

#define MAXS 64
#define MAXH 16

typedef struct cstream {
    int32_t id;
    /* request body */
    uint8_t *req;
    size_t req_len, req_off, chunk_max;
    int req_end, deferred;
    /* response */
    char *hn[MAXH], *hv[MAXH];  /* response headers */
    int nh;
    char *tn[MAXH], *tv[MAXH];  /* trailers */
    int nt;
    int header_frames;
    int trailers_only;
    int end_stream;
    uint8_t *data;
    size_t data_len, data_cap;
    int closed;
    uint32_t close_code;
} cstream;

typedef struct harness {
    h2rpc_cfg cfg;
    h2rpc_conn *srv;
    nghttp2_session *cli;
    cstream st[MAXS];
    int feed_rc;
    char err[256];
    int goaway;
    uint32_t goaway_code;
    int32_t goaway_last;
    FILE *rec;                  /* client bytes, for the corpus */
} harness;

static cstream *cs_by_id(harness *h, int32_t id)
{
    for (int i = 0; i < MAXS; i++)
        if (h->st[i].id == id)
            return &h->st[i];
    return NULL;
}

static void push_hdr(char **n, char **v, int *cnt, const uint8_t *name,
                     size_t nl, const uint8_t *val, size_t vl)
{
    ck_assert_int_lt(*cnt, MAXH);
    n[*cnt] = strndup((const char *)name, nl);
    v[*cnt] = strndup((const char *)val, vl);
    (*cnt)++;
}

static int c_on_header(nghttp2_session *s, const nghttp2_frame *f,
                       const uint8_t *name, size_t nl, const uint8_t *val,
                       size_t vl, uint8_t flags, void *user)
{
    cstream *cs = cs_by_id(user, f->hd.stream_id);

    (void)s;
    (void)flags;
    if (!cs || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (f->headers.cat == NGHTTP2_HCAT_RESPONSE)
        push_hdr(cs->hn, cs->hv, &cs->nh, name, nl, val, vl);
    else
        push_hdr(cs->tn, cs->tv, &cs->nt, name, nl, val, vl);
    return 0;
}

static int c_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f,
                           void *user)
{
    harness *h = user;
    cstream *cs;

    (void)s;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        h->goaway++;
        h->goaway_code = f->goaway.error_code;
        h->goaway_last = f->goaway.last_stream_id;
        return 0;
    }
    cs = cs_by_id(h, f->hd.stream_id);
    if (!cs)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS) {
        cs->header_frames++;
        if (f->headers.cat == NGHTTP2_HCAT_RESPONSE &&
            (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
            cs->trailers_only = 1;
    }
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        cs->end_stream = 1;
    return 0;
}

static int c_on_data(nghttp2_session *s, uint8_t flags, int32_t id,
                     const uint8_t *data, size_t len, void *user)
{
    cstream *cs = cs_by_id(user, id);

    (void)s;
    (void)flags;
    if (!cs)
        return 0;
    if (cs->data_len + len > cs->data_cap) {
        size_t cap = cs->data_cap ? cs->data_cap : 4096;
        while (cap < cs->data_len + len)
            cap *= 2;
        cs->data = realloc(cs->data, cap);
        ck_assert_ptr_nonnull(cs->data);
        cs->data_cap = cap;
    }
    memcpy(cs->data + cs->data_len, data, len);
    cs->data_len += len;
    return 0;
}

static int c_on_close(nghttp2_session *s, int32_t id, uint32_t code,
                      void *user)
{
    cstream *cs = cs_by_id(user, id);

    (void)s;
    if (cs) {
        cs->closed = 1;
        cs->close_code = code;
    }
    return 0;
}

static ssize_t c_read(nghttp2_session *s, int32_t id, uint8_t *buf,
                      size_t length, uint32_t *flags,
                      nghttp2_data_source *src, void *user)
{
    cstream *cs = src->ptr;
    size_t n = cs->req_len - cs->req_off;

    (void)s;
    (void)id;
    (void)user;
    if (n > length)
        n = length;
    if (cs->chunk_max && n > cs->chunk_max)
        n = cs->chunk_max;
    memcpy(buf, cs->req + cs->req_off, n);
    cs->req_off += n;
    if (cs->req_off == cs->req_len) {
        if (cs->req_end)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        else if (n == 0) {
            cs->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

static void h_init(harness *h, const h2rpc_cfg *cfg)
{
    nghttp2_session_callbacks *cb;
    nghttp2_settings_entry iv[1] = {
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
    };

    memset(h, 0, sizeof *h);
    memset(evs, 0, sizeof evs);
    fake_now = 1000;
    h->cfg = cfg ? *cfg : make_cfg();
    ck_assert_int_eq(h2rpc_conn_new(&h->cfg, 7, &h->srv), 0);
    h2rpc_conn_set_clock(h->srv, clock_cb, &fake_now);
    cur_conn = h->srv;
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_on_close);
    ck_assert_int_eq(nghttp2_session_client_new(&h->cli, cb, h), 0);
    nghttp2_session_callbacks_del(cb);
    ck_assert_int_eq(nghttp2_submit_settings(h->cli, NGHTTP2_FLAG_NONE, iv, 1),
                     0);
}

static void cs_free(cstream *cs)
{
    for (int i = 0; i < cs->nh; i++) {
        free(cs->hn[i]);
        free(cs->hv[i]);
    }
    for (int i = 0; i < cs->nt; i++) {
        free(cs->tn[i]);
        free(cs->tv[i]);
    }
    free(cs->req);
    free(cs->data);
    memset(cs, 0, sizeof *cs);
}

static void h_done(harness *h)
{
    h2rpc_conn_free(h->srv);
    cur_conn = NULL;
    nghttp2_session_del(h->cli);
    for (int i = 0; i < MAXS; i++)
        cs_free(&h->st[i]);
}

static int to_client(void *arg, const uint8_t *buf, size_t len)
{
    harness *h = arg;
    ssize_t n = nghttp2_session_mem_recv(h->cli, buf, len);

    ck_assert_int_eq(n, (ssize_t)len);
    return 0;
}

/* Move bytes both ways until both sides are quiet. */
static void pump(harness *h)
{
    for (int iter = 0; iter < 1000000; iter++) {
        const uint8_t *p;
        ssize_t n;
        long m;
        int progress = 0;

        while ((n = nghttp2_session_mem_send(h->cli, &p)) > 0) {
            progress = 1;
            if (h->rec)
                fwrite(p, 1, (size_t)n, h->rec);
            if (h->feed_rc == 0)
                h->feed_rc = h2rpc_conn_feed(h->srv, p, (size_t)n, h->err,
                                             sizeof h->err);
        }
        ck_assert_int_ge(n, 0);
        m = h2rpc_conn_drain(h->srv, to_client, h);
        ck_assert_int_ge(m, 0);
        if (m > 0)
            progress = 1;
        if (!progress)
            return;
    }
    ck_abort_msg("pump does not settle");
}

/* Add request bytes to stream cs; end: no more after them. */
static void cs_add(harness *h, cstream *cs, const void *p, size_t n, int end)
{
    cs->req = realloc(cs->req, cs->req_len + n + 1);
    memcpy(cs->req + cs->req_len, p, n);
    cs->req_len += n;
    cs->req_end = end;
    if (cs->deferred && cs->id) {
        cs->deferred = 0;
        ck_assert_int_eq(nghttp2_session_resume_data(h->cli, cs->id), 0);
    }
}

/* gRPC framing: flag, length, bytes. */
static void cs_add_msg(harness *h, cstream *cs, uint8_t flag, const void *p,
                       size_t n, int end)
{
    uint8_t pfx[5];

    pfx[0] = flag;
    put32(pfx + 1, (uint32_t)n);
    cs_add(h, cs, pfx, 5, 0);
    cs_add(h, cs, p, n, end);
}

typedef struct req {
    const char *path;
    const char *method;         /* default POST */
    const char *ctype;          /* default application/grpc */
    const char *timeout;
    const char *auth;
    int no_body;                /* HEADERS with END_STREAM */
    const char *big;            /* an x-big header */
} req;

static cstream *call(harness *h, const req *r)
{
    nghttp2_nv nv[10];
    size_t n = 0;
    nghttp2_data_provider prd;
    cstream *cs = NULL;
    int32_t id;

#define ADD(nm, v)                                                        \
    do {                                                                  \
        nv[n].name = (uint8_t *)(nm);                                     \
        nv[n].value = (uint8_t *)(v);                                     \
        nv[n].namelen = strlen(nm);                                       \
        nv[n].valuelen = strlen(v);                                       \
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;                               \
        n++;                                                              \
    } while (0)
    ADD(":method", r->method ? r->method : "POST");
    ADD(":scheme", "http");
    ADD(":path", r->path);
    ADD(":authority", "localhost");
    ADD("content-type", r->ctype ? r->ctype : "application/grpc");
    ADD("te", "trailers");
    ADD("x-trace", "abc-123");
    if (r->timeout)
        ADD("grpc-timeout", r->timeout);
    if (r->auth)
        ADD("authorization", r->auth);
    if (r->big)
        ADD("x-big", r->big);
#undef ADD
    for (int i = 0; i < MAXS; i++)
        if (h->st[i].id == 0) {
            cs = &h->st[i];
            break;
        }
    ck_assert_ptr_nonnull(cs);
    prd.source.ptr = cs;
    prd.read_callback = c_read;
    id = nghttp2_submit_request(h->cli, NULL, nv, n,
                                r->no_body ? NULL : &prd, cs);
    ck_assert_int_gt(id, 0);
    cs->id = id;
    return cs;
}

static const char *hget(char **names, char **vals, int cnt, const char *nm)
{
    for (int i = 0; i < cnt; i++)
        if (strcmp(names[i], nm) == 0)
            return vals[i];
    return NULL;
}

static const char *resp_h(const cstream *cs, const char *nm)
{
    return hget((char **)cs->hn, (char **)cs->hv, cs->nh, nm);
}

/* grpc-status / grpc-message: trailers, or the headers of Trailers-Only. */
static int grpc_status(const cstream *cs)
{
    const char *v = cs->trailers_only
                        ? hget((char **)cs->hn, (char **)cs->hv, cs->nh,
                               "grpc-status")
                        : hget((char **)cs->tn, (char **)cs->tv, cs->nt,
                               "grpc-status");
    return v ? atoi(v) : -1;
}

static const char *grpc_msg_raw(const cstream *cs)
{
    return cs->trailers_only
               ? hget((char **)cs->hn, (char **)cs->hv, cs->nh,
                      "grpc-message")
               : hget((char **)cs->tn, (char **)cs->tv, cs->nt,
                      "grpc-message");
}

static int hexv(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Percent-decoded grpc-message into out ("" when absent). */
static const char *grpc_msg(const cstream *cs, char *out, size_t cap)
{
    const char *v = grpc_msg_raw(cs);
    size_t o = 0;

    out[0] = '\0';
    if (!v)
        return out;
    for (size_t i = 0; v[i] && o + 1 < cap; i++) {
        if (v[i] == '%' && hexv(v[i + 1]) >= 0 && hexv(v[i + 2]) >= 0) {
            out[o++] = (char)(hexv(v[i + 1]) << 4 | hexv(v[i + 2]));
            i += 2;
        } else {
            out[o++] = v[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* The idx-th response message of cs; its length in *len, or NULL. */
static const uint8_t *resp_msg(const cstream *cs, int idx, size_t *len)
{
    size_t off = 0;

    for (int i = 0; off + 5 <= cs->data_len; i++) {
        uint32_t n = get32(cs->data + off + 1);
        ck_assert_int_eq(cs->data[off], 0);
        ck_assert_uint_le(off + 5 + n, cs->data_len);
        if (i == idx) {
            *len = n;
            return cs->data + off + 5;
        }
        off += 5 + n;
    }
    ck_assert_uint_eq(off, cs->data_len);
    return NULL;
}

static int resp_count(const cstream *cs)
{
    size_t len;
    int n = 0;

    while (resp_msg(cs, n, &len))
        n++;
    return n;
}

static ev *ev_id(const cstream *cs)
{
    return &evs[cs->id & 0xff];
}

/* The usual response headers of a call that sent messages. */
static void check_resp_headers(const cstream *cs)
{
    ck_assert_str_eq(resp_h(cs, ":status"), "200");
    ck_assert_str_eq(resp_h(cs, "content-type"), "application/grpc");
    ck_assert_str_eq(resp_h(cs, "grpc-accept-encoding"), "identity");
    ck_assert_int_eq(cs->trailers_only, 0);
    ck_assert_int_eq(cs->header_frames, 2);
    ck_assert_int_eq(cs->end_stream, 1);
}

/* A refusal before any handler ran: Trailers-Only, no callback at all. */
static void check_refused(const cstream *cs, int status, const char *msg)
{
    char m[512];

    ck_assert_int_eq(cs->closed, 1);
    ck_assert_int_eq(cs->trailers_only, 1);
    ck_assert_int_eq(cs->header_frames, 1);
    ck_assert_str_eq(resp_h(cs, ":status"), "200");
    ck_assert_str_eq(resp_h(cs, "content-type"), "application/grpc");
    ck_assert_int_eq(grpc_status(cs), status);
    ck_assert_str_eq(grpc_msg(cs, m, sizeof m), msg);
    ck_assert_uint_eq(cs->data_len, 0);
}

static const uint8_t *fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 131 + seed);
    return b;
}

/* ------------------------------------------------------------ tests */

START_TEST(test_unary_ok)
{
    harness h;
    req r = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    cstream *cs;
    const uint8_t *m;
    size_t len;
    char buf[64];

    h_init(&h, NULL);
    cs = call(&h, &r);
    cs_add_msg(&h, cs, 0, "hello", 5, 1);
    pump(&h);
    ck_assert_int_eq(h.feed_rc, 0);
    check_resp_headers(cs);
    ck_assert_int_eq(resp_count(cs), 1);
    m = resp_msg(cs, 0, &len);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(m, "hello", 5);
    ck_assert_int_eq(grpc_status(cs), 0);
    ck_assert_ptr_null(grpc_msg_raw(cs));
    ck_assert_str_eq(grpc_msg(cs, buf, sizeof buf), "");
    ck_assert_int_eq(cs->closed, 1);
    ck_assert_uint_eq(cs->close_code, NGHTTP2_NO_ERROR);
    ck_assert_str_eq(ev_id(cs)->log, "SMEC");
    ck_assert_int_eq(ev_id(cs)->closes, 1);
    ck_assert_int_eq(ev_id(cs)->cancelled, 0);
    ck_assert_uint_eq(ev_id(cs)->id, (7ull << 32) | 1);
    ck_assert_uint_eq(ev_id(cs)->deadline, 0);
    ck_assert_str_eq(ev_id(cs)->trace, "abc-123");
    ck_assert_ptr_eq(ev_id(cs)->app, &app_token);
    ck_assert_int_eq(ev_id(cs)->found_before, 1);
    ck_assert_int_eq(ev_id(cs)->found_in_close, 0);
    ck_assert_ptr_null(h2rpc_conn_find(h.srv, (7ull << 32) | 1));
    ck_assert_ptr_null(h2rpc_conn_find(h.srv, (8ull << 32) | 1));
    ck_assert_int_eq(h2rpc_conn_want_write(h.srv), 0);
    ck_assert_int_eq(h2rpc_conn_done(h.srv), 0);
    h_done(&h);
}
END_TEST

START_TEST(test_unary_from_on_message)
{
    harness h;
    req r = { "/t.Echo/Quick", 0, 0, 0, 0, 0, 0 };
    cstream *cs, *cs2;
    const uint8_t *m;
    size_t len;
    char buf[128];

    h_init(&h, NULL);
    cs = call(&h, &r);
    cs_add_msg(&h, cs, 0, "ping", 4, 1);
    cs2 = call(&h, &r);
    cs_add_msg(&h, cs2, 0, "big", 3, 1);
    pump(&h);
    check_resp_headers(cs);
    m = resp_msg(cs, 0, &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(m, "ping", 4);
    ck_assert_int_eq(grpc_status(cs), H2RPC_OK);
    ck_assert_str_eq(grpc_msg(cs, buf, sizeof buf),
                     "done: 100% \"sure\"\n\xc3\xa9\t~");
    ck_assert_str_eq(grpc_msg_raw(cs),
                     "done: 100%25 \"sure\"%0A%C3%A9%09~");
    /* finished in on_message: no on_end, send/finish after it refused */
    ck_assert_str_eq(ev_id(cs)->log, "SMC");
    ck_assert_int_eq(ev_id(cs)->cancelled, 0);
    ck_assert_int_eq(ev_id(cs)->rc_after_finish, -EPIPE);
    ck_assert_int_eq(ev_id(cs)->rc_finish_again, -EALREADY);
    /* max_send is 2048: a 2049-byte message is refused, not queued */
    ck_assert_int_eq(ev_id(cs2)->rc_big, -EMSGSIZE);
    ck_assert_int_eq(resp_count(cs2), 1);
    m = resp_msg(cs2, 0, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(m, "big", 3);
    ck_assert_str_eq(ev_id(cs2)->log, "SMC");
    h_done(&h);
}
END_TEST

START_TEST(test_server_stream_backpressure)
{
    harness h;
    req r = { "/t.Echo/Stream", 0, 0, 0, 0, 0, 0 };
    cstream *cs;
    uint8_t rq[9];
    const uint32_t count = 40, size = 256 * 1024;
    h2rpc_cfg cfg = make_cfg();

    cfg.max_send = size;
    h_init(&h, &cfg);
    cs = call(&h, &r);
    put32(rq, count);
    put32(rq + 4, size);
    rq[8] = 0;
    cs_add_msg(&h, cs, 0, rq, 9, 1);
    pump(&h);
    ck_assert_int_eq(h.feed_rc, 0);
    check_resp_headers(cs);
    ck_assert_int_eq(resp_count(cs), (int)count);
    ck_assert_uint_eq(cs->data_len, (size_t)count * (size + 5));
    for (uint32_t k = 0; k < count; k++) {
        size_t len;
        const uint8_t *m = resp_msg(cs, (int)k, &len);
        ck_assert_uint_eq(len, size);
        for (uint32_t i = 0; i < size; i += 4093)
            ck_assert_uint_eq(m[i], (uint8_t)(k * 7 + i));
        ck_assert_uint_eq(m[size - 1], (uint8_t)(k * 7 + size - 1));
    }
    ck_assert_int_eq(grpc_status(cs), H2RPC_OK);
    /* 10 MiB through a 4 MiB queue: -EAGAIN, then on_writable */
    ck_assert_int_ge(ev_id(cs)->eagains, 2);
    ck_assert_int_eq(ev_id(cs)->writables, ev_id(cs)->eagains);
    ck_assert_str_eq(ev_id(cs)->log, "SMEC");
    ck_assert_int_eq(ev_id(cs)->cancelled, 0);
    ck_assert_uint_eq(cs->close_code, NGHTTP2_NO_ERROR);
    h_done(&h);
}
END_TEST

START_TEST(test_client_stream)
{
    harness h;
    req r = { "/t.Echo/Collect", 0, 0, 0, 0, 0, 0 };
    cstream *cs, *cs2, *cs3;
    uint8_t b[1000];
    uint8_t *big;
    const uint8_t *m;
    size_t len;
    uint32_t sum = 0;
    char want[96], buf[64];
    h2rpc_cfg cfg = make_cfg();

    cfg.max_recv = 200000;
    h_init(&h, &cfg);
    /* small messages in 7-byte DATA frames: prefixes split too */
    cs = call(&h, &r);
    cs->chunk_max = 7;
    cs_add_msg(&h, cs, 0, "", 0, 0);
    cs_add_msg(&h, cs, 0, "abc", 3, 0);
    cs_add_msg(&h, cs, 0, fill(b, sizeof b, 3), sizeof b, 0);
    cs_add_msg(&h, cs, 0, "0123456789", 10, 1);
    /* one 150000-byte message over many 16 KiB frames, then one byte */
    cs2 = call(&h, &r);
    big = malloc(150000);
    fill(big, 150000, 9);
    cs_add_msg(&h, cs2, 0, big, 150000, 0);
    cs_add_msg(&h, cs2, 0, "z", 1, 1);
    /* 40 x 60000 bytes: beyond the 1 MiB stream window, so the server's
     * WINDOW_UPDATEs have to flow */
    cs3 = call(&h, &r);
    for (int i = 0; i < 40; i++)
        cs_add_msg(&h, cs3, 0, big + i, 60000, i == 39);
    pump(&h);

    for (size_t i = 0; i < 3; i++)
        sum = sum * 31 + (uint8_t)"abc"[i];
    for (size_t i = 0; i < sizeof b; i++)
        sum = sum * 31 + b[i];
    for (size_t i = 0; i < 10; i++)
        sum = sum * 31 + (uint8_t)"0123456789"[i];
    snprintf(want, sizeof want, "n=4 bytes=1013 sum=%u", sum);
    check_resp_headers(cs);
    m = resp_msg(cs, 0, &len);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_mem_eq(m, want, len);
    ck_assert_int_eq(grpc_status(cs), H2RPC_OK);
    ck_assert_str_eq(grpc_msg(cs, buf, sizeof buf), "got 4");
    ck_assert_str_eq(ev_id(cs)->log, "SMMMMEC");
    ck_assert_int_eq(ev_id(cs)->cancelled, 0);

    sum = 0;
    for (size_t i = 0; i < 150000; i++)
        sum = sum * 31 + big[i];
    sum = sum * 31 + 'z';
    snprintf(want, sizeof want, "n=2 bytes=150001 sum=%u", sum);
    m = resp_msg(cs2, 0, &len);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_mem_eq(m, want, len);
    ck_assert_str_eq(ev_id(cs2)->log, "SMMEC");
    m = resp_msg(cs3, 0, &len);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(strncmp((const char *)m, "n=40 bytes=2400000 sum=", 23),
                     0);
    ck_assert_int_eq(grpc_status(cs3), H2RPC_OK);
    ck_assert_str_eq(grpc_msg(cs3, buf, sizeof buf), "got 40");
    free(big);
    h_done(&h);
}
END_TEST

START_TEST(test_bidi)
{
    harness h;
    req r = { "/t.Echo/Chat", 0, 0, 0, 0, 0, 0 };
    cstream *cs;
    const uint8_t *m;
    size_t len;
    char buf[64];

    h_init(&h, NULL);
    cs = call(&h, &r);
    cs_add_msg(&h, cs, 0, "one", 3, 0);
    pump(&h);
    /* the echo is back while the request is still open */
    ck_assert_int_eq(resp_count(cs), 1);
    m = resp_msg(cs, 0, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(m, "one", 3);
    ck_assert_int_eq(cs->end_stream, 0);
    ck_assert_int_eq(cs->closed, 0);
    ck_assert_str_eq(ev_id(cs)->log, "SM");
    ck_assert_ptr_nonnull(h2rpc_conn_find(h.srv, ev_id(cs)->id));

    cs_add_msg(&h, cs, 0, "second", 6, 0);
    pump(&h);
    ck_assert_int_eq(resp_count(cs), 2);
    m = resp_msg(cs, 1, &len);
    ck_assert_uint_eq(len, 6);
    ck_assert_mem_eq(m, "second", 6);
    ck_assert_int_eq(cs->closed, 0);

    cs_add(&h, cs, "", 0, 1);
    pump(&h);
    check_resp_headers(cs);
    ck_assert_int_eq(grpc_status(cs), H2RPC_OK);
    ck_assert_str_eq(grpc_msg(cs, buf, sizeof buf), "bye");
    ck_assert_int_eq(cs->closed, 1);
    ck_assert_str_eq(ev_id(cs)->log, "SMMEC");
    ck_assert_int_eq(ev_id(cs)->cancelled, 0);
    h_done(&h);
}
END_TEST

START_TEST(test_unknown_method)
{
    harness h;
    req r = { "/t.Echo/Nope", 0, 0, 0, 0, 0, 0 };
    cstream *cs, *cs2;

    h_init(&h, NULL);
    cs = call(&h, &r);
    cs_add_msg(&h, cs, 0, "x", 1, 1);
    /* a client that keeps sending: answered, then RST_STREAM NO_ERROR */
    cs2 = call(&h, &r);
    cs_add_msg(&h, cs2, 0, "x", 1, 0);
    pump(&h);
    check_refused(cs, H2RPC_UNIMPLEMENTED, "unknown method /t.Echo/Nope");
    ck_assert_uint_eq(cs->close_code, NGHTTP2_NO_ERROR);
    check_refused(cs2, H2RPC_UNIMPLEMENTED, "unknown method /t.Echo/Nope");
    ck_assert_uint_eq(cs2->close_code, NGHTTP2_NO_ERROR);
    ck_assert_str_eq(ev_id(cs)->log, "");
    ck_assert_str_eq(ev_id(cs2)->log, "");
    ck_assert_int_eq(ev_id(cs)->closes, 0);
    h_done(&h);
}
END_TEST

START_TEST(test_not_grpc_415)
{
    harness h;
    req r1 = { "/t.Echo/Unary", 0, "application/json", 0, 0, 0, 0 };
    req r2 = { "/t.Echo/Unary", "GET", 0, 0, 0, 1, 0 };
    req r3 = { "/t.Echo/Unary", 0, "application/grpc+proto", 0, 0, 0, 0 };
    cstream *cs1, *cs2, *cs3;
    char buf[128];

    h_init(&h, NULL);
    cs1 = call(&h, &r1);
    cs_add_msg(&h, cs1, 0, "x", 1, 1);
    cs2 = call(&h, &r2);
    cs3 = call(&h, &r3);
    cs_add_msg(&h, cs3, 0, "ok", 2, 1);
    pump(&h);
    ck_assert_str_eq(resp_h(cs1, ":status"), "415");
    ck_assert_str_eq(resp_h(cs1, "grpc-status"), "2");
    ck_assert_str_eq(grpc_msg(cs1, buf, sizeof buf),
                     "content-type is not application/grpc");
    ck_assert_int_eq(cs1->header_frames, 1);
    ck_assert_int_eq(cs1->end_stream, 1);
    ck_assert_uint_eq(cs1->data_len, 0);
    ck_assert_str_eq(resp_h(cs2, ":status"), "415");
    ck_assert_str_eq(grpc_msg(cs2, buf, sizeof buf), "gRPC requires POST");
    ck_assert_int_eq(cs2->end_stream, 1);
    ck_assert_str_eq(ev_id(cs1)->log, "");
    ck_assert_str_eq(ev_id(cs2)->log, "");
    /* application/grpc+proto is gRPC */
    ck_assert_int_eq(grpc_status(cs3), H2RPC_OK);
    ck_assert_str_eq(ev_id(cs3)->log, "SMEC");
    h_done(&h);
}
END_TEST

START_TEST(test_auth)
{
    harness h;
    req none = { "/t.Echo/Secure", 0, 0, 0, 0, 0, 0 };
    req bad = { "/t.Echo/Secure", 0, 0, 0, "Bearer bad", 0, 0 };
    req good = { "/t.Echo/Secure", 0, 0, 0, "Bearer good", 0, 0 };
    req open = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    cstream *c1, *c2, *c3, *c4, *c5;
    h2rpc_cfg cfg = make_cfg();
    size_t len;

    h_init(&h, NULL);
    c1 = call(&h, &none);
    cs_add_msg(&h, c1, 0, "s", 1, 1);
    c2 = call(&h, &bad);
    cs_add_msg(&h, c2, 0, "s", 1, 1);
    c3 = call(&h, &good);
    cs_add_msg(&h, c3, 0, "s", 1, 1);
    c4 = call(&h, &open);
    cs_add_msg(&h, c4, 0, "o", 1, 1);
    pump(&h);
    check_refused(c1, H2RPC_UNAUTHENTICATED, "authorization required");
    check_refused(c2, H2RPC_UNAUTHENTICATED, "authorization refused");
    ck_assert_str_eq(ev_id(c1)->log, "");
    ck_assert_str_eq(ev_id(c2)->log, "");
    ck_assert_int_eq(grpc_status(c3), H2RPC_OK);
    ck_assert_ptr_nonnull(resp_msg(c3, 0, &len));
    ck_assert_str_eq(ev_id(c3)->log, "SMEC");
    ck_assert_int_eq(grpc_status(c4), H2RPC_OK);
    h_done(&h);

    /* no cfg.auth: need_auth methods are open */
    cfg.auth = NULL;
    h_init(&h, &cfg);
    c5 = call(&h, &none);
    cs_add_msg(&h, c5, 0, "s", 1, 1);
    pump(&h);
    ck_assert_int_eq(grpc_status(c5), H2RPC_OK);
    ck_assert_str_eq(ev_id(c5)->log, "SMEC");
    h_done(&h);
}
END_TEST

START_TEST(test_deadline)
{
    harness h;
    req slow = { "/t.Echo/Slow", 0, 0, "100m", 0, 0, 0 };
    req strm = { "/t.Echo/Stream", 0, 0, "2S", 0, 0, 0 };
    cstream *c1, *c2;
    uint8_t rq[9];
    char buf[64];

    h_init(&h, NULL);
    c1 = call(&h, &slow);
    cs_add_msg(&h, c1, 0, "zz", 2, 1);
    /* server stream: two messages out, then it holds, client still open */
    c2 = call(&h, &strm);
    put32(rq, 2);
    put32(rq + 4, 10);
    rq[8] = 1;
    cs_add_msg(&h, c2, 0, rq, 9, 0);
    pump(&h);
    ck_assert_uint_eq(ev_id(c1)->deadline, 1100);
    ck_assert_uint_eq(ev_id(c2)->deadline, 3000);
    ck_assert_str_eq(ev_id(c1)->log, "SME");
    ck_assert_int_eq(resp_count(c2), 2);

    ck_assert_uint_eq(h2rpc_conn_tick(h.srv, 1099), 1100);
    pump(&h);
    ck_assert_int_eq(c1->closed, 0);
    ck_assert_uint_eq(h2rpc_conn_tick(h.srv, 1100), 3000);
    pump(&h);
    /* Trailers-Only DEADLINE_EXCEEDED; the client had ended: no RST */
    check_refused(c1, H2RPC_DEADLINE_EXCEEDED, "deadline exceeded");
    ck_assert_uint_eq(c1->close_code, NGHTTP2_NO_ERROR);
    ck_assert_str_eq(ev_id(c1)->log, "SMEC");
    ck_assert_int_eq(ev_id(c1)->closes, 1);
    ck_assert_int_eq(ev_id(c1)->cancelled, 1);
    ck_assert_int_eq(c2->closed, 0);

    fake_now = 5000;   /* the clock only matters when tick is called */
    ck_assert_uint_eq(h2rpc_conn_tick(h.srv, 3000), UINT64_MAX);
    pump(&h);
    /* headers were out: messages, trailers, then RST_STREAM CANCEL */
    check_resp_headers(c2);
    ck_assert_int_eq(resp_count(c2), 2);
    ck_assert_int_eq(grpc_status(c2), H2RPC_DEADLINE_EXCEEDED);
    ck_assert_str_eq(grpc_msg(c2, buf, sizeof buf), "deadline exceeded");
    ck_assert_int_eq(c2->closed, 1);
    ck_assert_uint_eq(c2->close_code, NGHTTP2_CANCEL);
    ck_assert_str_eq(ev_id(c2)->log, "SMC");
    ck_assert_int_eq(ev_id(c2)->closes, 1);
    ck_assert_int_eq(ev_id(c2)->cancelled, 1);
    ck_assert_uint_eq(h2rpc_conn_tick(h.srv, 99999), UINT64_MAX);
    h_done(&h);
}
END_TEST

/* A client that stops reading: the deadline still frees the call. */
START_TEST(test_deadline_stalled_reader)
{
    harness h;
    req strm = { "/t.Echo/Stream", 0, 0, "1S", 0, 0, 0 };
    nghttp2_settings_entry iv[1] = {
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0 },
    };
    cstream *cs;
    uint8_t rq[9];

    h_init(&h, NULL);
    ck_assert_int_eq(nghttp2_submit_settings(h.cli, NGHTTP2_FLAG_NONE, iv, 1),
                     0);
    cs = call(&h, &strm);
    put32(rq, 3);
    put32(rq + 4, 100);
    rq[8] = 0;                  /* the handler finishes at once */
    cs_add_msg(&h, cs, 0, rq, 9, 1);
    pump(&h);
    /* headers out, no DATA: the window is 0 */
    ck_assert_str_eq(resp_h(cs, ":status"), "200");
    ck_assert_uint_eq(cs->data_len, 0);
    ck_assert_int_eq(cs->closed, 0);
    /* finished inside on_message: no on_end */
    ck_assert_str_eq(ev_id(cs)->log, "SM");
    ck_assert_uint_eq(h2rpc_conn_tick(h.srv, 2000), UINT64_MAX);
    pump(&h);
    ck_assert_int_eq(cs->closed, 1);
    ck_assert_uint_eq(cs->close_code, NGHTTP2_CANCEL);
    ck_assert_int_eq(cs->nt, 0);
    ck_assert_str_eq(ev_id(cs)->log, "SMC");
    ck_assert_int_eq(ev_id(cs)->closes, 1);
    ck_assert_int_eq(ev_id(cs)->cancelled, 1);
    h_done(&h);
}
END_TEST

START_TEST(test_timeout_units)
{
    static const struct {
        const char *v;
        uint64_t ms;
    } t[] = {
        { "1H", 3600000 }, { "2M", 120000 }, { "3S", 3000 },
        { "4m", 4 }, { "5001u", 6 }, { "1n", 1 }, { "0m", 0 },
        { "99999999m", 99999999 }, { "00000007S", 7000 },
        { "99999999H", 99999999ull * 3600000 },
    };
    harness h;
    cstream *cs[10];

    h_init(&h, NULL);
    for (int i = 0; i < 10; i++) {
        req r = { "/t.Echo/Slow", 0, 0, t[i].v, 0, 0, 0 };
        cs[i] = call(&h, &r);
        cs_add_msg(&h, cs[i], 0, "t", 1, 0);
    }
    pump(&h);
    for (int i = 0; i < 10; i++) {
        ck_assert_str_eq(ev_id(cs[i])->log, "SM");
        ck_assert_uint_eq(ev_id(cs[i])->deadline, 1000 + t[i].ms);
    }
    /* "0m" expires at once */
    ck_assert_uint_eq(h2rpc_conn_tick(h.srv, 1000), 1001);
    pump(&h);
    ck_assert_int_eq(grpc_status(cs[6]), H2RPC_DEADLINE_EXCEEDED);
    ck_assert_uint_eq(cs[6]->close_code, NGHTTP2_CANCEL);
    ck_assert_int_eq(cs[5]->closed, 0);
    h_done(&h);
}
END_TEST

START_TEST(test_bad_timeout)
{
    static const char *bad[] = {
        "", "123456789m", "10x", "m", "-1S", "1.5S", "10 S", "10SS", "S10",
        "1s",
    };
    harness h;
    cstream *cs[10];
    char want[64];

    h_init(&h, NULL);
    for (int i = 0; i < 10; i++) {
        req r = { "/t.Echo/Unary", 0, 0, bad[i], 0, 0, 0 };
        cs[i] = call(&h, &r);
        cs_add_msg(&h, cs[i], 0, "t", 1, 1);
    }
    pump(&h);
    for (int i = 0; i < 10; i++) {
        snprintf(want, sizeof want, "malformed grpc-timeout \"%s\"", bad[i]);
        check_refused(cs[i], H2RPC_INVALID_ARGUMENT, want);
        ck_assert_str_eq(ev_id(cs[i])->log, "");
    }
    h_done(&h);
}
END_TEST

START_TEST(test_client_rst)
{
    harness h;
    req r = { "/t.Echo/Stream", 0, 0, 0, 0, 0, 0 };
    cstream *cs;
    uint8_t rq[9];

    h_init(&h, NULL);
    cs = call(&h, &r);
    put32(rq, 3);
    put32(rq + 4, 100);
    rq[8] = 1;
    cs_add_msg(&h, cs, 0, rq, 9, 1);
    pump(&h);
    ck_assert_int_eq(resp_count(cs), 3);
    ck_assert_str_eq(ev_id(cs)->log, "SME");
    ck_assert_ptr_nonnull(h2rpc_conn_find(h.srv, ev_id(cs)->id));
    ck_assert_int_eq(nghttp2_submit_rst_stream(h.cli, NGHTTP2_FLAG_NONE,
                                               cs->id, NGHTTP2_CANCEL), 0);
    pump(&h);
    ck_assert_str_eq(ev_id(cs)->log, "SMEC");
    ck_assert_int_eq(ev_id(cs)->closes, 1);
    ck_assert_int_eq(ev_id(cs)->cancelled, 1);
    ck_assert_int_eq(ev_id(cs)->found_in_close, 0);
    ck_assert_ptr_null(h2rpc_conn_find(h.srv, ev_id(cs)->id));
    ck_assert_int_eq(h.feed_rc, 0);
    h_done(&h);
}
END_TEST

START_TEST(test_oversized_message)
{
    harness h;
    req r = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    cstream *c1, *c2, *c3;
    uint8_t pfx[5] = { 0, 0xff, 0xff, 0xff, 0xf0 };
    uint8_t b[1025];
    size_t len;
    char buf[128];

    h_init(&h, NULL);   /* max_recv 1024 */
    c1 = call(&h, &r);
    cs_add(&h, c1, pfx, 5, 0);
    cs_add(&h, c1, "abc", 3, 0);
    c2 = call(&h, &r);
    cs_add_msg(&h, c2, 0, fill(b, 1025, 1), 1025, 1);
    c3 = call(&h, &r);
    cs_add_msg(&h, c3, 0, b, 1024, 1);
    pump(&h);
    check_refused(c1, H2RPC_RESOURCE_EXHAUSTED,
                  "request message of 4294967280 bytes is larger than the "
                  "limit of 1024 bytes");
    ck_assert_uint_eq(c1->close_code, NGHTTP2_NO_ERROR);
    ck_assert_str_eq(ev_id(c1)->log, "SC");
    ck_assert_int_eq(ev_id(c1)->cancelled, 1);
    ck_assert_int_eq(grpc_status(c2), H2RPC_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(grpc_msg(c2, buf, sizeof buf),
                     "request message of 1025 bytes is larger than the "
                     "limit of 1024 bytes");
    ck_assert_int_eq(grpc_status(c3), H2RPC_OK);
    ck_assert_ptr_nonnull(resp_msg(c3, 0, &len));
    ck_assert_uint_eq(len, 1024);
    h_done(&h);
}
END_TEST

START_TEST(test_compressed_and_bad_flags)
{
    harness h;
    req r = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    cstream *c1, *c2;

    h_init(&h, NULL);
    c1 = call(&h, &r);
    cs_add_msg(&h, c1, 1, "zzzz", 4, 1);
    c2 = call(&h, &r);
    cs_add_msg(&h, c2, 2, "zzzz", 4, 1);
    pump(&h);
    check_refused(c1, H2RPC_UNIMPLEMENTED,
                  "compressed messages are not supported (grpc-encoding "
                  "missing; accepted: identity)");
    ck_assert_str_eq(ev_id(c1)->log, "SC");
    ck_assert_int_eq(ev_id(c1)->cancelled, 1);
    check_refused(c2, H2RPC_INTERNAL, "bad message flags 0x02");
    ck_assert_str_eq(ev_id(c2)->log, "SC");
    h_done(&h);
}
END_TEST

START_TEST(test_unary_message_count)
{
    harness h;
    req r = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    req r0 = { "/t.Echo/Unary", 0, 0, 0, 0, 1, 0 };
    req rs = { "/t.Echo/Stream", 0, 0, 0, 0, 0, 0 };
    cstream *c1, *c2, *c3, *c4;
    uint8_t rq[9] = { 0 };

    h_init(&h, NULL);
    c1 = call(&h, &r);              /* two messages */
    cs_add_msg(&h, c1, 0, "a", 1, 0);
    cs_add_msg(&h, c1, 0, "b", 1, 1);
    c2 = call(&h, &r0);             /* none: HEADERS with END_STREAM */
    c3 = call(&h, &r);              /* ends inside a message */
    cs_add(&h, c3, "\0\0\0\0\x09" "abc", 8, 1);
    c4 = call(&h, &rs);             /* server stream, two requests */
    rq[8] = 1;
    cs_add_msg(&h, c4, 0, rq, 9, 0);
    cs_add_msg(&h, c4, 0, rq, 9, 1);
    pump(&h);
    check_refused(c1, H2RPC_INTERNAL, "expected one request message");
    ck_assert_str_eq(ev_id(c1)->log, "SMC");
    ck_assert_int_eq(ev_id(c1)->cancelled, 1);
    check_refused(c2, H2RPC_INTERNAL, "expected one request message");
    ck_assert_str_eq(ev_id(c2)->log, "SC");
    check_refused(c3, H2RPC_INTERNAL,
                  "request ended inside a message (8 of 14 bytes)");
    ck_assert_str_eq(ev_id(c3)->log, "SC");
    /* count 0: no messages; the second request ends it */
    check_refused(c4, H2RPC_INTERNAL, "expected one request message");
    ck_assert_str_eq(ev_id(c4)->log, "SMC");
    h_done(&h);
}
END_TEST

START_TEST(test_handler_failures)
{
    harness h;
    req r1 = { "/t.Echo/FailStart", 0, 0, 0, 0, 0, 0 };
    req r2 = { "/t.Echo/FailMsg", 0, 0, 0, 0, 0, 0 };
    cstream *c1, *c2;

    h_init(&h, NULL);
    c1 = call(&h, &r1);
    cs_add_msg(&h, c1, 0, "a", 1, 1);
    c2 = call(&h, &r2);
    cs_add_msg(&h, c2, 0, "a", 1, 0);
    cs_add_msg(&h, c2, 0, "b", 1, 1);
    pump(&h);
    check_refused(c1, H2RPC_INTERNAL, "handler failed to start the call");
    ck_assert_str_eq(ev_id(c1)->log, "SC");
    ck_assert_int_eq(ev_id(c1)->cancelled, 1);
    check_refused(c2, H2RPC_INTERNAL, "handler failed on a request message");
    ck_assert_str_eq(ev_id(c2)->log, "SMC");
    ck_assert_int_eq(ev_id(c2)->closes, 1);
    h_done(&h);
}
END_TEST

START_TEST(test_percent_encoding)
{
    harness h;
    req r = { "/t.Echo/Refuse", 0, 0, 0, 0, 0, 0 };
    cstream *cs;
    char buf[256];

    h_init(&h, NULL);
    cs = call(&h, &r);
    cs_add_msg(&h, cs, 0, "a", 1, 0);
    pump(&h);
    ck_assert_int_eq(cs->trailers_only, 1);
    ck_assert_int_eq(grpc_status(cs), H2RPC_PERMISSION_DENIED);
    ck_assert_str_eq(grpc_msg_raw(cs),
                     "no: 100%25%0D%0A%01%7F%FF caf%C3%A9 [ok] ~");
    ck_assert_str_eq(grpc_msg(cs, buf, sizeof buf), refuse_msg);
    /* finished in on_start by the handler: it reached the peer */
    ck_assert_str_eq(ev_id(cs)->log, "SC");
    ck_assert_int_eq(ev_id(cs)->cancelled, 0);
    ck_assert_uint_eq(cs->close_code, NGHTTP2_NO_ERROR);
    ck_assert_str_eq(h2rpc_status_name(H2RPC_OK), "OK");
    ck_assert_str_eq(h2rpc_status_name(H2RPC_DEADLINE_EXCEEDED),
                     "DEADLINE_EXCEEDED");
    ck_assert_str_eq(h2rpc_status_name(H2RPC_UNAUTHENTICATED),
                     "UNAUTHENTICATED");
    ck_assert_str_eq(h2rpc_status_name((enum h2rpc_status)17),
                     "UNKNOWN_STATUS");
    h_done(&h);
}
END_TEST

/* Collects what the server drains without a client to parse it. */
typedef struct sink {
    uint8_t buf[16384];
    size_t len;
    long calls;
} sink;

static int sink_fn(void *arg, const uint8_t *b, size_t n)
{
    sink *k = arg;
    size_t room = sizeof k->buf - k->len;

    if (n > room)
        n = room;
    memcpy(k->buf + k->len, b, n);
    k->len += n;
    k->calls++;
    return 0;
}

/* The error code of the GOAWAY among the frames in k, or -1. */
static long goaway_code(const sink *k, uint32_t *last)
{
    size_t off = 0;

    while (off + 9 <= k->len) {
        size_t n = (size_t)k->buf[off] << 16 | (size_t)k->buf[off + 1] << 8 |
                   k->buf[off + 2];
        if (off + 9 + n > k->len)
            break;
        if (k->buf[off + 3] == 7 && n >= 8) {
            *last = get32(k->buf + off + 9) & 0x7fffffffu;
            return (long)get32(k->buf + off + 13);
        }
        off += 9 + n;
    }
    return -1;
}

START_TEST(test_garbage)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    /* SETTINGS (empty), then DATA on stream 0: a connection error */
    static const uint8_t frames[] = {
        0, 0, 0, 4, 0, 0, 0, 0, 0,
        0, 0, 4, 0, 0, 0, 0, 0, 0, 'j', 'u', 'n', 'k',
    };
    h2rpc_cfg cfg = make_cfg();
    h2rpc_conn *c;
    uint8_t junk[300];
    char err[160];
    uint32_t last = 99;
    sink k;
    int rc;

    /* random bytes, not even a preface: -EPROTO at once, GOAWAY pending */
    ck_assert_int_eq(h2rpc_conn_new(&cfg, 1, &c), 0);
    fill(junk, sizeof junk, 77);
    err[0] = '\0';
    rc = h2rpc_conn_feed(c, junk, sizeof junk, err, sizeof err);
    ck_assert_int_eq(rc, -EPROTO);
    ck_assert_str_eq(err, "HTTP/2: Received bad client magic byte string");
    ck_assert_int_eq(h2rpc_conn_want_write(c), 1);
    ck_assert_int_eq(h2rpc_conn_done(c), 0);
    memset(&k, 0, sizeof k);
    ck_assert_int_gt(h2rpc_conn_drain(c, sink_fn, &k), 0);
    ck_assert_int_eq(goaway_code(&k, &last), NGHTTP2_PROTOCOL_ERROR);
    ck_assert_uint_eq(last, 0);
    ck_assert_int_eq(h2rpc_conn_want_write(c), 0);
    ck_assert_int_eq(h2rpc_conn_done(c), 1);
    rc = h2rpc_conn_feed(c, junk, 10, err, sizeof err);
    ck_assert_int_eq(rc, -EPROTO);
    h2rpc_conn_free(c);

    /* a good preface and a call, then a bad frame: GOAWAY PROTOCOL_ERROR,
     * the connection is done, the open call closes (cancelled) on free */
    {
        harness h;
        req r = { "/t.Echo/Chat", 0, 0, 0, 0, 0, 0 };
        cstream *cs;
        uint64_t id;

        h_init(&h, &cfg);
        cs = call(&h, &r);
        cs_add_msg(&h, cs, 0, "hi", 2, 0);
        pump(&h);
        ck_assert_int_eq(resp_count(cs), 1);
        id = ev_id(cs)->id;
        rc = h2rpc_conn_feed(h.srv, frames + 9, sizeof frames - 9, err,
                             sizeof err);
        ck_assert_int_le(rc, 0);
        memset(&k, 0, sizeof k);
        ck_assert_int_gt(h2rpc_conn_drain(h.srv, sink_fn, &k), 0);
        ck_assert_int_eq(goaway_code(&k, &last), NGHTTP2_PROTOCOL_ERROR);
        ck_assert_uint_eq(last, 1);
        ck_assert_int_eq(h2rpc_conn_done(h.srv), 1);
        err[0] = '\0';
        rc = h2rpc_conn_feed(h.srv, frames, 9, err, sizeof err);
        ck_assert_int_eq(rc, -EPROTO);
        ck_assert_ptr_nonnull(strstr(err, "PROTOCOL_ERROR"));
        ck_assert_ptr_nonnull(h2rpc_conn_find(h.srv, id));
        ck_assert_str_eq(ev_id(cs)->log, "SM");
        h_done(&h);
        ck_assert_str_eq(evs[1].log, "SMC");
        ck_assert_int_eq(evs[1].closes, 1);
        ck_assert_int_eq(evs[1].cancelled, 1);
    }

    /* random frames after a good preface, in random slices: never a
     * crash or a leak (ASan/valgrind), feed says 0 or -EPROTO */
    for (unsigned round = 0; round < 200; round++) {
        uint8_t buf[600];
        size_t n = 24 + 9 + (round * 37) % (sizeof buf - 40), off = 0;

        ck_assert_int_eq(h2rpc_conn_new(&cfg, 2, &c), 0);
        memcpy(buf, preface, 24);
        memcpy(buf + 24, frames, 9);
        fill(buf + 33, n - 33, round * 7919);
        /* mostly plausible frame headers: small lengths */
        buf[33] = 0;
        buf[34] = (uint8_t)(round % 3);
        rc = 0;
        while (off < n && rc == 0) {
            size_t sl = 1 + (off * 13 + round) % 50;
            if (sl > n - off)
                sl = n - off;
            rc = h2rpc_conn_feed(c, buf + off, sl, err, sizeof err);
            ck_assert(rc == 0 || rc == -EPROTO);
            memset(&k, 0, sizeof k);
            ck_assert_int_ge(h2rpc_conn_drain(c, sink_fn, &k), 0);
            h2rpc_conn_tick(c, round + off);
            off += sl;
        }
        h2rpc_conn_free(c);
    }
}
END_TEST

START_TEST(test_header_limit)
{
    harness h;
    char *big = malloc(17000);
    req r1 = { "/t.Echo/Unary", 0, 0, 0, 0, 0, big };
    req r2 = { "/t.Echo/Unary", 0, 0, 0, 0, 0, big + 1000 };
    cstream *c1, *c2;

    memset(big, 'b', 16999);
    big[16999] = '\0';
    h_init(&h, NULL);
    c1 = call(&h, &r1);
    cs_add_msg(&h, c1, 0, "a", 1, 1);
    c2 = call(&h, &r2);         /* 16000 bytes: fits */
    cs_add_msg(&h, c2, 0, "a", 1, 1);
    pump(&h);
    check_refused(c1, H2RPC_RESOURCE_EXHAUSTED,
                  "request headers larger than 16384 bytes");
    ck_assert_str_eq(ev_id(c1)->log, "");
    ck_assert_int_eq(grpc_status(c2), H2RPC_OK);
    ck_assert_str_eq(ev_id(c2)->log, "SMEC");
    ck_assert_int_eq(h.feed_rc, 0);
    h_done(&h);
    free(big);
}
END_TEST

START_TEST(test_free_with_open_calls)
{
    harness h;
    req chat = { "/t.Echo/Chat", 0, 0, 0, 0, 0, 0 };
    req strm = { "/t.Echo/Stream", 0, 0, 0, 0, 0, 0 };
    req slow = { "/t.Echo/Slow", 0, 0, "1H", 0, 0, 0 };
    cstream *c1, *c2, *c3;
    uint8_t rq[9];
    int32_t ids[3];

    h_init(&h, NULL);
    c1 = call(&h, &chat);
    cs_add_msg(&h, c1, 0, "x", 1, 0);
    c2 = call(&h, &strm);
    put32(rq, 1);
    put32(rq + 4, 1);
    rq[8] = 1;
    cs_add_msg(&h, c2, 0, rq, 9, 1);
    c3 = call(&h, &slow);
    cs_add_msg(&h, c3, 0, "y", 1, 1);
    pump(&h);
    ids[0] = c1->id;
    ids[1] = c2->id;
    ids[2] = c3->id;
    ck_assert_str_eq(evs[ids[0]].log, "SM");
    ck_assert_str_eq(evs[ids[1]].log, "SME");
    ck_assert_str_eq(evs[ids[2]].log, "SME");
    ck_assert_uint_eq(h2rpc_conn_tick(h.srv, 2000), 1000 + 3600000);
    h_done(&h);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(evs[ids[i]].closes, 1);
        ck_assert_int_eq(evs[ids[i]].cancelled, 1);
        ck_assert_int_eq(evs[ids[i]].log[strlen(evs[ids[i]].log) - 1], 'C');
    }
}
END_TEST

START_TEST(test_graceful_shutdown)
{
    harness h;
    req chat = { "/t.Echo/Chat", 0, 0, 0, 0, 0, 0 };
    cstream *cs;

    h_init(&h, NULL);
    cs = call(&h, &chat);
    cs_add_msg(&h, cs, 0, "x", 1, 0);
    pump(&h);
    h2rpc_conn_shutdown(h.srv);
    ck_assert_int_eq(h2rpc_conn_want_write(h.srv), 1);
    pump(&h);
    ck_assert_int_eq(h.goaway, 1);
    ck_assert_uint_eq(h.goaway_code, NGHTTP2_NO_ERROR);
    ck_assert_int_eq(h.goaway_last, cs->id);
    ck_assert_int_eq(h2rpc_conn_done(h.srv), 0);
    /* the running call goes on */
    cs_add_msg(&h, cs, 0, "yz", 2, 1);
    pump(&h);
    ck_assert_int_eq(resp_count(cs), 2);
    ck_assert_int_eq(grpc_status(cs), H2RPC_OK);
    ck_assert_str_eq(ev_id(cs)->log, "SMMEC");
    ck_assert_int_eq(ev_id(cs)->cancelled, 0);
    ck_assert_int_eq(h2rpc_conn_done(h.srv), 1);
    ck_assert_int_eq(h.feed_rc, 0);
    h_done(&h);
}
END_TEST

START_TEST(test_many_streams)
{
    harness h;
    req r = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    cstream *cs[40];
    char m[32];

    h_init(&h, NULL);
    for (int i = 0; i < 40; i++) {
        int n = snprintf(m, sizeof m, "message %d", i);
        cs[i] = call(&h, &r);
        cs_add_msg(&h, cs[i], 0, m, (size_t)n, 1);
    }
    pump(&h);
    for (int i = 0; i < 40; i++) {
        size_t len;
        const uint8_t *p = resp_msg(cs[i], 0, &len);
        int n = snprintf(m, sizeof m, "message %d", i);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(len, (size_t)n);
        ck_assert_mem_eq(p, m, len);
        ck_assert_int_eq(grpc_status(cs[i]), H2RPC_OK);
        ck_assert_str_eq(ev_id(cs[i])->log, "SMEC");
    }
    h_done(&h);
}
END_TEST

/* ------------------------------------------------------------ corpus */

static int write_seed(const char *dir, const char *name, int mode,
                      void (*scenario)(harness *))
{
    char path[512];
    harness h;

    h2rpc_cfg cfg = make_cfg();

    cfg.max_send = 300 * 1024;  /* as in the fuzzer */
    cfg.max_recv = 64 * 1024;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    h_init(&h, &cfg);
    h.rec = fopen(path, "wb");
    if (!h.rec) {
        perror(path);
        h_done(&h);
        return -1;
    }
    fputc(mode, h.rec);         /* the fuzzer's mode byte */
    scenario(&h);
    pump(&h);
    fclose(h.rec);
    h_done(&h);
    return 0;
}

static void sc_unary(harness *h)
{
    req r = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    req q = { "/t.Echo/Quick", 0, 0, 0, 0, 0, 0 };

    cs_add_msg(h, call(h, &r), 0, "hello", 5, 1);
    cs_add_msg(h, call(h, &q), 0, "hi", 2, 1);
}

static void sc_stream(harness *h)
{
    req r = { "/t.Echo/Stream", 0, 0, 0, 0, 0, 0 };
    uint8_t rq[9];

    put32(rq, 3);
    put32(rq + 4, 16);
    rq[8] = 0;
    cs_add_msg(h, call(h, &r), 0, rq, 9, 1);
}

/* A client with large windows and 20 x 256 KiB coming: the server's
 * queue goes over H2RPC_QUEUE_HIGH and on_writable runs. */
static void sc_bigstream(harness *h)
{
    req r = { "/t.Echo/Stream", 0, 0, 0, 0, 0, 0 };
    nghttp2_settings_entry iv[1] = {
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 31) - 1 },
    };
    uint8_t rq[9];

    ck_assert_int_eq(nghttp2_submit_settings(h->cli, NGHTTP2_FLAG_NONE, iv,
                                             1), 0);
    ck_assert_int_eq(nghttp2_session_set_local_window_size(
                         h->cli, NGHTTP2_FLAG_NONE, 0, (1 << 30)), 0);
    put32(rq, 20);
    put32(rq + 4, 256 * 1024);
    rq[8] = 0;
    cs_add_msg(h, call(h, &r), 0, rq, 9, 1);
}

static void sc_collect(harness *h)
{
    req r = { "/t.Echo/Collect", 0, 0, 0, 0, 0, 0 };
    cstream *cs = call(h, &r);

    cs->chunk_max = 7;
    cs_add_msg(h, cs, 0, "", 0, 0);
    cs_add_msg(h, cs, 0, "abc", 3, 0);
    cs_add_msg(h, cs, 0, "0123456789", 10, 1);
}

static void sc_chat(harness *h)
{
    req r = { "/t.Echo/Chat", 0, 0, 0, 0, 0, 0 };
    cstream *cs = call(h, &r);

    cs_add_msg(h, cs, 0, "one", 3, 0);
    pump(h);
    cs_add_msg(h, cs, 0, "two", 3, 1);
}

static void sc_refusals(harness *h)
{
    req a = { "/t.Echo/Secure", 0, 0, 0, "Bearer good", 0, 0 };
    req b = { "/t.Echo/Secure", 0, 0, 0, 0, 0, 0 };
    req c = { "/t.Echo/Nope", 0, 0, 0, 0, 0, 0 };
    req d = { "/t.Echo/Unary", 0, "text/plain", 0, 0, 0, 0 };
    req e = { "/t.Echo/Unary", 0, 0, "12x", 0, 0, 0 };
    req f = { "/t.Echo/Refuse", 0, 0, 0, 0, 0, 0 };
    req g = { "/t.Echo/FailStart", 0, 0, 0, 0, 0, 0 };

    cs_add_msg(h, call(h, &a), 0, "s", 1, 1);
    cs_add_msg(h, call(h, &b), 0, "s", 1, 1);
    cs_add_msg(h, call(h, &c), 0, "s", 1, 1);
    cs_add_msg(h, call(h, &d), 0, "s", 1, 1);
    cs_add_msg(h, call(h, &e), 0, "s", 1, 1);
    cs_add_msg(h, call(h, &f), 0, "s", 1, 1);
    cs_add_msg(h, call(h, &g), 0, "s", 1, 1);
}

static void sc_errors(harness *h)
{
    req r = { "/t.Echo/Unary", 0, 0, 0, 0, 0, 0 };
    req s = { "/t.Echo/Stream", 0, 0, "20m", 0, 0, 0 };
    req w = { "/t.Echo/Slow", 0, 0, "5m", 0, 0, 0 };
    cstream *cs;
    uint8_t rq[9];

    cs_add_msg(h, call(h, &r), 1, "zz", 2, 1);
    cs_add_msg(h, call(h, &r), 2, "zz", 2, 1);
    cs = call(h, &r);
    cs_add_msg(h, cs, 0, "a", 1, 0);
    cs_add_msg(h, cs, 0, "b", 1, 1);
    cs_add(h, call(h, &r), "\0\xff\xff\xff\xf0", 5, 1);
    put32(rq, 2);
    put32(rq + 4, 8);
    rq[8] = 1;
    cs = call(h, &s);
    cs_add_msg(h, cs, 0, rq, 9, 0);
    cs_add_msg(h, call(h, &w), 0, "w", 1, 1);
    pump(h);
    nghttp2_submit_rst_stream(h->cli, NGHTTP2_FLAG_NONE, cs->id,
                              NGHTTP2_CANCEL);
}

static const char *corpus_dir;

static int write_corpus(const char *dir)
{
    /* mode 0: all at once; 0x18: 8-byte slices, 1 ms a slice; 0x34:
     * 4-byte slices, 1 s a slice (deadlines expire) */
    if (write_seed(dir, "unary", 0, sc_unary) ||
        write_seed(dir, "unary_sliced", 0x18, sc_unary) ||
        write_seed(dir, "stream", 0, sc_stream) ||
        write_seed(dir, "bigstream", 0, sc_bigstream) ||
        write_seed(dir, "collect", 0, sc_collect) ||
        write_seed(dir, "chat", 0, sc_chat) ||
        write_seed(dir, "refusals", 0, sc_refusals) ||
        write_seed(dir, "errors", 0, sc_errors) ||
        write_seed(dir, "errors_slow", 0x34, sc_errors))
        return -1;
    return 0;
}

/* The assertions of the client need a running Check test. */
START_TEST(test_write_corpus)
{
    ck_assert_int_eq(write_corpus(corpus_dir), 0);
}
END_TEST

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;
    SRunner *sr;
    int failed;

    if (argc == 3 && strcmp(argv[1], "--corpus") == 0) {
        corpus_dir = argv[2];
        s = suite_create("h2rpc-corpus");
        tc = tcase_create("corpus");
        tcase_add_test(tc, test_write_corpus);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: check_h2rpc [--corpus DIR]\n");
        return 2;
    }
    s = suite_create("h2rpc");
    tc = tcase_create("h2rpc");
    tcase_add_test(tc, test_unary_ok);
    tcase_add_test(tc, test_unary_from_on_message);
    tcase_add_test(tc, test_server_stream_backpressure);
    tcase_add_test(tc, test_client_stream);
    tcase_add_test(tc, test_bidi);
    tcase_add_test(tc, test_unknown_method);
    tcase_add_test(tc, test_not_grpc_415);
    tcase_add_test(tc, test_auth);
    tcase_add_test(tc, test_deadline);
    tcase_add_test(tc, test_deadline_stalled_reader);
    tcase_add_test(tc, test_timeout_units);
    tcase_add_test(tc, test_bad_timeout);
    tcase_add_test(tc, test_client_rst);
    tcase_add_test(tc, test_oversized_message);
    tcase_add_test(tc, test_compressed_and_bad_flags);
    tcase_add_test(tc, test_unary_message_count);
    tcase_add_test(tc, test_handler_failures);
    tcase_add_test(tc, test_percent_encoding);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_header_limit);
    tcase_add_test(tc, test_free_with_open_calls);
    tcase_add_test(tc, test_graceful_shutdown);
    tcase_add_test(tc, test_many_streams);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
