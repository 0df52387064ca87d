/*
 * solve.c - the planner's front door: the baselines that keep our claims
 * honest (all on the source, all on the fastest node, the best single
 * split from the source as Neurosurgeon does), exhaustive search for tiny
 * instances, the lower bound, and plan_solve, which runs a strategy (or
 * all of them, for "auto") and evaluates the winner with plan_eval.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"
#include "plan_int.h"

static const char *const strat_names[PLAN_STRAT_N] = {
    "auto", "dp", "list", "source", "fastest", "split", "heft",
    "exhaustive"};

const char *plan_strategy_name(enum plan_strategy st)
{
    return st >= 0 && st < PLAN_STRAT_N ? strat_names[st] : "?";
}

int plan_strategy_parse(const char *s, enum plan_strategy *st)
{
    for (int i = 0; i < PLAN_STRAT_N; i++)
        if (!strcmp(s, strat_names[i])) {
            *st = (enum plan_strategy)i;
            return 0;
        }
    return -EINVAL;
}

const char *plan_wait_name(enum plan_wait w)
{
    switch (w) {
    case PLAN_WAIT_NONE: return "";
    case PLAN_WAIT_CONTACT: return "WaitingContact";
    case PLAN_WAIT_POWER: return "WaitingPower";
    case PLAN_WAIT_NODE: return "WaitingNode";
    case PLAN_WAIT_LINK: return "WaitingLink";
    }
    return "?";
}

int plan_base_source(const plan_problem *p, int *assign)
{
    for (int g = 0; g < p->m->n_grp; g++)
        assign[g] = p->src;
    return 0;
}

static double total_time(const plan_problem *p, int n)
{
    double s = 0;
    for (int g = 0; g < p->m->n_grp; g++)
        s += plan_group_time(p->m, g, p->t, n);
    return s;
}

int plan_base_fastest(const plan_problem *p, int *assign)
{
    int bn = p->src;
    double bt = INFINITY;
    for (int n = 0; n < p->t->n_nodes; n++) {
        int ok = 1;
        double s;
        for (int g = 0; g < p->m->n_grp && ok; g++)
            ok = plan_allowed(p, g, n);
        if (!ok)
            continue;
        s = total_time(p, n);
        if (s < bt) {
            bt = s;
            bn = n;
        }
    }
    for (int g = 0; g < p->m->n_grp; g++)
        assign[g] = bn;
    return 0;
}

/* Neurosurgeon: the prefix on the source, the rest on one other node.
 * Every (cut, node) pair is estimated with one routing search per cut
 * (prefix on the source from t0, then the crossing bytes); the best eight
 * estimates, and all on the source, are evaluated exactly. */
#define SPLIT_KEEP 8
int plan_base_split(const plan_problem *p, int *assign)
{
    const plan_model *m = p->m;
    const plan_topology *t = p->t;
    int G = m->n_grp, N = t->n_nodes, rc = -ENOMEM, nk = 0;
    double *pre = malloc(((size_t)G + 1) * sizeof *pre);
    double *suf = malloc(((size_t)G + 1) * N * sizeof *suf);
    double *ready = malloc((size_t)N * sizeof *ready);
    double *arr = malloc((size_t)N * sizeof *arr);
    int *via = malloc((size_t)N * sizeof *via);
    int *okpre = malloc(((size_t)G + 1) * sizeof *okpre);
    int *trial = malloc(((size_t)G + 1) * sizeof *trial);
    plan_router *r = plan_router_new(t);
    struct { double est; int k, n; } keep[SPLIT_KEEP];
    plan_sched best, cand;

    plan_sched_init(&best);
    plan_sched_init(&cand);
    if (!pre || !suf || !ready || !arr || !via || !okpre || !trial || !r)
        goto out;
    pre[0] = 0;
    okpre[0] = 1;
    for (int g = 0; g < G; g++) {
        pre[g + 1] = pre[g] + plan_group_time(m, g, t, p->src);
        okpre[g + 1] = okpre[g] && plan_allowed(p, g, p->src);
    }
    for (int n = 0; n < N; n++) {
        suf[(size_t)G * N + n] = 0;
        for (int g = G - 1; g >= 0; g--)
            suf[(size_t)g * N + n] =
                plan_allowed(p, g, n)
                    ? suf[(size_t)(g + 1) * N + n] +
                          plan_group_time(m, g, t, n)
                    : INFINITY;
    }
    for (int k = 0; k < G; k++) {
        if (!okpre[k])
            break;
        for (int n = 0; n < N; n++)
            ready[n] = INFINITY;
        ready[p->src] = p->t0 + pre[k];
        if (plan_route(r, m->cut[k], ready, NULL, NULL, arr, via))
            goto out;
        for (int n = 0; n < N; n++) {
            double est = arr[n] + suf[(size_t)k * N + n];
            int slot = -1;
            if (n == p->src || !isfinite(est))
                continue;
            if (nk < SPLIT_KEEP)
                slot = nk++;
            else
                for (int i = 0; i < SPLIT_KEEP; i++)
                    if (keep[i].est > est &&
                        (slot < 0 || keep[i].est > keep[slot].est))
                        slot = i;
            if (slot >= 0) {
                keep[slot].est = est;
                keep[slot].k = k;
                keep[slot].n = n;
            }
        }
    }
    plan_base_source(p, assign);
    if (plan_eval(p, assign, &best))
        goto out;
    for (int i = 0; i < nk; i++) {
        for (int g = 0; g < G; g++)
            trial[g] = g < keep[i].k ? p->src : keep[i].n;
        if (plan_eval(p, trial, &cand))
            goto out;
        if (plan_sched_cmp(p, &cand, &best) < 0) {
            plan_sched tmp = best;
            best = cand;
            cand = tmp;
            memcpy(assign, trial, (size_t)G * sizeof *assign);
        }
    }
    rc = 0;
out:
    plan_sched_free(&best);
    plan_sched_free(&cand);
    plan_router_free(r);
    free(pre);
    free(suf);
    free(ready);
    free(arr);
    free(via);
    free(okpre);
    free(trial);
    return rc;
}

#define EXHAUSTIVE_MAX 2000000.0
int plan_exhaustive(const plan_problem *p, int *assign, char *err,
                    size_t errlen)
{
    int G = p->m->n_grp, N = p->t->n_nodes, rc = -ENOMEM;
    int *a = calloc((size_t)G + 1, sizeof *a);
    plan_sched best, cand;

    if (pow(N, G) > EXHAUSTIVE_MAX) {
        free(a);
        return lg_errf(err, errlen, -E2BIG,
                       "exhaustive search over %d^%d assignments is too "
                       "large (limit %.0f)", N, G, EXHAUSTIVE_MAX);
    }
    plan_sched_init(&best);
    plan_sched_init(&cand);
    if (!a)
        goto out;
    best.feasible = 0;
    best.completion = INFINITY;
    for (;;) {
        if (plan_eval(p, a, &cand))
            goto out;
        if (plan_sched_cmp(p, &cand, &best) < 0 || !best.assign) {
            plan_sched tmp = best;
            best = cand;
            cand = tmp;
            memcpy(assign, a, (size_t)G * sizeof *a);
        }
        int g = 0;
        while (g < G && ++a[g] == N)
            a[g++] = 0;
        if (g == G)
            break;
    }
    rc = 0;
out:
    if (rc == -ENOMEM)
        lg_errf(err, errlen, -ENOMEM, "out of memory");
    plan_sched_free(&best);
    plan_sched_free(&cand);
    free(a);
    return rc;
}

/* ---- lower bound ------------------------------------------------------ */

double plan_lower_bound(const plan_problem *p)
{
    const plan_model *m = p->m;
    const plan_topology *t = p->t;
    int G = m->n_grp, N = t->n_nodes, must_leave = p->src != p->dst;
    double *cp = calloc((size_t)G + 1, sizeof *cp), lb1 = 0, lb2 = 0;

    if (!cp)
        return p->t0;
    /* critical path, each group at its fastest allowed node */
    for (int g = 0; g < G; g++) {
        double best = INFINITY, start = 0;
        for (int n = 0; n < N; n++)
            if (plan_allowed(p, g, n)) {
                double c = plan_group_time(m, g, t, n);
                if (c < best)
                    best = c;
            }
        if (!plan_allowed(p, g, p->src))
            must_leave = 1;
        for (int k = m->gin0[g]; k < m->gin0[g + 1]; k++) {
            int q = m->ten[m->gin[k]].producer;
            if (q >= 0 && cp[q] > start)
                start = cp[q];
        }
        cp[g] = start + best;
        if (cp[g] > lb1)
            lb1 = cp[g];
    }
    free(cp);
    /* something must leave the source. If the output goes elsewhere, the
     * smallest cut must get there: route it from t0 (sending fewer bytes
     * never arrives later, so this is a bound whatever else the plan
     * does). Otherwise: the first departure, the shortest light time out
     * and the smallest cut at the best rate. */
    if (must_leave) {
        uint64_t minb = UINT64_MAX;
        for (int k = 0; k <= G; k++)
            if (m->cut[k] < minb)
                minb = m->cut[k];
        if (p->src != p->dst) {
            plan_router *r = plan_router_new(t);
            double *ready = malloc((size_t)N * sizeof *ready);
            double *arr = malloc((size_t)N * sizeof *arr);
            int *via = malloc((size_t)N * sizeof *via);
            if (r && ready && arr && via) {
                for (int n = 0; n < N; n++)
                    ready[n] = INFINITY;
                ready[p->src] = p->t0;
                if (plan_route(r, minb, ready, NULL, NULL, arr, via) == 0 &&
                    isfinite(arr[p->dst]))
                    lb2 = arr[p->dst] - p->t0;
            }
            plan_router_free(r);
            free(ready);
            free(arr);
            free(via);
        } else {
            double dep = INFINITY, delay = INFINITY, rate = 0;
            for (int i = t->out_first[p->src];
                 i < t->out_first[p->src + 1]; i++) {
                const plan_link *l = &t->links[t->out_links[i]];
                int w = plan_link_window_at(l, p->t0);
                if (w < l->n_win) {
                    double st = l->win[w].start > p->t0 ? l->win[w].start
                                                        : p->t0;
                    if (st < dep)
                        dep = st;
                }
                for (int k = 0; k < l->n_win; k++)
                    if (l->win[k].delay < delay)
                        delay = l->win[k].delay;
            }
            double back = INFINITY;   /* and the shortest way back in */
            for (int l = 0; l < t->n_links; l++)
                for (int k = 0; k < t->links[l].n_win; k++) {
                    if (t->links[l].win[k].rate > rate)
                        rate = t->links[l].win[k].rate;
                    if (t->links[l].to == p->src &&
                        t->links[l].win[k].delay < back)
                        back = t->links[l].win[k].delay;
                }
            if (isfinite(dep) && isfinite(delay) && isfinite(back) &&
                rate > 0)
                lb2 = dep - p->t0 + delay + back + (double)minb / rate;
        }
    }
    return p->t0 + (lb1 > lb2 ? lb1 : lb2);
}

/* ---- plan_solve ------------------------------------------------------- */

/* The DP runs on a chain: the model itself if it is one, else the
 * coarsest chain above it (cuts only at block boundaries); the answer is
 * mapped back to the model's groups. *cuts: cut positions it covers. */
static int dp_on_chain(const plan_problem *p, int *a, double *bound,
                       int *cuts, char *err, size_t errlen)
{
    const plan_model *m = p->m;
    int G = m->n_grp, N = p->t->n_nodes, rc;
    int *map = NULL, *ca = NULL, *wfirst = NULL;
    unsigned char *al = NULL;
    plan_model *cm = NULL;
    plan_problem q = *p;

    map = malloc(((size_t)G + 1) * sizeof *map);
    if (!map)
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    if (m->chain) {
        for (int g = 0; g < G; g++)
            map[g] = g;
    } else if ((rc = plan_model_chain(m, &cm, map, err, errlen)) != 0) {
        goto out;
    }
    /* the weights to ship: p's groups (and resident) for each chain
     * group, which covers a range of them */
    q.resident = NULL;          /* the DP reads p */
    if (m->chain) {
        *cuts = G - 1;
        rc = plan_dp(&q, p->resident ? p : NULL, NULL, a, bound, err,
                     errlen);
        goto out;
    }
    if (p->resident) {
        wfirst = malloc(((size_t)cm->n_grp + 2) * sizeof *wfirst);
        if (!wfirst) {
            rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
            goto out;
        }
        for (int g = G - 1; g >= 0; g--)
            wfirst[map[g]] = g;
        wfirst[cm->n_grp] = G;
    }
    ca = malloc(((size_t)cm->n_grp + 1) * sizeof *ca);
    if (p->allowed)
        al = malloc((size_t)cm->n_grp * N + 1);
    if (!ca || (p->allowed && !al)) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    if (al) {
        memset(al, 1, (size_t)cm->n_grp * N);
        for (int g = 0; g < G; g++)
            for (int n = 0; n < N; n++)
                if (!plan_allowed(p, g, n))
                    al[(size_t)map[g] * N + n] = 0;
    }
    q.m = cm;
    q.allowed = al;
    if ((rc = plan_dp(&q, p->resident ? p : NULL, wfirst, ca, bound, err,
                      errlen)) != 0)
        goto out;
    for (int g = 0; g < G; g++)
        a[g] = ca[map[g]];
    *cuts = cm->n_grp - 1;
out:
    plan_model_free(cm);
    free(map);
    free(ca);
    free(al);
    free(wfirst);
    return rc;
}

static int run_one(const plan_problem *p, enum plan_strategy st, int *a,
                   double *bound, int *cuts, char *err, size_t errlen)
{
    *bound = -INFINITY;
    *cuts = 0;
    switch (st) {
    case PLAN_STRAT_DP:
        return dp_on_chain(p, a, bound, cuts, err, errlen);
    case PLAN_STRAT_HEFT:
    case PLAN_STRAT_LIST:
        return plan_heft(p, a, err, errlen);
    case PLAN_STRAT_SOURCE:
        return plan_base_source(p, a);
    case PLAN_STRAT_FASTEST:
        return plan_base_fastest(p, a);
    case PLAN_STRAT_SPLIT:
        return plan_base_split(p, a);
    case PLAN_STRAT_EXHAUSTIVE:
        return plan_exhaustive(p, a, err, errlen);
    default:
        return lg_errf(err, errlen, -EINVAL, "bad strategy");
    }
}

/* Is the DP's plan proven optimal? Time objective, and the evaluator
 * reproduces the value of the DP's relaxation (see dp.c). */
static int dp_exact(const plan_problem *p, const plan_sched *s, double bound)
{
    return p->obj == PLAN_OBJ_TIME && s->feasible && isfinite(bound) &&
           fabs(s->completion - bound) <= 1e-9 * (1 + fabs(bound));
}

/* Is there any path of links with windows from the input to the output
 * node? If not, no plan exists and the topology is what to fix: name it. */
static int check_route(const plan_problem *p, char *err, size_t errlen)
{
    const plan_topology *t = p->t;
    int N = t->n_nodes, head = 0, tail = 0;
    int *q = malloc((size_t)N * sizeof *q);
    unsigned char *seen = calloc((size_t)N, 1);
    int ok;

    if (!q || !seen) {
        free(q);
        free(seen);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    q[tail++] = p->src;
    seen[p->src] = 1;
    while (head < tail) {
        int u = q[head++];
        for (int i = t->out_first[u]; i < t->out_first[u + 1]; i++) {
            const plan_link *l = &t->links[t->out_links[i]];
            if (l->n_win > 0 && !seen[l->to]) {
                seen[l->to] = 1;
                q[tail++] = l->to;
            }
        }
    }
    ok = seen[p->dst];
    free(q);
    free(seen);
    if (ok)
        return 0;
    return lg_errf(err, errlen, LG_EMODEL,
                   "%s:%d: no route from %s to %s: no chain of links with "
                   "contact windows joins them (%s is declared at line %d)",
                   t->path ? t->path : "topology", t->nodes[p->dst].line,
                   t->nodes[p->src].name, t->nodes[p->dst].name,
                   t->nodes[p->src].name, t->nodes[p->src].line);
}

/* auto tries every assignment when there are at most this many */
#define AUTO_EXHAUSTIVE_MAX 4096.0

/* Record what the DP proved about its own plan: optimal over `cuts` cut
 * positions; over all of them (a chain) it is optimal outright. */
static void mark_dp(const plan_problem *p, plan_sched *s,
                    enum plan_strategy st, double bound, int cuts)
{
    int exact = st == PLAN_STRAT_DP && dp_exact(p, s, bound);
    s->proven_cuts = exact ? cuts : 0;
    s->proven_optimal = exact && cuts >= p->m->n_grp - 1;
}

int plan_solve(const plan_problem *p, enum plan_strategy st, plan_sched *s,
               char *err, size_t errlen)
{
    double t_start = plan_now_ms(), bound;
    int cuts = 0;
    double budget = p->budget_ms > 0 ? p->budget_ms : 5.0;
    int G = p->m->n_grp, rc = 0;
    int *a = malloc(((size_t)G + 1) * sizeof *a);
    plan_sched cand;
    char why[256] = "";

    plan_sched_init(&cand);
    plan_sched_free(s);
    if (!a)
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    if ((rc = check_route(p, err, errlen)) != 0) {
        free(a);
        return rc;
    }
    if (G == 0) {
        free(a);
        return lg_errf(err, errlen, LG_EMODEL, "the model has no groups");
    }
    if (st != PLAN_STRAT_AUTO) {
        rc = run_one(p, st, a, &bound, &cuts, err, errlen);
        if (rc == 0 && st == PLAN_STRAT_LIST)
            rc = plan_improve(p, a, s, budget);
        if (rc == 0)
            rc = plan_eval(p, a, s);
        if (rc == 0) {
            snprintf(s->strategy, sizeof s->strategy, "%s",
                     plan_strategy_name(st));
            mark_dp(p, s, st, bound, cuts);
            if (st == PLAN_STRAT_EXHAUSTIVE && s->feasible) {
                s->proven_optimal = 1;
                s->proven_cuts = G - 1;
            }
        }
    } else {
        /* dp, then the list scheduler, then every baseline; keep the
         * best, then improve it unless it is already proven optimal */
        static const enum plan_strategy order[] = {
            PLAN_STRAT_EXHAUSTIVE, PLAN_STRAT_DP, PLAN_STRAT_HEFT,
            PLAN_STRAT_SOURCE, PLAN_STRAT_FASTEST, PLAN_STRAT_SPLIT};
        int have = 0, have_heft = 0;
        int *heft = malloc(((size_t)G + 1) * sizeof *heft);
        if (!heft) {
            rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            char e2[256];
            int r2;
            /* tiny instances: every assignment, which settles it */
            if (order[i] == PLAN_STRAT_EXHAUSTIVE &&
                pow(p->t->n_nodes, G) > AUTO_EXHAUSTIVE_MAX)
                continue;
            r2 = run_one(p, order[i], a, &bound, &cuts, e2, sizeof e2);
            if (r2 == -ENOMEM) {
                rc = lg_errf(err, errlen, -ENOMEM, "%s", e2);
                free(heft);
                goto out;
            }
            if (r2 != 0) {
                if (!why[0])
                    snprintf(why, sizeof why, "%s", e2);
                continue;
            }
            if ((rc = plan_eval(p, a, &cand)) != 0) {
                free(heft);
                goto out;
            }
            if (order[i] == PLAN_STRAT_HEFT) {
                memcpy(heft, a, (size_t)G * sizeof *a);
                have_heft = 1;
            }
            snprintf(cand.strategy, sizeof cand.strategy, "%s",
                     plan_strategy_name(order[i]));
            mark_dp(p, &cand, order[i], bound, cuts);
            if (order[i] == PLAN_STRAT_EXHAUSTIVE && cand.feasible) {
                cand.proven_optimal = 1;
                cand.proven_cuts = G - 1;
            }
            if (!have || plan_sched_cmp(p, &cand, s) < 0 ||
                (cand.proven_cuts && plan_sched_cmp(p, &cand, s) <= 0)) {
                plan_sched tmp = *s;
                *s = cand;
                cand = tmp;
                have = 1;
            }
            /* nothing beats a plan proven optimal over every cut */
            if (s->proven_optimal)
                break;
        }
        if (!have) {
            free(heft);
            rc = lg_errf(err, errlen, LG_EMODEL, "%s",
                         why[0] ? why : "no strategy found a plan");
            goto out;
        }
        /* local improvement from the best plan, and from the list
         * scheduler's (it reaches placements that no set of cuts can) */
        for (int from = 0; from < 2 && !s->proven_optimal; from++) {
            char name[24];
            if (from == 0)
                memcpy(a, s->assign, (size_t)G * sizeof *a);
            else if (have_heft && memcmp(heft, s->assign,
                                         (size_t)G * sizeof *heft))
                memcpy(a, heft, (size_t)G * sizeof *a);
            else
                break;
            snprintf(name, sizeof name, "%.20s",
                     from == 0 ? s->strategy : "heft");
            if ((rc = plan_improve(p, a, &cand, budget / 2)) != 0) {
                free(heft);
                goto out;
            }
            if (plan_sched_cmp(p, &cand, s) < 0) {
                plan_sched tmp = *s;
                *s = cand;
                cand = tmp;
                snprintf(s->strategy, sizeof s->strategy, "%s+improve",
                         name);
                s->proven_cuts = 0;
            }
        }
        free(heft);
    }
out:
    if (rc == 0) {
        s->lower_bound = plan_lower_bound(p);
        /* meeting the lower bound proves optimality whatever found it */
        if (p->obj == PLAN_OBJ_TIME && s->feasible &&
            s->completion <= s->lower_bound + 1e-9 * (1 + s->lower_bound)) {
            s->proven_optimal = 1;
            s->proven_cuts = G - 1;
        }
        /* no orbital energy at all cannot be beaten */
        if (p->obj == PLAN_OBJ_ENERGY && s->feasible &&
            s->energy_orbit_j <= 0) {
            s->proven_optimal = 1;
            s->proven_cuts = G - 1;
        }
        s->solve_ms = plan_now_ms() - t_start;
    }
    plan_sched_free(&cand);
    free(a);
    return rc;
}
