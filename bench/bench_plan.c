/*
 * bench_plan.c - benchmarks of the planner (lib/plan): how long it takes,
 * how good its plans are, and how far from the true optimum.
 *
 * Build (until `make bench/bench_plan` exists), from the source tree:
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Ilib/common \
 *     -Ilib/model -Ilib/exec -Ilib/plan -Ibuild/proto bench/bench_plan.c \
 *     build/liblagrange.a $(pkg-config --cflags --libs libprotobuf-c \
 *     openblas) -lm -lpthread -o /tmp/bench_plan
 * bench/bench_plan.sh builds it and runs every part.
 *
 * usage:
 *   bench_plan curve [--quick] [--groups G,G..] [--nodes N,N..]
 *       Planner time: synthetic chains and DAGs with skip edges (50 ..
 *       5000 groups) on synthetic constellations (5 .. 1000 nodes: ground
 *       stations on a terrestrial ring, LEO nodes in a grid of planes with
 *       inter-satellite links, passes over the ground, half on batteries
 *       with eclipses, a GEO relay), plan_solve per strategy, median wall
 *       time over several runs (one for the biggest). A strategy that
 *       takes over 60 s at some size is skipped at every bigger size.
 *   bench_plan phases G N [chain|dag]
 *       Where auto's time goes on one curve instance: each step of
 *       plan_solve(auto) timed alone (through plan_int.h), plus the unit
 *       costs (one routing search, one plan_eval) they are made of.
 *   bench_plan quality [--batch B] [--only-diff] ZOO_DIR EXAMPLES_DIR
 *                      [MODEL ...]
 *       Plan quality on the model zoo (batch B: the work per inference
 *       times B, weights once) x the example topologies x start times
 *       before, during and at the end of passes, for a job submitted at
 *       the ground station and one whose input is on a satellite (or the
 *       Moon) and whose output goes to the ground: completion of auto
 *       against each baseline, list and dp, and against plan_lower_bound
 *       (durations from t0, as ratios). Flags any case where auto loses.
 *       --only-diff leaves out the rows where no baseline but fastest is
 *       more than 0.5% slower than auto.
 *   bench_plan ilp [--glpsol PATH] [--glpsol-opts OPTS] [--tmlim S]
 *                  [--keep DIR] [--random N]
 *       The optimum by MILP (glpsol, default options --mir) of small
 *       chains (3-8 groups, 2-4 nodes, a full mesh of links with 4-6
 *       windows each, relays and transfers spanning windows allowed, no
 *       batteries), against dp, auto and exhaustive. Then dp, auto and
 *       list against exhaustive on N (200) random chains, chains on
 *       batteries and small DAGs each; any instance where auto loses is
 *       printed in full on stderr.
 *
 * Prints markdown tables. Never fails on a slow or suboptimal result: the
 * exit status only reports usage errors and missing inputs.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "contact.h"
#include "graph.h"
#include "lgerr.h"
#include "model.h"
#include "plan.h"
#include "plan_int.h"
#include "topology.h"

/* ---- small helpers --------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t rng = 88172645463325252ull;
static void seed(uint64_t s)
{
    rng = s * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    if (!rng)
        rng = 1;
}
static uint64_t rnd64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static unsigned rndu(unsigned n) /* [0, n) */
{
    return n ? (unsigned)(rnd64() % n) : 0;
}
static double urand(double a, double b)
{
    return a + (b - a) * ((double)(rnd64() >> 11) / 9007199254740992.0);
}
static double lurand(double a, double b) /* log-uniform */
{
    return exp(urand(log(a), log(b)));
}

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        int k;
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            fprintf(stderr, "bench_plan: format error\n");
            exit(1);
        }
        if (b->s && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            fprintf(stderr, "bench_plan: out of memory\n");
            exit(1);
        }
        b->s = ns;
        b->cap = cap;
    }
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static plan_topology *parse_topo(const char *name, const sbuf *b)
{
    char err[512];
    plan_topology *t = NULL;
    int rc = plan_topology_parse(name, b->s, b->n, &t, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "bench_plan: %s: %s\n", name, err);
        exit(1);
    }
    return t;
}

static void setup(plan_problem *p, const plan_model *m,
                  const plan_topology *t, double t0, int src, int dst)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->t = t;
    p->t0 = t0;
    p->src = src;
    p->dst = dst;
    p->deadline = INFINITY;
    p->obj = PLAN_OBJ_TIME;
    p->budget_ms = 0;           /* the default, as the CLI uses */
}

/* Solve; returns the completion (INFINITY if infeasible or an error,
 * which goes to *why when given). */
static double solve(const plan_problem *p, enum plan_strategy st,
                    plan_sched *s, char *why, size_t whylen)
{
    char err[512];
    int rc = plan_solve(p, st, s, err, sizeof err);
    if (rc != 0) {
        if (why)
            snprintf(why, whylen, "%s", err);
        return INFINITY;
    }
    if (!s->feasible) {
        if (why)
            snprintf(why, whylen, "%s", s->reason);
        return INFINITY;
    }
    return s->completion;
}

/* ---- synthetic models ------------------------------------------------ */

typedef struct mparams {
    double flops_lo, flops_hi;   /* per group, log-uniform */
    double in_lo, in_hi;         /* graph input bytes */
    double ten_lo, ten_hi;       /* group -> group tensor bytes */
    double out_lo, out_hi;       /* graph output bytes */
    double par_lo, par_hi;       /* weights per group */
    double skip_lo, skip_hi;     /* skip tensor bytes */
    int mixed;                   /* op classes and overheads vary */
} mparams;

/* Curve models: per group 10 MFLOP .. 20 GFLOP (a conv layer to a big
 * matmul), 1 kB .. 20 MB between groups, small outputs. */
static const mparams MP_CURVE = {1e7, 2e10, 1e5, 2e7, 1e3, 2e7, 1e3, 1e6,
                                 1e4, 2e6, 1e3, 1e7, 1};
/* ILP chains: compute from ms to tens of seconds and bundles that may
 * need several windows, so that both placement and waiting matter. */
static const mparams MP_ILP = {1e9, 2e12, 1e5, 2e8, 1e4, 2e8, 1e4, 2e8,
                               1e4, 1e6, 0, 0, 0};
/* ILP chains where every bundle is big (50-300 MB) and the output small:
 * on the -span topologies moving anything takes several windows. */
static const mparams MP_SPAN = {1e11, 2e12, 5e7, 3e8, 5e7, 3e8, 1e4, 1e6,
                                1e4, 1e6, 0, 0, 0};

/* A chain (dag = 0) or a DAG of G groups with skip edges (dag = 1): G/4
 * short ones spanning 2-8 groups (residual blocks) and, from 20 groups
 * on, two long ones spanning up to a tenth of the model (U-Net-like). */
static plan_model *gen_model(int G, int dag, const mparams *mp)
{
    int nlong = dag && G >= 20 ? 2 : 0;
    int skips = dag && G >= 3 ? G / 4 + nlong : 0;
    int nt = G + 1 + skips, nc = G + skips, k = 0, ci = 0;
    plan_model *m = plan_model_alloc(G, nt, nc);
    char err[256];
    if (!m) {
        fprintf(stderr, "bench_plan: out of memory\n");
        exit(1);
    }
    for (int g = 0; g < G; g++) {
        plan_group *gr = &m->grp[g];
        double u = urand(0, 1);
        int cls = !mp->mixed || u < 0.6 ? PLAN_OC_CONV
                  : u < 0.85             ? PLAN_OC_GEMM
                                         : PLAN_OC_ELEM;
        snprintf(gr->name, sizeof gr->name, "op%d", g);
        gr->first = gr->last = g;
        gr->flops[cls] = lurand(mp->flops_lo, mp->flops_hi);
        if (mp->mixed) {
            gr->flops[PLAN_OC_ELEM] += lurand(1e5, 1e8);
            gr->mem_bytes = lurand(1e4, 1e7);
            gr->n_ops = 1 + (int)rndu(4);
        } else {
            gr->n_ops = 1;
        }
        gr->param_bytes = (uint64_t)lurand(mp->par_lo, mp->par_hi);
        gr->act_bytes = (uint64_t)lurand(1e5, 5e7);
    }
    for (int t = 0; t <= G; t++) {
        plan_tensor *x = &m->ten[k++];
        snprintf(x->name, sizeof x->name, "t%d", t);
        x->bytes = (uint64_t)(t == 0   ? lurand(mp->in_lo, mp->in_hi)
                              : t == G ? lurand(mp->out_lo, mp->out_hi)
                                       : lurand(mp->ten_lo, mp->ten_hi));
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
        int a = (int)rndu((unsigned)(G - 2)), span;
        if (s >= nlong)
            span = 2 + (int)rndu(7);
        else
            span = 2 + (int)rndu((unsigned)(G / 10 - 1));
        if (a + span > G - 1)
            span = G - 1 - a;
        plan_tensor *x = &m->ten[k++];
        snprintf(x->name, sizeof x->name, "skip%d", s);
        x->bytes = (uint64_t)lurand(mp->skip_lo, mp->skip_hi);
        x->producer = a;
        x->cons0 = ci;
        x->n_cons = 1;
        m->cons[ci++] = a + span;
    }
    m->n_ten = k;
    m->n_cons_total = ci;
    if (plan_model_finish(m, err, sizeof err) != 0) {
        fprintf(stderr, "bench_plan: synthetic model: %s\n", err);
        exit(1);
    }
    return m;
}

/* ---- synthetic constellations ---------------------------------------- */

#define ORBIT_S 5736.0           /* 95.6 min */

/* N nodes: ground stations (1, 2, 4 or 10) on a terrestrial ring, one GEO
 * relay always in view of the ground and in view of each LEO node 60.2 of
 * every 95.6 min, the rest LEO nodes in planes: an optical ring along each
 * plane and links to the same slot in the next plane (a torus), passes of
 * 5-8 min per orbit over one or two ground stations; half on solar power
 * with a 35.4-min eclipse per orbit. Real time scale, horizon 1 day. */
static plan_topology *gen_topo(int N, char *name, size_t namelen)
{
    sbuf b = {0};
    int ngs = N <= 5 ? 1 : N <= 20 ? 2 : N <= 100 ? 4 : 10;
    int nleo = N - ngs - 1, planes, spp;
    plan_topology *t;

    if (nleo < 1) {
        fprintf(stderr, "bench_plan: need at least %d nodes\n", ngs + 2);
        exit(2);
    }
    planes = (int)lround(sqrt(nleo / 3.0));
    if (planes < 1)
        planes = 1;
    spp = (nleo + planes - 1) / planes;
    sb_printf(&b, "Horizon=1d\n"
                  "Profile=leo-gpu Conv=20T Gemm=30T Elem=200G Other=200G "
                  "MemBW=1T Overhead=10us\n");
    for (int i = 0; i < ngs; i++)
        sb_printf(&b, "Node=gs%d Kind=ground Memory=256G Power=grid "
                      "Scale=%.3f\n", i, urand(0.5, 2));
    sb_printf(&b, "Node=geo0 Kind=geo Memory=4G Scale=0.25 Power=grid\n");
    for (int i = 0; i < nleo; i++) {
        sb_printf(&b, "Node=leo%d Kind=leo Profile=leo-gpu Memory=80G "
                      "Scale=%.3f", i, lurand(0.05, 1));
        if (i % 2)
            sb_printf(&b, " Power=solar ArrayW=1700 BatteryWh=%.0f "
                          "MinSoc=0.2 Soc=0.9 IdleW=10 BusyW=1000 "
                          "Eclipse=every:%.0fs/2124s@%.0fs",
                      urand(30, 2000), ORBIT_S, urand(-2000, ORBIT_S));
        sb_printf(&b, "\n");
    }
    for (int i = 0; i < ngs && ngs > 1; i++) {
        int j = (i + 1) % ngs;
        if (ngs == 2 && i == 1)
            break;
        sb_printf(&b, "Link=gs%d<>gs%d Delay=20ms Rate=10G\n", i, j);
    }
    for (int i = 0; i < ngs; i++)
        sb_printf(&b, "Link=gs%d<>geo0 Delay=126ms Rate=1.2G\n", i);
    for (int i = 0; i < nleo; i++) {
        int pl = i / spp, sl = i % spp, n_in = nleo - pl * spp;
        int g1 = i % ngs, g2 = (i + 1 + pl) % ngs;
        if (n_in > spp)
            n_in = spp;
        sb_printf(&b, "Link=leo%d<>geo0 Delay=133ms Rate=1.2G "
                      "Window=every:%.0fs/3612s@%.0fs\n",
                  i, ORBIT_S, urand(-3000, ORBIT_S));
        sb_printf(&b, "Link=gs%d<>leo%d Delay=4ms Rate=50M/2G "
                      "Window=every:%.0fs/%.0fs@%.0fs\n",
                  g1, i, ORBIT_S, urand(300, 480), urand(0, ORBIT_S));
        if (g2 != g1)
            sb_printf(&b, "Link=gs%d<>leo%d Delay=4ms Rate=50M/2G "
                          "Window=every:%.0fs/%.0fs@%.0fs\n",
                      g2, i, ORBIT_S, urand(300, 480), urand(0, ORBIT_S));
        /* ring along the plane */
        if (n_in > 2 || (n_in == 2 && sl == 0)) {
            int nx = pl * spp + (sl + 1) % n_in;
            sb_printf(&b, "Link=leo%d<>leo%d Delay=8ms Rate=10G\n", i, nx);
        }
        /* the same slot in the next plane */
        if (planes > 1 && (planes > 2 || pl == 0)) {
            int np = (pl + 1) % planes, j = np * spp + sl;
            if (j < nleo && j != i)
                sb_printf(&b, "Link=leo%d<>leo%d Delay=15ms Rate=10G\n",
                          i, j);
        }
    }
    snprintf(name, namelen, "synth-%d.topo", N);
    t = parse_topo(name, &b);
    free(b.s);
    return t;
}

/* ---- part 1: the time curve ------------------------------------------ */

static const enum plan_strategy CURVE_ST[] = {
    PLAN_STRAT_AUTO, PLAN_STRAT_DP, PLAN_STRAT_HEFT, PLAN_STRAT_LIST,
    PLAN_STRAT_SPLIT};
#define N_CURVE_ST (int)(sizeof CURVE_ST / sizeof CURVE_ST[0])
#define CURVE_T0 2000.0
#define SLOW_MS 60000.0

static int parse_list(const char *s, int *v, int max)
{
    int n = 0;
    char *end;
    while (*s && n < max) {
        long x = strtol(s, &end, 10);
        if (end == s || x <= 0)
            return -1;
        v[n++] = (int)x;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static int reps_for(int G, int N, int quick)
{
    double w = (double)G * N;
    int r = w <= 2e4 ? 9 : w <= 2e5 ? 5 : w <= 1e6 ? 3 : 1;
    if (quick && r > 3)
        r = 3;
    return r;
}

static int cmd_curve(int argc, char **argv)
{
    int groups[16] = {50, 300, 1000, 5000}, ng = 4;
    int nodes[16] = {5, 20, 100, 1000}, nn = 4, quick = 0;
    /* per kind and strategy: the smallest (G, N) found too slow */
    int slowG[2][N_CURVE_ST], slowN[2][N_CURVE_ST];
    plan_topology *topo[16] = {0};
    double t_all = now_ms();

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--groups") && i + 1 < argc)
            ng = parse_list(argv[++i], groups, 16);
        else if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            nn = parse_list(argv[++i], nodes, 16);
        else {
            fprintf(stderr, "bench_plan curve: bad argument '%s'\n",
                    argv[i]);
            return 2;
        }
        if (ng < 1 || nn < 1) {
            fprintf(stderr, "bench_plan curve: bad list\n");
            return 2;
        }
    }
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < N_CURVE_ST; s++)
            slowG[k][s] = slowN[k][s] = 1 << 30;

    printf("## Planner time (plan_solve wall time, median of R runs; "
           "t0 = %.0f s, input and output at gs0)\n\n", CURVE_T0);
    printf("Goals: <= 10 ms for 300 groups on 20 nodes, <= 1 s for 5000 "
           "groups on 1000 nodes.\n\n");
    printf("| model | groups | nodes | links | windows | strategy | R | "
           "median ms | min ms | completion s | proven_optimal | "
           "chosen |\n");
    printf("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|\n");
    fflush(stdout);
    for (int j = 0; j < nn; j++) {
        char name[64];
        seed(1000 + (uint64_t)nodes[j]);
        topo[j] = gen_topo(nodes[j], name, sizeof name);
    }
    for (int kind = 0; kind < 2; kind++)
        for (int i = 0; i < ng; i++) {
            plan_model *m;
            seed(77 + (uint64_t)groups[i] * 2 + (uint64_t)kind);
            m = gen_model(groups[i], kind, &MP_CURVE);
            for (int j = 0; j < nn; j++) {
                const plan_topology *t = topo[j];
                long nwin = 0;
                plan_problem p;
                for (int l = 0; l < t->n_links; l++)
                    nwin += t->links[l].n_win;
                setup(&p, m, t, CURVE_T0, 0, 0);
                for (int si = 0; si < N_CURVE_ST; si++) {
                    enum plan_strategy st = CURVE_ST[si];
                    int R = reps_for(groups[i], nodes[j], quick), r;
                    double ms[16], comp = INFINITY;
                    plan_sched s;
                    char why[512] = "";
                    printf("| %s | %d | %d | %d | %ld | %s | ",
                           kind ? "dag" : "chain", groups[i], nodes[j],
                           t->n_links, nwin, plan_strategy_name(st));
                    if (groups[i] >= slowG[kind][si] &&
                        nodes[j] >= slowN[kind][si]) {
                        printf("- | skipped | | | | (over %.0f s at %dx%d)"
                               " |\n", SLOW_MS / 1e3, slowG[kind][si],
                               slowN[kind][si]);
                        continue;
                    }
                    plan_sched_init(&s);
                    for (r = 0; r < R; r++) {
                        double a = now_ms();
                        comp = solve(&p, st, &s, why, sizeof why);
                        ms[r] = now_ms() - a;
                        if (ms[r] > SLOW_MS) {
                            r++;
                            break;
                        }
                    }
                    {
                        double mn = ms[0];
                        for (int q = 1; q < r; q++)
                            if (ms[q] < mn)
                                mn = ms[q];
                        double med = median(ms, r);
                        printf("%d | %.3f | %.3f | ", r, med, mn);
                        if (isfinite(comp) && s.proven_optimal &&
                            s.proven_cuts < groups[i] - 1)
                            printf("%.3f | over %d of %d cuts | %s |\n",
                                   comp - CURVE_T0, s.proven_cuts,
                                   groups[i] - 1, s.strategy);
                        else if (isfinite(comp))
                            printf("%.3f | %s | %s |\n", comp - CURVE_T0,
                                   s.proven_optimal ? "yes" : "no",
                                   s.strategy);
                        else
                            printf("infeasible | no | (%.60s) |\n", why);
                        if (med > SLOW_MS) {
                            if (groups[i] < slowG[kind][si])
                                slowG[kind][si] = groups[i];
                            if (nodes[j] < slowN[kind][si])
                                slowN[kind][si] = nodes[j];
                        }
                    }
                    fflush(stdout);
                    plan_sched_free(&s);
                }
            }
            plan_model_free(m);
        }
    for (int j = 0; j < nn; j++)
        plan_topology_free(topo[j]);
    printf("\n(curve took %.1f s)\n\n", (now_ms() - t_all) / 1e3);
    return 0;
}

/* ---- phases of auto ---------------------------------------------------- */

static int cmd_phases(int argc, char **argv)
{
    int G, N, dag = 1;
    char name[64], err[512];
    plan_topology *t;
    plan_model *m;
    plan_problem p;
    plan_sched s, best;
    int *a, *ba;
    double t1, total = 0;
    struct { const char *what; double ms; } ph[16];
    int nph = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_plan phases G N [chain|dag]\n");
        return 2;
    }
    G = atoi(argv[0]);
    N = atoi(argv[1]);
    if (argc > 2)
        dag = strcmp(argv[2], "chain") != 0;
    if (G < 3 || N < 3) {
        fprintf(stderr, "bench_plan phases: G >= 3, N >= 3\n");
        return 2;
    }
    seed(1000 + (uint64_t)N);
    t = gen_topo(N, name, sizeof name);
    seed(77 + (uint64_t)G * 2 + (uint64_t)dag);
    m = gen_model(G, dag, &MP_CURVE);
    setup(&p, m, t, CURVE_T0, 0, 0);
    plan_sched_init(&s);
    plan_sched_init(&best);
    a = malloc((size_t)G * sizeof *a);
    ba = malloc((size_t)G * sizeof *ba);
    if (!a || !ba)
        return 1;

#define PHASE(label, stmt)                                                   \
    do {                                                                     \
        t1 = now_ms();                                                       \
        stmt;                                                                \
        ph[nph].what = label;                                                \
        ph[nph].ms = now_ms() - t1;                                          \
        total += ph[nph++].ms;                                               \
    } while (0)
#define KEEP(label)                                                          \
    do {                                                                     \
        if (!best.assign || plan_sched_cmp(&p, &s, &best) < 0) {             \
            plan_sched_copy(&best, &s);                                      \
            memcpy(ba, a, (size_t)G * sizeof *a);                            \
            snprintf(best.strategy, sizeof best.strategy, "%s", label);      \
        }                                                                    \
    } while (0)

    /* as plan_solve runs it: on the coarsest chain above a DAG */
    PHASE("dp (plan_solve dp: search + eval)",
          plan_solve(&p, PLAN_STRAT_DP, &s, err, sizeof err));
    memcpy(a, s.assign, (size_t)G * sizeof *a);
    KEEP("dp");
    PHASE("heft search (plan_heft)", plan_heft(&p, a, err, sizeof err));
    PHASE("  eval heft plan", plan_eval(&p, a, &s));
    KEEP("heft");
    PHASE("source (assign)", plan_base_source(&p, a));
    PHASE("  eval source plan", plan_eval(&p, a, &s));
    KEEP("source");
    PHASE("fastest (assign)", plan_base_fastest(&p, a));
    PHASE("  eval fastest plan", plan_eval(&p, a, &s));
    KEEP("fastest");
    PHASE("split search (incl. 9 evals)", plan_base_split(&p, a));
    PHASE("  eval split plan", plan_eval(&p, a, &s));
    KEEP("split");
    /* auto improves the best plan unless it is proven optimal */
    if (best.proven_optimal)
        PHASE("improve (skipped: best plan proven optimal)", (void)0);
    else
        PHASE("improve (budget 5 ms)", plan_improve(&p, ba, &s, 5.0));
    PHASE("lower bound", plan_lower_bound(&p));
    printf("## Where auto's time goes: %s of %d groups on %d nodes (%d "
           "links)\n\n", dag ? "dag" : "chain", G, N, t->n_links);
    printf("| step | ms | share |\n|---|---:|---:|\n");
    for (int i = 0; i < nph; i++)
        printf("| %s | %.2f | %.0f%% |\n", ph[i].what, ph[i].ms,
               100 * ph[i].ms / total);
    printf("| total | %.2f | |\n\n", total);
    printf("best before improve: %s (%.3f s)\n\n", best.strategy,
           best.completion - p.t0);
    /* unit costs */
    {
        plan_router *r = plan_router_new(t);
        double *ready = malloc((size_t)N * sizeof *ready);
        double *arr = malloc((size_t)N * sizeof *arr);
        int *via = malloc((size_t)N * sizeof *via), reps = 200, cross = 0;
        double t_route, t_multi, t_eval;
        for (int n = 0; n < N; n++)
            ready[n] = INFINITY;
        ready[0] = p.t0;
        t1 = now_ms();
        for (int i = 0; i < reps; i++)
            plan_route(r, 1000000, ready, NULL, NULL, arr, via);
        t_route = (now_ms() - t1) / reps;
        /* as dp routes a cut: every node a source, at its own time */
        for (int n = 0; n < N; n++)
            ready[n] = p.t0 + urand(0, 10);
        t1 = now_ms();
        for (int i = 0; i < reps; i++)
            plan_route(r, 1000000, ready, NULL, NULL, arr, via);
        t_multi = (now_ms() - t1) / reps;
        memcpy(a, best.assign, (size_t)G * sizeof *a);
        t1 = now_ms();
        for (int i = 0; i < 5; i++)
            plan_eval(&p, a, &s);
        t_eval = (now_ms() - t1) / 5;
        cross = s.n_xfers;
        printf("unit costs: one plan_route (earliest-arrival search over "
               "%d nodes / %d links) from one source %.3f ms, from every "
               "node at once (what dp does per cut) %.3f ms; one plan_eval"
               " of the best plan (%d transfers) %.3f ms. dp routes each "
               "of its cuts once from every node, heft routes each input "
               "bundle of each group to every node and again to commit it, "
               "plus one search per node for a group with graph outputs; "
               "split routes each cut from the source.\n\n", N,
               t->n_links, t_route, t_multi, cross, t_eval);
        plan_router_free(r);
        free(ready);
        free(arr);
        free(via);
    }
    plan_sched_free(&s);
    plan_sched_free(&best);
    free(a);
    free(ba);
    plan_model_free(m);
    plan_topology_free(t);
    return 0;
}

/* ---- part 2: quality on the zoo -------------------------------------- */

typedef struct qtopo {
    const char *file;
    double t0[4];
    const char *when[4];
    int n_t0;
} qtopo;

/* Start times read off the example topologies (seconds from the epoch). */
static const qtopo QTOPOS[] = {
    /* gs-mad<>leo-gpu-1 passes [10, 18) + 60k; leo-2 [13.33, 21.33);
     * leo-3 [16.67, 24.67); GEO always. */
    {"default.topo", {5, 12, 17.5}, {"before pass", "in leo-1 pass",
                                     "0.5s before leo-1 pass ends"}, 3},
    /* leo-gpu-1 passes 7980-8280 (low), 13716-14196 (high); leo-2
     * 8299-8569, 14035-14515. */
    {"leo-pass.topo", {7000, 13800, 14190}, {"before passes",
                                             "in high pass",
                                             "6s before it ends"}, 3},
    /* direct pass 13716-14196; the relay sees leo-gpu-1 in [-300+5736k,
     * 3312+5736k): hidden at 4000, visible at 13000. */
    {"geo-relay.topo", {4000, 13000, 14000, 14190},
     {"relay hidden", "before pass, relay up", "in direct pass",
      "6s before it ends"}, 4},
    /* Moon optical window 64800-79200 on day 0. */
    {"earth-moon.topo", {0, 70000, 79190}, {"before window",
                                            "in window",
                                            "10s before it ends"}, 3},
};
#define N_QTOPOS (int)(sizeof QTOPOS / sizeof QTOPOS[0])

static const enum plan_strategy QBASE[] = {
    PLAN_STRAT_SOURCE, PLAN_STRAT_FASTEST, PLAN_STRAT_SPLIT,
    PLAN_STRAT_HEFT, PLAN_STRAT_DP, PLAN_STRAT_LIST};
#define N_QBASE (int)(sizeof QBASE / sizeof QBASE[0])

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ratio_cell(double base, double aut, double t0)
{
    if (!isfinite(base))
        printf(" inf |");
    else if (!isfinite(aut))
        printf(" - |");
    else if (aut - t0 <= 0)
        printf(" %s |", base - t0 <= 0 ? "1" : "inf");
    else
        printf(" %.3f%s |", (base - t0) / (aut - t0),
               base < aut - 1e-9 ? " (!)" : "");
}

/* Multiply the per-inference work of m by a batch: FLOPs, memory traffic,
 * activations and tensors scale, weights and dispatch overhead do not. */
static void batch_model(plan_model *m, double batch)
{
    char err[256];
    if (batch == 1)
        return;
    for (int g = 0; g < m->n_grp; g++) {
        for (int c = 0; c < PLAN_OC_N; c++)
            m->grp[g].flops[c] *= batch;
        m->grp[g].mem_bytes *= batch;
        m->grp[g].act_bytes = (uint64_t)(m->grp[g].act_bytes * batch);
    }
    for (int x = 0; x < m->n_ten; x++)
        m->ten[x].bytes = (uint64_t)(m->ten[x].bytes * batch);
    if (plan_model_finish(m, err, sizeof err) != 0) {
        fprintf(stderr, "bench_plan: batch: %s\n", err);
        exit(1);
    }
}

static int cmd_quality(int argc, char **argv)
{
    const char *zoo = NULL, *exdir = NULL;
    char *models[64];
    int nm = 0, worse = 0, cases = 0, npos = 0, only_diff = 0, hidden = 0;
    double batch = 1;
    double gsum[N_QBASE + 1] = {0}, gmax[N_QBASE + 1] = {0};
    int gcnt[N_QBASE + 1] = {0}, ginf[N_QBASE] = {0}, nopt = 0;
    double t_all = now_ms();

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only-diff"))
            only_diff = 1;
        else if (npos == 0 && ++npos)
            zoo = argv[i];
        else if (npos == 1 && ++npos)
            exdir = argv[i];
        else if (nm < 64)
            models[nm++] = strdup(argv[i]);
    }
    if (!zoo || !exdir || !(batch >= 1)) {
        fprintf(stderr, "usage: bench_plan quality [--batch B] "
                        "[--only-diff] ZOO_DIR EXAMPLES_DIR [MODEL ...]\n");
        return 2;
    }
    if (nm == 0) {
        DIR *d = opendir(zoo);
        struct dirent *e;
        if (!d) {
            fprintf(stderr, "bench_plan quality: %s: %s\n", zoo,
                    strerror(errno));
            return 1;
        }
        while ((e = readdir(d)) && nm < 64) {
            char path[4096];
            struct stat st;
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/model.onnx", zoo, e->d_name);
            if (stat(path, &st) == 0)
                models[nm++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(models, (size_t)nm, sizeof *models, cmp_str);
    }

    printf("## Plan quality on the model zoo, batch %g (objective: time)"
           "\n\n", batch);
    printf("Two jobs per topology and start time: `gs` (input and output "
           "at the ground station) and `sat` (input on the first LEO or "
           "lunar node, e.g. an image taken there, output to the ground "
           "station). Ratios are durations from t0: baseline / auto (>= 1: "
           "auto is at least as good; (!) marks a baseline that beats auto)"
           " and auto / lower bound.\n\n");
    printf("| model | groups | topology | job | t0 s | when | auto s | auto "
           "plan | source | fastest | split | heft | dp | list | "
           "auto/LB |\n");
    printf("|---|---:|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|"
           "---:|---:|\n");
    fflush(stdout);
    for (int mi = 0; mi < nm; mi++) {
        char path[4096], err[512];
        lg_graph *g = NULL;
        plan_model *m = NULL;
        snprintf(path, sizeof path, "%s/%s/model.onnx", zoo, models[mi]);
        if (lg_model_open(path, NULL, &g, err, sizeof err) != 0) {
            printf("| %s | - | (load failed: %.80s) |\n", models[mi], err);
            continue;
        }
        if (plan_model_from_graph(g, 1, &m, err, sizeof err) != 0) {
            printf("| %s | - | (plan model failed: %.80s) |\n", models[mi],
                   err);
            lg_graph_free(g);
            continue;
        }
        batch_model(m, batch);
        for (int ti = 0; ti < N_QTOPOS; ti++) {
            const qtopo *q = &QTOPOS[ti];
            plan_topology *t = NULL;
            char tpath[4096];
            int gs = -1, sat = -1;
            snprintf(tpath, sizeof tpath, "%s/%s", exdir, q->file);
            if (plan_topology_load(tpath, &t, err, sizeof err) != 0) {
                printf("| %s | %d | %s | (load failed: %.80s) |\n",
                       models[mi], m->n_grp, q->file, err);
                continue;
            }
            for (int n = 0; n < t->n_nodes; n++) {
                if (gs < 0 && t->nodes[n].kind == PLAN_GROUND)
                    gs = n;
                if (sat < 0 && (t->nodes[n].kind == PLAN_LEO ||
                                t->nodes[n].kind == PLAN_LUNAR))
                    sat = n;
            }
            for (int job = 0; job < 2; job++)
                for (int k = 0; k < q->n_t0; k++) {
                    plan_problem p;
                    plan_sched s;
                    double aut, base[N_QBASE], lb;
                    char strat[48];
                    int src = job ? sat : gs;
                    if (src < 0 || gs < 0)
                        continue;
                    setup(&p, m, t, q->t0[k], src, gs);
                    plan_sched_init(&s);
                    aut = solve(&p, PLAN_STRAT_AUTO, &s, NULL, 0);
                    snprintf(strat, sizeof strat, "%s%s", s.strategy,
                             !s.proven_optimal ? ""
                             : s.proven_cuts < m->n_grp - 1 ? " (opt*)"
                                                            : " (opt)");
                    nopt += s.proven_optimal && isfinite(aut);
                    for (int b = 0; b < N_QBASE; b++)
                        base[b] = solve(&p, QBASE[b], &s, NULL, 0);
                    lb = plan_lower_bound(&p);
                    /* statistics over every case */
                    for (int b = 0; b < N_QBASE; b++) {
                        if (base[b] < aut - 1e-9) {
                            worse++;
                            fprintf(stderr, "AUTO WORSE: %s batch %g %s "
                                    "src %s dst %s t0=%g: %s %.9f < auto "
                                    "%.9f\n", models[mi], batch, q->file,
                                    t->nodes[src].name, t->nodes[gs].name,
                                    q->t0[k], plan_strategy_name(QBASE[b]),
                                    base[b], aut);
                        }
                        if (isfinite(base[b]) && isfinite(aut) &&
                            aut - p.t0 > 0) {
                            double r = (base[b] - p.t0) / (aut - p.t0);
                            gsum[b] += log(r);
                            gcnt[b]++;
                            if (r > gmax[b])
                                gmax[b] = r;
                        } else if (!isfinite(base[b]) && isfinite(aut)) {
                            ginf[b]++;
                        }
                    }
                    if (isfinite(aut) && lb - p.t0 > 0) {
                        double r = (aut - p.t0) / (lb - p.t0);
                        gsum[N_QBASE] += log(r);
                        gcnt[N_QBASE]++;
                        if (r > gmax[N_QBASE])
                            gmax[N_QBASE] = r;
                    }
                    cases++;
                    if (only_diff) {
                        int diff = !isfinite(aut);
                        for (int b = 0; b < N_QBASE; b++)
                            diff |= QBASE[b] != PLAN_STRAT_FASTEST &&
                                    !(base[b] - p.t0 <=
                                      1.005 * (aut - p.t0));
                        if (!diff) {
                            hidden++;
                            plan_sched_free(&s);
                            continue;
                        }
                    }
                    printf("| %s | %d | %s | %s | %g | %s | ", models[mi],
                           m->n_grp, q->file, job ? "sat" : "gs", q->t0[k],
                           q->when[k]);
                    if (isfinite(aut))
                        printf("%.3f | %s |", aut - p.t0, strat);
                    else
                        printf("infeasible | - |");
                    for (int b = 0; b < N_QBASE; b++)
                        ratio_cell(base[b], aut, p.t0);
                    if (isfinite(aut) && lb - p.t0 > 0)
                        printf(" %.3f |\n", (aut - p.t0) / (lb - p.t0));
                    else
                        printf(" - |\n");
                    fflush(stdout);
                    plan_sched_free(&s);
                }
            plan_topology_free(t);
        }
        plan_model_free(m);
        lg_graph_free(g);
    }
    printf("\n(opt): proven optimal; (opt*): proven optimal over the cut "
           "points of the coarsest chain only.%s\n\n",
           only_diff ? " Rows where source, split, heft, dp and list "
                       "are all within 0.5% of auto are left out (fastest "
                       "is nearly always far off)." : "");
    if (only_diff)
        printf("(%d of %d rows left out)\n\n", hidden, cases);
    printf("Summary over %d cases, batch %g (auto proven optimal in %d): "
           "geometric mean and max of baseline/auto; infeasible baseline "
           "plans counted apart\n\n", cases, batch, nopt);
    printf("| vs | geomean | max | infeasible while auto feasible |\n"
           "|---|---:|---:|---:|\n");
    for (int b = 0; b < N_QBASE; b++)
        printf("| %s | %.3f | %.3f | %d |\n", plan_strategy_name(QBASE[b]),
               gcnt[b] ? exp(gsum[b] / gcnt[b]) : NAN, gmax[b], ginf[b]);
    printf("| auto/LB | %.3f | %.3f | |\n\n",
           gcnt[N_QBASE] ? exp(gsum[N_QBASE] / gcnt[N_QBASE]) : NAN,
           gmax[N_QBASE]);
    printf("Cases where a baseline or list beat auto: %d%s\n\n", worse,
           worse ? " (listed on stderr)" : "");
    printf("(quality took %.1f s)\n\n", (now_ms() - t_all) / 1e3);
    for (int i = 0; i < nm; i++)
        free(models[i]);
    return 0;
}

/* ---- part 3: the MILP optimum ---------------------------------------- */

/* A full mesh of N nodes; every link has nshort short windows (0.5-6 s,
 * 1-10 s apart, each at its own rate within a factor of 2) and a long
 * last one that opens `tail` seconds (give or take a half) after them, so
 * that a big bundle either spans several short windows or waits. Light
 * time per link and direction; no batteries; memory never binds. Node 0
 * is a slow ground station. */
static plan_topology *ilp_topo_w(int N, int nshort, double tail, sbuf *b)
{
    char name[64];
    b->n = 0;
    sb_printf(b, "Horizon=2000\n"
                 "Profile=p Conv=100G Gemm=100G Elem=4G Other=4G MemBW=20G "
                 "Overhead=0\n"
                 "Node=n0 Kind=ground Profile=p Scale=%.3f Memory=1T\n",
              urand(0.2, 1.0));
    for (int n = 1; n < N; n++)
        sb_printf(b, "Node=n%d Kind=leo Profile=p Scale=%.3f Memory=1T\n",
                  n, urand(0.5, 20));
    for (int a = 0; a < N; a++)
        for (int c = a + 1; c < N; c++) {
            double r1 = lurand(40e6, 800e6), r2 = lurand(40e6, 800e6);
            double st = urand(0, 30);
            sb_printf(b, "Link=n%d<>n%d Delay=%.4f Rate=%.0f/%.0f Window=",
                      a, c, urand(0.001, 0.3), r1, r2);
            for (int w = 0; w < nshort; w++) {
                double en = st + urand(0.5, 6);
                sb_printf(b, "%.3f-%.3f:%.0f/%.0f,", st, en,
                          r1 * urand(0.5, 2), r2 * urand(0.5, 2));
                st = en + urand(1, 10);
            }
            sb_printf(b, "%.3f-1500\n", st + urand(0.5, 1.5) * tail);
        }
    snprintf(name, sizeof name, "ilp-%d.topo", N);
    return parse_topo(name, b);
}

static plan_topology *ilp_topo(int N, sbuf *b)
{
    return ilp_topo_w(N, 3, 200, b);
}

/* Write the MILP of plan_eval's model for a chain without batteries:
 *
 *   u[g][n]     group g on node n (binary), sum_n u = 1
 *   S[g], F[g]  start, finish; F = S + sum_n c[g][n] u[g][n]; S[g] >= F[g-1]
 *   transfer k (0..G) carries cut[k] bytes from the producer's node (the
 *   input node for k = 0) to the consumer's (the output node for k = G):
 *   f[k][l]     link l used (binary); flow conservation per node with
 *               supply u[k-1][n] (k = 0: [n == src]) and demand u[k][n]
 *               (k = G: [n == dst]): a store-and-forward path;
 *   z[k][l][i][j]  the bundle's first byte leaves in window i and its last
 *               in window j >= i (binary), sum_ij z = f;
 *   s, e        (one pair per i, j, zero unless chosen: the convex hull
 *               of the disjunction) first and last byte leave:
 *               W_i.start <= s <= W_i.end, W_j.start <= e <= W_j.end,
 *               i == j: e >= s + B / rate_i;
 *               i < j:  rate_i (W_i.end - s) + full windows between +
 *                       rate_j (e - W_j.start) >= B;
 *   r[k][l]     last byte arrives: r >= e + delay_j, and r >= W_q.end +
 *               delay_q for the windows q in [i, j) it also used;
 *   A[k][n]     the bundle is at n: A >= R_k (F[k-1], or t0) everywhere,
 *               A[k][to(l)] >= r[k][l], s >= A[k][from(l)] when l is used;
 *   S[k] >= r[k][l] for every link (all hops arrive before the consumer
 *   starts; r is 0 on unused links), at most one used link into a node;
 *   the objective T >= r[G][l], T >= F[G-1].
 *
 * Sending later never arrives earlier on these links (one light time per
 * link), bundles of a chain never meet on a link, and nothing runs on a
 * battery, so plan_eval's eager earliest-arrival schedule is the best one
 * for each assignment, and the MILP optimum is the best assignment's
 * plan_eval completion. The one remaining conditional constraint (s >=
 * A[from] when l is used) uses big-M with M = ub, an upper bound on the
 * optimum (the better of the source and fastest baselines: every event
 * of an optimal chain schedule happens before its completion); windows
 * opening after ub are left out. glpsol's tolerances make the optimum
 * exact to about 1e-5 s. */
static void write_lp(FILE *f, const plan_problem *p, double ub)
{
    const plan_model *m = p->m;
    const plan_topology *t = p->t;
    int G = m->n_grp, N = t->n_nodes, L = t->n_links;
    double M = ub;

    fprintf(f, "\\ chain of %d groups on %d nodes, t0 %.17g, src %d, "
               "dst %d, upper bound %.17g\nMinimize\n obj: T\nSubject To\n",
            G, N, p->t0, p->src, p->dst, ub);
    for (int g = 0; g < G; g++) {
        fprintf(f, " as%d:", g);
        for (int n = 0; n < N; n++)
            fprintf(f, " + u%d_%d", g, n);
        fprintf(f, " = 1\n fin%d: F%d - S%d", g, g, g);
        for (int n = 0; n < N; n++)
            fprintf(f, " - %.17g u%d_%d", plan_group_time(m, g, t, n), g, n);
        fprintf(f, " = 0\n");
        if (g > 0)
            fprintf(f, " seq%d: S%d - F%d >= 0\n", g, g, g - 1);
        else
            fprintf(f, " seq0: S0 >= %.17g\n", p->t0);
    }
    for (int k = 0; k <= G; k++) {
        double B = (double)m->cut[k];
        for (int n = 0; n < N; n++) {
            if (k == 0)
                fprintf(f, " rd%d_%d: A%d_%d >= %.17g\n", k, n, k, n, p->t0);
            else
                fprintf(f, " rd%d_%d: A%d_%d - F%d >= 0\n", k, n, k, n,
                        k - 1);
        }
        for (int n = 0; n < N; n++) {
            double rhs = 0;
            fprintf(f, " fl%d_%d:", k, n);
            for (int l = 0; l < L; l++) {
                if (t->links[l].from == n)
                    fprintf(f, " + f%d_%d", k, l);
                if (t->links[l].to == n)
                    fprintf(f, " - f%d_%d", k, l);
            }
            if (k == 0)
                rhs += n == p->src;
            else
                fprintf(f, " - u%d_%d", k - 1, n);
            if (k == G)
                rhs -= n == p->dst;
            else
                fprintf(f, " + u%d_%d", k, n);
            fprintf(f, " = %g\n", rhs);
        }
        for (int l = 0; l < L; l++) {
            const plan_link *lk = &t->links[l];
            const plan_window *W = lk->win;
            int nw = 0;
            while (nw < lk->n_win && W[nw].start < ub)
                nw++;
            fprintf(f, " ch%d_%d: - f%d_%d", k, l, k, l);
            for (int i = 0; i < nw; i++)
                for (int j = i; j < nw; j++)
                    fprintf(f, " + z%d_%d_%d_%d", k, l, i, j);
            fprintf(f, " = 0\n");
            for (int i = 0; i < nw; i++)
                for (int j = i; j < nw; j++) {
                    char id[64];
                    double ei = W[i].end < ub ? W[i].end : ub,
                           ej = W[j].end < ub ? W[j].end : ub, late = 0;
                    snprintf(id, sizeof id, "%d_%d_%d_%d", k, l, i, j);
                    fprintf(f, " sl%s: s%s - %.17g z%s >= 0\n", id, id,
                            W[i].start, id);
                    fprintf(f, " su%s: s%s - %.17g z%s <= 0\n", id, id, ei,
                            id);
                    fprintf(f, " el%s: e%s - %.17g z%s >= 0\n", id, id,
                            W[j].start, id);
                    fprintf(f, " eu%s: e%s - %.17g z%s <= 0\n", id, id, ej,
                            id);
                    if (i == j) {
                        fprintf(f, " by%s: e%s - s%s - %.17g z%s >= 0\n", id,
                                id, id, B / W[i].rate, id);
                    } else {
                        double full = 0, q = W[i].rate / W[j].rate, c;
                        for (int h = i + 1; h < j; h++)
                            full += (W[h].end - W[h].start) * W[h].rate;
                        c = W[j].start +
                            (B - full - W[i].rate * W[i].end) / W[j].rate;
                        fprintf(f, " by%s: e%s - %.17g s%s %c %.17g z%s >= "
                                   "0\n", id, id, q, id, c > 0 ? '-' : '+',
                                fabs(c), id);
                    }
                    for (int h = i; h < j; h++)
                        if (W[h].end + W[h].delay > late)
                            late = W[h].end + W[h].delay;
                    if (late > 0)
                        fprintf(f, " aw%s: r%d_%d - %.17g z%s >= 0\n", id, k,
                                l, late, id);
                }
            fprintf(f, " ar%d_%d: r%d_%d", k, l, k, l);
            for (int i = 0; i < nw; i++)
                for (int j = i; j < nw; j++)
                    fprintf(f, " - e%d_%d_%d_%d - %.17g z%d_%d_%d_%d", k, l,
                            i, j, W[j].delay, k, l, i, j);
            fprintf(f, " >= 0\n");
            fprintf(f, " at%d_%d: A%d_%d - r%d_%d >= 0\n", k, l, k, lk->to,
                    k, l);
            /* sum s >= A[from] - M (1 - f) */
            fprintf(f, " af%d_%d: - A%d_%d - %.17g f%d_%d", k, l, k,
                    lk->from, M, k, l);
            for (int i = 0; i < nw; i++)
                for (int j = i; j < nw; j++)
                    fprintf(f, " + s%d_%d_%d_%d", k, l, i, j);
            fprintf(f, " >= %.17g\n", -M);
        }
        /* every hop of the bundle arrives before the consumer starts
         * (r is 0 on unused links): no big-M needed */
        for (int l = 0; l < L; l++) {
            if (k < G)
                fprintf(f, " st%d_%d: S%d - r%d_%d >= 0\n", k, l, k, k, l);
            else
                fprintf(f, " done%d: T - r%d_%d >= 0\n", l, k, l);
        }
        if (k == G)
            fprintf(f, " done: T - F%d >= 0\n", G - 1);
        /* a simple path: at most one way into each node */
        for (int n = 0; n < N; n++) {
            fprintf(f, " in%d_%d:", k, n);
            for (int l = 0; l < L; l++)
                if (t->links[l].to == n)
                    fprintf(f, " + f%d_%d", k, l);
            fprintf(f, " <= 1\n");
        }
    }
    fprintf(f, "Bounds\n 0 <= T <= %.17g\n", ub);
    for (int g = 0; g < G; g++)
        fprintf(f, " 0 <= S%d <= %.17g\n 0 <= F%d <= %.17g\n", g, ub, g, ub);
    for (int k = 0; k <= G; k++) {
        for (int n = 0; n < N; n++)
            fprintf(f, " 0 <= A%d_%d <= %.17g\n", k, n, ub);
        for (int l = 0; l < L; l++)
            fprintf(f, " 0 <= r%d_%d <= %.17g\n", k, l, ub);
    }
    fprintf(f, "Binary\n");
    for (int g = 0; g < G; g++)
        for (int n = 0; n < N; n++)
            fprintf(f, " u%d_%d\n", g, n);
    for (int k = 0; k <= G; k++)
        for (int l = 0; l < L; l++) {
            int nw = 0;
            while (nw < t->links[l].n_win && t->links[l].win[nw].start < ub)
                nw++;
            fprintf(f, " f%d_%d\n", k, l);
            for (int i = 0; i < nw; i++)
                for (int j = i; j < nw; j++)
                    fprintf(f, " z%d_%d_%d_%d\n", k, l, i, j);
        }
    fprintf(f, "End\n");
}

/* Run glpsol on an LP file; fill *obj (NAN if no solution), the status
 * word and the assignment from the printable solution. */
static int run_glpsol(const char *glpsol, const char *opts, const char *lp,
                      const char *dir, int tmlim, int G, int N, double *obj,
                      char *status, size_t stlen, int *assign, double *secs)
{
    char cmd[16384], raw[4096], out[4096], line[1024];
    FILE *f;
    int rc;
    double t1;

    snprintf(raw, sizeof raw, "%.2000s/sol.raw", dir);
    snprintf(out, sizeof out, "%.2000s/sol.txt", dir);
    unlink(raw);
    unlink(out);
    snprintf(cmd, sizeof cmd,
             "'%.1000s' %.500s --lp '%.2100s' --tmlim %d -w '%.2100s' "
             "-o '%.2100s' > '%.2000s/glpsol.log' 2>&1",
             glpsol, opts, lp, tmlim, raw, out, dir);
    t1 = now_ms();
    rc = system(cmd);
    *secs = (now_ms() - t1) / 1e3;
    *obj = NAN;
    snprintf(status, stlen, "glpsol failed (%d)", rc);
    for (int g = 0; g < G; g++)
        assign[g] = -1;
    if (!(f = fopen(raw, "r")))
        return -1;
    while (fgets(line, sizeof line, f)) {
        int r, c;
        char st;
        double v;
        if (sscanf(line, "s mip %d %d %c %lf", &r, &c, &st, &v) == 4) {
            *obj = st == 'o' || st == 'f' ? v : NAN;
            snprintf(status, stlen, "%s",
                     st == 'o'   ? "optimal"
                     : st == 'f' ? "feasible (time limit)"
                     : st == 'n' ? "no solution"
                                 : "undefined");
        }
    }
    fclose(f);
    if (!(f = fopen(out, "r")))
        return -1;
    while (fgets(line, sizeof line, f)) {
        int idx, g, n;
        char nm[128], tok[128];
        double v;
        if (sscanf(line, "%d %127s %127s", &idx, nm, tok) != 3)
            continue;
        if (sscanf(nm, "u%d_%d", &g, &n) != 2 || g < 0 || g >= G || n < 0 ||
            n >= N)
            continue;
        if (!strcmp(tok, "*")) {
            if (sscanf(line, "%d %127s %127s %lf", &idx, nm, tok, &v) != 4)
                continue;
        } else {
            v = atof(tok);
        }
        if (v > 0.5)
            assign[g] = n;
    }
    fclose(f);
    return 0;
}

/* Transfers of a schedule that cross nodes, that go through a relay,
 * and that pause at a window's end on some hop. */
static void xfer_shape(const plan_sched *s, int *nx, int *relayed,
                       int *spanning)
{
    for (int i = 0; i < s->n_xfers; i++) {
        const plan_xfer *x = &s->xfers[i];
        int hops = 0, link = -1;
        if (x->n_legs == 0)
            continue;
        for (int k = x->leg0; k < x->leg0 + x->n_legs; k++)
            if (s->legs[k].link != link) {
                link = s->legs[k].link;
                hops++;
            }
        (*nx)++;
        *relayed += hops > 1;
        *spanning += x->n_legs > hops;
    }
}

static void fmt_time(char *buf, size_t len, double v, double t0)
{
    if (isfinite(v))
        snprintf(buf, len, "%.6f", v - t0);
    else
        snprintf(buf, len, "inf");
}

static double reldiff(double a, double b)
{
    if (!isfinite(a) && !isfinite(b))
        return 0;
    if (!isfinite(a) || !isfinite(b))
        return INFINITY;
    return fabs(a - b) / (fabs(b) > 1e-12 ? fabs(b) : 1);
}

/* The ILP topology with small batteries on the satellites, eclipses
 * every 100 s: runs must wait for charge. */
static plan_topology *battery_topo(int N, sbuf *b)
{
    b->n = 0;
    sb_printf(b, "Horizon=2000\nProfile=p Conv=100G Gemm=100G Elem=4G "
                 "Other=4G MemBW=20G Overhead=0\n"
                 "Node=n0 Kind=ground Profile=p Scale=0.5 Memory=1T\n");
    for (int n = 1; n < N; n++)
        sb_printf(b, "Node=n%d Kind=leo Profile=p Scale=%.3f Memory=1T "
                     "Power=solar ArrayW=%.0f BatteryWh=%.3f MinSoc=0.2 "
                     "Soc=0.9 IdleW=1 BusyW=%.0f "
                     "Eclipse=every:100/37@%.0f\n",
                  n, urand(0.5, 20), urand(10, 200), urand(0.5, 5),
                  urand(300, 1500), urand(0, 60));
    for (int q = 0; q < N; q++)
        for (int c = q + 1; c < N; c++) {
            double s = urand(0, 30);
            sb_printf(b, "Link=n%d<>n%d Delay=%.4f Rate=%.0f/%.0f "
                         "Window=%.2f-%.2f,%.2f-%.2f,%.2f-1500\n",
                      q, c, urand(0.001, 0.2), urand(8e7, 1.6e9),
                      urand(8e7, 1.6e9), s, s + urand(1, 10), s + 40,
                      s + 40 + urand(1, 20), s + 100);
        }
    return parse_topo("battery.topo", b);
}

/* Small DAGs as check_plan.c makes them: G/2 skip edges of any span. */
static plan_model *small_dag(int G)
{
    int skips = G / 2, nt = G + 1 + skips, nc = G + skips, k = 0, ci = 0;
    plan_model *m = plan_model_alloc(G, nt, nc);
    char err[256];
    if (!m)
        exit(1);
    for (int g = 0; g < G; g++) {
        snprintf(m->grp[g].name, sizeof m->grp[g].name, "op%d", g);
        m->grp[g].first = m->grp[g].last = g;
        m->grp[g].flops[PLAN_OC_CONV] = lurand(1e9, 2e12);
        m->grp[g].n_ops = 1;
        m->grp[g].param_bytes = (uint64_t)lurand(1e4, 1e6);
        m->grp[g].act_bytes = (uint64_t)lurand(1e5, 5e7);
    }
    for (int t = 0; t <= G; t++) {
        plan_tensor *x = &m->ten[k++];
        snprintf(x->name, sizeof x->name, "t%d", t);
        x->bytes = (uint64_t)lurand(1e4, 2e8);
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
        int a = (int)rndu((unsigned)(G - 2)),
            c = a + 2 + (int)rndu((unsigned)(G - a - 2));
        plan_tensor *x = &m->ten[k++];
        snprintf(x->name, sizeof x->name, "skip%d", s);
        x->bytes = (uint64_t)lurand(1e4, 5e7);
        x->producer = a;
        x->cons0 = ci;
        x->n_cons = 1;
        m->cons[ci++] = c;
    }
    m->n_ten = k;
    m->n_cons_total = ci;
    if (plan_model_finish(m, err, sizeof err) != 0) {
        fprintf(stderr, "bench_plan: small dag: %s\n", err);
        exit(1);
    }
    return m;
}

/* Print an instance completely (topology text, model, both plans) so
 * that it can be rebuilt by hand. */
static void describe(FILE *f, const char *fam, int it, const plan_problem *p,
                     const sbuf *topo, const plan_sched *a,
                     const plan_sched *x)
{
    const plan_model *m = p->m;
    fprintf(f, "---- %s, case %d: auto (%s%s, proven over %d of %d cuts) "
               "%.9f > exhaustive %.9f (t0 %.17g, src n%d, dst n%d)\n",
            fam, it, a->strategy, a->proven_optimal ? ", proven" : "",
            a->proven_cuts, m->n_grp - 1, a->completion - p->t0,
            x->completion - p->t0, p->t0, p->src, p->dst);
    {
        /* what local improvement from auto's plan, and list, would give */
        int *as = malloc((size_t)m->n_grp * sizeof *as);
        plan_sched im, ls;
        plan_sched_init(&im);
        plan_sched_init(&ls);
        if (as) {
            memcpy(as, a->assign, (size_t)m->n_grp * sizeof *as);
            if (plan_improve(p, as, &im, 50) == 0)
                fprintf(f, "#   plan_improve from auto's plan: %.9f\n",
                        im.completion - p->t0);
            free(as);
        }
        fprintf(f, "#   list: %.9f\n",
                solve(p, PLAN_STRAT_LIST, &ls, NULL, 0) - p->t0);
        plan_sched_free(&im);
        plan_sched_free(&ls);
    }
    fprintf(f, "%.*s", (int)topo->n, topo->s);
    for (int g = 0; g < m->n_grp; g++)
        fprintf(f, "# group %d: conv %.17g FLOP, n_ops %d; auto on n%d, "
                   "exhaustive on n%d\n", g, m->grp[g].flops[PLAN_OC_CONV],
                m->grp[g].n_ops, a->assign[g], x->assign[g]);
    for (int i = 0; i < m->n_ten; i++) {
        const plan_tensor *t = &m->ten[i];
        fprintf(f, "# tensor %s: %llu bytes, group %d -> ", t->name,
                (unsigned long long)t->bytes, t->producer);
        for (int k = 0; k < t->n_cons; k++)
            fprintf(f, "%d ", m->cons[t->cons0 + k]);
        fprintf(f, "%s\n", t->is_output ? "(output)" : "");
    }
}

/* dp and auto against exhaustive on random small instances: chains on
 * the ILP topologies (relays, spanning windows), chains on batteries, and
 * DAGs. Prints one summary row per family and a line per suspicious
 * case (a proven-optimal plan that exhaustive beats is a bug). */
static void cross_check(int count)
{
    static const char *const fam[3] = {
        "chains, no batteries", "chains, batteries", "DAGs, no batteries"};
    sbuf b = {0};
    double t1 = now_ms();
    printf("### dp and auto against exhaustive on random small instances "
           "(2-7 groups, 2-4 nodes)\n\n");
    for (int f = 0; f < 3; f++) {
        int cases = 0, dp_full = 0, dp_part = 0, dp_bad = 0, dp_part_lose = 0,
            au_full = 0, au_bad = 0, au_worse = 0, dp_eq = 0, list_wins = 0;
        double worst_au = 0, worst_dp = 0;
        seed(4242 + (uint64_t)f);
        for (int it = 0; it < count; it++) {
            int G = (f == 2 ? 4 : 2) + (int)rndu(f == 2 ? 4 : 6),
                N = 2 + (int)rndu(3);
            plan_model *m = f == 2 ? small_dag(G) : gen_model(G, 0, &MP_ILP);
            plan_topology *t = f == 1 ? battery_topo(N, &b) : ilp_topo(N, &b);
            plan_problem p;
            plan_sched a, x, au;
            double vdp, vex, vau, vli, dur;
            setup(&p, m, t, urand(0, 50), 0, (int)rndu((unsigned)N));
            plan_sched_init(&a);
            plan_sched_init(&x);
            plan_sched_init(&au);
            vex = solve(&p, PLAN_STRAT_EXHAUSTIVE, &x, NULL, 0);
            vli = solve(&p, PLAN_STRAT_LIST, &a, NULL, 0);
            vdp = solve(&p, PLAN_STRAT_DP, &a, NULL, 0);
            vau = solve(&p, PLAN_STRAT_AUTO, &au, NULL, 0);
            dur = vex - p.t0 > 0 ? vex - p.t0 : 1;
            if (vli < vau - 1e-9 * (1 + fabs(vau))) {
                list_wins++;
                fprintf(stderr, "---- %s, case %d: list %.9f < auto (%s) "
                        "%.9f, exhaustive %.9f (G=%d N=%d)\n", fam[f], it,
                        vli - p.t0, au.strategy, vau - p.t0, vex - p.t0, G,
                        N);
            }
            cases++;
            dp_eq += reldiff(vdp, vex) <= 1e-9;
            if (vdp > vex + 1e-9 * (1 + fabs(vex)) && isfinite(vex) &&
                (vdp - vex) / dur > worst_dp)
                worst_dp = isfinite(vdp) ? (vdp - vex) / dur : INFINITY;
            if (a.proven_optimal) {
                int full = a.proven_cuts >= G - 1;
                dp_full += full;
                dp_part += !full;
                if (reldiff(vdp, vex) > 1e-9) {
                    if (full) {
                        dp_bad++;
                        printf("- BUG (%s, case %d): dp claims optimal "
                               "over all %d cuts: %.9f, exhaustive %.9f "
                               "(G=%d N=%d t0=%.6f dst=n%d)\n", fam[f], it,
                               a.proven_cuts, vdp, vex, G, N, p.t0, p.dst);
                    } else {
                        dp_part_lose++;
                    }
                }
            }
            if (au.proven_optimal && au.proven_cuts >= G - 1) {
                au_full++;
                if (reldiff(vau, vex) > 1e-9) {
                    au_bad++;
                    printf("- BUG (%s, case %d): auto (%s) claims optimal: "
                           "%.9f, exhaustive %.9f (G=%d N=%d t0=%.6f "
                           "dst=n%d)\n", fam[f], it, au.strategy, vau, vex,
                           G, N, p.t0, p.dst);
                }
            }
            if (vau > vex + 1e-9 * (1 + fabs(vex))) {
                au_worse++;
                if ((vau - vex) / dur > worst_au) {
                    worst_au = (vau - vex) / dur;
                    describe(stderr, fam[f], it, &p, &b, &au, &x);
                }
            }
            plan_sched_free(&a);
            plan_sched_free(&x);
            plan_sched_free(&au);
            plan_topology_free(t);
            plan_model_free(m);
        }
        if (f == 0)
            printf("| family | cases | dp = exhaustive | dp proven (all "
                   "cuts) | of which wrong | dp proven on coarse chain | "
                   "of which exhaustive better | dp worst gap | auto proven"
                   " (all cuts) | of which wrong | auto > exhaustive | auto "
                   "worst gap | list < auto |\n|---|---:|---:|---:|---:|---:|"
                   "---:|---:|---:|---:|---:|---:|---:|\n");
        printf("| %s | %d | %d | %d | %d | %d | %d | %.2f%% | %d | %d | %d | "
               "%.2f%% | %d |\n", fam[f], cases, dp_eq, dp_full, dp_bad,
               dp_part, dp_part_lose, 100 * worst_dp, au_full, au_bad,
               au_worse, 100 * worst_au, list_wins);
    }
    printf("\nGaps are (plan - exhaustive) / exhaustive duration. (%.1f s)"
           "\n\n", (now_ms() - t1) / 1e3);
    free(b.s);
}

static int cmd_ilp(int argc, char **argv)
{
    const char *glpsol = "glpsol", *keep = NULL, *gopts = "--mir";
    char dir[4096];
    int tmlim = 60, nrand = 200, bad = 0;
    static const int SIZES[][2] = {
        {3, 2}, {5, 2}, {8, 2}, {3, 3}, {5, 3}, {6, 3}, {8, 3},
        {3, 4}, {4, 4}, {5, 4}, {6, 4}, {8, 4}};
    int nsz = (int)(sizeof SIZES / sizeof SIZES[0]);
    sbuf b = {0};
    double t_all = now_ms();

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--glpsol") && i + 1 < argc)
            glpsol = argv[++i];
        else if (!strcmp(argv[i], "--glpsol-opts") && i + 1 < argc)
            gopts = argv[++i];
        else if (!strcmp(argv[i], "--tmlim") && i + 1 < argc)
            tmlim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else if (!strcmp(argv[i], "--random") && i + 1 < argc)
            nrand = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_plan ilp: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "/tmp/bench_plan_ilp.XXXXXX");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "bench_plan ilp: mkdtemp: %s\n",
                    strerror(errno));
            return 1;
        }
    }
    printf("## MILP optimum (glpsol %s --tmlim %d) against the planner on "
           "small chains\n\n", gopts, tmlim);
    printf("Full mesh of links, each with 3 short windows and a long one "
           "later (instances -a, -b; -b with the output elsewhere) or 5 short"
           " ones and the long one much later (-span); bundles may span "
           "windows and go through relays; no batteries. Times are seconds "
           "from t0. ILP eval = plan_eval of the MILP's assignment. rel err "
           "= |dp - ILP| / ILP duration. The last column counts the optimal "
           "(exhaustive) plan's transfers between nodes, those relayed, and "
           "those that span windows.\n\n");
    printf("| instance | G | N | src>dst | ILP optimum | ILP status | ILP "
           "eval | dp | dp proven | auto | exhaustive | rel err dp | "
           "glpsol s | opt plan xfers/relayed/spanning |\n");
    printf("|---|---:|---:|---|---:|---|---:|---:|---|---:|---:|---:|"
           "---:|---|\n");
    fflush(stdout);
    for (int si = 0; si < nsz; si++)
        for (int rep = 0; rep < 3; rep++) {
            int G = SIZES[si][0], N = SIZES[si][1];
            char inst[64], lp[4096], st[64], c1[32], c2[32], c3[32],
                c4[32], c5[32], c6[32];
            plan_model *m;
            plan_topology *t;
            plan_problem p;
            plan_sched sd, sa, sx, se;
            double vdp, vau, vex, vil, vie, ub, secs;
            int assign[16];
            FILE *f;
            seed(9000 + (uint64_t)si * 10 + (uint64_t)rep);
            m = gen_model(G, 0, rep < 2 ? &MP_ILP : &MP_SPAN);
            /* rep 2: five short windows and the long one late, so that
             * big bundles must span windows */
            t = rep < 2 ? ilp_topo(N, &b) : ilp_topo_w(N, 5, 700, &b);
            setup(&p, m, t, urand(0, 40), 0,
                  rep == 1 ? (int)rndu((unsigned)N) : 0);
            snprintf(inst, sizeof inst, "c%d-n%d-%s", G, N,
                     rep == 0 ? "a" : rep == 1 ? "b" : "span");
            snprintf(lp, sizeof lp, "%.2000s/%.60s.lp", dir, inst);
            if (!(f = fopen(lp, "w"))) {
                fprintf(stderr, "bench_plan ilp: %s: %s\n", lp,
                        strerror(errno));
                return 1;
            }
            plan_sched_init(&sd);
            plan_sched_init(&sa);
            plan_sched_init(&sx);
            plan_sched_init(&se);
            /* the bound: the better of the two simplest baselines */
            ub = fmin(solve(&p, PLAN_STRAT_SOURCE, &sd, NULL, 0),
                      solve(&p, PLAN_STRAT_FASTEST, &sd, NULL, 0));
            if (!isfinite(ub))
                ub = 2 * t->horizon;
            ub += 1e-6 * (ub - p.t0) + 1e-6;
            write_lp(f, &p, ub);
            fclose(f);
            if (keep) {
                char tp[4096];
                snprintf(tp, sizeof tp, "%.2000s/%.60s.topo", dir, inst);
                if ((f = fopen(tp, "w"))) {
                    fwrite(b.s, 1, b.n, f);
                    fprintf(f, "# model: chain of %d groups, t0 %.17g, "
                               "src n%d, dst n%d\n", G, p.t0, p.src, p.dst);
                    for (int g = 0; g < G; g++)
                        fprintf(f, "#   group %d: %.17g conv FLOP; in "
                                   "%llu bytes\n", g,
                                m->grp[g].flops[PLAN_OC_CONV],
                                (unsigned long long)m->cut[g]);
                    fprintf(f, "#   output %llu bytes\n",
                            (unsigned long long)m->cut[G]);
                    fclose(f);
                }
            }
            vdp = solve(&p, PLAN_STRAT_DP, &sd, NULL, 0);
            vau = solve(&p, PLAN_STRAT_AUTO, &sa, NULL, 0);
            vex = solve(&p, PLAN_STRAT_EXHAUSTIVE, &sx, NULL, 0);
            run_glpsol(glpsol, gopts, lp, dir, tmlim, G, N, &vil, st,
                       sizeof st, assign, &secs);
            vie = NAN;
            {
                int ok = 1;
                for (int g = 0; g < G; g++)
                    ok &= assign[g] >= 0;
                if (ok && plan_eval(&p, assign, &se) == 0)
                    vie = se.feasible ? se.completion : INFINITY;
            }
            fmt_time(c1, sizeof c1, vil, p.t0);
            fmt_time(c2, sizeof c2, vie, p.t0);
            fmt_time(c3, sizeof c3, vdp, p.t0);
            fmt_time(c4, sizeof c4, vau, p.t0);
            fmt_time(c5, sizeof c5, vex, p.t0);
            if (isfinite(vil) && isfinite(vdp))
                snprintf(c6, sizeof c6, "%.2e",
                         fabs(vdp - vil) / (vil - p.t0));
            else
                snprintf(c6, sizeof c6, "-");
            {
                int nx = 0, relayed = 0, spanning = 0;
                xfer_shape(&sx, &nx, &relayed, &spanning);
                printf("| %s | %d | %d | n%d>n%d | %s | %s | %s | %s | %s | "
                       "%s | %s | %s | %.2f | %d/%d/%d |\n", inst, G, N,
                       p.src, p.dst, c1, st, c2, c3,
                       sd.proven_optimal ? "yes" : "no", c4, c5, c6, secs,
                       nx, relayed, spanning);
            }
            fflush(stdout);
            {
                /* a time-limited MILP only bounds the optimum from above */
                double tol = 1e-6 * (vex - p.t0) + 1e-6;
                int ilp_opt = !strcmp(st, "optimal");
                if (reldiff(vdp - p.t0, vex - p.t0) > 1e-9 ||
                    (isfinite(vil) && ilp_opt && fabs(vil - vex) > tol) ||
                    (isfinite(vil) && vil < vex - tol) ||
                    vau > vex + 1e-9) {
                    bad++;
                    fprintf(stderr, "ILP/DP/EXHAUSTIVE DISAGREE on %s (%s)"
                            "\n", inst, keep ? lp : "--keep DIR keeps its "
                            "LP file");
                }
            }
            plan_sched_free(&sd);
            plan_sched_free(&sa);
            plan_sched_free(&sx);
            plan_sched_free(&se);
            plan_model_free(m);
            plan_topology_free(t);
        }
    free(b.s);
    printf("\nInstances where ILP, dp, auto and exhaustive disagree (beyond"
           " 1e-6 of the duration for the ILP; a time-limited ILP only "
           "where it is below exhaustive): %d%s\n\n", bad,
           bad ? " (see stderr)" : "");
    if (nrand > 0)
        cross_check(nrand);
    if (keep) {
        printf("(ilp took %.1f s; LP files in %s)\n\n",
               (now_ms() - t_all) / 1e3, dir);
    } else {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%.2000s/%.1000s", dir, e->d_name);
            unlink(path);
        }
        if (d)
            closedir(d);
        rmdir(dir);
        printf("(ilp took %.1f s; --keep DIR keeps the LP files)\n\n",
               (now_ms() - t_all) / 1e3);
    }
    return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "curve"))
        return cmd_curve(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "phases"))
        return cmd_phases(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "quality"))
        return cmd_quality(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "ilp"))
        return cmd_ilp(argc - 2, argv + 2);
    fprintf(stderr,
            "usage: bench_plan curve [--quick] [--groups G,..] "
            "[--nodes N,..]\n"
            "       bench_plan phases G N [chain|dag]\n"
            "       bench_plan quality ZOO_DIR EXAMPLES_DIR [MODEL ...]\n"
            "       bench_plan ilp [--glpsol PATH] [--glpsol-opts OPTS] "
            "[--tmlim S] [--keep DIR] [--random N]\n");
    return 2;
}
