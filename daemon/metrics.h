/*
 * metrics.h - GET /metrics for Prometheus on MetricsListen (HTTP/1.1).
 *
 * Owns the metrics listener, its connections (one request each, then
 * close) and the exposition: OpenMetrics 1.0 text when the scraper's
 * Accept header asks for application/openmetrics-text (Prometheus does),
 * the classic text format 0.0.4 otherwise (curl, promtool). What is
 * exported is listed in lagranged(8), METRICS: jobs by state, job latency,
 * executor time per model, bundles stored/forwarded/expired, bytes and
 * up/down per link, spool use, API connections.
 *
 * A request is at most METRICS_MAX_REQUEST bytes of header; anything else
 * than GET or HEAD of /metrics (or /) gets 404, 405, 400 or 431.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_METRICS_H
#define LG_DAEMON_METRICS_H

#include <stddef.h>

#include "lagranged.h"

#define METRICS_MAX_REQUEST 8192
#define METRICS_MAX_CONNS 32
#define METRICS_TIMEOUT_MS 10000   /* a request not complete by then */

typedef struct dmetrics dmetrics;

/* Listen on d->conf->metrics_listen (nothing if it is ""). A failure to
 * bind is an error only when the address was configured; the default
 * address falls back to a warning (another daemon may hold it). */
int metrics_start(lagranged *d, dmetrics **out, char *err, size_t errlen);
void metrics_stop(dmetrics *m, void (*done)(void *arg), void *arg);

/* The exposition, in a new malloc'd buffer (for tests and `status`). */
int metrics_render(lagranged *d, int openmetrics, char **out, size_t *len);

#endif
