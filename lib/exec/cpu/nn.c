/*
 * nn.c - CPU kernels (float32) for the NN ops other than Conv: Gemm,
 * MatMul, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool,
 * BatchNormalization, InstanceNormalization, LayerNormalization, Softmax,
 * LogSoftmax and LRN.
 *
 * Owns lg_cpu_kernels_nn[]. Gemm and MatMul go to OpenBLAS (sgemm, or
 * sgemv for a single row or column), called on the kernel's thread so
 * that OpenBLAS uses its own threads. Everything else is a loop over
 * independent rows or (batch, channel) planes split across ctx->pool; pool
 * tasks never call BLAS or the pool. Window geometry comes from
 * lg_nn_window(), the same function shape inference used. Reductions are
 * written with explicit lanes so that they vectorise without -ffast-math
 * and give the same bits on every run.
 */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernel.h"
#include "lgerr.h"
#include "op.h"
#include "opdef_nn.h"

/* Hot loops: AVX-512 / AVX2 / baseline clones at -O3, chosen at load. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
#define LG_VEC __attribute__((optimize("O3", "fp-contract=fast"), \
    target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LG_VEC
#endif

#define LANES 16

/* Least work per pool task (elements times a rough per-element cost):
 * waking and joining a worker costs several microseconds. */
#define TASK_WORK 65536

/* ------------------------------------------------------------ helpers */

static int check_f32(const lg_node *n, lg_tensor *const *in,
                     lg_tensor *const *out, lg_kctx *ctx)
{
    for (int i = 0; i < n->n_in; i++)
        if (in[i] && in[i]->dtype != LG_F32)
            return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP,
                           "%s '%s': only float32 is supported (input %d is "
                           "%s)", n->op, n->name, i,
                           lg_dtype_name(in[i]->dtype));
    for (int i = 0; i < n->n_out; i++)
        if (out[i] && out[i]->dtype != LG_F32)
            return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP,
                           "%s '%s': only float32 is supported (output %d "
                           "is %s)", n->op, n->name, i,
                           lg_dtype_name(out[i]->dtype));
    return 0;
}

static int bad_shape(const lg_node *n, lg_kctx *ctx, const char *what)
{
    return lg_errf(ctx->err, ctx->errlen, LG_EMODEL,
                   "%s '%s': %s does not match the inferred shapes", n->op,
                   n->name, what);
}

static int64_t numel(const lg_tensor *t)
{
    return lg_tensor_numel(t);
}

/* Items per pool task so that one task does at least ~min_work units. */
static int64_t grain(int64_t work_per_item, int64_t min_work)
{
    if (work_per_item <= 0)
        return min_work;
    return work_per_item >= min_work ? 1 : min_work / work_per_item + 1;
}

static LG_VEC double sum_f(const float *restrict x, int64_t n)
{
    float l[LANES] = {0};
    double s = 0;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            l[j] += x[i + j];
    for (int j = 0; j < LANES; j++)
        s += l[j];
    for (; i < n; i++)
        s += x[i];
    return s;
}

/* Sum of (x - m)^2. */
static LG_VEC double sumsq_dev(const float *restrict x, int64_t n, float m)
{
    float l[LANES] = {0};
    double s = 0;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float d = x[i + j] - m;
            l[j] += d * d;
        }
    for (int j = 0; j < LANES; j++)
        s += l[j];
    for (; i < n; i++) {
        float d = x[i] - m;
        s += (double)d * d;
    }
    return s;
}

/* max with NaN propagation (as PyTorch's pools and reductions). */
static inline float max_nan(float m, float v)
{
    return (v > m || v != v) ? v : m;
}

static LG_VEC float max_f(const float *restrict x, int64_t n)
{
    float l[LANES], m = -INFINITY;
    int64_t i = 0;
    for (int j = 0; j < LANES; j++)
        l[j] = -INFINITY;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            l[j] = max_nan(l[j], x[i + j]);
    for (int j = 0; j < LANES; j++)
        m = max_nan(m, l[j]);
    for (; i < n; i++)
        m = max_nan(m, x[i]);
    return m;
}

/* ---------------------------------------------------------- Gemm/MatMul */

static int blas_dims_ok(int64_t a, int64_t b, int64_t c)
{
    return a <= INT32_MAX && b <= INT32_MAX && c <= INT32_MAX;
}

/* y[m x n] (ldy n, already holding the addend) += op(A)·op(B), through
 * lg_sgemm (sgemm or sgemv, split across the pool). */
static void mm_acc(lg_pool *pool, int ta, int tb, int64_t m, int64_t n,
                   int64_t k, float alpha, const float *a, int64_t lda,
                   const float *b, int64_t ldb, float *y)
{
    if (m == 0 || n == 0 || k == 0)
        return;
    lg_sgemm(pool, ta, tb, m, n, k, alpha, a, lda, b, ldb, 1.0f, y, n);
}

static int gemm_run(const lg_graph *g, const lg_node *n,
                    lg_tensor *const *in, lg_tensor *const *out,
                    lg_kctx *ctx)
{
    (void)g;
    const lg_tensor *A = in[0], *B = in[1];
    const lg_tensor *C = n->n_in > 2 ? in[2] : NULL;
    int ta = lg_attr_int(n, "transA", 0) != 0;
    int tb = lg_attr_int(n, "transB", 0) != 0;
    float alpha = lg_attr_float(n, "alpha", 1.0f);
    float beta = lg_attr_float(n, "beta", 1.0f);
    int64_t m, k, nn, rs = 0, cs = 0;
    float *y = out[0]->data;
    int rc;

    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    if (A->shape.rank != 2 || B->shape.rank != 2)
        return bad_shape(n, ctx, "A or B");
    m = A->shape.d[ta ? 1 : 0];
    k = A->shape.d[ta ? 0 : 1];
    nn = B->shape.d[tb ? 0 : 1];
    if (B->shape.d[tb ? 1 : 0] != k || out[0]->shape.rank != 2 ||
        out[0]->shape.d[0] != m || out[0]->shape.d[1] != nn)
        return bad_shape(n, ctx, "the output");
    if (!blas_dims_ok(m, nn, k))
        return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP, "Gemm '%s': "
                       "dimensions exceed the BLAS int range", n->name);
    if (C && beta != 0.0f) {
        const float *c = C->data;
        /* Unidirectional broadcast of C to [m, nn] via strides. */
        if (C->shape.rank == 2) {
            rs = C->shape.d[0] == 1 ? 0 : C->shape.d[1];
            cs = C->shape.d[1] == 1 ? 0 : 1;
            if ((C->shape.d[0] != 1 && C->shape.d[0] != m) ||
                (C->shape.d[1] != 1 && C->shape.d[1] != nn))
                return bad_shape(n, ctx, "C");
        } else if (C->shape.rank == 1) {
            cs = C->shape.d[0] == 1 ? 0 : 1;
            if (C->shape.d[0] != 1 && C->shape.d[0] != nn)
                return bad_shape(n, ctx, "C");
        } else if (C->shape.rank != 0) {
            return bad_shape(n, ctx, "C");
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < nn; j++)
                y[i * nn + j] = beta * c[i * rs + j * cs];
    } else {
        memset(y, 0, (size_t)(m * nn) * sizeof *y);
    }
    mm_acc(ctx->pool, ta, tb, m, nn, k, alpha, A->data, A->shape.d[1], B->data,
           B->shape.d[1], y);
    return 0;
}

static int matmul_run(const lg_graph *g, const lg_node *n,
                      lg_tensor *const *in, lg_tensor *const *out,
                      lg_kctx *ctx)
{
    (void)g;
    const lg_tensor *A = in[0], *B = in[1];
    const lg_shape *as = &A->shape, *bs = &B->shape, *ys = &out[0]->shape;
    int ra = as->rank, rb = bs->rank, nb, rc;
    int64_t m, k, nn, batch = 1, abatch = 1, bbatch = 1;
    int64_t astr[LG_MAX_RANK], bstr[LG_MAX_RANK];
    const float *a = A->data, *b = B->data;
    float *y = out[0]->data;

    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    if (ra < 1 || rb < 1)
        return bad_shape(n, ctx, "an operand");
    m = ra >= 2 ? as->d[ra - 2] : 1;
    k = as->d[ra - 1];
    nn = rb >= 2 ? bs->d[rb - 1] : 1;
    if ((rb >= 2 ? bs->d[rb - 2] : bs->d[0]) != k)
        return bad_shape(n, ctx, "the inner dimension");
    nb = ys->rank - (ra >= 2) - (rb >= 2);
    if (nb < 0 || nb < ra - 2 || nb < rb - 2 || numel(out[0]) <= 0 ||
        (ra >= 2 && ys->d[nb] != m) || (rb >= 2 && ys->d[ys->rank - 1] != nn))
        return numel(out[0]) == 0 ? 0 : bad_shape(n, ctx, "the output");
    if (!blas_dims_ok(m, nn, k))
        return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP, "MatMul '%s': "
                       "dimensions exceed the BLAS int range", n->name);
    /* Batch strides (in matrices) of A and B over the output's batch
     * dims, right-aligned; 0 where an operand broadcasts. */
    {
        int64_t sa = 1, sb = 1;
        for (int i = nb - 1; i >= 0; i--) {
            int ia = i - (nb - (ra > 2 ? ra - 2 : 0));
            int ib = i - (nb - (rb > 2 ? rb - 2 : 0));
            int64_t da = ia >= 0 ? as->d[ia] : 1, db = ib >= 0 ? bs->d[ib] : 1;
            if ((da != 1 && da != ys->d[i]) || (db != 1 && db != ys->d[i]))
                return bad_shape(n, ctx, "the batch dimensions");
            astr[i] = da == 1 ? 0 : sa;
            bstr[i] = db == 1 ? 0 : sb;
            sa *= da;
            sb *= db;
            batch *= ys->d[i];
        }
        abatch = sa;
        bbatch = sb;
    }
    memset(y, 0, (size_t)numel(out[0]) * sizeof *y);
    if (bbatch == 1 && abatch == batch && (uint64_t)batch * (uint64_t)m <=
        INT32_MAX) {
        /* B is shared: the batch folds into A's rows (x @ W). */
        mm_acc(ctx->pool, 0, 0, batch * m, nn, k, 1.0f, a, k, b, nn, y);
        return 0;
    }
    for (int64_t t = 0; t < batch; t++) {
        int64_t ao = 0, bo = 0, r = t;
        for (int i = nb - 1; i >= 0; i--) {
            int64_t idx = r % ys->d[i];
            r /= ys->d[i];
            ao += idx * astr[i];
            bo += idx * bstr[i];
        }
        mm_acc(ctx->pool, 0, 0, m, nn, k, 1.0f, a + ao * m * k, k, b + bo * k * nn, nn,
               y + t * m * nn);
    }
    return 0;
}

/* --------------------------------------------------------------- pools */

enum pool_kind { POOL_MAX, POOL_AVG };

/* Per output index along one dim: the taps [kb, ke) that land inside the
 * input, and how many land inside the padded input (for
 * count_include_pad). */
struct taps {
    int32_t kb, ke, npad;
};

struct pool_arg {
    enum pool_kind kind;
    int include_pad;
    const float *x;
    float *y;
    int64_t in[3], out[3], k[3], s[3], d[3];
    int64_t p0[3];              /* begin pads */
    int64_t isz, osz;
    struct taps *t[3];          /* per dim, out[i] entries */
};

static void taps_fill(struct taps *t, int64_t in, int64_t out, int64_t k,
                      int64_t s, int64_t d, int64_t p0, int64_t p1)
{
    for (int64_t o = 0; o < out; o++) {
        int64_t st = o * s - p0, kb = 0, ke = k, np = 0;
        /* st + kk*d in [0, in) */
        if (st < 0)
            kb = (-st + d - 1) / d;
        if (in - 1 - st < 0)
            ke = 0;
        else if ((in - 1 - st) / d + 1 < ke)
            ke = (in - 1 - st) / d + 1;
        if (kb > ke)
            kb = ke;
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t pos = st + kk * d;
            np += pos >= -p0 && pos < in + p1;
        }
        t[o].kb = (int32_t)kb;
        t[o].ke = (int32_t)ke;
        t[o].npad = (int32_t)np;
    }
}

static void pool_planes(void *arg, int64_t b, int64_t e)
{
    const struct pool_arg *a = arg;
    for (int64_t pl = b; pl < e; pl++) {
        const float *x = a->x + pl * a->isz;
        float *y = a->y + pl * a->osz;
        for (int64_t od = 0; od < a->out[0]; od++) {
            const struct taps *td = &a->t[0][od];
            int64_t d0 = od * a->s[0] - a->p0[0];
            for (int64_t oh = 0; oh < a->out[1]; oh++) {
                const struct taps *th = &a->t[1][oh];
                int64_t h0 = oh * a->s[1] - a->p0[1];
                for (int64_t ow = 0; ow < a->out[2]; ow++) {
                    const struct taps *tw = &a->t[2][ow];
                    int64_t w0 = ow * a->s[2] - a->p0[2];
                    float acc = a->kind == POOL_MAX ? -INFINITY : 0.0f;
                    /* Only taps [kb, ke) inside the input are read, so
                     * every index below is >= 0. */
                    for (int64_t kd = td->kb; kd < td->ke; kd++) {
                        for (int64_t kh = th->kb; kh < th->ke; kh++) {
                            const float *row = x +
                                ((d0 + kd * a->d[0]) * a->in[1] +
                                 h0 + kh * a->d[1]) * a->in[2] + w0;
                            if (a->kind == POOL_MAX)
                                for (int64_t kw = tw->kb; kw < tw->ke; kw++)
                                    acc = max_nan(acc, row[kw * a->d[2]]);
                            else
                                for (int64_t kw = tw->kb; kw < tw->ke; kw++)
                                    acc += row[kw * a->d[2]];
                        }
                    }
                    if (a->kind == POOL_AVG) {
                        int64_t cnt = a->include_pad
                            ? (int64_t)td->npad * th->npad * tw->npad
                            : (int64_t)(td->ke - td->kb) * (th->ke - th->kb) *
                              (tw->ke - tw->kb);
                        acc = cnt > 0 ? acc / (float)cnt : 0.0f;
                    }
                    y[(od * a->out[1] + oh) * a->out[2] + ow] = acc;
                }
            }
        }
    }
}

/* 1-D and 2-D pools, the common case, are separable: each plane is
 * copied with a border of -inf (max) or 0 (average) so that no window
 * needs bounds checks, reduced along w into hbuf, then along h. Stride 1
 * runs each pass as one flat loop over "wide" rows (output (oh, ow) at
 * oh*pitch + ow; the columns past the output width are computed and
 * dropped), so the loops are long and vectorise. */
#define POOL_BUF_MAX ((int64_t)4 << 20)     /* floats in a padded plane */

struct pool2_arg {
    const struct pool_arg *a;
    int64_t xh, xw;             /* padded extents the windows touch */
    float *cnt_w;               /* [out w]: divisor factor along w (avg) */
    atomic_int failed;
};

/* dst[i] = max (or sum) over t < k of src[i + t*step], i < n: one pass
 * per t, each a plain loop that vectorises (max as compare + blend, NaN
 * winning as in PyTorch). dst is a row or plane buffer, cache-resident. */
static LG_VEC void pool_reduce(float *restrict dst, const float *restrict src,
                               int64_t n, int64_t step, int64_t k, int max)
{
    memcpy(dst, src, (size_t)n * sizeof *dst);
    for (int64_t t = 1; t < k; t++) {
        const float *restrict sp = src + t * step;
        if (max)
            for (int64_t i = 0; i < n; i++)
                dst[i] = max_nan(dst[i], sp[i]);
        else
            for (int64_t i = 0; i < n; i++)
                dst[i] += sp[i];
    }
}

/* acc[i] = max(acc[i], src[i*s]) (NaN wins), or +=, i < n. */
static LG_VEC void pool_tap(float *restrict acc, const float *restrict src,
                            int64_t n, int64_t s, int max)
{
    if (max) {
        if (s == 2)
            for (int64_t i = 0; i < n; i++)
                acc[i] = max_nan(acc[i], src[2 * i]);
        else
            for (int64_t i = 0; i < n; i++)
                acc[i] = max_nan(acc[i], src[i * s]);
    } else {
        if (s == 2)
            for (int64_t i = 0; i < n; i++)
                acc[i] += src[2 * i];
        else
            for (int64_t i = 0; i < n; i++)
                acc[i] += src[i * s];
    }
}

/* y = acc / (count along w * count along h); 0 for an empty window. */
static LG_VEC void pool_avg_row(float *restrict y, const float *restrict acc,
                                const float *restrict cnt_w, float cnt_h,
                                int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float c = cnt_w[i] * cnt_h;
        y[i] = c > 0.0f ? acc[i] / c : 0.0f;
    }
}

static void pool2_planes(void *arg, int64_t b, int64_t e)
{
    struct pool2_arg *q = arg;
    const struct pool_arg *a = q->a;
    int max = a->kind == POOL_MAX;
    float pv = max ? -INFINITY : 0.0f;
    int64_t ih = a->in[1], iw = a->in[2], oh_n = a->out[1], ow_n = a->out[2];
    int64_t xh = q->xh, xw = q->xw;
    int64_t c0 = a->p0[2] < xw ? a->p0[2] : xw;               /* left pad */
    int64_t c1 = a->p0[2] + iw < xw ? a->p0[2] + iw : xw;
    /* hbuf's row pitch: wide (xw) when w has stride 1, else ow_n. */
    int64_t hp = a->s[2] == 1 ? xw : ow_n;
    float *pad = malloc((size_t)(xh * xw + xh * hp + oh_n * hp) *
                        sizeof *pad);
    float *hbuf = pad ? pad + xh * xw : NULL;
    float *acc = pad ? hbuf + xh * hp : NULL;
    if (!pad) {
        atomic_store(&q->failed, 1);
        return;
    }
    for (int64_t pl = b; pl < e; pl++) {
        const float *x = a->x + pl * a->isz;
        float *y = a->y + pl * a->osz;
        for (int64_t r = 0; r < xh; r++) {
            float *row = pad + r * xw;
            int64_t hh = r - a->p0[1], j = 0;
            if (hh >= 0 && hh < ih) {
                for (; j < c0; j++)
                    row[j] = pv;
                if (c1 > c0)
                    memcpy(row + c0, x + hh * iw, (size_t)(c1 - c0) *
                           sizeof *row);
                j = c1 > c0 ? c1 : c0;
            }
            for (; j < xw; j++)
                row[j] = pv;
        }
        /* Along w: hbuf[r][ow] = reduce over kw of pad[r][ow*sw + kw*dw].
         * With stride 1 the last (k-1)*dw wide entries are not needed. */
        if (a->s[2] == 1) {
            pool_reduce(hbuf, pad, xh * xw - (a->k[2] - 1) * a->d[2],
                        a->d[2], a->k[2], max);
        } else {
            for (int64_t r = 0; r < xh; r++) {
                const float *row = pad + r * xw;
                float *hr = hbuf + r * hp;
                for (int64_t ow = 0; ow < ow_n; ow++)
                    hr[ow] = row[ow * a->s[2]];
                for (int64_t kw = 1; kw < a->k[2]; kw++)
                    pool_tap(hr, row + kw * a->d[2], ow_n, a->s[2], max);
            }
        }
        /* Along h: acc[oh][ow] = reduce over kh of hbuf[oh*sh + kh*dh][ow]. */
        if (a->s[1] == 1)
            pool_reduce(acc, hbuf, (oh_n - 1) * hp + ow_n, a->d[1] * hp,
                        a->k[1], max);
        else
            for (int64_t oh = 0; oh < oh_n; oh++)
                pool_reduce(acc + oh * hp, hbuf + oh * a->s[1] * hp, ow_n,
                            a->d[1] * hp, a->k[1], max);
        for (int64_t oh = 0; oh < oh_n; oh++) {
            const struct taps *th = &a->t[1][oh];
            if (max) {
                memcpy(y + oh * ow_n, acc + oh * hp, (size_t)ow_n * sizeof *y);
            } else {
                int64_t ch = a->include_pad ? th->npad : th->ke - th->kb;
                pool_avg_row(y + oh * ow_n, acc + oh * hp, q->cnt_w,
                             (float)ch, ow_n);
            }
        }
    }
    free(pad);
}

static int pool_run(const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx, enum pool_kind kind)
{
    const lg_tensor *X = in[0];
    const int64_t *ks;
    int nk = lg_attr_ints(n, "kernel_shape", &ks), rc, nsp;
    lg_window w;
    struct pool_arg a;
    struct taps *buf = NULL;
    int64_t pad0[3], pad1[3], tot = 0, planes;

    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    if (n->n_out > 1 && out[1])
        return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP, "%s '%s': the "
                       "Indices output is not supported", n->op, n->name);
    if (nk != X->shape.rank - 2)
        return bad_shape(n, ctx, "kernel_shape");
    if ((rc = lg_nn_window(n, &X->shape, ks, (int)lg_attr_int(n, "ceil_mode",
                           0), &w, ctx->err, ctx->errlen)) < 0)
        return rc;
    nsp = w.nsp;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - nsp);
        a.in[i] = j >= 0 ? w.in[j] : 1;
        a.out[i] = j >= 0 ? w.out[j] : 1;
        a.k[i] = j >= 0 ? w.k[j] : 1;
        a.s[i] = j >= 0 ? w.stride[j] : 1;
        a.d[i] = j >= 0 ? w.dil[j] : 1;
        pad0[i] = j >= 0 ? w.pad0[j] : 0;
        pad1[i] = j >= 0 ? w.pad1[j] : 0;
        tot += a.out[i];
    }
    if (out[0]->shape.rank != X->shape.rank ||
        out[0]->shape.d[0] != X->shape.d[0] ||
        out[0]->shape.d[1] != X->shape.d[1])
        return bad_shape(n, ctx, "the output");
    for (int i = 0; i < nsp; i++)
        if (out[0]->shape.d[2 + i] != w.out[i])
            return bad_shape(n, ctx, "the output");
    for (int i = 0; i < 3; i++)
        if (a.k[i] > INT32_MAX)
            return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP, "%s '%s': "
                           "kernel too large", n->op, n->name);
    /* tot is a sum of output dims of a tensor that exists: bounded. */
    buf = malloc((size_t)tot * sizeof *buf);
    if (!buf)
        return -ENOMEM;
    a.t[0] = buf;
    a.t[1] = buf + a.out[0];
    a.t[2] = buf + a.out[0] + a.out[1];
    for (int i = 0; i < 3; i++)
        taps_fill(a.t[i], a.in[i], a.out[i], a.k[i], a.s[i], a.d[i], pad0[i],
                  pad1[i]);
    a.kind = kind;
    a.include_pad = lg_attr_int(n, "count_include_pad", 0) != 0;
    a.isz = a.in[0] * a.in[1] * a.in[2];
    a.osz = a.out[0] * a.out[1] * a.out[2];
    memcpy(a.p0, pad0, sizeof a.p0);
    a.x = X->data;
    a.y = out[0]->data;
    planes = X->shape.d[0] * X->shape.d[1];
    if (nsp <= 2) {
        /* Padded extents: (o-1)*s and (k-1)*d are each bounded by the
         * padded input (or 2^60), so no overflow; checked below. */
        struct pool2_arg q;
        q.a = &a;
        q.xh = (a.out[1] - 1) * a.s[1] + (a.k[1] - 1) * a.d[1] + 1;
        q.xw = (a.out[2] - 1) * a.s[2] + (a.k[2] - 1) * a.d[2] + 1;
        q.cnt_w = NULL;
        atomic_init(&q.failed, 0);
        if (q.xh <= POOL_BUF_MAX && q.xw <= POOL_BUF_MAX &&
            q.xh * q.xw <= POOL_BUF_MAX &&
            (q.cnt_w = malloc((size_t)a.out[2] * sizeof *q.cnt_w))) {
            /* Average divisor = count along h * count along w; the w
             * factors are the same for every row and plane. Counts are
             * small integers: exact in float, as is their product. */
            for (int64_t ow = 0; ow < a.out[2]; ow++) {
                const struct taps *tw = &a.t[2][ow];
                q.cnt_w[ow] = (float)(a.include_pad ? tw->npad
                                                    : tw->ke - tw->kb);
            }
            lg_pool_run(ctx->pool, planes,
                        grain(a.osz * a.k[1] * a.k[2], TASK_WORK),
                        pool2_planes, &q);
            free(q.cnt_w);
            free(buf);
            if (atomic_load(&q.failed))
                return lg_errf(ctx->err, ctx->errlen, -ENOMEM, "%s '%s': "
                               "out of memory", n->op, n->name);
            return 0;
        }
    }
    lg_pool_run(ctx->pool, planes,
                grain(a.osz * a.k[0] * a.k[1] * a.k[2], TASK_WORK),
                pool_planes, &a);
    free(buf);
    return 0;
}

static int maxpool_run(const lg_graph *g, const lg_node *n,
                       lg_tensor *const *in, lg_tensor *const *out,
                       lg_kctx *ctx)
{
    (void)g;
    return pool_run(n, in, out, ctx, POOL_MAX);
}

static int avgpool_run(const lg_graph *g, const lg_node *n,
                       lg_tensor *const *in, lg_tensor *const *out,
                       lg_kctx *ctx)
{
    (void)g;
    return pool_run(n, in, out, ctx, POOL_AVG);
}

struct gpool_arg {
    const float *x;
    float *y;
    int64_t sz;
    int max;
};

static void gpool_planes(void *arg, int64_t b, int64_t e)
{
    const struct gpool_arg *a = arg;
    for (int64_t i = b; i < e; i++) {
        const float *x = a->x + i * a->sz;
        if (a->max)
            a->y[i] = a->sz > 0 ? max_f(x, a->sz) : -INFINITY;
        else
            a->y[i] = a->sz > 0 ? (float)(sum_f(x, a->sz) / (double)a->sz)
                                : 0.0f;
    }
}

static int gpool_run(const lg_node *n, lg_tensor *const *in,
                     lg_tensor *const *out, lg_kctx *ctx, int max)
{
    const lg_tensor *X = in[0];
    struct gpool_arg a;
    int64_t planes;
    int rc;
    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    if (X->shape.rank < 2)
        return bad_shape(n, ctx, "the input");
    planes = X->shape.d[0] * X->shape.d[1];
    if (numel(out[0]) != planes)
        return bad_shape(n, ctx, "the output");
    a.x = X->data;
    a.y = out[0]->data;
    a.sz = planes ? numel(X) / planes : 0;
    a.max = max;
    lg_pool_run(ctx->pool, planes, grain(a.sz, TASK_WORK), gpool_planes, &a);
    return 0;
}

static int gavgpool_run(const lg_graph *g, const lg_node *n,
                        lg_tensor *const *in, lg_tensor *const *out,
                        lg_kctx *ctx)
{
    (void)g;
    return gpool_run(n, in, out, ctx, 0);
}

static int gmaxpool_run(const lg_graph *g, const lg_node *n,
                        lg_tensor *const *in, lg_tensor *const *out,
                        lg_kctx *ctx)
{
    (void)g;
    return gpool_run(n, in, out, ctx, 1);
}

/* ------------------------------------------------------ normalizations */

/* y = (x - mean) * a + b over one plane. */
static LG_VEC void affine(const float *restrict x, float *restrict y,
                          int64_t n, float mean, float a, float b)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - mean) * a + b;
}

struct chan_arg {
    const float *x;
    float *y;
    const float *scale, *bias, *mean, *var;     /* [C]; mean/var: BN only */
    int64_t c, sz;
    float eps;
};

static void bn_planes(void *arg, int64_t b, int64_t e)
{
    const struct chan_arg *a = arg;
    for (int64_t i = b; i < e; i++) {
        int64_t c = i % a->c;
        float s = a->scale[c] / sqrtf(a->var[c] + a->eps);
        affine(a->x + i * a->sz, a->y + i * a->sz, a->sz, a->mean[c], s,
               a->bias[c]);
    }
}

static int batchnorm_run(const lg_graph *g, const lg_node *n,
                         lg_tensor *const *in, lg_tensor *const *out,
                         lg_kctx *ctx)
{
    (void)g;
    const lg_tensor *X = in[0];
    struct chan_arg a;
    int64_t planes;
    int rc;
    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    if (lg_attr_int(n, "training_mode", 0) != 0)
        return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP,
                       "BatchNormalization '%s': training_mode=1 is not "
                       "supported", n->name);
    if (X->shape.rank < 2 || !lg_shape_eq(&X->shape, &out[0]->shape))
        return bad_shape(n, ctx, "the input or output");
    for (int i = 1; i < 5; i++)
        if (numel(in[i]) != X->shape.d[1])
            return bad_shape(n, ctx, "a per-channel parameter");
    memset(&a, 0, sizeof a);
    a.x = X->data;
    a.y = out[0]->data;
    a.scale = in[1]->data;
    a.bias = in[2]->data;
    a.mean = in[3]->data;
    a.var = in[4]->data;
    a.c = X->shape.d[1];
    planes = X->shape.d[0] * a.c;
    a.sz = planes ? numel(X) / planes : 0;
    a.eps = lg_attr_float(n, "epsilon", 1e-5f);
    lg_pool_run(ctx->pool, planes, grain(a.sz, TASK_WORK), bn_planes, &a);
    return 0;
}

static void in_planes(void *arg, int64_t b, int64_t e)
{
    const struct chan_arg *a = arg;
    for (int64_t i = b; i < e; i++) {
        int64_t c = i % a->c;
        const float *x = a->x + i * a->sz;
        float mean = (float)(sum_f(x, a->sz) / (double)a->sz);
        float var = (float)(sumsq_dev(x, a->sz, mean) / (double)a->sz);
        affine(x, a->y + i * a->sz, a->sz, mean,
               a->scale[c] / sqrtf(var + a->eps), a->bias[c]);
    }
}

static int instnorm_run(const lg_graph *g, const lg_node *n,
                        lg_tensor *const *in, lg_tensor *const *out,
                        lg_kctx *ctx)
{
    (void)g;
    const lg_tensor *X = in[0];
    struct chan_arg a;
    int64_t planes;
    int rc;
    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    if (X->shape.rank < 3 || !lg_shape_eq(&X->shape, &out[0]->shape) ||
        numel(in[1]) != X->shape.d[1] || numel(in[2]) != X->shape.d[1])
        return bad_shape(n, ctx, "the input, scale or B");
    memset(&a, 0, sizeof a);
    a.x = X->data;
    a.y = out[0]->data;
    a.scale = in[1]->data;
    a.bias = in[2]->data;
    a.c = X->shape.d[1];
    planes = X->shape.d[0] * a.c;
    a.sz = planes ? numel(X) / planes : 0;
    a.eps = lg_attr_float(n, "epsilon", 1e-5f);
    if (a.sz == 0)
        return 0;
    lg_pool_run(ctx->pool, planes, grain(a.sz * 3, TASK_WORK), in_planes, &a);
    return 0;
}

struct ln_arg {
    const float *x, *scale, *bias;      /* scale/bias: [d] or [1]; bias may
                                         * be NULL */
    float *y, *mean, *inv;              /* mean/inv: [rows] or NULL */
    int64_t d;
    int scale1, bias1;                  /* scale / bias is a single value */
    float eps;
};

static LG_VEC void ln_row(const float *restrict x, float *restrict y,
                          int64_t d, float mean, float inv,
                          const float *restrict s, const float *restrict b)
{
    if (b)
        for (int64_t i = 0; i < d; i++)
            y[i] = (x[i] - mean) * inv * s[i] + b[i];
    else
        for (int64_t i = 0; i < d; i++)
            y[i] = (x[i] - mean) * inv * s[i];
}

static void ln_rows(void *arg, int64_t b, int64_t e)
{
    const struct ln_arg *a = arg;
    for (int64_t r = b; r < e; r++) {
        const float *x = a->x + r * a->d;
        float *y = a->y + r * a->d;
        float mean = (float)(sum_f(x, a->d) / (double)a->d);
        float var = (float)(sumsq_dev(x, a->d, mean) / (double)a->d);
        float inv = 1.0f / sqrtf(var + a->eps);
        if (a->mean)
            a->mean[r] = mean;
        if (a->inv)
            a->inv[r] = inv;
        if (!a->scale1 && (!a->bias || !a->bias1)) {
            ln_row(x, y, a->d, mean, inv, a->scale, a->bias);
        } else {
            for (int64_t i = 0; i < a->d; i++) {
                float s = a->scale[a->scale1 ? 0 : i];
                float bb = a->bias ? a->bias[a->bias1 ? 0 : i] : 0.0f;
                y[i] = (x[i] - mean) * inv * s + bb;
            }
        }
    }
}

static int layernorm_run(const lg_graph *g, const lg_node *n,
                         lg_tensor *const *in, lg_tensor *const *out,
                         lg_kctx *ctx)
{
    (void)g;
    const lg_tensor *X = in[0], *S = in[1];
    const lg_tensor *B = n->n_in > 2 ? in[2] : NULL;
    struct ln_arg a;
    int axis, rc;
    int64_t rows = 1, ns, nb;
    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    axis = lg_axis(lg_attr_int(n, "axis", -1), X->shape.rank);
    if (axis < 0 || !lg_shape_eq(&X->shape, &out[0]->shape))
        return bad_shape(n, ctx, "the axis or the output");
    memset(&a, 0, sizeof a);
    for (int i = 0; i < axis; i++)
        rows *= X->shape.d[i];
    a.d = rows ? numel(X) / rows : 0;
    ns = numel(S);
    nb = B ? numel(B) : a.d;
    if ((ns != a.d && ns != 1) || (nb != a.d && nb != 1))
        return bad_shape(n, ctx, "Scale or B");
    for (int i = 1; i < 3 && i < n->n_out; i++)
        if (out[i] && numel(out[i]) != rows)
            return bad_shape(n, ctx, "Mean or InvStdDev");
    if (rows == 0 || a.d == 0)
        return 0;
    a.x = X->data;
    a.y = out[0]->data;
    a.scale = S->data;
    a.bias = B ? B->data : NULL;
    a.scale1 = ns == 1 && a.d != 1;
    a.bias1 = nb == 1 && a.d != 1;
    a.mean = n->n_out > 1 && out[1] ? out[1]->data : NULL;
    a.inv = n->n_out > 2 && out[2] ? out[2]->data : NULL;
    a.eps = lg_attr_float(n, "epsilon", 1e-5f);
    lg_pool_run(ctx->pool, rows, grain(a.d * 4, TASK_WORK), ln_rows, &a);
    return 0;
}

/* -------------------------------------------------------------- Softmax */

/* exp(x) for float32, branch-free so that loops calling it vectorise:
 * Cephes' expf (range reduction by ln 2, degree-6 polynomial; about 1 ulp
 * relative on the range). Gives 0 below -87.3 and saturates near 1.65e38
 * above 88; softmax only feeds it values <= 0. */
static inline float exp_approx(float x)
{
    const float lo = -87.33654f, hi = 88.0f;
    float xc = x < lo ? lo : (x > hi ? hi : x);
    float t = xc * 1.44269504088896341f + 12582912.0f;  /* 1.5 * 2^23 */
    float nf = t - 12582912.0f, r, p, sc;
    uint32_t ni, si;            /* unsigned: NaN input must not overflow */
    memcpy(&ni, &t, sizeof ni);
    ni -= 0x4B400000u;          /* the integer nf, read off the mantissa */
    r = xc - nf * 0.693359375f + nf * 2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    si = (ni + 127u) << 23;
    memcpy(&sc, &si, sizeof sc);
    return x < lo ? 0.0f : (x != x ? x : p * sc);   /* NaN stays NaN */
}

/* y = exp(x - m) over a row; returns the sum. */
static LG_VEC double exp_row(const float *restrict x, float *restrict y,
                             int64_t n, float m)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = exp_approx(x[i] - m);
    return sum_f(y, n);
}

static LG_VEC void scale_row(float *restrict y, int64_t n, float s)
{
    for (int64_t i = 0; i < n; i++)
        y[i] *= s;
}

static LG_VEC void logsm_row(const float *restrict x, float *restrict y,
                             int64_t n, float sub)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] - sub;
}

/* Softmax over the axis, strided by inner: columns [i0, i1) of one outer
 * slice, LANES-wide blocks of the inner dim at a time. */
#define SM_BLOCK 256

struct sm_arg {
    const float *x;
    float *y;
    int64_t outer, len, inner, nblk;
    int log;
};

static void sm_contig(void *arg, int64_t b, int64_t e)
{
    const struct sm_arg *a = arg;
    for (int64_t r = b; r < e; r++) {
        const float *x = a->x + r * a->len;
        float *y = a->y + r * a->len;
        float m = max_f(x, a->len);
        double s = exp_row(x, y, a->len, m);
        if (a->log)
            logsm_row(x, y, a->len, m + (float)log(s));
        else
            scale_row(y, a->len, (float)(1.0 / s));
    }
}

static LG_VEC void sm_strided_block(const float *restrict x,
                                    float *restrict y, int64_t len,
                                    int64_t inner, int64_t w, int log_)
{
    float m[SM_BLOCK], s[SM_BLOCK];
    for (int64_t i = 0; i < w; i++) {
        m[i] = -INFINITY;
        s[i] = 0.0f;
    }
    for (int64_t l = 0; l < len; l++)
        for (int64_t i = 0; i < w; i++)
            m[i] = max_nan(m[i], x[l * inner + i]);
    for (int64_t l = 0; l < len; l++)
        for (int64_t i = 0; i < w; i++) {
            float v = exp_approx(x[l * inner + i] - m[i]);
            y[l * inner + i] = v;
            s[i] += v;
        }
    if (log_) {
        for (int64_t i = 0; i < w; i++)
            m[i] += logf(s[i]);
        for (int64_t l = 0; l < len; l++)
            for (int64_t i = 0; i < w; i++)
                y[l * inner + i] = x[l * inner + i] - m[i];
    } else {
        for (int64_t i = 0; i < w; i++)
            s[i] = 1.0f / s[i];
        for (int64_t l = 0; l < len; l++)
            for (int64_t i = 0; i < w; i++)
                y[l * inner + i] *= s[i];
    }
}

static void sm_strided(void *arg, int64_t b, int64_t e)
{
    const struct sm_arg *a = arg;
    for (int64_t t = b; t < e; t++) {
        int64_t o = t / a->nblk, i0 = (t % a->nblk) * SM_BLOCK;
        int64_t w = a->inner - i0 < SM_BLOCK ? a->inner - i0 : SM_BLOCK;
        int64_t off = o * a->len * a->inner + i0;
        sm_strided_block(a->x + off, a->y + off, a->len, a->inner, w, a->log);
    }
}

static int softmax_any(const lg_graph *g, const lg_node *n,
                       lg_tensor *const *in, lg_tensor *const *out,
                       lg_kctx *ctx, int log_)
{
    const lg_tensor *X = in[0];
    int64_t a_def = g->opset < 13 ? 1 : -1;
    int axis, rc;
    struct sm_arg a;
    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    axis = lg_axis(lg_attr_int(n, "axis", a_def), X->shape.rank);
    if (axis < 0 || !lg_shape_eq(&X->shape, &out[0]->shape))
        return bad_shape(n, ctx, "the axis or the output");
    memset(&a, 0, sizeof a);
    a.x = X->data;
    a.y = out[0]->data;
    a.log = log_;
    a.outer = 1;
    for (int i = 0; i < axis; i++)
        a.outer *= X->shape.d[i];
    if (g->opset < 13) {
        /* Opsets 1-12: coerce to 2-D [outer, rest] at axis. */
        a.len = a.outer ? numel(X) / a.outer : 0;
        a.inner = 1;
    } else {
        a.len = X->shape.d[axis];
        a.inner = a.outer != 0 && a.len != 0 ? numel(X) / (a.outer * a.len)
                                             : 0;
    }
    if (numel(X) == 0)
        return 0;
    if (a.inner == 1) {
        lg_pool_run(ctx->pool, a.outer, grain(a.len * 8, TASK_WORK),
                    sm_contig, &a);
    } else {
        a.nblk = (a.inner + SM_BLOCK - 1) / SM_BLOCK;
        int64_t bw = a.inner < SM_BLOCK ? a.inner : SM_BLOCK;
        lg_pool_run(ctx->pool, a.outer * a.nblk,
                    grain(a.len * bw * 8, TASK_WORK), sm_strided, &a);
    }
    return 0;
}

static int softmax_run(const lg_graph *g, const lg_node *n,
                       lg_tensor *const *in, lg_tensor *const *out,
                       lg_kctx *ctx)
{
    return softmax_any(g, n, in, out, ctx, 0);
}

static int logsoftmax_run(const lg_graph *g, const lg_node *n,
                          lg_tensor *const *in, lg_tensor *const *out,
                          lg_kctx *ctx)
{
    return softmax_any(g, n, in, out, ctx, 1);
}

/* ------------------------------------------------------------------ LRN */

struct lrn_arg {
    const float *x;
    float *y;
    int64_t c, sz, before, after;
    float alpha_n, beta, bias;
};

static LG_VEC void sq_acc(const float *restrict x, float *restrict y,
                          int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i] * x[i];
}

static void lrn_planes(void *arg, int64_t b, int64_t e)
{
    const struct lrn_arg *a = arg;
    for (int64_t i = b; i < e; i++) {
        int64_t c = i % a->c, base = i - c;
        int64_t c0 = c - a->before < 0 ? 0 : c - a->before;
        int64_t c1 = c + a->after >= a->c ? a->c - 1 : c + a->after;
        const float *x = a->x + i * a->sz;
        float *y = a->y + i * a->sz;
        memset(y, 0, (size_t)a->sz * sizeof *y);
        for (int64_t cc = c0; cc <= c1; cc++)
            sq_acc(a->x + (base + cc) * a->sz, y, a->sz);
        for (int64_t k = 0; k < a->sz; k++)
            y[k] = x[k] / powf(a->bias + a->alpha_n * y[k], a->beta);
    }
}

static int lrn_run(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    (void)g;
    const lg_tensor *X = in[0];
    int64_t size = lg_attr_int(n, "size", 0), planes;
    struct lrn_arg a;
    int rc;
    if ((rc = check_f32(n, in, out, ctx)) < 0)
        return rc;
    if (size < 1 || X->shape.rank < 2 ||
        !lg_shape_eq(&X->shape, &out[0]->shape))
        return bad_shape(n, ctx, "size or the output");
    memset(&a, 0, sizeof a);
    a.x = X->data;
    a.y = out[0]->data;
    a.c = X->shape.d[1];
    planes = X->shape.d[0] * a.c;
    a.sz = planes ? numel(X) / planes : 0;
    a.before = (size - 1) / 2;
    a.after = size - 1 - a.before;
    a.alpha_n = lg_attr_float(n, "alpha", 1e-4f) / (float)size;
    a.beta = lg_attr_float(n, "beta", 0.75f);
    a.bias = lg_attr_float(n, "bias", 1.0f);
    lg_pool_run(ctx->pool, planes, grain(a.sz * (size + 8), TASK_WORK),
                lrn_planes, &a);
    return 0;
}

/* ---------------------------------------------------------------- table */

const lg_kernel lg_cpu_kernels_nn[] = {
    {"Gemm", gemm_run, NULL, NULL},
    {"MatMul", matmul_run, NULL, NULL},
    {"MaxPool", maxpool_run, NULL, NULL},
    {"AveragePool", avgpool_run, NULL, NULL},
    {"GlobalAveragePool", gavgpool_run, NULL, NULL},
    {"GlobalMaxPool", gmaxpool_run, NULL, NULL},
    {"BatchNormalization", batchnorm_run, NULL, NULL},
    {"InstanceNormalization", instnorm_run, NULL, NULL},
    {"LayerNormalization", layernorm_run, NULL, NULL},
    {"Softmax", softmax_run, NULL, NULL},
    {"LogSoftmax", logsoftmax_run, NULL, NULL},
    {"LRN", lrn_run, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};
