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
 *    reasons that name the node.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A chain (dag = 0) or a DAG with skip edges of G groups. */
static plan_model *rand_model(int G, int dag)
{
    int nt = G + 1, nc = G + 1, k = 0, ci = 0;
    int skips = dag ? G / 2 : 0;
    plan_model *m = plan_model_alloc(G, nt + skips, nc + skips);
    char err[256];
    ck_assert_ptr_nonnull(m);
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

static void check_props(const plan_problem *p, const plan_sched *s)
{
    const plan_topology *t = p->t;
    const plan_model *m = p->m;
    ck_assert(isfinite(s->completion) || !s->feasible);
    if (!s->feasible)
        return;
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
        plan_model *m = rand_model(G, 0);
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
        int dag = it & 1;
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

static Suite *suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, waits_for_pass_when_worth_it);
    tcase_add_test(tc, infeasible_reasons_name_the_node);
    tcase_add_test(tc, dp_equals_exhaustive_on_chains);
    tcase_add_test(tc, strategies_keep_properties);
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
