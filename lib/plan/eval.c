/*
 * eval.c - the planner's single source of truth for times: turn an
 * assignment of groups to nodes into a timed schedule (partitions,
 * transfers with their legs and windows, waits with reasons, energy per
 * node), and decide whether it is feasible and if not, why.
 *
 * Execution model (plan.h): groups run in index order (a topological
 * order) on their nodes; when group p finishes, the tensors it produced
 * are pushed eagerly, one bundle per destination node, along the
 * earliest-arrival route; transfers on a link are serialised in the order
 * they are pushed. Graph inputs are pushed from the input node at t0,
 * then the weights each partition lacks on its node (plan_problem.
 * resident), in partition order; a partition's groups wait for both.
 *
 * Weights are counted per initializer (plan_model.gw) with a stamp array:
 * a node's memory holds each initializer its groups read once, and a
 * partition's weight bundle carries each missing initializer once.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lgerr.h"
#include "plan_int.h"

double plan_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- simulation state ------------------------------------------------ */

int plan_sim_init(plan_sim *s, const plan_problem *p)
{
    int nn = p->t->n_nodes, nl = p->t->n_links;
    memset(s, 0, sizeof *s);
    s->p = p;
    s->r = plan_router_new(p->t);
    s->free_at = malloc((size_t)nn * sizeof *s->free_at);
    s->busy = calloc((size_t)nn, sizeof *s->busy);
    s->n_busy = calloc((size_t)nn, sizeof *s->n_busy);
    s->cap_busy = calloc((size_t)nn, sizeof *s->cap_busy);
    s->link_free = malloc(((size_t)nl + 1) * sizeof *s->link_free);
    s->ready = malloc((size_t)nn * sizeof *s->ready);
    s->arrive = malloc((size_t)nn * sizeof *s->arrive);
    s->via = malloc((size_t)nn * sizeof *s->via);
    s->path = malloc(((size_t)nn + 1) * sizeof *s->path);
    if (!s->r || !s->free_at || !s->busy || !s->n_busy || !s->cap_busy ||
        !s->link_free || !s->ready || !s->arrive || !s->via || !s->path) {
        plan_sim_free(s);
        return -ENOMEM;
    }
    for (int n = 0; n < nn; n++) {
        s->free_at[n] = p->t0;
        s->ready[n] = INFINITY;
    }
    for (int l = 0; l < nl; l++)
        s->link_free[l] = p->t0;
    return 0;
}

void plan_sim_free(plan_sim *s)
{
    if (s->busy)
        for (int n = 0; n < s->p->t->n_nodes; n++)
            free(s->busy[n]);
    plan_router_free(s->r);
    free(s->free_at);
    free(s->busy);
    free(s->n_busy);
    free(s->cap_busy);
    free(s->link_free);
    free(s->ready);
    free(s->arrive);
    free(s->via);
    free(s->path);
    memset(s, 0, sizeof *s);
}

static int legs_reserve(plan_sched *sc, int more)
{
    if (sc->n_legs + more <= sc->cap_legs)
        return 0;
    int cap = sc->cap_legs ? sc->cap_legs : 64;
    while (cap < sc->n_legs + more)
        cap *= 2;
    plan_leg *nl = realloc(sc->legs, (size_t)cap * sizeof *nl);
    if (!nl)
        return -ENOMEM;
    sc->legs = nl;
    sc->cap_legs = cap;
    return 0;
}

double plan_sim_send(plan_sim *s, int a, int b, double t, uint64_t bytes,
                     plan_xfer *x, plan_sched *sc)
{
    const plan_topology *tp = s->p->t;
    int hops;
    double cur = t, worst = 0;

    if (x) {
        x->first_send = t;
        x->wait = PLAN_WAIT_NONE;
        x->wait_link = -1;
        x->n_legs = 0;
        x->leg0 = sc ? sc->n_legs : 0;
    }
    if (a == b) {
        if (x)
            x->arrive = t;
        return t;
    }
    s->ready[a] = t;
    if (plan_route(s->r, bytes, s->ready, s->link_free, NULL, s->arrive,
                   s->via) != 0) {
        s->ready[a] = INFINITY;
        return INFINITY;
    }
    s->ready[a] = INFINITY;
    if (!isfinite(s->arrive[b]))
        return INFINITY;
    hops = plan_route_path(tp, s->via, b, s->path, tp->n_nodes);
    if (hops <= 0)
        return INFINITY;
    for (int h = 0; h < hops; h++) {
        const plan_link *l = &tp->links[s->path[h]];
        double lf = s->link_free[s->path[h]];
        double go = cur > lf ? cur : lf;
        double first = go, arr;
        plan_leg stackl[8], *lg = stackl;
        int need = 0;

        arr = plan_link_send(l, go, bytes, &first, stackl, 8, &need);
        if (!isfinite(arr))
            return INFINITY;
        if (need > 8) {         /* a transfer spanning many windows */
            lg = malloc((size_t)need * sizeof *lg);
            if (!lg)
                return INFINITY;
            plan_link_send(l, go, bytes, &first, lg, need, &need);
        }
        /* the link is busy until its last byte has left */
        s->link_free[s->path[h]] = need ? lg[need - 1].end : first;
        if (x && sc && legs_reserve(sc, need) == 0) {
            for (int k = 0; k < need; k++) {
                sc->legs[sc->n_legs + k] = lg[k];
                sc->legs[sc->n_legs + k].link = s->path[h];
            }
            sc->n_legs += need;
            x->n_legs += need;
        }
        if (lg != stackl)
            free(lg);
        if (x) {
            if (h == 0)
                x->first_send = first;
            if (first - cur > worst + PLAN_EPS) {
                worst = first - cur;
                x->wait_link = s->path[h];
                x->wait = lf > cur + PLAN_EPS && first <= lf + PLAN_EPS
                              ? PLAN_WAIT_LINK
                              : PLAN_WAIT_CONTACT;
            }
        }
        cur = arr;
    }
    if (x)
        x->arrive = cur;
    return cur;
}

double plan_sim_start(const plan_sim *s, int n, double ready, double dur,
                      enum plan_wait *wait)
{
    const plan_node *nd = &s->p->t->nodes[n];
    double st = ready, ps;
    *wait = PLAN_WAIT_NONE;
    if (s->free_at[n] > st + PLAN_EPS) {
        st = s->free_at[n];
        *wait = PLAN_WAIT_NODE;
    }
    if (!nd->power.solar || dur <= 0)
        return st;
    ps = plan_power_earliest(&nd->power, s->busy[n], s->n_busy[n], st, dur,
                             s->p->t->horizon);
    if (ps > st + 1e-6)
        *wait = PLAN_WAIT_POWER;
    return ps;
}

int plan_sim_commit(plan_sim *s, int n, double start, double dur)
{
    double end = start + dur;
    if (end > s->free_at[n])
        s->free_at[n] = end;
    if (dur <= 0 || !s->p->t->nodes[n].power.solar)
        return 0;
    if (s->n_busy[n] &&
        fabs(s->busy[n][s->n_busy[n] - 1].end - start) < PLAN_EPS) {
        s->busy[n][s->n_busy[n] - 1].end = end;
        return 0;
    }
    if (s->n_busy[n] == s->cap_busy[n]) {
        int cap = s->cap_busy[n] ? 2 * s->cap_busy[n] : 16;
        plan_interval *nb = realloc(s->busy[n], (size_t)cap * sizeof *nb);
        if (!nb)
            return -ENOMEM;
        s->busy[n] = nb;
        s->cap_busy[n] = cap;
    }
    s->busy[n][s->n_busy[n]].start = start;
    s->busy[n][s->n_busy[n]].end = end;
    s->n_busy[n]++;
    return 0;
}

/* ---- schedules ---------------------------------------------------------- */

void plan_sched_init(plan_sched *s)
{
    memset(s, 0, sizeof *s);
}

void plan_sched_free(plan_sched *s)
{
    free(s->node_energy_j);
    free(s->node_busy_s);
    free(s->node_mem);
    free(s->assign);
    free(s->gstart);
    free(s->gfinish);
    free(s->parts);
    free(s->xfers);
    free(s->legs);
    plan_sched_init(s);
}

#define DUP(f, n)                                                            \
    do {                                                                     \
        if (src->f && (n) > 0) {                                             \
            dst->f = malloc((size_t)(n) * sizeof *dst->f);                   \
            if (!dst->f)                                                     \
                goto oom;                                                    \
            memcpy(dst->f, src->f, (size_t)(n) * sizeof *dst->f);            \
        } else {                                                             \
            dst->f = NULL;                                                   \
        }                                                                    \
    } while (0)

int plan_sched_copy(plan_sched *dst, const plan_sched *src)
{
    plan_sched_free(dst);
    *dst = *src;
    dst->node_energy_j = NULL;
    dst->node_busy_s = NULL;
    dst->node_mem = NULL;
    dst->assign = NULL;
    dst->gstart = NULL;
    dst->gfinish = NULL;
    dst->parts = NULL;
    dst->xfers = NULL;
    dst->legs = NULL;
    DUP(node_energy_j, src->n_nodes);
    DUP(node_busy_s, src->n_nodes);
    DUP(node_mem, src->n_nodes);
    DUP(assign, src->n_assign);
    DUP(gstart, src->n_assign);
    DUP(gfinish, src->n_assign);
    DUP(parts, src->n_parts);
    DUP(xfers, src->n_xfers);
    DUP(legs, src->n_legs);
    dst->cap_parts = src->n_parts;
    dst->cap_xfers = src->n_xfers;
    dst->cap_legs = src->n_legs;
    return 0;
oom:
    plan_sched_free(dst);
    return -ENOMEM;
}

/* Better schedule for the objective: feasible first; then time, or energy
 * (with time as the tie-break). */
int plan_sched_cmp(const plan_problem *p, const plan_sched *a,
                   const plan_sched *b)
{
    double ka, kb;
    if (a->feasible != b->feasible)
        return a->feasible ? -1 : 1;
    if (a->severity != b->severity)  /* among failures: the milder */
        return a->severity < b->severity ? -1 : 1;
    if (p->obj == PLAN_OBJ_ENERGY && a->feasible) {
        ka = a->energy_orbit_j;
        kb = b->energy_orbit_j;
        if (ka < kb * (1 - 1e-9) - 1e-9)
            return -1;
        if (kb < ka * (1 - 1e-9) - 1e-9)
            return 1;
    }
    ka = a->completion;
    kb = b->completion;
    if (ka < kb - PLAN_EPS)
        return -1;
    if (kb < ka - PLAN_EPS)
        return 1;
    return 0;
}

static int xfer_push(plan_sched *sc, const plan_xfer *x)
{
    if (sc->n_xfers == sc->cap_xfers) {
        int cap = sc->cap_xfers ? 2 * sc->cap_xfers : 32;
        plan_xfer *nx = realloc(sc->xfers, (size_t)cap * sizeof *nx);
        if (!nx)
            return -ENOMEM;
        sc->xfers = nx;
        sc->cap_xfers = cap;
    }
    sc->xfers[sc->n_xfers++] = *x;
    return 0;
}

static void infeasible_at(plan_sched *s, int sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record why the plan fails; the most severe reason is kept (the first
 * one among equals), so a user sees the constraint that matters. */
static void infeasible_at(plan_sched *s, int sev, const char *fmt, ...)
{
    va_list ap;
    if (!s->feasible && sev <= s->severity)
        return;
    s->feasible = 0;
    s->severity = sev;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof s->reason, fmt, ap);
    va_end(ap);
}

/* ---- the evaluator ---------------------------------------------------- */

/* Destinations of producer p's bundles: the nodes of its tensors'
 * consumers, and the output node if it produced a graph output; bytes per
 * destination, each tensor counted once per destination. */
typedef struct dest {
    int node;
    uint64_t bytes;
    int n_tensors;
    double arrive;
    int xfer;                    /* index in sched xfers, -1 */
} dest;

/* Fill d[] with the destinations of the tensors ptl[0..npt) produced on
 * node `from`; returns the count. mark[] is per-node scratch (all 0). */
static int dests_of(const plan_problem *p, const int *assign,
                    const int *ptl, int npt, int from, dest *d, int *mark)
{
    const plan_model *m = p->m;
    int n = 0;
    for (int i = 0; i < npt; i++) {
        const plan_tensor *x = &m->ten[ptl[i]];
        for (int k = -1; k < x->n_cons; k++) {
            int to, j;
            if (k < 0 && !x->is_output)
                continue;
            to = k < 0 ? p->dst : assign[m->cons[x->cons0 + k]];
            if (to == from || mark[to])
                continue;
            mark[to] = 1;       /* counted once per destination */
            for (j = 0; j < n && d[j].node != to; j++)
                ;
            if (j == n) {
                d[n].node = to;
                d[n].bytes = 0;
                d[n].n_tensors = 0;
                d[n].arrive = INFINITY;
                d[n].xfer = -1;
                n++;
            }
            d[j].bytes += x->bytes;
            d[j].n_tensors++;
        }
        for (int j = 0; j < n; j++)
            mark[d[j].node] = 0;
    }
    return n;
}

int plan_eval(const plan_problem *p, const int *assign, plan_sched *s)
{
    const plan_model *m = p->m;
    const plan_topology *t = p->t;
    int G = m->n_grp, N = t->n_nodes, rc = -ENOMEM;
    plan_sim sim;
    double *gstart = NULL, *gfinish = NULL, *gready = NULL;
    enum plan_wait *gwait = NULL;
    dest **dl = NULL;
    int *nd = NULL, *mark = NULL, *gpart = NULL, *pt0 = NULL, *ptl = NULL;
    int *pwx = NULL, *wseen = NULL, *byn0 = NULL, *byn = NULL;
    uint64_t *maxact = NULL;
    double *pw = NULL;

    plan_sched_free(s);
    s->feasible = 1;
    s->n_nodes = N;
    s->n_assign = G;
    s->completion = p->t0;
    s->node_energy_j = calloc((size_t)N, sizeof *s->node_energy_j);
    s->node_busy_s = calloc((size_t)N, sizeof *s->node_busy_s);
    s->node_mem = calloc((size_t)N, sizeof *s->node_mem);
    s->assign = malloc(((size_t)G + 1) * sizeof *s->assign);
    gstart = malloc(((size_t)G + 1) * sizeof *gstart);
    gfinish = malloc(((size_t)G + 1) * sizeof *gfinish);
    gready = malloc(((size_t)G + 1) * sizeof *gready);
    gwait = malloc(((size_t)G + 1) * sizeof *gwait);
    gpart = malloc(((size_t)G + 1) * sizeof *gpart);
    dl = calloc((size_t)G + 1, sizeof *dl);
    nd = calloc((size_t)G + 1, sizeof *nd);
    mark = calloc((size_t)N, sizeof *mark);
    maxact = calloc((size_t)N, sizeof *maxact);
    pw = malloc(((size_t)G + 1) * sizeof *pw);
    pwx = malloc(((size_t)G + 1) * sizeof *pwx);
    wseen = calloc((size_t)m->n_w + 1, sizeof *wseen);
    byn0 = calloc((size_t)N + 2, sizeof *byn0);
    byn = malloc(((size_t)G + 1) * sizeof *byn);
    if (!s->node_energy_j || !s->node_busy_s || !s->node_mem ||
        !s->assign || !gstart || !gfinish || !gready || !gwait || !gpart ||
        !dl || !nd || !mark || !maxact || !pw || !pwx || !wseen || !byn0 ||
        !byn)
        goto out;
    for (int g = 0; g < G; g++)
        gstart[g] = gfinish[g] = INFINITY;
    memcpy(s->assign, assign, (size_t)G * sizeof *assign);
    for (int g = 0; g < G; g++)
        if (assign[g] < 0 || assign[g] >= N) {
            infeasible_at(s, 2, "group %d has no node", g);
            s->completion = INFINITY;
            rc = 0;
            goto out;
        }
    if (plan_sim_init(&sim, p) != 0)
        goto out;

    /* placement constraints: allowed nodes, memory */
    for (int g = 0; g < G; g++) {
        int n = assign[g];
        if (!plan_allowed(p, g, n))
            infeasible_at(s, 3, "model node '%s' may not run on %s (forbidden or "
                       "pinned elsewhere)", m->grp[g].name,
                       t->nodes[n].name);
        byn0[n + 2]++;
        if (m->grp[g].act_bytes > maxact[n])
            maxact[n] = m->grp[g].act_bytes;
    }
    /* each node's weights: the union of its groups' initializers, with
     * the groups taken node by node (wseen[x] == n + 1: counted for n) */
    for (int n = 0; n < N; n++)
        byn0[n + 2] += byn0[n + 1];
    for (int g = 0; g < G; g++)
        byn[byn0[assign[g] + 1]++] = g;
    for (int n = 0; n < N; n++)
        for (int i = byn0[n]; i < byn0[n + 1]; i++) {
            int g = byn[i];
            for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++) {
                int x = m->gw[k];
                if (wseen[x] != n + 1) {
                    wseen[x] = n + 1;
                    s->node_mem[n] += plan_weight_bytes(m, x);
                }
            }
        }
    for (int n = 0; n < N; n++) {
        uint64_t w = s->node_mem[n];
        s->node_mem[n] += maxact[n];
        if (s->node_mem[n] > t->nodes[n].memory)
            infeasible_at(s, 2, "%s lacks memory: needs %.1f MiB (weights %.1f MiB "
                       "+ activations %.1f MiB), has %.1f MiB",
                       t->nodes[n].name, s->node_mem[n] / 1048576.0,
                       w / 1048576.0, maxact[n] / 1048576.0,
                       t->nodes[n].memory / 1048576.0);
    }

    /* bundle destinations per producer (index G: the graph inputs) */
    pt0 = calloc((size_t)G + 2, sizeof *pt0);
    ptl = malloc(((size_t)m->n_ten + 1) * sizeof *ptl);
    if (!pt0 || !ptl)
        goto out_sim;
    for (int x = 0; x < m->n_ten; x++)
        pt0[(m->ten[x].producer < 0 ? G : m->ten[x].producer) + 1]++;
    for (int q = 0; q <= G; q++)
        pt0[q + 1] += pt0[q];
    {
        int *fill = calloc((size_t)G + 1, sizeof *fill);
        if (!fill)
            goto out_sim;
        for (int x = 0; x < m->n_ten; x++) {
            int q = m->ten[x].producer < 0 ? G : m->ten[x].producer;
            ptl[pt0[q] + fill[q]++] = x;
        }
        free(fill);
    }
    for (int q = 0; q <= G; q++) {
        int cap = 1;
        for (int i = pt0[q]; i < pt0[q + 1]; i++)
            cap += m->ten[ptl[i]].n_cons + 1;
        dl[q] = malloc((size_t)cap * sizeof **dl);
        if (!dl[q])
            goto out_sim;
        nd[q] = dests_of(p, assign, ptl + pt0[q], pt0[q + 1] - pt0[q],
                         q == G ? p->src : assign[q], dl[q], mark);
    }

    /* graph inputs leave the input node at t0 */
    for (int j = 0; j < nd[G]; j++) {
        plan_xfer x = {0};
        dest *d = &dl[G][j];
        x.from_part = -1;
        x.from_node = p->src;
        x.to_node = d->node;
        x.producer = -1;
        x.bytes = d->bytes;
        x.n_tensors = d->n_tensors;
        x.ready = p->t0;
        d->arrive = plan_sim_send(&sim, p->src, d->node, p->t0, d->bytes, &x,
                                  s);
        if (!isfinite(d->arrive))
            infeasible_at(s, 2, "no route from %s to %s for the inputs (%llu "
                       "bytes) from +%.3fs before the horizon",
                       t->nodes[p->src].name, t->nodes[d->node].name,
                       (unsigned long long)d->bytes, 0.0);
        d->xfer = s->n_xfers;
        if (xfer_push(s, &x))
            goto out_sim;
    }

    /* then the weights each partition lacks leave the input node at t0:
     * one bundle per partition k of the initializers its non-resident
     * groups read, each once (wseen[x] == N + 1 + k: in k's bundle) */
    {
        int np = 0;
        for (int g = 0; g < G; g++) {
            if (g == 0 || assign[g] != assign[g - 1]) {
                pw[np] = p->t0;
                pwx[np] = -1;
                np++;
            }
            gpart[g] = np - 1;
        }
        for (int g0 = 0, k = 0; g0 < G; k++) {
            int n = assign[g0], g1 = g0, first = -1, ngrp = 0;
            plan_xfer x = {0};
            while (g1 + 1 < G && assign[g1 + 1] == n)
                g1++;
            for (int g = g0; g <= g1; g++) {
                uint64_t b0 = x.bytes;
                if (plan_resident(p, g, n))
                    continue;
                for (int j = m->gw0[g]; j < m->gw0[g + 1]; j++) {
                    int w = m->gw[j];
                    uint64_t wb = plan_weight_bytes(m, w);
                    if (wseen[w] == N + 1 + k || !wb)
                        continue;
                    wseen[w] = N + 1 + k;
                    x.bytes += wb;
                    x.n_tensors++;
                }
                if (x.bytes > b0) {
                    ngrp++;
                    if (first < 0)
                        first = g;
                }
            }
            g0 = g1 + 1;
            if (!x.bytes)
                continue;
            x.from_part = -1;
            x.to_part = k;
            x.from_node = p->src;
            x.to_node = n;
            x.producer = PLAN_XFER_WEIGHTS;
            x.ready = p->t0;
            pw[k] = plan_sim_send(&sim, p->src, n, p->t0, x.bytes, &x, s);
            if (!isfinite(pw[k]))
                infeasible_at(s, 2, "no route from %s to %s for the weights "
                           "of %d group%s from model node '%s' (%llu bytes) "
                           "before the horizon", t->nodes[p->src].name,
                           t->nodes[n].name, ngrp, ngrp > 1 ? "s" : "",
                           m->grp[first].name, (unsigned long long)x.bytes);
            pwx[k] = s->n_xfers;
            if (xfer_push(s, &x))
                goto out_sim;
        }
    }

    for (int g = 0; g < G; g++) {
        int n = assign[g];
        const plan_node *node = &t->nodes[n];
        double ready = pw[gpart[g]], dur, st;
        enum plan_wait w;

        for (int k = m->gin0[g]; k < m->gin0[g + 1]; k++) {
            const plan_tensor *x = &m->ten[m->gin[k]];
            int q = x->producer < 0 ? G : x->producer;
            int from = x->producer < 0 ? p->src : assign[x->producer];
            double av = x->producer < 0 ? p->t0 : gfinish[x->producer];
            if (from != n)
                for (int j = 0; j < nd[q]; j++)
                    if (dl[q][j].node == n)
                        av = dl[q][j].arrive;
            if (av > ready)
                ready = av;
        }
        dur = plan_group_time(m, g, t, n);
        gready[g] = ready;
        if (!isfinite(ready)) {
            gstart[g] = gfinish[g] = INFINITY;
            gwait[g] = PLAN_WAIT_NONE;
            continue;
        }
        st = plan_sim_start(&sim, n, ready, dur, &w);
        double viol = 0;
        if (!isfinite(st) && node->power.solar &&
            plan_power_check(&node->power, NULL, 0, t->horizon, &viol)) {
            infeasible_at(s, 2, "%s's battery goes below its minimum (%.0f%% of "
                       "%.0f Wh) at +%.0fs even when idle: %.0f W idle "
                       "against a %.0f W array", node->name,
                       node->power.min_soc * 100, node->power.battery_wh,
                       viol, node->power.idle_w, node->power.array_w);
            gstart[g] = gfinish[g] = INFINITY;
            gwait[g] = PLAN_WAIT_POWER;
            continue;
        }
        if (!isfinite(st)) {
            infeasible_at(s, 2, "%s's battery would go below its minimum (%.0f%% "
                       "of %.0f Wh): a %.3fs run at %.0f W does not fit "
                       "after +%.3fs", node->name,
                       node->power.min_soc * 100, node->power.battery_wh,
                       dur, node->power.busy_w, ready - p->t0);
            gstart[g] = gfinish[g] = INFINITY;
            gwait[g] = PLAN_WAIT_POWER;
            continue;
        }
        if (plan_sim_commit(&sim, n, st, dur))
            goto out_sim;
        gstart[g] = st;
        gfinish[g] = st + dur;
        gwait[g] = w;
        s->node_busy_s[n] += dur;
        s->node_energy_j[n] += node->power.busy_w * dur;

        /* push this group's tensors to where they are needed */
        for (int j = 0; j < nd[g]; j++) {
            plan_xfer x = {0};
            dest *d = &dl[g][j];
            x.from_part = -1;
            x.to_part = -1;
            x.from_node = n;
            x.to_node = d->node;
            x.producer = g;
            x.bytes = d->bytes;
            x.n_tensors = d->n_tensors;
            x.ready = gfinish[g];
            d->arrive = plan_sim_send(&sim, n, d->node, gfinish[g], d->bytes,
                                      &x, s);
            if (!isfinite(d->arrive))
                infeasible_at(s, 2, "no route from %s to %s for %llu bytes after "
                           "+%.3fs before the horizon (+%.0fs)",
                           node->name, t->nodes[d->node].name,
                           (unsigned long long)d->bytes,
                           gfinish[g] - p->t0, t->horizon - p->t0);
            d->xfer = s->n_xfers;
            if (xfer_push(s, &x))
                goto out_sim;
        }
    }

    /* completion: every graph output at the output node */
    s->completion = p->t0;
    for (int x = 0; x < m->n_ten; x++) {
        const plan_tensor *tt = &m->ten[x];
        int q = tt->producer < 0 ? G : tt->producer;
        int from = tt->producer < 0 ? p->src : assign[tt->producer];
        double av = tt->producer < 0 ? p->t0 : gfinish[tt->producer];
        if (!tt->is_output)
            continue;
        if (from != p->dst)
            for (int j = 0; j < nd[q]; j++)
                if (dl[q][j].node == p->dst)
                    av = dl[q][j].arrive;
        if (av > s->completion)
            s->completion = av;
    }
    for (int g = 0; g < G; g++)
        if (gfinish[g] > s->completion)
            s->completion = gfinish[g];
    for (int n = 0; n < N; n++)
        if (t->nodes[n].power.solar)
            s->energy_orbit_j += s->node_energy_j[n];
    if (!isfinite(s->completion))
        infeasible_at(s, 2, "the outputs never reach %s", t->nodes[p->dst].name);
    else if (s->completion > p->deadline + PLAN_EPS)
        infeasible_at(s, 1, "the deadline (+%.3fs) cannot be met: this plan "
                   "completes at +%.3fs", p->deadline - p->t0,
                   s->completion - p->t0);

    /* partitions: maximal runs of consecutive groups on one node */
    s->parts = malloc(((size_t)G + 1) * sizeof *s->parts);
    if (!s->parts)
        goto out_sim;
    s->cap_parts = G + 1;
    for (int g = 0; g < G; g++) {
        plan_part *pt;
        if (g == 0 || assign[g] != assign[g - 1]) {
            pt = &s->parts[s->n_parts++];
            memset(pt, 0, sizeof *pt);
            pt->node = assign[g];
            pt->g0 = g;
            pt->ready = gready[g];
            pt->start = gstart[g];
            pt->wait = gwait[g];
            pt->weights_arrive = pw[s->n_parts - 1];
            pt->weight_xfer = pwx[s->n_parts - 1];
            if (pt->weight_xfer >= 0)
                pt->weight_bytes = s->xfers[pt->weight_xfer].bytes;
        }
        pt = &s->parts[s->n_parts - 1];
        pt->g1 = g;
        pt->finish = gfinish[g];
        pt->energy_j += t->nodes[assign[g]].power.busy_w *
                        (gfinish[g] - gstart[g]);
        /* wseen[x] == N + 1 + G + k: counted for partition k */
        for (int j = m->gw0[g]; j < m->gw0[g + 1]; j++) {
            int w = m->gw[j];
            if (wseen[w] != N + G + s->n_parts) {
                wseen[w] = N + G + s->n_parts;
                pt->param_bytes += plan_weight_bytes(m, w);
            }
        }
        gpart[g] = s->n_parts - 1;
    }
    for (int i = 0; i < s->n_xfers; i++) {
        plan_xfer *x = &s->xfers[i];
        if (x->producer == PLAN_XFER_WEIGHTS)
            continue;           /* to_part set when pushed */
        x->from_part = x->producer < 0 ? -1 : gpart[x->producer];
        x->to_part = -1;
        for (int g = x->producer + 1; g < G; g++)
            if (assign[g] == x->to_node) {
                int uses = 0;
                for (int k = m->gin0[g]; k < m->gin0[g + 1] && !uses; k++)
                    uses = m->ten[m->gin[k]].producer == x->producer;
                if (uses) {
                    x->to_part = gpart[g];
                    break;
                }
            }
    }
    rc = 0;
out_sim:
    plan_sim_free(&sim);
out:
    if (rc == -ENOMEM) {
        s->feasible = 0;
        snprintf(s->reason, sizeof s->reason, "out of memory");
    }
    if (dl)
        for (int q = 0; q <= G; q++)
            free(dl[q]);
    free(dl);
    free(nd);
    free(mark);
    free(maxact);
    s->gstart = gstart;
    s->gfinish = gfinish;
    free(gready);
    free(gwait);
    free(gpart);
    free(pw);
    free(pwx);
    free(wseen);
    free(byn0);
    free(byn);
    free(pt0);
    free(ptl);
    return rc;
}
