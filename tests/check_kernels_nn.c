/*
 * check_kernels_nn.c - tests for the NN op definitions (lib/model/
 * opdef_nn.c) and their CPU kernels (lib/exec/cpu/conv.c, nn.c).
 *
 * Each case builds a one-node lg_graph by hand, runs shape inference
 * (lg_graph_infer without folding), checks the inferred output shape
 * against a size computed here independently, then runs the kernel
 * straight from its table and compares with a naive reference written
 * below (plain nested loops, double accumulation).
 *
 * Tolerance: |got - ref| <= 1e-4 * max|ref| + 1e-7 over every element of
 * the output (relative to the output's largest magnitude).
 *
 * Bad inputs check the error code and that the message names the node.
 * Single-threaded test driver; kernels run with a 2-thread lg_pool and
 * with no pool.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernel.h"
#include "lgerr.h"
#include "op.h"
#include "pool.h"
#include "tensor.h"

#define TOL_REL 1e-4
#define TOL_ABS 1e-7

static lg_pool *g_pool;         /* 2 threads; made per test (check forks) */
static char g_case[512];        /* description of the running case */

/* ------------------------------------------------------------- random */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int64_t rnd(int64_t lo, int64_t hi)      /* inclusive */
{
    return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

static float frand(void)                        /* [-1, 1) */
{
    return (float)((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static lg_shape shpv(int rank, const int64_t *d)
{
    return lg_shape_make(rank, d);
}

/* SHP(rank, d0, d1, ...): every dimension converted to int64_t. */
#define SHP(r, ...) shpv((r), (const int64_t[]){__VA_ARGS__})
#define SHP0() shpv(0, NULL)

static lg_tensor *rand_tensor(lg_shape s, float scale)
{
    lg_tensor *t = lg_tensor_new(LG_F32, &s);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < lg_tensor_numel(t); i++)
        ((float *)t->data)[i] = frand() * scale;
    return t;
}

static char *sstr(const lg_shape *s)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    return lg_shape_str(s, buf[k], sizeof buf[k]);
}

/* ---------------------------------------------------------- attributes */

typedef struct attrs {
    lg_attr a[16];
    int n;
} attrs;

static lg_attr *at_new(attrs *A, const char *name, enum lg_attr_type t)
{
    lg_attr *a;
    ck_assert_int_lt(A->n, 16);
    a = &A->a[A->n++];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->type = t;
    return a;
}

static void at_int(attrs *A, const char *name, int64_t v)
{
    at_new(A, name, LG_ATTR_INT)->i = v;
}

static void at_float(attrs *A, const char *name, float v)
{
    at_new(A, name, LG_ATTR_FLOAT)->f = v;
}

static void at_str(attrs *A, const char *name, const char *v)
{
    lg_attr *a = at_new(A, name, LG_ATTR_STRING);
    a->s = strdup(v);
    a->slen = strlen(v);
}

static void at_ints(attrs *A, const char *name, int cnt, const int64_t *v)
{
    lg_attr *a = at_new(A, name, LG_ATTR_INTS);
    a->ints = malloc((size_t)(cnt ? cnt : 1) * sizeof *a->ints);
    memcpy(a->ints, v, (size_t)cnt * sizeof *v);
    a->n = cnt;
}

/* ------------------------------------------------------- graph + kernel */

typedef struct onenode {
    lg_graph *g;
    lg_tensor *in[8];           /* borrowed from the caller */
    int nin, nout;
    int rc;                     /* lg_graph_infer result */
    char err[512];
} onenode;

/* One node `name` of type op with inputs ins[0..nin) (NULL = absent; bit i
 * of const_mask makes input i an initializer, else a graph input) and
 * nout outputs (bit i of out_absent leaves output i unnamed). Runs shape
 * inference. attrs are moved into the graph. */
static onenode build(const char *op, const char *name, int opset, int nin,
                     lg_tensor **ins, unsigned const_mask, int nout,
                     unsigned out_absent, attrs *A)
{
    onenode o;
    const char *in_names[8], *out_names[8];
    char inb[8][16], outb[8][16];
    lg_attr *copy = NULL;
    int node;

    memset(&o, 0, sizeof o);
    o.g = lg_graph_new();
    ck_assert_ptr_nonnull(o.g);
    o.g->opset = opset;
    o.nin = nin;
    o.nout = nout;
    for (int i = 0; i < nin; i++) {
        snprintf(inb[i], sizeof inb[i], "x%d", i);
        in_names[i] = ins[i] ? inb[i] : "";
        o.in[i] = ins[i];
    }
    for (int i = 0; i < nout; i++) {
        snprintf(outb[i], sizeof outb[i], "y%d", i);
        out_names[i] = (out_absent >> i) & 1 ? "" : outb[i];
    }
    if (A && A->n) {
        copy = malloc((size_t)A->n * sizeof *copy);
        memcpy(copy, A->a, (size_t)A->n * sizeof *copy);
    }
    node = lg_graph_add_node(o.g, name, op, "", nin, in_names, nout,
                             out_names, copy, A ? A->n : 0);
    ck_assert_int_ge(node, 0);
    if (A)
        A->n = 0;
    for (int i = 0; i < nin; i++) {
        int v;
        if (!ins[i])
            continue;
        v = lg_graph_find(o.g, inb[i]);
        if ((const_mask >> i) & 1) {
            lg_graph_set_const(o.g, v, lg_tensor_ref(ins[i]), 1);
        } else {
            o.g->values[v].dtype = ins[i]->dtype;
            o.g->values[v].shape = ins[i]->shape;
            o.g->values[v].has_shape = 1;
            lg_graph_add_input(o.g, v);
        }
    }
    for (int i = 0; i < nout; i++)
        if (!((out_absent >> i) & 1))
            lg_graph_add_output(o.g, lg_graph_find(o.g, outb[i]));
    o.rc = lg_graph_infer(o.g, NULL, o.err, sizeof o.err);
    return o;
}

static const lg_kernel *find_kernel(const char *op)
{
    for (const lg_kernel *k = lg_cpu_kernels_nn; k->op; k++)
        if (strcmp(k->op, op) == 0)
            return k;
    for (const lg_kernel *k = lg_cpu_kernels_conv; k->op; k++)
        if (strcmp(k->op, op) == 0)
            return k;
    return NULL;
}

/* Output i's inferred shape. */
static lg_shape out_shape(const onenode *o, int i)
{
    const lg_node *n = &o->g->nodes[0];
    return o->g->values[n->out[i]].shape;
}

/* Run the node's kernel on o->in; outs[i] receive new tensors (NULL for
 * absent outputs). Returns the kernel's code. */
static int run_kernel(onenode *o, lg_tensor **outs, lg_pool *pool,
                      int use_prepare)
{
    const lg_node *n;
    const lg_kernel *k;
    lg_kctx ctx;
    void *state = NULL;
    int rc;

    ck_assert_msg(o->rc == 0, "%s: infer failed: %s", g_case, o->err);
    ck_assert_int_eq(o->g->n_nodes, 1);
    n = &o->g->nodes[0];
    k = find_kernel(n->op);
    ck_assert_msg(k != NULL, "no kernel for %s", n->op);
    for (int i = 0; i < n->n_out; i++) {
        outs[i] = NULL;
        if (n->out[i] >= 0) {
            const lg_value *v = &o->g->values[n->out[i]];
            outs[i] = lg_tensor_new(v->dtype, &v->shape);
            ck_assert_ptr_nonnull(outs[i]);
            /* Kernels must not rely on zeroed outputs. */
            for (int64_t j = 0; j < lg_tensor_numel(outs[i]); j++)
                ((float *)outs[i]->data)[j] = NAN;
        }
    }
    if (use_prepare && k->prepare) {
        rc = k->prepare(o->g, n, &state, o->err, sizeof o->err);
        ck_assert_msg(rc == 0, "%s: prepare: %s", g_case, o->err);
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.pool = pool;
    ctx.state = state;
    ctx.err = o->err;
    ctx.errlen = sizeof o->err;
    rc = k->run(o->g, n, o->in, outs, &ctx);
    if (state && k->release)
        k->release(state);
    return rc;
}

static void done(onenode *o, lg_tensor **outs, int nout)
{
    for (int i = 0; i < nout; i++)
        lg_tensor_unref(outs ? outs[i] : NULL);
    lg_graph_free(o->g);
}

static void expect_shape(const onenode *o, int i, lg_shape want)
{
    lg_shape got = out_shape(o, i);
    ck_assert_msg(lg_shape_eq(&got, &want), "%s: output %d shape %s, want %s",
                  g_case, i, sstr(&got), sstr(&want));
}

static void expect_close(const lg_tensor *got, const double *ref)
{
    int64_t cnt = lg_tensor_numel(got);
    const float *y = got->data;
    double mx = 0, tol;
    for (int64_t i = 0; i < cnt; i++)
        if (fabs(ref[i]) > mx)
            mx = fabs(ref[i]);
    tol = TOL_REL * mx + TOL_ABS;
    /* One check call per tensor: check records every assertion. */
    for (int64_t i = 0; i < cnt; i++)
        if (!(fabs((double)y[i] - ref[i]) <= tol))
            ck_abort_msg("%s: element %lld of %lld: got %.9g, want %.9g "
                         "(tol %.3g)", g_case, (long long)i, (long long)cnt,
                         (double)y[i], ref[i], tol);
}

static void expect_err(const onenode *o, int code, const char *needle1,
                       const char *needle2)
{
    ck_assert_msg(o->rc == code, "%s: rc %d, want %d (%s)", g_case, o->rc,
                  code, o->err);
    ck_assert_msg(strstr(o->err, needle1) != NULL,
                  "%s: message '%s' lacks '%s'", g_case, o->err, needle1);
    if (needle2)
        ck_assert_msg(strstr(o->err, needle2) != NULL,
                      "%s: message '%s' lacks '%s'", g_case, o->err, needle2);
}

/* ================================================================ Conv */

typedef struct convcase {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], p0[3], p1[3];
    const char *auto_pad;       /* NULL: explicit pads attr */
    int bias;
} convcase;

static void conv_desc(const convcase *cc)
{
    int off = snprintf(g_case, sizeof g_case,
                       "Conv N=%lld C=%lld M=%lld g=%lld bias=%d pad=%s in=",
                       (long long)cc->n, (long long)cc->c, (long long)cc->m,
                       (long long)cc->group, cc->bias,
                       cc->auto_pad ? cc->auto_pad : "explicit");
    for (int i = 0; i < cc->nsp; i++)
        off += snprintf(g_case + off, sizeof g_case - (size_t)off,
                        "%s%lld", i ? "x" : "", (long long)cc->in[i]);
    for (int i = 0; i < cc->nsp; i++)
        off += snprintf(g_case + off, sizeof g_case - (size_t)off,
                        " | k%lld s%lld d%lld p%lld,%lld", (long long)cc->k[i],
                        (long long)cc->s[i], (long long)cc->d[i],
                        (long long)cc->p0[i], (long long)cc->p1[i]);
}

/* Output size along one dim; for SAME_* also fills the pads used. */
static int64_t ref_out_dim(const convcase *cc, int i, int ceil_mode,
                           int64_t *p0, int64_t *p1)
{
    int64_t ek = cc->d[i] * (cc->k[i] - 1) + 1, o;
    if (cc->auto_pad && strncmp(cc->auto_pad, "SAME", 4) == 0) {
        int64_t tot;
        o = (cc->in[i] + cc->s[i] - 1) / cc->s[i];
        tot = (o - 1) * cc->s[i] + ek - cc->in[i];
        if (tot < 0)
            tot = 0;
        if (strcmp(cc->auto_pad, "SAME_UPPER") == 0) {
            *p0 = tot / 2;
            *p1 = tot - tot / 2;
        } else {
            *p1 = tot / 2;
            *p0 = tot - tot / 2;
        }
        return o;
    }
    if (cc->auto_pad && strcmp(cc->auto_pad, "VALID") == 0)
        *p0 = *p1 = 0;
    else {
        *p0 = cc->p0[i];
        *p1 = cc->p1[i];
    }
    {
        int64_t span = cc->in[i] + *p0 + *p1 - ek;
        if (span < 0)
            return 0;
        if (!ceil_mode)
            return span / cc->s[i] + 1;
        o = (span + cc->s[i] - 1) / cc->s[i] + 1;
        if ((o - 1) * cc->s[i] >= cc->in[i] + *p0)
            o--;
        return o;
    }
}

/* One output of the naive convolution, double accumulation. */
static double ref_conv_point(const convcase *cc, const float *x,
                             const float *w, const float *b,
                             const int64_t *in3, const int64_t *k3,
                             const int64_t *s3, const int64_t *d3,
                             const int64_t *p3, int64_t nb, int64_t m,
                             int64_t a, int64_t b3, int64_t c3)
{
    int64_t cg = cc->c / cc->group, mg = cc->m / cc->group, gi = m / mg;
    double acc = b ? b[m] : 0.0;
    for (int64_t ci = 0; ci < cg; ci++) {
        int64_t ch = gi * cg + ci;
        for (int64_t ka = 0; ka < k3[0]; ka++)
            for (int64_t kb = 0; kb < k3[1]; kb++)
                for (int64_t kc = 0; kc < k3[2]; kc++) {
                    int64_t ia = a * s3[0] - p3[0] + ka * d3[0];
                    int64_t ib = b3 * s3[1] - p3[1] + kb * d3[1];
                    int64_t ic = c3 * s3[2] - p3[2] + kc * d3[2];
                    if (ia < 0 || ia >= in3[0] || ib < 0 || ib >= in3[1] ||
                        ic < 0 || ic >= in3[2])
                        continue;
                    acc += (double)x[(((nb * cc->c + ch) * in3[0] + ia) *
                                      in3[1] + ib) * in3[2] + ic] *
                           w[(((m * cg + ci) * k3[0] + ka) * k3[1] + kb) *
                             k3[2] + kc];
                }
    }
    return acc;
}

/* Naive convolution, double accumulation; dims right-aligned to 3. */
static void ref_conv(const convcase *cc, const float *x, const float *w,
                     const float *b, const int64_t out[3], const int64_t p0[3],
                     double *y)
{
    int64_t in3[3], k3[3], s3[3], d3[3], o3[3], p3[3];
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - cc->nsp);
        in3[i] = j >= 0 ? cc->in[j] : 1;
        k3[i] = j >= 0 ? cc->k[j] : 1;
        s3[i] = j >= 0 ? cc->s[j] : 1;
        d3[i] = j >= 0 ? cc->d[j] : 1;
        o3[i] = j >= 0 ? out[j] : 1;
        p3[i] = j >= 0 ? p0[j] : 0;
    }
    for (int64_t nb = 0; nb < cc->n; nb++)
        for (int64_t m = 0; m < cc->m; m++)
            for (int64_t a = 0; a < o3[0]; a++)
                for (int64_t b3 = 0; b3 < o3[1]; b3++)
                    for (int64_t c3 = 0; c3 < o3[2]; c3++)
                        y[(((nb * cc->m + m) * o3[0] + a) * o3[1] + b3) *
                          o3[2] + c3] = ref_conv_point(cc, x, w, b, in3, k3,
                                                       s3, d3, p3, nb, m, a,
                                                       b3, c3);
}

/* Build, infer, check shape and FLOPs, run (with/without prepare, pool). */
static void conv_check(const convcase *cc, int use_prepare, lg_pool *pool)
{
    int64_t xs[5], ws[5], out[3], p0[3], p1[3], ys[5];
    int r = cc->nsp + 2;
    lg_tensor *ins[3], *outs[1];
    attrs A;
    onenode o;
    double *ref;
    uint64_t want_flops;
    int64_t ynum = 1;

    conv_desc(cc);
    xs[0] = cc->n;
    xs[1] = cc->c;
    ws[0] = cc->m;
    ws[1] = cc->c / cc->group;
    ys[0] = cc->n;
    ys[1] = cc->m;
    for (int i = 0; i < cc->nsp; i++) {
        xs[2 + i] = cc->in[i];
        ws[2 + i] = cc->k[i];
        out[i] = ref_out_dim(cc, i, 0, &p0[i], &p1[i]);
        ck_assert_msg(out[i] >= 1, "%s: bad test case", g_case);
        ys[2 + i] = out[i];
    }
    for (int i = 0; i < r; i++)
        ynum *= ys[i];
    ins[0] = rand_tensor(shpv(r, xs), 1.0f);
    ins[1] = rand_tensor(shpv(r, ws), 1.0f);
    ins[2] = cc->bias ? rand_tensor(SHP(1, cc->m), 1.0f) : NULL;
    A.n = 0;
    if (cc->group != 1 || rng() % 2)
        at_int(&A, "group", cc->group);
    at_ints(&A, "kernel_shape", cc->nsp, cc->k);
    at_ints(&A, "strides", cc->nsp, cc->s);
    at_ints(&A, "dilations", cc->nsp, cc->d);
    if (cc->auto_pad) {
        at_str(&A, "auto_pad", cc->auto_pad);
    } else {
        int64_t pads[6];
        for (int i = 0; i < cc->nsp; i++) {
            pads[i] = cc->p0[i];
            pads[cc->nsp + i] = cc->p1[i];
        }
        at_ints(&A, "pads", 2 * cc->nsp, pads);
    }
    o = build("Conv", "conv_t", 13, cc->bias ? 3 : 2, ins, 6u, 1, 0, &A);
    ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
    expect_shape(&o, 0, shpv(r, ys));
    want_flops = 2ull * (uint64_t)ynum * (uint64_t)(cc->c / cc->group);
    for (int i = 0; i < cc->nsp; i++)
        want_flops *= (uint64_t)cc->k[i];
    if (cc->bias)
        want_flops += (uint64_t)ynum;
    ck_assert_msg(o.g->nodes[0].flops == want_flops, "%s: flops %llu want "
                  "%llu", g_case, (unsigned long long)o.g->nodes[0].flops,
                  (unsigned long long)want_flops);
    ck_assert_msg(run_kernel(&o, outs, pool, use_prepare) == 0, "%s: %s",
                  g_case, o.err);
    ref = malloc((size_t)ynum * sizeof *ref);
    ref_conv(cc, ins[0]->data, ins[1]->data, cc->bias ? ins[2]->data : NULL,
             out, p0, ref);
    expect_close(outs[0], ref);
    free(ref);
    done(&o, outs, 1);
    for (int i = 0; i < 3; i++)
        lg_tensor_unref(ins[i]);
}

static convcase conv2d(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m,
                       int64_t group, int64_t k, int64_t s, int64_t d,
                       int64_t p, int bias)
{
    convcase cc;
    memset(&cc, 0, sizeof cc);
    cc.nsp = 2;
    cc.n = n; cc.c = c; cc.m = m; cc.group = group; cc.bias = bias;
    cc.in[0] = h; cc.in[1] = w;
    for (int i = 0; i < 2; i++) {
        cc.k[i] = k; cc.s[i] = s; cc.d[i] = d; cc.p0[i] = cc.p1[i] = p;
    }
    return cc;
}

START_TEST(test_conv_fixed)
{
    /* The model-zoo shapes in miniature: each path and its edges. */
    convcase cs[] = {
        conv2d(1, 3, 13, 13, 4, 1, 7, 2, 1, 3, 1),  /* ResNet stem */
        conv2d(2, 5, 7, 7, 6, 1, 3, 1, 1, 1, 1),    /* im2col 3x3 */
        conv2d(1, 7, 13, 13, 5, 1, 1, 1, 1, 0, 1),  /* 1x1 direct GEMM */
        conv2d(2, 6, 7, 9, 4, 2, 1, 1, 1, 0, 0),    /* 1x1 grouped */
        conv2d(1, 7, 13, 13, 5, 1, 1, 2, 1, 0, 0),  /* 1x1 stride 2 */
        conv2d(1, 6, 13, 13, 6, 2, 3, 1, 1, 1, 1),  /* grouped 3x3 */
        conv2d(2, 8, 13, 13, 8, 8, 3, 1, 1, 1, 1),  /* depthwise 3x3 s1 */
        conv2d(1, 8, 13, 13, 8, 8, 3, 2, 1, 1, 1),  /* depthwise 3x3 s2 */
        conv2d(1, 5, 13, 13, 5, 5, 5, 1, 1, 2, 1),  /* depthwise 5x5 s1 */
        conv2d(1, 5, 13, 13, 5, 5, 5, 2, 1, 2, 0),  /* depthwise 5x5 s2 */
        conv2d(1, 3, 13, 13, 3, 3, 7, 1, 1, 3, 1),  /* depthwise 7x7 */
        conv2d(1, 3, 13, 13, 3, 3, 3, 1, 2, 2, 1),  /* depthwise dil 2 */
        conv2d(1, 4, 5, 5, 4, 4, 5, 1, 1, 2, 1),    /* dw: no interior */
        conv2d(1, 3, 7, 7, 3, 3, 3, 2, 1, 0, 1),    /* dw: no padding */
        conv2d(1, 3, 7, 7, 6, 3, 3, 1, 1, 1, 1),    /* dw multiplier 2 */
        conv2d(1, 5, 13, 13, 4, 1, 3, 1, 2, 2, 1),  /* dilation 2 */
        conv2d(1, 3, 1, 1, 4, 1, 3, 1, 1, 1, 1),    /* 1x1 input, pad 1 */
        conv2d(1, 3, 1, 1, 4, 1, 1, 1, 1, 0, 1),    /* 1x1 input, 1x1 */
        conv2d(1, 512, 40, 40, 4, 1, 3, 1, 1, 1, 1),/* two column tiles */
        conv2d(1, 1024, 40, 40, 4, 2, 3, 1, 1, 1, 0),/* tiles, groups */
        conv2d(1, 4, 13, 13, 66, 2, 3, 1, 1, 1, 1), /* sgemm per group */
        conv2d(2, 16, 17, 19, 24, 8, 3, 1, 1, 1, 1),/* small groups, tail */
        conv2d(1, 8, 23, 25, 24, 2, 3, 2, 1, 1, 1), /* 12 = 8 + 4 per group */
        conv2d(1, 64, 20, 20, 64, 8, 3, 1, 1, 1, 1),/* RegNet-like g8 */
        conv2d(1, 64, 7, 7, 64, 8, 3, 1, 1, 1, 1),  /* flat, tails */
        conv2d(1, 64, 20, 20, 64, 8, 3, 2, 1, 1, 0),/* grouped s2 */
        conv2d(1, 16, 13, 13, 16, 8, 3, 1, 2, 2, 1),/* grouped dilated */
        conv2d(1, 16, 9, 9, 16, 8, 1, 1, 1, 0, 1),  /* grouped 1x1 */
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        conv_check(&cs[i], 1, g_pool);
        conv_check(&cs[i], 0, NULL);
    }
}
END_TEST

START_TEST(test_conv_pads_autopad)
{
    /* Asymmetric pads (TF-style exports) and auto_pad modes. */
    convcase c = conv2d(1, 3, 8, 9, 4, 1, 3, 2, 1, 0, 1);
    c.p0[0] = 0; c.p1[0] = 1; c.p0[1] = 1; c.p1[1] = 0;
    conv_check(&c, 1, g_pool);
    c = conv2d(1, 4, 8, 9, 4, 4, 3, 2, 1, 0, 1);       /* depthwise asym */
    c.p0[0] = 0; c.p1[0] = 1; c.p0[1] = 1; c.p1[1] = 0;
    conv_check(&c, 1, g_pool);
    c = conv2d(1, 4, 9, 9, 4, 4, 5, 1, 1, 0, 1);
    c.p0[0] = 3; c.p1[0] = 1; c.p0[1] = 0; c.p1[1] = 4;
    conv_check(&c, 1, g_pool);
    c = conv2d(2, 3, 10, 11, 3, 3, 5, 2, 1, 0, 1);     /* dw 5x5 s2 asym */
    c.p0[0] = 2; c.p1[0] = 1; c.p0[1] = 1; c.p1[1] = 2;
    conv_check(&c, 1, g_pool);
    c = conv2d(1, 3, 9, 8, 3, 3, 5, 2, 1, 0, 0);
    c.p0[0] = 0; c.p1[0] = 0; c.p0[1] = 2; c.p1[1] = 0;
    conv_check(&c, 0, NULL);
    c = conv2d(1, 16, 11, 9, 24, 8, 3, 1, 1, 0, 1);    /* grouped asym */
    c.p0[0] = 1; c.p1[0] = 0; c.p0[1] = 0; c.p1[1] = 2;
    conv_check(&c, 1, g_pool);
    c = conv2d(1, 16, 11, 9, 16, 4, 3, 2, 1, 0, 1);
    c.p0[0] = 0; c.p1[0] = 1; c.p0[1] = 1; c.p1[1] = 1;
    conv_check(&c, 1, g_pool);
    {
        const char *modes[] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
        for (int mi = 0; mi < 3; mi++)
            for (int64_t s = 1; s <= 2; s++)
                for (int64_t g = 1; g <= 3; g += 2) {
                    c = conv2d(1, 3, 8, 7, 3, g, 4, s, 1, 0, 1);
                    c.auto_pad = modes[mi];
                    conv_check(&c, 1, g_pool);
                }
    }
}
END_TEST

START_TEST(test_conv_1d_3d)
{
    convcase c;
    memset(&c, 0, sizeof c);
    c.nsp = 1; c.n = 2; c.c = 5; c.m = 3; c.group = 1; c.bias = 1;
    c.in[0] = 17; c.k[0] = 3; c.s[0] = 2; c.d[0] = 2; c.p0[0] = 1;
    c.p1[0] = 2;
    conv_check(&c, 1, g_pool);
    c.group = 5; c.m = 5;                               /* depthwise 1-D */
    conv_check(&c, 1, g_pool);
    c.k[0] = 1; c.s[0] = 1; c.p0[0] = c.p1[0] = 0; c.group = 1;  /* 1x1 */
    conv_check(&c, 1, g_pool);
    memset(&c, 0, sizeof c);
    c.nsp = 3; c.n = 1; c.c = 3; c.m = 4; c.group = 1; c.bias = 1;
    for (int i = 0; i < 3; i++) {
        c.in[i] = 5 + i; c.k[i] = 3 - (i == 2); c.s[i] = 1 + (i == 1);
        c.d[i] = 1; c.p0[i] = 1; c.p1[i] = i == 0;
    }
    conv_check(&c, 1, g_pool);
}
END_TEST

START_TEST(test_conv_large)
{
    /* Inputs whose padded copy would exceed the kernel's bound (4M
     * floats) take the bounds-checked fallbacks: im2col (grouped and
     * not) and depthwise. */
    convcase c = conv2d(1, 2, 1500, 1500, 2, 1, 3, 2, 1, 1, 1);
    conv_check(&c, 1, g_pool);
    c = conv2d(1, 2, 1450, 1450, 4, 2, 3, 2, 1, 1, 0);
    conv_check(&c, 1, g_pool);
    c = conv2d(1, 1, 2100, 2100, 1, 1, 3, 1, 1, 1, 1);
    conv_check(&c, 1, g_pool);
}
END_TEST

START_TEST(test_conv_random)
{
    static const int64_t cs[] = {1, 2, 3, 5, 7, 8};
    static const int64_t hs[] = {1, 2, 5, 7, 13, 16};
    static const int64_t ks[] = {1, 3, 5, 7};
    int done_n = 0;
    while (done_n < 150) {
        convcase c;
        int64_t kind = rnd(0, 3), p0, p1;
        int ok = 1;
        memset(&c, 0, sizeof c);
        c.nsp = 2;
        c.n = rnd(1, 2);
        c.c = cs[rnd(0, 5)];
        c.m = cs[rnd(0, 5)];
        c.group = 1;
        if (kind == 1) {                    /* depthwise */
            c.m = c.c;
            c.group = c.c;
        } else if (kind == 2 && c.c % 2 == 0 && c.m % 2 == 0) {
            c.group = 2;
        }
        c.bias = (int)rnd(0, 1);
        for (int i = 0; i < 2; i++) {
            c.in[i] = hs[rnd(0, 5)];
            c.k[i] = ks[rnd(0, 3)];
            c.s[i] = rnd(1, 2);
            c.d[i] = rnd(0, 3) == 0 ? 2 : 1;
            c.p0[i] = rnd(0, c.k[i] / 2 + 1);
            c.p1[i] = rnd(0, 1) ? c.p0[i] : rnd(0, c.k[i] / 2 + 1);
        }
        if (rnd(0, 4) == 0) {               /* square, as torch emits */
            c.in[1] = c.in[0];
            c.k[1] = c.k[0];
        }
        for (int i = 0; i < 2; i++)
            if (ref_out_dim(&c, i, 0, &p0, &p1) < 1)
                ok = 0;
        if (!ok)
            continue;
        conv_check(&c, (int)rnd(0, 1), rnd(0, 3) ? g_pool : NULL);
        done_n++;
    }
}
END_TEST

START_TEST(test_conv_errors)
{
    lg_tensor *ins[3];
    attrs A;
    onenode o;
    /* Channel mismatch names the node and both counts. */
    ins[0] = rand_tensor(SHP(4, 1, 3, 8, 8), 1);
    ins[1] = rand_tensor(SHP(4, 4, 4, 3, 3), 1);
    ins[2] = NULL;
    A.n = 0;
    snprintf(g_case, sizeof g_case, "Conv channel mismatch");
    o = build("Conv", "conv1", 13, 2, ins, 2u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "conv1", "input has 3 channels, weight "
               "expects 4");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[1]);
    /* Group that does not divide the output channels. */
    ins[1] = rand_tensor(SHP(4, 5, 1, 3, 3), 1);
    at_int(&A, "group", 3);
    snprintf(g_case, sizeof g_case, "Conv bad group");
    o = build("Conv", "conv_g", 13, 2, ins, 2u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "conv_g", "divisible");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[1]);
    /* Bias of the wrong length. */
    ins[1] = rand_tensor(SHP(4, 4, 3, 3, 3), 1);
    ins[2] = rand_tensor(SHP(1, 5), 1);
    snprintf(g_case, sizeof g_case, "Conv bad bias");
    o = build("Conv", "conv_b", 13, 3, ins, 6u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "conv_b", "bias");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[2]);
    ins[2] = NULL;
    /* Kernel larger than the padded input. */
    lg_tensor_unref(ins[1]);
    ins[1] = rand_tensor(SHP(4, 4, 3, 11, 11), 1);
    snprintf(g_case, sizeof g_case, "Conv kernel too large");
    o = build("Conv", "conv_k", 13, 2, ins, 2u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "conv_k", "larger than the padded input");
    done(&o, NULL, 0);
    /* Wrong pads count. */
    lg_tensor_unref(ins[1]);
    ins[1] = rand_tensor(SHP(4, 4, 3, 3, 3), 1);
    {
        int64_t pads[3] = {1, 1, 1};
        at_ints(&A, "pads", 3, pads);
    }
    snprintf(g_case, sizeof g_case, "Conv bad pads");
    o = build("Conv", "conv_p", 13, 2, ins, 2u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "conv_p", "pads");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[0]);
    /* Non-float input is unsupported, named. */
    {
        lg_shape s = SHP(4, 1, 3, 8, 8);
        ins[0] = lg_tensor_new(LG_I64, &s);
    }
    snprintf(g_case, sizeof g_case, "Conv int64");
    o = build("Conv", "conv_i", 13, 2, ins, 2u, 1, 0, &A);
    expect_err(&o, LG_EUNSUP, "conv_i", "float32");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[0]);
    lg_tensor_unref(ins[1]);
}
END_TEST

/* ============================================================ MatMul */

static void ref_matmul(const lg_tensor *a, const lg_tensor *b,
                       const lg_shape *ys, double *y)
{
    /* Promote to >= 2-D, broadcast batch dims by index arithmetic. */
    int ra = a->shape.rank, rb = b->shape.rank;
    int64_t m = ra >= 2 ? a->shape.d[ra - 2] : 1, k = a->shape.d[ra - 1];
    int64_t n = rb >= 2 ? b->shape.d[rb - 1] : 1;
    int nb = ys->rank - (ra >= 2) - (rb >= 2);
    int64_t batch = 1;
    for (int i = 0; i < nb; i++)
        batch *= ys->d[i];
    for (int64_t t = 0; t < batch; t++) {
        int64_t idx[LG_MAX_RANK], r = t, ao = 0, bo = 0, sa = 1, sb = 1;
        for (int i = nb - 1; i >= 0; i--) {
            idx[i] = r % ys->d[i];
            r /= ys->d[i];
        }
        for (int i = nb - 1; i >= 0; i--) {
            int ia = i - (nb - (ra - 2)), ib = i - (nb - (rb - 2));
            if (ra > 2 && ia >= 0) {
                ao += (a->shape.d[ia] == 1 ? 0 : idx[i]) * sa;
                sa *= a->shape.d[ia];
            }
            if (rb > 2 && ib >= 0) {
                bo += (b->shape.d[ib] == 1 ? 0 : idx[i]) * sb;
                sb *= b->shape.d[ib];
            }
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                for (int64_t kk = 0; kk < k; kk++)
                    acc += (double)((const float *)a->data)[ao * m * k +
                                                             i * k + kk] *
                           ((const float *)b->data)[bo * k * n + kk * n + j];
                y[t * m * n + i * n + j] = acc;
            }
    }
}

static void matmul_case(lg_shape as, lg_shape bs, lg_shape want, int bconst)
{
    lg_tensor *ins[2] = {rand_tensor(as, 1), rand_tensor(bs, 1)}, *outs[1];
    onenode o;
    double *ref;
    int64_t cnt;
    snprintf(g_case, sizeof g_case, "MatMul %s x %s", sstr(&as), sstr(&bs));
    o = build("MatMul", "mm", 13, 2, ins, bconst ? 2u : 0u, 1, 0, NULL);
    ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
    expect_shape(&o, 0, want);
    lg_shape_numel(&want, &cnt);
    {
        uint64_t k = (uint64_t)as.d[as.rank - 1];
        ck_assert_msg(o.g->nodes[0].flops == 2 * (uint64_t)cnt * k,
                      "%s: flops", g_case);
    }
    ck_assert_msg(run_kernel(&o, outs, g_pool, 1) == 0, "%s: %s", g_case,
                  o.err);
    ref = malloc((size_t)(cnt ? cnt : 1) * sizeof *ref);
    ref_matmul(ins[0], ins[1], &want, ref);
    expect_close(outs[0], ref);
    free(ref);
    done(&o, outs, 1);
    lg_tensor_unref(ins[0]);
    lg_tensor_unref(ins[1]);
}

START_TEST(test_matmul)
{
    matmul_case(SHP(1, 7), SHP(1, 7), SHP0(), 0);               /* dot */
    matmul_case(SHP(1, 5), SHP(2, 5, 3), SHP(1, 3), 1);         /* vec-mat */
    matmul_case(SHP(2, 4, 5), SHP(1, 5), SHP(1, 4), 0);         /* mat-vec */
    matmul_case(SHP(2, 13, 7), SHP(2, 7, 9), SHP(2, 13, 9), 1);
    matmul_case(SHP(2, 1, 7), SHP(2, 7, 9), SHP(2, 1, 9), 0);   /* M = 1 */
    matmul_case(SHP(2, 9, 7), SHP(2, 7, 1), SHP(2, 9, 1), 0);   /* N = 1 */
    matmul_case(SHP(3, 2, 5, 3), SHP(2, 3, 4), SHP(3, 2, 5, 4), 1);
    matmul_case(SHP(3, 2, 5, 3), SHP(3, 2, 3, 4), SHP(3, 2, 5, 4), 0);
    matmul_case(SHP(4, 2, 1, 5, 3), SHP(3, 3, 3, 4), SHP(4, 2, 3, 5, 4), 0);
    matmul_case(SHP(2, 5, 3), SHP(3, 2, 3, 4), SHP(3, 2, 5, 4), 0);
    matmul_case(SHP(4, 1, 3, 5, 3), SHP(4, 2, 1, 3, 4),
                SHP(4, 2, 3, 5, 4), 0);
    matmul_case(SHP(3, 4, 1, 6), SHP(1, 6), SHP(2, 4, 1), 0);   /* batch vec */
    matmul_case(SHP(1, 6), SHP(4, 2, 3, 6, 5), SHP(3, 2, 3, 5), 0);
    matmul_case(SHP(3, 16, 1, 128), SHP(2, 128, 384),
                SHP(3, 16, 1, 384), 1);                         /* Linear */
    matmul_case(SHP(3, 4, 16, 32), SHP(3, 4, 32, 16),
                SHP(3, 4, 16, 16), 0);                          /* attention */
    matmul_case(SHP(2, 3, 0), SHP(2, 0, 4), SHP(2, 3, 4), 0);   /* K = 0 */
    for (int i = 0; i < 30; i++) {
        int64_t m = rnd(1, 17), k = rnd(1, 33), n = rnd(1, 19);
        int64_t b1 = rnd(1, 3), b2 = rnd(1, 3);
        int64_t ba = rnd(0, 1) ? b1 : 1, bb = rnd(0, 1) ? b1 : 1;
        matmul_case(SHP(4, ba, b2, m, k), SHP(3, b2, k, n),
                    SHP(4, ba, b2, m, n), (int)rnd(0, 1));
        matmul_case(SHP(3, ba, m, k), SHP(3, bb, k, n),
                    SHP(3, ba > bb ? ba : bb, m, n), 0);
    }
}
END_TEST

START_TEST(test_matmul_errors)
{
    lg_tensor *ins[2] = {rand_tensor(SHP(2, 2, 3), 1),
                         rand_tensor(SHP(2, 4, 5), 1)};
    onenode o;
    snprintf(g_case, sizeof g_case, "MatMul K mismatch");
    o = build("MatMul", "mm_bad", 13, 2, ins, 2u, 1, 0, NULL);
    expect_err(&o, LG_EMODEL, "mm_bad", "K=3");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[0]);
    lg_tensor_unref(ins[1]);
    ins[0] = rand_tensor(SHP(3, 2, 2, 3), 1);
    ins[1] = rand_tensor(SHP(3, 3, 3, 5), 1);
    snprintf(g_case, sizeof g_case, "MatMul batch mismatch");
    o = build("MatMul", "mm_batch", 13, 2, ins, 0u, 1, 0, NULL);
    expect_err(&o, LG_EMODEL, "mm_batch", "broadcast");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[0]);
    lg_tensor_unref(ins[1]);
}
END_TEST

/* ============================================================== Gemm */

static void gemm_case(int64_t m, int64_t k, int64_t n, int ta, int tb,
                      float alpha, float beta, int crank, int64_t c0,
                      int64_t c1)
{
    lg_tensor *ins[3], *outs[1];
    attrs A;
    onenode o;
    double *ref;
    lg_shape cs = SHP0();
    snprintf(g_case, sizeof g_case, "Gemm m%lld k%lld n%lld tA%d tB%d "
             "alpha %g beta %g C rank %d [%lld,%lld]", (long long)m,
             (long long)k, (long long)n, ta, tb, alpha, beta, crank,
             (long long)c0, (long long)c1);
    ins[0] = rand_tensor(ta ? SHP(2, k, m) : SHP(2, m, k), 1);
    ins[1] = rand_tensor(tb ? SHP(2, n, k) : SHP(2, k, n), 1);
    if (crank == 1)
        cs = SHP(1, c1);
    else if (crank == 2)
        cs = SHP(2, c0, c1);
    ins[2] = crank >= 0 ? rand_tensor(cs, 1) : NULL;
    A.n = 0;
    if (ta)
        at_int(&A, "transA", 1);
    if (tb)
        at_int(&A, "transB", 1);
    if (alpha != 1.0f)
        at_float(&A, "alpha", alpha);
    if (beta != 1.0f)
        at_float(&A, "beta", beta);
    o = build("Gemm", "fc", 13, ins[2] ? 3 : 2, ins, 6u, 1, 0, &A);
    ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
    expect_shape(&o, 0, SHP(2, m, n));
    ck_assert_int_eq(o.g->nodes[0].flops,
                     2 * (uint64_t)(m * n * k) + (ins[2] ? (uint64_t)(m * n)
                                                  : 0));
    ck_assert_msg(run_kernel(&o, outs, g_pool, 1) == 0, "%s: %s", g_case,
                  o.err);
    ref = malloc((size_t)(m * n + 1) * sizeof *ref);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const float *a = ins[0]->data, *b = ins[1]->data;
            double acc = 0, c = 0;
            for (int64_t kk = 0; kk < k; kk++)
                acc += (double)(ta ? a[kk * m + i] : a[i * k + kk]) *
                       (tb ? b[j * k + kk] : b[kk * n + j]);
            if (ins[2]) {
                const float *cp = ins[2]->data;
                if (crank == 0)
                    c = cp[0];
                else if (crank == 1)
                    c = cp[c1 == 1 ? 0 : j];
                else
                    c = cp[(c0 == 1 ? 0 : i) * c1 + (c1 == 1 ? 0 : j)];
            }
            ref[i * n + j] = alpha * acc + beta * c;
        }
    expect_close(outs[0], ref);
    free(ref);
    done(&o, outs, 1);
    for (int i = 0; i < 3; i++)
        lg_tensor_unref(ins[i]);
}

START_TEST(test_gemm)
{
    gemm_case(1, 512, 10, 0, 1, 1, 1, 1, 0, 10);    /* classifier, M = 1 */
    gemm_case(3, 7, 5, 0, 0, 1, 1, -1, 0, 0);       /* no C */
    gemm_case(3, 7, 5, 1, 0, 0.5f, 2, 2, 3, 5);
    gemm_case(3, 7, 5, 0, 1, 1, 0.25f, 2, 3, 1);
    gemm_case(3, 7, 5, 1, 1, -1, 1, 2, 1, 5);
    gemm_case(3, 7, 5, 1, 1, 1, 1, 1, 0, 1);
    gemm_case(4, 9, 1, 0, 0, 1, 1, 0, 0, 0);        /* N = 1, scalar C */
    gemm_case(1, 9, 6, 1, 0, 2, 0, 1, 0, 6);        /* beta 0 ignores C */
    gemm_case(1, 9, 6, 1, 1, 1, 1, 2, 1, 6);        /* M = 1, transposes */
    for (int i = 0; i < 20; i++) {
        int64_t m = rnd(1, 20), k = rnd(1, 40), n = rnd(1, 20);
        int cr = (int)rnd(-1, 2);
        gemm_case(m, k, n, (int)rnd(0, 1), (int)rnd(0, 1), 1.5f, 0.5f, cr,
                  rnd(0, 1) ? m : 1, rnd(0, 1) ? n : 1);
    }
}
END_TEST

START_TEST(test_gemm_errors)
{
    lg_tensor *ins[3] = {rand_tensor(SHP(2, 2, 3), 1),
                         rand_tensor(SHP(2, 4, 5), 1), NULL};
    attrs A;
    onenode o;
    A.n = 0;
    snprintf(g_case, sizeof g_case, "Gemm K mismatch");
    o = build("Gemm", "fc_bad", 13, 2, ins, 2u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "fc_bad", "K=3");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[1]);
    ins[1] = rand_tensor(SHP(2, 3, 5), 1);
    ins[2] = rand_tensor(SHP(1, 4), 1);
    snprintf(g_case, sizeof g_case, "Gemm bad C");
    o = build("Gemm", "fc_c", 13, 3, ins, 6u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "fc_c", "C");
    done(&o, NULL, 0);
    for (int i = 0; i < 3; i++)
        lg_tensor_unref(ins[i]);
}
END_TEST

/* ============================================================= pools */

typedef struct poolcase {
    int nsp, max, ceil_mode, include_pad;
    int64_t n, c;
    int64_t in[3], k[3], s[3], d[3], p0[3], p1[3];
    const char *auto_pad;
} poolcase;

static void pool_check(const poolcase *pc, lg_pool *pool)
{
    convcase geo;               /* reuse ref_out_dim */
    int64_t xs[5], ys[5], out[3], p0[3], p1[3], in3[3], k3[3], s3[3], d3[3];
    int64_t o3[3], q0[3], q1[3], ynum = 1;
    int r = pc->nsp + 2;
    lg_tensor *ins[1], *outs[2];
    attrs A;
    onenode o;
    double *ref;

    memset(&geo, 0, sizeof geo);
    geo.nsp = pc->nsp;
    geo.auto_pad = pc->auto_pad;
    memcpy(geo.in, pc->in, sizeof geo.in);
    memcpy(geo.k, pc->k, sizeof geo.k);
    memcpy(geo.s, pc->s, sizeof geo.s);
    memcpy(geo.d, pc->d, sizeof geo.d);
    memcpy(geo.p0, pc->p0, sizeof geo.p0);
    memcpy(geo.p1, pc->p1, sizeof geo.p1);
    {
        int off = snprintf(g_case, sizeof g_case, "%s ceil=%d incl=%d %s",
                           pc->max ? "MaxPool" : "AveragePool",
                           pc->ceil_mode, pc->include_pad,
                           pc->auto_pad ? pc->auto_pad : "");
        for (int i = 0; i < pc->nsp; i++)
            off += snprintf(g_case + off, sizeof g_case - (size_t)off,
                            " | in%lld k%lld s%lld d%lld p%lld,%lld",
                            (long long)pc->in[i], (long long)pc->k[i],
                            (long long)pc->s[i], (long long)pc->d[i],
                            (long long)pc->p0[i], (long long)pc->p1[i]);
    }
    xs[0] = ys[0] = pc->n;
    xs[1] = ys[1] = pc->c;
    for (int i = 0; i < pc->nsp; i++) {
        xs[2 + i] = pc->in[i];
        out[i] = ref_out_dim(&geo, i, pc->ceil_mode, &p0[i], &p1[i]);
        ck_assert_msg(out[i] >= 1, "%s: bad case", g_case);
        ys[2 + i] = out[i];
    }
    for (int i = 0; i < r; i++)
        ynum *= ys[i];
    ins[0] = rand_tensor(shpv(r, xs), 1);
    A.n = 0;
    at_ints(&A, "kernel_shape", pc->nsp, pc->k);
    at_ints(&A, "strides", pc->nsp, pc->s);
    if (pc->d[0] != 1 || pc->d[1] != 1 || pc->d[2] != 1 || rng() % 2)
        at_ints(&A, "dilations", pc->nsp, pc->d);
    if (pc->ceil_mode)
        at_int(&A, "ceil_mode", 1);
    if (!pc->max)
        at_int(&A, "count_include_pad", pc->include_pad);
    if (pc->auto_pad) {
        at_str(&A, "auto_pad", pc->auto_pad);
    } else {
        int64_t pads[6];
        for (int i = 0; i < pc->nsp; i++) {
            pads[i] = pc->p0[i];
            pads[pc->nsp + i] = pc->p1[i];
        }
        at_ints(&A, "pads", 2 * pc->nsp, pads);
    }
    o = build(pc->max ? "MaxPool" : "AveragePool", "pool_t", 13, 1, ins, 0u,
              1, 0, &A);
    ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
    expect_shape(&o, 0, shpv(r, ys));
    ck_assert_msg(run_kernel(&o, outs, pool, 1) == 0, "%s: %s", g_case,
                  o.err);
    /* Reference (PyTorch semantics): max over in-bounds taps; average
     * divides by in-bounds taps, or with count_include_pad by the taps
     * inside the padded input [-pad0, in + pad1). */
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - pc->nsp);
        in3[i] = j >= 0 ? pc->in[j] : 1;
        k3[i] = j >= 0 ? pc->k[j] : 1;
        s3[i] = j >= 0 ? pc->s[j] : 1;
        d3[i] = j >= 0 ? pc->d[j] : 1;
        o3[i] = j >= 0 ? out[j] : 1;
        q0[i] = j >= 0 ? p0[j] : 0;
        q1[i] = j >= 0 ? p1[j] : 0;
    }
    ref = malloc((size_t)ynum * sizeof *ref);
    for (int64_t pl = 0; pl < pc->n * pc->c; pl++) {
        const float *x = (const float *)ins[0]->data +
                         pl * in3[0] * in3[1] * in3[2];
        for (int64_t a = 0; a < o3[0]; a++)
            for (int64_t b = 0; b < o3[1]; b++)
                for (int64_t c = 0; c < o3[2]; c++) {
                    double acc = pc->max ? -INFINITY : 0;
                    int64_t cnt = 0, cntp = 0;
                    for (int64_t ka = 0; ka < k3[0]; ka++)
                        for (int64_t kb = 0; kb < k3[1]; kb++)
                            for (int64_t kc = 0; kc < k3[2]; kc++) {
                                int64_t ia = a * s3[0] - q0[0] + ka * d3[0];
                                int64_t ib = b * s3[1] - q0[1] + kb * d3[1];
                                int64_t ic = c * s3[2] - q0[2] + kc * d3[2];
                                if (ia >= -q0[0] && ia < in3[0] + q1[0] &&
                                    ib >= -q0[1] && ib < in3[1] + q1[1] &&
                                    ic >= -q0[2] && ic < in3[2] + q1[2])
                                    cntp++;
                                if (ia < 0 || ia >= in3[0] || ib < 0 ||
                                    ib >= in3[1] || ic < 0 || ic >= in3[2])
                                    continue;
                                {
                                    double v =
                                        x[(ia * in3[1] + ib) * in3[2] + ic];
                                    cnt++;
                                    if (pc->max)
                                        acc = v > acc ? v : acc;
                                    else
                                        acc += v;
                                }
                            }
                    if (!pc->max)
                        acc /= (double)(pc->include_pad ? cntp : cnt);
                    ref[pl * o3[0] * o3[1] * o3[2] +
                        (a * o3[1] + b) * o3[2] + c] = acc;
                }
    }
    expect_close(outs[0], ref);
    free(ref);
    done(&o, outs, 1);
    lg_tensor_unref(ins[0]);
}

static poolcase pool2d(int max, int64_t h, int64_t k, int64_t s, int64_t p,
                       int ceil_mode, int incl)
{
    poolcase pc;
    memset(&pc, 0, sizeof pc);
    pc.nsp = 2;
    pc.max = max;
    pc.ceil_mode = ceil_mode;
    pc.include_pad = incl;
    pc.n = 2;
    pc.c = 3;
    for (int i = 0; i < 2; i++) {
        pc.in[i] = h + i;
        pc.k[i] = k;
        pc.s[i] = s;
        pc.d[i] = 1;
        pc.p0[i] = pc.p1[i] = p;
    }
    return pc;
}

START_TEST(test_pools)
{
    for (int max = 0; max <= 1; max++) {
        poolcase pc;
        pc = pool2d(max, 13, 3, 2, 1, 0, 0);       /* ResNet stem pool */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 13, 3, 2, 0, 1, 0);       /* GoogLeNet ceil */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 14, 3, 2, 0, 1, 0);
        pool_check(&pc, NULL);
        pc = pool2d(max, 7, 2, 2, 1, 1, 1);        /* ceil + pad + incl */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 7, 3, 2, 1, 1, 0);        /* ceil + pad */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 6, 3, 3, 1, 1, 1);        /* last window clipped */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 5, 3, 1, 1, 0, 1);        /* AvgPool incl pad */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 1, 1, 1, 0, 0, 0);        /* 1x1 */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 9, 3, 2, 1, 0, 1);
        pc.d[0] = pc.d[1] = 2;                     /* dilation */
        pool_check(&pc, g_pool);
        pc = pool2d(max, 9, 2, 2, 0, 0, 0);
        pc.p0[0] = 0; pc.p1[0] = 1; pc.p0[1] = 1; pc.p1[1] = 0;
        pool_check(&pc, g_pool);
        pc = pool2d(max, 8, 3, 2, 0, 0, 0);
        pc.auto_pad = "SAME_UPPER";
        pool_check(&pc, g_pool);
        pc.auto_pad = "SAME_LOWER";
        pool_check(&pc, g_pool);
        pc.auto_pad = "VALID";
        pool_check(&pc, g_pool);
        /* 1-D and 3-D */
        memset(&pc, 0, sizeof pc);
        pc.nsp = 1; pc.max = max; pc.n = 2; pc.c = 3; pc.in[0] = 11;
        pc.k[0] = 3; pc.s[0] = 2; pc.d[0] = 1; pc.p0[0] = 1; pc.p1[0] = 1;
        pc.ceil_mode = 1; pc.include_pad = 1;
        pool_check(&pc, g_pool);
        memset(&pc, 0, sizeof pc);
        pc.nsp = 3; pc.max = max; pc.n = 1; pc.c = 2;
        for (int i = 0; i < 3; i++) {
            pc.in[i] = 5 + i; pc.k[i] = 2 + (i == 1); pc.s[i] = 2;
            pc.d[i] = 1; pc.p0[i] = i == 2; pc.p1[i] = 0;
        }
        pool_check(&pc, g_pool);
        /* random 2-D */
        for (int i = 0; i < 60; i++) {
            convcase geo;
            int64_t a, b;
            int ok = 1;
            memset(&pc, 0, sizeof pc);
            pc.nsp = 2; pc.max = max; pc.n = rnd(1, 2); pc.c = rnd(1, 5);
            pc.ceil_mode = (int)rnd(0, 1); pc.include_pad = (int)rnd(0, 1);
            for (int j = 0; j < 2; j++) {
                pc.in[j] = rnd(1, 15); pc.k[j] = rnd(1, 5);
                pc.s[j] = rnd(1, 3); pc.d[j] = rnd(0, 4) ? 1 : 2;
                pc.p0[j] = rnd(0, (pc.k[j] - 1) / 2);
                pc.p1[j] = rnd(0, (pc.k[j] - 1) / 2);
            }
            memset(&geo, 0, sizeof geo);
            geo.nsp = 2;
            memcpy(geo.in, pc.in, sizeof geo.in);
            memcpy(geo.k, pc.k, sizeof geo.k);
            memcpy(geo.s, pc.s, sizeof geo.s);
            memcpy(geo.d, pc.d, sizeof geo.d);
            memcpy(geo.p0, pc.p0, sizeof geo.p0);
            memcpy(geo.p1, pc.p1, sizeof geo.p1);
            for (int j = 0; j < 2; j++)
                if (ref_out_dim(&geo, j, pc.ceil_mode, &a, &b) < 1)
                    ok = 0;
            if (ok)
                pool_check(&pc, rnd(0, 2) ? g_pool : NULL);
        }
    }
}
END_TEST

START_TEST(test_pool_errors)
{
    lg_tensor *ins[1] = {rand_tensor(SHP(4, 1, 2, 8, 8), 1)}, *outs[2];
    attrs A;
    onenode o;
    int64_t k[2] = {3, 3}, k9[2] = {9, 9};
    (void)outs;
    A.n = 0;
    at_ints(&A, "kernel_shape", 2, k);
    snprintf(g_case, sizeof g_case, "MaxPool Indices");
    o = build("MaxPool", "mp_idx", 13, 1, ins, 0u, 2, 0, &A);
    expect_err(&o, LG_EUNSUP, "mp_idx", "Indices");
    done(&o, NULL, 0);
    at_ints(&A, "kernel_shape", 2, k9);
    snprintf(g_case, sizeof g_case, "MaxPool kernel too large");
    o = build("MaxPool", "mp_big", 13, 1, ins, 0u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "mp_big", "larger");
    done(&o, NULL, 0);
    snprintf(g_case, sizeof g_case, "AveragePool no kernel_shape");
    o = build("AveragePool", "ap_nok", 13, 1, ins, 0u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "ap_nok", "kernel_shape");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[0]);
}
END_TEST

START_TEST(test_global_pools)
{
    lg_shape shapes[] = {SHP(4, 2, 3, 5, 7), SHP(4, 1, 4, 1, 1),
                         SHP(5, 1, 2, 3, 4, 5), SHP(3, 2, 3, 1000),
                         SHP(4, 1, 64, 7, 7)};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int max = 0; max <= 1; max++) {
            lg_tensor *ins[1] = {rand_tensor(shapes[si], 1)}, *outs[1];
            lg_shape os = shapes[si];
            onenode o;
            int64_t planes = os.d[0] * os.d[1], sz;
            double *ref;
            snprintf(g_case, sizeof g_case, "Global%sPool %s",
                     max ? "Max" : "Average", sstr(&shapes[si]));
            for (int i = 2; i < os.rank; i++)
                os.d[i] = 1;
            o = build(max ? "GlobalMaxPool" : "GlobalAveragePool", "gp", 13,
                      1, ins, 0u, 1, 0, NULL);
            ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
            expect_shape(&o, 0, os);
            ck_assert_int_eq(run_kernel(&o, outs, g_pool, 1), 0);
            sz = lg_tensor_numel(ins[0]) / planes;
            ref = malloc((size_t)planes * sizeof *ref);
            for (int64_t p = 0; p < planes; p++) {
                const float *x = (const float *)ins[0]->data + p * sz;
                double acc = max ? -INFINITY : 0;
                for (int64_t i = 0; i < sz; i++)
                    acc = max ? (x[i] > acc ? x[i] : acc) : acc + x[i];
                ref[p] = max ? acc : acc / (double)sz;
            }
            expect_close(outs[0], ref);
            free(ref);
            done(&o, outs, 1);
            lg_tensor_unref(ins[0]);
        }
}
END_TEST

/* ===================================================== normalizations */

START_TEST(test_batchnorm)
{
    lg_shape shapes[] = {SHP(4, 2, 3, 5, 7), SHP(2, 4, 6), SHP(3, 2, 5, 9),
                         SHP(4, 1, 32, 1, 1)};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t c = shapes[si].d[1], sz;
        lg_tensor *ins[5], *outs[1];
        attrs A;
        onenode o;
        double *ref;
        float eps = si % 2 ? 1e-3f : 1e-5f;
        snprintf(g_case, sizeof g_case, "BatchNormalization %s",
                 sstr(&shapes[si]));
        ins[0] = rand_tensor(shapes[si], 2);
        for (int i = 1; i < 5; i++)
            ins[i] = rand_tensor(SHP(1, c), 1);
        for (int64_t i = 0; i < c; i++)   /* variance > 0 */
            ((float *)ins[4]->data)[i] = fabsf(((float *)ins[4]->data)[i]) +
                                         0.1f;
        A.n = 0;
        at_float(&A, "epsilon", eps);
        o = build("BatchNormalization", "bn", 15, 5, ins, 30u, 1, 0, &A);
        ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
        expect_shape(&o, 0, shapes[si]);
        ck_assert_int_eq(run_kernel(&o, outs, g_pool, 1), 0);
        sz = lg_tensor_numel(ins[0]) / (shapes[si].d[0] * c);
        ref = malloc((size_t)lg_tensor_numel(ins[0]) * sizeof *ref);
        for (int64_t i = 0; i < lg_tensor_numel(ins[0]); i++) {
            int64_t ch = (i / sz) % c;
            const float *p[5];
            for (int j = 0; j < 5; j++)
                p[j] = ins[j]->data;
            ref[i] = ((double)p[0][i] - p[3][ch]) /
                     sqrt((double)p[4][ch] + eps) * p[1][ch] + p[2][ch];
        }
        expect_close(outs[0], ref);
        free(ref);
        done(&o, outs, 1);
        for (int i = 0; i < 5; i++)
            lg_tensor_unref(ins[i]);
    }
}
END_TEST

START_TEST(test_batchnorm_errors)
{
    lg_tensor *ins[5];
    attrs A;
    onenode o;
    ins[0] = rand_tensor(SHP(4, 1, 3, 4, 4), 1);
    for (int i = 1; i < 5; i++)
        ins[i] = rand_tensor(SHP(1, 3), 1);
    A.n = 0;
    at_int(&A, "training_mode", 1);
    snprintf(g_case, sizeof g_case, "BN training");
    o = build("BatchNormalization", "bn_train", 15, 5, ins, 30u, 1, 0, &A);
    expect_err(&o, LG_EUNSUP, "bn_train", "training_mode");
    done(&o, NULL, 0);
    snprintf(g_case, sizeof g_case, "BN running-mean output");
    o = build("BatchNormalization", "bn_out3", 15, 5, ins, 30u, 3, 0, &A);
    expect_err(&o, LG_EUNSUP, "bn_out3", NULL);
    done(&o, NULL, 0);
    lg_tensor_unref(ins[3]);
    ins[3] = rand_tensor(SHP(1, 4), 1);
    snprintf(g_case, sizeof g_case, "BN bad mean");
    o = build("BatchNormalization", "bn_mean", 15, 5, ins, 30u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "bn_mean", "mean");
    done(&o, NULL, 0);
    for (int i = 0; i < 5; i++)
        lg_tensor_unref(ins[i]);
}
END_TEST

START_TEST(test_instancenorm)
{
    lg_shape shapes[] = {SHP(4, 2, 3, 5, 7), SHP(3, 2, 4, 37),
                         SHP(5, 1, 2, 3, 4, 5)};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t c = shapes[si].d[1], planes = shapes[si].d[0] * c, sz;
        lg_tensor *ins[3], *outs[1];
        onenode o;
        double *ref;
        snprintf(g_case, sizeof g_case, "InstanceNormalization %s",
                 sstr(&shapes[si]));
        ins[0] = rand_tensor(shapes[si], 3);
        ins[1] = rand_tensor(SHP(1, c), 1);
        ins[2] = rand_tensor(SHP(1, c), 1);
        o = build("InstanceNormalization", "inorm", 13, 3, ins, 6u, 1, 0,
                  NULL);
        ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
        ck_assert_int_eq(run_kernel(&o, outs, g_pool, 1), 0);
        sz = lg_tensor_numel(ins[0]) / planes;
        ref = malloc((size_t)lg_tensor_numel(ins[0]) * sizeof *ref);
        for (int64_t p = 0; p < planes; p++) {
            const float *x = (const float *)ins[0]->data + p * sz;
            const float *s = ins[1]->data, *b = ins[2]->data;
            double mean = 0, var = 0;
            for (int64_t i = 0; i < sz; i++)
                mean += x[i];
            mean /= (double)sz;
            for (int64_t i = 0; i < sz; i++)
                var += (x[i] - mean) * (x[i] - mean);
            var /= (double)sz;
            for (int64_t i = 0; i < sz; i++)
                ref[p * sz + i] = (x[i] - mean) / sqrt(var + 1e-5) *
                                  s[p % c] + b[p % c];
        }
        expect_close(outs[0], ref);
        free(ref);
        done(&o, outs, 1);
        for (int i = 0; i < 3; i++)
            lg_tensor_unref(ins[i]);
    }
}
END_TEST

static void layernorm_case(lg_shape xs, int64_t axis, int bias,
                           int scale_scalar, int stats)
{
    int ax = (int)(axis < 0 ? axis + xs.rank : axis);
    int64_t rows = 1, d = 1;
    lg_shape ps, ms = xs;
    lg_tensor *ins[3], *outs[3];
    attrs A;
    onenode o;
    double *ref, *rmean, *rinv;
    snprintf(g_case, sizeof g_case, "LayerNormalization %s axis %lld "
             "bias %d scalar %d stats %d", sstr(&xs), (long long)axis, bias,
             scale_scalar, stats);
    for (int i = 0; i < ax; i++)
        rows *= xs.d[i];
    for (int i = ax; i < xs.rank; i++) {
        d *= xs.d[i];
        ms.d[i] = 1;
    }
    ps = shpv(xs.rank - ax, &xs.d[ax]);
    ins[0] = rand_tensor(xs, 3);
    for (int64_t i = 0; i < lg_tensor_numel(ins[0]); i++)
        ((float *)ins[0]->data)[i] += 5.0f;      /* non-zero mean */
    ins[1] = rand_tensor(scale_scalar ? SHP(1, 1) : ps, 1);
    ins[2] = bias ? rand_tensor(ps, 1) : NULL;
    A.n = 0;
    if (axis != -1)
        at_int(&A, "axis", axis);
    at_float(&A, "epsilon", 1e-5f);
    o = build("LayerNormalization", "ln", 17, bias ? 3 : 2, ins, 6u,
              stats ? 3 : 1, 0, &A);
    ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
    expect_shape(&o, 0, xs);
    if (stats) {
        expect_shape(&o, 1, ms);
        expect_shape(&o, 2, ms);
    }
    ck_assert_int_eq(run_kernel(&o, outs, g_pool, 1), 0);
    ref = malloc((size_t)(rows * d) * sizeof *ref);
    rmean = malloc((size_t)rows * sizeof *rmean);
    rinv = malloc((size_t)rows * sizeof *rinv);
    for (int64_t r = 0; r < rows; r++) {
        const float *x = (const float *)ins[0]->data + r * d;
        const float *s = ins[1]->data, *b = bias ? ins[2]->data : NULL;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < d; i++)
            mean += x[i];
        mean /= (double)d;
        for (int64_t i = 0; i < d; i++)
            var += (x[i] - mean) * (x[i] - mean);
        var /= (double)d;
        rmean[r] = mean;
        rinv[r] = 1.0 / sqrt(var + 1e-5);
        for (int64_t i = 0; i < d; i++)
            ref[r * d + i] = (x[i] - mean) * rinv[r] *
                             s[scale_scalar ? 0 : i] + (b ? b[i] : 0);
    }
    expect_close(outs[0], ref);
    if (stats) {
        expect_close(outs[1], rmean);
        expect_close(outs[2], rinv);
    }
    free(ref);
    free(rmean);
    free(rinv);
    done(&o, outs, stats ? 3 : 1);
    for (int i = 0; i < 3; i++)
        lg_tensor_unref(ins[i]);
}

START_TEST(test_layernorm)
{
    layernorm_case(SHP(3, 16, 1, 128), -1, 1, 0, 0);     /* transformer */
    layernorm_case(SHP(3, 2, 3, 37), -1, 0, 0, 0);
    layernorm_case(SHP(4, 2, 3, 4, 5), 1, 1, 0, 1);
    layernorm_case(SHP(4, 2, 3, 4, 5), -2, 1, 1, 0);
    layernorm_case(SHP(2, 5, 1), -1, 1, 0, 1);          /* D = 1 */
    layernorm_case(SHP(1, 100), 0, 1, 0, 1);
}
END_TEST

START_TEST(test_layernorm_errors)
{
    lg_tensor *ins[3] = {rand_tensor(SHP(3, 2, 3, 8), 1),
                         rand_tensor(SHP(1, 7), 1), NULL};
    onenode o;
    snprintf(g_case, sizeof g_case, "LayerNorm bad scale");
    o = build("LayerNormalization", "ln_bad", 17, 2, ins, 2u, 1, 0, NULL);
    expect_err(&o, LG_EMODEL, "ln_bad", "Scale");
    done(&o, NULL, 0);
    for (int i = 0; i < 2; i++)
        lg_tensor_unref(ins[i]);
}
END_TEST

/* ============================================================ Softmax */

static void softmax_case(lg_shape xs, int opset, int has_axis, int64_t axis,
                         int log_, float scale, int masked)
{
    int ax;
    int64_t outer = 1, len, inner = 1;
    lg_tensor *ins[1], *outs[1];
    attrs A;
    onenode o;
    double *ref;
    const float *x;
    snprintf(g_case, sizeof g_case, "%s %s opset %d axis %s%lld scale %g "
             "masked %d", log_ ? "LogSoftmax" : "Softmax", sstr(&xs), opset,
             has_axis ? "" : "default ", (long long)axis, scale, masked);
    if (!has_axis)
        axis = opset < 13 ? 1 : -1;
    ax = (int)(axis < 0 ? axis + xs.rank : axis);
    for (int i = 0; i < ax; i++)
        outer *= xs.d[i];
    if (opset < 13) {
        len = 1;
        for (int i = ax; i < xs.rank; i++)
            len *= xs.d[i];
    } else {
        len = xs.d[ax];
        for (int i = ax + 1; i < xs.rank; i++)
            inner *= xs.d[i];
    }
    ins[0] = rand_tensor(xs, scale);
    if (masked)                 /* causal-mask style -inf entries */
        for (int64_t i = 0; i < lg_tensor_numel(ins[0]); i++)
            if (i % 3 == 1)
                ((float *)ins[0]->data)[i] = -INFINITY;
    A.n = 0;
    if (has_axis)
        at_int(&A, "axis", axis);
    o = build(log_ ? "LogSoftmax" : "Softmax", "sm", opset, 1, ins, 0u, 1, 0,
              &A);
    ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
    expect_shape(&o, 0, xs);
    ck_assert_int_eq(run_kernel(&o, outs, g_pool, 1), 0);
    x = ins[0]->data;
    ref = malloc((size_t)lg_tensor_numel(ins[0]) * sizeof *ref);
    for (int64_t oo = 0; oo < outer; oo++)
        for (int64_t i = 0; i < inner; i++) {
            double m = -INFINITY, s = 0;
            for (int64_t l = 0; l < len; l++)
                if (x[(oo * len + l) * inner + i] > m)
                    m = x[(oo * len + l) * inner + i];
            for (int64_t l = 0; l < len; l++)
                s += exp(x[(oo * len + l) * inner + i] - m);
            for (int64_t l = 0; l < len; l++) {
                double v = x[(oo * len + l) * inner + i] - m;
                ref[(oo * len + l) * inner + i] = log_ ? v - log(s)
                                                       : exp(v) / s;
            }
        }
    if (masked && log_) {
        /* -inf stays -inf: compare the finite entries only. */
        float *y = outs[0]->data;
        for (int64_t i = 0; i < lg_tensor_numel(ins[0]); i++)
            if (isinf(ref[i])) {
                if (!(isinf(y[i]) && y[i] < 0))
                    ck_abort_msg("%s: element %lld should be -inf", g_case,
                                 (long long)i);
                ref[i] = 0;
                y[i] = 0;
            }
    }
    expect_close(outs[0], ref);
    free(ref);
    done(&o, outs, 1);
    lg_tensor_unref(ins[0]);
}

START_TEST(test_softmax)
{
    for (int log_ = 0; log_ <= 1; log_++) {
        softmax_case(SHP(2, 3, 10), 13, 0, 0, log_, 1, 0);
        softmax_case(SHP(3, 4, 16, 16), 13, 1, -1, log_, 10, 1); /* attn */
        softmax_case(SHP(4, 2, 5, 7, 3), 13, 1, 1, log_, 3, 0);  /* strided */
        softmax_case(SHP(3, 2, 3, 300), 13, 1, 1, log_, 1, 0); /* blocks */
        softmax_case(SHP(3, 2, 3, 300), 13, 1, 0, log_, 1, 0);
        softmax_case(SHP(1, 1000), 13, 1, 0, log_, 50, 0);     /* classifier */
        softmax_case(SHP(3, 2, 3, 4), 11, 0, 0, log_, 1, 0);   /* 2-D coerce */
        softmax_case(SHP(3, 2, 3, 4), 11, 1, 2, log_, 1, 0);
        softmax_case(SHP(3, 2, 3, 4), 12, 1, 0, log_, 1, 0);
        softmax_case(SHP(2, 5, 1), 13, 1, 1, log_, 1, 0);        /* len 1 */
        softmax_case(SHP(2, 7, 33), 13, 1, -1, log_, 100, 0);  /* big range */
    }
}
END_TEST

START_TEST(test_softmax_errors)
{
    lg_tensor *ins[1] = {rand_tensor(SHP(2, 2, 3), 1)};
    attrs A;
    onenode o;
    A.n = 0;
    at_int(&A, "axis", 2);
    snprintf(g_case, sizeof g_case, "Softmax axis");
    o = build("Softmax", "sm_axis", 13, 1, ins, 0u, 1, 0, &A);
    expect_err(&o, LG_EMODEL, "sm_axis", "axis");
    done(&o, NULL, 0);
    lg_tensor_unref(ins[0]);
}
END_TEST

/* ================================================================ LRN */

START_TEST(test_lrn)
{
    int64_t sizes[] = {1, 3, 4, 5};
    for (size_t si = 0; si < 4; si++) {
        lg_shape xs = SHP(4, 2, 7, 5, 6);
        int64_t size = sizes[si], c = 7, sz = 30;
        float alpha = 2e-2f, beta = 0.75f, bias = 2.0f;
        lg_tensor *ins[1] = {rand_tensor(xs, 3)}, *outs[1];
        attrs A;
        onenode o;
        double *ref;
        const float *x = ins[0]->data;
        snprintf(g_case, sizeof g_case, "LRN size %lld", (long long)size);
        A.n = 0;
        at_int(&A, "size", size);
        at_float(&A, "alpha", alpha);
        at_float(&A, "beta", beta);
        at_float(&A, "bias", bias);
        o = build("LRN", "lrn", 13, 1, ins, 0u, 1, 0, &A);
        ck_assert_msg(o.rc == 0, "%s: %s", g_case, o.err);
        ck_assert_int_eq(run_kernel(&o, outs, g_pool, 1), 0);
        ref = malloc((size_t)lg_tensor_numel(ins[0]) * sizeof *ref);
        for (int64_t nb = 0; nb < 2; nb++)
            for (int64_t ch = 0; ch < c; ch++)
                for (int64_t i = 0; i < sz; i++) {
                    double sq = 0, v;
                    for (int64_t cc = ch - (size - 1) / 2;
                         cc <= ch + size / 2; cc++)
                        if (cc >= 0 && cc < c) {
                            v = x[(nb * c + cc) * sz + i];
                            sq += v * v;
                        }
                    ref[(nb * c + ch) * sz + i] =
                        x[(nb * c + ch) * sz + i] /
                        pow(bias + alpha / (double)size * sq, beta);
                }
        expect_close(outs[0], ref);
        free(ref);
        done(&o, outs, 1);
        lg_tensor_unref(ins[0]);
    }
}
END_TEST

/* ====================================================== op table sanity */

START_TEST(test_tables)
{
    /* Every op defined here has a CPU kernel, and vice versa. */
    static const char *const ops[] = {
        "Conv", "MaxPool", "AveragePool", "GlobalAveragePool",
        "GlobalMaxPool", "Gemm", "MatMul", "BatchNormalization",
        "InstanceNormalization", "LayerNormalization", "Softmax",
        "LogSoftmax", "LRN",
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const lg_opdef *d = NULL;
        for (const lg_opdef *p = lg_opdefs_nn; p->op; p++)
            if (strcmp(p->op, ops[i]) == 0)
                d = p;
        ck_assert_msg(d != NULL, "no opdef for %s", ops[i]);
        ck_assert_msg(find_kernel(ops[i]) != NULL, "no kernel for %s",
                      ops[i]);
    }
}
END_TEST

/* Checked fixtures run in the forked child, where threads must start. */
static void pool_setup(void)
{
    g_pool = lg_pool_new(2);
    ck_assert_ptr_nonnull(g_pool);
}

static void pool_teardown(void)
{
    lg_pool_free(g_pool);
    g_pool = NULL;
}

static Suite *nn_suite(void)
{
    Suite *s = suite_create("kernels_nn");
    TCase *tc = tcase_create("nn");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, test_tables);
    tcase_add_test(tc, test_conv_fixed);
    tcase_add_test(tc, test_conv_pads_autopad);
    tcase_add_test(tc, test_conv_1d_3d);
    tcase_add_test(tc, test_conv_random);
    tcase_add_test(tc, test_conv_large);
    tcase_add_test(tc, test_conv_errors);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_matmul_errors);
    tcase_add_test(tc, test_gemm);
    tcase_add_test(tc, test_gemm_errors);
    tcase_add_test(tc, test_pools);
    tcase_add_test(tc, test_pool_errors);
    tcase_add_test(tc, test_global_pools);
    tcase_add_test(tc, test_batchnorm);
    tcase_add_test(tc, test_batchnorm_errors);
    tcase_add_test(tc, test_instancenorm);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_layernorm_errors);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_softmax_errors);
    tcase_add_test(tc, test_lrn);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;
    sr = srunner_create(nn_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
