/*
 * bench_conv.c - micro-benchmark of the CPU Conv kernel (lib/exec/cpu/
 * conv.c) on the convolution shapes of the model zoo, against OpenBLAS
 * sgemm on the GEMM each convolution lowers to.
 *
 * For each shape: build a one-node graph, infer, prepare, warm up, then
 * time the kernel R times and print the median with GFLOP/s (FLOPs as
 * shape inference counts them: 2 * multiply-adds + bias). The "sgemm"
 * column times cblas_sgemm alone on the lowered problem (per group:
 * M = Cout/g, N = Hout*Wout, K = Cin/g*kh*kw; repeated g times), i.e. the
 * ceiling im2col + GEMM can reach; "conv/sgemm" is the ratio.
 * Never fails; prints a table. Single-threaded driver; the kernel uses an
 * lg_pool and OpenBLAS threads (both --threads, default all CPUs).
 *
 * usage: bench_conv [--threads N] [--pool N] [--reps R] [--only SUBSTRING]
 *   --threads: OpenBLAS threads and lg_pool size (default: online CPUs)
 *   --pool: lg_pool size alone (0: no pool, the kernel runs its loops
 *           on the calling thread)
 *   --cmp-pool 1: also time each conv without the pool, interleaved
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graph.h"
#include "kernel.h"
#include "lgerr.h"
#include "op.h"
#include "pool.h"
#include "tensor.h"

typedef struct cfg {
    const char *name;
    int64_t c, h, m, group, k, s, p;    /* N = 1, square input/kernel */
} cfg;

static const cfg CFGS[] = {
    {"resnet18 conv1 7x7/2", 3, 224, 64, 1, 7, 2, 3},
    {"resnet18 layer1 3x3", 64, 56, 64, 1, 3, 1, 1},
    {"resnet18 layer2 3x3", 128, 28, 128, 1, 3, 1, 1},
    {"resnet18 layer3 3x3", 256, 14, 256, 1, 3, 1, 1},
    {"resnet18 layer4 3x3", 512, 7, 512, 1, 3, 1, 1},
    {"resnet18 down 1x1/2", 64, 56, 128, 1, 1, 2, 0},
    {"mbv2 pw 1x1 32->192", 32, 112, 192, 1, 1, 1, 0},
    {"mbv2 pw 1x1 144->24", 144, 56, 24, 1, 1, 1, 0},
    {"mbv2 dw 3x3 s1 144@56", 144, 56, 144, 144, 3, 1, 1},
    {"mbv2 dw 3x3 s2 96@112", 96, 112, 96, 96, 3, 2, 1},
    {"mbv2 dw 3x3 s1 960@7", 960, 7, 960, 960, 3, 1, 1},
    {"effb0 dw 5x5 s2 144@56", 144, 56, 144, 144, 5, 2, 2},
    {"effb0 dw 5x5 s1 480@14", 480, 14, 480, 480, 5, 1, 2},
    {"regnet g8 3x3 104@28", 104, 28, 104, 13, 3, 1, 1},
    {"regnet g8 3x3 440@7", 440, 7, 440, 55, 3, 1, 1},
    {"vgg16 3x3 64@224", 64, 224, 64, 1, 3, 1, 1},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static lg_tensor *rand_tensor(lg_shape s)
{
    lg_tensor *t = lg_tensor_new(LG_F32, &s);
    uint32_t r = 12345;
    if (!t)
        return NULL;
    for (int64_t i = 0; i < lg_tensor_numel(t); i++) {
        r = r * 1664525u + 1013904223u;
        ((float *)t->data)[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
    }
    return t;
}

static lg_attr attr_ints(const char *name, int64_t v, int cnt)
{
    lg_attr a;
    memset(&a, 0, sizeof a);
    a.name = strdup(name);
    a.type = LG_ATTR_INTS;
    a.ints = malloc((size_t)cnt * sizeof *a.ints);
    for (int i = 0; i < cnt; i++)
        a.ints[i] = v;
    a.n = cnt;
    return a;
}

typedef void (*run_fn)(void *);

/* Time fns[0..nv) in interleaved rounds (conv, sgemm, conv, sgemm, ...)
 * so that load from other processes hits all variants alike. med[v] and
 * best[v] get the median and fastest seconds; ratio gets the median over
 * rounds of t[1] / t[0] (per-round speed of variant 0 relative to 1). */
static void time_rounds(int nv, run_fn *fns, void **args, int reps,
                        double *med, double *best, double *ratio)
{
    double *t = malloc((size_t)(nv * reps) * sizeof *t);
    double *rr = malloc((size_t)reps * sizeof *rr);
    for (int v = 0; v < nv; v++) {
        fns[v](args[v]);        /* warm up: page in, scratch, BLAS threads */
        fns[v](args[v]);
    }
    for (int i = 0; i < reps; i++)
        for (int v = 0; v < nv; v++) {
            double t0 = now();
            fns[v](args[v]);
            t[v * reps + i] = now() - t0;
        }
    for (int i = 0; i < reps; i++)
        rr[i] = t[reps + i] / t[i];
    qsort(rr, (size_t)reps, sizeof *rr, cmp_d);
    *ratio = rr[reps / 2];
    for (int v = 0; v < nv; v++) {
        qsort(t + v * reps, (size_t)reps, sizeof *t, cmp_d);
        med[v] = t[v * reps + reps / 2];
        best[v] = t[v * reps];
    }
    free(t);
    free(rr);
}

struct conv_run {
    const lg_graph *g;
    const lg_kernel *k;
    lg_tensor *in[3], *out[1];
    lg_kctx ctx;
};

static void do_conv(void *arg)
{
    struct conv_run *r = arg;
    if (r->k->run(r->g, &r->g->nodes[0], r->in, r->out, &r->ctx) < 0) {
        fprintf(stderr, "conv failed: %s\n", r->ctx.err);
        exit(1);
    }
}

struct gemm_run {
    int64_t g, m, n, k;
    const float *a, *b;
    float *c;
};

static void do_gemm(void *arg)
{
    struct gemm_run *r = arg;
    for (int64_t i = 0; i < r->g; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r->m,
                    (int)r->n, (int)r->k, 1.0f, r->a + i * r->m * r->k,
                    (int)r->k, r->b + i * r->k * r->n, (int)r->n, 0.0f,
                    r->c + i * r->m * r->n, (int)r->n);
}

static int cmp_pool;             /* --cmp-pool: also time without pool */

static void bench_one(const cfg *c, lg_pool *pool, int reps)
{
    lg_graph *g = lg_graph_new();
    const char *ins[3] = {"x", "w", "b"}, *outs[1] = {"y"};
    lg_attr *at = malloc(4 * sizeof *at);
    char err[256];
    struct conv_run r;
    struct gemm_run gr;
    void *state = NULL;
    int64_t ho, osz;
    double fl, gf;
    lg_shape xs = lg_shape_make(4, (int64_t[]){1, c->c, c->h, c->h});
    lg_shape ws = lg_shape_make(4, (int64_t[]){c->m, c->c / c->group, c->k,
                                               c->k});
    lg_shape bs = lg_shape_make(1, (int64_t[]){c->m});
    int vx, vy;

    at[0] = attr_ints("kernel_shape", c->k, 2);
    at[1] = attr_ints("strides", c->s, 2);
    at[2] = attr_ints("pads", c->p, 4);
    memset(&at[3], 0, sizeof at[3]);
    at[3].name = strdup("group");
    at[3].type = LG_ATTR_INT;
    at[3].i = c->group;
    lg_graph_add_node(g, "conv", "Conv", "", 3, ins, 1, outs, at, 4);
    vx = lg_graph_find(g, "x");
    g->values[vx].dtype = LG_F32;
    g->values[vx].shape = xs;
    g->values[vx].has_shape = 1;
    lg_graph_add_input(g, vx);
    lg_graph_set_const(g, lg_graph_find(g, "w"), rand_tensor(ws), 1);
    lg_graph_set_const(g, lg_graph_find(g, "b"), rand_tensor(bs), 1);
    vy = lg_graph_find(g, "y");
    lg_graph_add_output(g, vy);
    if (lg_graph_infer(g, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", c->name, err);
        exit(1);
    }
    memset(&r, 0, sizeof r);
    r.g = g;
    r.k = &lg_cpu_kernels_conv[0];
    r.in[0] = rand_tensor(xs);
    r.in[1] = g->values[lg_graph_find(g, "w")].konst;
    r.in[2] = g->values[lg_graph_find(g, "b")].konst;
    r.out[0] = lg_tensor_new(LG_F32, &g->values[vy].shape);
    if (r.k->prepare(g, &g->nodes[0], &state, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", c->name, err);
        exit(1);
    }
    r.ctx.pool = pool;
    r.ctx.state = state;
    r.ctx.err = err;
    r.ctx.errlen = sizeof err;
    fl = (double)g->nodes[0].flops;
    ho = g->values[vy].shape.d[2];
    osz = ho * ho;
    gr.g = c->group;
    gr.m = c->m / c->group;
    gr.n = osz;
    gr.k = c->c / c->group * c->k * c->k;
    {
        lg_shape as = lg_shape_make(1, (int64_t[]){gr.g * gr.m * gr.k});
        lg_shape b2 = lg_shape_make(1, (int64_t[]){gr.g * gr.k * gr.n});
        lg_shape cs = lg_shape_make(1, (int64_t[]){gr.g * gr.m * gr.n});
        lg_tensor *ta = rand_tensor(as), *tb = rand_tensor(b2);
        lg_tensor *tc = lg_tensor_new(LG_F32, &cs);
        struct conv_run r0 = r;
        run_fn fns[3] = {do_conv, do_gemm, do_conv};
        void *args[3] = {&r, &gr, &r0};
        double med[3], best[3], ratio;
        r0.ctx.pool = NULL;
        gr.a = ta->data;
        gr.b = tb->data;
        gr.c = tc->data;
        time_rounds(cmp_pool ? 3 : 2, fns, args, reps, med, best, &ratio);
        gf = 2.0 * (double)(gr.g * gr.m * gr.n * gr.k);
        /* ratio: conv GFLOP/s over sgemm GFLOP/s, per round. */
        printf("%-24s %4lldx%-4lld %7.1f %8.3f %8.1f %8.1f %6.2f | %8.1f "
               "%8.1f\n", c->name, (long long)ho, (long long)ho, fl / 1e6,
               med[0] * 1e3, fl / med[0] / 1e9, gf / med[1] / 1e9,
               ratio * fl / gf, fl / best[0] / 1e9, gf / best[1] / 1e9);
        if (cmp_pool)
            printf("%-24s %9s %7s %8.3f %8.1f   (same, loops on the calling "
                   "thread only)\n", "", "", "", med[2] * 1e3,
                   fl / med[2] / 1e9);
        lg_tensor_unref(ta);
        lg_tensor_unref(tb);
        lg_tensor_unref(tc);
    }
    r.k->release(state);
    lg_tensor_unref(r.in[0]);
    lg_tensor_unref(r.out[0]);
    lg_graph_free(g);
}

int main(int argc, char **argv)
{
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), reps = 21;
    const char *only = NULL;
    int pool_threads = -1;
    lg_pool *pool;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
        else if (strcmp(argv[i], "--pool") == 0)
            pool_threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--cmp-pool") == 0)
            cmp_pool = atoi(argv[i + 1]);
    }
    if (threads < 1)
        threads = 1;
    if (reps < 1)
        reps = 1;
    if (pool_threads < 0)
        pool_threads = threads;
    openblas_set_num_threads(threads);
    pool = pool_threads > 0 ? lg_pool_new(pool_threads) : NULL;
    printf("OpenBLAS core: %s; BLAS threads %d, pool threads %d; median of "
           "%d runs\n", openblas_get_corename(), threads, pool_threads,
           reps);
    printf("%-24s %9s %7s %8s %8s %8s %6s | %8s %8s\n", "", "", "",
           "median", "", "", "", "best", "");
    printf("%-24s %9s %7s %8s %8s %8s %6s | %8s %8s\n", "conv", "out",
           "MFLOP", "ms", "GFLOP/s", "sgemm", "ratio", "GFLOP/s", "sgemm");
    for (size_t i = 0; i < sizeof CFGS / sizeof CFGS[0]; i++)
        if (!only || strstr(CFGS[i].name, only))
            bench_one(&CFGS[i], pool, reps);
    lg_pool_free(pool);
    return 0;
}
