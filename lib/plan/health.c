/*
 * health.c - the node health table and the liveness state machine (see
 * health.h): record freshness, silence counted only while the contact
 * plan says a node could be heard, and the transitions with their reason.
 */
#include "health.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contact.h"

struct plan_health {
    int n;                       /* topology nodes */
    int self;
    char (*names)[PLAN_NAME_MAX];
    plan_hnode *nodes;
    double *lag;                 /* scratch for plan_health_audible */
    double suspect, dead, gossip;
    double last;                 /* time of the previous advance, 0 none */
    plan_health_cb cb;
    void *arg;
};

const char *plan_hstate_name(enum plan_hstate s)
{
    switch (s) {
    case PLAN_H_UP: return "up";
    case PLAN_H_SUSPECT: return "suspect";
    case PLAN_H_DEAD: return "dead";
    default: return "unknown";
    }
}

const char *plan_hevent_name(enum plan_hevent e)
{
    switch (e) {
    case PLAN_HE_HEARD: return "node.heard";
    case PLAN_HE_SUSPECT: return "node.suspect";
    case PLAN_HE_DEAD: return "node.dead";
    case PLAN_HE_RECOVERED: return "node.recovered";
    default: return "node.fault";
    }
}

static int find(const plan_health *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->names[i], name))
            return i;
    return -1;
}

static int topo_find(const plan_topology *t, const char *name)
{
    for (int i = 0; i < t->n_nodes; i++)
        if (!strcmp(t->nodes[i].name, name))
            return i;
    return -1;
}

/* New arrays for t; entries of h (if any) move over by name. */
static int bind(plan_health *h, const plan_topology *t, const char *self)
{
    int me = topo_find(t, self), n = t->n_nodes;
    char (*names)[PLAN_NAME_MAX];
    plan_hnode *nodes;
    double *lag;
    if (me < 0)
        return -ENOENT;
    names = calloc((size_t)n, sizeof *names);
    nodes = calloc((size_t)n, sizeof *nodes);
    lag = calloc((size_t)n, sizeof *lag);
    if (!names || !nodes || !lag) {
        free(names);
        free(nodes);
        free(lag);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        int old = h->names ? find(h, t->nodes[i].name) : -1;
        snprintf(names[i], sizeof names[i], "%s", t->nodes[i].name);
        if (old >= 0)
            nodes[i] = h->nodes[old];
        else
            nodes[i].lag = INFINITY;
    }
    nodes[me].state = PLAN_H_UP;
    nodes[me].silent = 0;
    free(h->names);
    free(h->nodes);
    free(h->lag);
    h->names = names;
    h->nodes = nodes;
    h->lag = lag;
    h->n = n;
    h->self = me;
    return 0;
}

plan_health *plan_health_new(const plan_topology *t, const char *self,
                             double suspect, double dead, double gossip,
                             plan_health_cb cb, void *arg)
{
    plan_health *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->cb = cb;
    h->arg = arg;
    plan_health_set_limits(h, suspect, dead, gossip);
    if (bind(h, t, self) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

void plan_health_free(plan_health *h)
{
    if (!h)
        return;
    free(h->names);
    free(h->nodes);
    free(h->lag);
    free(h);
}

void plan_health_set_limits(plan_health *h, double suspect, double dead,
                            double gossip)
{
    h->suspect = suspect;
    h->dead = dead < suspect ? suspect : dead;
    h->gossip = gossip > 0 ? gossip : 0;
}

int plan_health_rebind(plan_health *h, const plan_topology *t,
                       const char *self)
{
    return bind(h, t, self);
}

int plan_health_n(const plan_health *h) { return h->n; }
int plan_health_self(const plan_health *h) { return h->self; }

const plan_hnode *plan_health_get(const plan_health *h, int i)
{
    return i >= 0 && i < h->n ? &h->nodes[i] : NULL;
}

void plan_health_set_self(plan_health *h, const wire_health *r)
{
    plan_hnode *e = &h->nodes[h->self];
    e->have = 1;
    e->rec = *r;
    e->state = PLAN_H_UP;
    e->silent = 0;
    e->audible = 1;
    e->lag = 0;
}

/* "19:02:11Z" for a Unix ms time. */
static void hms(char *buf, size_t len, uint64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm))
        snprintf(buf, len, "?");
    else
        strftime(buf, len, "%H:%M:%SZ", &tm);
}

static void emit(plan_health *h, int i, enum plan_hevent ev,
                 const char *detail)
{
    if (h->cb)
        h->cb(h->arg, i, ev, detail);
}

/* Counters of r above those of old (same boot), or above 0 (new boot or
 * first record): "exec_checksum +2, ecc +1" into buf; 0 if none rose. */
static int fault_rise(const wire_health *old, const wire_health *r,
                      char *buf, size_t len)
{
    const uint64_t now[3] = { r->fault_exec_checksum, r->fault_ecc,
                              r->fault_spool_quarantined };
    uint64_t was[3] = { 0, 0, 0 };
    static const char *const what[3] = { "exec_checksum", "ecc",
                                         "spool_quarantined" };
    size_t off = 0;
    int rose = 0;
    if (old && old->boot_unix_ms == r->boot_unix_ms) {
        was[0] = old->fault_exec_checksum;
        was[1] = old->fault_ecc;
        was[2] = old->fault_spool_quarantined;
    }
    buf[0] = '\0';
    for (int k = 0; k < 3; k++) {
        if (now[k] <= was[k])
            continue;
        if (off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s%s +%llu (%llu)",
                                    rose ? ", " : "", what[k],
                                    (unsigned long long)(now[k] - was[k]),
                                    (unsigned long long)now[k]);
        rose = 1;
    }
    return rose;
}

enum plan_hoffer plan_health_offer(plan_health *h, const wire_health *r,
                                   double now)
{
    char e[160], detail[320], at[16], faults[200];
    plan_hnode *n;
    wire_health old;
    int i, had;
    enum plan_hstate was;

    if (wire_health_validate(r, e, sizeof e) < 0)
        return PLAN_HO_BAD;
    if ((double)r->unix_ms / 1e3 > now + PLAN_HEALTH_SKEW_MAX ||
        (double)r->boot_unix_ms / 1e3 > now + PLAN_HEALTH_SKEW_MAX)
        return PLAN_HO_BAD;
    if ((i = find(h, r->node)) < 0)
        return PLAN_HO_UNKNOWN_NODE;
    if (i == h->self)
        return PLAN_HO_SELF;
    n = &h->nodes[i];
    if (n->have && (r->boot_unix_ms < n->rec.boot_unix_ms ||
                    (r->boot_unix_ms == n->rec.boot_unix_ms &&
                     r->seq <= n->rec.seq)))
        return PLAN_HO_OLDER;
    had = n->have;
    old = n->rec;
    was = n->state;
    n->have = 1;
    n->rec = *r;
    n->heard_at = now;
    n->silent = 0;
    n->state = PLAN_H_UP;
    hms(at, sizeof at, r->unix_ms);
    if (was == PLAN_H_UNKNOWN) {
        snprintf(detail, sizeof detail, "first record (made %s, seq %llu)",
                 at, (unsigned long long)r->seq);
        emit(h, i, PLAN_HE_HEARD, detail);
    } else if (was == PLAN_H_SUSPECT || was == PLAN_H_DEAD) {
        char before[16];
        hms(before, sizeof before, old.unix_ms);
        snprintf(detail, sizeof detail, "was %s, record made %s%s "
                 "(previous %s)", plan_hstate_name(was), at,
                 r->boot_unix_ms != old.boot_unix_ms ? " after a restart"
                                                     : "",
                 before);
        emit(h, i, PLAN_HE_RECOVERED, detail);
    }
    if (fault_rise(had ? &old : NULL, r, faults, sizeof faults))
        emit(h, i, PLAN_HE_FAULT, faults);
    return PLAN_HO_NEWER;
}

static int link_open(const plan_link *l, double tt, int windows,
                     double *delay)
{
    int w;
    *delay = 0;
    if (!windows || l->always) {
        if (l->n_win)
            *delay = l->win[0].delay;
        return 1;
    }
    w = plan_link_window_at(l, tt);
    if (w >= l->n_win || l->win[w].start > tt)
        return 0;
    *delay = l->win[w].delay;
    return 1;
}

void plan_health_audible(const plan_topology *t, int to, double tt,
                         int windows, double gossip, double *lag)
{
    int changed = 1;
    for (int i = 0; i < t->n_nodes; i++)
        lag[i] = INFINITY;
    lag[to] = 0;
    /* Bellman-Ford toward `to`: at most n - 1 rounds. */
    for (int round = 0; changed && round < t->n_nodes; round++) {
        changed = 0;
        for (int k = 0; k < t->n_links; k++) {
            const plan_link *l = &t->links[k];
            double d, c;
            if (!isfinite(lag[l->to]) || !link_open(l, tt, windows, &d))
                continue;
            c = lag[l->to] + d + gossip;
            if (c < lag[l->from]) {
                lag[l->from] = c;
                changed = 1;
            }
        }
    }
}

void plan_health_advance(plan_health *h, const plan_topology *t, double now,
                         double tt, int windows)
{
    double prev = h->last > 0 && h->last <= now ? h->last : now;
    if (t->n_nodes != h->n)
        return;                 /* not rebound yet: nothing sound to say */
    h->last = now;
    plan_health_audible(t, h->self, tt, windows, h->gossip, h->lag);
    for (int i = 0; i < h->n; i++) {
        plan_hnode *n = &h->nodes[i];
        double from, dt;
        char detail[320], at[16];
        if (i == h->self)
            continue;
        n->lag = h->lag[i];
        n->audible = isfinite(h->lag[i]);
        if (!n->have || !n->audible)
            continue;
        /* Nothing newer could have arrived before the record's origin
         * time + the path's lag. */
        from = (double)n->rec.unix_ms / 1e3 + n->lag;
        if (from < prev)
            from = prev;
        if ((dt = now - from) <= 0)
            continue;
        n->silent += dt;
        hms(at, sizeof at, n->rec.unix_ms);
        if (n->state != PLAN_H_DEAD && n->silent >= h->dead) {
            n->state = PLAN_H_DEAD;
            snprintf(detail, sizeof detail, "silent for %.1f s while "
                     "reachable (last heard %s)", n->silent, at);
            emit(h, i, PLAN_HE_DEAD, detail);
        } else if (n->state == PLAN_H_UP && n->silent >= h->suspect) {
            n->state = PLAN_H_SUSPECT;
            snprintf(detail, sizeof detail, "silent for %.1f s while "
                     "reachable (last heard %s)", n->silent, at);
            emit(h, i, PLAN_HE_SUSPECT, detail);
        }
    }
}
