/*
 * h2rpc.h - the gRPC server front end: HTTP/2 (nghttp2) framing, gRPC
 * message framing, deadlines, status trailers. Bytes in, bytes out: it
 * never touches a socket, so the daemon drives it from libuv (plain or
 * through lib/wire/tlsio) and the tests and the fuzzer drive it from memory.
 *
 * Owns one HTTP/2 server connection (h2rpc_conn) and its calls (h2rpc_call,
 * one per stream). What it does on its own, before any handler runs:
 *   - refuses requests that are not gRPC: method other than POST, or a
 *     content-type not starting with "application/grpc" -> HTTP 415
 *     (one HEADERS frame with END_STREAM, grpc-status UNKNOWN per the gRPC
 *     HTTP mapping, and a grpc-message); a path not in the method table
 *     -> Trailers-Only UNIMPLEMENTED "unknown method PATH"; request header
 *     fields above 16 KiB in all -> RESOURCE_EXHAUSTED;
 *   - checks authorization when the server asks for it (cfg.auth): a
 *     refused or missing "authorization" header -> Trailers-Only
 *     UNAUTHENTICATED;
 *   - parses grpc-timeout ("<=8 digits><H|M|S|m|u|n>") into an absolute
 *     deadline; a malformed one -> INVALID_ARGUMENT; when the deadline passes
 *     (h2rpc_conn_tick) the call is answered DEADLINE_EXCEEDED (response
 *     messages not yet started are dropped), RST_STREAM CANCEL follows if
 *     the client is still sending (at once, without the status, if the
 *     client's flow-control window cannot take what is left), and
 *     on_close reports it cancelled;
 *   - splits the request DATA into gRPC messages (1 byte compressed flag,
 *     4 bytes big-endian length, message): a compressed message ->
 *     UNIMPLEMENTED (we announce grpc-accept-encoding identity only); a
 *     length above cfg.max_recv -> RESOURCE_EXHAUSTED, checked before
 *     anything is allocated; a second message on a unary or server-streaming
 *     method, or none at end of stream -> INTERNAL "expected one request
 *     message";
 *   - once a call's status has gone out while the client is still sending,
 *     RST_STREAM NO_ERROR ends the stream (RFC 9113 8.1);
 *   - bad HTTP/2 (random bytes, a bad preface) -> GOAWAY and
 *     h2rpc_conn_feed returns an error: the caller sends what is pending
 *     and closes the connection.
 *
 * Handler contract. For each call, in this order, exactly once each unless
 * said otherwise:
 *   on_start    headers complete, method known, auth passed. May answer
 *               at once (h2rpc_finish) or later.
 *   on_message  0..n times, one complete request message (the buffer is
 *               valid only during the callback). Unary and server-streaming
 *               methods get exactly one (enforced above).
 *   on_end      the client half-closed (END_STREAM); not called if the
 *               call was finished or cancelled first.
 *   on_writable the output queue of this call fell below
 *               H2RPC_QUEUE_LOW after an h2rpc_send returned -EAGAIN.
 *   on_close    always once on_start was called, last: the stream is gone
 *               (finished and flushed, reset by the peer, deadline,
 *               connection closing). cancelled != 0 when the handler's
 *               h2rpc_finish did not reach the peer (the front end answered
 *               instead, or nothing was answered). After on_close returns
 *               the h2rpc_call pointer is invalid: work still running on a
 *               thread must find its call again by h2rpc_call_id. A request
 *               refused before on_start gets no callback at all.
 * Callbacks may call h2rpc_send / h2rpc_finish on their own call (never
 * h2rpc_conn_feed, _drain or _free). on_start, on_message and on_end run
 * inside h2rpc_conn_feed, on_writable inside h2rpc_conn_drain, on_close
 * inside either or h2rpc_conn_free. A handler returning nonzero
 * from on_start or on_message makes the front end answer INTERNAL, unless
 * it already finished the call.
 *
 * Responses: h2rpc_send queues one response message (copied); the first send
 * also sends the response headers (:status 200, content-type
 * application/grpc, grpc-accept-encoding identity). h2rpc_finish queues the trailers (grpc-status, and
 * grpc-message percent-encoded when msg is not NULL); with no message sent
 * before it, it sends a Trailers-Only response. Nothing after finish.
 *
 * Threading: not thread-safe; one connection is driven from one thread.
 * Memory: every buffer is bounded: a partial request message by
 * cfg.max_recv, request header fields by 16 KiB, the output queue by
 * h2rpc_send's limits, streams by H2RPC_MAX_STREAMS; nghttp2 bounds HPACK.
 */
#ifndef LG_H2RPC_H
#define LG_H2RPC_H

#include <stddef.h>
#include <stdint.h>

/* gRPC status codes (grpc/include/grpc/impl/codegen/status.h numbering). */
enum h2rpc_status {
    H2RPC_OK = 0,
    H2RPC_CANCELLED = 1,
    H2RPC_UNKNOWN = 2,
    H2RPC_INVALID_ARGUMENT = 3,
    H2RPC_DEADLINE_EXCEEDED = 4,
    H2RPC_NOT_FOUND = 5,
    H2RPC_ALREADY_EXISTS = 6,
    H2RPC_PERMISSION_DENIED = 7,
    H2RPC_RESOURCE_EXHAUSTED = 8,
    H2RPC_FAILED_PRECONDITION = 9,
    H2RPC_ABORTED = 10,
    H2RPC_OUT_OF_RANGE = 11,
    H2RPC_UNIMPLEMENTED = 12,
    H2RPC_INTERNAL = 13,
    H2RPC_UNAVAILABLE = 14,
    H2RPC_DATA_LOSS = 15,
    H2RPC_UNAUTHENTICATED = 16,
};

/* What a method takes and returns. */
enum h2rpc_kind {
    H2RPC_UNARY = 0,          /* one request, one response */
    H2RPC_CLIENT_STREAM,      /* n requests, one response */
    H2RPC_SERVER_STREAM,      /* one request, n responses */
    H2RPC_BIDI,               /* n requests, n responses */
};

#define H2RPC_QUEUE_HIGH (4u << 20)  /* h2rpc_send: -EAGAIN above this */
#define H2RPC_QUEUE_LOW (1u << 20)   /* on_writable below this */
#define H2RPC_MAX_STREAMS 100        /* SETTINGS_MAX_CONCURRENT_STREAMS */

typedef struct h2rpc_conn h2rpc_conn;
typedef struct h2rpc_call h2rpc_call;

typedef struct h2rpc_method {
    const char *path;                /* "/lagrange.v1.Scheduler/SubmitJob" */
    enum h2rpc_kind kind;
    int need_auth;                   /* check cfg.auth before on_start */
    int (*on_start)(h2rpc_call *c);
    int (*on_message)(h2rpc_call *c, const uint8_t *msg, size_t len);
    void (*on_end)(h2rpc_call *c);
    void (*on_writable)(h2rpc_call *c);
    void (*on_close)(h2rpc_call *c, int cancelled);
} h2rpc_method;

typedef struct h2rpc_cfg {
    const h2rpc_method *methods;     /* table, n_methods entries */
    int n_methods;
    size_t max_recv;                 /* largest request message, bytes;
                                        0: 4 MiB */
    size_t max_send;                 /* largest response message, bytes;
                                        0: 4 MiB */
    /* NULL: no authorization. Else called with the "authorization" header
     * value (NULL when absent) for methods with need_auth; 0 accepts. */
    int (*auth)(void *app, const char *authorization);
    void *app;                       /* handed back by h2rpc_app */
} h2rpc_cfg;

/* A new server connection; cfg must outlive it. Queues the server's
 * SETTINGS. conn_id is the caller's number for it (logs, call ids). */
int h2rpc_conn_new(const h2rpc_cfg *cfg, uint64_t conn_id, h2rpc_conn **out);

/* Bytes read from the peer. Returns 0, or a negative errno-style code
 * (-EPROTO) when the connection must end: pending output (a GOAWAY) should
 * still be sent before closing. err gets the reason. Bytes that are not
 * HTTP/2 at all fail here at once; a bad frame after a good preface makes
 * nghttp2 queue a GOAWAY with an error code, and this call may still
 * return 0: once drain has sent that GOAWAY, h2rpc_conn_done is nonzero
 * and every later feed returns -EPROTO with the reason. */
int h2rpc_conn_feed(h2rpc_conn *c, const uint8_t *buf, size_t len,
                    char *err, size_t errlen);

/* Hand every byte ready to go to the peer to fn, in order, in pieces.
 * fn returns 0, or nonzero to stop (the bytes of that call are consumed
 * anyway: fn must take them). Returns the bytes handed over, or < 0. */
typedef int (*h2rpc_write_fn)(void *arg, const uint8_t *buf, size_t len);
long h2rpc_conn_drain(h2rpc_conn *c, h2rpc_write_fn fn, void *arg);

/* Nonzero while the connection has something to send. */
int h2rpc_conn_want_write(const h2rpc_conn *c);
/* Nonzero once both sides are done (GOAWAY exchanged and no streams, or a
 * protocol error): the caller closes the transport after draining. */
int h2rpc_conn_done(const h2rpc_conn *c);

/* Expire calls whose deadline is at or before now_ms (ms on the clock set
 * with h2rpc_conn_set_clock, which turned grpc-timeout into deadlines).
 * What it answers goes out at the next drain. Returns the earliest
 * remaining deadline, or UINT64_MAX. */
uint64_t h2rpc_conn_tick(h2rpc_conn *c, uint64_t now_ms);
/* The clock used to turn grpc-timeout into a deadline; default returns a
 * CLOCK_MONOTONIC ms reading. */
void h2rpc_conn_set_clock(h2rpc_conn *c, uint64_t (*now_ms)(void *),
                          void *arg);

/* Start a graceful shutdown: GOAWAY, running calls go on. */
void h2rpc_conn_shutdown(h2rpc_conn *c);
/* Free the connection. Every open call gets on_close(cancelled = 1) first.
 * Not from inside a callback. */
void h2rpc_conn_free(h2rpc_conn *c);

/* ---- a call ------------------------------------------------------------- */

/* Queue one response message (copied). Returns 0; -EAGAIN when the call's
 * output queue is above H2RPC_QUEUE_HIGH (the message is queued anyway;
 * wait for on_writable before the next); -EMSGSIZE above cfg.max_send
 * (not queued); -ENOBUFS, not queued, when a handler that ignored -EAGAIN
 * has more than 2 * H2RPC_QUEUE_HIGH + max_send queued; -ENOMEM; -EPIPE
 * after finish or close. */
int h2rpc_send(h2rpc_call *c, const void *msg, size_t len);
/* End the call with a status and an optional message (any bytes, the
 * first 2048 kept; it is percent-encoded on the wire). Idempotent: only
 * the first call counts: 0, then -EALREADY (also when the front end ended
 * the call first); -EPIPE after on_close. */
int h2rpc_finish(h2rpc_call *c, enum h2rpc_status st, const char *msg);
/* printf-style message. */
int h2rpc_finishf(h2rpc_call *c, enum h2rpc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const h2rpc_method *h2rpc_call_method(const h2rpc_call *c);
/* A request header's value (lowercase name), or NULL. */
const char *h2rpc_call_header(const h2rpc_call *c, const char *name);
/* Absolute deadline on the connection's clock, ms; 0 = none. */
uint64_t h2rpc_call_deadline(const h2rpc_call *c);
/* (conn_id << 32) | stream id: unique for the process's life. */
uint64_t h2rpc_call_id(const h2rpc_call *c);
void h2rpc_call_set_data(h2rpc_call *c, void *data);
void *h2rpc_call_data(const h2rpc_call *c);
/* cfg.app of the call's connection. */
void *h2rpc_app(const h2rpc_call *c);
h2rpc_conn *h2rpc_call_conn(const h2rpc_call *c);
/* The call with this id on connection c, or NULL if it is gone (or in its
 * on_close). */
h2rpc_call *h2rpc_conn_find(h2rpc_conn *c, uint64_t call_id);

/* The grpc-status name ("NOT_FOUND"), for logs. */
const char *h2rpc_status_name(enum h2rpc_status st);

#endif
