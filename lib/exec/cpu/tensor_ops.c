/*
 * tensor_ops.c - CPU kernels for the tensor ops of opdef_tensor.c:
 * copies that only change the shape, strided copies (Transpose, Slice,
 * Expand, Tile, DepthToSpace), joins and splits, gathers and scatters,
 * Pad, generators (Range, ConstantOfShape, OneHot, Trilu), CumSum,
 * reductions, ArgMax/ArgMin, TopK, Resize and Shape/Size/Constant.
 *
 * Owns lg_cpu_kernels_tensor[]. Parameters that shape inference resolved
 * from constant inputs (Slice starts, Pad pads, Reduce axes, Resize
 * scales) are resolved again here by the same functions (opdef_tensor.h)
 * from the runtime inputs, so kernel and shapes cannot disagree; counts
 * (Split sizes, TopK's k, Tile repeats) are read off the output shapes.
 *
 * Reductions visit elements in a fixed order with float64 accumulators for
 * float32 data, so results are deterministic for any thread count.
 * Indices read from tensors (Gather, ScatterND, ...) are range-checked
 * before any access: out-of-range is LG_EMODEL naming the node.
 *
 * Threading: called by one executor thread at a time; uses ctx->pool.
 */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 does not vectorize loops of unknown trip count; errno and FP
 * exception flags are never read here; no FMA contraction (see elem.c). */
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", \
                     "no-math-errno", "no-trapping-math", "fp-contract=off")
#endif

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast.h"
#include "kernel.h"
#include "lgerr.h"
#include "op.h"
#include "opdef_tensor.h"

#define GRAIN 16384             /* elements per thread */

static int kfail(lg_kctx *ctx, int code, const lg_node *n, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* "Op 'name': detail" into ctx->err. */
static int kfail(lg_kctx *ctx, int code, const lg_node *n, const char *fmt,
                 ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lg_errf(ctx->err, ctx->errlen, code, "%s '%s': %s", n->op,
                   n->name, msg);
}

/* Input i, or NULL when absent or beyond the node's inputs. */
static const lg_tensor *opt_in(const lg_node *n, lg_tensor *const *in, int i)
{
    return i < n->n_in ? in[i] : NULL;
}

static int64_t numel(const lg_tensor *t)
{
    return lg_tensor_numel(t);
}

static size_t esz(const lg_tensor *t)
{
    return lg_dtype_size(t->dtype);
}

/* Integer element i of an index tensor without undefined float casts. */
static int64_t geti(const lg_tensor *t, int64_t i)
{
    if (t->dtype == LG_F32 || t->dtype == LG_F64) {
        double v = t->dtype == LG_F32 ? ((const float *)t->data)[i]
                                      : ((const double *)t->data)[i];
        if (!(v > -9.2e18 && v < 9.2e18))
            return v > 0 ? INT64_MAX : INT64_MIN;
        return (int64_t)v;
    }
    return lg_tensor_geti(t, i);
}

/* Product of d[lo, hi). */
static int64_t prod(const lg_shape *s, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        p *= s->d[i];
    return p;
}

/* ----------------------------------------------- shape-only changes */

/* Reshape, Flatten, Squeeze, Unsqueeze: the bytes do not move. */
static int k_copy(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                  lg_tensor *const *out, lg_kctx *ctx)
{
    (void)g;
    if (in[0]->nbytes != out[0]->nbytes || in[0]->dtype != out[0]->dtype)
        return kfail(ctx, LG_EMODEL, n, "input and output sizes differ");
    if (out[0]->data != in[0]->data)
        memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
    return 0;
}

/* ----------------------------------------------- strided copies */

static int k_transpose(const lg_graph *g, const lg_node *n,
                       lg_tensor *const *in, lg_tensor *const *out,
                       lg_kctx *ctx)
{
    const int64_t *perm = NULL;
    int r = in[0]->shape.rank, np = lg_attr_ints(n, "perm", &perm);
    int64_t st[LG_MAX_RANK];
    lg_bcast_view v;
    (void)g;
    if (np >= 0 && np != r)
        return kfail(ctx, LG_EMODEL, n, "perm does not match rank %d", r);
    lg_bcast_strides(&in[0]->shape, st);
    memset(&v, 0, sizeof v);
    v.rank = r;
    for (int i = 0; i < r; i++) {
        int64_t p = np >= 0 ? perm[i] : r - 1 - i;
        if (p < 0 || p >= r)
            return kfail(ctx, LG_EMODEL, n, "bad perm");
        v.d[i] = in[0]->shape.d[p];
        v.st[i] = st[p];
        if (v.d[i] != out[0]->shape.d[i])
            return kfail(ctx, LG_EMODEL, n, "output shape mismatch");
    }
    lg_bcast_copy(ctx->pool, &v, out[0]->data, in[0]->data, esz(in[0]));
    return 0;
}

static int k_slice(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    int64_t st[LG_MAX_RANK];
    lg_slice s;
    lg_bcast_view v;
    int rc, r = in[0]->shape.rank;
    (void)g;
    rc = lg_opdef_slice(n, &in[0]->shape, opt_in(n, in, 1), opt_in(n, in, 2),
                        opt_in(n, in, 3), opt_in(n, in, 4), &s, ctx->err,
                        ctx->errlen);
    if (rc < 0)
        return rc;
    if (!lg_shape_eq(&s.out, &out[0]->shape))
        return kfail(ctx, LG_EMODEL, n, "output shape mismatch");
    if (numel(out[0]) == 0)
        return 0;
    lg_bcast_strides(&in[0]->shape, st);
    memset(&v, 0, sizeof v);
    v.rank = r;
    for (int i = 0; i < r; i++) {
        v.d[i] = s.out.d[i];
        /* with two or more elements |step| < dim, so this cannot
         * overflow; a single element needs no stride (step may be huge) */
        v.st[i] = s.out.d[i] > 1 ? st[i] * s.step[i] : 0;
        v.base += st[i] * s.start[i];
    }
    lg_bcast_copy(ctx->pool, &v, out[0]->data, in[0]->data, esz(in[0]));
    return 0;
}

/* Expand: broadcast input strides (0 where the input has 1). */
static int k_expand(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape, *os = &out[0]->shape;
    int64_t st[LG_MAX_RANK];
    lg_bcast_view v;
    (void)g;
    if (xs->rank > os->rank)
        return kfail(ctx, LG_EMODEL, n, "output rank below input rank");
    lg_bcast_strides(xs, st);
    memset(&v, 0, sizeof v);
    v.rank = os->rank;
    for (int i = 0; i < os->rank; i++) {
        int ix = i - (os->rank - xs->rank);
        int64_t d = ix >= 0 ? xs->d[ix] : 1;
        if (d != os->d[i] && d != 1)
            return kfail(ctx, LG_EMODEL, n, "input does not broadcast");
        v.d[i] = os->d[i];
        v.st[i] = d == 1 ? 0 : st[ix];
    }
    lg_bcast_copy(ctx->pool, &v, out[0]->data, in[0]->data, esz(in[0]));
    return 0;
}

/* Tile: output dim i seen as (repeat, d_i) with strides (0, st_i). */
static int k_tile(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                  lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape, *os = &out[0]->shape;
    int64_t st[LG_MAX_RANK];
    lg_bcast_view v;
    (void)g;
    if (numel(out[0]) == 0)
        return 0;
    if (xs->rank != os->rank)
        return kfail(ctx, LG_EMODEL, n, "output rank mismatch");
    lg_bcast_strides(xs, st);
    memset(&v, 0, sizeof v);
    v.rank = 2 * xs->rank;
    for (int i = 0; i < xs->rank; i++) {
        if (xs->d[i] == 0 || os->d[i] % xs->d[i])
            return kfail(ctx, LG_EMODEL, n, "output is not a tiling");
        v.d[2 * i] = os->d[i] / xs->d[i];
        v.st[2 * i] = 0;
        v.d[2 * i + 1] = xs->d[i];
        v.st[2 * i + 1] = st[i];
    }
    lg_bcast_copy(ctx->pool, &v, out[0]->data, in[0]->data, esz(in[0]));
    return 0;
}

/* DepthToSpace / SpaceToDepth as one 6-D strided copy. */
static int k_d2s(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                 lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape;
    int64_t b = lg_attr_int(n, "blocksize", 0), N, C, H, W;
    lg_bcast_view v;
    (void)g;
    if (xs->rank != 4 || b < 1)
        return kfail(ctx, LG_EMODEL, n, "bad input rank or blocksize");
    N = xs->d[0];
    C = xs->d[1];
    H = xs->d[2];
    W = xs->d[3];
    memset(&v, 0, sizeof v);
    v.rank = 6;
    if (strcmp(n->op, "DepthToSpace") == 0) {
        int64_t Co = C / (b * b);
        int crd = strcmp(lg_attr_str(n, "mode", "DCR"), "CRD") == 0;
        /* destination [N, Co, H, b, W, b] */
        int64_t d[6] = {N, Co, H, b, W, b};
        int64_t s[6] = {C * H * W, crd ? b * b * H * W : H * W, W,
                        crd ? b * H * W : b * Co * H * W, 1,
                        crd ? H * W : Co * H * W};
        memcpy(v.d, d, sizeof d);
        memcpy(v.st, s, sizeof s);
    } else {
        /* destination [N, b, b, C, H/b, W/b] */
        int64_t d[6] = {N, b, b, C, H / b, W / b};
        int64_t s[6] = {C * H * W, W, 1, H * W, b * W, b};
        memcpy(v.d, d, sizeof d);
        memcpy(v.st, s, sizeof s);
    }
    lg_bcast_copy(ctx->pool, &v, out[0]->data, in[0]->data, esz(in[0]));
    return 0;
}

/* ----------------------------------------------- Concat, Split */

typedef struct cat_job {
    lg_tensor *const *parts;    /* inputs of Concat, outputs of Split */
    int nparts;
    char *whole;                /* output of Concat, input of Split */
    size_t whole_row;           /* bytes of one outer row of the whole */
    size_t *off, *len;          /* per part: byte offset in row, length */
    int split;
} cat_job;

static void cat_task(void *arg, int64_t b, int64_t e)
{
    const cat_job *j = arg;
    for (int64_t t = b; t < e; t++) {
        int64_t o = t / j->nparts;
        int p = (int)(t % j->nparts);
        char *w;
        if (!j->len[p])
            continue;
        w = j->whole + (size_t)o * j->whole_row + j->off[p];
        if (j->split)
            memcpy((char *)j->parts[p]->data + (size_t)o * j->len[p], w,
                   j->len[p]);
        else
            memcpy(w, (const char *)j->parts[p]->data + (size_t)o * j->len[p],
                   j->len[p]);
    }
}

static int concat_split(const lg_node *n, lg_tensor *const *parts,
                        int nparts, lg_tensor *whole, int split, lg_kctx *ctx)
{
    const lg_shape *ws = &whole->shape;
    int r = ws->rank, a;
    int64_t inner, outer, acc = 0;
    size_t es = esz(whole), *buf;
    cat_job j;

    a = lg_axis(lg_attr_int(n, "axis", 0), r);
    if (a < 0)
        return kfail(ctx, LG_EMODEL, n, "axis out of range");
    outer = prod(ws, 0, a);
    inner = prod(ws, a + 1, r);
    buf = malloc(2 * (size_t)nparts * sizeof *buf);
    if (!buf)
        return -ENOMEM;
    j.parts = parts;
    j.nparts = nparts;
    j.whole = whole->data;
    j.whole_row = (size_t)(ws->d[a] * inner) * es;
    j.off = buf;
    j.len = buf + nparts;
    j.split = split;
    for (int p = 0; p < nparts; p++) {
        int64_t d = 0;
        if (parts[p]) {
            const lg_shape *ps = &parts[p]->shape;
            if (ps->rank != r || parts[p]->dtype != whole->dtype) {
                free(buf);
                return kfail(ctx, LG_EMODEL, n, "part %d mismatches", p);
            }
            d = ps->d[a];
        } else {                /* inference refuses absent parts */
            free(buf);
            return kfail(ctx, LG_EMODEL, n, "part %d is absent", p);
        }
        j.off[p] = (size_t)(acc * inner) * es;
        j.len[p] = (size_t)(d * inner) * es;
        acc += d;
    }
    if (acc != ws->d[a]) {
        free(buf);
        return kfail(ctx, LG_EMODEL, n, "parts do not add up on axis %d", a);
    }
    if (outer > 0 && j.whole_row > 0) {
        int64_t items = outer * nparts;
        int64_t min = (int64_t)(GRAIN * 4 / (j.whole_row / (size_t)nparts + 1));
        lg_pool_run(ctx->pool, items, min > 0 ? min : 1, cat_task, &j);
    }
    free(buf);
    return 0;
}

static int k_concat(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    (void)g;
    for (int i = 0; i < n->n_in; i++)
        if (!in[i])
            return kfail(ctx, LG_EMODEL, n, "input %d is empty", i);
    return concat_split(n, in, n->n_in, out[0], 0, ctx);
}

static int k_split(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    (void)g;
    return concat_split(n, out, n->n_out, in[0], 1, ctx);
}

/* ----------------------------------------------- Gather & friends */

typedef struct gather_job {
    const char *x;
    char *y;
    const lg_tensor *idx;
    int64_t K, N, inner;        /* axis size, index count, row elements */
    size_t es;
} gather_job;

static void gather_task(void *arg, int64_t b, int64_t e)
{
    const gather_job *j = arg;
    size_t row = (size_t)j->inner * j->es;
    for (int64_t t = b; t < e; t++) {
        int64_t o = t / j->N, k = geti(j->idx, t % j->N);
        if (k < 0)
            k += j->K;
        memcpy(j->y + (size_t)t * row, j->x + (size_t)(o * j->K + k) * row,
               row);
    }
}

static int k_gather(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape;
    int a = lg_axis(lg_attr_int(n, "axis", 0), xs->rank);
    gather_job j;
    int64_t outer, min;
    (void)g;
    if (a < 0 || xs->rank == 0)
        return kfail(ctx, LG_EMODEL, n, "axis out of range");
    j.x = in[0]->data;
    j.y = out[0]->data;
    j.idx = in[1];
    j.K = xs->d[a];
    j.N = numel(in[1]);
    j.inner = prod(xs, a + 1, xs->rank);
    j.es = esz(in[0]);
    outer = prod(xs, 0, a);
    for (int64_t i = 0; i < j.N; i++) {
        int64_t k = geti(in[1], i);
        if (k < -j.K || k >= j.K)
            return kfail(ctx, LG_EMODEL, n,
                         "index %lld out of range for axis %d of size %lld",
                         (long long)k, a, (long long)j.K);
    }
    if (numel(out[0]) != outer * j.N * j.inner)
        return kfail(ctx, LG_EMODEL, n, "output shape mismatch");
    min = GRAIN / (j.inner ? j.inner : 1);
    lg_pool_run(ctx->pool, outer * j.N, min > 0 ? min : 1, gather_task, &j);
    return 0;
}

static int k_gather_elements(const lg_graph *g, const lg_node *n,
                             lg_tensor *const *in, lg_tensor *const *out,
                             lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape, *is = &in[1]->shape;
    int r = xs->rank, a = lg_axis(lg_attr_int(n, "axis", 0), r);
    int64_t xst[LG_MAX_RANK], idx[LG_MAX_RANK] = {0}, cnt = numel(in[1]);
    size_t es = esz(in[0]);
    (void)g;
    if (a < 0 || r == 0 || is->rank != r)
        return kfail(ctx, LG_EMODEL, n, "bad axis or indices rank");
    for (int i = 0; i < r; i++)
        if (i != a && is->d[i] > xs->d[i])
            return kfail(ctx, LG_EMODEL, n, "indices exceed data");
    lg_bcast_strides(xs, xst);
    for (int64_t t = 0; t < cnt; t++) {
        int64_t k = geti(in[1], t), off = 0;
        if (k < -xs->d[a] || k >= xs->d[a])
            return kfail(ctx, LG_EMODEL, n,
                         "index %lld out of range for axis %d of size %lld",
                         (long long)k, a, (long long)xs->d[a]);
        if (k < 0)
            k += xs->d[a];
        for (int i = 0; i < r; i++)
            off += (i == a ? k : idx[i]) * xst[i];
        memcpy((char *)out[0]->data + (size_t)t * es,
               (const char *)in[0]->data + (size_t)off * es, es);
        for (int i = r - 1; i >= 0; i--) {
            if (++idx[i] < is->d[i])
                break;
            idx[i] = 0;
        }
    }
    return 0;
}

static int k_scatter_nd(const lg_graph *g, const lg_node *n,
                        lg_tensor *const *in, lg_tensor *const *out,
                        lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape, *is = &in[1]->shape;
    const char *red = lg_attr_str(n, "reduction", "none");
    int r = xs->rank, q = is->rank, k, mode;
    int64_t xst[LG_MAX_RANK], M, slice;
    size_t es = esz(in[0]);
    char *y = out[0]->data;
    (void)g;
    if (q < 1 || is->d[q - 1] < 1 || is->d[q - 1] > r)
        return kfail(ctx, LG_EMODEL, n, "bad indices shape");
    k = (int)is->d[q - 1];
    mode = !strcmp(red, "add") ? 1 : !strcmp(red, "mul") ? 2
         : !strcmp(red, "max") ? 3 : !strcmp(red, "min") ? 4 : 0;
    if (mode && in[0]->dtype != LG_F32 && in[0]->dtype != LG_I64)
        return kfail(ctx, LG_EUNSUP, n, "reduction on %s",
                     lg_dtype_name(in[0]->dtype));
    M = prod(is, 0, q - 1);
    slice = prod(xs, k, r);
    if (numel(in[2]) != M * slice)
        return kfail(ctx, LG_EMODEL, n, "updates size mismatch");
    lg_bcast_strides(xs, xst);
    if (y != in[0]->data)
        memcpy(y, in[0]->data, out[0]->nbytes);
    for (int64_t m = 0; m < M; m++) {
        int64_t off = 0;
        const char *u = (const char *)in[2]->data + (size_t)(m * slice) * es;
        char *dst;
        for (int j = 0; j < k; j++) {
            int64_t v = geti(in[1], m * k + j);
            if (v < -xs->d[j] || v >= xs->d[j])
                return kfail(ctx, LG_EMODEL, n,
                             "index %lld out of range for axis %d of size "
                             "%lld", (long long)v, j, (long long)xs->d[j]);
            off += (v < 0 ? v + xs->d[j] : v) * xst[j];
        }
        dst = y + (size_t)off * es;
        if (!mode) {
            memcpy(dst, u, (size_t)slice * es);
        } else if (in[0]->dtype == LG_F32) {
            float *d = (float *)(void *)dst;
            const float *s = (const float *)(const void *)u;
            for (int64_t i = 0; i < slice; i++)
                d[i] = mode == 1 ? d[i] + s[i] : mode == 2 ? d[i] * s[i]
                     : mode == 3 ? (s[i] > d[i] ? s[i] : d[i])
                     : (s[i] < d[i] ? s[i] : d[i]);
        } else {
            int64_t *d = (int64_t *)(void *)dst;
            const int64_t *s = (const int64_t *)(const void *)u;
            for (int64_t i = 0; i < slice; i++)
                d[i] = mode == 1 ? (int64_t)((uint64_t)d[i] + (uint64_t)s[i])
                     : mode == 2 ? (int64_t)((uint64_t)d[i] * (uint64_t)s[i])
                     : mode == 3 ? (s[i] > d[i] ? s[i] : d[i])
                     : (s[i] < d[i] ? s[i] : d[i]);
        }
    }
    return 0;
}

/* ----------------------------------------------------------- Pad */

enum { PAD_CONST, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

/* Source index for s along an axis of size d, or -1: the pad value. */
static int64_t pad_map(int64_t s, int64_t d, int mode)
{
    if (s >= 0 && s < d)
        return s;
    switch (mode) {
    case PAD_EDGE:
        return s < 0 ? 0 : d - 1;
    case PAD_REFLECT: {
        int64_t p;
        if (d == 1)
            return 0;
        p = 2 * (d - 1);
        s %= p;
        if (s < 0)
            s += p;
        return s < d ? s : p - s;
    }
    case PAD_WRAP:
        s %= d;
        return s < 0 ? s + d : s;
    default:
        return -1;
    }
}

typedef struct pad_job {
    const char *x;
    char *y;
    const lg_shape *xs, *os;
    int64_t xst[LG_MAX_RANK];
    int64_t begin[LG_MAX_RANK];
    int mode;
    size_t es;
    const void *val;            /* the pad element */
} pad_job;

static void pad_task(void *arg, int64_t b, int64_t e)
{
    const pad_job *j = arg;
    int r = j->os->rank, last = r - 1;
    int64_t L = j->os->d[last], D = j->xs->d[last], B = j->begin[last];
    size_t es = j->es;
    for (int64_t row = b; row < e; row++) {
        int64_t rem = row, soff = 0;
        int outside = 0;
        char *y = j->y + (size_t)(row * L) * es;
        for (int i = last - 1; i >= 0; i--) {
            int64_t o = rem % j->os->d[i], s;
            rem /= j->os->d[i];
            s = pad_map(o - j->begin[i], j->xs->d[i], j->mode);
            if (s < 0)
                outside = 1;
            else
                soff += s * j->xst[i];
        }
        if (outside) {
            lg_bcast_fill(y, j->val, es, L);
            continue;
        }
        /* [lo, hi) of the row comes straight from the source row; the
         * columns either side are padding */
        const char *x = j->x + (size_t)soff * es;
        int64_t lo = B < 0 ? 0 : (B > L ? L : B);
        int64_t hi = B + D < 0 ? 0 : (B + D > L ? L : B + D);
        if (hi < lo)
            hi = lo;
        if (hi > lo)
            memcpy(y + (size_t)lo * es, x + (size_t)(lo - B) * es,
                   (size_t)(hi - lo) * es);
        for (int64_t c = 0; c < L; c++) {
            int64_t s;
            if (c == lo)
                c = hi;
            if (c >= L)
                break;
            s = pad_map(c - B, D, j->mode);
            memcpy(y + (size_t)c * es, s < 0 ? j->val : x + (size_t)s * es,
                   es);
        }
    }
}

static int k_pad(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                 lg_tensor *const *out, lg_kctx *ctx)
{
    const char *mode = lg_attr_str(n, "mode", "constant");
    const lg_tensor *cv = opt_in(n, in, 2);
    int64_t end[LG_MAX_RANK], val[1] = {0};
    pad_job j;
    lg_shape os;
    int rc, r = in[0]->shape.rank;
    (void)g;
    memset(&j, 0, sizeof j);
    rc = lg_opdef_pad(n, &in[0]->shape, n->n_in > 1 ? in[1] : NULL,
                      opt_in(n, in, 3), j.begin, end, &os, ctx->err,
                      ctx->errlen);
    if (rc < 0)
        return rc;
    if (!lg_shape_eq(&os, &out[0]->shape))
        return kfail(ctx, LG_EMODEL, n, "output shape mismatch");
    j.mode = !strcmp(mode, "reflect") ? PAD_REFLECT
           : !strcmp(mode, "edge") ? PAD_EDGE
           : !strcmp(mode, "wrap") ? PAD_WRAP : PAD_CONST;
    j.es = esz(in[0]);
    if (cv && cv->dtype != in[0]->dtype)
        return kfail(ctx, LG_EMODEL, n, "constant_value type mismatch");
    if (cv && numel(cv) > 0) {
        memcpy(val, cv->data, j.es);
    } else if (n->n_in <= 1 && in[0]->dtype == LG_F32) {
        float f = lg_attr_float(n, "value", 0.f);   /* opset < 11 */
        memcpy(val, &f, sizeof f);
    }
    j.val = val;
    if (numel(out[0]) == 0)
        return 0;
    if (r == 0) {
        memcpy(out[0]->data, in[0]->data, j.es);
        return 0;
    }
    if (j.mode != PAD_CONST && numel(in[0]) == 0)
        return kfail(ctx, LG_EMODEL, n, "cannot pad an empty tensor");
    j.x = in[0]->data;
    j.y = out[0]->data;
    j.xs = &in[0]->shape;
    j.os = &out[0]->shape;
    lg_bcast_strides(j.xs, j.xst);
    {
        int64_t L = os.d[r - 1], min = GRAIN / (L ? L : 1);
        lg_pool_run(ctx->pool, numel(out[0]) / (L ? L : 1), min ? min : 1,
                    pad_task, &j);
    }
    return 0;
}

/* ---------------------------------------------------- generators */

static int k_constant_of_shape(const lg_graph *g, const lg_node *n,
                               lg_tensor *const *in, lg_tensor *const *out,
                               lg_kctx *ctx)
{
    const lg_attr *a = lg_node_attr(n, "value");
    uint64_t zero = 0;
    const void *v = &zero;
    (void)g;
    (void)in;
    if (a && a->type == LG_ATTR_TENSOR && a->t) {
        if (a->t->dtype != out[0]->dtype || lg_tensor_numel(a->t) != 1)
            return kfail(ctx, LG_EMODEL, n, "bad value attribute");
        v = a->t->data;
    }
    lg_bcast_fill(out[0]->data, v, esz(out[0]), numel(out[0]));
    return 0;
}

static int k_range(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    int64_t cnt = numel(out[0]);
    void *y = out[0]->data;
    (void)g;
    for (int i = 0; i < 3; i++)
        if (in[i]->dtype != out[0]->dtype || numel(in[i]) != 1)
            return kfail(ctx, LG_EMODEL, n, "inputs must be scalars of the "
                         "output type");
    switch (out[0]->dtype) {
    case LG_F32: {
        float s = *(const float *)in[0]->data, d = *(const float *)in[2]->data;
        for (int64_t i = 0; i < cnt; i++)
            ((float *)y)[i] = s + (float)i * d;
        break;
    }
    case LG_F64: {
        double s = *(const double *)in[0]->data,
               d = *(const double *)in[2]->data;
        for (int64_t i = 0; i < cnt; i++)
            ((double *)y)[i] = s + (double)i * d;
        break;
    }
    case LG_I64: case LG_I32: {
        uint64_t s = (uint64_t)lg_tensor_geti(in[0], 0),
                 d = (uint64_t)lg_tensor_geti(in[2], 0);
        for (int64_t i = 0; i < cnt; i++) {
            uint64_t v = s + (uint64_t)i * d;
            if (out[0]->dtype == LG_I64)
                ((int64_t *)y)[i] = (int64_t)v;
            else
                ((int32_t *)y)[i] = (int32_t)(uint32_t)v;
        }
        break;
    }
    default:
        return kfail(ctx, LG_EUNSUP, n, "type %s",
                     lg_dtype_name(out[0]->dtype));
    }
    return 0;
}

static int k_onehot(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *os = &out[0]->shape;
    int a = lg_axis(lg_attr_int(n, "axis", -1), os->rank);
    int64_t depth, outer, inner;
    size_t es = esz(out[0]);
    const char *off, *on;
    char *y = out[0]->data;
    (void)g;
    if (a < 0 || numel(in[2]) != 2 || in[2]->dtype != out[0]->dtype)
        return kfail(ctx, LG_EMODEL, n, "bad axis or values");
    depth = os->d[a];
    outer = prod(os, 0, a);
    inner = prod(os, a + 1, os->rank);
    off = in[2]->data;
    on = off + es;
    lg_bcast_fill(y, off, es, numel(out[0]));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = geti(in[0], o * inner + i);
            if (k < 0)
                k += depth;
            if (k >= 0 && k < depth)
                memcpy(y + (size_t)((o * depth + k) * inner + i) * es, on, es);
        }
    return 0;
}

static int k_trilu(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape;
    const lg_tensor *kt = opt_in(n, in, 1);
    int upper = lg_attr_int(n, "upper", 1) != 0, r = xs->rank;
    int64_t k = 0, M, N, rows;
    size_t es = esz(in[0]);
    (void)g;
    if (r < 2)
        return kfail(ctx, LG_EMODEL, n, "input rank %d < 2", r);
    if (kt) {
        if (numel(kt) != 1)
            return kfail(ctx, LG_EMODEL, n, "k must be a scalar");
        k = lg_tensor_geti(kt, 0);
    }
    M = xs->d[r - 2];
    N = xs->d[r - 1];
    rows = numel(in[0]) / (N ? N : 1);
    if (N == 0)
        return 0;
    for (int64_t row = 0; row < rows; row++) {
        int64_t i = row % M, lo, hi;   /* keep columns [lo, hi) */
        const char *x = (const char *)in[0]->data + (size_t)(row * N) * es;
        char *y = (char *)out[0]->data + (size_t)(row * N) * es;
        /* upper keeps j - i >= k; lower keeps j - i <= k; clamp before
         * adding so that huge k cannot overflow */
        int64_t kk = k > N ? N + 1 : (k < -M - 1 ? -M - 1 : k);
        if (upper) {
            lo = i + kk;
            hi = N;
        } else {
            lo = 0;
            hi = i + kk + 1;
        }
        lo = lo < 0 ? 0 : (lo > N ? N : lo);
        hi = hi < 0 ? 0 : (hi > N ? N : hi);
        if (hi < lo)
            hi = lo;
        memset(y, 0, (size_t)lo * es);
        memcpy(y + (size_t)lo * es, x + (size_t)lo * es,
               (size_t)(hi - lo) * es);
        memset(y + (size_t)hi * es, 0, (size_t)(N - hi) * es);
    }
    return 0;
}

static int k_cumsum(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape;
    int excl = lg_attr_int(n, "exclusive", 0) != 0;
    int rev = lg_attr_int(n, "reverse", 0) != 0, a;
    int64_t K, outer, inner;
    (void)g;
    if (numel(in[1]) != 1)
        return kfail(ctx, LG_EMODEL, n, "axis must be a scalar");
    a = lg_axis(lg_tensor_geti(in[1], 0), xs->rank);
    if (a < 0 || xs->rank == 0)
        return kfail(ctx, LG_EMODEL, n, "axis %lld out of range",
                     (long long)lg_tensor_geti(in[1], 0));
    K = xs->d[a];
    outer = prod(xs, 0, a);
    inner = prod(xs, a + 1, xs->rank);
    /* Row by row along the axis: out[k] = out[k-1] + in[k (or k-1)]. */
#define CUMSUM(T, ADD)                                                     \
    for (int64_t o = 0; o < outer; o++) {                                  \
        const T *x = (const T *)in[0]->data + o * K * inner;               \
        T *y = (T *)out[0]->data + o * K * inner;                          \
        for (int64_t s = 0; s < K; s++) {                                  \
            int64_t k = rev ? K - 1 - s : s, pk = rev ? k + 1 : k - 1;     \
            T *yr = y + k * inner;                                         \
            const T *xr = x + (excl ? pk : k) * inner;                     \
            if (s == 0) {                                                  \
                for (int64_t i = 0; i < inner; i++)                        \
                    yr[i] = excl ? (T)0 : xr[i];                           \
            } else {                                                       \
                const T *yp = y + pk * inner;                              \
                for (int64_t i = 0; i < inner; i++)                        \
                    yr[i] = ADD(yp[i], xr[i]);                             \
            }                                                              \
        }                                                                  \
    }
#define FADD(p, q) ((p) + (q))
#define LADD(p, q) ((int64_t)((uint64_t)(p) + (uint64_t)(q)))
#define IADD(p, q) ((int32_t)((uint32_t)(p) + (uint32_t)(q)))
    switch (in[0]->dtype) {
    case LG_F32: CUMSUM(float, FADD) break;
    case LG_F64: CUMSUM(double, FADD) break;
    case LG_I64: CUMSUM(int64_t, LADD) break;
    case LG_I32: CUMSUM(int32_t, IADD) break;
    default:
        return kfail(ctx, LG_EUNSUP, n, "type %s",
                     lg_dtype_name(in[0]->dtype));
    }
#undef CUMSUM
    return 0;
}

/* ----------------------------------------------------- reductions */

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SSQ, R_LOGSUM,
       R_LSE };

/* Input dims collapsed into alternating kept/reduced groups. Output order
 * is the order of the kept groups. If the last group is kept ("vector
 * mode") L output elements are accumulated side by side from contiguous
 * input; otherwise each output element is a sum over runs of the last
 * (reduced, contiguous) group. */
typedef struct red_job {
    int op;
    enum lg_dtype t;
    const char *x;
    char *y;
    int nk, nr;                 /* kept groups (without the tail), reduced */
    int64_t kd[LG_MAX_RANK], kst[LG_MAX_RANK];
    int64_t rd[LG_MAX_RANK], rst[LG_MAX_RANK];
    int64_t L;                  /* vector mode: tail length, else 0 */
    int64_t R;                  /* reduced elements per output */
} red_job;

#define VB 256                  /* vector-mode block of output lanes */

/* Offsets of reduced combinations are enumerated with a counter over the
 * reduced groups [0, nr_iter). */
static int64_t red_next(const red_job *j, int nr_iter, int64_t *ri)
{
    for (int i = nr_iter - 1; i >= 0; i--) {
        if (++ri[i] < j->rd[i])
            return 1;
        ri[i] = 0;
    }
    return 0;
}

static int64_t red_off(const red_job *j, int nr_iter, const int64_t *ri)
{
    int64_t off = 0;
    for (int i = 0; i < nr_iter; i++)
        off += ri[i] * j->rst[i];
    return off;
}

/* Accumulate one contiguous float run into a double. Sums run in eight
 * interleaved lanes combined in a fixed tree: the order depends only on
 * the run length, so results stay deterministic, and the lanes break the
 * add-latency chain (and vectorize). */
#define LANES(INIT, STEP, COMBINE)                                         \
    {                                                                      \
        double l[8];                                                       \
        int64_t i = 0;                                                     \
        for (int k = 0; k < 8; k++)                                        \
            l[k] = (INIT);                                                 \
        for (; i + 8 <= n; i += 8)                                         \
            for (int k = 0; k < 8; k++) {                                  \
                double v = p[i + k];                                       \
                l[k] = (STEP);                                             \
            }                                                              \
        for (int k = 0; i < n; i++, k++) {                                 \
            double v = p[i];                                               \
            l[k] = (STEP);                                                 \
        }                                                                  \
        for (int w = 4; w >= 1; w /= 2)                                    \
            for (int k = 0; k < w; k++) {                                  \
                double v = l[k + w];                                       \
                double *lk = &l[k];                                        \
                *lk = (COMBINE);                                           \
            }                                                              \
        {                                                                  \
            double v = l[0];                                               \
            double *lk = &acc;                                             \
            *lk = (COMBINE);                                               \
        }                                                                  \
    }

LG_CLONES
static double acc_f(int op, const float *p, int64_t n, double acc, double m)
{
    switch (op) {
    case R_SUM: case R_MEAN: case R_LOGSUM:
        LANES(0.0, l[k] + v, *lk + v)
        break;
    case R_L1:
        LANES(0.0, l[k] + fabs(v), *lk + v)
        break;
    case R_L2: case R_SSQ:
        LANES(0.0, l[k] + v * v, *lk + v)
        break;
    case R_PROD:
        LANES(1.0, l[k] * v, *lk * v)
        break;
    case R_MAX:     /* NaN wins; exact, so lanes cannot change the result */
        LANES(-INFINITY, (v > l[k] || v != v) && l[k] == l[k] ? v : l[k],
              (v > *lk || v != v) && *lk == *lk ? v : *lk)
        break;
    case R_MIN:
        LANES(INFINITY, (v < l[k] || v != v) && l[k] == l[k] ? v : l[k],
              (v < *lk || v != v) && *lk == *lk ? v : *lk)
        break;
    case R_LSE:
        for (int64_t i = 0; i < n; i++)
            acc += exp((double)p[i] - m);
        break;
    }
    return acc;
}
#undef LANES

/* Lane-wise: acc[l] (op)= p[l]. */
LG_CLONES
static void vacc_f(int op, const float *p, int64_t n, double *acc,
                   const double *m)
{
    switch (op) {
    case R_SUM: case R_MEAN: case R_LOGSUM:
        for (int64_t i = 0; i < n; i++)
            acc[i] += p[i];
        break;
    case R_L1:
        for (int64_t i = 0; i < n; i++)
            acc[i] += fabsf(p[i]);
        break;
    case R_L2: case R_SSQ:
        for (int64_t i = 0; i < n; i++)
            acc[i] += (double)p[i] * p[i];
        break;
    case R_PROD:
        for (int64_t i = 0; i < n; i++)
            acc[i] *= p[i];
        break;
    case R_MAX:
        for (int64_t i = 0; i < n; i++)
            acc[i] = (p[i] > acc[i] || p[i] != p[i]) && acc[i] == acc[i]
                   ? p[i] : acc[i];
        break;
    case R_MIN:
        for (int64_t i = 0; i < n; i++)
            acc[i] = (p[i] < acc[i] || p[i] != p[i]) && acc[i] == acc[i]
                   ? p[i] : acc[i];
        break;
    case R_LSE:
        for (int64_t i = 0; i < n; i++)
            acc[i] += exp((double)p[i] - m[i]);
        break;
    }
}

static double init_f(int op)
{
    switch (op) {
    case R_PROD: return 1.0;
    case R_MAX: case R_LSE: return -INFINITY;
    case R_MIN: return INFINITY;
    default: return 0.0;
    }
}

static float fin_f(int op, double acc, int64_t R, double m)
{
    switch (op) {
    case R_MEAN: return (float)(acc / (double)R);
    case R_L2: return (float)sqrt(acc);
    case R_LOGSUM: return (float)log(acc);
    case R_LSE: return (float)(m + log(acc));
    default: return (float)acc;
    }
}

/* Integer reductions: sum/mean/prod wrap, max/min exact. */
static int64_t acc_i(int op, int64_t acc, int64_t v)
{
    switch (op) {
    case R_SUM: case R_MEAN: return (int64_t)((uint64_t)acc + (uint64_t)v);
    case R_PROD: return (int64_t)((uint64_t)acc * (uint64_t)v);
    case R_MAX: return v > acc ? v : acc;
    case R_MIN: return v < acc ? v : acc;
    default: return acc;
    }
}

static int64_t init_i(int op, enum lg_dtype t)
{
    switch (op) {
    case R_PROD: return 1;
    case R_MAX: return t == LG_I32 ? INT32_MIN : INT64_MIN;
    case R_MIN: return t == LG_I32 ? INT32_MAX : INT64_MAX;
    default: return 0;
    }
}

static int64_t ld_i(const red_job *j, int64_t i)
{
    return j->t == LG_I32 ? ((const int32_t *)(const void *)j->x)[i]
                          : ((const int64_t *)(const void *)j->x)[i];
}

static void st_i(const red_job *j, int64_t o, int64_t v)
{
    if (j->t == LG_I32)
        ((int32_t *)(void *)j->y)[o] = (int32_t)(uint32_t)(uint64_t)v;
    else
        ((int64_t *)(void *)j->y)[o] = v;
}

/* Output element base offset for kept-group index o (row index in vector
 * mode). */
static int64_t red_base(const red_job *j, int64_t o)
{
    int64_t off = 0;
    for (int i = j->nk - 1; i >= 0; i--) {
        off += (o % j->kd[i]) * j->kst[i];
        o /= j->kd[i];
    }
    return off;
}

/* Scalar mode: outputs [b, e); the last reduced group is contiguous. */
static void red_scalar_task(void *arg, int64_t b, int64_t e)
{
    const red_job *j = arg;
    int nit = j->nr - 1;
    int64_t T = j->rd[j->nr - 1];
    for (int64_t o = b; o < e; o++) {
        int64_t base = red_base(j, o), ri[LG_MAX_RANK] = {0};
        if (j->R == 0) {        /* empty reduction: the identity */
            if (j->t == LG_F32)
                ((float *)(void *)j->y)[o] = fin_f(j->op,
                    j->op == R_LSE ? 0.0 : init_f(j->op), 0, 0.0);
            else
                st_i(j, o, j->op == R_MEAN ? 0 : init_i(j->op, j->t));
            continue;
        }
        if (j->t == LG_F32) {
            const float *x = (const float *)(const void *)j->x;
            double m = 0, acc;
            if (j->op == R_LSE) {
                m = init_f(R_MAX);
                do
                    m = acc_f(R_MAX, x + base + red_off(j, nit, ri), T, m, 0);
                while (red_next(j, nit, ri));
                if (m == -INFINITY || m != m)
                    m = m != m ? m : 0;
            }
            acc = j->op == R_LSE ? 0.0 : init_f(j->op);
            do
                acc = acc_f(j->op, x + base + red_off(j, nit, ri), T, acc, m);
            while (red_next(j, nit, ri));
            ((float *)(void *)j->y)[o] = fin_f(j->op, acc, j->R, m);
        } else {
            int64_t acc = init_i(j->op, j->t);
            do {
                int64_t p = base + red_off(j, nit, ri);
                for (int64_t i = 0; i < T; i++)
                    acc = acc_i(j->op, acc, ld_i(j, p + i));
            } while (red_next(j, nit, ri));
            if (j->op == R_MEAN)
                acc = j->R ? acc / j->R : 0;
            st_i(j, o, acc);
        }
    }
}

/* Vector mode: tasks are (row, block of VB lanes). */
static void red_vector_task(void *arg, int64_t b, int64_t e)
{
    const red_job *j = arg;
    int64_t nb = (j->L + VB - 1) / VB;
    double acc[VB], m[VB];
    int64_t iacc[VB];
    for (int64_t t = b; t < e; t++) {
        int64_t row = t / nb, l0 = (t % nb) * VB, w = j->L - l0;
        int64_t base = red_base(j, row) + l0, ri[LG_MAX_RANK] = {0};
        int64_t o = row * j->L + l0;
        if (w > VB)
            w = VB;
        if (j->t == LG_F32) {
            const float *x = (const float *)(const void *)j->x;
            float *y = (float *)(void *)j->y;
            if (j->op == R_LSE) {
                for (int64_t i = 0; i < w; i++)
                    m[i] = -INFINITY;
                if (j->R)
                    do
                        vacc_f(R_MAX, x + base + red_off(j, j->nr, ri), w, m,
                               NULL);
                    while (red_next(j, j->nr, ri));
                for (int64_t i = 0; i < w; i++) {
                    if (m[i] == -INFINITY)
                        m[i] = 0;
                    acc[i] = 0;
                }
            } else {
                for (int64_t i = 0; i < w; i++)
                    acc[i] = init_f(j->op);
            }
            if (j->R)
                do
                    vacc_f(j->op, x + base + red_off(j, j->nr, ri), w, acc,
                           m);
                while (red_next(j, j->nr, ri));
            for (int64_t i = 0; i < w; i++)
                y[o + i] = fin_f(j->op, acc[i], j->R, m[i]);
        } else {
            for (int64_t i = 0; i < w; i++)
                iacc[i] = init_i(j->op, j->t);
            if (j->R)
                do {
                    int64_t p = base + red_off(j, j->nr, ri);
                    for (int64_t i = 0; i < w; i++)
                        iacc[i] = acc_i(j->op, iacc[i], ld_i(j, p + i));
                } while (red_next(j, j->nr, ri));
            for (int64_t i = 0; i < w; i++)
                st_i(j, o + i, j->op == R_MEAN
                     ? (j->R ? iacc[i] / j->R : 0) : iacc[i]);
        }
    }
}

static int k_reduce(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    static const char *const names[] = {
        "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
        "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
        "ReduceLogSumExp"};
    const lg_shape *xs = &in[0]->shape;
    int reduced[LG_MAX_RANK], any = 0, rc, ng = 0, gred[LG_MAX_RANK];
    int64_t gd[LG_MAX_RANK], gst[LG_MAX_RANK], st[LG_MAX_RANK], M;
    lg_shape os;
    red_job j;
    (void)g;
    memset(&j, 0, sizeof j);
    j.op = -1;
    for (int i = 0; i < 10; i++)
        if (!strcmp(n->op, names[i]))
            j.op = i;
    j.t = in[0]->dtype;
    if (j.op < 0 || (j.t != LG_F32 && j.t != LG_I64 && j.t != LG_I32) ||
        (j.t != LG_F32 && j.op != R_SUM && j.op != R_MEAN && j.op != R_MAX &&
         j.op != R_MIN && j.op != R_PROD))
        return kfail(ctx, LG_EUNSUP, n, "type %s", lg_dtype_name(j.t));
    rc = lg_opdef_reduce(n, xs, opt_in(n, in, 1), reduced, &os, ctx->err,
                         ctx->errlen);
    if (rc < 0)
        return rc;
    if (!lg_shape_eq(&os, &out[0]->shape))
        return kfail(ctx, LG_EMODEL, n, "output shape mismatch");
    for (int i = 0; i < xs->rank; i++)
        any |= reduced[i];
    M = numel(out[0]);
    if (M == 0)
        return 0;
    if (!any) {                 /* noop_with_empty_axes */
        memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
        return 0;
    }
    /* collapse into groups, dropping unit dims */
    lg_bcast_strides(xs, st);
    for (int i = 0; i < xs->rank; i++) {
        if (xs->d[i] == 1)
            continue;
        if (ng > 0 && gred[ng - 1] == reduced[i]) {
            gd[ng - 1] *= xs->d[i];
            gst[ng - 1] = st[i];
        } else {
            gd[ng] = xs->d[i];
            gst[ng] = st[i];
            gred[ng] = reduced[i];
            ng++;
        }
    }
    j.x = in[0]->data;
    j.y = out[0]->data;
    j.R = 1;
    for (int i = 0; i < ng; i++) {
        if (gred[i]) {
            j.rd[j.nr] = gd[i];
            j.rst[j.nr++] = gst[i];
            j.R *= gd[i];
        } else if (i == ng - 1) {
            j.L = gd[i];        /* kept contiguous tail: vector mode */
        } else {
            j.kd[j.nk] = gd[i];
            j.kst[j.nk++] = gst[i];
        }
    }
    if (j.nr == 0) {            /* only unit dims reduced: a copy */
        j.rd[0] = 1;
        j.rst[0] = 0;
        j.nr = 1;
    }
    if (j.L) {
        int64_t rows = M / j.L, nb = (j.L + VB - 1) / VB;
        int64_t min = GRAIN / (j.R * VB + 1);
        lg_pool_run(ctx->pool, rows * nb, min > 0 ? min : 1,
                    red_vector_task, &j);
    } else {
        int64_t min = GRAIN / (j.R + 1);
        lg_pool_run(ctx->pool, M, min > 0 ? min : 1, red_scalar_task, &j);
    }
    return 0;
}

/* ----------------------------------------------- ArgMax, ArgMin */

static int k_argmax(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape;
    int a = lg_axis(lg_attr_int(n, "axis", 0), xs->rank);
    int mx = strcmp(n->op, "ArgMax") == 0;
    int last = lg_attr_int(n, "select_last_index", 0) != 0;
    int64_t K, outer, inner, *y = out[0]->data;
    (void)g;
    if (a < 0 || xs->rank == 0 || xs->d[a] == 0)
        return kfail(ctx, LG_EMODEL, n, "bad axis");
    K = xs->d[a];
    outer = prod(xs, 0, a);
    inner = prod(xs, a + 1, xs->rank);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * K * inner + i, best = 0;
            if (in[0]->dtype == LG_F32) {
                const float *x = (const float *)in[0]->data + base;
                float bv = x[0];
                for (int64_t k = 1; k < K; k++) {
                    float v = x[k * inner];
                    int better = mx ? (last ? v >= bv : v > bv)
                                    : (last ? v <= bv : v < bv);
                    if (better) {
                        bv = v;
                        best = k;
                    }
                }
            } else {
                int64_t bv = geti(in[0], base);
                for (int64_t k = 1; k < K; k++) {
                    int64_t v = geti(in[0], base + k * inner);
                    int better = mx ? (last ? v >= bv : v > bv)
                                    : (last ? v <= bv : v < bv);
                    if (better) {
                        bv = v;
                        best = k;
                    }
                }
            }
            y[o * inner + i] = best;
        }
    return 0;
}

/* ---------------------------------------------------------- TopK */

typedef struct topk_ent {
    union {
        double f;
        int64_t i;
    } v;
    int64_t idx;
} topk_ent;

/* Total orders: NaN above every number; ties by lower index first. */
static int cmp_fdesc(const void *p, const void *q)
{
    const topk_ent *a = p, *b = q;
    int an = a->v.f != a->v.f, bn = b->v.f != b->v.f;
    if (an != bn)
        return an ? -1 : 1;
    if (!an && a->v.f != b->v.f)
        return a->v.f > b->v.f ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_fasc(const void *p, const void *q)
{
    const topk_ent *a = p, *b = q;
    int an = a->v.f != a->v.f, bn = b->v.f != b->v.f;
    if (an != bn)
        return an ? 1 : -1;
    if (!an && a->v.f != b->v.f)
        return a->v.f < b->v.f ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_idesc(const void *p, const void *q)
{
    const topk_ent *a = p, *b = q;
    if (a->v.i != b->v.i)
        return a->v.i > b->v.i ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_iasc(const void *p, const void *q)
{
    const topk_ent *a = p, *b = q;
    if (a->v.i != b->v.i)
        return a->v.i < b->v.i ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int k_topk(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                  lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape;
    int a = lg_axis(lg_attr_int(n, "axis", -1), xs->rank);
    int largest = lg_attr_int(n, "largest", 1) != 0;
    int isf = in[0]->dtype == LG_F32;
    int64_t K, k, outer, inner;
    topk_ent *buf;
    (void)g;
    if (a < 0 || xs->rank == 0 || n->n_out < 2)
        return kfail(ctx, LG_EMODEL, n, "bad axis");
    if (in[0]->dtype != LG_F32 && in[0]->dtype != LG_I64 &&
        in[0]->dtype != LG_I32)
        return kfail(ctx, LG_EUNSUP, n, "type %s",
                     lg_dtype_name(in[0]->dtype));
    if (!out[0] && !out[1])
        return 0;
    K = xs->d[a];
    k = out[0] ? out[0]->shape.d[a] : out[1]->shape.d[a];
    outer = prod(xs, 0, a);
    inner = prod(xs, a + 1, xs->rank);
    if (k > K)
        return kfail(ctx, LG_EMODEL, n, "k > axis size");
    if (k == 0 || outer * inner == 0)
        return 0;
    buf = malloc((size_t)K * sizeof *buf);
    if (!buf)
        return -ENOMEM;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * K * inner + i, obase = o * k * inner + i;
            for (int64_t c = 0; c < K; c++) {
                if (isf)
                    buf[c].v.f = ((const float *)in[0]->data)[base + c * inner];
                else
                    buf[c].v.i = lg_tensor_geti(in[0], base + c * inner);
                buf[c].idx = c;
            }
            qsort(buf, (size_t)K, sizeof *buf,
                  isf ? (largest ? cmp_fdesc : cmp_fasc)
                      : (largest ? cmp_idesc : cmp_iasc));
            for (int64_t c = 0; c < k; c++) {
                int64_t p = obase + c * inner;
                if (out[0]) {
                    if (isf)
                        ((float *)out[0]->data)[p] = (float)buf[c].v.f;
                    else if (in[0]->dtype == LG_I64)
                        ((int64_t *)out[0]->data)[p] = buf[c].v.i;
                    else
                        ((int32_t *)out[0]->data)[p] = (int32_t)buf[c].v.i;
                }
                if (out[1])
                    ((int64_t *)out[1]->data)[p] = buf[c].idx;
            }
        }
    free(buf);
    return 0;
}

/* -------------------------------------------------------- Resize */

/* Source coordinate of output coordinate x along one axis. */
static double resize_coord(enum lg_resize_coord m, double x, double scale,
                           int64_t in, int64_t out)
{
    switch (m) {
    case LG_RC_PYTORCH_HALF_PIXEL:
        return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case LG_RC_ALIGN_CORNERS:
        return out > 1 ? x * (double)(in - 1) / (double)(out - 1) : 0.0;
    case LG_RC_ASYMMETRIC:
        return x / scale;
    case LG_RC_TF_HALF_PIXEL:
        return (x + 0.5) / scale;
    case LG_RC_HALF_PIXEL_SYM: {
        double adj = (double)out / (scale * (double)in);
        double center = (double)in / 2;
        return center * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    default:                    /* half_pixel */
        return (x + 0.5) / scale - 0.5;
    }
}

static int64_t resize_nearest(enum lg_resize_nearest m, double x, double scale,
                              int64_t in)
{
    double f;
    int64_t v;
    if (x < -1.0)               /* keeps the casts below defined */
        x = -1.0;
    if (x > (double)in)
        x = (double)in;
    f = floor(x);
    switch (m) {
    case LG_RN_ROUND_PREFER_CEIL:
        v = (int64_t)(x == f + 0.5 ? f + 1 : round(x));
        break;
    case LG_RN_FLOOR:
        v = (int64_t)f;
        break;
    case LG_RN_CEIL:
        v = (int64_t)ceil(x);
        break;
    case LG_RN_SIMPLE:
        v = scale < 1.0 ? (int64_t)ceil(x) : (int64_t)x;
        break;
    default:                    /* round_prefer_floor */
        v = (int64_t)(x == f + 0.5 ? f : round(x));
        break;
    }
    return v < 0 ? 0 : (v >= in ? in - 1 : v);
}

typedef struct resize_job {
    const float *x;
    float *y;
    const lg_shape *xs, *os;
    int64_t xst[LG_MAX_RANK];
    int64_t *map[LG_MAX_RANK];  /* nearest: source index per output index */
    /* linear, last two axes (h = rank-2 may be absent): */
    int64_t *h0, *h1, *w0i, *w1i;
    float *hw, *ww;             /* weight of the second neighbour */
    int linear;
} resize_job;

static void resize_task(void *arg, int64_t b, int64_t e)
{
    const resize_job *j = arg;
    int r = j->os->rank, last = r - 1;
    int64_t L = j->os->d[last];
    for (int64_t row = b; row < e; row++) {
        int64_t rem = row, soff = 0, oh = 0;
        float *y = j->y + row * L;
        for (int i = last - 1; i >= 0; i--) {
            int64_t o = rem % j->os->d[i];
            rem /= j->os->d[i];
            if (j->linear && i == last - 1)
                oh = o;
            else
                soff += (j->linear ? o : j->map[i][o]) * j->xst[i];
        }
        if (!j->linear) {
            const float *x = j->x + soff;
            const int64_t *mp = j->map[last];
            for (int64_t c = 0; c < L; c++)
                y[c] = x[mp[c]];
        } else {
            const float *x0, *x1;
            float wh = 0.f;
            if (r >= 2) {
                x0 = j->x + soff + j->h0[oh] * j->xst[last - 1];
                x1 = j->x + soff + j->h1[oh] * j->xst[last - 1];
                wh = j->hw[oh];
            } else {
                x0 = x1 = j->x + soff;
            }
            for (int64_t c = 0; c < L; c++) {
                float ww = j->ww[c];
                int64_t a0 = j->w0i[c], a1 = j->w1i[c];
                float top = x0[a0] + ww * (x0[a1] - x0[a0]);
                float bot = x1[a0] + ww * (x1[a1] - x1[a0]);
                y[c] = top + wh * (bot - top);
            }
        }
    }
}

/* Linear interpolation table along one axis. */
static void lin_table(const lg_resize *rs, int ax, int64_t in, int64_t out,
                      int64_t *i0, int64_t *i1, float *w)
{
    for (int64_t o = 0; o < out; o++) {
        double x = resize_coord(rs->coord, (double)o, rs->scale[ax], in, out);
        int64_t a;
        if (x < 0)
            x = 0;
        if (x > (double)(in - 1))
            x = (double)(in - 1);
        a = (int64_t)x;
        i0[o] = a;
        i1[o] = a + 1 < in ? a + 1 : a;
        w[o] = (float)(x - (double)a);
    }
}

static int k_resize(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    const lg_shape *xs = &in[0]->shape, *os = &out[0]->shape;
    const lg_tensor *sc = NULL, *sz = NULL;
    lg_tensor *tmp = NULL;
    int is, iz, rc, r = xs->rank;
    int64_t total = 0;
    lg_resize rs;
    resize_job j;
    char *mem;
    if (in[0]->dtype != LG_F32)
        return kfail(ctx, LG_EUNSUP, n, "type %s",
                     lg_dtype_name(in[0]->dtype));
    lg_opdef_resize_inputs(g->opset, n, &is, &iz);
    sc = opt_in(n, in, is);
    sz = iz >= 0 ? opt_in(n, in, iz) : NULL;
    if (!sc && !sz && strcmp(n->op, "Upsample") == 0) {
        const lg_attr *a = lg_node_attr(n, "scales");
        lg_shape s;
        if (!a || a->type != LG_ATTR_FLOATS)
            return kfail(ctx, LG_EMODEL, n, "missing scales");
        s = lg_shape_make(1, (int64_t[]){a->n});
        if (!(tmp = lg_tensor_new(LG_F32, &s)))
            return -ENOMEM;
        memcpy(tmp->data, a->floats, (size_t)a->n * sizeof(float));
        sc = tmp;
    }
    rc = lg_opdef_resize(g->opset, n, xs, sc, sz, &rs, ctx->err, ctx->errlen);
    lg_tensor_unref(tmp);
    if (rc < 0)
        return rc;
    if (!lg_shape_eq(&rs.out, os))
        return kfail(ctx, LG_EMODEL, n, "output shape mismatch");
    if (numel(out[0]) == 0 || r == 0) {
        if (r == 0)
            memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
        return 0;
    }
    for (int i = 0; i < r; i++)
        total += os->d[i];
    /* tables: per axis int64 index map (+ int64 second index + float
     * weight for the linear axes); sizes are bounded by the output dims */
    mem = malloc((size_t)total * (2 * sizeof(int64_t) + sizeof(float)) + 64);
    if (!mem)
        return -ENOMEM;
    memset(&j, 0, sizeof j);
    j.x = in[0]->data;
    j.y = out[0]->data;
    j.xs = xs;
    j.os = os;
    j.linear = rs.linear;
    lg_bcast_strides(xs, j.xst);
    {
        int64_t *ip = (int64_t *)(void *)mem;
        float *fp = (float *)(void *)(ip + 2 * total);
        for (int i = 0; i < r; i++) {
            int64_t od = os->d[i];
            if (rs.linear && i == r - 1) {
                j.w0i = ip;
                j.w1i = ip + od;
                j.ww = fp;
                lin_table(&rs, i, xs->d[i], od, j.w0i, j.w1i, j.ww);
            } else if (rs.linear && i == r - 2) {
                j.h0 = ip;
                j.h1 = ip + od;
                j.hw = fp;
                lin_table(&rs, i, xs->d[i], od, j.h0, j.h1, j.hw);
            } else {
                j.map[i] = ip;
                for (int64_t o = 0; o < od; o++)
                    ip[o] = rs.linear ? o : resize_nearest(
                        rs.nearest, resize_coord(rs.coord, (double)o,
                                                 rs.scale[i], xs->d[i], od),
                        rs.scale[i], xs->d[i]);
            }
            ip += 2 * od;
            fp += od;
        }
    }
    {
        int64_t L = os->d[r - 1], min = GRAIN / (L ? L : 1);
        lg_pool_run(ctx->pool, numel(out[0]) / L, min > 0 ? min : 1,
                    resize_task, &j);
    }
    free(mem);
    return 0;
}

/* ------------------------------------------ Shape, Size, Constant */

static int k_shape(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    int r = in[0]->shape.rank;
    int64_t s = lg_attr_int(n, "start", 0), e = lg_attr_int(n, "end", r);
    (void)g;
    if (s < 0)
        s += r;
    if (e < 0)
        e += r;
    s = s < 0 ? 0 : (s > r ? r : s);
    e = e < 0 ? 0 : (e > r ? r : e);
    if ((e > s ? e - s : 0) != numel(out[0]))
        return kfail(ctx, LG_EMODEL, n, "output shape mismatch");
    for (int64_t i = s; i < e; i++)
        ((int64_t *)out[0]->data)[i - s] = in[0]->shape.d[i];
    return 0;
}

static int k_size(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                  lg_tensor *const *out, lg_kctx *ctx)
{
    (void)g;
    (void)n;
    (void)ctx;
    *(int64_t *)out[0]->data = numel(in[0]);
    return 0;
}

static int k_constant(const lg_graph *g, const lg_node *n,
                      lg_tensor *const *in, lg_tensor *const *out,
                      lg_kctx *ctx)
{
    const lg_attr *a = n->n_attrs == 1 ? &n->attrs[0] : NULL;
    void *y = out[0]->data;
    size_t nb = out[0]->nbytes;
    (void)g;
    (void)in;
    if (!a)
        return kfail(ctx, LG_EMODEL, n, "needs one value attribute");
    if (a->type == LG_ATTR_TENSOR && a->t && a->t->nbytes == nb &&
        a->t->dtype == out[0]->dtype) {
        memcpy(y, a->t->data, nb);
    } else if (a->type == LG_ATTR_FLOAT && nb == sizeof(float)) {
        memcpy(y, &a->f, nb);
    } else if (a->type == LG_ATTR_INT && nb == sizeof(int64_t)) {
        memcpy(y, &a->i, nb);
    } else if (a->type == LG_ATTR_FLOATS && nb == (size_t)a->n * sizeof(float)) {
        if (nb)
            memcpy(y, a->floats, nb);
    } else if (a->type == LG_ATTR_INTS && nb == (size_t)a->n * sizeof(int64_t)) {
        if (nb)
            memcpy(y, a->ints, nb);
    } else {
        return kfail(ctx, LG_EMODEL, n, "value does not match the output");
    }
    return 0;
}

const lg_kernel lg_cpu_kernels_tensor[] = {
    {"Reshape", k_copy, NULL, NULL},
    {"Flatten", k_copy, NULL, NULL},
    {"Squeeze", k_copy, NULL, NULL},
    {"Unsqueeze", k_copy, NULL, NULL},
    {"Transpose", k_transpose, NULL, NULL},
    {"Slice", k_slice, NULL, NULL},
    {"Expand", k_expand, NULL, NULL},
    {"Tile", k_tile, NULL, NULL},
    {"DepthToSpace", k_d2s, NULL, NULL},
    {"SpaceToDepth", k_d2s, NULL, NULL},
    {"Concat", k_concat, NULL, NULL},
    {"Split", k_split, NULL, NULL},
    {"Gather", k_gather, NULL, NULL},
    {"GatherElements", k_gather_elements, NULL, NULL},
    {"ScatterND", k_scatter_nd, NULL, NULL},
    {"Pad", k_pad, NULL, NULL},
    {"ConstantOfShape", k_constant_of_shape, NULL, NULL},
    {"Range", k_range, NULL, NULL},
    {"OneHot", k_onehot, NULL, NULL},
    {"Trilu", k_trilu, NULL, NULL},
    {"CumSum", k_cumsum, NULL, NULL},
    {"ReduceMean", k_reduce, NULL, NULL},
    {"ReduceSum", k_reduce, NULL, NULL},
    {"ReduceMax", k_reduce, NULL, NULL},
    {"ReduceMin", k_reduce, NULL, NULL},
    {"ReduceProd", k_reduce, NULL, NULL},
    {"ReduceL1", k_reduce, NULL, NULL},
    {"ReduceL2", k_reduce, NULL, NULL},
    {"ReduceSumSquare", k_reduce, NULL, NULL},
    {"ReduceLogSum", k_reduce, NULL, NULL},
    {"ReduceLogSumExp", k_reduce, NULL, NULL},
    {"ArgMax", k_argmax, NULL, NULL},
    {"ArgMin", k_argmax, NULL, NULL},
    {"TopK", k_topk, NULL, NULL},
    {"Resize", k_resize, NULL, NULL},
    {"Upsample", k_resize, NULL, NULL},
    {"Shape", k_shape, NULL, NULL},
    {"Size", k_size, NULL, NULL},
    {"Constant", k_constant, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};
