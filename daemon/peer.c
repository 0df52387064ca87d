/*
 * peer.c - sessions with neighbours and the emulated links under them
 * (see net_int.h for the objects and the session state machine).
 *
 * Transport: TCP, then TLS 1.3 through lib/wire/tlsio.c's memory BIOs
 * (ciphertext goes between the BIOs and libuv; OpenSSL never touches a
 * socket), then length-prefixed frames (lib/wire/frame.c). Both sides
 * send a Hello once the transport is ready; a session is UP when the
 * peer's Hello names the node its certificate names (the certificate
 * itself was checked against the CA and the neighbour list during the
 * handshake, before it completed).
 *
 * Emulation (Emulate=yes): every frame leaving on a link goes through a
 * pipe of frames sorted by release time. A bundle occupies the
 * transmitter for len / rate seconds after the previous one (the link's
 * clock next_free) and is released to the socket one delay later; other
 * frames (acks, heartbeats, hellos) only wait for the delay. Bundles are
 * sent only inside the link's contact windows (topology time), and one
 * whose transmission would end after the window closes waits for the next
 * window. The pipe is fed no more than NET_LOOKAHEAD seconds of
 * transmission ahead, so memory stays bounded by rate x (delay +
 * lookahead) plus one frame.
 *
 * Copies per payload byte (Tls=no): sender spool file -> user buffer
 * (pread), -> kernel (write); receiver kernel -> read buffer, -> frame
 * buffer (when a frame spans reads), -> spool buffer (with the new hop
 * count), -> kernel (write). TLS adds the encryption and decryption passes
 * and one copy of the ciphertext out of OpenSSL's BIO on each side.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "log.h"
#include "net_int.h"
#include "report.h"

typedef struct wreq {
    uv_write_t req;
    uint8_t *buf;
} wreq;

static void sess_maybe_free(dsess *s);
static void peer_maybe_free(dpeer *p);
static void peer_schedule(dpeer *p);
static void peer_pump(dpeer *p);
static void pipe_flush(dsess *s);

/* ---- time --------------------------------------------------------------- */

double net_hr(void)
{
    return (double)uv_hrtime() * 1e-9;
}

uint64_t net_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *sess_state_name(sess_state s)
{
    switch (s) {
    case SESS_CONNECTING: return "connecting";
    case SESS_HANDSHAKE: return "handshake";
    case SESS_HELLO: return "hello";
    case SESS_UP: return "up";
    case SESS_CLOSING: return "closing";
    }
    return "?";
}

/* ---- peers ---------------------------------------------------------------- */

dpeer *net_peer_by_name(dnet *n, const char *name)
{
    for (int i = 0; i < n->n_peers; i++)
        if (!strcmp(n->peers[i]->name, name))
            return n->peers[i];
    return NULL;
}

dpeer *net_peer_by_node(dnet *n, int node)
{
    for (int i = 0; i < n->n_peers; i++)
        if (n->peers[i]->node == node)
            return n->peers[i];
    return NULL;
}

/* A fingerprint of link l's windows (0 for no link), so that a reload
 * can say which links changed once the old topology is gone. */
static uint64_t link_fingerprint(const plan_topology *t, int l)
{
    uint64_t h = 1469598103934665603ull;
    const plan_link *k;
    if (l < 0)
        return 0;
    k = &t->links[l];
#define MIX(v)                                                          \
    do {                                                                \
        uint64_t x_;                                                    \
        double d_ = (v);                                                \
        memcpy(&x_, &d_, sizeof x_);                                    \
        for (int b_ = 0; b_ < 8; b_++)                                  \
            h = (h ^ ((x_ >> (8 * b_)) & 0xff)) * 1099511628211ull;     \
    } while (0)
    MIX((double)k->always);
    MIX((double)k->n_win);
    for (int i = 0; i < k->n_win; i++) {
        MIX(k->win[i].start);
        MIX(k->win[i].end);
        MIX(k->win[i].rate);
        MIX(k->win[i].delay);
    }
#undef MIX
    return h | 1;
}

/* Node and link indices for p in the topology in force (they change when
 * a reload or a TLE change swaps the topology). */
static void peer_resolve(dnet *n, dpeer *p)
{
    const dconf *c = n->d->conf;
    const plan_topology *t = c->topo;
    p->node = plan_topology_find(t, p->name);
    p->out_link = -1;
    if (p->node < 0)
        return;
    p->out_link = plan_topology_link(t, c->node, p->node);
}

/* The Address the configuration in force gives p ("" if none). */
static const char *conf_addr(const dconf *c, const char *name)
{
    for (int i = 0; i < c->n_peers; i++)
        if (!strcmp(c->peers[i].name, name))
            return c->peers[i].addr;
    return "";
}

/* Fingerprints of p's links both ways in the topology in force. */
static void peer_fingerprints(dnet *n, const dpeer *p, uint64_t *out,
                              uint64_t *in)
{
    const dconf *c = n->d->conf;
    *out = *in = 0;
    if (p->node < 0)
        return;
    *out = link_fingerprint(c->topo, plan_topology_link(c->topo, c->node,
                                                        p->node));
    *in = link_fingerprint(c->topo, plan_topology_link(c->topo, p->node,
                                                       c->node));
}

int peer_window(const dpeer *p, double *rate, double *delay, double *opens,
                double *closes)
{
    const dnet *n = p->net;
    const plan_topology *t = n->d->conf->topo;
    const plan_link *k;
    const plan_window *w;
    double now;
    *rate = INFINITY;
    *delay = 0;
    *opens = INFINITY;
    *closes = INFINITY;
    if (!n->d->conf->emulate) {
        *opens = -INFINITY;
        return 1;
    }
    if (p->out_link < 0)
        return 0;                /* no link this way: never sends */
    k = &t->links[p->out_link];
    now = report_topo_now(n->d);
    w = k->always ? (k->n_win ? k->win : NULL) : report_window_at(k, now);
    if (!w)
        return 0;
    *rate = w->rate;
    *delay = w->delay;
    *opens = k->always ? -INFINITY : w->start;
    *closes = k->always ? INFINITY : w->end;
    return k->always || w->start <= now;
}

/* The delay a control frame takes on p's link now: the window's, or the
 * next window's when closed. */
static double peer_delay(const dpeer *p)
{
    double rate, delay, opens, closes;
    peer_window(p, &rate, &delay, &opens, &closes);
    return isfinite(delay) ? delay : 0;
}

/* A dpeer for topology node `node`, appended to n->peers (no timer yet:
 * peer_open). NULL when out of memory. */
static dpeer *peer_new(dnet *n, int node)
{
    const dconf *c = n->d->conf;
    dpeer *p;
    if (n->n_peers == n->cap_peers) {
        int cap = n->cap_peers ? 2 * n->cap_peers : 8;
        dpeer **np = realloc(n->peers, (size_t)cap * sizeof *np);
        if (!np)
            return NULL;
        n->peers = np;
        n->cap_peers = cap;
    }
    if (!(p = calloc(1, sizeof *p)))
        return NULL;
    p->net = n;
    p->idx = n->n_peers;
    snprintf(p->name, sizeof p->name, "%s", c->topo->nodes[node].name);
    snprintf(p->addr, sizeof p->addr, "%s", conf_addr(c, p->name));
    p->backoff = c->reconnect_min;
    peer_resolve(n, p);
    peer_fingerprints(n, p, &p->win_out, &p->win_in);
    n->peers[n->n_peers++] = p;
    return p;
}

/* node is a neighbour of this node in the topology in force. */
static int is_neighbour(const dconf *c, int node)
{
    return node >= 0 && node != c->node &&
           (plan_topology_link(c->topo, c->node, node) >= 0 ||
            plan_topology_link(c->topo, node, c->node) >= 0);
}

int net_peers_init(dnet *n, char *err, size_t errlen)
{
    const dconf *c = n->d->conf;
    const plan_topology *t = c->topo;
    for (int l = 0; l < t->n_links; l++) {
        const plan_link *k = &t->links[l];
        int other = k->from == c->node ? k->to
                    : k->to == c->node ? k->from : -1;
        if (other < 0 || net_peer_by_node(n, other))
            continue;
        if (!peer_new(n, other))
            return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    dsess *s = req->handle->data;
    free(w->buf);
    free(w);
    if (status < 0 && status != UV_ECANCELED && s->state != SESS_CLOSING) {
        char why[128];
        snprintf(why, sizeof why, "write failed: %s", uv_strerror(status));
        sess_close(s, why, 0);
        return;
    }
    if (s->state == SESS_UP && s->peer)
        peer_pump(s->peer);
}

/* Queue buf (taken) on the socket as it is. */
static int tcp_write(dsess *s, uint8_t *buf, size_t len)
{
    wreq *w;
    uv_buf_t b;
    int rc;
    if (!(w = malloc(sizeof *w))) {
        free(buf);
        return -ENOMEM;
    }
    w->buf = buf;
    if (s->peer)
        s->peer->tx_bytes += len;
    b = uv_buf_init((char *)buf, (unsigned)len);
    if ((rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1,
                       on_write)) < 0) {
        free(buf);
        free(w);
    }
    return rc;
}

/* Move the ciphertext OpenSSL produced to the socket. */
static int tls_flush(dsess *s)
{
    size_t n = wire_tls_out_pending(s->tls);
    uint8_t *buf;
    if (!n)
        return 0;
    if (!(buf = malloc(n)))
        return -ENOMEM;
    n = wire_tls_out_take(s->tls, buf, n);
    return tcp_write(s, buf, n);
}

/* Plaintext frame bytes to the transport now (takes buf). */
static void sess_write(dsess *s, uint8_t *buf, size_t len)
{
    char err[256] = "";
    int rc;
    if (s->state == SESS_CLOSING) {
        free(buf);
        return;
    }
    if (!s->tls) {
        rc = tcp_write(s, buf, len);
    } else {
        ssize_t w = wire_tls_write(s->tls, buf, len, err, sizeof err);
        free(buf);
        rc = w < 0 ? (int)w : (size_t)w != len ? -EIO : tls_flush(s);
    }
    if (rc < 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot send: %s",
                 err[0] ? err : lg_strerror(rc));
        sess_close(s, why, 0);
    }
}

static void on_pipe_timer(uv_timer_t *t)
{
    pipe_flush(t->data);
}

/* Release the frames whose time has come; arm the timer for the next. */
static void pipe_flush(dsess *s)
{
    double now = net_hr();
    while (s->pipe_head && s->state != SESS_CLOSING &&
           s->pipe_head->release <= now + 0.0005) {
        pframe *f = s->pipe_head;
        s->pipe_head = f->next;
        if (!s->pipe_head)
            s->pipe_tail = NULL;
        s->pipe_bytes -= f->len;
        sess_write(s, f->buf, f->len);
        free(f);
    }
    if (s->pipe_head && s->state != SESS_CLOSING) {
        double dt = s->pipe_head->release - now;
        uv_timer_start(&s->pipe_timer, on_pipe_timer,
                       (uint64_t)ceil(dt * 1e3), 0);
    }
}

void sess_send(dsess *s, uint8_t *buf, size_t len, int is_bundle)
{
    dnet *n = s->net;
    double now = net_hr(), release = now;
    pframe *f, **pp;
    if (s->state == SESS_CLOSING) {
        free(buf);
        return;
    }
    if (n->d->conf->emulate && s->peer && s->state == SESS_UP) {
        double rate, delay, opens, closes;
        dpeer *p = s->peer;
        peer_window(p, &rate, &delay, &opens, &closes);
        if (!isfinite(delay))
            delay = 0;
        if (is_bundle && isfinite(rate) && rate > 0) {
            double start = p->next_free > now ? p->next_free : now;
            p->next_free = start + (double)len / rate;
            release = p->next_free + delay;
        } else {
            release = now + delay;
        }
    }
    if (release <= now && !s->pipe_head) {
        sess_write(s, buf, len);
        return;
    }
    if (!(f = malloc(sizeof *f))) {
        free(buf);
        sess_close(s, "out of memory", 0);
        return;
    }
    f->buf = buf;
    f->len = len;
    f->release = release;
    f->next = NULL;
    /* Sorted by release; equal times keep their order. Control frames
     * may pass bundles still "in flight". */
    for (pp = &s->pipe_head; *pp && (*pp)->release <= release;
         pp = &(*pp)->next)
        ;
    f->next = *pp;
    *pp = f;
    if (!f->next)
        s->pipe_tail = f;
    s->pipe_bytes += len;
    if (s->pipe_head == f)
        pipe_flush(s);
}

/* Encode and send a session message (not a bundle). */
static int sess_send_msg(dsess *s, const wire_msg *m, int direct)
{
    uint8_t *buf;
    size_t len;
    char err[256];
    uint32_t max = s->peer_max_frame ? s->peer_max_frame : WIRE_FRAME_LIMIT;
    int rc = wire_msg_encode_alloc(m, max, &buf, &len, err, sizeof err);
    if (rc < 0) {
        log_err("peer %s: cannot encode a %s: %s", s->peer_name,
                wire_msg_type_name(m->type), err);
        return rc;
    }
    if (direct)
        sess_write(s, buf, len);
    else
        sess_send(s, buf, len, 0);
    return 0;
}

static void send_hello(dsess *s)
{
    wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_HELLO;
    wire_hello_init(&m.u.hello, s->net->d->conf->node_id,
                    (uint32_t)s->net->d->conf->max_frame);
    s->state = SESS_HELLO;
    sess_send_msg(s, &m, 1);
}

/* ---- closing ------------------------------------------------------------ */

static void on_sess_handle_closed(uv_handle_t *h)
{
    dsess *s = h->data;
    s->handles--;
    sess_maybe_free(s);
}

static void sess_maybe_free(dsess *s)
{
    dnet *n = s->net;
    if (s->state != SESS_CLOSING || s->handles > 0 || s->refs > 0)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        n->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->tls)
        wire_tls_free(s->tls);
    wire_frame_reader_free(&s->rd);
    while (s->pipe_head) {
        pframe *f = s->pipe_head;
        s->pipe_head = f->next;
        free(f->buf);
        free(f);
    }
    free(s->rbuf);
    free(s->infl);
    free(s->acks);
    free(s);
    n->sess_count--;
    net_check_done(n);           /* maybe the last thing a stop waited for */
}

void sess_unref(dsess *s)
{
    s->refs--;
    sess_maybe_free(s);
}

static void release_done(dstore_req *r)
{
    if (r->rc < 0 && r->rc != -ENOENT) {
        char hex[33];
        wire_bundle_id_hex(r->id, hex);
        log_warn("spool: cannot release bundle %s: %s", hex, r->err);
    }
}

static void release_bundle(dnet *n, const uint8_t id[WIRE_ID_LEN])
{
    dstore_req *r = dstore_req_new(DSTORE_RELEASE, release_done, NULL);
    if (!r) {
        char hex[33];
        wire_bundle_id_hex(id, hex);
        log_err("out of memory releasing bundle %s; it is resent after a "
                "restart", hex);
        return;
    }
    memcpy(r->id, id, WIRE_ID_LEN);
    dstore_submit(n->store, r);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    dsess *s = req->data;
    free(req);
    uv_close((uv_handle_t *)&s->tcp, on_sess_handle_closed);
}

void sess_close(dsess *s, const char *why, int goodbye)
{
    dnet *n = s->net;
    dpeer *p = s->peer;
    int was_up = s->state == SESS_UP;
    uv_shutdown_t *sh = NULL;
    if (s->state == SESS_CLOSING)
        return;
    if (was_up)
        log_info("link %s down: %s", s->peer_name, why);
    else if (!strncmp(why, "duplicate session", 17))
        log_info("session with %s (%s): %s", s->peer_name, s->addr, why);
    else
        log_warn("session with %s (%s) closed while %s: %s",
                 s->peer_name[0] ? s->peer_name : "unknown peer", s->addr,
                 sess_state_name(s->state), why);
    if (p)
        snprintf(p->last_err, sizeof p->last_err, "%s", why);
    if (goodbye && s->state >= SESS_HELLO) {
        wire_msg m;
        memset(&m, 0, sizeof m);
        m.type = WIRE_MSG_GOODBYE;
        snprintf(m.u.goodbye.reason, sizeof m.u.goodbye.reason, "%.200s",
                 why);
        sess_send_msg(s, &m, 1);
    }
    if (s->tls && goodbye && wire_tls_handshake_done(s->tls) &&
        wire_tls_shutdown(s->tls) == 0)
        tls_flush(s);
    if (s->state != SESS_UP)
        n->n_pending--;
    s->state = SESS_CLOSING;
    /* Custody stays here: what was sent and not acked is sent again. */
    for (int i = 0; i < NET_INFLIGHT_MAX && s->n_infl; i++)
        if (s->infl[i].used) {
            release_bundle(n, s->infl[i].id);
            s->infl[i].used = 0;
            s->n_infl--;
        }
    s->infl_bytes = 0;
    if (p) {
        if (p->sess == s) {
            p->sess = NULL;
            p->up_since = 0;
        }
        if (p->dialing == s)
            p->dialing = NULL;
    }
    if (s->reading)
        uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = 0;
    uv_timer_stop(&s->hb_timer);
    uv_timer_stop(&s->pipe_timer);
    uv_close((uv_handle_t *)&s->hb_timer, on_sess_handle_closed);
    uv_close((uv_handle_t *)&s->pipe_timer, on_sess_handle_closed);
    /* Let queued writes (the Goodbye) go out before closing. */
    if (goodbye && (sh = malloc(sizeof *sh))) {
        sh->data = s;
        if (uv_shutdown(sh, (uv_stream_t *)&s->tcp, on_shutdown) < 0) {
            free(sh);
            sh = NULL;
        }
    } else {
        sh = NULL;
    }
    if (!sh)
        uv_close((uv_handle_t *)&s->tcp, on_sess_handle_closed);
    if (p && !n->stopping)
        peer_schedule(p);
}

/* ---- sessions ------------------------------------------------------------ */

static int check_expected(void *arg, const char *name)
{
    dsess *s = arg;
    return s->peer && !strcmp(name, s->peer->name);
}

static int check_neighbour(void *arg, const char *name)
{
    dsess *s = arg;
    dpeer *p = net_peer_by_name(s->net, name);
    if (!p)
        log_warn("session from %s (%s) refused: '%s' is not a neighbour of "
                 "%s in the topology", name, s->addr, name,
                 s->net->d->conf->node_id);
    return p && !p->admin_down;
}

static void on_hb_timer(uv_timer_t *t);
static int on_frame(void *ud, const uint8_t *body, size_t len, char *err,
                    size_t errlen);

static dsess *sess_new(dnet *n, int inbound, dpeer *p, char *err,
                       size_t errlen)
{
    const dconf *c = n->d->conf;
    dsess *s = calloc(1, sizeof *s);
    int rc;
    if (!s || !(s->rbuf = malloc(NET_READ_SLICE)) ||
        !(s->infl = calloc(NET_INFLIGHT_MAX, sizeof *s->infl)) ||
        !(s->acks = malloc(WIRE_ACK_MAX * sizeof *s->acks))) {
        if (s) {
            free(s->rbuf);
            free(s->infl);
        }
        free(s);
        lg_errf(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    s->net = n;
    s->inbound = inbound;
    s->peer = p;
    s->state = inbound ? SESS_HANDSHAKE : SESS_CONNECTING;
    s->opened = s->last_rx = net_hr();
    if (p)
        snprintf(s->peer_name, sizeof s->peer_name, "%s", p->name);
    uv_tcp_init(&n->d->loop, &s->tcp);
    uv_timer_init(&n->d->loop, &s->hb_timer);
    uv_timer_init(&n->d->loop, &s->pipe_timer);
    s->tcp.data = s->hb_timer.data = s->pipe_timer.data = s;
    s->handles = 3;
    s->next = n->sessions;
    if (n->sessions)
        n->sessions->prev = s;
    n->sessions = s;
    n->sess_count++;
    n->n_pending++;
    if ((rc = wire_frame_reader_init(&s->rd, (uint32_t)c->max_frame,
                                     on_frame, s, err, errlen)) < 0) {
        sess_close(s, err, 0);
        return NULL;
    }
    if (n->tls &&
        wire_tls_new(&s->tls, n->tls, inbound,
                     inbound ? check_neighbour : check_expected, s, err,
                     errlen) < 0) {
        sess_close(s, err, 0);
        return NULL;
    }
    if (s->tls && p)
        wire_tls_set_expected(s->tls, p->name);
    /* Until UP the heartbeat timer is the handshake's deadline. */
    uv_timer_start(&s->hb_timer, on_hb_timer,
                   (uint64_t)(NET_HANDSHAKE_TIMEOUT * 1e3), 0);
    return s;
}

/* Which node dialed s. */
static const char *dialer(const dsess *s)
{
    return s->inbound ? s->peer_name : s->net->d->conf->node_id;
}

static void sess_up(dsess *s, dpeer *p)
{
    dnet *n = s->net;
    const dconf *c = n->d->conf;
    dsess *e = p->sess;
    if (e && e != s) {
        /* Two sessions with one neighbour: both sides keep the one that
         * the smaller node name dialed (a redial by the same node
         * replaces a stale one). */
        int keep_new = !strcmp(dialer(s), dialer(e)) ||
                       strcmp(dialer(s), dialer(e)) < 0;
        if (!keep_new) {
            sess_close(s, "duplicate session (keeping the older one)", 1);
            return;
        }
        sess_close(e, "replaced by a newer session", 1);
    }
    if (p->dialing == s)
        p->dialing = NULL;
    s->peer = p;
    s->state = SESS_UP;
    n->n_pending--;
    p->sess = s;
    p->sessions++;
    p->up_since = net_hr();
    p->backoff = c->reconnect_min;
    p->last_err[0] = '\0';
    p->next_free = 0;
    log_info("link %s up: %s %s, %s", p->name,
             s->inbound ? "from" : "to", s->addr,
             s->tls ? wire_tls_cipher(s->tls) : "no TLS");
    uv_timer_start(&s->hb_timer, on_hb_timer,
                   (uint64_t)(c->heartbeat * 1e3),
                   (uint64_t)(c->heartbeat * 1e3));
    s->idle = 0;
    peer_pump(p);
}

static void on_hello(dsess *s, const wire_hello *h)
{
    dnet *n = s->net;
    char err[256];
    dpeer *p;
    if (wire_hello_check_version(h, err, sizeof err) < 0) {
        sess_close(s, err, 1);
        return;
    }
    if (s->tls && strcmp(h->node_id, wire_tls_peer_name(s->tls))) {
        snprintf(err, sizeof err, "Hello says node '%s' but the "
                 "certificate names '%s'", h->node_id,
                 wire_tls_peer_name(s->tls));
        sess_close(s, err, 1);
        return;
    }
    if (s->peer && strcmp(h->node_id, s->peer->name)) {
        snprintf(err, sizeof err, "expected node '%s', the peer says it is "
                 "'%s'", s->peer->name, h->node_id);
        sess_close(s, err, 1);
        return;
    }
    snprintf(s->peer_name, sizeof s->peer_name, "%s", h->node_id);
    if (!(p = net_peer_by_name(n, h->node_id))) {
        snprintf(err, sizeof err, "'%s' is not a neighbour of %s in the "
                 "topology", h->node_id, n->d->conf->node_id);
        sess_close(s, err, 1);
        return;
    }
    if (p->admin_down) {
        sess_close(s, "link is down by operator", 1);
        return;
    }
    if (h->max_frame < WIRE_HELLO_MIN_FRAME) {
        sess_close(s, "peer's max_frame is too small", 1);
        return;
    }
    s->peer_max_frame = h->max_frame;
    sess_up(s, p);
}

static void on_ack(dsess *s, const wire_ack *a);

/* One frame body from the reader. */
static int on_frame(void *ud, const uint8_t *body, size_t len, char *err,
                    size_t errlen)
{
    dsess *s = ud;
    wire_msg m;
    char why[300];
    int rc = wire_msg_decode(body, len, &m, err, errlen);
    if (rc < 0) {
        snprintf(why, sizeof why, "bad frame: %s", err);
        if (s->peer)
            s->peer->refused++;
        sess_close(s, why, 1);
        return -ECONNABORTED;
    }
    if (m.type == WIRE_MSG_HELLO) {
        if (s->state != SESS_HELLO) {
            sess_close(s, "Hello out of place", 1);
            return -ECONNABORTED;
        }
        on_hello(s, &m.u.hello);
    } else if (m.type == WIRE_MSG_GOODBYE) {
        snprintf(why, sizeof why, "peer said goodbye: %s",
                 m.u.goodbye.reason);
        sess_close(s, why, 0);
    } else if (s->state != SESS_UP) {
        snprintf(why, sizeof why, "%s before the Hello",
                 wire_msg_type_name(m.type));
        sess_close(s, why, 1);
    } else if (m.type == WIRE_MSG_BUNDLE) {
        s->peer->rx_bundles++;
        relay_on_bundle(s, &m.u.bundle, body, len);
    } else if (m.type == WIRE_MSG_ACK) {
        on_ack(s, &m.u.ack);
    } else if (m.type == WIRE_MSG_HEARTBEAT) {
        dhealth_received(s->net, s, &m.u.heartbeat);
    }
    /* A heartbeat proves liveness (last_rx) and carries node health. */
    return s->state == SESS_CLOSING ? -ECONNABORTED : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    dsess *s = h->data;
    *buf = uv_buf_init((char *)s->rbuf, NET_READ_SLICE);
}

static void feed_plain(dsess *s, const uint8_t *data, size_t len)
{
    char err[256] = "";
    int rc = wire_frame_reader_feed(&s->rd, data, len, err, sizeof err);
    if (rc < 0 && s->state != SESS_CLOSING) {
        char why[300];
        snprintf(why, sizeof why, "bad frame: %s", err);
        if (s->peer)
            s->peer->refused++;
        sess_close(s, why, 1);
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    dsess *s = st->data;
    char err[256] = "";
    if (s->state == SESS_CLOSING)
        return;
    if (nread < 0) {
        if (nread == UV_EOF) {
            if (wire_frame_reader_finish(&s->rd, err, sizeof err) < 0)
                sess_close(s, err, 0);
            else
                sess_close(s, "peer closed the connection", 0);
        } else {
            snprintf(err, sizeof err, "read failed: %s",
                     uv_strerror((int)nread));
            sess_close(s, err, 0);
        }
        return;
    }
    if (nread == 0)
        return;
    s->last_rx = net_hr();
    if (s->peer)
        s->peer->rx_bytes += (uint64_t)nread;
    if (!s->tls) {
        feed_plain(s, s->rbuf, (size_t)nread);
        return;
    }
    if (wire_tls_feed(s->tls, s->rbuf, (size_t)nread, err, sizeof err) < 0) {
        sess_close(s, err, 0);
        return;
    }
    for (;;) {
        /* Decrypt into rbuf: its ciphertext is in the BIO by now. */
        ssize_t r = wire_tls_read(s->tls, s->rbuf, NET_READ_SLICE, err,
                                  sizeof err);
        if (r == WIRE_TLS_EOF) {
            tls_flush(s);
            sess_close(s, "peer closed the TLS session", 0);
            return;
        }
        if (r < 0) {
            char why[300];
            tls_flush(s);        /* the alert tells the peer why */
            snprintf(why, sizeof why, "TLS: %s", err);
            if (s->peer)
                s->peer->refused++;
            sess_close(s, why, 0);
            return;
        }
        if (tls_flush(s) < 0) {
            sess_close(s, "cannot send", 0);
            return;
        }
        if (s->state == SESS_HANDSHAKE && wire_tls_handshake_done(s->tls)) {
            snprintf(s->peer_name, sizeof s->peer_name, "%s",
                     wire_tls_peer_name(s->tls));
            send_hello(s);
        }
        if (r == 0)
            break;
        feed_plain(s, s->rbuf, (size_t)r);
        if (s->state == SESS_CLOSING)
            return;
    }
}

void sess_start_reading(dsess *s)
{
    if (!s->reading && s->state != SESS_CLOSING &&
        uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) == 0)
        s->reading = 1;
}

/* Transport ready: TLS client hello, or straight to the Hello. */
static void sess_begin(dsess *s)
{
    char err[256] = "";
    sess_start_reading(s);
    if (!s->tls) {
        send_hello(s);
        return;
    }
    s->state = SESS_HANDSHAKE;
    if (!s->inbound) {
        uint8_t tmp[64];
        if (wire_tls_read(s->tls, tmp, sizeof tmp, err, sizeof err) < 0 ||
            tls_flush(s) < 0)
            sess_close(s, err[0] ? err : "TLS start failed", 0);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    dsess *s = req->data;
    char why[400];
    if (s->state == SESS_CLOSING)
        return;
    if (status < 0) {
        snprintf(why, sizeof why, "connect to %.200s: %s", s->addr,
                 uv_strerror(status));
        if (s->peer)
            snprintf(s->peer->last_err, sizeof s->peer->last_err, "%.250s", why);
        log_debug("peer %s: %s", s->peer_name, why);
        /* Quietly: a neighbour that is not up yet is normal. */
        s->state = SESS_CLOSING;
        s->net->n_pending--;
        if (s->peer && s->peer->dialing == s)
            s->peer->dialing = NULL;
        uv_close((uv_handle_t *)&s->hb_timer, on_sess_handle_closed);
        uv_close((uv_handle_t *)&s->pipe_timer, on_sess_handle_closed);
        uv_close((uv_handle_t *)&s->tcp, on_sess_handle_closed);
        if (s->peer && !s->net->stopping)
            peer_schedule(s->peer);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    sess_begin(s);
}

static void on_connection(uv_stream_t *server, int status)
{
    dnet *n = server->data;
    char err[256] = "";
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    dsess *s;
    if (status < 0) {
        log_warn("peer listener: %s", uv_strerror(status));
        return;
    }
    if (!(s = sess_new(n, 1, NULL, err, sizeof err))) {
        log_err("cannot take a peer connection: %s", err);
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&s->tcp) < 0) {
        sess_close(s, "accept failed", 0);
        return;
    }
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        char host[64] = "?";
        int port = 0;
        if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
            snprintf(s->addr, sizeof s->addr, "[%s]:%d", host, port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
            snprintf(s->addr, sizeof s->addr, "%s:%d", host, port);
        }
    }
    if (n->stopping || n->n_pending > NET_MAX_PENDING_SESS) {
        sess_close(s, "too many sessions being set up", 0);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    sess_begin(s);
}

int net_listen(dnet *n, char *err, size_t errlen)
{
    const dconf *c = n->d->conf;
    char host[DCONF_HOST_MAX];
    struct sockaddr_storage sa;
    int port, rc;
    if (dconf_split_addr(c->listen, host, sizeof host, &port) < 0)
        return lg_errf(err, errlen, -EINVAL, "Listen=%s: not HOST:PORT",
                       c->listen);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) < 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) < 0)
        return lg_errf(err, errlen, -EINVAL, "Listen=%s: the host must be "
                       "a numeric IPv4 or IPv6 address", c->listen);
    uv_tcp_init(&n->d->loop, &n->listener);
    n->listener.data = n;
    n->handles++;
    n->listening = 1;
    if ((rc = uv_tcp_bind(&n->listener, (struct sockaddr *)&sa, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&n->listener, 64,
                        on_connection)) < 0)
        return lg_errf(err, errlen, rc, "Listen=%s: %s", c->listen,
                       uv_strerror(rc));
    return 0;
}

/* ---- dialing and backoff -------------------------------------------------- */

static void on_getaddr(uv_getaddrinfo_t *req, int status,
                       struct addrinfo *res);

/* A session to p at sa: it becomes p->dialing. */
static void dial_to(dpeer *p, const struct sockaddr *sa)
{
    char err[400];
    dsess *s;
    int rc;
    if (!(s = sess_new(p->net, 0, p, err, sizeof err))) {
        log_err("peer %s: %s", p->name, err);
        return;
    }
    snprintf(s->addr, sizeof s->addr, "%s", p->addr);
    p->dialing = s;
    s->creq.data = s;
    if ((rc = uv_tcp_connect(&s->creq, &s->tcp, sa, on_connect)) < 0) {
        snprintf(err, sizeof err, "connect to %.200s: %s", p->addr,
                 uv_strerror(rc));
        sess_close(s, err, 0);
    }
}

static void peer_dial(dpeer *p)
{
    dnet *n = p->net;
    char host[DCONF_HOST_MAX];
    struct sockaddr_storage sa;
    int port;
    if (n->stopping || p->removed || p->sess || p->dialing ||
        p->admin_down || !p->addr[0])
        return;
    if (dconf_split_addr(p->addr, host, sizeof host, &port) < 0) {
        log_err("peer %s: bad address %s", p->name, p->addr);
        return;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) < 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) < 0) {
        /* A host name: resolve it off the loop, then dial. */
        uv_getaddrinfo_t *g = malloc(sizeof *g);
        char portbuf[8];
        struct addrinfo hints;
        if (!g)
            return;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        snprintf(portbuf, sizeof portbuf, "%d", port);
        g->data = p;
        if (uv_getaddrinfo(&n->d->loop, g, on_getaddr, host, portbuf,
                           &hints) < 0) {
            free(g);
            peer_schedule(p);
            return;
        }
        n->handles++;            /* a request the stop must wait for */
        p->resolving++;          /* and p must outlive */
        return;
    }
    dial_to(p, (struct sockaddr *)&sa);
}

static void on_getaddr(uv_getaddrinfo_t *req, int status,
                       struct addrinfo *res)
{
    dpeer *p = req->data;
    dnet *n = p->net;
    free(req);
    n->handles--;
    p->resolving--;
    if (p->removed) {            /* a reload removed it meanwhile */
        uv_freeaddrinfo(res);
        peer_maybe_free(p);
        net_check_done(n);
        return;
    }
    if (n->stopping) {
        uv_freeaddrinfo(res);
        net_check_done(n);
        return;
    }
    if (status < 0 || !res) {
        snprintf(p->last_err, sizeof p->last_err, "cannot resolve %.120s: "
                 "%s", p->addr, uv_strerror(status));
        log_warn("peer %s: %s", p->name, p->last_err);
        uv_freeaddrinfo(res);
        peer_schedule(p);
        return;
    }
    dial_to(p, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void on_peer_timer(uv_timer_t *t)
{
    dpeer *p = t->data;
    p->wake_at = 0;
    if (p->sess)
        peer_pump(p);            /* a window opened, or the lookahead */
    else
        peer_dial(p);
}

/* Dial again after the backoff (ReconnectMin doubling up to
 * ReconnectMax, with +-20% jitter so that restarted nodes spread out). */
static void peer_schedule(dpeer *p)
{
    dnet *n = p->net;
    const dconf *c = n->d->conf;
    double dt;
    if (n->stopping || p->removed || !p->addr[0] || p->admin_down ||
        p->sess || p->dialing || !p->retry_open)
        return;
    dt = p->backoff * (0.8 + 0.4 * ((double)rand() / RAND_MAX));
    p->backoff = fmin(p->backoff * 2, c->reconnect_max);
    uv_timer_start(&p->retry, on_peer_timer, (uint64_t)(dt * 1e3), 0);
}

/* Wake p's pump at hr time t (the earliest request wins). */
static void peer_wake(dpeer *p, double t)
{
    double now = net_hr();
    if (!p->retry_open || p->removed || (p->wake_at && p->wake_at <= t))
        return;
    p->wake_at = t;
    uv_timer_start(&p->retry, on_peer_timer,
                   (uint64_t)ceil(fmax(0, t - now) * 1e3), 0);
}

/* ---- sending bundles ------------------------------------------------------ */

typedef struct fetch {
    dsess *s;
    spool_filter f;
} fetch;

static void on_read_done(dstore_req *r);

static void on_next_done(dstore_req *r)
{
    fetch *fe = r->arg;
    dsess *s = fe->s;
    dnet *n = s->net;
    relay_filter_free(&fe->f);
    free(fe);
    if (r->rc == -ENOENT || r->rc < 0 || s->state != SESS_UP ||
        !s->peer || s->peer->admin_down) {
        if (r->rc == 0)
            release_bundle(n, r->meta.id);
        else if (r->rc == -ENOENT)
            s->idle = 1;
        else
            log_err("spool: next bundle for %s: %s", s->peer_name, r->err);
        s->fetching--;
        sess_unref(s);
        return;
    }
    {
        dstore_req *q = dstore_req_new(DSTORE_READ, on_read_done, s);
        if (!q) {
            release_bundle(n, r->meta.id);
            s->fetching--;
            sess_unref(s);
            return;
        }
        memcpy(q->id, r->meta.id, WIRE_ID_LEN);
        q->meta = r->meta;
        q->off = 0;
        q->len = r->meta.size;
        dstore_submit(n->store, q);  /* keeps the session's ref */
    }
}

static inflight *infl_find(dsess *s, const uint8_t id[WIRE_ID_LEN])
{
    for (int i = 0; i < NET_INFLIGHT_MAX; i++)
        if (s->infl[i].used && !memcmp(s->infl[i].id, id, WIRE_ID_LEN))
            return &s->infl[i];
    return NULL;
}

static void on_read_done(dstore_req *r)
{
    dsess *s = r->arg;
    dnet *n = s->net;
    dpeer *p = s->peer;
    s->fetching--;
    if (r->rc < 0) {
        log_err("spool: cannot read bundle for %s: %s", s->peer_name,
                r->err);
        release_bundle(n, r->id);
    } else if (s->state != SESS_UP || !p || p->admin_down) {
        release_bundle(n, r->id);
    } else {
        double rate, delay, opens, closes, now = net_hr();
        int open = peer_window(p, &rate, &delay, &opens, &closes);
        double tx_end = fmax(now, p->next_free) +
                        (isfinite(rate) ? (double)r->len / rate : 0);
        if (!open || (isfinite(closes) &&
                      report_topo_now(n->d) + (tx_end - now) > closes)) {
            /* The window closes before it would be through: it waits. */
            release_bundle(n, r->id);
        } else if (r->len > (size_t)s->peer_max_frame + WIRE_FRAME_HDR) {
            char hex[33];
            wire_bundle_id_hex(r->id, hex);
            log_err("bundle %s for %s is a %zu-byte frame, over the peer's "
                    "max_frame %u; it stays in the spool", hex, p->name,
                    r->len, s->peer_max_frame);
            release_bundle(n, r->id);
            s->idle = 1;
        } else {
            int i;
            for (i = 0; i < NET_INFLIGHT_MAX && s->infl[i].used; i++)
                ;
            if (i == NET_INFLIGHT_MAX) {
                release_bundle(n, r->id);  /* cannot happen: pump limits */
            } else {
                inflight *f = &s->infl[i];
                memcpy(f->id, r->id, WIRE_ID_LEN);
                f->bytes = r->len;
                f->sent = now;
                f->used = 1;
                s->n_infl++;
                s->infl_bytes += r->len;
                p->tx_bundles++;
                sess_send(s, r->buf, r->len, 1);
                r->buf = NULL;
            }
        }
    }
    if (p && s->state == SESS_UP)
        peer_pump(p);
    sess_unref(s);
}

static void peer_pump(dpeer *p)
{
    dnet *n = p->net;
    dsess *s = p->sess;
    double now = net_hr();
    if (!s || s->state != SESS_UP || p->admin_down || p->removed ||
        n->stopping)
        return;
    if (n->d->conf->emulate) {
        double rate, delay, opens, closes;
        if (!peer_window(p, &rate, &delay, &opens, &closes)) {
            /* Closed: wake at the next window (checked at least every
             * minute, in case the topology changes). */
            double dt = isfinite(opens) ? opens - report_topo_now(n->d) : 60;
            peer_wake(p, now + fmin(fmax(dt, 0.001), 60));
            return;
        }
        if (p->next_free - now > NET_LOOKAHEAD) {
            peer_wake(p, p->next_free - NET_LOOKAHEAD);
            return;
        }
    }
    while (!s->idle && s->fetching < NET_FETCH_MAX &&
           s->n_infl + s->fetching < NET_INFLIGHT_MAX &&
           s->infl_bytes < NET_INFLIGHT_BYTES &&
           s->pipe_bytes + uv_stream_get_write_queue_size(
                               (uv_stream_t *)&s->tcp) < NET_BACKLOG_BYTES) {
        fetch *fe = calloc(1, sizeof *fe);
        dstore_req *r;
        if (!fe)
            return;
        fe->s = s;
        if (relay_filter(n, p, &fe->f) <= 0) {
            relay_filter_free(&fe->f);
            free(fe);
            return;              /* nothing routes over p now */
        }
        if (!(r = dstore_req_new(DSTORE_NEXT, on_next_done, fe))) {
            relay_filter_free(&fe->f);
            free(fe);
            return;
        }
        r->filter = fe->f;
        s->fetching++;
        s->refs++;
        dstore_submit(n->store, r);
    }
}

void net_kick(dnet *n, dpeer *p)
{
    if (p) {
        if (p->sess)
            p->sess->idle = 0;
        peer_pump(p);
        return;
    }
    for (int i = 0; i < n->n_peers; i++)
        net_kick(n, n->peers[i]);
}

/* ---- acks, heartbeats ------------------------------------------------------ */

static void ack_done(dstore_req *r)
{
    if (r->rc < 0 && r->rc != -ENOENT) {
        char hex[33];
        wire_bundle_id_hex(r->id, hex);
        log_err("spool: cannot drop acked bundle %s: %s", hex, r->err);
    }
}

static void on_ack(dsess *s, const wire_ack *a)
{
    dnet *n = s->net;
    for (size_t i = 0; i < a->n; i++) {
        inflight *f = infl_find(s, a->ids[i]);
        dstore_req *r;
        if (!f) {
            char hex[33];
            wire_bundle_id_hex(a->ids[i], hex);
            log_debug("peer %s acked %s, which is not in flight",
                      s->peer_name, hex);
            continue;
        }
        f->used = 0;
        s->n_infl--;
        s->infl_bytes -= f->bytes;
        s->peer->acked++;
        if (!(r = dstore_req_new(DSTORE_ACK, ack_done, NULL))) {
            log_err("out of memory: bundle acked by %s stays in the spool "
                    "(a resend is deduplicated)", s->peer_name);
            continue;
        }
        memcpy(r->id, a->ids[i], WIRE_ID_LEN);
        dstore_submit(n->store, r);
    }
    peer_pump(s->peer);
}

static void on_hb_timer(uv_timer_t *t)
{
    dsess *s = t->data;
    const dconf *c = s->net->d->conf;
    double now = net_hr(), delay, silence;
    char why[160];
    wire_msg m;
    if (s->state == SESS_CLOSING)
        return;
    if (s->state != SESS_UP) {
        snprintf(why, sizeof why, "not up after %.0f s",
                 NET_HANDSHAKE_TIMEOUT);
        sess_close(s, why, 0);
        return;
    }
    delay = peer_delay(s->peer);
    silence = 3 * c->heartbeat + 2 * delay + 1;
    if (now - s->last_rx > silence) {
        snprintf(why, sizeof why, "nothing heard for %.1f s",
                 now - s->last_rx);
        sess_close(s, why, 1);
        return;
    }
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_HEARTBEAT;
    m.u.heartbeat.seq = s->hb_seq++;
    m.u.heartbeat.unix_ms = net_unix_ms();
    dhealth_fill(s->net, s, &m.u.heartbeat);
    sess_send_msg(s, &m, 0);
    /* Acks overdue: send those bundles again (the peer dedups). */
    for (int i = 0; i < NET_INFLIGHT_MAX; i++) {
        inflight *f = &s->infl[i];
        if (f->used && now - f->sent > NET_ACK_TIMEOUT + 2 * delay +
                                           (s->peer->next_free > f->sent
                                                ? s->peer->next_free - f->sent
                                                : 0)) {
            release_bundle(s->net, f->id);
            f->used = 0;
            s->n_infl--;
            s->infl_bytes -= f->bytes;
            s->peer->resent++;
        }
    }
    if (s->peer->resent)
        net_kick(s->net, s->peer);
}

/* ---- life ------------------------------------------------------------------ */

/* p's reconnect and pump timer, then a first dial. */
static void peer_open(dpeer *p)
{
    dnet *n = p->net;
    uv_timer_init(&n->d->loop, &p->retry);
    p->retry.data = p;
    p->retry_open = 1;
    n->handles++;
    peer_dial(p);
}

void net_peers_start(dnet *n)
{
    for (int i = 0; i < n->n_peers; i++)
        peer_open(n->peers[i]);
}

void net_peers_refresh(dnet *n)
{
    for (int i = 0; i < n->n_peers; i++)
        peer_resolve(n, n->peers[i]);
}

void net_peers_redial(dpeer *p)
{
    if (p->retry_open)
        uv_timer_stop(&p->retry);
    p->wake_at = 0;
    peer_dial(p);
}

/* A removed peer goes once nothing can reach it any more: its timer is
 * closed and no name lookup for it is running. */
static void peer_maybe_free(dpeer *p)
{
    if (!p->removed || p->retry_open || p->resolving > 0)
        return;
    free(p);
}

static void on_removed_timer_closed(uv_handle_t *h)
{
    dpeer *p = h->data;
    dnet *n = p->net;
    n->handles--;
    peer_maybe_free(p);
    net_check_done(n);
}

/* p is no longer a neighbour: out of n->peers now, its sessions closed
 * (the bundles in flight released in the spool: custody stays here),
 * freed later. Returns how many bundles were in flight to it. The
 * caller recomputes the routes (next_hop[] holds indices). */
static int peer_remove(dnet *n, dpeer *p)
{
    int handed = 0;
    p->removed = 1;
    for (int i = p->idx + 1; i < n->n_peers; i++) {
        n->peers[i - 1] = n->peers[i];
        n->peers[i - 1]->idx = i - 1;
    }
    n->n_peers--;
    n->rx_gone += p->rx_bundles;
    if (p->sess) {
        handed += p->sess->n_infl;
        sess_close(p->sess, "no longer a neighbour (reload)", 1);
    }
    if (p->dialing)
        sess_close(p->dialing, "no longer a neighbour (reload)", 0);
    /* Every session that named p is closing now: let them forget it. */
    for (dsess *s = n->sessions; s; s = s->next)
        if (s->peer == p)
            s->peer = NULL;
    if (p->retry_open) {
        p->retry_open = 0;
        uv_timer_stop(&p->retry);
        uv_close((uv_handle_t *)&p->retry, on_removed_timer_closed);
    } else {
        peer_maybe_free(p);
    }
    return handed;
}

/* p's Address changed: the session this node dialed (to the old address)
 * and a dial in progress are closed, and the new address dialed at once.
 * Returns 1 if a session the peer dialed stays up. */
static int peer_readdress(dpeer *p, const char *addr)
{
    const dconf *c = p->net->d->conf;
    int kept = 0;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    p->backoff = c->reconnect_min;
    if (p->sess && !p->sess->inbound)
        sess_close(p->sess, "Address changed (reload)", 1);
    else if (p->sess)
        kept = 1;
    if (p->dialing)
        sess_close(p->dialing, "Address changed (reload)", 0);
    if (p->retry_open)
        net_peers_redial(p);
    return kept;
}

void net_peers_reload(dnet *n)
{
    const dconf *c = n->d->conf;
    const plan_topology *t = c->topo;
    const char *self = c->node_id;
    if (n->stopping)
        return;
    /* Gone neighbours first (from the end: removal shifts the rest). */
    for (int i = n->n_peers - 1; i >= 0; i--) {
        dpeer *p = n->peers[i];
        if (!is_neighbour(c, plan_topology_find(t, p->name))) {
            int handed = peer_remove(n, p);
            log_info("reload: peer %s removed, %d bundle%s handed back to "
                     "routing", p->name, handed, handed == 1 ? "" : "s");
        }
    }
    /* Those that stay: the new indices, windows and Address. */
    for (int i = 0; i < n->n_peers; i++) {
        dpeer *p = n->peers[i];
        const char *addr = conf_addr(c, p->name);
        uint64_t wo, wi;
        peer_resolve(n, p);
        peer_fingerprints(n, p, &wo, &wi);
        if (wo != p->win_out)
            log_info("reload: link %s->%s %s", self, p->name,
                     !wo ? "removed (this node no longer sends to it)"
                     : !p->win_out ? "added" : "windows changed");
        if (wi != p->win_in)
            log_info("reload: link %s->%s %s", p->name, self,
                     !wi ? "removed" : !p->win_in ? "added"
                                                  : "windows changed");
        p->win_out = wo;
        p->win_in = wi;
        if (strcmp(addr, p->addr)) {
            char old[DCONF_ADDR_MAX];
            int kept;
            snprintf(old, sizeof old, "%s", p->addr[0] ? p->addr : "none");
            kept = peer_readdress(p, addr);
            log_info("reload: peer %s address changed %s -> %s, %s", p->name,
                     old, addr[0] ? addr : "none",
                     kept ? "keeping the session it dialed"
                     : addr[0] ? "redialling" : "waiting for it to dial");
        }
    }
    /* New neighbours. */
    for (int l = 0; l < t->n_links; l++) {
        const plan_link *k = &t->links[l];
        int other = k->from == c->node ? k->to
                    : k->to == c->node ? k->from : -1;
        dpeer *p;
        if (other < 0 || net_peer_by_node(n, other))
            continue;
        if (!(p = peer_new(n, other))) {
            log_err("reload: out of memory adding peer %s; it is added at "
                    "the next reload or restart", t->nodes[other].name);
            continue;
        }
        log_info("reload: peer %s added (Address %s)", p->name,
                 p->addr[0] ? p->addr : "none: it dials this node");
        peer_open(p);
    }
    /* New TLS settings: every session again, with the new identity. */
    if (n->tls_changed) {
        int closed = 0;
        for (dsess *s = n->sessions, *nx; s; s = nx) {
            nx = s->next;
            if (s->state != SESS_CLOSING) {
                closed++;
                sess_close(s, "TLS settings changed (reload)", 1);
            }
        }
        log_info("reload: TLS settings changed, %d session%s set up again",
                 closed, closed == 1 ? "" : "s");
        n->tls_changed = 0;
        for (int i = 0; i < n->n_peers; i++)
            net_peers_redial(n->peers[i]);
    }
}

static void on_net_handle_closed(uv_handle_t *h)
{
    dnet *n = h->data;
    n->handles--;
    net_check_done(n);
}

void net_peers_stop(dnet *n)
{
    if (n->stopping)
        return;
    n->stopping = 1;
    for (dsess *s = n->sessions, *nx; s; s = nx) {
        nx = s->next;
        sess_close(s, "lagranged is stopping", 1);
    }
    for (int i = 0; i < n->n_peers; i++)
        if (n->peers[i]->retry_open) {
            n->peers[i]->retry_open = 0;
            n->peers[i]->retry.data = n;
            uv_close((uv_handle_t *)&n->peers[i]->retry,
                     on_net_handle_closed);
        }
    if (n->listening) {
        n->listening = 0;
        uv_close((uv_handle_t *)&n->listener, on_net_handle_closed);
    }
}

void net_peers_free(dnet *n)
{
    for (int i = 0; i < n->n_peers; i++)
        free(n->peers[i]);
    free(n->peers);
    n->peers = NULL;
    n->n_peers = n->cap_peers = 0;
}
