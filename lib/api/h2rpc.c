/*
 * h2rpc.c - the gRPC server front end over nghttp2 (see h2rpc.h).
 *
 * Owns: the nghttp2 server session of one connection, the list of its open
 * calls (one per stream) and, per call, the request headers, the partial
 * request message being reassembled, the response output queue that feeds
 * the stream's data provider, and the final status. Bytes come in through
 * h2rpc_conn_feed (nghttp2_session_mem_recv) and go out through
 * h2rpc_conn_drain (nghttp2_session_mem_send); nothing here blocks, reads
 * a clock other than the one it was given, or prints.
 *
 * How a call moves:
 *   HEADERS          on_begin_headers makes the call, on_header stores
 *                    the fields (capped), on_frame_recv checks them
 *                    (415 / UNIMPLEMENTED / INVALID_ARGUMENT timeout /
 *                    UNAUTHENTICATED) and runs on_start.
 *   DATA             split into messages (on_message); bad framing, an
 *                    oversized or compressed message ends the call.
 *   END_STREAM       checks the count for unary-request methods; on_end.
 *   h2rpc_send       queues "flag len msg"; the first one submits the
 *                    response HEADERS with a data provider that copies
 *                    from the queue and defers when it is empty.
 *   h2rpc_finish     with nothing sent: Trailers-Only (one HEADERS with
 *                    END_STREAM); else the provider, once the queue is
 *                    empty, ends the DATA without END_STREAM and submits
 *                    the trailers from inside its read callback.
 *   our END_STREAM   if the client is still sending, RST_STREAM (NO_ERROR,
 *                    or CANCEL for a deadline) so the stream ends now.
 *   stream closed    on_close (only for calls that reached on_start), then
 *                    the call is freed.
 * Handler callbacks run inside nghttp2 callbacks (on_start, on_message,
 * on_end, on_close) or from drain (on_writable, after mem_send returns);
 * they may submit (send/finish), which nghttp2 allows from callbacks, and
 * a call is only freed from on_stream_close, which never runs nested in a
 * handler callback of the same call.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "h2rpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#define DEFAULT_MAX_MSG (4u << 20)       /* cfg.max_recv/max_send of 0 */
#define MAX_HEADER_BYTES 16384           /* request header fields, total */
#define MAX_STATUS_MSG 2048              /* raw grpc-message bytes kept */
#define STREAM_WINDOW (1 << 20)          /* SETTINGS_INITIAL_WINDOW_SIZE */
#define CONN_WINDOW (16 << 20)           /* connection receive window */
#define PREFIX_LEN 5                     /* gRPC message prefix */

/* One queued response message (or the rest of one). */
struct oblk {
    struct oblk *next;
    size_t len;                 /* bytes in data */
    size_t off;                 /* bytes already handed to nghttp2 */
    uint8_t data[];
};

struct h2rpc_call {
    h2rpc_conn *conn;
    h2rpc_call *prev, *next;    /* conn->calls, open calls only */
    int32_t stream_id;
    const h2rpc_method *m;
    void *data;

    /* request headers: "name\0value\0" pairs */
    char *hbuf;
    size_t hlen, hcap;
    int hdr_overflow;

    int has_deadline;
    uint64_t deadline;

    /* request message reassembly */
    uint8_t pfx[PREFIX_LEN];
    size_t pfx_have;
    uint32_t mlen;              /* length of the message being read */
    uint8_t *mbuf;              /* mlen bytes once the prefix is read */
    size_t mhave;
    unsigned msgs_in;

    /* response */
    struct oblk *qhead, *qtail;
    size_t queued;              /* bytes in the queue, not yet to nghttp2 */
    int want_writable;          /* a send said -EAGAIN */
    int writable_pending;       /* on_writable due at the next drain */
    int resp_submitted;         /* HEADERS submitted (with or w/o data) */
    int deferred;               /* provider returned NGHTTP2_ERR_DEFERRED */
    int trailers_submitted;
    int end_sent;               /* our END_STREAM went out */
    uint32_t rst_code;          /* RST_STREAM after our END_STREAM */

    enum h2rpc_status status;
    char *smsg;                 /* percent-encoded grpc-message or NULL */

    unsigned started : 1;       /* on_start called */
    unsigned finished : 1;      /* status decided, nothing more queued */
    unsigned handler_finished : 1;  /* ... by the handler's h2rpc_finish */
    unsigned remote_ended : 1;  /* client END_STREAM */
    unsigned closed : 1;        /* on_close called / being called */
};

struct h2rpc_conn {
    const h2rpc_cfg *cfg;
    uint64_t id;
    nghttp2_session *s;
    h2rpc_call *calls;
    size_t max_recv, max_send;
    uint64_t (*now)(void *);
    void *now_arg;
    int any_writable;           /* some call has writable_pending */
    int dead;                   /* fatal nghttp2 error: send nothing more */
    int proto_err;              /* we sent GOAWAY with an error code */
    int freeing;
    char reason[160];           /* why the connection failed */
};

/* ------------------------------------------------------------ helpers */

static uint64_t default_now(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#define NV(n, v, vl)                                                       \
    {                                                                      \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl),               \
            NGHTTP2_NV_FLAG_NONE                                           \
    }

/* Percent-encode msg (at most MAX_STATUS_MSG bytes of it) for
 * grpc-message: bytes outside 0x20..0x7e and '%' become %XX. */
static char *pct_encode(const char *msg)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(msg), i, o = 0;
    char *out;

    if (n > MAX_STATUS_MSG)
        n = MAX_STATUS_MSG;
    out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch < 0x20 || ch > 0x7e || ch == '%') {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    return out;
}

/* grpc-timeout: 1..8 digits and a unit -> ms (rounded up). 0 ok, -1 bad. */
static int parse_timeout(const char *v, uint64_t *ms)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; v[i] >= '0' && v[i] <= '9'; i++) {
        if (i == 8)
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (i == 0 || v[i] == '\0' || v[i + 1] != '\0')
        return -1;
    switch (v[i]) {
    case 'H': *ms = n * 3600000u; break;
    case 'M': *ms = n * 60000u; break;
    case 'S': *ms = n * 1000u; break;
    case 'm': *ms = n; break;
    case 'u': *ms = (n + 999u) / 1000u; break;
    case 'n': *ms = (n + 999999u) / 1000000u; break;
    default: return -1;
    }
    return 0;
}

static h2rpc_call *stream_call(nghttp2_session *s, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(s, stream_id);
}

static void queue_clear(h2rpc_call *c, int keep_partial)
{
    struct oblk *b = c->qhead, *next;

    if (keep_partial && b && b->off > 0) {
        /* the peer has part of this message: let it have the rest */
        next = b->next;
        b->next = NULL;
        c->qtail = b;
        c->queued = b->len - b->off;
        b = next;
    } else {
        c->qhead = c->qtail = NULL;
        c->queued = 0;
    }
    for (; b; b = next) {
        next = b->next;
        free(b);
    }
}

static void call_free(h2rpc_call *c)
{
    queue_clear(c, 0);
    free(c->mbuf);
    free(c->hbuf);
    free(c->smsg);
    free(c);
}

static void call_unlink(h2rpc_call *c)
{
    h2rpc_conn *conn = c->conn;

    if (c->prev)
        c->prev->next = c->next;
    else if (conn->calls == c)
        conn->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* ------------------------------------------------------------ responses */

/* Decide the call's status (first caller wins) and get it on its way:
 * Trailers-Only when no response was submitted yet, else the data
 * provider sends the trailers once the queue is empty. */
static int call_finish(h2rpc_call *c, enum h2rpc_status st, const char *msg,
                       int by_handler)
{
    h2rpc_conn *conn = c->conn;
    char code[12];
    int rv;

    if (c->closed || conn->freeing)
        return -EPIPE;
    if (c->finished)
        return -EALREADY;
    c->finished = 1;
    c->handler_finished = by_handler ? 1 : 0;
    c->status = st;
    free(c->smsg);
    c->smsg = msg ? pct_encode(msg) : NULL;
    if (!c->resp_submitted) {
        nghttp2_nv nv[5] = {
            NV(":status", "200", 3),
            NV("content-type", "application/grpc", 16),
            NV("grpc-accept-encoding", "identity", 8),
            NV("grpc-status", code, 0),
            NV("grpc-message", "", 0),
        };
        nv[3].valuelen = (size_t)snprintf(code, sizeof code, "%d", (int)st);
        if (c->smsg) {
            nv[4].value = (uint8_t *)c->smsg;
            nv[4].valuelen = strlen(c->smsg);
        }
        c->resp_submitted = 1;
        c->trailers_submitted = 1;
        rv = nghttp2_submit_response(conn->s, c->stream_id, nv,
                                     c->smsg ? 5 : 4, NULL);
        if (rv != 0) {
            nghttp2_submit_rst_stream(conn->s, NGHTTP2_FLAG_NONE,
                                      c->stream_id, NGHTTP2_INTERNAL_ERROR);
            return -EPIPE;
        }
    } else if (c->deferred) {
        c->deferred = 0;
        nghttp2_session_resume_data(conn->s, c->stream_id);
    }
    return 0;
}

static void front_fail(h2rpc_call *c, enum h2rpc_status st,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The front end ends the call (the handler's status never reaches the
 * peer: on_close will say cancelled). */
static void front_fail(h2rpc_call *c, enum h2rpc_status st,
                       const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (c->finished)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    call_finish(c, st, msg, 0);
}

/* Answer a non-gRPC request: HTTP 415 (grpc-status UNKNOWN). */
static void reject_415(h2rpc_call *c, const char *why)
{
    char *enc = pct_encode(why);
    nghttp2_nv nv[3] = {
        NV(":status", "415", 3),
        NV("grpc-status", "2", 1),
        NV("grpc-message", "", 0),
    };

    if (enc) {
        nv[2].value = (uint8_t *)enc;
        nv[2].valuelen = strlen(enc);
    }
    c->finished = 1;
    c->status = H2RPC_UNKNOWN;
    c->resp_submitted = 1;
    c->trailers_submitted = 1;
    if (nghttp2_submit_response(c->conn->s, c->stream_id, nv, enc ? 3 : 2,
                                NULL) != 0)
        nghttp2_submit_rst_stream(c->conn->s, NGHTTP2_FLAG_NONE, c->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    free(enc);
}

static int submit_trailers(h2rpc_call *c)
{
    char code[12];
    nghttp2_nv nv[2] = {
        NV("grpc-status", code, 0),
        NV("grpc-message", "", 0),
    };

    nv[0].valuelen = (size_t)snprintf(code, sizeof code, "%d", (int)c->status);
    if (c->smsg) {
        nv[1].value = (uint8_t *)c->smsg;
        nv[1].valuelen = strlen(c->smsg);
    }
    c->trailers_submitted = 1;
    return nghttp2_submit_trailer(c->conn->s, c->stream_id, nv,
                                  c->smsg ? 2 : 1);
}

/* The data provider: response messages out of the call's queue. */
static ssize_t read_cb(nghttp2_session *s, int32_t stream_id, uint8_t *buf,
                       size_t length, uint32_t *flags,
                       nghttp2_data_source *src, void *user)
{
    h2rpc_call *c = stream_call(s, stream_id);
    size_t n = 0;

    (void)src;
    (void)user;
    if (!c)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    while (n < length && c->qhead) {
        struct oblk *b = c->qhead;
        size_t k = b->len - b->off;
        if (k > length - n)
            k = length - n;
        memcpy(buf + n, b->data + b->off, k);
        b->off += k;
        n += k;
        c->queued -= k;
        if (b->off == b->len) {
            c->qhead = b->next;
            if (!c->qhead)
                c->qtail = NULL;
            free(b);
        }
    }
    if (c->want_writable && c->queued < H2RPC_QUEUE_LOW && !c->finished) {
        c->want_writable = 0;
        c->writable_pending = 1;
        c->conn->any_writable = 1;
    }
    if (!c->qhead) {
        if (c->finished && !c->trailers_submitted) {
            *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
            if (submit_trailers(c) != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        } else if (n == 0) {
            c->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

/* ------------------------------------------------------------ requests */

static const char *hdr_find(const h2rpc_call *c, const char *name)
{
    size_t i = 0;

    while (i < c->hlen) {
        const char *n = c->hbuf + i;
        const char *v = n + strlen(n) + 1;
        if (strcmp(n, name) == 0)
            return v;
        i = (size_t)(v - c->hbuf) + strlen(v) + 1;
    }
    return NULL;
}

static void deliver(h2rpc_call *c, const uint8_t *msg, size_t len)
{
    int rv = 0;

    c->msgs_in++;
    if (c->m->on_message)
        rv = c->m->on_message(c, msg, len);
    if (rv != 0 && !c->finished)
        front_fail(c, H2RPC_INTERNAL, "handler failed on a request message");
}

/* Split request DATA into messages. */
static void call_data(h2rpc_call *c, const uint8_t *p, size_t len)
{
    h2rpc_conn *conn = c->conn;

    while (len > 0 && !c->finished) {
        if (c->pfx_have < PREFIX_LEN) {
            size_t k = PREFIX_LEN - c->pfx_have;
            if (k > len)
                k = len;
            memcpy(c->pfx + c->pfx_have, p, k);
            c->pfx_have += k;
            p += k;
            len -= k;
            if (c->pfx_have < PREFIX_LEN)
                return;
            c->mlen = (uint32_t)c->pfx[1] << 24 | (uint32_t)c->pfx[2] << 16 |
                      (uint32_t)c->pfx[3] << 8 | (uint32_t)c->pfx[4];
            if (c->pfx[0] == 1) {
                const char *enc = hdr_find(c, "grpc-encoding");
                front_fail(c, H2RPC_UNIMPLEMENTED,
                           "compressed messages are not supported "
                           "(grpc-encoding %s; accepted: identity)",
                           enc ? enc : "missing");
                return;
            }
            if (c->pfx[0] > 1) {
                front_fail(c, H2RPC_INTERNAL,
                           "bad message flags 0x%02x", c->pfx[0]);
                return;
            }
            if (c->mlen > conn->max_recv) {
                front_fail(c, H2RPC_RESOURCE_EXHAUSTED,
                           "request message of %u bytes is larger than the "
                           "limit of %zu bytes", (unsigned)c->mlen,
                           conn->max_recv);
                return;
            }
            if ((c->m->kind == H2RPC_UNARY ||
                 c->m->kind == H2RPC_SERVER_STREAM) && c->msgs_in > 0) {
                front_fail(c, H2RPC_INTERNAL,
                           "expected one request message");
                return;
            }
            c->mhave = 0;
            if (c->mlen == 0 || len >= c->mlen) {
                /* whole message at hand: no copy */
                const uint8_t *msg = c->mlen ? p : c->pfx;
                size_t n = c->mlen;
                p += n;
                len -= n;
                c->pfx_have = 0;
                deliver(c, msg, n);
                continue;
            }
            c->mbuf = malloc(c->mlen);
            if (!c->mbuf) {
                front_fail(c, H2RPC_RESOURCE_EXHAUSTED,
                           "out of memory for a %u byte message",
                           (unsigned)c->mlen);
                return;
            }
        }
        {
            size_t k = c->mlen - c->mhave;
            uint8_t *mb;
            if (k > len)
                k = len;
            memcpy(c->mbuf + c->mhave, p, k);
            c->mhave += k;
            p += k;
            len -= k;
            if (c->mhave < c->mlen)
                return;
            mb = c->mbuf;
            c->mbuf = NULL;
            c->pfx_have = 0;
            deliver(c, mb, c->mlen);
            free(mb);
        }
    }
}

/* The client's END_STREAM. */
static void call_remote_end(h2rpc_call *c)
{
    if (c->remote_ended)
        return;
    c->remote_ended = 1;
    if (!c->started || c->finished)
        return;
    if (c->pfx_have > 0) {
        front_fail(c, H2RPC_INTERNAL,
                   "request ended inside a message (%zu of %u bytes)",
                   c->pfx_have < PREFIX_LEN ? c->pfx_have
                                            : PREFIX_LEN + c->mhave,
                   c->pfx_have < PREFIX_LEN ? PREFIX_LEN
                                            : PREFIX_LEN + c->mlen);
        return;
    }
    if ((c->m->kind == H2RPC_UNARY || c->m->kind == H2RPC_SERVER_STREAM) &&
        c->msgs_in != 1) {
        front_fail(c, H2RPC_INTERNAL, "expected one request message");
        return;
    }
    if (c->m->on_end)
        c->m->on_end(c);
}

/* Request headers complete: the checks, then on_start. */
static void call_headers_done(h2rpc_call *c)
{
    h2rpc_conn *conn = c->conn;
    const char *method, *ctype, *path, *to;
    int i;

    if (c->hdr_overflow) {
        front_fail(c, H2RPC_RESOURCE_EXHAUSTED,
                   "request headers larger than %d bytes", MAX_HEADER_BYTES);
        return;
    }
    method = hdr_find(c, ":method");
    ctype = hdr_find(c, "content-type");
    path = hdr_find(c, ":path");
    if (!method || strcmp(method, "POST") != 0) {
        reject_415(c, "gRPC requires POST");
        return;
    }
    if (!ctype || strncmp(ctype, "application/grpc", 16) != 0) {
        reject_415(c, "content-type is not application/grpc");
        return;
    }
    for (i = 0; path && i < conn->cfg->n_methods; i++) {
        if (conn->cfg->methods[i].path &&
            strcmp(conn->cfg->methods[i].path, path) == 0) {
            c->m = &conn->cfg->methods[i];
            break;
        }
    }
    if (!c->m) {
        front_fail(c, H2RPC_UNIMPLEMENTED, "unknown method %s",
                   path ? path : "(none)");
        return;
    }
    to = hdr_find(c, "grpc-timeout");
    if (to) {
        uint64_t ms, now = conn->now(conn->now_arg);
        if (parse_timeout(to, &ms) != 0) {
            front_fail(c, H2RPC_INVALID_ARGUMENT, "malformed grpc-timeout "
                       "\"%.40s\"", to);
            return;
        }
        c->has_deadline = 1;
        c->deadline = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
    }
    if (c->m->need_auth && conn->cfg->auth) {
        const char *a = hdr_find(c, "authorization");
        if (conn->cfg->auth(conn->cfg->app, a) != 0) {
            front_fail(c, H2RPC_UNAUTHENTICATED, a ? "authorization refused"
                                                   : "authorization required");
            return;
        }
    }
    c->started = 1;
    if (c->m->on_start && c->m->on_start(c) != 0 && !c->finished)
        front_fail(c, H2RPC_INTERNAL, "handler failed to start the call");
}

/* ------------------------------------------------------------ nghttp2 */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f,
                            void *user)
{
    h2rpc_conn *conn = user;
    h2rpc_call *c;

    if (f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    c = calloc(1, sizeof *c);
    if (!c)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    c->conn = conn;
    c->stream_id = f->hd.stream_id;
    c->rst_code = NGHTTP2_NO_ERROR;
    if (nghttp2_session_set_stream_user_data(s, c->stream_id, c) != 0) {
        free(c);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    c->next = conn->calls;
    if (conn->calls)
        conn->calls->prev = c;
    conn->calls = c;
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f,
                     const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    h2rpc_call *c;
    size_t need;

    (void)flags;
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;              /* trailers: ignored */
    c = stream_call(s, f->hd.stream_id);
    if (!c || c->hdr_overflow)
        return 0;
    need = namelen + valuelen + 2;
    if (c->hlen + need > MAX_HEADER_BYTES) {
        c->hdr_overflow = 1;
        return 0;
    }
    if (c->hlen + need > c->hcap) {
        size_t cap = c->hcap ? c->hcap : 512;
        char *nb;
        while (cap < c->hlen + need)
            cap *= 2;
        nb = realloc(c->hbuf, cap);
        if (!nb) {
            c->hdr_overflow = 1;
            return 0;
        }
        c->hbuf = nb;
        c->hcap = cap;
    }
    memcpy(c->hbuf + c->hlen, name, namelen);
    c->hbuf[c->hlen + namelen] = '\0';
    memcpy(c->hbuf + c->hlen + namelen + 1, value, valuelen);
    c->hbuf[c->hlen + namelen + 1 + valuelen] = '\0';
    c->hlen += need;
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f,
                         void *user)
{
    h2rpc_call *c;

    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    c = stream_call(s, f->hd.stream_id);
    if (!c)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS &&
        f->headers.cat == NGHTTP2_HCAT_REQUEST)
        call_headers_done(c);
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        call_remote_end(c);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user)
{
    h2rpc_call *c = stream_call(s, stream_id);

    (void)flags;
    (void)user;
    if (c && c->started && !c->finished)
        call_data(c, data, len);
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f,
                         void *user)
{
    h2rpc_conn *conn = user;
    h2rpc_call *c;

    if (f->hd.type == NGHTTP2_GOAWAY &&
        f->goaway.error_code != NGHTTP2_NO_ERROR && !conn->proto_err) {
        conn->proto_err = 1;
        if (!conn->reason[0])
            snprintf(conn->reason, sizeof conn->reason,
                     "HTTP/2 protocol error (GOAWAY %s%s%.*s)",
                     nghttp2_http2_strerror(f->goaway.error_code),
                     f->goaway.opaque_data_len ? ": " : "",
                     (int)(f->goaway.opaque_data_len > 100
                               ? 100 : f->goaway.opaque_data_len),
                     f->goaway.opaque_data ? (const char *)f->goaway.opaque_data
                                           : "");
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    c = stream_call(s, f->hd.stream_id);
    if (!c)
        return 0;
    c->end_sent = 1;
    /* Done with the call while the client still sends: stop it now. */
    if (!c->remote_ended)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, c->stream_id,
                                  c->rst_code);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id,
                           uint32_t error_code, void *user)
{
    h2rpc_call *c = stream_call(s, stream_id);

    (void)error_code;
    (void)user;
    if (!c)
        return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    call_unlink(c);
    if (c->started && !c->closed) {
        int cancelled = !(c->handler_finished && c->end_sent);
        c->closed = 1;
        if (c->m->on_close)
            c->m->on_close(c, cancelled);
    }
    call_free(c);
    return 0;
}

/* ------------------------------------------------------------ connection */

int h2rpc_conn_new(const h2rpc_cfg *cfg, uint64_t conn_id, h2rpc_conn **out)
{
    nghttp2_session_callbacks *cb;
    nghttp2_settings_entry iv[3] = {
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2RPC_MAX_STREAMS },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES },
    };
    h2rpc_conn *c;
    int rv;

    *out = NULL;
    if (!cfg || cfg->n_methods < 0 || (cfg->n_methods > 0 && !cfg->methods))
        return -EINVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cfg = cfg;
    c->id = conn_id;
    c->max_recv = cfg->max_recv ? cfg->max_recv : DEFAULT_MAX_MSG;
    c->max_send = cfg->max_send ? cfg->max_send : DEFAULT_MAX_MSG;
    if (c->max_recv > UINT32_MAX)
        c->max_recv = UINT32_MAX;
    c->now = default_now;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        free(c);
        return -ENOMEM;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                              on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb,
                                                           on_stream_close);
    rv = nghttp2_session_server_new(&c->s, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        free(c);
        return -ENOMEM;
    }
    if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
        nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0,
                                              CONN_WINDOW) != 0) {
        nghttp2_session_del(c->s);
        free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

int h2rpc_conn_feed(h2rpc_conn *c, const uint8_t *buf, size_t len,
                    char *err, size_t errlen)
{
    ssize_t n;

    if (c->dead || c->proto_err) {
        set_err(err, errlen, "%s", c->reason[0] ? c->reason
                                               : "connection failed");
        return -EPROTO;
    }
    n = nghttp2_session_mem_recv(c->s, buf, len);
    if (n < 0) {
        snprintf(c->reason, sizeof c->reason, "HTTP/2: %s",
                 nghttp2_strerror((int)n));
        if (n == NGHTTP2_ERR_BAD_CLIENT_MAGIC &&
            nghttp2_session_terminate_session(c->s,
                                              NGHTTP2_PROTOCOL_ERROR) == 0) {
            /* not HTTP/2: our SETTINGS and a GOAWAY may still go out */
            c->proto_err = 1;
        } else {
            c->dead = 1;
        }
        set_err(err, errlen, "%s", c->reason);
        return -EPROTO;
    }
    if (c->proto_err) {
        set_err(err, errlen, "%s", c->reason);
        return -EPROTO;
    }
    return 0;
}

/* on_writable for the calls whose queue drained below the low mark. */
static void dispatch_writable(h2rpc_conn *conn)
{
    h2rpc_call *c, *next;

    while (conn->any_writable) {
        conn->any_writable = 0;
        for (c = conn->calls; c; c = next) {
            next = c->next;
            if (!c->writable_pending)
                continue;
            c->writable_pending = 0;
            if (!c->finished && !c->closed && c->m->on_writable)
                c->m->on_writable(c);
        }
    }
}

long h2rpc_conn_drain(h2rpc_conn *c, h2rpc_write_fn fn, void *arg)
{
    long total = 0;

    if (c->dead)
        return 0;
    for (;;) {
        const uint8_t *p;
        ssize_t n;

        dispatch_writable(c);
        n = nghttp2_session_mem_send(c->s, &p);
        if (n < 0) {
            c->dead = 1;
            snprintf(c->reason, sizeof c->reason, "HTTP/2: %s",
                     nghttp2_strerror((int)n));
            return -EPROTO;
        }
        if (n == 0) {
            if (c->any_writable)
                continue;
            break;
        }
        total += (long)n;
        if (fn(arg, p, (size_t)n) != 0) {
            dispatch_writable(c);
            break;
        }
    }
    return total;
}

int h2rpc_conn_want_write(const h2rpc_conn *c)
{
    return !c->dead && nghttp2_session_want_write(c->s);
}

int h2rpc_conn_done(const h2rpc_conn *c)
{
    if (c->dead)
        return 1;
    if (c->proto_err && !nghttp2_session_want_write(c->s))
        return 1;
    return !nghttp2_session_want_read(c->s) &&
           !nghttp2_session_want_write(c->s);
}

/* The deadline passed: DEADLINE_EXCEEDED (replacing a handler status that
 * has not gone out yet), unsent messages dropped, RST_STREAM CANCEL. When
 * the client's flow-control window cannot take what is left (it stopped
 * reading), RST_STREAM CANCEL at once: a deadline must free the call. */
static void call_expire(h2rpc_call *c)
{
    h2rpc_conn *conn = c->conn;
    int32_t sw, cw;

    c->has_deadline = 0;
    c->rst_code = NGHTTP2_CANCEL;
    if (c->trailers_submitted)
        return;                 /* on its way; RST (if any) says CANCEL */
    queue_clear(c, 1);
    c->want_writable = 0;
    c->writable_pending = 0;
    if (!c->finished) {
        if (call_finish(c, H2RPC_DEADLINE_EXCEEDED, "deadline exceeded", 0) ||
            c->trailers_submitted)
            return;             /* Trailers-Only: not flow controlled */
    } else {
        /* finished by the handler, trailers still behind the queue */
        c->handler_finished = 0;
        c->status = H2RPC_DEADLINE_EXCEEDED;
        free(c->smsg);
        c->smsg = pct_encode("deadline exceeded");
        if (c->deferred) {
            c->deferred = 0;
            nghttp2_session_resume_data(conn->s, c->stream_id);
        }
    }
    sw = nghttp2_session_get_stream_remote_window_size(conn->s, c->stream_id);
    cw = nghttp2_session_get_remote_window_size(conn->s);
    if (sw <= 0 || cw <= 0 || (size_t)sw <= c->queued ||
        (size_t)cw <= c->queued)
        nghttp2_submit_rst_stream(conn->s, NGHTTP2_FLAG_NONE, c->stream_id,
                                  NGHTTP2_CANCEL);
}

uint64_t h2rpc_conn_tick(h2rpc_conn *c, uint64_t now_ms)
{
    uint64_t next = UINT64_MAX;
    h2rpc_call *k;

    if (c->dead)
        return UINT64_MAX;
    for (k = c->calls; k; k = k->next) {
        if (!k->has_deadline)
            continue;
        if (k->deadline <= now_ms)
            call_expire(k);
        else if (k->deadline < next)
            next = k->deadline;
    }
    return next;
}

void h2rpc_conn_set_clock(h2rpc_conn *c, uint64_t (*now_ms)(void *),
                          void *arg)
{
    c->now = now_ms ? now_ms : default_now;
    c->now_arg = now_ms ? arg : NULL;
}

void h2rpc_conn_shutdown(h2rpc_conn *c)
{
    if (c->dead || c->proto_err)
        return;
    nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->s),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

void h2rpc_conn_free(h2rpc_conn *c)
{
    h2rpc_call *k;

    if (!c)
        return;
    c->freeing = 1;
    while ((k = c->calls) != NULL) {
        call_unlink(k);
        if (k->started && !k->closed) {
            k->closed = 1;
            if (k->m->on_close)
                k->m->on_close(k, 1);
        }
        nghttp2_session_set_stream_user_data(c->s, k->stream_id, NULL);
        call_free(k);
    }
    nghttp2_session_del(c->s);
    free(c);
}

/* ------------------------------------------------------------ calls */

int h2rpc_send(h2rpc_call *c, const void *msg, size_t len)
{
    h2rpc_conn *conn = c->conn;
    struct oblk *b;

    if (c->finished || c->closed || conn->freeing || conn->dead)
        return -EPIPE;
    if (len > conn->max_send || len > UINT32_MAX)
        return -EMSGSIZE;
    /* hard bound for handlers that ignore -EAGAIN */
    if (c->queued > 2 * (size_t)H2RPC_QUEUE_HIGH + conn->max_send)
        return -ENOBUFS;
    if (!c->resp_submitted) {
        nghttp2_nv nv[3] = {
            NV(":status", "200", 3),
            NV("content-type", "application/grpc", 16),
            NV("grpc-accept-encoding", "identity", 8),
        };
        nghttp2_data_provider prd;
        prd.source.ptr = c;
        prd.read_callback = read_cb;
        if (nghttp2_submit_response(conn->s, c->stream_id, nv, 3, &prd) != 0)
            return -EPIPE;
        c->resp_submitted = 1;
    }
    b = malloc(sizeof *b + PREFIX_LEN + len);
    if (!b)
        return -ENOMEM;
    b->next = NULL;
    b->len = PREFIX_LEN + len;
    b->off = 0;
    b->data[0] = 0;
    b->data[1] = (uint8_t)(len >> 24);
    b->data[2] = (uint8_t)(len >> 16);
    b->data[3] = (uint8_t)(len >> 8);
    b->data[4] = (uint8_t)len;
    if (len)
        memcpy(b->data + PREFIX_LEN, msg, len);
    if (c->qtail)
        c->qtail->next = b;
    else
        c->qhead = b;
    c->qtail = b;
    c->queued += b->len;
    if (c->deferred) {
        c->deferred = 0;
        nghttp2_session_resume_data(conn->s, c->stream_id);
    }
    if (c->queued > H2RPC_QUEUE_HIGH) {
        c->want_writable = 1;
        return -EAGAIN;
    }
    return 0;
}

int h2rpc_finish(h2rpc_call *c, enum h2rpc_status st, const char *msg)
{
    return call_finish(c, st, msg, 1);
}

int h2rpc_finishf(h2rpc_call *c, enum h2rpc_status st, const char *fmt, ...)
{
    char msg[MAX_STATUS_MSG + 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return call_finish(c, st, msg, 1);
}

const h2rpc_method *h2rpc_call_method(const h2rpc_call *c)
{
    return c->m;
}

const char *h2rpc_call_header(const h2rpc_call *c, const char *name)
{
    return hdr_find(c, name);
}

uint64_t h2rpc_call_deadline(const h2rpc_call *c)
{
    if (!c->has_deadline)
        return 0;
    return c->deadline ? c->deadline : 1;
}

uint64_t h2rpc_call_id(const h2rpc_call *c)
{
    return c->conn->id << 32 | (uint32_t)c->stream_id;
}

void h2rpc_call_set_data(h2rpc_call *c, void *data)
{
    c->data = data;
}

void *h2rpc_call_data(const h2rpc_call *c)
{
    return c->data;
}

void *h2rpc_app(const h2rpc_call *c)
{
    return c->conn->cfg->app;
}

h2rpc_conn *h2rpc_call_conn(const h2rpc_call *c)
{
    return c->conn;
}

h2rpc_call *h2rpc_conn_find(h2rpc_conn *c, uint64_t call_id)
{
    h2rpc_call *k;

    if ((call_id >> 32) != (c->id & 0xffffffffu))
        return NULL;
    for (k = c->calls; k; k = k->next)
        if ((uint32_t)k->stream_id == (uint32_t)call_id)
            return k->started && !k->closed ? k : NULL;
    return NULL;
}

const char *h2rpc_status_name(enum h2rpc_status st)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
        "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    };

    if ((unsigned)st < sizeof names / sizeof names[0])
        return names[st];
    return "UNKNOWN_STATUS";
}
