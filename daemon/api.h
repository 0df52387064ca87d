/*
 * api.h - lagranged's gRPC listeners: the unix socket the local CLI uses
 * (ApiSocket, mode 0660, no token) and, when ApiListen is set, TCP with
 * TLS (TlsCert/TlsKey, ALPN h2) and a bearer token from ApiTokenFile for
 * remote apps.
 *
 * Under systemd's socket activation (LISTEN_FDS, see sdlisten.h) the API
 * socket it passed is used instead of binding ApiSocket, and is left in
 * place at stop.
 *
 * Owns the listening handles and the connections: bytes between each
 * socket (through lib/wire/tlsio for TCP) and its lib/api/h2rpc front end,
 * the write queue, the deadline clock. What the methods do belongs to the
 * service modules (scheduler.c: lagrange.v1.Scheduler; svc.c: health and
 * reflection); this module only assembles their tables.
 *
 * Connection states:
 *   OPEN      reading and writing
 *   DRAINING  the peer closed, broke the protocol, or we stop: no more
 *             reading; a uv_shutdown follows the pending writes
 *   CLOSING   uv_close called; freed in the close callback
 * aconn_close() is the one way to CLOSING and is idempotent.
 *
 * Anything a handler queues outside a read callback (a job finishing on
 * the threadpool, a watch event) goes out on the next loop iteration: a
 * uv_prepare handle drains every connection that has output.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_API_H
#define LG_DAEMON_API_H

#include <stddef.h>

#include "lagranged.h"

#define API_MAX_CONNS 256          /* clients at once, both listeners */
#define API_MAX_QUEUED (16u << 20) /* unsent bytes per client before the
                                      front end stops being drained */
#define API_TICK_MS 50             /* deadline resolution */
#define API_MAX_TOKENS 256         /* lines of ApiTokenFile */

typedef struct dapi dapi;

/* Open the listeners of d->conf. Errors name the socket or file. */
int dapi_start(lagranged *d, dapi **out, char *err, size_t errlen);

/* Close the listeners and every connection (their calls are cancelled);
 * done(arg) runs once the last handle has closed. */
void dapi_stop(dapi *a, void (*done)(void *arg), void *arg);

/* Reread ApiTokenFile (SIGHUP). Returns 0 or -errno with err set; the old
 * tokens stay on failure. */
int dapi_reload_tokens(dapi *a, char *err, size_t errlen);

/* Counters for status and /metrics. */
typedef struct dapi_stats {
    uint64_t conns_total;      /* accepted since start */
    int conns_open;
    uint64_t auth_refused;
    uint64_t bad_conns;        /* closed for bad HTTP/2 or TLS */
} dapi_stats;
void dapi_get_stats(const dapi *a, dapi_stats *out);

#endif
