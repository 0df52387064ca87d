/*
 * nodehealth.c - node health in the daemon (see nodehealth.h): this node's own
 * record, the gossip in heartbeats (peer.c calls dhealth_fill and
 * dhealth_received), the liveness table and its log lines, and the
 * "fault" control command.
 */
#include "nodehealth.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"            /* lib/plan: the liveness table */
#include "lgerr.h"
#include "log.h"
#include "webhook.h"
#include "net_int.h"
#include "power.h"
#include "report.h"
#include "scheduler.h"

struct dhealth {
    dnet *net;
    plan_health *tab;
    uv_timer_t timer;
    int timer_open;
    double sample;               /* timer period, s */
    double last_sample;          /* hr s of the previous sample */
    double last_record;          /* hr s of the last record, 0: none */
    double busy_s, span_s;       /* since the last record */
    double energy;               /* battery, Wh (solar nodes) */
    uint64_t seq;
    uint64_t exec_checksum, ecc; /* injected fault counts */
    uint64_t upsets;             /* "fault upset": tensors still to mangle */
    wire_health self;            /* the last record made */
};

static dhealth *of(lagranged *d)
{
    return d->net ? d->net->health : NULL;
}

/* A node's transition, as a webhook event (node.suspect, node.dead,
 * node.recovered, node.fault): the node, why, and what its freshest
 * record said. dhook_emit queues it durably (or does nothing without
 * Webhook= lines). */
void health_event(lagranged *d, const char *event, const char *node,
                  const char *detail)
{
    const dhealth *h = of(d);
    const plan_health *ph = h ? h->tab : NULL;
    int i = plan_topology_find(d->conf->topo, node);
    const plan_hnode *hn = ph && i >= 0 ? plan_health_get(ph, i) : NULL;
    dhook_fields f;
    dhook_fields_init(&f);
    dhook_f_begin(&f, "peer");
    dhook_f_str(&f, "name", node);
    dhook_f_str(&f, "detail", detail);
    if (hn) {
        dhook_f_str(&f, "state", plan_hstate_name(hn->state));
        dhook_f_num(&f, "silent_s", hn->silent);
    }
    if (hn && hn->have) {
        const wire_health *r = &hn->rec;
        dhook_f_time(&f, "last_record", r->unix_ms);
        dhook_f_uint(&f, "jobs_running", r->jobs_running);
        dhook_f_num(&f, "load", r->load);
        if (r->battery_soc >= 0)
            dhook_f_num(&f, "battery_soc", r->battery_soc);
        dhook_f_bool(&f, "sunlit", r->sunlit);
        dhook_f_uint(&f, "fault_exec_checksum", r->fault_exec_checksum);
        dhook_f_uint(&f, "fault_ecc", r->fault_ecc);
        dhook_f_uint(&f, "fault_spool_quarantined",
                     r->fault_spool_quarantined);
    }
    dhook_f_end(&f);
    log_debug("event %s node %s: %s", event, node, detail);
    if (d->hooks && dhook_emit(d->hooks, event, &f) < 0)
        log_warn("event %s for node %s not queued for webhooks", event,
                 node);
}

static void on_transition(void *arg, int node, enum plan_hevent ev,
                          const char *detail)
{
    dhealth *h = arg;
    lagranged *d = h->net->d;
    const plan_topology *t = d->conf->topo;
    const char *name = node >= 0 && node < t->n_nodes ? t->nodes[node].name
                                                       : "?";
    static const char *const word[] = { "heard", "suspect", "dead",
                                        "recovered", "fault" };
    if (ev == PLAN_HE_HEARD || ev == PLAN_HE_RECOVERED)
        log_info("node %s %s: %s", name, word[ev], detail);
    else
        log_warn("node %s %s: %s", name, word[ev], detail);
    if (ev != PLAN_HE_HEARD)
        health_event(d, plan_hevent_name(ev), name, detail);
}

/* ---- own record ----------------------------------------------------------- */

static const plan_power *own_power(const dhealth *h)
{
    const dconf *c = h->net->d->conf;
    return &c->topo->nodes[c->node].power;
}

static void make_record(dhealth *h)
{
    lagranged *d = h->net->d;
    const plan_power *p = own_power(h);
    double tt = report_topo_now(d);
    wire_health *r = &h->self;
    dnet_counters nc;
    memset(r, 0, sizeof *r);
    snprintf(r->node, sizeof r->node, "%s", d->conf->node_id);
    r->unix_ms = net_unix_ms();
    r->boot_unix_ms = (uint64_t)(d->start_unix * 1e3);
    if (r->boot_unix_ms == 0)
        r->boot_unix_ms = 1;
    r->seq = h->seq++;
    r->jobs_running = (uint32_t)sched_running(d);
    r->jobs_queued = sched_queued(d);
    r->load = h->span_s > 0 ? h->busy_s / h->span_s : 0;
    if (!(r->load >= 0))
        r->load = 0;
    if (r->load > 1)
        r->load = 1;
    if (p->solar && p->battery_wh > 0) {
        r->battery_soc = h->energy / p->battery_wh;
        if (!(r->battery_soc >= 0))
            r->battery_soc = 0;
        if (r->battery_soc > 1)
            r->battery_soc = 1;
        r->sunlit = !plan_power_in_eclipse(p, tt);
    } else {
        r->battery_soc = -1;
        r->sunlit = 1;
    }
    r->fault_exec_checksum = h->exec_checksum;
    r->fault_ecc = h->ecc;
    if (dnet_get_counters(d, &nc) == 0)
        r->fault_spool_quarantined = nc.quarantined;
    h->busy_s = h->span_s = 0;
    plan_health_set_self(h->tab, r);
}

static void on_timer(uv_timer_t *t)
{
    dhealth *h = t->data;
    lagranged *d = h->net->d;
    const dconf *c = d->conf;
    const plan_power *p = own_power(h);
    double now = net_hr(), dt = now - h->last_sample;
    double tt = report_topo_now(d);
    int busy = sched_running(d) > 0;
    h->last_sample = now;
    if (dt < 0)
        dt = 0;
    h->span_s += dt;
    if (busy)
        h->busy_s += dt;
    if (p->solar && p->battery_wh > 0) {
        double w = plan_power_solar(p, tt) - (busy ? p->busy_w : p->idle_w);
        h->energy += dt * w / 3600;
        if (h->energy > p->battery_wh)
            h->energy = p->battery_wh;
        if (h->energy < 0)
            h->energy = 0;
    }
    if (h->last_record == 0 || now - h->last_record >= c->heartbeat - 1e-3) {
        h->last_record = now;
        make_record(h);
        plan_health_advance(h->tab, c->topo, (double)net_unix_ms() / 1e3, tt,
                            c->emulate);
    }
}

static double sample_period(const dconf *c)
{
    double s = c->heartbeat / 4;
    return s < 0.05 ? 0.05 : s > 0.5 ? 0.5 : s;
}

int dhealth_start(dnet *n, char *err, size_t errlen)
{
    lagranged *d = n->d;
    const dconf *c = d->conf;
    dhealth *h = calloc(1, sizeof *h);
    if (!h)
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    h->net = n;
    h->tab = plan_health_new(c->topo, c->node_id, c->suspect_after,
                             c->dead_after, c->heartbeat, on_transition, h);
    if (!h->tab) {
        free(h);
        return lg_errf(err, errlen, -ENOMEM, "out of memory for the node "
                       "health table");
    }
    {
        const plan_power *p = own_power(h);
        h->energy = p->solar ? p->soc0 * p->battery_wh : 0;
    }
    n->health = h;
    h->sample = sample_period(c);
    h->last_sample = net_hr();
    make_record(h);
    h->last_record = h->last_sample;
    uv_timer_init(&d->loop, &h->timer);
    h->timer.data = h;
    h->timer_open = 1;
    n->handles++;
    uv_timer_start(&h->timer, on_timer, (uint64_t)(h->sample * 1e3),
                   (uint64_t)(h->sample * 1e3));
    return 0;
}

static void on_timer_closed(uv_handle_t *hd)
{
    dhealth *h = hd->data;
    dnet *n = h->net;
    n->handles--;
    net_check_done(n);
}

void dhealth_stop(dnet *n)
{
    dhealth *h = n->health;
    if (h && h->timer_open) {
        h->timer_open = 0;
        uv_close((uv_handle_t *)&h->timer, on_timer_closed);
    }
}

void dhealth_free(dnet *n)
{
    dhealth *h = n->health;
    if (!h)
        return;
    plan_health_free(h->tab);
    free(h);
    n->health = NULL;
}

void dhealth_reload(dnet *n)
{
    dhealth *h = n->health;
    const dconf *c = n->d->conf;
    int rc;
    if (!h)
        return;
    plan_health_set_limits(h->tab, c->suspect_after, c->dead_after,
                           c->heartbeat);
    if ((rc = plan_health_rebind(h->tab, c->topo, c->node_id)) < 0)
        log_err("node health: cannot follow the new topology (%s): the "
                "liveness of nodes is not updated until the next reload",
                lg_strerror(rc));
    if (h->timer_open && sample_period(c) != h->sample) {
        h->sample = sample_period(c);
        uv_timer_start(&h->timer, on_timer, (uint64_t)(h->sample * 1e3),
                       (uint64_t)(h->sample * 1e3));
    }
}

/* ---- gossip --------------------------------------------------------------- */

void dhealth_fill(dnet *n, dsess *s, wire_heartbeat *hb)
{
    dhealth *h = n->health;
    uint32_t max = s->peer_max_frame ? s->peer_max_frame : WIRE_FRAME_LIMIT;
    size_t fit, k = 0;
    int nn, self, start;
    hb->n_health = 0;
    if (!h)
        return;
    fit = max > WIRE_HEARTBEAT_HEAD_MAX
              ? (max - WIRE_HEARTBEAT_HEAD_MAX) / WIRE_HEALTH_ENC_MAX
              : 0;
    if (fit > WIRE_HEALTH_MAX)
        fit = WIRE_HEALTH_MAX;
    if (fit == 0)
        return;
    hb->health[k++] = h->self;
    nn = plan_health_n(h->tab);
    self = plan_health_self(h->tab);
    /* The others from where this session's last heartbeat stopped, so
     * that all of them go out in turn when they do not fit in one. */
    start = nn > 0 ? s->hb_cursor % nn : 0;
    for (int j = 0; j < nn && k < fit; j++) {
        int i = (start + j) % nn;
        const plan_hnode *e = plan_health_get(h->tab, i);
        if (i == self || !e->have || !strcmp(e->rec.node, s->peer_name))
            continue;
        hb->health[k++] = e->rec;
        s->hb_cursor = i + 1;
    }
    hb->n_health = k;
}

void dhealth_received(dnet *n, dsess *s, const wire_heartbeat *hb)
{
    dhealth *h = n->health;
    double now = (double)net_unix_ms() / 1e3;
    size_t bad = hb->n_health_bad;
    if (!h)
        return;
    for (size_t i = 0; i < hb->n_health; i++) {
        enum plan_hoffer r = plan_health_offer(h->tab, &hb->health[i], now);
        if (r == PLAN_HO_BAD || r == PLAN_HO_UNKNOWN_NODE)
            bad++;
    }
    if (bad)
        log_debug("peer %s: %zu health record%s skipped (malformed, from "
                  "the future or of a node not in the topology)",
                  s->peer_name, bad, bad == 1 ? "" : "s");
}

/* ---- views and commands ---------------------------------------------------- */

int dhealth_node(lagranged *d, int i, dhealth_view *out)
{
    dhealth *h = of(d);
    const plan_hnode *e;
    memset(out, 0, sizeof *out);
    out->state = "unknown";
    if (!h || !(e = plan_health_get(h->tab, i)))
        return -ENOENT;
    out->state = plan_hstate_name(e->state);
    out->have = e->have;
    out->rec = e->rec;
    out->audible = e->audible;
    out->silent_s = e->silent;
    if (e->have) {
        double age = ((double)net_unix_ms() - (double)e->rec.unix_ms) / 1e3;
        out->age_s = age > 0 ? age : 0;
    }
    return 0;
}

int dhealth_take_upset(lagranged *d)
{
    dhealth *h = of(d);
    if (!h || !h->upsets)
        return 0;
    h->upsets--;
    return 1;
}

int dhealth_cmd_fault(void *ctx, const char *args, control_out *o)
{
    lagranged *d = ctx;
    dhealth *h = of(d);
    char kind[32] = "", extra[2];
    unsigned long long add = 1;
    int nw;
    uint64_t *ctr;
    if (!h)
        return control_error(o, "the network is not started");
    nw = sscanf(args, "%31s %llu %1s", kind, &add, extra);
    if (nw < 1 || nw > 2 || add == 0 || add > 1000000 ||
        (nw == 2 && strchr(args, '-')))
        return control_error(o, "usage: fault exec_checksum|ecc|upset [N], "
                             "N in 1..1000000");
    if (!strcmp(kind, "exec_checksum"))
        ctr = &h->exec_checksum;
    else if (!strcmp(kind, "ecc"))
        ctr = &h->ecc;
    else if (!strcmp(kind, "upset")) {
        /* An upset ECC saw, and the damage it did: the next N tensors
         * this node sends leave with their header zeroed. */
        ctr = &h->ecc;
        h->upsets += add;
    } else
        return control_error(o, "unknown fault kind '%s' (exec_checksum, "
                             "ecc or upset; spool_quarantined is the "
                             "spool's own count)", kind);
    *ctr += add;
    log_warn("fault: %s +%llu (%" PRIu64 " since start), reported by "
             "command", kind, add, *ctr);
    /* The next sample makes a record carrying it. */
    h->last_record = 0;
    control_printf(o, "{\"kind\":");
    control_json_str(o, kind);
    control_printf(o, ",\"added\":%llu,\"count\":%" PRIu64 "}\n", add,
                   *ctr);
    return 0;
}
