/*
 * dp.c - exact planning for chains: dynamic programming over (cut, node).
 *
 * The groups are cut into contiguous runs, each run placed on one node.
 * Two tables, indexed by cut k (0..G) and node n:
 *   F[k][n]  earliest finish of groups [0, k) with the last run on n;
 *   A[k][n]  earliest arrival at n of everything crossing cut k.
 * A[0] routes the graph inputs from the input node at t0; A[k] for k > 0
 * is one multi-source earliest-arrival search from every F[k][m] at once
 * (holding the data on m and then sending is exactly a source at m).
 * F[j][n] = min over i < j of start(n, A[i][n], C(i,j,n)) + C(i,j,n),
 * where C is the run's compute time and start() is A[i][n] unless the
 * battery needs a wait. Arriving earlier never hurts (one may always
 * wait), so keeping only the earliest time per (k, n) loses nothing.
 *
 * Cost: for runs short enough that the battery never matters (shorter
 * than plan_power_free_run) the minimum over i is a sliding-window
 * minimum of A[i][n] - S_n[i] (S_n: prefix compute time on n), kept in a
 * monotone deque, so a cut costs O(N) plus one routing search,
 * O(E log N). Longer runs on solar nodes are searched explicitly. Memory
 * limits (weights of the run + its largest working set) and forbidden
 * nodes bound i from below, monotonically in j. A run's weights are the
 * union of its groups' initializers (plan_model.gw), kept per node for
 * the window [lo, j) as it slides: group j-1 adds the initializers no
 * group of the window read before it (prev < lo), dropping group lo
 * removes those no later group of the window reads (next >= j).
 *
 * Weights (plan_problem.resident): a run on n whose groups' weights are
 * not all on n also waits for W_n(b), the uncontended earliest arrival at
 * n of the b missing weight bytes (each initializer once) sent from the
 * input node at t0. b grows as the run extends to the left, and sending
 * more never arrives earlier, so on such nodes i is searched explicitly
 * from j - 1 down, stopping once the weights alone make a run too late
 * to beat the best.
 *
 * What it solves exactly: plans that cut at group boundaries, relaying
 * every crossing tensor through each run's node, with each node's
 * battery untouched by earlier runs of the same job, and each run's
 * weights sent alone on the links. For a chain (every
 * cut carries only the previous group's outputs to the next group) that
 * is a relaxation of plan_eval's model, so when plan_eval reproduces the
 * DP's value the plan is optimal. The caller checks that.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "plan_int.h"

typedef struct dp {
    const plan_problem *p;
    int G, N;
    double *A, *S;               /* (G + 1) x N */
    int *arg;                    /* (G + 1) x N: run start i for F[k][n] */
    int *via;                    /* (G + 1) x N: routing tree of cut k */
    int *dq;                     /* N x (G + 1): deque of cut indices */
    int *dh, *dt;                /* deque head / tail per node */
    int *lo, *lop;               /* per node lower bounds on i */
    double *free_run;            /* per node */
    double *F;                   /* N: the current cut's finish times */
    double *arrive;
    int *rvia;
    int *wprev, *wnext;          /* per weight-list entry of p->m: the
                                    previous / next group reading the same
                                    initializer (-1 / G if none) */
    uint64_t *uw;                /* per node: weights of the window
                                    [lo[n], j) */
    uint64_t wall;               /* every initializer, once */
    const plan_problem *wp;      /* whose groups and resident say what a
                                    run must receive; NULL: nothing */
    const int *wfirst;           /* chain group c covers wp's groups
                                    [wfirst[c], wfirst[c+1]); NULL: c */
    uint64_t *wstamp, stamp;     /* per initializer of wp->m: in the run */
    unsigned char *ships;        /* per node: some run there ships weights */
    plan_router *wr;             /* weight routing (no cutoff) */
    double *wready, *warr;       /* per node */
    int *wvia;
    struct wcache { uint64_t b; int n; double at; } *wc;
    int oom;
    uint64_t **rmq;              /* sparse table over act_bytes */
    int lg;
} dp;

static void dp_free(dp *d)
{
    free(d->A);
    free(d->S);
    free(d->arg);
    free(d->via);
    free(d->dq);
    free(d->dh);
    free(d->dt);
    free(d->lo);
    free(d->lop);
    free(d->free_run);
    free(d->F);
    free(d->arrive);
    free(d->rvia);
    free(d->wprev);
    free(d->wnext);
    free(d->uw);
    free(d->wstamp);
    free(d->ships);
    plan_router_free(d->wr);
    free(d->wready);
    free(d->warr);
    free(d->wvia);
    free(d->wc);
    if (d->rmq)
        for (int k = 0; k < d->lg; k++)
            free(d->rmq[k]);
    free(d->rmq);
}

/* max act_bytes over groups [a, b], a <= b */
static uint64_t act_max(const dp *d, int a, int b)
{
    int k = 0;
    while ((2 << k) <= b - a + 1)
        k++;
    uint64_t x = d->rmq[k][a], y = d->rmq[k][b - (1 << k) + 1];
    return x > y ? x : y;
}

/* Group g joins node n's window [lo, g) on the right: its initializers
 * that no group of the window reads add their bytes. */
static void dp_window_add(dp *d, int n, int g)
{
    const plan_model *m = d->p->m;
    for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++)
        if (d->wprev[k] < d->lo[n])
            d->uw[n] += plan_weight_bytes(m, m->gw[k]);
}

/* The window [lo, j) of node n loses its first group: its initializers
 * that no later group of the window reads leave. */
static void dp_window_drop(dp *d, int n, int j)
{
    const plan_model *m = d->p->m;
    int g = d->lo[n]++;
    for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++)
        if (d->wnext[k] >= j)
            d->uw[n] -= plan_weight_bytes(m, m->gw[k]);
}

/* Bytes that chain group c adds to the weights a run on n must receive:
 * the initializers its non-resident groups (of wp) read that the run
 * (since the last d->stamp++) has not counted yet. */
static uint64_t dp_missing(dp *d, int n, int c)
{
    const plan_model *wm;
    uint64_t b = 0;
    int g0, g1;
    if (!d->wp)
        return 0;
    wm = d->wp->m;
    g0 = d->wfirst ? d->wfirst[c] : c;
    g1 = d->wfirst ? d->wfirst[c + 1] : c + 1;
    for (int g = g0; g < g1; g++) {
        if (plan_resident(d->wp, g, n))
            continue;
        for (int k = wm->gw0[g]; k < wm->gw0[g + 1]; k++) {
            int x = wm->gw[k];
            if (d->wstamp[x] != d->stamp) {
                d->wstamp[x] = d->stamp;
                b += plan_weight_bytes(wm, x);
            }
        }
    }
    return b;
}

#define WC_SIZE 4096

/* W_n(b): earliest arrival at n of b weight bytes sent from the input
 * node at t0 with the links to themselves; memoised. */
static double dp_weights(dp *d, int n, uint64_t b)
{
    uint64_t h = (b * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)n * 0xC2B2AE35u);
    struct wcache *c = &d->wc[(h >> 20) & (WC_SIZE - 1)];
    if (c->n == n && c->b == b)
        return c->at;
    for (int k = 0; k < d->N; k++)
        d->wready[k] = INFINITY;
    d->wready[d->p->src] = d->p->t0;
    if (plan_route(d->wr, b, d->wready, NULL, NULL, d->warr, d->wvia)) {
        d->oom = 1;
        return INFINITY;
    }
    c->n = n;
    c->b = b;
    c->at = d->warr[n];
    return c->at;
}

static int dp_alloc(dp *d, const plan_problem *p, const plan_problem *wp,
                    const int *wfirst)
{
    size_t cells;
    const plan_model *m = p->m;
    int *last;
    memset(d, 0, sizeof *d);
    d->p = p;
    d->wp = wp;
    d->wfirst = wfirst;
    d->G = p->m->n_grp;
    d->N = p->t->n_nodes;
    cells = ((size_t)d->G + 1) * (size_t)d->N;
    if (cells > (size_t)1 << 31)
        return -ENOMEM;
    d->A = malloc(cells * sizeof *d->A);
    d->S = malloc(cells * sizeof *d->S);
    d->arg = malloc(cells * sizeof *d->arg);
    d->via = malloc(cells * sizeof *d->via);
    d->dq = malloc(cells * sizeof *d->dq);
    d->dh = calloc((size_t)d->N, sizeof *d->dh);
    d->dt = calloc((size_t)d->N, sizeof *d->dt);
    d->lo = calloc((size_t)d->N, sizeof *d->lo);
    d->lop = calloc((size_t)d->N, sizeof *d->lop);
    d->free_run = malloc((size_t)d->N * sizeof *d->free_run);
    d->F = malloc((size_t)d->N * sizeof *d->F);
    d->arrive = malloc((size_t)d->N * sizeof *d->arrive);
    d->rvia = malloc((size_t)d->N * sizeof *d->rvia);
    d->wprev = malloc(((size_t)m->gw0[d->G] + 1) * sizeof *d->wprev);
    d->wnext = malloc(((size_t)m->gw0[d->G] + 1) * sizeof *d->wnext);
    d->uw = calloc((size_t)d->N, sizeof *d->uw);
    last = malloc(((size_t)m->n_w + 1) * sizeof *last);
    d->ships = calloc((size_t)d->N, 1);
    if (!d->wprev || !d->wnext || !d->uw || !last || !d->ships) {
        free(last);
        return -ENOMEM;
    }
    /* each weight-list entry's previous and next reader */
    for (int x = 0; x < m->n_w; x++)
        last[x] = -1;
    for (int g = 0; g < d->G; g++)
        for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++) {
            int x = m->gw[k];
            if (last[x] < 0)
                d->wall += plan_weight_bytes(m, x);
            d->wprev[k] = last[x];
            last[x] = g;
        }
    for (int x = 0; x < m->n_w; x++)
        last[x] = d->G;
    for (int g = d->G - 1; g >= 0; g--)
        for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++) {
            d->wnext[k] = last[m->gw[k]];
            last[m->gw[k]] = g;
        }
    free(last);
    if (wp) {
        const plan_model *wm = wp->m;
        d->wr = plan_router_new(p->t);
        d->wready = malloc((size_t)d->N * sizeof *d->wready);
        d->warr = malloc((size_t)d->N * sizeof *d->warr);
        d->wvia = malloc((size_t)d->N * sizeof *d->wvia);
        d->wc = malloc(WC_SIZE * sizeof *d->wc);
        d->wstamp = calloc((size_t)wm->n_w + 1, sizeof *d->wstamp);
        if (!d->wr || !d->wready || !d->warr || !d->wvia || !d->wc ||
            !d->wstamp)
            return -ENOMEM;
        for (int k = 0; k < WC_SIZE; k++)
            d->wc[k].n = -1;
        for (int g = 0; g < wm->n_grp; g++)
            for (int n = 0; n < d->N; n++)
                if (!plan_resident(wp, g, n) &&
                    wm->grp[g].param_bytes)
                    d->ships[n] = 1;
    }
    while ((1 << d->lg) <= d->G)
        d->lg++;
    d->rmq = calloc((size_t)d->lg + 1, sizeof *d->rmq);
    if (!d->A || !d->S || !d->arg || !d->via || !d->dq || !d->dh ||
        !d->dt || !d->lo || !d->lop || !d->free_run || !d->F ||
        !d->arrive || !d->rvia || !d->rmq)
        return -ENOMEM;
    for (int k = 0; k < d->lg; k++) {
        d->rmq[k] = malloc(((size_t)d->G + 1) * sizeof **d->rmq);
        if (!d->rmq[k])
            return -ENOMEM;
    }
    for (int g = 0; g < d->G; g++)
        d->rmq[0][g] = p->m->grp[g].act_bytes;
    for (int k = 1; k < d->lg; k++)
        for (int g = 0; g + (1 << k) <= d->G; g++) {
            uint64_t x = d->rmq[k - 1][g],
                     y = d->rmq[k - 1][g + (1 << (k - 1))];
            d->rmq[k][g] = x > y ? x : y;
        }
    for (int n = 0; n < d->N; n++)
        d->free_run[n] = plan_power_free_run(&p->t->nodes[n].power,
                                             p->t->horizon);
    return 0;
}

/* Route the bytes crossing cut k from the sources in ready[] into
 * A[k][.] and via[k][.]. */
static int dp_route(dp *d, plan_router *r, int k, const double *ready)
{
    double *A = d->A + (size_t)k * d->N;
    int *via = d->via + (size_t)k * d->N;
    return plan_route(r, d->p->m->cut[k], ready, NULL, NULL, A, via);
}

#define CELL(arr, k, n) ((arr)[(size_t)(k) * (size_t)N_OF + (size_t)(n)])

#define N_OF (d->N)
static double dq_val(const dp *d, int n, int i)
{
    return CELL(d->A, i, n) - CELL(d->S, i, n);
}

static void dq_push(dp *d, int n, int i)
{
    int *q = d->dq + (size_t)n * (d->G + 1);
    double v = dq_val(d, n, i);
    if (!isfinite(v))
        return;
    while (d->dt[n] > d->dh[n] && dq_val(d, n, q[d->dt[n] - 1]) >= v)
        d->dt[n]--;
    q[d->dt[n]++] = i;
}

/* Trace the source of node x in cut k's routing tree. */
static int dp_source(const dp *d, const int *via, int x)
{
    int hops = 0;
    while (via[x] >= 0 && hops++ <= d->N)
        x = d->p->t->links[via[x]].from;
    return x;
}

/* An achievable completion to prune with: everything on the input node,
 * if that node is grid-powered (no battery wait to model), may run every
 * group and holds them all (w: every initializer once); then the outputs
 * routed to their node. INFINITY when that plan is not available. */
static double dp_upper_bound(const plan_problem *p, uint64_t w,
                             plan_router *r, double *ready, double *arr,
                             int *via)
{
    const plan_model *m = p->m;
    const plan_node *s = &p->t->nodes[p->src];
    double t = p->t0;
    uint64_t act = 0;

    if (s->power.solar)
        return INFINITY;
    for (int g = 0; g < m->n_grp; g++) {
        if (!plan_allowed(p, g, p->src))
            return INFINITY;
        t += plan_group_time(m, g, p->t, p->src);
        if (m->grp[g].act_bytes > act)
            act = m->grp[g].act_bytes;
    }
    if (w + act > s->memory)
        return INFINITY;
    for (int n = 0; n < p->t->n_nodes; n++)
        ready[n] = INFINITY;
    ready[p->src] = t;
    if (plan_route(r, m->cut[m->n_grp], ready, NULL, NULL, arr, via))
        return INFINITY;
    return arr[p->dst];
}

#undef N_OF
#define N_OF (d.N)
int plan_dp(const plan_problem *p, const plan_problem *wp,
            const int *wfirst, int *assign, double *bound, char *err,
            size_t errlen)
{
    dp d;
    plan_router *r = NULL;
    int rc = -ENOMEM, G = p->m->n_grp, N = p->t->n_nodes;
    double ub = INFINITY, *rest = NULL;
    const plan_topology *t = p->t;

    *bound = INFINITY;
    if (G == 0)
        return lg_errf(err, errlen, LG_EMODEL, "empty model");
    if (dp_alloc(&d, p, wp, wfirst) != 0 || !(r = plan_router_new(t)))
        goto out;
    /* Prune routing with an upper bound: data reaching a node after
     * ub - (the least compute still to do) cannot beat that plan. */
    ub = dp_upper_bound(p, d.wall, r, d.F, d.arrive, d.rvia);
    if (isfinite(ub)) {
        rest = malloc(((size_t)G + 1) * sizeof *rest);
        if (!rest)
            goto out;
        rest[G] = 0;
        for (int g = G - 1; g >= 0; g--) {
            double best = INFINITY;
            for (int n = 0; n < N; n++)
                if (plan_allowed(p, g, n)) {
                    double c = plan_group_time(p->m, g, t, n);
                    if (c < best)
                        best = c;
                }
            rest[g] = rest[g + 1] + (isfinite(best) ? best : 0);
        }
    }

    /* cut 0: the graph inputs leave the input node at t0 */
    for (int n = 0; n < N; n++) {
        d.F[n] = INFINITY;
        CELL(d.S, 0, n) = 0;
    }
    d.F[p->src] = p->t0;
    if (rest)
        plan_router_set_cutoff(r, ub - rest[0] + 1e-9 * (1 + fabs(ub)));
    if (dp_route(&d, r, 0, d.F))
        goto out;
    for (int n = 0; n < N; n++)
        dq_push(&d, n, 0);

    for (int j = 1; j <= G; j++) {
        for (int n = 0; n < N; n++) {
            const plan_node *nd = &t->nodes[n];
            double c = plan_group_time(p->m, j - 1, t, n), best = INFINITY;
            int *q = d.dq + (size_t)n * (G + 1), bi = -1;

            CELL(d.S, j, n) = CELL(d.S, j - 1, n) + c;
            if (!plan_allowed(p, j - 1, n)) {
                d.lo[n] = j;    /* no run on n may contain group j - 1 */
                d.uw[n] = 0;
            } else {
                dp_window_add(&d, n, j - 1);
                while (d.lo[n] < j &&
                       d.uw[n] + act_max(&d, d.lo[n], j - 1) > nd->memory)
                    dp_window_drop(&d, n, j);
            }
            while (d.lop[n] < j && CELL(d.S, j, n) - CELL(d.S, d.lop[n], n) >
                                       d.free_run[n])
                d.lop[n]++;
            if (d.lop[n] < d.lo[n])
                d.lop[n] = d.lo[n];
            if (d.ships[n]) {
                /* runs that may need weights shipped: from the shortest
                 * run leftwards; W and the run only grow, so stop once
                 * they alone cannot beat the best */
                double wlast = -INFINITY;
                uint64_t b = 0;
                d.stamp++;      /* a new run: nothing in it yet */
                for (int i = j - 1; i >= d.lo[n]; i--) {
                    double a = CELL(d.A, i, n), r0, st;
                    double run = CELL(d.S, j, n) - CELL(d.S, i, n);
                    b += dp_missing(&d, n, i);
                    if (wlast + run >= best)
                        break;
                    if (!isfinite(a) || a + run >= best)
                        continue;
                    r0 = a;
                    if (b) {
                        wlast = dp_weights(&d, n, b);
                        if (d.oom)
                            goto out;
                        if (wlast + run >= best)
                            break;
                        if (wlast > r0)
                            r0 = wlast;
                    }
                    st = i < d.lop[n]
                             ? plan_power_earliest(&nd->power, NULL, 0, r0,
                                                   run, t->horizon)
                             : r0;
                    if (st + run < best) {
                        best = st + run;
                        bi = i;
                    }
                }
                d.F[n] = best;
                CELL(d.arg, j, n) = bi;
                continue;
            }
            /* short runs: the sliding-window minimum */
            while (d.dt[n] > d.dh[n] && q[d.dh[n]] < d.lop[n])
                d.dh[n]++;
            if (d.dt[n] > d.dh[n]) {
                bi = q[d.dh[n]];
                best = dq_val(&d, n, bi) + CELL(d.S, j, n);
            }
            /* long runs on a battery: search the start explicitly */
            for (int i = d.lo[n]; i < d.lop[n]; i++) {
                double a = CELL(d.A, i, n), run, st;
                if (!isfinite(a))
                    continue;
                run = CELL(d.S, j, n) - CELL(d.S, i, n);
                if (a + run >= best)
                    continue;
                st = plan_power_earliest(&nd->power, NULL, 0, a, run,
                                         t->horizon);
                if (st + run < best) {
                    best = st + run;
                    bi = i;
                }
            }
            d.F[n] = best;
            CELL(d.arg, j, n) = bi;
        }
        if (rest)
            plan_router_set_cutoff(r, ub - rest[j] + 1e-9 * (1 + fabs(ub)));
        if (dp_route(&d, r, j, d.F))
            goto out;
        if (j < G)
            for (int n = 0; n < N; n++)
                dq_push(&d, n, j);
    }

    /* the last cut's routing tree reaches the output node */
    {
        double done = CELL(d.A, G, p->dst);
        int k = G, m;
        if (!isfinite(done)) {
            rc = lg_errf(err, errlen, LG_EMODEL,
                         "no placement of the model brings its outputs to "
                         "%s before the horizon", t->nodes[p->dst].name);
            goto out;
        }
        *bound = done;
        m = dp_source(&d, d.via + (size_t)G * N, p->dst);
        while (k > 0) {
            int i = CELL(d.arg, k, m);
            if (i < 0 || i >= k) {
                rc = lg_errf(err, errlen, -EINVAL, "dp: broken trace");
                goto out;
            }
            for (int g = i; g < k; g++)
                assign[g] = m;
            m = dp_source(&d, d.via + (size_t)i * N, m);
            k = i;
        }
    }
    rc = 0;
out:
    if (rc == -ENOMEM)
        lg_errf(err, errlen, -ENOMEM, "out of memory (dp over %d groups x "
                "%d nodes)", G, N);
    plan_router_free(r);
    free(rest);
    dp_free(&d);
    return rc;
}
