/*
 * opdef_nn.c - op definitions for the compute-heavy NN operators: Conv,
 * the pools, Gemm, MatMul, the normalizations, Softmax/LogSoftmax and LRN.
 *
 * Owns lg_opdefs_nn[] (shape and FLOP functions) and lg_nn_window(), the
 * sliding-window geometry that the CPU kernels reuse so that they agree
 * with shape inference by construction. These ops run in float32 only;
 * any other element type is reported as LG_EUNSUP naming the node.
 * Semantics follow ONNX opsets 11-17 as PyTorch 1.13 exports them.
 *
 * Shape functions run single-threaded inside lg_graph_infer(); everything
 * here is stateless.
 */
#include "opdef_nn.h"

#include <stdio.h>
#include <string.h>

#include "lgerr.h"
#include "op.h"

/* Bound on kernel sizes, strides, dilations and pads read from a model:
 * keeps every product below in int64 range. */
#define ATTR_MAX ((int64_t)1 << 30)

/* ------------------------------------------------------------ helpers */

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t numel_u(const lg_shape *s)
{
    int64_t c = 0;
    if (lg_shape_numel(s, &c) < 0)
        return 0;
    return (uint64_t)c;
}

static uint64_t in_numel(const lg_graph *g, const lg_node *n, int i)
{
    const lg_value *v = lg_in(g, n, i);
    return v ? numel_u(&v->shape) : 0;
}

static uint64_t out_numel(const lg_graph *g, const lg_node *n, int i)
{
    const lg_value *v = lg_out(g, n, i);
    return v ? numel_u(&v->shape) : 0;
}

/* Every present input must be float32 (LG_EUNSUP otherwise). */
static int need_f32(const lg_graph *g, const lg_node *n, char *err,
                    size_t errlen)
{
    for (int i = 0; i < n->n_in; i++) {
        const lg_value *v = lg_in(g, n, i);
        if (v && v->dtype != LG_F32)
            return lg_errf(err, errlen, LG_EUNSUP,
                           "%s '%s': only float32 is supported; input %d "
                           "'%s' is %s", n->op, n->name, i, v->name,
                           lg_dtype_name(v->dtype));
    }
    return 0;
}

static int need_rank(const lg_node *n, const lg_value *v, int min,
                     const char *what, char *err, size_t errlen)
{
    char sb[128];
    if (v->shape.rank < min)
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s '%s': %s '%s' %s must have rank >= %d", n->op,
                       n->name, what, v->name,
                       lg_shape_str(&v->shape, sb, sizeof sb), min);
    return 0;
}

/* A per-channel parameter (BatchNorm, InstanceNorm) must be [C]. */
static int need_vec(const lg_node *n, const lg_value *v, int64_t c,
                    const char *what, char *err, size_t errlen)
{
    char sb[128];
    if (v && (v->shape.rank != 1 || v->shape.d[0] != c))
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s '%s': %s '%s' is %s, expected [%lld] (one per "
                       "channel)", n->op, n->name, what, v->name,
                       lg_shape_str(&v->shape, sb, sizeof sb), (long long)c);
    return 0;
}

/* Shape of an output equal to input 0 (float32). */
static int same_as_input(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    return lg_set_out(g, n, 0, LG_F32, &x->shape, err, errlen);
}

/* Reject any present output at index >= first (declared training or index
 * outputs that we do not compute). */
static int no_outputs_from(const lg_node *n, int first, const char *what,
                           char *err, size_t errlen)
{
    for (int i = first; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return lg_errf(err, errlen, LG_EUNSUP,
                           "%s '%s': output %d (%s) is not supported",
                           n->op, n->name, i, what);
    return 0;
}

/* --------------------------------------------------- window geometry */

static int read_ints(const lg_node *n, const char *name, int want,
                     int64_t lo, int64_t *dst, char *err, size_t errlen)
{
    const int64_t *v;
    int cnt = lg_attr_ints(n, name, &v);
    if (cnt < 0)
        return 0;
    if (cnt != want)
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s '%s': attribute %s has %d values, expected %d",
                       n->op, n->name, name, cnt, want);
    for (int i = 0; i < cnt; i++) {
        if (v[i] < lo || v[i] > ATTR_MAX)
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s '%s': attribute %s[%d] = %lld is out of range",
                           n->op, n->name, name, i, (long long)v[i]);
        dst[i] = v[i];
    }
    return 1;
}

int lg_nn_window(const lg_node *n, const lg_shape *x, const int64_t *k,
                 int ceil_mode, lg_window *w, char *err, size_t errlen)
{
    int nsp = x->rank - 2, rc;
    int64_t pads[2 * LG_NN_MAX_SPATIAL];
    const char *ap = lg_attr_str(n, "auto_pad", "NOTSET");
    char sb[128];

    memset(w, 0, sizeof *w);
    if (nsp < 1)
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s '%s': input %s must be [N, C, spatial...]",
                       n->op, n->name, lg_shape_str(x, sb, sizeof sb));
    if (nsp > LG_NN_MAX_SPATIAL)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "%s '%s': %d spatial dimensions (at most %d are "
                       "supported)", n->op, n->name, nsp, LG_NN_MAX_SPATIAL);
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        w->in[i] = x->d[2 + i];
        w->k[i] = k[i];
        w->stride[i] = w->dil[i] = 1;
        if (w->in[i] < 1)
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s '%s': input %s has an empty spatial dimension",
                           n->op, n->name, lg_shape_str(x, sb, sizeof sb));
        if (k[i] < 1 || k[i] > ATTR_MAX)
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s '%s': kernel size %lld along spatial axis %d "
                           "is out of range", n->op, n->name,
                           (long long)k[i], i);
    }
    if ((rc = read_ints(n, "strides", nsp, 1, w->stride, err, errlen)) < 0 ||
        (rc = read_ints(n, "dilations", nsp, 1, w->dil, err, errlen)) < 0)
        return rc;

    if (*ap == 0 || strcmp(ap, "NOTSET") == 0 || strcmp(ap, "VALID") == 0) {
        memset(pads, 0, sizeof pads);
        if (strcmp(ap, "VALID") != 0 &&
            (rc = read_ints(n, "pads", 2 * nsp, 0, pads, err, errlen)) < 0)
            return rc;
        for (int i = 0; i < nsp; i++) {
            int64_t ek = (w->k[i] - 1) * w->dil[i] + 1, s = w->stride[i];
            int64_t span;
            w->pad0[i] = pads[i];
            w->pad1[i] = pads[nsp + i];
            span = w->in[i] + w->pad0[i] + w->pad1[i] - ek;
            if (span < 0)
                return lg_errf(err, errlen, LG_EMODEL,
                               "%s '%s': kernel %lld (dilated to %lld) is "
                               "larger than the padded input %lld along "
                               "spatial axis %d", n->op, n->name,
                               (long long)w->k[i], (long long)ek,
                               (long long)(w->in[i] + w->pad0[i] +
                                           w->pad1[i]), i);
            if (ceil_mode) {
                w->out[i] = (span + s - 1) / s + 1;
                /* PyTorch (and ONNX since opset 19's clarification): the
                 * last window must start inside the input or the begin
                 * padding, not entirely in the end padding. */
                if ((w->out[i] - 1) * s >= w->in[i] + w->pad0[i])
                    w->out[i]--;
            } else {
                w->out[i] = span / s + 1;
            }
        }
    } else if (strcmp(ap, "SAME_UPPER") == 0 ||
               strcmp(ap, "SAME_LOWER") == 0) {
        int upper = ap[5] == 'U';
        for (int i = 0; i < nsp; i++) {
            int64_t ek = (w->k[i] - 1) * w->dil[i] + 1, s = w->stride[i];
            int64_t total;
            w->out[i] = (w->in[i] + s - 1) / s;
            total = (w->out[i] - 1) * s + ek - w->in[i];
            if (total < 0)
                total = 0;
            w->pad0[i] = upper ? total / 2 : total - total / 2;
            w->pad1[i] = total - w->pad0[i];
        }
    } else {
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s '%s': unknown auto_pad '%s'", n->op, n->name, ap);
    }
    for (int i = 0; i < nsp; i++)
        if (w->out[i] < 1)
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s '%s': empty output along spatial axis %d",
                           n->op, n->name, i);
    return 0;
}

/* Output shape [N, C, out...] of a window op. */
static lg_shape window_out_shape(const lg_shape *x, int64_t c,
                                 const lg_window *w)
{
    lg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = x->rank;
    s.d[0] = x->d[0];
    s.d[1] = c;
    for (int i = 0; i < w->nsp; i++)
        s.d[2 + i] = w->out[i];
    return s;
}

/* ---------------------------------------------------------------- Conv */

static int conv_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *w = lg_in(g, n, 1);
    const lg_value *b = lg_in(g, n, 2);
    const int64_t *ks;
    int64_t group = lg_attr_int(n, "group", 1), c, m, cg;
    int rc, nk;
    lg_window win;
    lg_shape os;
    char sx[128], sw[128];

    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 3, "input", err, errlen)) < 0)
        return rc;
    if (w->shape.rank != x->shape.rank)
        return lg_errf(err, errlen, LG_EMODEL,
                       "Conv '%s': weight %s has rank %d but input %s has "
                       "rank %d", n->name,
                       lg_shape_str(&w->shape, sw, sizeof sw), w->shape.rank,
                       lg_shape_str(&x->shape, sx, sizeof sx), x->shape.rank);
    c = x->shape.d[1];
    m = w->shape.d[0];
    cg = w->shape.d[1];
    if (group < 1 || group > ATTR_MAX)
        return lg_errf(err, errlen, LG_EMODEL, "Conv '%s': group %lld is "
                       "out of range", n->name, (long long)group);
    if (c % group != 0 || c / group != cg)
        return lg_errf(err, errlen, LG_EMODEL,
                       "Conv '%s': input has %lld channels, weight expects "
                       "%lld (%lld per group x %lld groups)", n->name,
                       (long long)c, (long long)(cg * group), (long long)cg,
                       (long long)group);
    if (m % group != 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "Conv '%s': %lld output channels are not divisible "
                       "by group %lld", n->name, (long long)m,
                       (long long)group);
    nk = lg_attr_ints(n, "kernel_shape", &ks);
    if (nk >= 0) {
        int ok = nk == x->shape.rank - 2;
        for (int i = 0; ok && i < nk; i++)
            ok = ks[i] == w->shape.d[2 + i];
        if (!ok)
            return lg_errf(err, errlen, LG_EMODEL,
                           "Conv '%s': kernel_shape does not match weight %s",
                           n->name, lg_shape_str(&w->shape, sw, sizeof sw));
    }
    if (b && (b->shape.rank != 1 || b->shape.d[0] != m))
        return lg_errf(err, errlen, LG_EMODEL,
                       "Conv '%s': bias '%s' is %s, expected [%lld]",
                       n->name, b->name,
                       lg_shape_str(&b->shape, sw, sizeof sw), (long long)m);
    if ((rc = lg_nn_window(n, &x->shape, &w->shape.d[2], 0, &win, err,
                           errlen)) < 0)
        return rc;
    os = window_out_shape(&x->shape, m, &win);
    return lg_set_out(g, n, 0, LG_F32, &os, err, errlen);
}

static uint64_t conv_flops(const lg_graph *g, const lg_node *n)
{
    const lg_value *w = lg_in(g, n, 1);
    uint64_t out = out_numel(g, n, 0);
    /* Per output element: (C/group) * prod(k) multiply-adds; the weight's
     * numel / M is exactly that. */
    uint64_t per = w->shape.d[0] > 0 ? numel_u(&w->shape) /
                   (uint64_t)w->shape.d[0] : 0;
    uint64_t f = mul_sat(mul_sat(out, per), 2);
    if (lg_in(g, n, 2))
        f = add_sat(f, out);
    return f;
}

/* --------------------------------------------------------------- pools */

static int pool_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    const int64_t *ks;
    int nk, rc;
    lg_window win;
    lg_shape os;

    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 3, "input", err, errlen)) < 0)
        return rc;
    if (strcmp(n->op, "MaxPool") == 0 &&
        (rc = no_outputs_from(n, 1, "Indices", err, errlen)) < 0)
        return rc;
    nk = lg_attr_ints(n, "kernel_shape", &ks);
    if (nk != x->shape.rank - 2)
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s '%s': kernel_shape %s %d values for a rank-%d "
                       "input", n->op, n->name, nk < 0 ? "is missing; need"
                       : "has", nk < 0 ? x->shape.rank - 2 : nk,
                       x->shape.rank);
    if ((rc = lg_nn_window(n, &x->shape, ks, (int)lg_attr_int(n, "ceil_mode",
                           0), &win, err, errlen)) < 0)
        return rc;
    os = window_out_shape(&x->shape, x->shape.d[1], &win);
    return lg_set_out(g, n, 0, LG_F32, &os, err, errlen);
}

static uint64_t pool_flops(const lg_graph *g, const lg_node *n)
{
    const int64_t *ks;
    int nk = lg_attr_ints(n, "kernel_shape", &ks);
    uint64_t k = 1;
    for (int i = 0; i < nk; i++)
        k = mul_sat(k, ks[i] > 0 ? (uint64_t)ks[i] : 0);
    return mul_sat(out_numel(g, n, 0), k);
}

static int global_pool_shape(lg_graph *g, lg_node *n, char *err,
                             size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    lg_shape os;
    int rc;
    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 2, "input", err, errlen)) < 0)
        return rc;
    os = x->shape;
    for (int i = 2; i < os.rank; i++)
        os.d[i] = 1;
    return lg_set_out(g, n, 0, LG_F32, &os, err, errlen);
}

static uint64_t input_flops(const lg_graph *g, const lg_node *n)
{
    return in_numel(g, n, 0);
}

/* ---------------------------------------------------------- Gemm, MatMul */

static int gemm_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *a = lg_in(g, n, 0), *b = lg_in(g, n, 1);
    const lg_value *c = lg_in(g, n, 2);
    int ta = lg_attr_int(n, "transA", 0) != 0;
    int tb = lg_attr_int(n, "transB", 0) != 0;
    int64_t m, k, k2, nn;
    char sa[128], sb[128];
    lg_shape os;
    int rc;

    if ((rc = need_f32(g, n, err, errlen)) < 0)
        return rc;
    if (a->shape.rank != 2 || b->shape.rank != 2)
        return lg_errf(err, errlen, LG_EMODEL,
                       "Gemm '%s': A %s and B %s must both be 2-D", n->name,
                       lg_shape_str(&a->shape, sa, sizeof sa),
                       lg_shape_str(&b->shape, sb, sizeof sb));
    m = a->shape.d[ta ? 1 : 0];
    k = a->shape.d[ta ? 0 : 1];
    k2 = b->shape.d[tb ? 1 : 0];
    nn = b->shape.d[tb ? 0 : 1];
    if (k != k2)
        return lg_errf(err, errlen, LG_EMODEL,
                       "Gemm '%s': A %s (transA=%d) has K=%lld but B %s "
                       "(transB=%d) has K=%lld", n->name,
                       lg_shape_str(&a->shape, sa, sizeof sa), ta,
                       (long long)k, lg_shape_str(&b->shape, sb, sizeof sb),
                       tb, (long long)k2);
    if (c) {
        const lg_shape *cs = &c->shape;
        int ok = cs->rank <= 2;
        if (ok && cs->rank == 1)
            ok = cs->d[0] == 1 || cs->d[0] == nn;
        if (ok && cs->rank == 2)
            ok = (cs->d[0] == 1 || cs->d[0] == m) &&
                 (cs->d[1] == 1 || cs->d[1] == nn);
        if (!ok)
            return lg_errf(err, errlen, LG_EMODEL,
                           "Gemm '%s': C %s does not broadcast to [%lld,%lld]",
                           n->name, lg_shape_str(cs, sa, sizeof sa),
                           (long long)m, (long long)nn);
    }
    memset(&os, 0, sizeof os);
    os.rank = 2;
    os.d[0] = m;
    os.d[1] = nn;
    return lg_set_out(g, n, 0, LG_F32, &os, err, errlen);
}

static uint64_t gemm_flops(const lg_graph *g, const lg_node *n)
{
    const lg_value *a = lg_in(g, n, 0);
    int ta = lg_attr_int(n, "transA", 0) != 0;
    uint64_t k = (uint64_t)a->shape.d[ta ? 0 : 1];
    uint64_t out = out_numel(g, n, 0);
    uint64_t f = mul_sat(mul_sat(out, k), 2);
    if (lg_in(g, n, 2))
        f = add_sat(f, out);
    return f;
}

static int matmul_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *a = lg_in(g, n, 0), *b = lg_in(g, n, 1);
    lg_shape ba, bb, bo, os;
    int ra = a->shape.rank, rb = b->shape.rank, rc;
    int64_t ka, kb;
    char sa[128], sb[128];

    if ((rc = need_f32(g, n, err, errlen)) < 0)
        return rc;
    if (ra < 1 || rb < 1)
        return lg_errf(err, errlen, LG_EMODEL,
                       "MatMul '%s': operands must not be scalars (A %s, B "
                       "%s)", n->name, lg_shape_str(&a->shape, sa, sizeof sa),
                       lg_shape_str(&b->shape, sb, sizeof sb));
    ka = a->shape.d[ra - 1];
    kb = rb == 1 ? b->shape.d[0] : b->shape.d[rb - 2];
    if (ka != kb)
        return lg_errf(err, errlen, LG_EMODEL,
                       "MatMul '%s': A %s has K=%lld but B %s has K=%lld",
                       n->name, lg_shape_str(&a->shape, sa, sizeof sa),
                       (long long)ka, lg_shape_str(&b->shape, sb, sizeof sb),
                       (long long)kb);
    /* Batch dims: everything before the matrix dims (none for 1-D). */
    memset(&ba, 0, sizeof ba);
    memset(&bb, 0, sizeof bb);
    ba.rank = ra > 2 ? ra - 2 : 0;
    bb.rank = rb > 2 ? rb - 2 : 0;
    for (int i = 0; i < ba.rank; i++)
        ba.d[i] = a->shape.d[i];
    for (int i = 0; i < bb.rank; i++)
        bb.d[i] = b->shape.d[i];
    if ((rc = lg_broadcast(n, &ba, &bb, &bo, err, errlen)) < 0)
        return rc;
    os = bo;
    if (ra >= 2)
        os.d[os.rank++] = a->shape.d[ra - 2];
    if (rb >= 2) {
        if (os.rank >= LG_MAX_RANK)
            return lg_errf(err, errlen, LG_EUNSUP, "MatMul '%s': output "
                           "rank exceeds %d", n->name, LG_MAX_RANK);
        os.d[os.rank++] = b->shape.d[rb - 1];
    }
    return lg_set_out(g, n, 0, LG_F32, &os, err, errlen);
}

static uint64_t matmul_flops(const lg_graph *g, const lg_node *n)
{
    const lg_value *a = lg_in(g, n, 0);
    uint64_t k = (uint64_t)a->shape.d[a->shape.rank - 1];
    return mul_sat(mul_sat(out_numel(g, n, 0), k), 2);
}

/* ------------------------------------------------------ normalizations */

static int batchnorm_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    static const char *const what[] = {"input", "scale", "B", "mean", "var"};
    int rc;
    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 2, "input", err, errlen)) < 0)
        return rc;
    if (lg_attr_int(n, "training_mode", 0) != 0)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "BatchNormalization '%s': training_mode=1 is not "
                       "supported (inference only)", n->name);
    if (lg_attr_int(n, "spatial", 1) == 0)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "BatchNormalization '%s': spatial=0 is not supported",
                       n->name);
    if ((rc = no_outputs_from(n, 1, "training statistics", err, errlen)) < 0)
        return rc;
    for (int i = 1; i < 5; i++)
        if ((rc = need_vec(n, lg_in(g, n, i), x->shape.d[1], what[i], err,
                           errlen)) < 0)
            return rc;
    return same_as_input(g, n, err, errlen);
}

static uint64_t two_per_elem(const lg_graph *g, const lg_node *n)
{
    return mul_sat(out_numel(g, n, 0), 2);
}

static int instnorm_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int rc;
    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 3, "input", err, errlen)) < 0 ||
        (rc = need_vec(n, lg_in(g, n, 1), x->shape.d[1], "scale", err,
                       errlen)) < 0 ||
        (rc = need_vec(n, lg_in(g, n, 2), x->shape.d[1], "B", err,
                       errlen)) < 0)
        return rc;
    return same_as_input(g, n, err, errlen);
}

/* Mean/var pass, normalize pass: about 6 FLOPs per element. */
static uint64_t norm_flops(const lg_graph *g, const lg_node *n)
{
    return mul_sat(in_numel(g, n, 0), 6);
}

/* LayerNormalization's Scale and B must cover the normalized dims
 * X[axis:], either exactly (leading 1s allowed) or as one scalar. */
static int ln_param(const lg_node *n, const lg_value *p, const lg_shape *x,
                    int axis, const char *what, char *err, size_t errlen)
{
    lg_shape ns;
    int64_t cnt, d;
    char sp[128], sx[128];
    int ok = 1;
    if (!p)
        return 0;
    memset(&ns, 0, sizeof ns);
    ns.rank = x->rank - axis;
    for (int i = 0; i < ns.rank; i++)
        ns.d[i] = x->d[axis + i];
    if (lg_shape_numel(&p->shape, &cnt) < 0 ||
        lg_shape_numel(&ns, &d) < 0)
        ok = 0;
    if (ok && cnt != 1) {
        /* Same trailing dims as X[axis:], extra leading dims all 1. */
        int r = p->shape.rank;
        ok = cnt == d;
        for (int i = 0; ok && i < r; i++) {
            int j = i - (r - ns.rank);
            ok = j >= 0 ? p->shape.d[i] == ns.d[j] : p->shape.d[i] == 1;
        }
    }
    if (!ok)
        return lg_errf(err, errlen, LG_EMODEL,
                       "LayerNormalization '%s': %s '%s' %s does not match "
                       "the normalized shape of input %s from axis %d",
                       n->name, what, p->name,
                       lg_shape_str(&p->shape, sp, sizeof sp),
                       lg_shape_str(x, sx, sizeof sx), axis);
    return 0;
}

static int layernorm_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int axis, rc;
    lg_shape ms;
    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 1, "input", err, errlen)) < 0)
        return rc;
    axis = lg_axis(lg_attr_int(n, "axis", -1), x->shape.rank);
    if (axis < 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "LayerNormalization '%s': axis %lld is out of range "
                       "for rank %d", n->name,
                       (long long)lg_attr_int(n, "axis", -1), x->shape.rank);
    if ((rc = ln_param(n, lg_in(g, n, 1), &x->shape, axis, "Scale", err,
                       errlen)) < 0 ||
        (rc = ln_param(n, lg_in(g, n, 2), &x->shape, axis, "B", err,
                       errlen)) < 0)
        return rc;
    if ((rc = same_as_input(g, n, err, errlen)) < 0)
        return rc;
    /* Mean and InvStdDev: X's shape with the normalized dims set to 1. */
    ms = x->shape;
    for (int i = axis; i < ms.rank; i++)
        ms.d[i] = 1;
    if ((rc = lg_set_out(g, n, 1, LG_F32, &ms, err, errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 2, LG_F32, &ms, err, errlen);
}

static int softmax_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t def = g->opset < 13 ? 1 : -1;
    int64_t a = lg_attr_int(n, "axis", def);
    int rc;
    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 1, "input", err, errlen)) < 0)
        return rc;
    if (lg_axis(a, x->shape.rank) < 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "%s '%s': axis %lld is out of range for rank %d",
                       n->op, n->name, (long long)a, x->shape.rank);
    return same_as_input(g, n, err, errlen);
}

/* max, subtract, exp, sum, scale. */
static uint64_t softmax_flops(const lg_graph *g, const lg_node *n)
{
    return mul_sat(out_numel(g, n, 0), 5);
}

static int lrn_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t size = lg_attr_int(n, "size", 0);
    int rc;
    if ((rc = need_f32(g, n, err, errlen)) < 0 ||
        (rc = need_rank(n, x, 2, "input", err, errlen)) < 0)
        return rc;
    if (size < 1 || size > ATTR_MAX)
        return lg_errf(err, errlen, LG_EMODEL,
                       "LRN '%s': attribute size %lld must be >= 1%s",
                       n->name, (long long)size,
                       lg_node_attr(n, "size") ? "" : " (it is required)");
    return same_as_input(g, n, err, errlen);
}

static uint64_t lrn_flops(const lg_graph *g, const lg_node *n)
{
    uint64_t size = (uint64_t)lg_attr_int(n, "size", 1);
    return mul_sat(out_numel(g, n, 0), add_sat(mul_sat(size, 2), 4));
}

/* --------------------------------------------------------------- table */

const lg_opdef lg_opdefs_nn[] = {
    /* op                    in    out   shape              flops */
    {"Conv",                 2, 3, 1, 1, conv_shape,        conv_flops, 0},
    {"MaxPool",              1, 1, 1, 2, pool_shape,        pool_flops, 0},
    {"AveragePool",          1, 1, 1, 1, pool_shape,        pool_flops, 0},
    {"GlobalAveragePool",    1, 1, 1, 1, global_pool_shape, input_flops, 0},
    {"GlobalMaxPool",        1, 1, 1, 1, global_pool_shape, input_flops, 0},
    {"Gemm",                 2, 3, 1, 1, gemm_shape,        gemm_flops, 0},
    {"MatMul",               2, 2, 1, 1, matmul_shape,      matmul_flops, 0},
    {"BatchNormalization",   5, 5, 1, 5, batchnorm_shape,   two_per_elem, 0},
    {"InstanceNormalization", 3, 3, 1, 1, instnorm_shape,   norm_flops, 0},
    {"LayerNormalization",   2, 3, 1, 3, layernorm_shape,   norm_flops, 0},
    {"Softmax",              1, 1, 1, 1, softmax_shape,     softmax_flops, 0},
    {"LogSoftmax",           1, 1, 1, 1, softmax_shape,     softmax_flops, 0},
    {"LRN",                  1, 1, 1, 1, lrn_shape,         lrn_flops, 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};
