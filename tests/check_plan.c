/*
 * check_plan.c - unit and property tests for the planner (lib/plan/
 * plan_model.c, eval.c, dp.c, sched.c, solve.c).
 *
 *  - optimality: on random chain instances the DP's plan equals the best
 *    of exhaustive search over every assignment (an independent method:
 *    it only uses the evaluator), and is flagged proven optimal when no
 *    battery couples its runs;
 *  - properties, for every strategy on random chains and DAGs: no leg
 *    outside its window, legs carry exactly the bundle's bytes per hop,
 *    nothing leaves before it is ready, no node over its memory, no
 *    battery below its minimum (checked with plan_power_check on the
 *    groups' busy intervals), completion >= the lower bound, and auto is
 *    never worse than any baseline;
 *  - hand-worked cases: a transfer waiting for the next pass, a relay via
 *    GEO beating the wait, a memory limit forcing a split, infeasibility
 *    reasons that name the node;
 *  - weights (plan_problem.resident): NULL and "all resident" give the
 *    same schedules; a partition waits for its weights sent from the input
 *    node (worked out by hand); auto prefers a slightly slower node that
 *    holds the weights to shipping 100 MB over 20 Mbit/s; the DP is never
 *    claimed optimal when exhaustive search does better, with weights of
 *    their own per group and with weights shared between groups;
 *  - shared weights, counted once (worked out by hand): five MatMuls of a
 *    real graph reading one 16 KiB weight need it once, per group, per
 *    node and for the memory check; two groups sharing a weight on one
 *    node need it once and ship it once, on two nodes each needs it.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "lgerr.h"
#include "plan.h"
#include "power.h"
#include "topology.h"

/* --- random instances ---------------------------------------------------- */

static unsigned rng_state = 12345;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xffffff;
}
static double urand(double a, double b)
{
    return a + (b - a) * (rnd() / 16777216.0);
}

/* Give m (G groups) shared weights: 1 + G/2 initializers, each group
 * reading one or two of them. */
static void rand_shared(plan_model *m)
{
    int G = m->n_grp, W = 1 + G / 2, r = 0;
    ck_assert_int_eq(plan_model_alloc_weights(m, W, 2 * G), 0);
    for (int x = 0; x < W; x++)
        m->w_bytes[x] = (uint64_t)urand(1e5, 5e7);
    for (int g = 0; g < G; g++) {
        int a = (int)(rnd() % (unsigned)W), b = (int)(rnd() % (unsigned)W);
        m->gw0[g] = r;
        m->gw[r++] = a < b ? a : b;
        if (a != b)
            m->gw[r++] = a < b ? b : a;
    }
    m->gw0[G] = r;
}

/* A chain (dag = 0) or a DAG with skip edges of G groups; dag = 2: a DAG,
 * 3: a chain, with weights shared between groups (rand_shared). */
static plan_model *rand_model(int G, int dag)
{
    int shared = dag >= 2;
    int nt = G + 1, nc = G + 1, k = 0, ci = 0;
    int skips = dag == 1 || dag == 2 ? G / 2 : 0;
    plan_model *m = plan_model_alloc(G, nt + skips, nc + skips);
    char err[256];
    ck_assert_ptr_nonnull(m);
    if (shared)
        rand_shared(m);
    for (int g = 0; g < G; g++) {
        snprintf(m->grp[g].name, sizeof m->grp[g].name, "op%d", g);
        m->grp[g].first = m->grp[g].last = g;
        m->grp[g].flops[PLAN_OC_CONV] = urand(1e8, 4e9);
        m->grp[g].n_ops = 1;
        m->grp[g].param_bytes = (uint64_t)urand(1e5, 5e7);
        m->grp[g].act_bytes = (uint64_t)urand(1e5, 1e7);
    }
    /* t0: input -> g0; t(g+1): g -> g+1; last: output of G-1 */
    for (int t = 0; t <= G; t++) {
        plan_tensor *x = &m->ten[k++];
        snprintf(x->name, sizeof x->name, "t%d", t);
        x->bytes = (uint64_t)urand(1e3, 5e7);
        x->producer = t - 1;
        x->cons0 = ci;
        if (t < G) {
            m->cons[ci++] = t;
            x->n_cons = 1;
        } else {
            x->is_output = 1;
        }
    }
    for (int s = 0; s < skips; s++) {
        int a = (int)(rnd() % (unsigned)(G - 2)), b = a + 2 +
                (int)(rnd() % (unsigned)(G - a - 2));
        plan_tensor *x = &m->ten[k++];
        snprintf(x->name, sizeof x->name, "skip%d", s);
        x->bytes = (uint64_t)urand(1e3, 1e7);
        x->producer = a;
        x->cons0 = ci;
        x->n_cons = 1;
        m->cons[ci++] = b;
    }
    m->n_ten = k;
    m->n_cons_total = ci;
    ck_assert_int_eq(plan_model_finish(m, err, sizeof err), 0);
    return m;
}

static char topo_buf[16384];

/* N nodes: node 0 a grid ground station, the rest random GPUs, some on
 * batteries; random links with random windows. */
static plan_topology *rand_topo(int N, int solar)
{
    char err[512];
    plan_topology *t = NULL;
    int o = 0;
    o += snprintf(topo_buf + o, sizeof topo_buf - o,
                  "Horizon=20000\n"
                  "Profile=p Conv=100G Gemm=100G Elem=4G Other=4G "
                  "MemBW=20G Overhead=0\n"
                  "Node=n0 Kind=ground Profile=p Scale=%.3f Memory=64G\n",
                  urand(0.2, 1.0));
    for (int n = 1; n < N; n++) {
        int bat = solar && (rnd() & 1);
        o += snprintf(topo_buf + o, sizeof topo_buf - o,
                      "Node=n%d Kind=leo Profile=p Scale=%.3f Memory=%dG",
                      n, urand(0.5, 20), (int)urand(1, 16));
        if (bat)
            o += snprintf(topo_buf + o, sizeof topo_buf - o,
                          " Power=solar ArrayW=%.0f BatteryWh=%.4f "
                          "MinSoc=0.2 Soc=0.9 IdleW=0.5 BusyW=%.0f "
                          "Eclipse=every:100/37@%.0f",
                          urand(10, 200), urand(0.02, 0.1),
                          urand(300, 1500), urand(0, 60));
        o += snprintf(topo_buf + o, sizeof topo_buf - o, "\n");
    }
    for (int a = 0; a < N; a++)
        for (int b = a + 1; b < N; b++) {
            if (b != a + 1 && (rnd() & 1))
                continue;
            o += snprintf(topo_buf + o, sizeof topo_buf - o,
                          "Link=n%d<>n%d Delay=%.4f Rate=%.0fM/%.0fM", a, b,
                          urand(0.001, 0.2), urand(10, 2000),
                          urand(10, 2000));
            if (rnd() % 3) {
                double s = urand(0, 30);
                o += snprintf(topo_buf + o, sizeof topo_buf - o,
                              " Window=%.2f-%.2f,%.2f-%.2f,%.2f-%.2f", s,
                              s + urand(1, 10), s + 40, s + 40 + urand(1, 20),
                              s + 100, s + 10000);
            }
            o += snprintf(topo_buf + o, sizeof topo_buf - o, "\n");
        }
    if (plan_topology_parse("rand.topo", topo_buf, (size_t)o, &t, err,
                            sizeof err) != 0)
        ck_abort_msg("topology: %s\n%s", err, topo_buf);
    return t;
}

static void setup_problem(plan_problem *p, const plan_model *m,
                          const plan_topology *t, double t0)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->t = t;
    p->t0 = t0;
    p->src = 0;
    p->dst = 0;
    p->deadline = INFINITY;
    p->obj = PLAN_OBJ_TIME;
    p->budget_ms = 50;
}

/* --- properties ------------------------------------------------------------ */

/* Does group g read initializer x? (by a plain scan) */
static int reads(const plan_model *m, int g, int x)
{
    for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++)
        if (m->gw[k] == x)
            return 1;
    return 0;
}

/* The weights accounted by the evaluator, recounted one initializer at a
 * time: a node holds each initializer some group placed on it reads, a
 * partition's param_bytes and weight bundle count each once. */
static void check_weights(const plan_problem *p, const plan_sched *s)
{
    const plan_model *m = p->m;
    int N = p->t->n_nodes;
    for (int n = 0; n < N; n++) {
        uint64_t w = 0, act = 0;
        for (int x = 0; x < m->n_w; x++)
            for (int g = 0; g < m->n_grp; g++)
                if (s->assign[g] == n && reads(m, g, x)) {
                    w += plan_weight_bytes(m, x);
                    break;
                }
        for (int g = 0; g < m->n_grp; g++)
            if (s->assign[g] == n && m->grp[g].act_bytes > act)
                act = m->grp[g].act_bytes;
        ck_assert_uint_eq(s->node_mem[n], w + act);
    }
    for (int k = 0; k < s->n_parts; k++) {
        const plan_part *pt = &s->parts[k];
        uint64_t all = 0, ship = 0;
        for (int x = 0; x < m->n_w; x++) {
            int r = 0, miss = 0;
            for (int g = pt->g0; g <= pt->g1; g++)
                if (reads(m, g, x)) {
                    r = 1;
                    if (p->resident && pt->node != p->src &&
                        !p->resident[(size_t)g * N + pt->node])
                        miss = 1;
                }
            all += r ? plan_weight_bytes(m, x) : 0;
            ship += miss ? plan_weight_bytes(m, x) : 0;
        }
        ck_assert_uint_eq(pt->param_bytes, all);
        ck_assert_uint_eq(pt->weight_bytes, ship);
    }
}

static void check_props(const plan_problem *p, const plan_sched *s)
{
    const plan_topology *t = p->t;
    const plan_model *m = p->m;
    ck_assert(isfinite(s->completion) || !s->feasible);
    if (!s->feasible)
        return;
    check_weights(p, s);
    ck_assert_msg(s->completion >= plan_lower_bound(p) - 1e-9,
                  "completion %.9f below lower bound %.9f", s->completion,
                  plan_lower_bound(p));
    for (int i = 0; i < s->n_xfers; i++) {
        const plan_xfer *x = &s->xfers[i];
        uint64_t sum = 0;
        int link = -1;
        ck_assert(x->first_send >= x->ready - 1e-9);
        ck_assert(x->arrive >= x->first_send - 1e-9);
        for (int k = x->leg0; k < x->leg0 + x->n_legs; k++) {
            const plan_leg *lg = &s->legs[k];
            const plan_window *w = &t->links[lg->link].win[lg->window];
            ck_assert_msg(lg->start >= w->start - 1e-9 &&
                              lg->end <= w->end + 1e-6,
                          "leg [%.6f, %.6f) outside window [%.6f, %.6f)",
                          lg->start, lg->end, w->start, w->end);
            ck_assert(lg->start >= x->ready - 1e-9);
            if (lg->link != link) {
                if (link >= 0)
                    ck_assert_uint_eq(sum, x->bytes);
                link = lg->link;
                sum = 0;
            }
            sum += lg->bytes;
        }
        if (link >= 0)
            ck_assert_uint_eq(sum, x->bytes);
    }
    for (int n = 0; n < t->n_nodes; n++) {
        plan_interval *busy = malloc(((size_t)m->n_grp + 1) * sizeof *busy);
        int nb = 0;
        ck_assert_msg(s->node_mem[n] <= t->nodes[n].memory,
                      "%s over memory", t->nodes[n].name);
        for (int g = 0; g < m->n_grp; g++) {
            if (s->assign[g] != n || s->gfinish[g] <= s->gstart[g])
                continue;
            if (nb && fabs(busy[nb - 1].end - s->gstart[g]) < 1e-9) {
                busy[nb - 1].end = s->gfinish[g];
                continue;
            }
            ck_assert(!nb || s->gstart[g] >= busy[nb - 1].end - 1e-9);
            busy[nb].start = s->gstart[g];
            busy[nb].end = s->gfinish[g];
            nb++;
        }
        if (t->nodes[n].power.solar) {
            double viol = 0;
            ck_assert_msg(plan_power_check(&t->nodes[n].power, busy, nb,
                                           t->horizon, &viol) == 0,
                          "%s battery below minimum at %.3f",
                          t->nodes[n].name, viol);
        }
        free(busy);
    }
    /* every group starts after its inputs could exist */
    for (int g = 0; g < m->n_grp; g++)
        for (int k = m->gin0[g]; k < m->gin0[g + 1]; k++) {
            int q = m->ten[m->gin[k]].producer;
            if (q >= 0)
                ck_assert(s->gstart[g] >= s->gfinish[q] - 1e-9);
        }
}

static double solve(const plan_problem *p, enum plan_strategy st,
                    plan_sched *s)
{
    char err[512];
    int rc = plan_solve(p, st, s, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", plan_strategy_name(st), err);
    check_props(p, s);
    return s->feasible ? s->completion : INFINITY;
}

START_TEST(dp_equals_exhaustive_on_chains)
{
    int proven = 0, cases = 0;
    rng_state = 777;
    for (int it = 0; it < 60; it++) {
        int G = 2 + (int)(rnd() % 4), N = 2 + (int)(rnd() % 2);
        int solar = it % 3 == 2;
        plan_model *m = rand_model(G, it % 2 ? 3 : 0);
        plan_topology *t = rand_topo(N, solar);
        plan_problem p;
        plan_sched a, b;
        double tdp, tex;
        plan_sched_init(&a);
        plan_sched_init(&b);
        setup_problem(&p, m, t, urand(0, 50));
        p.dst = (int)(rnd() % (unsigned)N);
        tdp = solve(&p, PLAN_STRAT_DP, &a);
        tex = solve(&p, PLAN_STRAT_EXHAUSTIVE, &b);
        ck_assert(m->chain);
        /* exhaustive can never lose to anything */
        ck_assert_msg(tex <= tdp + 1e-9, "exhaustive %.9f > dp %.9f", tex,
                      tdp);
        if (!solar && isfinite(tex)) {
            ck_assert_msg(a.proven_optimal,
                          "it %d: dp not proven optimal without batteries",
                          it);
        }
        if (a.proven_optimal) {
            ck_assert_msg(fabs(tdp - tex) <= 1e-9 * (1 + fabs(tex)),
                          "it %d: dp %.9f != exhaustive %.9f (G=%d N=%d)",
                          it, tdp, tex, G, N);
            proven++;
        }
        cases++;
        plan_sched_free(&a);
        plan_sched_free(&b);
        plan_topology_free(t);
        plan_model_free(m);
    }
    ck_assert_int_ge(proven, cases / 2);
}
END_TEST

START_TEST(strategies_keep_properties)
{
    rng_state = 4242;
    for (int it = 0; it < 40; it++) {
        int dag = it & 3;           /* chains and DAGs, shared weights */
        int G = 4 + (int)(rnd() % 12), N = 2 + (int)(rnd() % 5);
        plan_model *m = rand_model(G, dag);
        plan_topology *t = rand_topo(N, 1);
        plan_problem p;
        plan_sched s;
        double best = INFINITY, autov;
        plan_sched_init(&s);
        setup_problem(&p, m, t, urand(0, 120));
        for (int st = PLAN_STRAT_DP; st <= PLAN_STRAT_HEFT; st++) {
            double v = solve(&p, (enum plan_strategy)st, &s);
            if (v < best)
                best = v;
        }
        autov = solve(&p, PLAN_STRAT_AUTO, &s);
        ck_assert_msg(autov <= best + 1e-9, "auto %.6f worse than %.6f",
                      autov, best);
        plan_sched_free(&s);
        plan_topology_free(t);
        plan_model_free(m);
    }
}
END_TEST

/* A 3-group chain on a ground station and one LEO GPU 50x faster that is
 * in view only in [100, 110): the plan computes on the ground, or waits
 * for the pass, whichever finishes first - worked out by hand. */
static const char pass_topo[] =
    "Profile=p Conv=100G Gemm=100G Elem=1G Other=1G MemBW=10G "
    "Overhead=0\n"
    "Node=gs Kind=ground Profile=p Memory=64G\n"
    "Node=sat Kind=leo Profile=p Scale=50 Memory=64G\n"
    "Link=gs<>sat Delay=0.005 Rate=800M Window=100-110\n";

static plan_model *chain3(double gflop)
{
    plan_model *m = plan_model_alloc(1, 2, 1);
    char err[128];
    m->grp[0].flops[PLAN_OC_CONV] = gflop * 1e9;
    m->grp[0].n_ops = 1;
    snprintf(m->grp[0].name, sizeof m->grp[0].name, "conv");
    m->ten[0].bytes = 1000000; /* 1 MB in */
    m->ten[0].producer = -1;
    m->ten[0].cons0 = 0;
    m->ten[0].n_cons = 1;
    m->cons[0] = 0;
    m->ten[1].bytes = 1000; /* 1 kB out */
    m->ten[1].producer = 0;
    m->ten[1].is_output = 1;
    ck_assert_int_eq(plan_model_finish(m, err, sizeof err), 0);
    return m;
}

START_TEST(waits_for_pass_when_worth_it)
{
    char err[256];
    plan_topology *t;
    plan_problem p;
    plan_sched s;
    plan_model *small = chain3(100), *big = chain3(20000);
    ck_assert_int_eq(plan_topology_parse("pass", pass_topo,
                                         sizeof pass_topo - 1, &t, err,
                                         sizeof err), 0);
    plan_sched_init(&s);
    /* 100 GFLOP: 1 s on the ground beats waiting 100 s for the pass */
    setup_problem(&p, small, t, 0);
    solve(&p, PLAN_STRAT_AUTO, &s);
    ck_assert(s.feasible && s.proven_optimal);
    ck_assert_int_eq(s.assign[0], 0);
    ck_assert_double_eq_tol(s.completion, 1.0, 1e-9);
    /* 20 TFLOP: 200 s on the ground; on the satellite: wait for the pass
     * at 100 s, 1 MB at 100 MB/s = 0.01 s, + 5 ms, compute 4 s, then the
     * 1 kB result must come back in the same pass: 104.015 s + 10 us +
     * 5 ms = 104.02001 s */
    setup_problem(&p, big, t, 0);
    solve(&p, PLAN_STRAT_AUTO, &s);
    ck_assert(s.feasible && s.proven_optimal);
    ck_assert_int_eq(s.assign[0], 1);
    ck_assert_double_eq_tol(s.completion, 104.02001, 1e-9);
    ck_assert_int_eq(s.xfers[0].wait, PLAN_WAIT_CONTACT);
    /* the same job submitted at 108 s: the result misses the pass (ends
     * at 110 s), so the ground wins: 108 + 200 s */
    setup_problem(&p, big, t, 108);
    solve(&p, PLAN_STRAT_AUTO, &s);
    ck_assert_int_eq(s.assign[0], 0);
    ck_assert_double_eq_tol(s.completion, 308, 1e-9);
    plan_sched_free(&s);
    plan_topology_free(t);
    plan_model_free(small);
    plan_model_free(big);
}
END_TEST

START_TEST(infeasible_reasons_name_the_node)
{
    char err[256];
    static const char tiny[] =
        "Node=gs Kind=ground Memory=1K\n";
    plan_topology *t;
    plan_problem p;
    plan_sched s;
    plan_model *m = chain3(1);
    ck_assert_int_eq(plan_topology_parse("tiny", tiny, sizeof tiny - 1, &t,
                                         err, sizeof err), 0);
    m->grp[0].param_bytes = 1 << 20;
    plan_sched_init(&s);
    setup_problem(&p, m, t, 0);
    ck_assert_int_eq(plan_solve(&p, PLAN_STRAT_AUTO, &s, err, sizeof err),
                     0);
    ck_assert(!s.feasible);
    ck_assert_msg(strstr(s.reason, "gs lacks memory"), "%s", s.reason);
    /* a deadline that no plan can meet says so */
    m->grp[0].param_bytes = 0;
    p.deadline = 0.001;
    ck_assert_int_eq(plan_solve(&p, PLAN_STRAT_AUTO, &s, err, sizeof err),
                     0);
    ck_assert(!s.feasible);
    ck_assert_msg(strstr(s.reason, "deadline"), "%s", s.reason);
    plan_sched_free(&s);
    plan_topology_free(t);
    plan_model_free(m);
}
END_TEST

/* --- weights not yet on a node (plan_problem.resident) ------------------- */

static unsigned char *rand_resident(const plan_model *m,
                                    const plan_topology *t, int all)
{
    size_t n = (size_t)m->n_grp * t->n_nodes;
    unsigned char *r = malloc(n + 1);
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < n; i++)
        r[i] = all ? 1 : (rnd() % 3) == 0;
    return r;
}

/* resident = NULL and "every weight everywhere" are the same problem, for
 * every strategy: same assignment, same times, no weight transfers */
START_TEST(resident_null_is_all_resident)
{
    rng_state = 9191;
    for (int it = 0; it < 16; it++) {
        int dag = it & 3;
        int G = 3 + (int)(rnd() % 8), N = 2 + (int)(rnd() % 3);
        plan_model *m = rand_model(G, dag);
        plan_topology *t = rand_topo(N, it % 3 == 0);
        unsigned char *all = rand_resident(m, t, 1);
        plan_problem p;
        plan_sched a, b;
        plan_sched_init(&a);
        plan_sched_init(&b);
        setup_problem(&p, m, t, urand(0, 60));
        p.dst = (int)(rnd() % (unsigned)N);
        for (int st = PLAN_STRAT_DP; st <= PLAN_STRAT_HEFT; st++) {
            p.resident = NULL;
            solve(&p, (enum plan_strategy)st, &a);
            p.resident = all;
            solve(&p, (enum plan_strategy)st, &b);
            ck_assert_int_eq(a.feasible, b.feasible);
            ck_assert_msg(a.completion == b.completion ||
                              (!isfinite(a.completion) &&
                               !isfinite(b.completion)),
                          "it %d %s: %.9f != %.9f", it,
                          plan_strategy_name((enum plan_strategy)st),
                          a.completion, b.completion);
            ck_assert_int_eq(a.proven_optimal, b.proven_optimal);
            ck_assert_int_eq(a.n_xfers, b.n_xfers);
            ck_assert_int_eq(a.n_parts, b.n_parts);
            ck_assert(!memcmp(a.assign, b.assign, (size_t)G * sizeof *a.assign));
            for (int k = 0; k < b.n_parts; k++) {
                ck_assert_uint_eq(b.parts[k].weight_bytes, 0);
                ck_assert_int_eq(b.parts[k].weight_xfer, -1);
                ck_assert(b.parts[k].weights_arrive == p.t0);
            }
            for (int i = 0; i < b.n_xfers; i++)
                ck_assert_int_ne(b.xfers[i].producer, PLAN_XFER_WEIGHTS);
        }
        plan_sched_free(&a);
        plan_sched_free(&b);
        free(all);
        plan_topology_free(t);
        plan_model_free(m);
    }
}
END_TEST

/* Two groups, each 1 GFLOP (10 ms at 100 GFLOP/s) on two equal nodes;
 * 1000-byte tensors; gs<>sat at 1 MB/s with 0.5 s light time; g1 carries
 * 10 MB of weights. Input at gs, output wanted at sat. */
static const char wts_topo[] =
    "Profile=p Conv=100G Gemm=100G Elem=1G Other=1G MemBW=10G "
    "Overhead=0\n"
    "Node=gs Kind=ground Profile=p Memory=64G\n"
    "Node=sat Kind=leo Profile=p Memory=64G\n"
    "Link=gs<>sat Delay=0.5 Rate=8M\n";

static plan_model *chain_n(int G, double gflop, uint64_t tensor,
                           uint64_t params)
{
    plan_model *m = plan_model_alloc(G, G + 1, G);
    char err[128];
    ck_assert_ptr_nonnull(m);
    for (int g = 0; g < G; g++) {
        snprintf(m->grp[g].name, sizeof m->grp[g].name, "op%d", g);
        m->grp[g].first = m->grp[g].last = g;
        m->grp[g].flops[PLAN_OC_CONV] = gflop * 1e9;
        m->grp[g].n_ops = 1;
        m->grp[g].param_bytes = params;
    }
    for (int x = 0; x <= G; x++) {
        snprintf(m->ten[x].name, sizeof m->ten[x].name, "t%d", x);
        m->ten[x].bytes = tensor;
        m->ten[x].producer = x - 1;
        m->ten[x].cons0 = x;
        if (x < G) {
            m->ten[x].n_cons = 1;
            m->cons[x] = x;
        } else {
            m->ten[x].is_output = 1;
        }
    }
    ck_assert_int_eq(plan_model_finish(m, err, sizeof err), 0);
    return m;
}

START_TEST(weights_shipped_before_the_partition)
{
    char err[256];
    plan_topology *t;
    plan_problem p;
    plan_sched s;
    plan_model *m = chain_n(2, 1, 1000, 0);
    unsigned char res[4] = {0, 1, 0, 1};   /* [g][node]: g0 on gs, g1 on sat */
    int assign[2] = {0, 1};
    const plan_part *pt;
    const plan_xfer *w;
    m->grp[1].param_bytes = 10000000;
    ck_assert_int_eq(plan_topology_parse("wts", wts_topo,
                                         sizeof wts_topo - 1, &t, err,
                                         sizeof err), 0);
    plan_sched_init(&s);
    setup_problem(&p, m, t, 0);
    p.dst = 1;
    /* resident: g0 0-10 ms on gs; t1 1 ms + 0.5 s; g1 at 0.511 for 10 ms */
    p.resident = res;
    ck_assert_int_eq(plan_eval(&p, assign, &s), 0);
    ck_assert(s.feasible);
    ck_assert_double_eq_tol(s.completion, 0.521, 1e-9);
    ck_assert_int_eq(s.n_xfers, 1);
    /* not resident on sat: 10 MB leave gs at 0, at 1 MB/s: the link is
     * busy until 10 s and they arrive at 10.5 s; t1, ready at 10 ms, goes
     * after them: 10 s + 1 ms + 0.5 s = 10.501 s; g1 until 10.511 s. g0
     * is not resident on sat either, but it runs on gs (the input node,
     * which holds every weight): nothing shipped for it. */
    res[3] = 0;
    ck_assert_int_eq(plan_eval(&p, assign, &s), 0);
    ck_assert(s.feasible);
    ck_assert_int_eq(s.n_parts, 2);
    ck_assert_int_eq(s.n_xfers, 2);
    pt = &s.parts[1];
    ck_assert_uint_eq(pt->weight_bytes, 10000000);
    ck_assert_uint_eq(s.parts[0].weight_bytes, 0);
    ck_assert_int_eq(s.parts[0].weight_xfer, -1);
    ck_assert_int_ge(pt->weight_xfer, 0);
    w = &s.xfers[pt->weight_xfer];
    ck_assert_int_eq(w->producer, PLAN_XFER_WEIGHTS);
    ck_assert_int_eq(w->from_node, 0);
    ck_assert_int_eq(w->to_node, 1);
    ck_assert_int_eq(w->from_part, -1);
    ck_assert_int_eq(w->to_part, 1);
    ck_assert_int_eq(w->n_tensors, 1);
    ck_assert_uint_eq(w->bytes, 10000000);
    ck_assert_double_eq_tol(w->ready, 0, 1e-12);
    ck_assert_double_eq_tol(w->arrive, 10.5, 1e-9);
    ck_assert_double_eq_tol(pt->weights_arrive, 10.5, 1e-9);
    ck_assert(pt->ready >= w->arrive - 1e-12);
    ck_assert_double_eq_tol(pt->ready, 10.501, 1e-9);
    ck_assert_double_eq_tol(s.completion, 10.511, 1e-9);
    /* the tensor transfer waited for the link the weights held */
    for (int i = 0; i < s.n_xfers; i++)
        if (s.xfers[i].producer == 0) {
            ck_assert_int_eq(s.xfers[i].wait, PLAN_WAIT_LINK);
            ck_assert_double_eq_tol(s.xfers[i].first_send, 10, 1e-9);
        }
    /* the weights arrive after 10 MB / 1 MB/s + 0.5 s light time; the
     * plan grows by the 10 s the link is busy with them, less the 10 ms
     * t1 waited for g0 anyway */
    ck_assert_double_eq_tol(w->arrive - p.t0, 10000000 / 1e6 + 0.5, 1e-9);
    ck_assert_double_eq_tol(s.completion - 0.521, 10.0 - 0.010, 1e-9);
    /* the planner now keeps everything on gs (2 x 10 ms, then the output
     * over the link: 20 ms + 1 ms + 0.5 s) and proves it optimal */
    solve(&p, PLAN_STRAT_AUTO, &s);
    ck_assert(s.feasible && s.proven_optimal);
    ck_assert_int_eq(s.assign[0], 0);
    ck_assert_int_eq(s.assign[1], 0);
    ck_assert_double_eq_tol(s.completion, 0.521, 1e-9);
    solve(&p, PLAN_STRAT_DP, &s);
    ck_assert_int_eq(s.assign[1], 0);
    plan_sched_free(&s);
    plan_topology_free(t);
    plan_model_free(m);
}
END_TEST

/* The example: a ground station computing slowly, a fast GPU and
 * a slightly slower one that already holds the model's 100 MB of weights,
 * both behind 20 Mbit/s links. Planning at request time keeps to the node
 * holding the weights rather than move 100 MB (40 s) to the faster one. */
static const char pick_topo[] =
    "Profile=p Conv=100G Gemm=100G Elem=1G Other=1G MemBW=10G "
    "Overhead=0\n"
    "Node=gs Kind=ground Profile=p Scale=0.01 Memory=64G\n"
    "Node=fast Kind=leo Profile=p Scale=2 Memory=64G\n"
    "Node=warm Kind=leo Profile=p Scale=1.5 Memory=64G\n"
    "Link=gs<>fast Delay=0.01 Rate=20M\n"
    "Link=gs<>warm Delay=0.01 Rate=20M\n";

START_TEST(auto_prefers_node_holding_weights)
{
    char err[256];
    plan_topology *t;
    plan_problem p;
    plan_sched s;
    plan_model *m = chain_n(2, 100, 1000, 50000000);
    unsigned char res[6] = {0, 0, 1, 0, 0, 1}; /* both groups on warm */
    ck_assert_int_eq(plan_topology_parse("pick", pick_topo,
                                         sizeof pick_topo - 1, &t, err,
                                         sizeof err), 0);
    plan_sched_init(&s);
    setup_problem(&p, m, t, 0);
    /* today's model (everything everywhere): the fast node, 1 s of
     * compute plus 2 x (1000 B at 2.5 MB/s + 10 ms) */
    solve(&p, PLAN_STRAT_AUTO, &s);
    ck_assert(s.feasible);
    ck_assert_int_eq(s.assign[0], 1);
    ck_assert_int_eq(s.assign[1], 1);
    ck_assert_double_eq_tol(s.completion, 1.0208, 1e-9);
    /* the warm node: 4/3 s of compute, no weights to move */
    p.resident = res;
    solve(&p, PLAN_STRAT_AUTO, &s);
    ck_assert(s.feasible);
    ck_assert_int_eq(s.assign[0], 2);
    ck_assert_int_eq(s.assign[1], 2);
    ck_assert_double_eq_tol(s.completion, 0.0208 + 200.0 / 150.0, 1e-9);
    for (int i = 0; i < s.n_xfers; i++)
        ck_assert_int_ne(s.xfers[i].producer, PLAN_XFER_WEIGHTS);
    /* the fast node with the weights shipped would take 40 s more */
    {
        int a[2] = {1, 1};
        plan_sched f;
        plan_sched_init(&f);
        ck_assert_int_eq(plan_eval(&p, a, &f), 0);
        ck_assert_uint_eq(f.parts[0].weight_bytes, 100000000);
        /* after the 1000-byte input (0.4 ms): 40 s + 10 ms */
        ck_assert_double_eq_tol(f.parts[0].weights_arrive, 40.0104, 1e-9);
        ck_assert(f.completion > s.completion + 30);
        plan_sched_free(&f);
    }
    /* the DP alone finds it too */
    solve(&p, PLAN_STRAT_DP, &s);
    ck_assert_int_eq(s.assign[0], 2);
    ck_assert_int_eq(s.assign[1], 2);
    plan_sched_free(&s);
    plan_topology_free(t);
    plan_model_free(m);
}
END_TEST

/* With random residency: exhaustive never loses, the DP is only claimed
 * optimal when it is, auto finds exhaustive's optimum, every schedule
 * keeps its properties and every partition waits for its weights. */
START_TEST(resident_exhaustive_oracle)
{
    int proven = 0, auto_opt = 0, cases = 0, shipped = 0;
    rng_state = 31337;
    for (int it = 0; it < 80; it++) {
        /* chains, DAGs; odd iterations share weights between groups */
        int dag = it % 4 == 3 ? (it % 8 == 7 ? 2 : 1) : it % 2 ? 3 : 0;
        int G = 2 + (int)(rnd() % 4), N = 2 + (int)(rnd() % 2);
        int isdag = dag == 1 || dag == 2;
        plan_model *m = rand_model(isdag ? G + 2 : G, dag);
        plan_topology *t = rand_topo(N, it % 3 == 2);
        unsigned char *res = rand_resident(m, t, 0);
        plan_problem p;
        plan_sched a, b, c;
        double tdp, tex, tau;
        plan_sched_init(&a);
        plan_sched_init(&b);
        plan_sched_init(&c);
        setup_problem(&p, m, t, urand(0, 50));
        p.dst = (int)(rnd() % (unsigned)N);
        p.resident = res;
        tdp = solve(&p, PLAN_STRAT_DP, &a);
        tex = solve(&p, PLAN_STRAT_EXHAUSTIVE, &b);
        tau = solve(&p, PLAN_STRAT_AUTO, &c);
        ck_assert_msg(tex <= tdp + 1e-9, "exhaustive %.9f > dp %.9f", tex,
                      tdp);
        ck_assert_msg(tex <= tau + 1e-9, "exhaustive %.9f > auto %.9f", tex,
                      tau);
        if (a.proven_optimal) {
            ck_assert_msg(fabs(tdp - tex) <= 1e-9 * (1 + fabs(tex)),
                          "it %d: dp %.9f claimed optimal, exhaustive %.9f",
                          it, tdp, tex);
            proven++;
        }
        if (c.proven_optimal)
            ck_assert_msg(fabs(tau - tex) <= 1e-9 * (1 + fabs(tex)),
                          "it %d: auto %.9f claimed optimal, exhaustive "
                          "%.9f", it, tau, tex);
        if (fabs(tau - tex) <= 1e-9 * (1 + fabs(tex)))
            auto_opt++;
        for (int k = 0; k < b.n_parts; k++) {
            const plan_part *pt = &b.parts[k];
            ck_assert(pt->ready >= pt->weights_arrive - 1e-9 ||
                      !isfinite(pt->weights_arrive));
            if (pt->weight_bytes) {
                ck_assert_int_ne(pt->node, p.src);
                ck_assert_int_eq(b.xfers[pt->weight_xfer].to_part, k);
                shipped++;
            }
        }
        cases++;
        plan_sched_free(&a);
        plan_sched_free(&b);
        plan_sched_free(&c);
        free(res);
        plan_topology_free(t);
        plan_model_free(m);
    }
    ck_assert_int_ge(auto_opt, cases * 9 / 10);
    ck_assert_int_gt(shipped, 0);
    ck_assert_int_gt(proven, 0);
}
END_TEST

/* --- shared weights, counted once ------------------------------------ */

/* x [1, 64] -> mm0 .. mm4, each MatMul by the same W [64, 64] (16384
 * bytes) -> Add b [1, 64] (256 bytes) -> y. Five graph nodes read W. */
static lg_graph *shared_graph(void)
{
    static const int64_t xd[2] = {1, 64}, wd[2] = {64, 64}, bd[2] = {1, 64};
    lg_graph *g = lg_graph_new();
    lg_shape ws = lg_shape_make(2, wd), bs = lg_shape_make(2, bd);
    char err[256], in[2][16], out[16], name[16];
    int x;
    ck_assert_ptr_nonnull(g);
    g->name = strdup("shared");
    g->opset = 13;
    g->ir_version = 8;
    x = lg_graph_value(g, "x");
    g->values[x].dtype = LG_F32;
    g->values[x].shape = lg_shape_make(2, xd);
    g->values[x].has_shape = 1;
    ck_assert_int_eq(lg_graph_add_input(g, x), 0);
    lg_graph_set_const(g, lg_graph_value(g, "W"),
                       lg_tensor_new(LG_F32, &ws), 1);
    lg_graph_set_const(g, lg_graph_value(g, "b"),
                       lg_tensor_new(LG_F32, &bs), 1);
    for (int i = 0; i <= 5; i++) {
        const char *ins[2] = {in[0], in[1]}, *outs[1] = {out};
        if (i)
            snprintf(in[0], sizeof in[0], "a%d", i - 1);
        else
            snprintf(in[0], sizeof in[0], "x");
        snprintf(in[1], sizeof in[1], "%s", i < 5 ? "W" : "b");
        if (i < 5) {
            snprintf(out, sizeof out, "a%d", i);
            snprintf(name, sizeof name, "mm%d", i);
        } else {
            snprintf(out, sizeof out, "y");
            snprintf(name, sizeof name, "add");
        }
        ck_assert_int_ge(lg_graph_add_node(g, name, i < 5 ? "MatMul" : "Add",
                                           "", 2, ins, 1, outs, NULL, 0), 0);
    }
    ck_assert_int_eq(lg_graph_add_output(g, lg_graph_find(g, "y")), 0);
    ck_assert_msg(lg_graph_infer(g, NULL, err, sizeof err) == 0, "%s", err);
    return g;
}

START_TEST(shared_initializer_counted_once)
{
    char err[256];
    lg_graph *g = shared_graph();
    plan_model *m = NULL;
    plan_topology *t;
    plan_problem p;
    plan_sched s;
    int assign[6] = {0, 0, 0, 0, 0, 0};
    static const char fits[] = "Node=gs Kind=ground Memory=17664\n";
    static const char tight[] = "Node=gs Kind=ground Memory=17663\n";

    /* the graph itself: W and b once each */
    ck_assert_uint_eq(lg_graph_param_bytes(g), 16384 + 256);
    ck_assert_uint_eq(g->nodes[0].param_bytes, 16384);
    ck_assert_int_eq(plan_model_from_graph(g, 0, &m, err, sizeof err), 0);
    ck_assert_int_eq(m->n_grp, 6);
    ck_assert_int_eq(m->n_w, 2);
    for (int k = 0; k < 5; k++)
        ck_assert_uint_eq(m->grp[k].param_bytes, 16384);
    ck_assert_uint_eq(m->grp[5].param_bytes, 256);
    /* all six groups: 16384 + 256 = 16640 bytes, not 5 x 16384 + 256 */
    ck_assert_uint_eq(plan_model_weights(m, 0, 5), 16640);
    ck_assert_uint_eq(plan_model_weights(m, 1, 3), 16384);
    ck_assert_uint_eq(plan_model_weights(m, 4, 5), 16640);
    /* every group's working set: 256 read + 256 written, its 256-byte
     * input and 256-byte output tensors: 1024. The node needs 16640 +
     * 1024 = 17664 bytes: it fits in 17664, not in 17663. */
    for (int k = 0; k < 6; k++)
        ck_assert_uint_eq(m->grp[k].act_bytes, 1024);
    ck_assert_int_eq(plan_topology_parse("fits", fits, sizeof fits - 1, &t,
                                         err, sizeof err), 0);
    plan_sched_init(&s);
    setup_problem(&p, m, t, 0);
    ck_assert_int_eq(plan_eval(&p, assign, &s), 0);
    ck_assert_msg(s.feasible, "%s", s.reason);
    ck_assert_uint_eq(s.node_mem[0], 17664);
    ck_assert_int_eq(s.n_parts, 1);
    ck_assert_uint_eq(s.parts[0].param_bytes, 16640);
    solve(&p, PLAN_STRAT_AUTO, &s);
    ck_assert(s.feasible);
    plan_topology_free(t);
    ck_assert_int_eq(plan_topology_parse("tight", tight, sizeof tight - 1,
                                         &t, err, sizeof err), 0);
    setup_problem(&p, m, t, 0);
    ck_assert_int_eq(plan_eval(&p, assign, &s), 0);
    ck_assert(!s.feasible);
    ck_assert_msg(strstr(s.reason, "gs lacks memory: needs 0.0 MiB (weights "
                                    "0.0 MiB"), "%s", s.reason);
    ck_assert_uint_eq(s.node_mem[0], 17664);
    /* coarsened, the Add joins the last MatMul's group: five groups,
     * the last reading W and b; still 16640 bytes in all */
    plan_model_free(m);
    ck_assert_int_eq(plan_model_from_graph(g, 1, &m, err, sizeof err), 0);
    ck_assert_int_eq(m->n_grp, 5);
    ck_assert_uint_eq(m->grp[0].param_bytes, 16384);
    ck_assert_uint_eq(m->grp[4].param_bytes, 16640);
    ck_assert_uint_eq(plan_model_weights(m, 0, 4), 16640);
    plan_sched_free(&s);
    plan_topology_free(t);
    plan_model_free(m);
    lg_graph_free(g);
}
END_TEST

/* Three 1-GFLOP groups on wts_topo (gs, sat: 1 MB/s, 0.5 s light time),
 * 1000-byte tensors. W0 (10 MB) is read by all three groups, W1 (1 MB)
 * by g1 only. sat has 11 MB of memory; nothing is resident on sat. */
static const char share_topo[] =
    "Profile=p Conv=100G Gemm=100G Elem=1G Other=1G MemBW=10G "
    "Overhead=0\n"
    "Node=gs Kind=ground Profile=p Memory=64G\n"
    "Node=sat Kind=leo Profile=p Memory=11000000\n"
    "Link=gs<>sat Delay=0.5 Rate=8M\n";

START_TEST(shared_weight_once_per_node)
{
    char err[256];
    plan_topology *t;
    plan_problem p;
    plan_sched s;
    plan_model *m = chain_n(3, 1, 1000, 0);
    unsigned char res[6] = {0};
    int both_sat[3] = {1, 1, 1}, split[3] = {0, 1, 1}, aba[3] = {1, 0, 1};

    ck_assert_int_eq(plan_model_alloc_weights(m, 2, 4), 0);
    m->w_bytes[0] = 10000000;
    m->w_bytes[1] = 1000000;
    m->gw0[0] = 0;
    m->gw[0] = 0;               /* g0: W0 */
    m->gw0[1] = 1;
    m->gw[1] = 0;               /* g1: W0, W1 */
    m->gw[2] = 1;
    m->gw0[2] = 3;
    m->gw[3] = 0;               /* g2: W0 */
    m->gw0[3] = 4;
    ck_assert_int_eq(plan_model_finish(m, err, sizeof err), 0);
    ck_assert_uint_eq(m->grp[0].param_bytes, 10000000);
    ck_assert_uint_eq(m->grp[1].param_bytes, 11000000);
    ck_assert_uint_eq(m->grp[2].param_bytes, 10000000);
    ck_assert_int_eq(plan_topology_parse("share", share_topo,
                                         sizeof share_topo - 1, &t, err,
                                         sizeof err), 0);
    plan_sched_init(&s);
    setup_problem(&p, m, t, 0);
    p.dst = 1;

    /* all on sat: W0 once + W1 = 11 MB (the sum over groups would be
     * 31 MB), exactly sat's memory (no activations here) */
    ck_assert_int_eq(plan_eval(&p, both_sat, &s), 0);
    ck_assert_msg(s.feasible, "%s", s.reason);
    ck_assert_uint_eq(s.node_mem[1], 11000000);
    ck_assert_uint_eq(s.node_mem[0], 0);
    ck_assert_uint_eq(s.parts[0].param_bytes, 11000000);
    /* shipped once: the 1000-byte input leaves gs at 0 (1 ms on the
     * link), then the 11 MB of weights, 11 s, arriving at 11.501 s; three
     * 10 ms groups: 11.531 s */
    p.resident = res;
    ck_assert_int_eq(plan_eval(&p, both_sat, &s), 0);
    ck_assert_msg(s.feasible, "%s", s.reason);
    ck_assert_int_eq(s.n_parts, 1);
    ck_assert_uint_eq(s.parts[0].weight_bytes, 11000000);
    ck_assert_int_eq(s.xfers[s.parts[0].weight_xfer].n_tensors, 2);
    ck_assert_double_eq_tol(s.parts[0].weights_arrive, 11.501, 1e-9);
    ck_assert_double_eq_tol(s.completion, 11.531, 1e-9);

    /* g0 on gs, g1 and g2 on sat: each node needs W0 */
    ck_assert_int_eq(plan_eval(&p, split, &s), 0);
    ck_assert_msg(s.feasible, "%s", s.reason);
    ck_assert_uint_eq(s.node_mem[0], 10000000);
    ck_assert_uint_eq(s.node_mem[1], 11000000);
    ck_assert_int_eq(s.n_parts, 2);
    ck_assert_uint_eq(s.parts[0].param_bytes, 10000000);
    ck_assert_uint_eq(s.parts[0].weight_bytes, 0);     /* gs holds all */
    ck_assert_uint_eq(s.parts[1].param_bytes, 11000000);
    ck_assert_uint_eq(s.parts[1].weight_bytes, 11000000);
    /* resident on sat for g1 only: g2's W0 is still shipped (10 MB) */
    res[1 * 2 + 1] = 1;
    ck_assert_int_eq(plan_eval(&p, split, &s), 0);
    ck_assert_uint_eq(s.parts[1].weight_bytes, 10000000);
    res[2 * 2 + 1] = 1;
    ck_assert_int_eq(plan_eval(&p, split, &s), 0);
    ck_assert_uint_eq(s.parts[1].weight_bytes, 0);
    ck_assert_int_eq(s.parts[1].weight_xfer, -1);
    memset(res, 0, sizeof res);

    /* sat, gs, sat: sat holds W0 once (10 MB), gs W0 and W1 (11 MB);
     * each partition on sat gets its own bundle (the daemon ships each
     * as a model of its own): W0 for g0, and W0 again for g2 */
    ck_assert_int_eq(plan_eval(&p, aba, &s), 0);
    ck_assert_int_eq(s.n_parts, 3);
    ck_assert_uint_eq(s.node_mem[1], 10000000);
    ck_assert_uint_eq(s.node_mem[0], 11000000);
    ck_assert_uint_eq(s.parts[0].weight_bytes, 10000000);
    ck_assert_uint_eq(s.parts[1].weight_bytes, 0);
    ck_assert_uint_eq(s.parts[2].weight_bytes, 10000000);

    /* a third node, warm, holds g1's and g2's weights but computes at
     * 1/500 (5 s a group); gs 10000 times slower (100 s). Output wanted at
     * gs. The planners ship the 11 MB to sat once and run everything
     * there: 11.531 s as above, + 1 ms + 0.5 s back = 12.032 s. Anything
     * on warm waits for W0 (10.5 s) or for g0 and g1 on sat, then 5 s.
     * (Counting W0 once per group, 31 MB, sat would look like 32.032 s,
     * and all on warm, W0 sent once: 10.5 + 15 + 0.501 = 26.001 s.) */
    {
        static const char warm_topo[] =
            "Profile=p Conv=100G Gemm=100G Elem=1G Other=1G MemBW=10G "
            "Overhead=0\n"
            "Node=gs Kind=ground Profile=p Scale=0.0001 Memory=64G\n"
            "Node=sat Kind=leo Profile=p Memory=11000000\n"
            "Node=warm Kind=leo Profile=p Scale=0.002 Memory=64G\n"
            "Link=gs<>sat Delay=0.5 Rate=8M\n"
            "Link=gs<>warm Delay=0.5 Rate=8M\n";
        unsigned char res3[9] = {0, 0, 0, 0, 0, 1, 0, 0, 1};
        plan_topology *t2;
        plan_problem q;
        ck_assert_int_eq(plan_topology_parse("warm", warm_topo,
                                             sizeof warm_topo - 1, &t2, err,
                                             sizeof err), 0);
        setup_problem(&q, m, t2, 0);
        q.resident = res3;
        for (int st = PLAN_STRAT_AUTO; st <= PLAN_STRAT_HEFT; st++) {
            if (st == PLAN_STRAT_SOURCE || st == PLAN_STRAT_FASTEST ||
                st == PLAN_STRAT_SPLIT)
                continue;
            solve(&q, (enum plan_strategy)st, &s);
            ck_assert_msg(s.feasible, "%s", s.reason);
            for (int g = 0; g < 3; g++)
                ck_assert_msg(s.assign[g] == 1, "%s: group %d on %d",
                              plan_strategy_name((enum plan_strategy)st), g,
                              s.assign[g]);
            ck_assert_double_eq_tol(s.completion, 12.032, 1e-9);
        }
        plan_topology_free(t2);
    }

    /* the memory check: with W1 at 2 MB, everything on sat needs 12 MB >
     * 11 MB; g0 on gs and the rest on sat too; g0 and g2 on sat fit */
    m->w_bytes[1] = 2000000;
    ck_assert_int_eq(plan_model_finish(m, err, sizeof err), 0);
    p.resident = NULL;
    ck_assert_int_eq(plan_eval(&p, both_sat, &s), 0);
    ck_assert(!s.feasible);
    ck_assert_msg(strstr(s.reason, "sat lacks memory: needs 11.4 MiB "
                                   "(weights 11.4 MiB"), "%s", s.reason);
    ck_assert_int_eq(plan_eval(&p, split, &s), 0);
    ck_assert(!s.feasible);
    ck_assert_int_eq(plan_eval(&p, aba, &s), 0);
    ck_assert_msg(s.feasible, "%s", s.reason);
    /* and every strategy finds a plan within the memory */
    for (int st = PLAN_STRAT_AUTO; st < PLAN_STRAT_N; st++) {
        solve(&p, (enum plan_strategy)st, &s);
        ck_assert_msg(s.feasible, "%s: %s",
                      plan_strategy_name((enum plan_strategy)st), s.reason);
    }
    plan_sched_free(&s);
    plan_topology_free(t);
    plan_model_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, waits_for_pass_when_worth_it);
    tcase_add_test(tc, infeasible_reasons_name_the_node);
    tcase_add_test(tc, dp_equals_exhaustive_on_chains);
    tcase_add_test(tc, strategies_keep_properties);
    tcase_add_test(tc, resident_null_is_all_resident);
    tcase_add_test(tc, weights_shipped_before_the_partition);
    tcase_add_test(tc, auto_prefers_node_holding_weights);
    tcase_add_test(tc, resident_exhaustive_oracle);
    tcase_add_test(tc, shared_initializer_counted_once);
    tcase_add_test(tc, shared_weight_once_per_node);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int nf;
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
