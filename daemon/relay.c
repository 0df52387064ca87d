/*
 * relay.c - what happens to bundles: custody of those received (durable,
 * then acked), forwarding by the earliest-arrival route, reassembly and
 * delivery of objects at their destination, bundles made here (lagrange
 * send, ping, pong), and the network's control commands. Also the dnet's
 * life (start, reload, stop). See net_int.h.
 *
 * Routing: every second, and when links change, plan_route over the
 * topology's contact plan from this node at topology time now gives each
 * destination's first hop (next_hop[]). Links that the operator took down
 * are avoided when another route exists, one that does not come straight
 * back here (avoid_loops). A bundle for a destination with
 * no route (or unknown here) stays in the spool until one appears or it
 * expires.
 *
 * Split horizon: a neighbour sends this node bundles for a destination
 * because its route goes through here; if this node's route goes back
 * through that neighbour (each took a different link down, say, so
 * that neither contact plan knows), the bundle would bounce, and the
 * neighbour, having passed custody on, would take the copy coming back
 * for a duplicate and drop it: lost. So bundles for a destination are
 * never sent to a neighbour that sent this node bundles for it since
 * the destination's first hop last changed; they wait here until the
 * route changes (came_from, relay_filter).
 *
 * Delivery at the destination: each chunk is made durable and acked like
 * any bundle; when every chunk of an object is here, the store's worker
 * writes the object into the inbox (verified against its SHA-256) and
 * only then deletes the chunks (inbox.h: exactly once across crashes).
 * At start the chunks already stored for this node are read back to
 * rebuild the reassembly state, so a restart loses nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chunk.h"
#include "contact.h"
#include "lgerr.h"
#include "lgfs.h"
#include "log.h"
#include "net_int.h"
#include "nodehealth.h"
#include "report.h"

static const char *node_self(const dnet *n)
{
    return n->d->conf->node_id;
}

/* ---- routing ------------------------------------------------------------- */

/* 1 if the route in via[] (from one neighbour) to dst passes through node
 * self, or there is none. */
static int route_back(const plan_topology *t, const int *via, int dst,
                      int self)
{
    int path[64];
    int h = plan_route_path(t, via, dst, path, 64);
    if (h < 0)
        return 1;
    for (int k = 0; k < h && k < 64; k++)
        if (t->links[path[k]].to == self)
            return 1;
    return 0;
}

/* Around a link the operator took down, hop[] may send a bundle to a
 * neighbour whose own route (the contact plan's: it does not know the
 * link is down) leads straight back here. The bundle would bounce, and
 * this node, having passed custody on, would take the copy coming back
 * for a duplicate (the spool remembers the id it acked), ack it and drop
 * it: lost. So keep a first hop only if that neighbour's route to the
 * destination avoids this node; otherwise take the neighbour, among those
 * whose route avoids it, that gets the bundle there first, or none (the
 * bundle waits in the spool for the link). One level only: a neighbour
 * that took a link down itself may still reroute. */
static void avoid_loops(dnet *n, plan_router *r, int *hop, double now)
{
    const dconf *c = n->d->conf;
    const plan_topology *t = c->topo;
    int nn = t->n_nodes, self = c->node, nb = 0;
    int *nbl = malloc((size_t)t->n_links * sizeof *nbl);
    int *via = malloc((size_t)t->n_links * (size_t)nn * sizeof *via);
    double *arr = malloc((size_t)t->n_links * (size_t)nn * sizeof *arr);
    double *ready = malloc((size_t)nn * sizeof *ready);
    if (!nbl || !via || !arr || !ready) {
        log_err("out of memory checking routes for loops; keeping them");
        goto out;
    }
    /* Each usable neighbour's own routes, the bundle there over the link
     * from here. */
    for (int l = 0; l < t->n_links; l++) {
        dpeer *p;
        double at;
        if (t->links[l].from != self ||
            !(p = net_peer_by_node(n, t->links[l].to)) || p->admin_down)
            continue;
        at = plan_link_send(&t->links[l], now, WIRE_CHUNK_DEFAULT, NULL,
                            NULL, 0, NULL);
        if (!isfinite(at))
            continue;
        for (int i = 0; i < nn; i++)
            ready[i] = INFINITY;
        ready[t->links[l].to] = at;
        if (plan_route(r, WIRE_CHUNK_DEFAULT, ready, NULL, NULL,
                       arr + (size_t)nb * (size_t)nn,
                       via + (size_t)nb * (size_t)nn) < 0) {
            log_err("out of memory checking routes for loops; keeping them");
            goto out;
        }
        nbl[nb++] = l;
    }
    for (int dst = 0; dst < nn; dst++) {
        int best = -1, cur = -1;
        if (dst == self || hop[dst] < 0)
            continue;
        for (int k = 0; k < nb; k++) {
            dpeer *p = net_peer_by_node(n, t->links[nbl[k]].to);
            const int *v = via + (size_t)k * (size_t)nn;
            const double *a = arr + (size_t)k * (size_t)nn;
            if (p->idx == hop[dst])
                cur = k;
            if (route_back(t, v, dst, self))
                continue;
            if (best < 0 || a[dst] < arr[(size_t)best * (size_t)nn +
                                         (size_t)dst])
                best = k;
        }
        if (cur >= 0 && !route_back(t, via + (size_t)cur * (size_t)nn, dst,
                                    self))
            continue;
        log_debug("route to %s: %s would send it back here; %s%s",
                  t->nodes[dst].name,
                  cur >= 0 ? t->nodes[t->links[nbl[cur]].to].name : "the hop",
                  best >= 0 ? "via " : "no loop-free route, it waits",
                  best >= 0 ? t->nodes[t->links[nbl[best]].to].name : "");
        hop[dst] = best >= 0
                       ? net_peer_by_node(n, t->links[nbl[best]].to)->idx
                       : -1;
    }
out:
    free(nbl);
    free(via);
    free(arr);
    free(ready);
}

void relay_routes(dnet *n)
{
    const dconf *c = n->d->conf;
    const plan_topology *t = c->topo;
    plan_router *r = plan_router_new(t);
    double *ready = malloc((size_t)t->n_nodes * sizeof *ready);
    double *arrive = malloc((size_t)t->n_nodes * sizeof *arrive);
    double *link_free = malloc((size_t)t->n_links * sizeof *link_free);
    int *via = malloc((size_t)t->n_nodes * sizeof *via);
    int *hop = malloc((size_t)t->n_nodes * sizeof *hop);
    double now = report_topo_now(n->d);
    int any_down = 0;
    if (!r || !ready || !arrive || !via || !hop || !link_free) {
        log_err("out of memory computing routes; keeping the old ones");
        goto out;
    }
    for (int i = 0; i < t->n_nodes; i++)
        ready[i] = INFINITY;
    ready[c->node] = now;
    for (int l = 0; l < t->n_links; l++) {
        dpeer *p = t->links[l].from == c->node
                       ? net_peer_by_node(n, t->links[l].to) : NULL;
        link_free[l] = p && p->admin_down ? INFINITY : -INFINITY;
        any_down |= p && p->admin_down;
    }
    if (plan_route(r, WIRE_CHUNK_DEFAULT, ready, link_free, NULL, arrive,
                   via) < 0) {
        log_err("out of memory computing routes; keeping the old ones");
        goto out;
    }
    for (int dst = 0; dst < t->n_nodes; dst++) {
        int path[64], h;
        hop[dst] = -1;
        if (dst == c->node || !isfinite(arrive[dst]))
            continue;
        h = plan_route_path(t, via, dst, path, 64);
        if (h >= 1) {
            dpeer *p = net_peer_by_node(n, t->links[path[0]].to);
            hop[dst] = p ? p->idx : -1;
        }
    }
    if (any_down)
        avoid_loops(n, r, hop, now);
    /* Split horizon: forget where bundles came from for a destination
     * whose first hop changed (or all, when the sizes did). */
    if (n->sh_nodes != t->n_nodes || n->sh_peers != n->n_peers) {
        free(n->came_from);
        n->came_from = calloc((size_t)t->n_nodes * (size_t)(n->n_peers + 1),
                              1);
        n->sh_nodes = n->came_from ? t->n_nodes : 0;
        n->sh_peers = n->came_from ? n->n_peers : 0;
    } else if (n->came_from && n->next_hop &&
               n->n_route_nodes == t->n_nodes) {
        for (int dst = 0; dst < t->n_nodes; dst++)
            if (hop[dst] != n->next_hop[dst])
                memset(n->came_from + (size_t)dst * (size_t)n->sh_peers, 0,
                       (size_t)n->sh_peers);
    }
    free(n->next_hop);
    n->next_hop = hop;
    n->n_route_nodes = t->n_nodes;
    hop = NULL;
    n->routes_at = now;
out:
    plan_router_free(r);
    free(ready);
    free(arrive);
    free(link_free);
    free(via);
    free(hop);
}

/* The filter's state: the destinations routed over one peer, copied so
 * that the worker thread reads nothing the loop changes. */
typedef struct dst_set {
    int n;
    char names[][WIRE_NODE_MAX];
} dst_set;

static int dst_match(void *arg, const char *dst)
{
    const dst_set *ds = arg;
    for (int i = 0; i < ds->n; i++)
        if (!strcmp(ds->names[i], dst))
            return 1;
    return 0;
}

/* Split horizon (see the top): did bundles for node dst come from
 * peer index pi since dst's first hop last changed? */
static int came_from(const dnet *n, int dst, int pi)
{
    return n->came_from && dst < n->sh_nodes && pi >= 0 &&
           pi < n->sh_peers &&
           n->came_from[(size_t)dst * (size_t)n->sh_peers + (size_t)pi];
}

int relay_filter(dnet *n, dpeer *p, spool_filter *f)
{
    const plan_topology *t = n->d->conf->topo;
    int pi = p->idx, cnt = 0;
    dst_set *ds;
    memset(f, 0, sizeof *f);
    if (!n->next_hop)
        return 0;
    for (int i = 0; i < n->n_route_nodes && i < t->n_nodes; i++)
        cnt += n->next_hop[i] == pi;
    if (!cnt)
        return 0;
    if (!(ds = malloc(sizeof *ds + (size_t)cnt * WIRE_NODE_MAX)))
        return 0;
    ds->n = 0;
    for (int i = 0; i < n->n_route_nodes && i < t->n_nodes; i++)
        if (n->next_hop[i] == pi && !came_from(n, i, pi))
            snprintf(ds->names[ds->n++], WIRE_NODE_MAX, "%s",
                     t->nodes[i].name);
    f->match = dst_match;
    f->arg = ds;
    return cnt;
}

void relay_filter_free(spool_filter *f)
{
    free(f->arg);
    f->arg = NULL;
}

/* ---- receiving ------------------------------------------------------------ */

static void flush_acks(dsess *s)
{
    wire_msg m;
    uint8_t *buf;
    size_t len;
    char err[160];
    if (!s->n_acks || s->state != SESS_UP) {
        s->n_acks = 0;
        return;
    }
    memset(&m, 0, sizeof m);
    m.type = WIRE_MSG_ACK;
    m.u.ack.n = (size_t)s->n_acks;
    memcpy(m.u.ack.ids, s->acks, (size_t)s->n_acks * WIRE_ID_LEN);
    s->n_acks = 0;
    if (wire_msg_encode_alloc(&m, s->peer_max_frame, &buf, &len, err,
                              sizeof err) < 0) {
        log_err("peer %s: cannot encode an ack: %s", s->peer_name, err);
        return;
    }
    sess_send(s, buf, len, 0);
}

/* A "job.end": it names a job but is not one of its bundles (it must
 * outlive their drop). */
static int is_job_end(const wire_bundle *b)
{
    return b->kind == WIRE_KIND_CONTROL && !strcmp(b->name, "job.end");
}

/* Whether (job, epoch) ended, as far as this node heard. */
static int net_ended(const dnet *n, const char *job, uint32_t epoch)
{
    for (int i = 0; i < n->n_ended; i++)
        if (!strcmp(n->ended[i].job, job) &&
            (n->ended[i].epoch == 0 || n->ended[i].epoch == epoch))
            return 1;
    return 0;
}

/* What a PUT of a received or made bundle needs to know afterwards. */
typedef struct put_ctx {
    dnet *n;
    dsess *s;                    /* from whom (NULL: made here) */
    wire_bundle b;               /* metadata; payload NULL */
    int local;                   /* dst is this node */
    struct origin *org;          /* made here by lagrange send */
} put_ctx;

static void local_bundle(dnet *n, const wire_bundle *b);

/* A CONTROL bundle for this node, as stored (a whole frame): decode it
 * again for its payload (put_ctx keeps none). */
static void local_control_frame(dnet *n, const uint8_t *frame, size_t len)
{
    wire_msg *m = malloc(sizeof *m);
    char err[256];
    if (m && len > WIRE_FRAME_HDR &&
        wire_msg_decode(frame + WIRE_FRAME_HDR, len - WIRE_FRAME_HDR, m, err,
                        sizeof err) == 0 && m->type == WIRE_MSG_BUNDLE)
        local_bundle(n, &m->u.bundle);
    else
        log_err("a control bundle for this node cannot be read back (%s); "
                "it is handled at the next start", m ? err : "out of memory");
    free(m);
}

/* A job.end passing through, as stored (a whole frame): decode it again
 * for its payload and tell the scheduler. */
static void transit_end_frame(dnet *n, const uint8_t *frame, size_t len)
{
    wire_msg *m = malloc(sizeof *m);
    char err[256];
    if (m && len > WIRE_FRAME_HDR &&
        wire_msg_decode(frame + WIRE_FRAME_HDR, len - WIRE_FRAME_HDR, m, err,
                        sizeof err) == 0 && m->type == WIRE_MSG_BUNDLE)
        n->hooks.on_transit_end(n->hooks.arg, &m->u.bundle);
    else
        log_err("a job.end passing through cannot be read back (%s); it "
                "is forwarded, but this node keeps the job's bundles",
                m ? err : "out of memory");
    free(m);
}

typedef struct origin {
    dnet *n;
    uv_work_t work;              /* reading and hashing, off the loop */
    int fd;
    char path[4096];
    size_t chunk;
    wire_bundle tmpl;            /* src, dst, times, priority, object id */
    uint8_t *data;               /* the object (file contents) */
    uint64_t size;
    wire_chunk_split split;
    uint32_t next, done, failed;
    control_later *later;        /* lagrange send's client, or NULL */
    dnet_sent_cb cb;             /* or a caller in the daemon */
    void *cb_arg;
    char err[256];
} origin;

static void origin_pump(origin *o);

static void put_done(dstore_req *r)
{
    put_ctx *pc = r->arg;
    dsess *s = pc->s;
    dnet *n = pc->n;
    char hex[33];
    wire_bundle_id_hex(pc->b.id, hex);
    if (s) {
        s->puts--;
        s->put_bytes -= r->len;
        if (r->rc >= 0 || r->rc == -ETIME) {
            /* Durable (or a duplicate of something durable, or already
             * expired): custody is ours, the sender may forget it. */
            memcpy(s->acks[s->n_acks++], pc->b.id, WIRE_ID_LEN);
            if (r->rc == -ETIME) {
                n->expired++;
                log_warn("bundle %s from %s for %s expired in transit; "
                         "dropped", hex, pc->b.src, pc->b.dst);
            }
        } else {
            n->refused++;
            log_err("bundle %s from %s (via %s) not accepted, the sender "
                    "keeps it: %s", hex, pc->b.src, s->peer_name, r->err);
        }
        if (s->n_acks == WIRE_ACK_MAX || s->puts == 0)
            flush_acks(s);
        if (!s->reading && s->put_bytes < NET_RX_STORE_BYTES / 2)
            sess_start_reading(s);
    }
    if (r->rc == 0) {
        if (pc->local && pc->b.kind == WIRE_KIND_CONTROL)
            local_control_frame(n, r->buf, r->len);
        else if (pc->local)
            local_bundle(n, &pc->b);
        else {
            if (s)
                n->forwarded++;
            if (s && is_job_end(&pc->b) && pc->b.job[0] &&
                n->hooks.on_transit_end && !n->stopping)
                transit_end_frame(n, r->buf, r->len);
            net_kick(n, NULL);
        }
    } else if (r->rc == SPOOL_DUPLICATE) {
        log_debug("bundle %s from %s: duplicate, acked again", hex,
                  pc->b.src);
    }
    if (pc->org) {
        origin *o = pc->org;
        if (r->rc < 0 && !o->failed++)
            snprintf(o->err, sizeof o->err, "%s", r->err);
        o->done++;
        origin_pump(o);
    }
    if (s)
        sess_unref(s);
    free(pc);
}

/* A PUT of frame (flen bytes, taken only on success) holding b, with
 * the spool metadata taken from b. NULL when out of memory. */
static dstore_req *put_req(const wire_bundle *b, uint8_t *frame, size_t flen,
                           put_ctx *pc)
{
    dstore_req *r = dstore_req_new(DSTORE_PUT, put_done, pc);
    if (!r)
        return NULL;
    memcpy(r->meta.id, b->id, WIRE_ID_LEN);
    snprintf(r->meta.src, sizeof r->meta.src, "%s", b->src);
    snprintf(r->meta.dst, sizeof r->meta.dst, "%s", b->dst);
    r->meta.priority = (uint8_t)b->priority;
    r->meta.kind = (uint16_t)b->kind;
    r->meta.created_unix_ms = b->created_unix_ms;
    r->meta.lifetime_ms = b->lifetime_ms;
    if (b->job[0] && !is_job_end(b)) {
        snprintf(r->meta.job, sizeof r->meta.job, "%s", b->job);
        r->meta.job_epoch = b->job_epoch;
    }
    r->meta.size = flen;
    r->buf = frame;
    r->len = flen;
    return r;
}

void relay_on_bundle(dsess *s, const wire_bundle *b, const uint8_t *body,
                     size_t len)
{
    dnet *n = s->net;
    const char *self = node_self(n);
    int local = !strcmp(b->dst, self);
    put_ctx *pc = NULL;
    dstore_req *r = NULL;
    uint8_t *frame = NULL;
    size_t flen = 0;
    char err[256];
    if (!local && s->peer && n->came_from) {
        int dst = plan_topology_find(n->d->conf->topo, b->dst);
        int pi = s->peer->idx;
        if (dst >= 0 && dst < n->sh_nodes && pi >= 0 && pi < n->sh_peers &&
            !n->came_from[(size_t)dst * (size_t)n->sh_peers + (size_t)pi]) {
            n->came_from[(size_t)dst * (size_t)n->sh_peers + (size_t)pi] = 1;
            if (n->next_hop && dst < n->n_route_nodes &&
                n->next_hop[dst] == pi)
                log_info("route to %s: bundles for it come from %s, which "
                         "is this node's first hop for it; they wait here "
                         "until the route changes (split horizon)", b->dst,
                         s->peer_name);
        }
    }
    if (b->job[0] && !is_job_end(b) && net_ended(n, b->job, b->job_epoch)) {
        /* Its job ended: take custody (the sender may forget it) and
         * drop it. */
        char hex[33];
        wire_bundle_id_hex(b->id, hex);
        n->job_dropped++;
        n->job_dropped_bytes += b->payload_len;
        if (b->chunk_index == 0)
            log_info("job %s: bundle %s '%s' from %s for %s dropped on "
                     "arrival: the job has ended", b->job, hex, b->name,
                     b->src, b->dst);
        else
            log_debug("job %s: bundle %s (chunk %u) dropped on arrival",
                      b->job, hex, b->chunk_index);
        memcpy(s->acks[s->n_acks++], b->id, WIRE_ID_LEN);
        if (s->n_acks == WIRE_ACK_MAX || s->puts == 0)
            flush_acks(s);
        return;
    }
    if (!(pc = calloc(1, sizeof *pc)))
        goto oom;
    pc->n = n;
    pc->b = *b;
    pc->b.payload = NULL;
    pc->local = local;
    if (local) {
        /* Stored as it came: this node consumes it. */
        flen = len + WIRE_FRAME_HDR;
        if (!(frame = malloc(flen)))
            goto oom;
        wire_frame_put_len(frame, (uint32_t)len);
        memcpy(frame + WIRE_FRAME_HDR, body, len);
    } else {
        /* Stored as this node will send it: one more hop. */
        wire_bundle fb = *b;
        uint8_t head[WIRE_BUNDLE_HEAD_MAX];
        size_t hl, fl;
        fb.hops++;
        if (wire_bundle_encode_head(&fb, WIRE_FRAME_LIMIT, head, sizeof head,
                                    &hl, &fl, err, sizeof err) < 0) {
            char why[300];
            free(pc);
            snprintf(why, sizeof why, "bundle cannot be forwarded: %s", err);
            sess_close(s, why, 1);
            return;
        }
        flen = fl;
        if (!(frame = malloc(flen)))
            goto oom;
        memcpy(frame, head, hl);
        if (b->payload_len)
            memcpy(frame + hl, b->payload, b->payload_len);
    }
    if (!(r = put_req(b, frame, flen, pc)))
        goto oom;
    pc->s = s;
    s->refs++;
    s->puts++;
    s->put_bytes += flen;
    dstore_submit(n->store, r);
    /* Backpressure: stop reading while too much waits for the disk. */
    if (s->put_bytes > NET_RX_STORE_BYTES && s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = 0;
    }
    return;
oom:
    free(pc);
    free(frame);
    sess_close(s, "out of memory for a received bundle", 1);
}

/* ---- bundles made here ------------------------------------------------------ */

static int put_made(dnet *n, const wire_bundle *b, origin *org)
{
    uint8_t head[WIRE_BUNDLE_HEAD_MAX], *frame;
    size_t hl, fl;
    char err[256];
    put_ctx *pc;
    dstore_req *r;
    int rc;
    if (b->job[0] && !is_job_end(b) && net_ended(n, b->job, b->job_epoch)) {
        /* Made after its job ended here (an output of a task that was
         * running): nobody wants it. */
        n->job_dropped++;
        n->job_dropped_bytes += b->payload_len;
        if (b->chunk_index == 0)
            log_info("job %s: bundle '%s' for %s not stored: the job has "
                     "ended", b->job, b->name, b->dst);
        if (org)
            org->done++;
        return 0;
    }
    if ((rc = wire_bundle_encode_head(b, WIRE_FRAME_LIMIT, head, sizeof head,
                                      &hl, &fl, err, sizeof err)) < 0) {
        log_err("cannot encode bundle '%s' for %s: %s", b->name, b->dst,
                err);
        return rc;
    }
    if (!(pc = calloc(1, sizeof *pc)) || !(frame = malloc(fl))) {
        free(pc);
        return -ENOMEM;
    }
    memcpy(frame, head, hl);
    if (b->payload_len)
        memcpy(frame + hl, b->payload, b->payload_len);
    pc->n = n;
    pc->b = *b;
    pc->b.payload = NULL;
    pc->local = !strcmp(b->dst, node_self(n));
    pc->org = org;
    if (!(r = put_req(b, frame, fl, pc))) {
        free(pc);
        free(frame);
        return -ENOMEM;
    }
    n->originated++;
    dstore_submit(n->store, r);
    return 0;
}

/* A control bundle (ping, pong) for dst with payload p. */
static int make_control(dnet *n, const char *dst, const char *name,
                        const uint8_t *p, size_t len, uint64_t lifetime_ms,
                        uint8_t id[WIRE_ID_LEN], const char *job,
                        uint32_t job_epoch)
{
    wire_bundle b;
    memset(&b, 0, sizeof b);
    if (job && *job) {
        if (strlen(job) >= sizeof b.job)
            return -EINVAL;
        snprintf(b.job, sizeof b.job, "%s", job);
        b.job_epoch = job_epoch;
    }
    if (wire_bundle_new_id(b.id) < 0)
        return -EIO;
    snprintf(b.src, sizeof b.src, "%s", node_self(n));
    snprintf(b.dst, sizeof b.dst, "%s", dst);
    snprintf(b.name, sizeof b.name, "%s", name);
    b.created_unix_ms = net_unix_ms();
    b.lifetime_ms = lifetime_ms;
    b.priority = WIRE_PRIO_MAX;
    b.kind = WIRE_KIND_CONTROL;
    b.payload = p;
    b.payload_len = len;
    wire_bundle_seal(&b);
    if (id)
        memcpy(id, b.id, WIRE_ID_LEN);
    return put_made(n, &b, NULL);
}

static void origin_finish(origin *o)
{
    dnet *n = o->n;
    char hex[33];
    wire_bundle_id_hex(o->split.tmpl.object_id, hex);
    if (o->later) {
        control_out *out = control_later_out(o->later);
        if (o->failed)
            control_error(out, "%u of %u chunks not stored: %s", o->failed,
                          o->split.count, o->err);
        else {
            control_printf(out, "{\"object\":\"%s\",\"dst\":", hex);
            control_json_str(out, o->split.tmpl.dst);
            control_printf(out, ",\"bytes\":%llu,\"chunks\":%u}\n",
                           (unsigned long long)o->size, o->split.count);
        }
        control_later_done(o->later);
    } else if (o->cb) {
        if (o->failed)
            o->cb(o->cb_arg, -EIO, o->err);
        else
            o->cb(o->cb_arg, 0, NULL);
    }
    if (!o->failed)
        log_info("object %s%s%s (%llu bytes, %u chunks) for %s stored, "
                 "to be sent", hex, o->split.tmpl.name[0] ? " " : "",
                 o->split.tmpl.name, (unsigned long long)o->size,
                 o->split.count, o->split.tmpl.dst);
    free(o->data);
    free(o);
    n->handles--;                /* held since the send: see send_read_done */
    net_check_done(n);
}

/* Keep at most 8 chunks of an object waiting for the disk. */
static void origin_pump(origin *o)
{
    while (o->next < o->split.count && o->next - o->done < 8) {
        wire_bundle b;
        wire_chunk_split_get(&o->split, o->next++, &b);
        if (put_made(o->n, &b, o) < 0) {
            if (!o->failed++)
                snprintf(o->err, sizeof o->err, "cannot store a chunk");
            o->done++;
        }
    }
    if (o->done == o->split.count)
        origin_finish(o);
}

/* ---- delivery here ---------------------------------------------------------- */

static void delete_done(dstore_req *r)
{
    if (r->rc < 0 && r->rc != -ENOENT) {
        char hex[33];
        wire_bundle_id_hex(r->id, hex);
        log_err("spool: cannot delete delivered bundle %s: %s", hex, r->err);
    }
}

static void delete_bundle(dnet *n, const uint8_t id[WIRE_ID_LEN])
{
    dstore_req *r = dstore_req_new(DSTORE_DELETE, delete_done, NULL);
    if (!r)
        return;
    memcpy(r->id, id, WIRE_ID_LEN);
    r->reason = SPOOL_DELIVERED;
    dstore_submit(n->store, r);
}

static void ping_free(dping *pg);

static void on_control(dnet *n, const wire_bundle *b)
{
    if (!strcmp(b->name, "ping")) {
        /* Answer with the ping's id in the name ("pong HEX"); custody
         * makes the pong as reliable as any bundle. */
        char name[48], hex[33];
        wire_bundle_id_hex(b->id, hex);
        snprintf(name, sizeof name, "pong %s", hex);
        if (make_control(n, b->src, name, NULL, 0, 60000, NULL, NULL, 0) < 0)
            log_err("cannot answer a ping from %s", b->src);
        else
            log_debug("ping from %s answered", b->src);
    } else if (!strncmp(b->name, "pong ", 5)) {
        dping **pp;
        char hex[33];
        for (pp = &n->pings; *pp; pp = &(*pp)->next) {
            wire_bundle_id_hex((*pp)->id, hex);
            if (!strcmp(hex, b->name + 5))
                break;
        }
        if (*pp) {
            dping *pg = *pp;
            double rtt = net_hr() - pg->sent;
            *pp = pg->next;
            n->n_pings--;
            if (control_later_alive(pg->later)) {
                control_out *o = control_later_out(pg->later);
                control_printf(o, "{\"node\":");
                control_json_str(o, pg->dst);
                control_printf(o, ",\"rtt_s\":");
                control_json_num(o, round(rtt * 1e6) / 1e6);
                control_printf(o, "}\n");
            }
            control_later_done(pg->later);
            pg->later = NULL;
            ping_free(pg);
        }
    } else if (n->hooks.on_control && n->hooks.on_control(n->hooks.arg, b)) {
        return;                  /* kept until dnet_control_done */
    } else {
        log_warn("control bundle '%s' from %s not understood; dropped",
                 b->name, b->src);
    }
    delete_bundle(n, b->id);
}

static void deliver_done(dstore_req *r)
{
    dobject *ob = r->arg;
    dnet *n = ob->net;
    char hex[33];
    wire_bundle_id_hex(ob->o.object_id, hex);
    if (r->rc >= 0) {
        n->delivered += r->rc == 0;
        log_info("object %s%s%s delivered: %llu bytes from %s%s", hex,
                 ob->o.name[0] ? " " : "", ob->o.name,
                 (unsigned long long)ob->o.size, ob->o.src,
                 r->rc == INBOX_ALREADY ? " (already delivered; chunks "
                                          "dropped)" : "");
        if (n->hooks.on_delivered && !n->stopping)
            n->hooks.on_delivered(n->hooks.arg, &ob->o,
                                  r->rc == INBOX_ALREADY);
    } else {
        log_err("object %s from %s not delivered, its chunks stay in the "
                "spool: %s", hex, ob->o.src, r->err);
    }
    /* Forget it either way: a failed object's chunks stay stored and
     * come back at the next restart. */
    for (dobject **pp = &n->objects; *pp; pp = &(*pp)->next)
        if (*pp == ob) {
            *pp = ob->next;
            break;
        }
    n->n_objects--;
    free(ob->ids);
    free(ob->have);
    free(ob);
}

static void local_bundle(dnet *n, const wire_bundle *b)
{
    dobject *ob;
    uint32_t count = b->chunk_count ? b->chunk_count : 1;
    uint32_t idx = b->chunk_count ? b->chunk_index : 0;
    const uint8_t *oid = b->chunk_count ? b->object_id : b->id;
    char hex[33];
    if (b->kind == WIRE_KIND_CONTROL) {
        on_control(n, b);
        return;
    }
    for (ob = n->objects; ob; ob = ob->next)
        if (!memcmp(ob->o.object_id, oid, WIRE_ID_LEN))
            break;
    if (!ob) {
        if (count > NET_MAX_CHUNKS || n->n_objects >= NET_MAX_OBJECTS) {
            wire_bundle_id_hex(oid, hex);
            log_err("object %s from %s: %s; its chunks stay in the spool",
                    hex, b->src, count > NET_MAX_CHUNKS
                                     ? "too many chunks"
                                     : "too many objects being reassembled");
            return;
        }
        if (!(ob = calloc(1, sizeof *ob)) ||
            !(ob->ids = calloc(count, WIRE_ID_LEN)) ||
            !(ob->have = calloc(count, 1))) {
            if (ob)
                free(ob->ids);
            free(ob);
            log_err("out of memory for an object from %s", b->src);
            return;
        }
        ob->net = n;
        memcpy(ob->o.object_id, oid, WIRE_ID_LEN);
        ob->o.size = b->chunk_count ? b->object_size : b->payload_len;
        memcpy(ob->o.sha256, b->chunk_count ? b->object_sha256
                                             : b->payload_sha256,
               WIRE_SHA256_LEN);
        snprintf(ob->o.src, sizeof ob->o.src, "%s", b->src);
        snprintf(ob->o.name, sizeof ob->o.name, "%s", b->name);
        ob->o.chunk_count = count;
        ob->o.chunk_size = b->chunk_count && count > 1
                               ? (idx + 1 < count ? b->payload_len : 0)
                               : ob->o.size;
        ob->next = n->objects;
        n->objects = ob;
        n->n_objects++;
    }
    if (idx >= ob->o.chunk_count || ob->delivering)
        return;
    if (!ob->o.chunk_size && idx + 1 < count)
        ob->o.chunk_size = b->payload_len;
    if (!ob->have[idx]) {
        ob->have[idx] = 1;
        memcpy(ob->ids[idx], b->id, WIRE_ID_LEN);
        ob->n_have++;
    }
    if (ob->n_have == ob->o.chunk_count) {
        dstore_req *r = dstore_req_new(DSTORE_DELIVER, deliver_done, ob);
        if (!ob->o.chunk_size)
            ob->o.chunk_size = ob->o.size; /* one chunk */
        if (!r || !(r->ids = malloc((size_t)count * WIRE_ID_LEN))) {
            free(r);
            log_err("out of memory delivering an object; retried at "
                    "restart");
            return;
        }
        ob->delivering = 1;
        r->obj = ob->o;
        memcpy(r->ids, ob->ids, (size_t)count * WIRE_ID_LEN);
        r->nids = count;
        dstore_submit(n->store, r);
    }
}

/* ---- recovery: bundles stored for this node before a restart ---------- */

typedef struct recov {
    dnet *n;
    spool_meta *metas;
    size_t n_metas, next;
    int running;
} recov;

static void recov_pump(recov *rc);

static void recov_read_done(dstore_req *r)
{
    recov *rc = r->arg;
    dnet *n = rc->n;
    wire_msg m;
    char err[256];
    rc->running--;
    if (r->rc == 0 && r->len > WIRE_FRAME_HDR &&
        wire_msg_decode(r->buf + WIRE_FRAME_HDR, r->len - WIRE_FRAME_HDR, &m,
                        err, sizeof err) == 0 &&
        m.type == WIRE_MSG_BUNDLE) {
        if (!n->stopping)
            local_bundle(n, &m.u.bundle);
    } else {
        char hex[33];
        wire_bundle_id_hex(r->id, hex);
        log_err("stored bundle %s for this node cannot be read back (%s); "
                "left in the spool", hex, r->rc < 0 ? r->err : err);
    }
    recov_pump(rc);
}

/* Objects partly here, one line each (the first few): at a restart,
 * once the spool is read back, what resumes. */
static void log_partial(dnet *n, const char *what)
{
    int k = 0, more = 0;
    for (dobject *ob = n->objects; ob; ob = ob->next) {
        char hex[33];
        if (ob->delivering || ob->n_have >= ob->o.chunk_count)
            continue;
        if (k++ >= 8) {
            more++;
            continue;
        }
        wire_bundle_id_hex(ob->o.object_id, hex);
        log_info("%s: object %s%s%s from %s, %u/%u chunks here, the rest "
                 "to come", what, hex, ob->o.name[0] ? " " : "", ob->o.name,
                 ob->o.src, ob->n_have, ob->o.chunk_count);
    }
    if (more)
        log_info("%s: %d more objects partly here", what, more);
}

static void recov_pump(recov *rc)
{
    dnet *n = rc->n;
    while (!n->stopping && rc->next < rc->n_metas && rc->running < 4) {
        spool_meta *m = &rc->metas[rc->next++];
        dstore_req *r;
        if (strcmp(m->dst, node_self(n)))
            continue;
        if (!(r = dstore_req_new(DSTORE_READ, recov_read_done, rc)))
            break;
        memcpy(r->id, m->id, WIRE_ID_LEN);
        r->len = m->size;
        rc->running++;
        dstore_submit(n->store, r);
    }
    if (rc->running == 0) {
        if (!n->stopping && rc->next == rc->n_metas)
            log_partial(n, "resuming");
        free(rc->metas);
        free(rc);
    }
}

static void recov_list_done(dstore_req *r)
{
    recov *rc = r->arg;
    size_t local = 0;
    rc->metas = r->metas;
    rc->n_metas = r->nmetas;
    r->metas = NULL;
    for (size_t i = 0; i < rc->n_metas; i++)
        local += !strcmp(rc->metas[i].dst, node_self(rc->n));
    if (r->nmetas)
        log_info("spool holds %zu bundles, %zu of them for this node",
                 rc->n_metas, local);
    recov_pump(rc);
}

/* ---- ticks --------------------------------------------------------------- */

static void expire_done(dstore_req *r)
{
    dnet *n = r->arg;
    if (r->rc > 0)
        n->expired += (uint64_t)r->rc;
    else if (r->rc < 0)
        log_err("spool expiry: %s", r->err);
}

static void on_tick(uv_timer_t *t)
{
    dnet *n = t->data;
    net_peers_refresh(n);
    relay_routes(n);
    if (++n->ticks % 10 == 0) {
        dstore_req *r = dstore_req_new(DSTORE_EXPIRE, expire_done, n);
        if (r)
            dstore_submit(n->store, r);
    }
    net_kick(n, NULL);
}

/* ---- life ----------------------------------------------------------------- */

static void spool_log(void *arg, spool_event ev, const spool_meta *m,
                      const char *msg)
{
    char hex[33] = "";
    if (m)
        spool_id_hex(m->id, hex);
    switch (ev) {
    case SPOOL_EV_ERROR:
        log_err("spool: %s", msg);
        break;
    case SPOOL_EV_WARN:
    case SPOOL_EV_QUARANTINED:
    case SPOOL_EV_DEDUP_EVICTED:
        log_warn("spool: %s%s%s", msg, m ? " bundle " : "", hex);
        break;
    case SPOOL_EV_EXPIRED:
        log_warn("spool: bundle %s from %s for %s expired: %s", hex,
                 m ? m->src : "?", m ? m->dst : "?", msg);
        break;
    default:
        log_info("spool: %s", msg);
    }
}

int dnet_start(lagranged *d, dnet **out, char *err, size_t errlen)
{
    const dconf *c = d->conf;
    spool_opts so;
    dnet *n;
    int rc;
    *out = NULL;
    if (!(n = calloc(1, sizeof *n)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    n->d = d;
    spool_opts_init(&so);
    so.max_bytes = c->spool_max_bytes;
    so.max_count = (uint32_t)c->spool_max_bundles;
    so.max_delivered = so.max_count * 4;
    /* A stored bundle is one frame: at most MaxFrame plus its prefix. */
    so.max_bundle = c->max_frame + WIRE_FRAME_HDR;
    so.log = spool_log;
    if ((rc = lg_mkdir_parents(c->spool_dir.path, err, errlen)) < 0 ||
        (rc = lg_mkdir_parents(c->inbox_dir.path, err, errlen)) < 0)
        goto fail;
    if ((rc = dstore_open(&d->loop, c->spool_dir.path, &so, &n->store, err,
                          errlen)) < 0)
        goto fail;
    n->store_open = 1;
    if ((rc = inbox_open(&n->ib, c->inbox_dir.path, err, errlen)) < 0)
        goto fail;
    dstore_set_inbox(n->store, n->ib);
    if (c->tls) {
        char own[WIRE_NODE_MAX] = "";
        if ((rc = wire_tls_ctx_new(&n->tls, c->tls_cert.path, c->tls_key.path,
                                   c->tls_ca.path, err, errlen)) < 0) {
            size_t l = strlen(err);
            if (rc == -ENOENT && l + 1 < errlen)
                snprintf(err + l, errlen - l, " (a constellation's "
                         "certificates come from: lagrange cert ca --out "
                         "CADIR; lagrange cert node %s --ca CADIR --out "
                         "DIR)", c->node_id);
            goto fail;
        }
        wire_tls_ctx_own_name(n->tls, own, sizeof own);
        if (strcmp(own, c->node_id)) {
            rc = lg_errf(err, errlen, -EINVAL, "TlsCert=%s names node '%s', "
                         "but NodeId is '%s' (make one with: lagrange cert "
                         "node %s)", c->tls_cert.path, own, c->node_id,
                         c->node_id);
            goto fail;
        }
    } else {
        log_warn("Tls=no: peer sessions are neither encrypted nor "
                 "authenticated");
    }
    if ((rc = net_peers_init(n, err, errlen)) < 0 ||
        (rc = net_listen(n, err, errlen)) < 0)
        goto fail;
    relay_routes(n);
    if ((rc = dhealth_start(n, err, errlen)) < 0)
        goto fail;
    uv_timer_init(&d->loop, &n->tick);
    n->tick.data = n;
    n->handles++;
    n->tick_open = 1;
    uv_timer_start(&n->tick, on_tick, 1000, 1000);
    {
        recov *rv = calloc(1, sizeof *rv);
        dstore_req *r = rv ? dstore_req_new(DSTORE_FOREACH_META,
                                            recov_list_done, rv) : NULL;
        if (!r) {
            free(rv);
            rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
            goto fail;
        }
        rv->n = n;
        dstore_submit(n->store, r);
    }
    net_peers_start(n);
    *out = n;
    return 0;
fail:
    /* Nothing runs yet: the caller stops the daemon, which closes what is
     * open through dnet_stop. */
    *out = n;
    return rc;
}

static void store_closed(void *arg, int rc, const char *err)
{
    dnet *n = arg;
    if (rc < 0)
        log_err("spool close: %s", err);
    inbox_close(n->ib);
    if (n->tls)
        wire_tls_ctx_free(n->tls);
    if (n->tls_next)
        wire_tls_ctx_free(n->tls_next);
    while (n->objects) {
        dobject *o = n->objects;
        n->objects = o->next;
        free(o->ids);
        free(o->have);
        free(o);
    }
    free(n->next_hop);
    free(n->came_from);
    dhealth_free(n);
    net_peers_free(n);
    if (n->done)
        n->done(n->done_arg);
    free(n);
}

void net_check_done(dnet *n)
{
    if (!n->stopping || n->handles > 0 || n->sess_count > 0 ||
        n->n_pings > 0 || n->store_open != 1 || !n->done_set)
        return;
    n->store_open = 2;
    dstore_close(n->store, store_closed, n);
}

static void on_ping_closed(uv_handle_t *h)
{
    dping *pg = h->data;
    dnet *n = pg->net;
    free(pg);
    n->n_pings--;
    net_check_done(n);
}

static void ping_free(dping *pg)
{
    dnet *n = pg->net;
    n->n_pings++;                /* held until the timer closes */
    uv_close((uv_handle_t *)&pg->timer, on_ping_closed);
}

static void on_tick_closed(uv_handle_t *h)
{
    dnet *n = h->data;
    n->handles--;
    net_check_done(n);
}

void relay_stop(dnet *n)
{
    dhealth_stop(n);
    if (n->tick_open) {
        n->tick_open = 0;
        uv_close((uv_handle_t *)&n->tick, on_tick_closed);
    }
    while (n->pings) {
        dping *pg = n->pings;
        n->pings = pg->next;
        n->n_pings--;
        if (pg->later) {
            control_error(control_later_out(pg->later),
                          "lagranged is stopping");
            control_later_done(pg->later);
            pg->later = NULL;
        }
        ping_free(pg);
    }
}

void dnet_stop(dnet *n, void (*done)(void *arg), void *arg)
{
    n->done = done;
    n->done_arg = arg;
    n->done_set = 1;
    if (!n->store_open) {        /* failed before the store opened */
        store_closed(n, 0, "");
        return;
    }
    net_peers_stop(n);
    relay_stop(n);
    net_check_done(n);
}

static int path_changed(const dconf_path *a, const dconf_path *b)
{
    return strcmp(a->path ? a->path : "", b->path ? b->path : "") != 0;
}

int dnet_reload_check(dnet *n, const dconf *nc, char *err, size_t errlen)
{
    const dconf *oc = n->d->conf;
    wire_tls_ctx *t = NULL;
    int rc;
    if (strcmp(nc->listen, oc->listen))
        log_warn("Listen changed to %s; it moves at the next restart, still "
                 "listening on %s", nc->listen, oc->listen);
    if (path_changed(&nc->spool_dir, &oc->spool_dir))
        log_warn("SpoolDir changed to %s; it moves at the next restart, "
                 "still using %s", nc->spool_dir.path, oc->spool_dir.path);
    if (path_changed(&nc->inbox_dir, &oc->inbox_dir))
        log_warn("InboxDir changed to %s; it moves at the next restart, "
                 "still using %s", nc->inbox_dir.path, oc->inbox_dir.path);
    if (n->tls_next_set && n->tls_next)  /* a check without its reload */
        wire_tls_ctx_free(n->tls_next);
    n->tls_next = NULL;
    n->tls_next_set = 0;
    if (nc->tls) {
        char own[WIRE_NODE_MAX] = "";
        if ((rc = wire_tls_ctx_new(&t, nc->tls_cert.path, nc->tls_key.path,
                                   nc->tls_ca.path, err, errlen)) < 0)
            return rc;
        wire_tls_ctx_own_name(t, own, sizeof own);
        if (strcmp(own, nc->node_id)) {
            wire_tls_ctx_free(t);
            return lg_errf(err, errlen, -EINVAL, "TlsCert=%s names node "
                           "'%s', but NodeId is '%s'", nc->tls_cert.path, own,
                           nc->node_id);
        }
    }
    n->tls_next = t;
    n->tls_next_set = 1;
    n->tls_changed = nc->tls != oc->tls ||
                     (nc->tls && (path_changed(&nc->tls_cert, &oc->tls_cert) ||
                                  path_changed(&nc->tls_key, &oc->tls_key) ||
                                  path_changed(&nc->tls_ca, &oc->tls_ca)));
    return 0;
}

size_t dnet_describe(dnet *n, char *buf, size_t len)
{
    int up = 0, infl = 0, partial = 0, delivering = 0, shown = 0;
    size_t at = 0;
    spool_stats st;
#define PUT(...)                                                          \
    do {                                                                  \
        int w_ = at < len ? snprintf(buf + at, len - at, __VA_ARGS__) : 0;  \
        if (w_ > 0)                                                       \
            at += (size_t)w_ < len - at ? (size_t)w_ : len - at - 1;      \
    } while (0)
    if (len)
        buf[0] = '\0';
    if (!n)
        return 0;
    for (dsess *s = n->sessions; s; s = s->next)
        if (s->state == SESS_UP) {
            up++;
            infl += s->n_infl;
        }
    for (dobject *ob = n->objects; ob; ob = ob->next) {
        if (ob->delivering)
            delivering++;
        else if (ob->n_have < ob->o.chunk_count)
            partial++;
    }
    dstore_stats(n->store, &st);
    PUT("%d session%s, %d object%s partly received", up, up == 1 ? "" : "s",
        partial, partial == 1 ? "" : "s");
    for (dobject *ob = n->objects; ob && shown < 8; ob = ob->next) {
        if (ob->delivering || ob->n_have >= ob->o.chunk_count)
            continue;
        PUT("%s%s, %u/%u chunks", shown ? "; " : " (",
            ob->o.name[0] ? ob->o.name : "unnamed", ob->n_have,
            ob->o.chunk_count);
        shown++;
    }
    if (shown)
        PUT("%s)", partial > shown ? "; ..." : "");
    if (delivering)
        PUT(", %d being delivered", delivering);
    PUT(", %d bundle%s sent and not yet acked, %llu in the spool", infl,
        infl == 1 ? "" : "s", (unsigned long long)st.count);
#undef PUT
    return at;
}

void dnet_reload(dnet *n)
{
    if (n->tls_next_set) {
        /* Live sessions hold their own reference to the old SSL_CTX. */
        if (n->tls)
            wire_tls_ctx_free(n->tls);
        n->tls = n->tls_next;
        n->tls_next = NULL;
        n->tls_next_set = 0;
    }
    net_peers_reload(n);
    relay_routes(n);
    dhealth_reload(n);
    net_kick(n, NULL);
}

/* ---- control commands ------------------------------------------------------ */

static double ms3(double s)
{
    return round(s * 1e3) / 1e3;
}

int dnet_links(lagranged *d, dnet_link *out, int max)
{
    dnet *n = d->net;
    int k = 0;
    if (!n)
        return 0;
    for (int i = 0; i < n->n_peers && k < max; i++, k++) {
        dpeer *p = n->peers[i];
        dsess *s = p->sess;
        double rate, delay, opens, closes;
        int open = peer_window(p, &rate, &delay, &opens, &closes);
        dnet_link *l = &out[k];
        memset(l, 0, sizeof *l);
        snprintf(l->peer, sizeof l->peer, "%s", p->name);
        snprintf(l->state, sizeof l->state, "%s",
                 p->admin_down ? "down(admin)"
                 : s ? "up"
                 : p->dialing ? "connecting"
                 : p->addr[0] ? "retrying" : "waiting");
        l->session_up = s != NULL;
        l->window_open = open && p->out_link >= 0;
        l->rate_bps = isfinite(rate) ? rate * 8 : 0;
        l->delay_s = isfinite(delay) ? delay : 0;
        l->tx_bytes = p->tx_bytes;
        l->rx_bytes = p->rx_bytes;
        l->inflight = s ? s->n_infl : 0;
    }
    return k;
}

static int cmd_links(void *ctx, const char *args, control_out *o)
{
    lagranged *d = ctx;
    dnet *n = d->net;
    spool_stats st;
    double tnow;
    if (*args)
        return control_error(o, "links takes no arguments");
    if (!n)
        return control_error(o, "the network is not started");
    tnow = report_topo_now(n->d);
    dstore_stats(n->store, &st);
    for (int i = 0; i < n->n_peers; i++) {
        dpeer *p = n->peers[i];
        dsess *s = p->sess;
        double rate, delay, opens, closes;
        int open = peer_window(p, &rate, &delay, &opens, &closes);
        int queued = 0;
        const char *state = p->admin_down ? "down(admin)"
                            : s ? "up"
                            : p->dialing ? "connecting"
                            : p->addr[0] ? "retrying" : "waiting";
        for (int k = 0; n->next_hop && k < n->n_route_nodes; k++)
            queued += n->next_hop[k] == i;
        control_printf(o, "{\"node\":");
        control_json_str(o, p->name);
        control_printf(o, ",\"link\":\"%s->%s\",\"from\":\"%s\",\"to\":"
                       "\"%s\",\"state\":\"%s\",\"up\":%s,"
                       "\"window\":\"%s\",\"opens_in_s\":",
                       node_self(n), p->name, node_self(n), p->name, state,
                       open && p->out_link >= 0 ? "true" : "false",
                       p->out_link < 0 ? "none"
                       : !d->conf->emulate ||
                               d->conf->topo->links[p->out_link].always
                           ? "always"
                       : open ? "open" : isfinite(opens) ? "waiting"
                                                         : "none");
        if (isfinite(opens))
            control_json_num(o, ms3(opens - tnow));
        else
            control_printf(o, "null");
        control_printf(o, ",\"closes_in_s\":");
        if (isfinite(closes))
            control_json_num(o, ms3(closes - tnow));
        else
            control_printf(o, "null");
        control_printf(o, ",\"rate_bit_s\":");
        control_json_num(o, isfinite(rate) ? rate * 8 : NAN);
        control_printf(o, ",\"delay_s\":");
        control_json_num(o, delay);
        control_printf(o, ",\"peer\":");
        if (p->addr[0])
            control_json_str(o, p->addr);
        else
            control_printf(o, "null");
        control_printf(o, ",\"session\":");
        if (s)
            control_json_str(o, s->addr);
        else
            control_printf(o, "null");
        control_printf(o, ",\"tls\":");
        if (s && s->tls)
            control_json_str(o, wire_tls_cipher(s->tls));
        else
            control_printf(o, "null");
        control_printf(o, ",\"up_s\":");
        control_json_num(o, p->up_since ? ms3(net_hr() - p->up_since) : NAN);
        control_printf(o, ",\"in_flight\":%d,\"in_flight_bytes\":%llu,"
                       "\"emulated_backlog_bytes\":%zu,\"routed_nodes\":%d,"
                       "\"tx_bytes\":%llu,\"rx_bytes\":%llu,"
                       "\"tx_bundles\":%llu,\"rx_bundles\":%llu,"
                       "\"acked\":%llu,\"resent\":%llu,\"refused\":%llu,"
                       "\"sessions\":%llu,\"last_error\":",
                       s ? s->n_infl : 0,
                       (unsigned long long)(s ? s->infl_bytes : 0),
                       s ? s->pipe_bytes : (size_t)0, queued,
                       (unsigned long long)p->tx_bytes,
                       (unsigned long long)p->rx_bytes,
                       (unsigned long long)p->tx_bundles,
                       (unsigned long long)p->rx_bundles,
                       (unsigned long long)p->acked,
                       (unsigned long long)p->resent,
                       (unsigned long long)p->refused,
                       (unsigned long long)p->sessions);
        if (p->last_err[0])
            control_json_str(o, p->last_err);
        else
            control_printf(o, "null");
        control_printf(o, ",\"spool_bundles\":%llu}\n",
                       (unsigned long long)st.count);
    }
    return 0;
}

static int cmd_link(void *ctx, const char *args, control_out *o)
{
    lagranged *d = ctx;
    dnet *n = d->net;
    char verb[8], name[WIRE_NODE_MAX];
    dpeer *p;
    if (!n)
        return control_error(o, "the network is not started");
    if (sscanf(args, "%7s %63s", verb, name) != 2 ||
        (strcmp(verb, "up") && strcmp(verb, "down")))
        return control_error(o, "usage: link up|down PEER");
    if (!(p = net_peer_by_name(n, name)))
        return control_error(o, "'%s' is not a neighbour of %s", name,
                             node_self(n));
    if (!strcmp(verb, "down")) {
        if (!p->admin_down) {
            p->admin_down = 1;
            log_info("link %s taken down by the operator", p->name);
            if (p->sess)
                sess_close(p->sess, "link down by operator", 1);
            if (p->dialing)
                sess_close(p->dialing, "link down by operator", 0);
            uv_timer_stop(&p->retry);
        }
    } else if (p->admin_down) {
        p->admin_down = 0;
        p->backoff = d->conf->reconnect_min;
        log_info("link %s brought up by the operator", p->name);
        net_peers_redial(p);
    }
    relay_routes(n);
    control_printf(o, "{\"peer\":");
    control_json_str(o, p->name);
    control_printf(o, ",\"admin\":\"%s\"}\n", p->admin_down ? "down" : "up");
    return 0;
}

static void on_ping_timeout(uv_timer_t *t)
{
    dping *pg = t->data;
    dnet *n = pg->net;
    for (dping **pp = &n->pings; *pp; pp = &(*pp)->next)
        if (*pp == pg) {
            *pp = pg->next;
            n->n_pings--;
            break;
        }
    if (pg->later) {
        control_error(control_later_out(pg->later), "no answer from %s "
                      "within %.0f s", pg->dst, pg->timeout);
        control_later_done(pg->later);
        pg->later = NULL;
    }
    ping_free(pg);
}

static int cmd_ping(void *ctx, const char *args, control_out *o)
{
    lagranged *d = ctx;
    dnet *n = d->net;
    char dst[WIRE_NODE_MAX] = "";
    double timeout = 30;
    uint8_t pay[8] = { 0 };
    dping *pg;
    int found = 0;
    if (!n)
        return control_error(o, "the network is not started");
    if (sscanf(args, "%63s %lf", dst, &timeout) < 1 || timeout <= 0 ||
        timeout > 86400)
        return control_error(o, "usage: ping NODE [TIMEOUT_S]");
    for (int i = 0; i < d->conf->topo->n_nodes; i++)
        found |= !strcmp(d->conf->topo->nodes[i].name, dst);
    if (!found)
        return control_error(o, "'%s' is not a node of the topology", dst);
    if (!strcmp(dst, node_self(n)))
        return control_error(o, "'%s' is this node", dst);
    if (n->n_pings >= NET_MAX_PINGS)
        return control_error(o, "too many pings waiting");
    if (!(pg = calloc(1, sizeof *pg)))
        return control_error(o, "out of memory");
    pg->net = n;
    pg->timeout = timeout;
    snprintf(pg->dst, sizeof pg->dst, "%s", dst);
    if (make_control(n, dst, "ping", pay, sizeof pay,
                     (uint64_t)(timeout * 1e3), pg->id, NULL, 0) < 0) {
        free(pg);
        return control_error(o, "cannot make the ping bundle");
    }
    if (!(pg->later = control_defer(o))) {
        free(pg);
        return control_error(o, "out of memory");
    }
    pg->sent = net_hr();
    uv_timer_init(&d->loop, &pg->timer);
    pg->timer.data = pg;
    uv_timer_start(&pg->timer, on_ping_timeout, (uint64_t)(timeout * 1e3),
                   0);
    pg->next = n->pings;
    n->pings = pg;
    n->n_pings++;
    return CONTROL_DEFER;
}

/* send NODE PRIORITY LIFETIME_S PATH [NAME] */
/* On the threadpool: read the file and hash it (seconds for a large
 * file; the loop keeps serving meanwhile). */
static void send_read_work(uv_work_t *w)
{
    origin *org = w->data;
    char err[256];
    int rc;
    for (uint64_t got = 0; org->fd >= 0 && got < org->size;) {
        ssize_t r = read(org->fd, org->data + got, (size_t)(org->size - got));
        if (r <= 0) {
            snprintf(org->err, sizeof org->err, "%.200s: %s", org->path,
                     r < 0 ? strerror(errno) : "file shrank while read");
            org->failed = 1;
            return;
        }
        got += (uint64_t)r;
    }
    if ((rc = wire_chunk_split_init(&org->split, org->data, org->size,
                                    org->chunk, &org->tmpl, err,
                                    sizeof err)) < 0) {
        snprintf(org->err, sizeof org->err, "%s", err);
        org->failed = 1;
    }
}

static void send_read_done(uv_work_t *w, int status)
{
    origin *org = w->data;
    dnet *n = org->n;
    if (org->fd >= 0)
        close(org->fd);
    if (n->stopping || org->failed || status < 0) {
        const char *why = org->failed ? org->err : "lagranged is stopping";
        n->handles--;
        if (org->later) {
            control_error(control_later_out(org->later), "%s", why);
            control_later_done(org->later);
        } else if (org->cb)
            org->cb(org->cb_arg, org->failed ? -EIO : -ESHUTDOWN, why);
        free(org->data);
        free(org);
        net_check_done(n);
        return;
    }
    /* Read: every chunk goes into the spool even if a stop begins now
     * (the store stays open until origin_finish lets go), so an object
     * is never left half stored. */
    origin_pump(org);
}

static int cmd_send(void *ctx, const char *args, control_out *o)
{
    lagranged *d = ctx;
    dnet *n = d->net;
    char dst[WIRE_NODE_MAX], path[4096], name[WIRE_NAME_MAX] = "";
    unsigned prio;
    double life;
    int fd, found = 0;
    struct stat st;
    origin *org;
    if (!n)
        return control_error(o, "the network is not started");
    if (sscanf(args, "%63s %u %lf %4095s %255s", dst, &prio, &life, path,
               name) < 4 || prio > WIRE_PRIO_MAX || !(life > 0))
        return control_error(o, "usage: send NODE PRIORITY LIFETIME_S "
                             "PATH [NAME]");
    for (int i = 0; i < d->conf->topo->n_nodes; i++)
        found |= !strcmp(d->conf->topo->nodes[i].name, dst);
    if (!found)
        return control_error(o, "'%s' is not a node of the topology", dst);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return control_error(o, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > NET_LOCAL_MAX) {
        close(fd);
        return control_error(o, "%s: not a regular file of at most 1 GiB",
                             path);
    }
    if (!(org = calloc(1, sizeof *org)) ||
        !(org->data = malloc(st.st_size ? (size_t)st.st_size : 1))) {
        free(org);
        close(fd);
        return control_error(o, "out of memory");
    }
    org->n = n;
    org->fd = fd;
    org->size = (uint64_t)st.st_size;
    org->chunk = (size_t)d->conf->chunk_size;
    snprintf(org->path, sizeof org->path, "%s", path);
    snprintf(org->tmpl.src, sizeof org->tmpl.src, "%s", node_self(n));
    snprintf(org->tmpl.dst, sizeof org->tmpl.dst, "%s", dst);
    snprintf(org->tmpl.name, sizeof org->tmpl.name, "%s", name);
    org->tmpl.created_unix_ms = net_unix_ms();
    org->tmpl.lifetime_ms = (uint64_t)(life * 1e3);
    org->tmpl.priority = prio;
    org->tmpl.kind = WIRE_KIND_TENSOR_CHUNK;
    if (wire_bundle_new_id(org->tmpl.object_id) < 0 ||
        !(org->later = control_defer(o))) {
        close(fd);
        free(org->data);
        free(org);
        return control_error(o, "out of memory or entropy");
    }
    org->work.data = org;
    n->handles++;                /* the stop waits for the read and for
                                    every chunk to be stored */
    /* Fails only for a NULL work callback. */
    uv_queue_work(&d->loop, &org->work, send_read_work, send_read_done);
    return CONTROL_DEFER;
}

int dnet_get_counters(lagranged *d, dnet_counters *out)
{
    dnet *n = d->net;
    spool_stats st;
    memset(out, 0, sizeof *out);
    if (!n)
        return -ENOTCONN;
    dstore_stats(n->store, &st);
    out->spool_bundles = st.count;
    out->spool_bytes = st.bytes;
    out->quarantined = st.quarantined;
    out->originated = n->originated;
    out->forwarded = n->forwarded;
    out->delivered = n->delivered;
    out->expired = n->expired;
    out->refused = n->refused;
    out->job_dropped = n->job_dropped;
    out->job_dropped_bytes = n->job_dropped_bytes;
    out->received = n->rx_gone;
    for (int i = 0; i < n->n_peers; i++)
        out->received += n->peers[i]->rx_bundles;
    return 0;
}

/* The counters, and with a job the bundles of it held here. */
static void spool_reply(dnet *n, control_out *o, const char *job,
                        uint64_t jb, uint64_t jbytes)
{
    spool_stats st;
    dstore_counters dc;
    dstore_stats(n->store, &st);
    dstore_counters_get(n->store, &dc);
    control_printf(o, "{\"bundles\":%llu,\"bytes\":%llu,\"in_flight\":%llu,"
                   "\"quarantined\":%llu,\"syncs\":%llu,\"batches\":%llu,"
                   "\"delivered_objects\":%llu,\"originated\":%llu,"
                   "\"forwarded\":%llu,\"expired\":%llu,\"refused\":%llu,"
                   "\"job_dropped\":%llu,\"job_dropped_bytes\":%llu,"
                   "\"reassembling\":%d,",
                   (unsigned long long)st.count,
                   (unsigned long long)st.bytes,
                   (unsigned long long)st.inflight,
                   (unsigned long long)st.quarantined,
                   (unsigned long long)st.syncs,
                   (unsigned long long)dc.batches,
                   (unsigned long long)n->delivered,
                   (unsigned long long)n->originated,
                   (unsigned long long)n->forwarded,
                   (unsigned long long)n->expired,
                   (unsigned long long)n->refused,
                   (unsigned long long)n->job_dropped,
                   (unsigned long long)n->job_dropped_bytes, n->n_objects);
    if (job) {
        control_printf(o, "\"job\":");
        control_json_str(o, job);
        control_printf(o, ",\"job_bundles\":%llu,\"job_bytes\":%llu,",
                       (unsigned long long)jb, (unsigned long long)jbytes);
    }
    control_printf(o, "\"inbox\":");
    control_json_str(o, n->d->conf->inbox_dir.path);
    control_printf(o, "}\n");
}

typedef struct spool_ask {
    lagranged *d;
    control_later *later;
    char job[WIRE_JOB_MAX];
} spool_ask;

static void spool_job_done(dstore_req *r)
{
    spool_ask *a = r->arg;
    uint64_t cnt = 0, bytes = 0;
    if (control_later_alive(a->later)) {
        control_out *o = control_later_out(a->later);
        lagranged *d = a->d;
        if (r->rc < 0 || !d->net)
            control_error(o, "cannot read the spool: %s",
                          r->rc < 0 ? r->err : "the network stopped");
        else {
            for (size_t i = 0; i < r->nmetas; i++)
                if (!strcmp(r->metas[i].job, a->job)) {
                    cnt++;
                    bytes += r->metas[i].size;
                }
            spool_reply(d->net, o, a->job, cnt, bytes);
        }
    }
    control_later_done(a->later);
    free(a);
}

static int cmd_spool(void *ctx, const char *args, control_out *o)
{
    lagranged *d = ctx;
    dnet *n = d->net;
    char job[64] = "";
    spool_ask *a;
    dstore_req *r;
    if (!n)
        return control_error(o, "the network is not started");
    if (args && sscanf(args, "%63s", job) == 1 && job[0]) {
        if (strlen(job) >= WIRE_JOB_MAX)
            return control_error(o, "spool: job '%s' is longer than %d "
                                 "bytes", job, WIRE_JOB_MAX - 1);
        if (!(a = calloc(1, sizeof *a)) ||
            !(r = dstore_req_new(DSTORE_FOREACH_META, spool_job_done, a))) {
            free(a);
            return control_error(o, "out of memory");
        }
        memcpy(a->job, job, strlen(job) + 1);   /* < WIRE_JOB_MAX */
        a->d = d;
        a->later = control_defer(o);
        dstore_submit(n->store, r);
        return CONTROL_DEFER;
    }
    spool_reply(n, o, NULL, 0, 0);
    return 0;
}

const control_cmd dnet_cmds[] = {
    { "links", "links of this node: session, window, rate, delay, queue, "
               "bytes", cmd_links },
    { "link", "link up|down PEER: take a link down or up (drills, tests)",
      cmd_link },
    { "ping", "ping NODE [TIMEOUT_S]: bundle round trip to NODE",
      cmd_ping },
    { "send", "send NODE PRIORITY LIFETIME_S PATH [NAME]: send a file to "
              "NODE's inbox", cmd_send },
    { "spool", "spool [JOB]: spool and delivery counters (and the bundles "
               "of JOB held here)", cmd_spool },
    { "fault", "fault exec_checksum|ecc [N]: count N hardware faults in "
               "this node's health (hardware monitors, tests)",
      dhealth_cmd_fault },
    { NULL, NULL, NULL },
};

/* ---- for distributed jobs (net.h) ------------------------------------------- */

int dnet_send_object(lagranged *d, const dnet_object *ob, dnet_sent_cb done,
                     void *arg)
{
    dnet *n = d->net;
    origin *org;
    int fd = -1, found = 0;
    uint64_t size = ob->len;
    if (!n || n->stopping) {
        free(ob->data);
        return -ESHUTDOWN;
    }
    for (int i = 0; i < d->conf->topo->n_nodes; i++)
        found |= !strcmp(d->conf->topo->nodes[i].name, ob->dst);
    if (!found || ob->priority > WIRE_PRIO_MAX ||
        strlen(ob->name) >= WIRE_NAME_MAX ||
        (ob->job && strlen(ob->job) >= WIRE_JOB_MAX)) {
        free(ob->data);
        return -EINVAL;
    }
    if (ob->path) {
        struct stat st;
        if ((fd = open(ob->path, O_RDONLY | O_CLOEXEC)) < 0)
            return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size > NET_LOCAL_MAX) {
            close(fd);
            return -EFBIG;
        }
        size = (uint64_t)st.st_size;
    }
    if (!(org = calloc(1, sizeof *org)) ||
        (ob->path && !(org->data = malloc(size ? (size_t)size : 1)))) {
        free(org);
        if (fd >= 0)
            close(fd);
        free(ob->data);
        return -ENOMEM;
    }
    if (!ob->path)
        org->data = ob->data;
    org->n = n;
    org->fd = fd;
    org->size = size;
    org->chunk = (size_t)d->conf->chunk_size;
    snprintf(org->path, sizeof org->path, "%s", ob->path ? ob->path : "");
    snprintf(org->tmpl.src, sizeof org->tmpl.src, "%s", node_self(n));
    snprintf(org->tmpl.dst, sizeof org->tmpl.dst, "%s", ob->dst);
    snprintf(org->tmpl.name, sizeof org->tmpl.name, "%s", ob->name);
    org->tmpl.created_unix_ms = net_unix_ms();
    org->tmpl.lifetime_ms = ob->lifetime_ms;
    org->tmpl.priority = ob->priority;
    org->tmpl.kind = ob->kind;
    if (ob->job && *ob->job) {
        snprintf(org->tmpl.job, sizeof org->tmpl.job, "%s", ob->job);
        org->tmpl.job_epoch = ob->job_epoch;
    }
    if (ob->object_id)
        memcpy(org->tmpl.object_id, ob->object_id, WIRE_ID_LEN);
    else if (wire_bundle_new_id(org->tmpl.object_id) < 0) {
        if (fd >= 0)
            close(fd);
        free(org->data);
        free(org);
        return -EIO;
    }
    org->cb = done;
    org->cb_arg = arg;
    org->work.data = org;
    n->handles++;
    uv_queue_work(&d->loop, &org->work, send_read_work, send_read_done);
    return 0;
}

int dnet_send_control(lagranged *d, const char *dst, const char *name,
                      const uint8_t *p, size_t len, uint64_t lifetime_ms)
{
    dnet *n = d->net;
    if (!n || n->stopping)
        return -ESHUTDOWN;
    return make_control(n, dst, name, p, len, lifetime_ms, NULL, NULL, 0);
}

int dnet_send_control_job(lagranged *d, const char *dst, const char *name,
                          const uint8_t *p, size_t len, uint64_t lifetime_ms,
                          const char *job, unsigned job_epoch)
{
    dnet *n = d->net;
    if (!n || n->stopping)
        return -ESHUTDOWN;
    return make_control(n, dst, name, p, len, lifetime_ms, NULL, job,
                        job_epoch);
}

/* ---- the end of a job: its bundles leave the spool ------------------------ */

#define JDROP_SKIP 4

typedef struct jdrop {
    dnet *n;
    char job[WIRE_JOB_MAX];
    uint32_t epoch;
    char why[64];
    int first;                   /* this node had not heard of it */
    uint8_t *end;                /* JobEnd payload to pass on, or NULL */
    size_t endlen;
    int nskip;
    char skip[JDROP_SKIP][WIRE_NODE_MAX];
} jdrop;

static int jdrop_skips(const jdrop *jd, const char *node)
{
    if (!strcmp(node, node_self(jd->n)))
        return 1;
    for (int i = 0; i < jd->nskip; i++)
        if (!strcmp(jd->skip[i], node))
            return 1;
    return 0;
}

static void drop_done(dstore_req *r)
{
    jdrop *jd = r->arg;
    dnet *n = jd->n;
    char why[64];
    size_t i;
    for (i = 0; jd->why[i] && i + 1 < sizeof why; i++)
        why[i] = (char)(jd->why[i] >= 'A' && jd->why[i] <= 'Z'
                            ? jd->why[i] - 'A' + 'a' : jd->why[i]);
    why[i] = 0;
    if (r->rc < 0) {
        log_err("job %s: cannot drop its bundles from the spool (%s); they "
                "stay until they expire: %s", jd->job, why, r->err);
        goto out;
    }
    n->job_dropped += (uint64_t)r->rc;
    n->job_dropped_bytes += r->off;
    if (jd->first || r->rc > 0) {
        if (jd->epoch)
            log_info("job %s: dropped %d bundles (%llu bytes) of epoch %u "
                     "from the spool: %s", jd->job, r->rc,
                     (unsigned long long)r->off, jd->epoch, why);
        else
            log_info("job %s: dropped %d bundles (%llu bytes) from the "
                     "spool: %s", jd->job, r->rc,
                     (unsigned long long)r->off, why);
    }
    if (r->rc > 0)
        net_kick(n, NULL);
    /* The end follows the bundles: to every node they were bound for
     * that has not been told, once per destination. */
    for (size_t k = 0; jd->end && jd->first && !n->stopping &&
                       k < r->nmetas; k++) {
        const spool_meta *m = &r->metas[k];
        uint64_t now = net_unix_ms(), last = 0;
        int cnt = 0, told = jdrop_skips(jd, m->dst);
        for (size_t q = 0; q < k && !told; q++)
            told = !strcmp(r->metas[q].dst, m->dst);
        if (told)
            continue;
        for (size_t q = k; q < r->nmetas; q++)
            if (!strcmp(r->metas[q].dst, m->dst)) {
                uint64_t exp = r->metas[q].created_unix_ms +
                               r->metas[q].lifetime_ms;
                cnt++;
                if (exp > last)
                    last = exp;
            }
        /* It need not outlive the bundles it chases. */
        if (make_control(n, m->dst, "job.end", jd->end, jd->endlen,
                         last > now + 60000 ? last - now : 60000, NULL,
                         jd->job, jd->epoch) < 0)
            log_err("job %s: cannot pass its end on to %s", jd->job,
                    m->dst);
        else
            log_info("job %s: end passed on to %s (%d of the dropped "
                     "bundles were bound there)", jd->job, m->dst, cnt);
    }
out:
    free(jd->end);
    free(jd);
}

int dnet_job_ended(lagranged *d, const char *job, unsigned epoch)
{
    return d->net && net_ended(d->net, job, epoch);
}

int dnet_drop_job(lagranged *d, const char *job, unsigned epoch,
                  const char *why, const uint8_t *end, size_t endlen,
                  const char *const *skip, int nskip)
{
    dnet *n = d->net;
    dstore_req *r;
    jdrop *jd;
    if (!n || n->stopping)
        return -ESHUTDOWN;
    if (!job || !*job || strlen(job) >= WIRE_JOB_MAX)
        return -EINVAL;
    if (!(jd = calloc(1, sizeof *jd)) ||
        (end && !(jd->end = malloc(endlen ? endlen : 1)))) {
        free(jd);
        return -ENOMEM;
    }
    jd->n = n;
    snprintf(jd->job, sizeof jd->job, "%s", job);
    jd->epoch = epoch;
    snprintf(jd->why, sizeof jd->why, "%s", why && *why ? why : "ended");
    if (end) {
        memcpy(jd->end, end, endlen);
        jd->endlen = endlen;
    }
    for (int i = 0; i < nskip && jd->nskip < JDROP_SKIP; i++)
        if (skip[i])
            snprintf(jd->skip[jd->nskip++], WIRE_NODE_MAX, "%s", skip[i]);
    jd->first = !net_ended(n, job, epoch);
    if (jd->first) {
        snprintf(n->ended[n->ended_next].job, sizeof n->ended[0].job, "%s",
                 job);
        n->ended[n->ended_next].epoch = epoch;
        n->ended_next = (n->ended_next + 1) % NET_ENDED_MAX;
        if (n->n_ended < NET_ENDED_MAX)
            n->n_ended++;
    }
    if (!(r = dstore_req_new(DSTORE_DROP_JOB, drop_done, jd))) {
        free(jd->end);
        free(jd);
        return -ENOMEM;
    }
    snprintf(r->meta.job, sizeof r->meta.job, "%s", job);
    r->meta.job_epoch = epoch;
    r->reason = SPOOL_CANCELLED;
    dstore_submit(n->store, r);
    return 0;
}

void dnet_set_hooks(lagranged *d, const dnet_hooks *h)
{
    if (d->net)
        d->net->hooks = *h;
}

void dnet_control_done(lagranged *d, const uint8_t id[WIRE_ID_LEN])
{
    if (d->net)
        delete_bundle(d->net, id);
}

int dnet_first_hop(lagranged *d, const char *node, char *hop, size_t hoplen,
                   int *open, double *opens_in)
{
    dnet *n = d->net;
    int idx = -1, pi;
    double rate, delay, opens = INFINITY, closes;
    if (!n || !n->next_hop)
        return -ENOENT;
    for (int i = 0; i < d->conf->topo->n_nodes && i < n->n_route_nodes; i++)
        if (!strcmp(d->conf->topo->nodes[i].name, node))
            idx = i;
    if (idx < 0 || idx == d->conf->node || (pi = n->next_hop[idx]) < 0 ||
        pi >= n->n_peers)
        return -ENOENT;
    snprintf(hop, hoplen, "%s", n->peers[pi]->name);
    *open = peer_window(n->peers[pi], &rate, &delay, &opens, &closes);
    *opens_in = *open ? 0 : opens - report_topo_now(d);
    return 0;
}
