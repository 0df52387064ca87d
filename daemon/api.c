/*
 * api.c - the gRPC listeners and connections (see api.h).
 *
 * Bytes in: read -> (TLS: wire_tls_feed, wire_tls_read) -> h2rpc_conn_feed,
 * whose callbacks run the service handlers. Bytes out: h2rpc_conn_drain
 * hands over everything the front end has ready; it is gathered into one
 * buffer per flush (encrypted first on TLS) and written with one
 * uv_write. The front end is not drained while more than API_MAX_QUEUED
 * bytes wait in the kernel's direction, which is the backpressure that
 * reaches the handlers as h2rpc_send's -EAGAIN.
 */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "h2rpc.h"
#include "lgerr.h"
#include "lgfs.h"
#include "log.h"
#include "scheduler.h"
#include "svc.h"
#include "tlsio.h"

#define READ_SLICE (64u << 10)     /* plaintext per wire_tls_read */
#define TOKEN_MAX 256              /* bytes of one token */

typedef enum aconn_state {
    AC_OPEN = 0,
    AC_DRAINING,
    AC_CLOSING,
} aconn_state;

typedef struct aconn {
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } u;
    dapi *api;
    aconn_state state;
    uint64_t id;                 /* h2rpc conn id */
    h2rpc_conn *h2;
    wire_tls *tls;               /* TCP only */
    size_t queued;               /* bytes in uv_write requests */
    int shutdown_sent;
    struct aconn *prev, *next;
} aconn;

typedef struct wreq {
    uv_write_t req;
    aconn *k;
    size_t len;
    char data[];
} wreq;

/* What a flush gathers before its one uv_write. */
typedef struct gather {
    aconn *k;
    char *buf;
    size_t len, cap;
    int failed;
} gather;

struct dapi {
    lagranged *d;
    uv_pipe_t unix_srv;
    uv_tcp_t tcp_srv;
    uv_prepare_t flusher;
    uv_timer_t ticker;
    int unix_open, tcp_open;     /* listeners initialised */
    int handles;                 /* handles not yet closed (incl. conns) */
    int unix_bound;
    char unix_path[DCONF_SUN_PATH_MAX];
    wire_tls_ctx *tls_ctx;
    h2rpc_method *methods;       /* sched + svc tables, concatenated */
    int n_methods;
    h2rpc_cfg cfg_unix, cfg_tcp;
    char *tokens[API_MAX_TOKENS];
    int n_tokens;
    aconn *conns;
    uint64_t next_id;
    int stopping;
    void (*done)(void *);
    void *done_arg;
    dapi_stats st;
};

static void aconn_close(aconn *k);
static void flush(aconn *k);

/* ---- tokens -------------------------------------------------------------- */

static void free_tokens(char **t, int n)
{
    for (int i = 0; i < n; i++) {
        OPENSSL_cleanse(t[i], strlen(t[i]));
        free(t[i]);
    }
}

/* ApiTokenFile: one token per line (its first word; the rest of the line
 * may name who holds it), '#' comments. */
static int load_tokens(const char *path, char **out, int *n_out, char *err,
                       size_t errlen)
{
    FILE *f = fopen(path, "re");
    char line[1024];
    int n = 0, lineno = 0, rc = 0;
    struct stat st;
    if (!f)
        return lg_errf(err, errlen, -errno, "ApiTokenFile %s: %s", path,
                       strerror(errno));
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH))
        log_warn("api: ApiTokenFile %s is readable by everyone", path);
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e;
        lineno++;
        if ((e = strchr(s, '#')))
            *e = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        e = s;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r')
            e++;
        if (e == s)
            continue;
        if (e - s > TOKEN_MAX || e - s < 16) {
            rc = lg_errf(err, errlen, LG_EMODEL,
                         "%s:%d: a token must be 16-%d bytes", path, lineno,
                         TOKEN_MAX);
            break;
        }
        if (n == API_MAX_TOKENS) {
            rc = lg_errf(err, errlen, LG_EMODEL, "%s:%d: more than %d tokens",
                         path, lineno, API_MAX_TOKENS);
            break;
        }
        if (!(out[n] = strndup(s, (size_t)(e - s)))) {
            rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    if (rc == 0 && n == 0)
        rc = lg_errf(err, errlen, LG_EMODEL,
                     "ApiTokenFile %s holds no token: remote clients could "
                     "never authenticate", path);
    if (rc < 0) {
        free_tokens(out, n);
        return rc;
    }
    *n_out = n;
    return 0;
}

/* "Bearer TOKEN" against every token, in constant time per token. */
static int check_auth(void *app, const char *authz)
{
    dapi *a = ((lagranged *)app)->api;
    size_t n;
    int ok = 0;
    if (!authz || strncasecmp(authz, "Bearer ", 7) != 0) {
        a->st.auth_refused++;
        return -1;
    }
    authz += 7;
    n = strlen(authz);
    for (int i = 0; i < a->n_tokens; i++)
        if (strlen(a->tokens[i]) == n &&
            CRYPTO_memcmp(a->tokens[i], authz, n) == 0)
            ok = 1;
    if (!ok)
        a->st.auth_refused++;
    return ok ? 0 : -1;
}

int dapi_reload_tokens(dapi *a, char *err, size_t errlen)
{
    char *t[API_MAX_TOKENS];
    int n = 0, rc;
    if (!a->tcp_open)
        return 0;
    if ((rc = load_tokens(a->d->conf->api_token_file.path, t, &n, err,
                          errlen)) < 0)
        return rc;
    free_tokens(a->tokens, a->n_tokens);
    memcpy(a->tokens, t, sizeof(char *) * (size_t)n);
    a->n_tokens = n;
    return 0;
}

/* ---- closing ------------------------------------------------------------- */

static void maybe_done(dapi *a)
{
    if (!a->stopping || a->handles > 0)
        return;
    free_tokens(a->tokens, a->n_tokens);
    wire_tls_ctx_free(a->tls_ctx);
    free(a->methods);
    if (a->done)
        a->done(a->done_arg);
    free(a);
}

static void on_conn_closed(uv_handle_t *h)
{
    aconn *k = h->data;
    dapi *a = k->api;
    wire_tls_free(k->tls);
    free(k);
    a->handles--;
    maybe_done(a);
}

static void aconn_close(aconn *k)
{
    dapi *a = k->api;
    if (k->state == AC_CLOSING)
        return;
    k->state = AC_CLOSING;
    if (k->prev)
        k->prev->next = k->next;
    else
        a->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    a->st.conns_open--;
    /* Cancels every open call: their handlers get on_close(cancelled). */
    h2rpc_conn_free(k->h2);
    k->h2 = NULL;
    uv_close(&k->u.h, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    aconn *k = req->data;
    (void)status;
    free(req);
    aconn_close(k);
}

/* No more reading; close once what is queued has been written. */
static void aconn_drain_close(aconn *k)
{
    uv_shutdown_t *req;
    if (k->state != AC_OPEN)
        return;
    k->state = AC_DRAINING;
    uv_read_stop(&k->u.s);
    flush(k);
    if (k->state != AC_DRAINING)
        return;
    if (!(req = malloc(sizeof *req)) ||
        uv_shutdown(req, &k->u.s, on_shutdown) < 0) {
        free(req);
        aconn_close(k);
        return;
    }
    req->data = k;
    k->shutdown_sent = 1;
}

/* ---- writing ------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    aconn *k = w->k;
    k->queued -= w->len;
    free(w);
    if (status < 0 && k->state != AC_CLOSING) {
        log_debug("api: client %llu: write: %s", (unsigned long long)k->id,
                  uv_strerror(status));
        aconn_close(k);
    }
}

static int gather_put(gather *g, const void *p, size_t n)
{
    if (g->len + n > g->cap) {
        size_t cap = g->cap ? g->cap : 16384;
        char *nb;
        while (cap < g->len + n)
            cap *= 2;
        if (!(nb = realloc(g->buf, cap))) {
            g->failed = 1;
            return -1;
        }
        g->buf = nb;
        g->cap = cap;
    }
    memcpy(g->buf + g->len, p, n);
    g->len += n;
    return 0;
}

/* h2rpc_write_fn: plaintext from the front end. */
static int take_out(void *arg, const uint8_t *buf, size_t len)
{
    gather *g = arg;
    aconn *k = g->k;
    char err[256];
    if (g->failed)
        return 1;
    if (!k->tls)
        return gather_put(g, buf, len) ? 1 : 0;
    if (wire_tls_write(k->tls, buf, len, err, sizeof err) < 0) {
        log_debug("api: client %llu: TLS: %s", (unsigned long long)k->id,
                  err);
        g->failed = 1;
        return 1;
    }
    return 0;
}

/* Write everything the front end (and TLS) has for the peer. */
static void flush(aconn *k)
{
    gather g = { k, NULL, 0, 0, 0 };
    wreq *w;
    int rc;
    if (k->state == AC_CLOSING || !k->h2)
        return;
    if (k->queued <= API_MAX_QUEUED &&
        (!k->tls || wire_tls_handshake_done(k->tls)))
        h2rpc_conn_drain(k->h2, take_out, &g);
    if (k->tls && !g.failed) {
        size_t n;
        while ((n = wire_tls_out_pending(k->tls)) > 0) {
            if (g.len + n > g.cap) {
                char *nb = realloc(g.buf, g.len + n);
                if (!nb) {
                    g.failed = 1;
                    break;
                }
                g.buf = nb;
                g.cap = g.len + n;
            }
            g.len += wire_tls_out_take(k->tls, g.buf + g.len, n);
        }
    }
    if (g.failed) {
        free(g.buf);
        aconn_close(k);
        return;
    }
    if (g.len == 0) {
        free(g.buf);
        return;
    }
    if (!(w = malloc(sizeof *w + g.len))) {
        free(g.buf);
        aconn_close(k);
        return;
    }
    memcpy(w->data, g.buf, g.len);
    free(g.buf);
    w->k = k;
    w->len = g.len;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)g.len);
    if ((rc = uv_write(&w->req, &k->u.s, &b, 1, on_written)) < 0) {
        free(w);
        aconn_close(k);
        return;
    }
    k->queued += g.len;
}

static void on_prepare(uv_prepare_t *p)
{
    dapi *a = p->data;
    aconn *k = a->conns, *next;
    for (; k; k = next) {
        next = k->next;
        if (k->state == AC_CLOSING)
            continue;
        if (h2rpc_conn_want_write(k->h2))
            flush(k);
        if (k->state == AC_OPEN && h2rpc_conn_done(k->h2))
            aconn_drain_close(k);
    }
}

static void on_tick(uv_timer_t *t)
{
    dapi *a = t->data;
    uint64_t now = uv_now(&a->d->loop);
    for (aconn *k = a->conns; k; k = k->next)
        if (k->state != AC_CLOSING)
            h2rpc_conn_tick(k->h2, now);
}

static uint64_t loop_ms(void *arg)
{
    dapi *a = arg;
    return uv_now(&a->d->loop);
}

/* ---- reading ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    buf->base = malloc(READ_SLICE);
    buf->len = buf->base ? READ_SLICE : 0;
}

static int feed(aconn *k, const uint8_t *p, size_t n)
{
    char err[256] = "";
    if (h2rpc_conn_feed(k->h2, p, n, err, sizeof err) < 0) {
        log_info("api: client %llu: %s", (unsigned long long)k->id, err);
        k->api->st.bad_conns++;
        return -1;
    }
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    aconn *k = s->data;
    char err[256] = "";
    int bad = 0;
    if (nread < 0) {
        free(buf->base);
        if (nread != UV_EOF)
            log_debug("api: client %llu: read: %s",
                      (unsigned long long)k->id, uv_strerror((int)nread));
        aconn_drain_close(k);
        return;
    }
    if (nread == 0 || k->state != AC_OPEN) {
        free(buf->base);
        return;
    }
    if (!k->tls) {
        bad = feed(k, (const uint8_t *)buf->base, (size_t)nread);
    } else if (wire_tls_feed(k->tls, buf->base, (size_t)nread, err,
                             sizeof err) < 0) {
        log_info("api: client %llu: TLS: %s", (unsigned long long)k->id, err);
        k->api->st.bad_conns++;
        bad = 1;
    } else {
        for (;;) {
            ssize_t r = wire_tls_read(k->tls, buf->base, READ_SLICE, err,
                                      sizeof err);
            if (r == 0)
                break;
            if (r == WIRE_TLS_EOF) {
                bad = 1;         /* orderly: the client is done */
                break;
            }
            if (r < 0) {
                log_info("api: client %llu: TLS: %s",
                         (unsigned long long)k->id, err);
                k->api->st.bad_conns++;
                bad = 1;
                break;
            }
            if ((bad = feed(k, (const uint8_t *)buf->base, (size_t)r)))
                break;
        }
    }
    free(buf->base);
    if (k->state == AC_CLOSING)
        return;
    if (bad)
        aconn_drain_close(k);
    else
        flush(k);
}

/* ---- accepting ----------------------------------------------------------- */

static void accept_one(dapi *a, uv_stream_t *srv, int tcp)
{
    aconn *k;
    char err[256];
    int rc;
    if (!(k = calloc(1, sizeof *k))) {
        log_warn("api: out of memory accepting a client");
        return;
    }
    k->api = a;
    rc = tcp ? uv_tcp_init(&a->d->loop, &k->u.tcp)
             : uv_pipe_init(&a->d->loop, &k->u.pipe, 0);
    if (rc < 0) {
        free(k);
        log_warn("api: %s", uv_strerror(rc));
        return;
    }
    k->u.h.data = k;
    a->handles++;
    k->id = ++a->next_id;
    k->next = a->conns;
    if (a->conns)
        a->conns->prev = k;
    a->conns = k;
    a->st.conns_open++;
    a->st.conns_total++;
    if ((rc = uv_accept(srv, &k->u.s)) < 0) {
        log_warn("api: accept: %s", uv_strerror(rc));
        aconn_close(k);
        return;
    }
    if (a->st.conns_open > API_MAX_CONNS) {
        log_warn("api: more than %d clients; refusing one", API_MAX_CONNS);
        aconn_close(k);
        return;
    }
    if (tcp) {
        uv_tcp_nodelay(&k->u.tcp, 1);
        if (wire_tls_new(&k->tls, a->tls_ctx, 1, NULL, NULL, err,
                         sizeof err) < 0) {
            log_warn("api: TLS: %s", err);
            aconn_close(k);
            return;
        }
    }
    if ((rc = h2rpc_conn_new(tcp ? &a->cfg_tcp : &a->cfg_unix, k->id,
                             &k->h2)) < 0) {
        log_warn("api: cannot start HTTP/2: %s", strerror(-rc));
        aconn_close(k);
        return;
    }
    h2rpc_conn_set_clock(k->h2, loop_ms, a);
    if ((rc = uv_read_start(&k->u.s, on_alloc, on_read)) < 0) {
        log_warn("api: read: %s", uv_strerror(rc));
        aconn_close(k);
        return;
    }
    log_debug("api: client %llu on the %s socket", (unsigned long long)k->id,
              tcp ? "TCP" : "unix");
    flush(k);
}

static void on_unix_conn(uv_stream_t *srv, int status)
{
    if (status == 0)
        accept_one(srv->data, srv, 0);
}

static void on_tcp_conn(uv_stream_t *srv, int status)
{
    if (status == 0)
        accept_one(srv->data, srv, 1);
}

static void on_handle_closed(uv_handle_t *h)
{
    dapi *a = h->data;
    a->handles--;
    maybe_done(a);
}

static int build_methods(dapi *a, char *err, size_t errlen)
{
    int ns, nv;
    const h2rpc_method *ms = sched_methods(&ns), *mv = svc_methods(&nv);
    if (!(a->methods = calloc((size_t)(ns + nv), sizeof *a->methods)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    memcpy(a->methods, ms, sizeof *ms * (size_t)ns);
    memcpy(a->methods + ns, mv, sizeof *mv * (size_t)nv);
    a->n_methods = ns + nv;
    for (int i = 0; i < 2; i++) {
        h2rpc_cfg *c = i ? &a->cfg_tcp : &a->cfg_unix;
        c->methods = a->methods;
        c->n_methods = a->n_methods;
        c->max_recv = (size_t)a->d->conf->api_max_message;
        c->max_send = (size_t)a->d->conf->api_max_message;
        c->auth = i ? check_auth : NULL;
        c->app = a->d;
    }
    /* check_auth finds the dapi through cfg.app, the daemon, whose api
     * field points here from dapi_start on. */
    return 0;
}

/* The socket systemd bound and passed (sdlisten.h): listen on it as it
 * is. Not ours to unlink at stop (unix_bound stays 0). */
static int open_passed(dapi *a, char *err, size_t errlen)
{
    sdlisten *l = &a->d->sdl;
    int fd = l->api_fd, rc;
    if ((rc = uv_pipe_init(&a->d->loop, &a->unix_srv, 0)) < 0)
        return lg_errf(err, errlen, rc, "API socket from systemd (fd %d): "
                       "%s", fd, uv_strerror(rc));
    a->unix_srv.data = a;
    a->unix_open = 1;
    a->handles++;
    if ((rc = uv_pipe_open(&a->unix_srv, fd)) < 0)
        return lg_errf(err, errlen, rc, "API socket from systemd (fd %d): "
                       "%s", fd, uv_strerror(rc));
    l->api_fd = -1;              /* the handle owns it now */
    if ((rc = uv_listen((uv_stream_t *)&a->unix_srv, 64, on_unix_conn)) < 0)
        return lg_errf(err, errlen, rc, "API socket from systemd (fd %d): "
                       "listen: %s", fd, uv_strerror(rc));
    snprintf(a->unix_path, sizeof a->unix_path, "%s",
             l->api_path[0] ? l->api_path : "(unnamed)");
    log_info("API socket from systemd (fd %d, path %s%s%s)", fd,
             a->unix_path, l->api_name[0] ? ", name " : "", l->api_name);
    if (l->api_path[0] && strcmp(l->api_path, a->d->conf->api_socket.path))
        log_info("api: ApiSocket %s not bound: systemd's socket serves "
                 "instead", a->d->conf->api_socket.path);
    return 0;
}

static int open_unix(dapi *a, char *err, size_t errlen)
{
    const char *path = a->d->conf->api_socket.path;
    mode_t old;
    int rc;
    if (a->d->sdl.api_fd >= 0)
        return open_passed(a, err, errlen);
    snprintf(a->unix_path, sizeof a->unix_path, "%s", path);
    if ((rc = lg_mkdir_parents(path, err, errlen)) < 0 ||
        (rc = control_clear_stale(path, err, errlen)) < 0)
        return rc;
    if ((rc = uv_pipe_init(&a->d->loop, &a->unix_srv, 0)) < 0)
        return lg_errf(err, errlen, rc, "ApiSocket %s: %s", path,
                       uv_strerror(rc));
    a->unix_srv.data = a;
    a->unix_open = 1;
    a->handles++;
    old = umask(0117);           /* 0660: owner and group */
    rc = uv_pipe_bind(&a->unix_srv, path);
    umask(old);
    if (rc == 0) {
        a->unix_bound = 1;
        rc = uv_listen((uv_stream_t *)&a->unix_srv, 64, on_unix_conn);
    }
    if (rc < 0)
        return lg_errf(err, errlen, rc, "ApiSocket %s: %s", path,
                       uv_strerror(rc));
    return 0;
}

static int open_tcp(dapi *a, char *err, size_t errlen)
{
    const dconf *c = a->d->conf;
    char host[DCONF_HOST_MAX];
    struct sockaddr_storage ss;
    int port, rc;
    if (!c->api_listen[0])
        return 0;
    if (dconf_split_addr(c->api_listen, host, sizeof host, &port) < 0)
        return lg_errf(err, errlen, -EINVAL, "ApiListen %s: bad address",
                       c->api_listen);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return lg_errf(err, errlen, -EINVAL,
                       "ApiListen %s: not a numeric address", c->api_listen);
    if ((rc = wire_tls_ctx_new_api(&a->tls_ctx, c->tls_cert.path,
                                   c->tls_key.path, err, errlen)) < 0)
        return rc;
    if ((rc = load_tokens(c->api_token_file.path, a->tokens, &a->n_tokens,
                          err, errlen)) < 0)
        return rc;
    if ((rc = uv_tcp_init(&a->d->loop, &a->tcp_srv)) < 0)
        return lg_errf(err, errlen, rc, "ApiListen: %s", uv_strerror(rc));
    a->tcp_srv.data = a;
    a->tcp_open = 1;
    a->handles++;
    if ((rc = uv_tcp_bind(&a->tcp_srv, (struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&a->tcp_srv, 64, on_tcp_conn)) < 0)
        return lg_errf(err, errlen, rc, "ApiListen %s: %s", c->api_listen,
                       uv_strerror(rc));
    return 0;
}

int dapi_start(lagranged *d, dapi **out, char *err, size_t errlen)
{
    dapi *a;
    int rc;
    *out = NULL;
    if (!(a = calloc(1, sizeof *a)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    a->d = d;
    d->api = a;
    if ((rc = build_methods(a, err, errlen)) < 0) {
        free(a);
        return rc;
    }
    uv_prepare_init(&d->loop, &a->flusher);
    a->flusher.data = a;
    uv_prepare_start(&a->flusher, on_prepare);
    uv_timer_init(&d->loop, &a->ticker);
    a->ticker.data = a;
    uv_timer_start(&a->ticker, on_tick, API_TICK_MS, API_TICK_MS);
    uv_unref((uv_handle_t *)&a->ticker);
    a->handles += 2;
    *out = a;                    /* dapi_stop frees it even on failure */
    if ((rc = open_unix(a, err, errlen)) < 0 ||
        (rc = open_tcp(a, err, errlen)) < 0)
        return rc;
    log_info("api: gRPC on unix:%s%s%s", a->unix_path,
             a->tcp_open ? " and TLS " : "",
             a->tcp_open ? d->conf->api_listen : "");
    return 0;
}

void dapi_stop(dapi *a, void (*done)(void *arg), void *arg)
{
    if (!a || a->stopping)
        return;
    a->stopping = 1;
    a->done = done;
    a->done_arg = arg;
    while (a->conns)
        aconn_close(a->conns);
    if (a->unix_bound && unlink(a->unix_path) < 0 && errno != ENOENT)
        log_warn("api: cannot remove %s: %s", a->unix_path, strerror(errno));
    if (a->unix_open)
        uv_close((uv_handle_t *)&a->unix_srv, on_handle_closed);
    if (a->tcp_open)
        uv_close((uv_handle_t *)&a->tcp_srv, on_handle_closed);
    uv_close((uv_handle_t *)&a->flusher, on_handle_closed);
    uv_close((uv_handle_t *)&a->ticker, on_handle_closed);
}

void dapi_get_stats(const dapi *a, dapi_stats *out)
{
    *out = a->st;
}
