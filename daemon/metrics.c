/*
 * metrics.c - /metrics over HTTP/1.1 (see metrics.h).
 *
 * Each connection reads one request head into a fixed buffer, answers it
 * with one uv_write (status line, headers, body) and closes after the
 * write. Connection states:
 *   READING  until the blank line that ends the head (or a limit)
 *   WRITING  the answer is queued; the write callback closes
 *   CLOSING  uv_close called; freed in the close callback
 * A timer per connection closes one whose request never completes.
 */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "lgerr.h"
#include "log.h"
#include "net.h"
#include "nodehealth.h"
#include "scheduler.h"
#include "webhook.h"

#define BODY_MAX (8u << 20)        /* the exposition, bytes */

typedef enum mconn_state { MC_READING = 0, MC_WRITING, MC_CLOSING } mconn_state;

typedef struct mconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    dmetrics *m;
    mconn_state state;
    int handles;                 /* 2 until both are closed */
    char req[METRICS_MAX_REQUEST];
    size_t len;
    char *out;
    struct mconn *prev, *next;
} mconn;

struct dmetrics {
    lagranged *d;
    uv_tcp_t srv;
    int srv_open;
    int handles;
    int n_conns;
    mconn *conns;
    int stopping;
    void (*done)(void *);
    void *done_arg;
};

/* ---- the exposition ----------------------------------------------------- */

typedef struct obuf {
    char *p;
    size_t len, cap;
    int failed;
    int om;                      /* OpenMetrics, else text 0.0.4 */
} obuf;

static void bput(obuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bput(obuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 16384;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *np = cap <= BODY_MAX ? realloc(b->p, cap) : NULL;
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* A label value, escaped as both formats want (\\, \", \n). */
static void blabel(obuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            bput(b, "\\\\");
        else if (*v == '"')
            bput(b, "\\\"");
        else if (*v == '\n')
            bput(b, "\\n");
        else
            bput(b, "%c", *v);
    }
}

/* HELP and TYPE. A counter's family is NAME in OpenMetrics (samples
 * NAME_total) and NAME_total in the text format. */
static void family(obuf *b, const char *name, const char *type,
                   const char *help)
{
    const char *sfx = !b->om && !strcmp(type, "counter") ? "_total" : "";
    bput(b, "# HELP %s%s %s\n", name, sfx, help);
    bput(b, "# TYPE %s%s %s\n", name, sfx, type);
}

static void num(obuf *b, double v)
{
    if (isnan(v))
        bput(b, "NaN\n");
    else if (isinf(v))
        bput(b, v > 0 ? "+Inf\n" : "-Inf\n");
    else if (v == floor(v) && fabs(v) < 1e15)
        bput(b, "%.0f\n", v);
    else
        bput(b, "%.15g\n", v);
}

static void one(obuf *b, const char *name, const char *type,
                const char *help, double v)
{
    family(b, name, type, help);
    bput(b, "%s%s ", name, !strcmp(type, "counter") ? "_total" : "");
    num(b, v);
}

/* Node health (nodehealth.h): per topology node, from the freshest
 * record held; nodes never heard of have only lagrange_node_up (0). */
static void node_health_metrics(obuf *b, lagranged *d)
{
    const plan_topology *t = d->conf->topo;
    dhealth_view v;
    static const char *const fam[][3] = {
        { "lagrange_node_up", "gauge",
          "1 while the node is up (heard, not suspect or dead)." },
        { "lagrange_node_suspect", "gauge",
          "1 while the node is suspect or dead (silent while reachable)." },
        { "lagrange_node_load", "gauge",
          "Executor busy fraction the node reported, 0..1." },
        { "lagrange_node_battery_soc", "gauge",
          "Battery state of charge the node reported, 0..1 (solar nodes)." },
        { "lagrange_node_sunlit", "gauge",
          "1 while the node reported its array in sunlight." },
        { "lagrange_node_faults", "gauge",
          "Fault counters the node reported since its start, by kind." },
        { "lagrange_node_heard_age_seconds", "gauge",
          "Age of the freshest health record of the node." },
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        family(b, fam[f][0], fam[f][1], fam[f][2]);
        for (int i = 0; i < t->n_nodes; i++) {
            double x;
            if (dhealth_node(d, i, &v) < 0)
                return;
            if (f >= 2 && !v.have)
                continue;
            if (f == 3 && v.rec.battery_soc < 0)
                continue;
            if (f == 5) {
                static const char *const kind[3] = {
                    "exec_checksum", "ecc", "spool_quarantined" };
                const uint64_t k[3] = { v.rec.fault_exec_checksum,
                                        v.rec.fault_ecc,
                                        v.rec.fault_spool_quarantined };
                for (int j = 0; j < 3; j++) {
                    bput(b, "%s{node=\"", fam[f][0]);
                    blabel(b, t->nodes[i].name);
                    bput(b, "\",kind=\"%s\"} ", kind[j]);
                    num(b, (double)k[j]);
                }
                continue;
            }
            x = f == 0 ? !strcmp(v.state, "up")
                : f == 1 ? (!strcmp(v.state, "suspect") ||
                            !strcmp(v.state, "dead"))
                : f == 2 ? v.rec.load
                : f == 3 ? v.rec.battery_soc
                : f == 4 ? v.rec.sunlit
                : v.age_s;
            bput(b, "%s{node=\"", fam[f][0]);
            blabel(b, t->nodes[i].name);
            bput(b, "\"} ");
            num(b, x);
        }
    }
}

static const char *const state_names[9] = {
    "unspecified", "pending", "planned", "staging", "running",
    "completed", "failed", "cancelled", "expired",
};

int metrics_render(lagranged *d, int openmetrics, char **out, size_t *len)
{
    obuf b = { NULL, 0, 0, 0, openmetrics };
    sched_stats ss;
    dnet_counters nc;
    dnet_link lk[64];
    dapi_stats as = { 0 };
    int nl, have_net;

    sched_get_stats(d, &ss);
    have_net = dnet_get_counters(d, &nc) == 0;
    nl = dnet_links(d, lk, 64);
    if (d->api)
        dapi_get_stats(d->api, &as);

    family(&b, "lagrange_build_info", "gauge",
           "Always 1; the labels say which node and version this is.");
    bput(&b, "lagrange_build_info{node=\"");
    blabel(&b, d->conf->node_id);
    bput(&b, "\",version=\"%s\"} 1\n", PACKAGE_VERSION);
    one(&b, "lagrange_start_time_seconds", "gauge",
        "When lagranged started, Unix seconds.", d->start_unix);

    family(&b, "lagrange_jobs", "gauge", "Jobs known to this node by state.");
    for (int i = 1; i < 9; i++) {
        bput(&b, "lagrange_jobs{state=\"%s\"} ", state_names[i]);
        num(&b, (double)ss.by_state[i]);
    }
    one(&b, "lagrange_jobs_submitted", "counter",
        "Jobs accepted (durable) since the daemon started.",
        (double)ss.submitted);
    family(&b, "lagrange_job_latency_seconds", "histogram",
           "Submission to completion of the jobs that completed since the "
           "daemon started.");
    for (int i = 0; i < SCHED_LAT_BUCKETS; i++) {
        bput(&b, "lagrange_job_latency_seconds_bucket{le=\"%g\"} ",
             (double)ss.lat_le_ms[i] / 1e3);
        num(&b, (double)ss.lat_count[i]);
    }
    bput(&b, "lagrange_job_latency_seconds_bucket{le=\"+Inf\"} ");
    num(&b, (double)ss.lat_n);
    bput(&b, "lagrange_job_latency_seconds_count ");
    num(&b, (double)ss.lat_n);
    bput(&b, "lagrange_job_latency_seconds_sum ");
    num(&b, ss.lat_sum_s);

    one(&b, "lagrange_models", "gauge", "Models stored on this node.",
        (double)ss.n_models);
    family(&b, "lagrange_executor_seconds", "counter",
           "Executor time by model since the daemon started.");
    for (int i = 0; i < ss.n_models; i++) {
        bput(&b, "lagrange_executor_seconds_total{model=\"");
        blabel(&b, ss.models[i].name);
        bput(&b, "\",model_id=\"%.12s\"} ", ss.models[i].id);
        num(&b, ss.models[i].exec_s);
    }
    family(&b, "lagrange_executor_runs", "counter",
           "Inferences run by model since the daemon started.");
    for (int i = 0; i < ss.n_models; i++) {
        bput(&b, "lagrange_executor_runs_total{model=\"");
        blabel(&b, ss.models[i].name);
        bput(&b, "\",model_id=\"%.12s\"} ", ss.models[i].id);
        num(&b, (double)ss.models[i].runs);
    }
    one(&b, "lagrange_partition_cache_bytes", "gauge",
        "Bytes of distributed-job partitions kept in ModelDir.",
        (double)ss.partition_bytes);
    one(&b, "lagrange_partition_evictions", "counter",
        "Partitions evicted from ModelDir (PartitionCacheMax) since the "
        "daemon started.", (double)ss.partition_evictions);

    if (have_net) {
        one(&b, "lagrange_spool_bundles", "gauge",
            "Bundles stored in the spool (in custody here).",
            (double)nc.spool_bundles);
        one(&b, "lagrange_spool_bytes", "gauge", "Bytes stored in the spool.",
            (double)nc.spool_bytes);
        one(&b, "lagrange_spool_limit_bytes", "gauge",
            "SpoolMaxBytes: the spool refuses bundles beyond it.",
            (double)d->conf->spool_max_bytes);
        one(&b, "lagrange_spool_quarantined", "gauge",
            "Spool entries set aside as damaged.", (double)nc.quarantined);
        one(&b, "lagrange_bundles_originated", "counter",
            "Bundles created on this node.", (double)nc.originated);
        one(&b, "lagrange_bundles_received", "counter",
            "Bundles received from peers.", (double)nc.received);
        one(&b, "lagrange_bundles_forwarded", "counter",
            "Bundles whose custody a next hop accepted.",
            (double)nc.forwarded);
        one(&b, "lagrange_bundles_delivered", "counter",
            "Objects delivered on this node.", (double)nc.delivered);
        one(&b, "lagrange_bundles_expired", "counter",
            "Bundles dropped at the end of their lifetime.",
            (double)nc.expired);
        one(&b, "lagrange_bundles_refused", "counter",
            "Bundles refused from peers (bad, duplicate, or no room).",
            (double)nc.refused);
        one(&b, "lagrange_bundles_job_dropped", "counter",
            "Bundles dropped from the spool (or on arrival) because their "
            "job ended.", (double)nc.job_dropped);
        one(&b, "lagrange_bundles_job_dropped_bytes", "counter",
            "Payload bytes of the bundles dropped because their job ended.",
            (double)nc.job_dropped_bytes);
    }
    family(&b, "lagrange_link_up", "gauge",
           "1 while a session with the neighbour is up.");
    for (int i = 0; i < nl; i++) {
        bput(&b, "lagrange_link_up{peer=\"");
        blabel(&b, lk[i].peer);
        bput(&b, "\"} %d\n", lk[i].session_up);
    }
    family(&b, "lagrange_link_window_open", "gauge",
           "1 while the link's contact window is open.");
    for (int i = 0; i < nl; i++) {
        bput(&b, "lagrange_link_window_open{peer=\"");
        blabel(&b, lk[i].peer);
        bput(&b, "\"} %d\n", lk[i].window_open);
    }
    family(&b, "lagrange_link_transmit_bytes", "counter",
           "Bytes sent to the neighbour since the daemon started.");
    for (int i = 0; i < nl; i++) {
        bput(&b, "lagrange_link_transmit_bytes_total{peer=\"");
        blabel(&b, lk[i].peer);
        bput(&b, "\"} ");
        num(&b, (double)lk[i].tx_bytes);
    }
    family(&b, "lagrange_link_receive_bytes", "counter",
           "Bytes received from the neighbour since the daemon started.");
    for (int i = 0; i < nl; i++) {
        bput(&b, "lagrange_link_receive_bytes_total{peer=\"");
        blabel(&b, lk[i].peer);
        bput(&b, "\"} ");
        num(&b, (double)lk[i].rx_bytes);
    }
    family(&b, "lagrange_link_inflight_bundles", "gauge",
           "Bundles sent to the neighbour and not yet acked.");
    for (int i = 0; i < nl; i++) {
        bput(&b, "lagrange_link_inflight_bundles{peer=\"");
        blabel(&b, lk[i].peer);
        bput(&b, "\"} %d\n", lk[i].inflight);
    }
    node_health_metrics(&b, d);
    one(&b, "lagrange_api_connections", "gauge",
        "gRPC clients connected now.", (double)as.conns_open);
    one(&b, "lagrange_api_connections_accepted", "counter",
        "gRPC connections accepted since the daemon started.",
        (double)as.conns_total);
    one(&b, "lagrange_api_auth_failures", "counter",
        "Calls refused for a missing or wrong token.",
        (double)as.auth_refused);
    one(&b, "lagrange_api_bad_connections", "counter",
        "Connections closed for bad HTTP/2 or TLS.", (double)as.bad_conns);
    {
        dhook_stats hs;
        dhook_get_stats(d->hooks, &hs);
        family(&b, "lagrange_webhook_deliveries", "counter",
               "Webhook attempts by result since the daemon started: ok "
               "(2xx), retry (failed, tried again later), failed (given "
               "up: permanent error or WebhookRetryFor passed).");
        bput(&b, "lagrange_webhook_deliveries_total{result=\"ok\"} ");
        num(&b, (double)hs.ok);
        bput(&b, "lagrange_webhook_deliveries_total{result=\"retry\"} ");
        num(&b, (double)hs.retry);
        bput(&b, "lagrange_webhook_deliveries_total{result=\"failed\"} ");
        num(&b, (double)hs.failed);
        one(&b, "lagrange_webhook_pending", "gauge",
            "Webhook deliveries queued in EventDir.", (double)hs.pending);
    }
    if (b.om)
        bput(&b, "# EOF\n");
    if (b.failed) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------ */

static void maybe_done(dmetrics *m)
{
    if (m->stopping && m->handles == 0) {
        if (m->done)
            m->done(m->done_arg);
        free(m);
    }
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    mconn *k = h->data;
    dmetrics *m = k->m;
    if (--k->handles > 0)
        return;
    free(k->out);
    free(k);
    m->handles--;
    maybe_done(m);
}

static void mconn_close(mconn *k)
{
    dmetrics *m = k->m;
    if (k->state == MC_CLOSING)
        return;
    k->state = MC_CLOSING;
    if (k->prev)
        k->prev->next = k->next;
    else
        m->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    m->n_conns--;
    uv_close((uv_handle_t *)&k->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&k->timer, on_conn_handle_closed);
}

static void on_written(uv_write_t *w, int status)
{
    mconn *k = w->data;
    (void)status;
    mconn_close(k);
}

static void answer(mconn *k, int code, const char *reason, const char *ctype,
                   const char *body, size_t blen, int head)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n"
                     "Cache-Control: no-store\r\n%s\r\n",
                     code, reason, ctype, blen,
                     code == 405 ? "Allow: GET, HEAD\r\n" : "");
    size_t total = (size_t)n + (head ? 0 : blen);
    uv_buf_t b;
    if (!(k->out = malloc(total))) {
        mconn_close(k);
        return;
    }
    memcpy(k->out, hdr, (size_t)n);
    if (!head && blen)
        memcpy(k->out + n, body, blen);
    b = uv_buf_init(k->out, (unsigned)total);
    k->state = MC_WRITING;
    uv_read_stop((uv_stream_t *)&k->tcp);
    k->wreq.data = k;
    if (uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &b, 1, on_written) < 0)
        mconn_close(k);
}

static void answer_text(mconn *k, int code, const char *reason,
                        const char *msg)
{
    answer(k, code, reason, "text/plain; charset=utf-8", msg, strlen(msg), 0);
}

/* The request head is complete in k->req: answer it. */
static void handle(mconn *k)
{
    char method[16], target[256], version[16], *accept;
    char *body;
    size_t blen;
    int om, head;
    k->req[k->len] = '\0';
    if (sscanf(k->req, "%15s %255s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        answer_text(k, 400, "Bad Request", "bad request line\n");
        return;
    }
    head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") != 0 && !head) {
        answer_text(k, 405, "Method Not Allowed", "only GET and HEAD\n");
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q = '\0';
    if (strcmp(target, "/metrics") != 0 && strcmp(target, "/") != 0) {
        answer_text(k, 404, "Not Found", "try /metrics\n");
        return;
    }
    accept = strcasestr(k->req, "\nAccept:");
    om = accept && strstr(accept, "application/openmetrics-text") &&
         (!strchr(accept, '\r') ||
          strstr(accept, "application/openmetrics-text") <
              strchr(accept, '\r'));
    if (metrics_render(k->m->d, om, &body, &blen) < 0) {
        answer_text(k, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    answer(k, 200, "OK",
           om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
              : "text/plain; version=0.0.4; charset=utf-8",
           body, blen, head);
    free(body);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    mconn *k = h->data;
    (void)hint;
    buf->base = k->req + k->len;
    buf->len = sizeof k->req - 1 - k->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    mconn *k = s->data;
    (void)buf;
    if (k->state != MC_READING)
        return;
    if (nread < 0) {
        mconn_close(k);
        return;
    }
    k->len += (size_t)nread;
    k->req[k->len] = '\0';
    if (strstr(k->req, "\r\n\r\n") || strstr(k->req, "\n\n"))
        handle(k);
    else if (k->len >= sizeof k->req - 1)
        answer_text(k, 431, "Request Header Fields Too Large",
                    "request head too large\n");
}

static void on_timeout(uv_timer_t *t)
{
    mconn *k = t->data;
    if (k->state == MC_READING)
        mconn_close(k);
}

static void on_conn(uv_stream_t *srv, int status)
{
    dmetrics *m = srv->data;
    mconn *k;
    if (status < 0 || !(k = calloc(1, sizeof *k)))
        return;
    k->m = m;
    uv_tcp_init(&m->d->loop, &k->tcp);
    uv_timer_init(&m->d->loop, &k->timer);
    k->tcp.data = k->timer.data = k;
    k->handles = 2;
    m->handles++;
    k->next = m->conns;
    if (m->conns)
        m->conns->prev = k;
    m->conns = k;
    m->n_conns++;
    if (uv_accept(srv, (uv_stream_t *)&k->tcp) < 0 ||
        m->n_conns > METRICS_MAX_CONNS) {
        mconn_close(k);
        return;
    }
    uv_timer_start(&k->timer, on_timeout, METRICS_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read) < 0)
        mconn_close(k);
}

static void on_srv_closed(uv_handle_t *h)
{
    dmetrics *m = h->data;
    m->handles--;
    maybe_done(m);
}

int metrics_start(lagranged *d, dmetrics **out, char *err, size_t errlen)
{
    const dconf *c = d->conf;
    char host[DCONF_HOST_MAX];
    struct sockaddr_storage ss;
    dmetrics *m;
    int port, rc;
    *out = NULL;
    if (!c->metrics_listen[0])
        return 0;
    if (dconf_split_addr(c->metrics_listen, host, sizeof host, &port) < 0 ||
        (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
         uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0))
        return lg_errf(err, errlen, -EINVAL,
                       "MetricsListen %s: not a numeric HOST:PORT",
                       c->metrics_listen);
    if (!(m = calloc(1, sizeof *m)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    m->d = d;
    uv_tcp_init(&d->loop, &m->srv);
    m->srv.data = m;
    m->srv_open = 1;
    m->handles = 1;
    *out = m;
    if ((rc = uv_tcp_bind(&m->srv, (struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&m->srv, 16, on_conn)) < 0) {
        if (!c->metrics_listen_set) {
            log_warn("metrics: cannot listen on %s (the default "
                     "MetricsListen): %s; /metrics is off", c->metrics_listen,
                     uv_strerror(rc));
            return 0;            /* metrics_stop still frees m */
        }
        return lg_errf(err, errlen, rc, "MetricsListen %s: %s",
                       c->metrics_listen, uv_strerror(rc));
    }
    log_info("metrics: http://%s/metrics", c->metrics_listen);
    return 0;
}

void metrics_stop(dmetrics *m, void (*done)(void *arg), void *arg)
{
    if (!m) {
        if (done)
            done(arg);
        return;
    }
    if (m->stopping)
        return;
    m->stopping = 1;
    m->done = done;
    m->done_arg = arg;
    while (m->conns)
        mconn_close(m->conns);
    uv_close((uv_handle_t *)&m->srv, on_srv_closed);
}
