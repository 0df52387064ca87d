/*
 * webhook.h - webhooks: the events of this node (jobs that end, peers
 * that turn suspect, dead or recovered, hardware faults) POSTed as JSON to
 * the URLs of the Webhook= lines (lagranged.conf(5)), durably and with
 * retries (lagranged(8), WEBHOOKS).
 *
 * Owns the delivery queue in EventDir (lib/store/eventq.h: one file per
 * event and URL, written and synced before dhook_emit returns), libcurl's
 * multi handle driven by the loop (a uv_poll_t per socket curl asks to
 * watch, a uv_timer_t for curl's timeout, curl_multi_socket_action) and a
 * timer for the next retry due.
 *
 * A delivery is one POST: Content-Type: application/json, User-Agent:
 * lagranged/VERSION, X-Lagrange-Event: EVENT, X-Lagrange-Delivery: ID (the
 * event's 32 hex digits; the same on every attempt, so receivers dedup:
 * delivery is at least once), X-Lagrange-Signature: sha256=HEX (HMAC-
 * SHA256 of the body with the SecretFile's key, when one is set). The body:
 *
 *   {"id":"ID","event":"job.completed","time":"2024-05-01T12:00:01.450Z",
 *    "node":"gs-mad", ...the caller's fields...}
 *
 * Outcome of an attempt: 2xx delivered (file removed); 408, 429, 5xx, a
 * connection error or WebhookTimeout: retried after 1 s, 2 s, 4 s, ...
 * capped at 5 min, +-20 % jitter (Retry-After, in seconds, on 429 and
 * 503 wins, up to 1 h); anything else (3xx: redirects are not followed,
 * other 4xx): a permanent failure. A delivery still failing
 * WebhookRetryFor after its event is given up. A permanent failure or a
 * give-up is logged (id, event, URL, why, and the body so that it can be
 * replayed by hand) and its file removed. At most DHOOK_MAX_PER_URL
 * attempts per URL and DHOOK_MAX_INFLIGHT in all run at once; order is
 * not kept. The secret is never logged; URLs are logged with any
 * user:password@ replaced by ***@.
 *
 * Life: dhook_start opens the queue (when there are Webhook= lines) and
 * retries at once every delivery it holds. dhook_stop (SIGTERM) starts no
 * more attempts and aborts those in flight (they stay queued: the next
 * start sends them again) and closes the handles; events emitted after it
 * are still queued durably. dhook_free, after the loop, closes the queue.
 *
 * Threading: loop thread only. Every function accepts h == NULL (no-op).
 */
#ifndef LG_DAEMON_WEBHOOK_H
#define LG_DAEMON_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "lagranged.h"

#define DHOOK_MAX_PER_URL 4          /* attempts in flight per URL */
#define DHOOK_MAX_INFLIGHT 32        /* attempts in flight in all */
#define DHOOK_FIELDS_MAX 8192        /* the caller's fields, bytes */
#define DHOOK_DEPTH_MAX 8            /* nested objects */
#define DHOOK_BACKOFF_MAX 300.0      /* s */

typedef struct dhook dhook;

/* ---- the event's fields ---------------------------------------------------
 * A small JSON builder for the members the caller adds to an event:
 *
 *   dhook_fields f;
 *   dhook_fields_init(&f);
 *   dhook_f_begin(&f, "peer");            "peer":{
 *   dhook_f_str(&f, "name", "leo-1");       "name":"leo-1",
 *   dhook_f_num(&f, "silent_s", 12.5);      "silent_s":12.5,
 *   dhook_f_time(&f, "last_seen", ms);      "last_seen":"...Z" (0: null)
 *   dhook_f_end(&f);                      }
 *   dhook_emit(d->hooks, "node.dead", &f);
 *
 * Strings are escaped (", \, control characters; bytes that are not UTF-8
 * become U+FFFD). Too much text, or unbalanced begin/end, marks f bad and
 * dhook_emit refuses it with a log line naming the event. */
typedef struct dhook_fields {
    char buf[DHOOK_FIELDS_MAX];
    size_t len;
    int depth;
    int first[DHOOK_DEPTH_MAX + 1]; /* no member yet at that depth */
    int bad;
} dhook_fields;

void dhook_fields_init(dhook_fields *f);
void dhook_f_begin(dhook_fields *f, const char *key);
void dhook_f_end(dhook_fields *f);
void dhook_f_str(dhook_fields *f, const char *key, const char *v); /* NULL:
                                                                   null */
void dhook_f_num(dhook_fields *f, const char *key, double v);
void dhook_f_uint(dhook_fields *f, const char *key, uint64_t v);
void dhook_f_bool(dhook_fields *f, const char *key, int v);
void dhook_f_time(dhook_fields *f, const char *key, uint64_t unix_ms);

/* Queue the event for every webhook whose Events= has it: one delivery
 * each, durable when this returns (an fsync per delivery, on the loop
 * thread). event: one of dconf_event_names ("job.completed", "node.dead",
 * ...); f: the members after "node" (NULL: none). Returns the deliveries
 * queued (0 when no webhook wants the event), or a negative errno when one
 * could not be queued (EventDir full: -ENOSPC; a disk error); each failure
 * is logged here, naming the event, its id and the URL, so callers may
 * ignore the result. Works while stopping too (queued for the next
 * start). */
int dhook_emit(dhook *h, const char *event, const dhook_fields *f);

/* Open per d->conf (the queue only if there are Webhook= lines) and start
 * delivering. -errno with what in err (EventDir, a SecretFile). */
int dhook_start(lagranged *d, dhook **out, char *err, size_t errlen);

/* After a reload (d->conf is the new one): Webhook= lines, their events
 * and secrets, WebhookTimeout and WebhookRetryFor take effect; queued
 * deliveries whose URL is no longer configured are given up (logged).
 * EventDir moves only at a restart. On error (a SecretFile unreadable)
 * the webhooks in force stay, -errno with what in err. */
int dhook_reload(dhook *h, char *err, size_t errlen);

/* SIGTERM: no new attempts, in-flight ones aborted (still queued), the
 * handles closed (the loop ends when they are). Idempotent. */
void dhook_stop(dhook *h);

/* After the loop: close the queue, free h. */
void dhook_free(dhook *h);

typedef struct dhook_stats {
    uint64_t ok;                 /* attempts delivered (2xx) */
    uint64_t retry;              /* attempts failed, retried later */
    uint64_t failed;             /* deliveries failed for good */
    uint64_t refused;            /* deliveries not queued (full, disk) */
    int pending;                 /* deliveries queued now */
    int inflight;                /* attempts in flight now */
} dhook_stats;

void dhook_get_stats(const dhook *h, dhook_stats *st);

/* url with any "user:password@" replaced by "***@", into buf. Pure. */
const char *dhook_redact_url(const char *url, char *buf, size_t len);

#endif
