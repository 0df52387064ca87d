/*
 * conv.c - the CPU kernel for Conv (float32; 1-D, 2-D and 3-D).
 *
 * Owns lg_cpu_kernels_conv[]. plan_make() picks one of four paths per
 * node (once, in prepare, or per call when run without prepare):
 *   - depthwise (group == C_in == C_out, 1-D/2-D): direct convolution,
 *     parallel over (batch, channel) planes on ctx->pool. Each plane is
 *     copied into a zero-bordered buffer so that the loops have no bounds
 *     checks; stride 1 then runs the plane as one flat vectorised loop
 *     ("wide" rows, the extra columns dropped), stride 2 row by row (3x3)
 *     or as one flat loop over four parity planes (5x5). 3x3 and 5x5 have
 *     specialised loops, other shapes a tap-by-tap loop. MobileNet,
 *     EfficientNet, MNASNet, ShuffleNet.
 *   - direct GEMM (1x1 kernel, stride 1, no padding): the input already is
 *     the [C/group, H*W] matrix, so each (batch, group) is one sgemm.
 *   - grouped with at most GR_MAX_MG output channels per group (RegNet,
 *     ResNeXt, depthwise with a multiplier): per (batch, group, tile of
 *     positions) on ctx->pool, a small register-blocked GEMM over the
 *     padded planes (stride 1: the planes themselves, shifted per tap, so
 *     no im2col) or over an im2col tile (other strides).
 *   - im2col + sgemm for everything else (other grouped convs as one sgemm
 *     per group over a shared column buffer). The column buffer covers a
 *     tile of output positions sized to stay under COL_MAX_BYTES; im2col
 *     reads a zero-padded copy of the input (at most XPAD_MAX floats, else
 *     a bounds-checked im2col).
 * The bias is written into the output before sgemm accumulates onto it
 * (beta = 1), or starts the accumulators of the direct paths: no extra
 * pass over the output.
 *
 * Threading: a kernel runs on one thread at a time per executor. Our own
 * loops (padding, im2col, depthwise, grouped, bias fill) run on
 * ctx->pool; sgemm runs on the calling thread, where OpenBLAS uses its
 * own threads. sgemm is never called from inside a pool task, and pool
 * tasks never call the pool. The im2col and padded-input buffer is per
 * calling thread (a pthread key, at most 32 MiB), reused across calls and
 * nodes and freed when that thread exits; pool tasks malloc their own
 * small tiles.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernel.h"
#include "lgerr.h"
#include "opdef_nn.h"

/* Hot loops are compiled for AVX-512 / AVX2 / baseline and picked at load
 * time, at -O3 with FMA contraction, whatever the build's CFLAGS are. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
#define LG_VEC __attribute__((optimize("O3", "fp-contract=fast"), \
    target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LG_VEC
#endif

/* Bound on the per-thread im2col buffer; larger convolutions are tiled
 * over output positions. 16 MiB holds ResNet's largest column matrices
 * (the 7x7 stem, 64x56x56 3x3) in one tile. */
#define COL_MAX_BYTES ((size_t)16 << 20)
/* Bound on a zero-padded copy of the input (or of one group's or plane's
 * part of it), in floats: 16 MiB. Beyond it the checked loops run. */
#define XPAD_MAX ((int64_t)4 << 20)

/* Grouped convolutions with at most GR_MAX_MG output channels per group
 * (RegNet, ResNeXt, depthwise with a multiplier) run on the pool with a
 * small register-blocked GEMM: one sgemm call per tiny group would cost
 * more in call and threading overhead than in arithmetic. */
#define GR_MAX_MG 32
#define GR_MAX_ROWS 4096        /* bounds the per-task column tile */
#define GR_TILE 256             /* output positions per task item */

/* Least work per pool task: waking a worker and joining it costs several
 * microseconds (much more when the machine is oversubscribed), worth it
 * only for loops of a few tens of microseconds. Floats moved for copying
 * loops, multiply-adds for arithmetic ones. */
#define TASK_FLOATS 65536
#define TASK_MACS 131072

enum conv_path {
    PATH_DEPTHWISE,             /* direct, one plane per channel */
    PATH_GEMM,                  /* 1x1 stride 1 unpadded: sgemm on X */
    PATH_IM2COL,                /* im2col tile + sgemm per group */
    PATH_GROUPED,               /* small groups: im2col + own GEMM on pool */
};

typedef struct conv_plan {
    int64_t n, c, m, group;     /* batch, in/out channels, groups */
    int64_t cg, mg;             /* channels per group in / out */
    int64_t id, ih, iw;         /* input spatial (1 for absent dims) */
    int64_t od, oh, ow;         /* output spatial */
    int64_t kd, kh, kw;         /* kernel */
    int64_t sd, sh, sw;         /* strides */
    int64_t dd, dh, dw;         /* dilations */
    int64_t pd, ph, pw;         /* begin pads */
    int64_t isz, osz, ksz;      /* spatial element counts */
    int64_t rows;               /* im2col rows per group: cg * ksz */
    /* The zero-padded input the windows touch: extents, and whether it
     * differs from the input itself (any begin pad, or windows running
     * into the end pad). A padded copy lets im2col skip bounds checks. */
    int64_t xd, xh, xw;         /* padded extents */
    int64_t xplane;             /* xd * xh * xw, or 0 if too large */
    int need_pad;
    enum conv_path path;
    lg_shape xs, ws, ys;        /* shapes the plan was made for */
    int has_bias;
} conv_plan;

/* ------------------------------------------------------------ planning */

static int plan_make(const lg_node *n, const lg_shape *xs, const lg_shape *ws,
                     int has_bias, conv_plan *p, char *err, size_t errlen)
{
    lg_window w;
    int rc, nsp;
    int64_t sp[3][6];           /* per dim: in, out, k, stride, dil, pad0 */

    memset(p, 0, sizeof *p);
    if (xs->rank < 3 || ws->rank != xs->rank)
        return lg_errf(err, errlen, LG_EMODEL, "Conv '%s': input rank %d "
                       "and weight rank %d do not form a convolution",
                       n->name, xs->rank, ws->rank);
    p->n = xs->d[0];
    p->c = xs->d[1];
    p->m = ws->d[0];
    p->cg = ws->d[1];
    p->group = lg_attr_int(n, "group", 1);
    if (p->group < 1 || p->c % p->group != 0 || p->c / p->group != p->cg ||
        p->m % p->group != 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "Conv '%s': input has %lld channels, weight expects "
                       "%lld per group with group %lld", n->name,
                       (long long)p->c, (long long)p->cg,
                       (long long)p->group);
    p->mg = p->m / p->group;
    if ((rc = lg_nn_window(n, xs, &ws->d[2], 0, &w, err, errlen)) < 0)
        return rc;
    nsp = w.nsp;
    /* Right-align the spatial dims into (d, h, w); absent ones are 1. */
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - nsp);
        sp[i][0] = j >= 0 ? w.in[j] : 1;
        sp[i][1] = j >= 0 ? w.out[j] : 1;
        sp[i][2] = j >= 0 ? w.k[j] : 1;
        sp[i][3] = j >= 0 ? w.stride[j] : 1;
        sp[i][4] = j >= 0 ? w.dil[j] : 1;
        sp[i][5] = j >= 0 ? w.pad0[j] : 0;
    }
    p->id = sp[0][0]; p->od = sp[0][1]; p->kd = sp[0][2];
    p->sd = sp[0][3]; p->dd = sp[0][4]; p->pd = sp[0][5];
    p->ih = sp[1][0]; p->oh = sp[1][1]; p->kh = sp[1][2];
    p->sh = sp[1][3]; p->dh = sp[1][4]; p->ph = sp[1][5];
    p->iw = sp[2][0]; p->ow = sp[2][1]; p->kw = sp[2][2];
    p->sw = sp[2][3]; p->dw = sp[2][4]; p->pw = sp[2][5];
    /* Products below are bounded: each is a dimension or element count of
     * a tensor that passed lg_shape_nbytes (x, w or y). */
    p->isz = p->id * p->ih * p->iw;
    p->osz = p->od * p->oh * p->ow;
    p->ksz = p->kd * p->kh * p->kw;
    p->rows = p->cg * p->ksz;
    p->xs = *xs;
    p->ws = *ws;
    memset(&p->ys, 0, sizeof p->ys);
    p->ys.rank = xs->rank;
    p->ys.d[0] = p->n;
    p->ys.d[1] = p->m;
    for (int i = 0; i < nsp; i++)
        p->ys.d[2 + i] = w.out[i];
    p->has_bias = has_bias;
    /* (o-1)*s and (k-1)*d are each at most the padded input size (the
     * window fits), or for SAME padding below 2^61: no overflow here. */
    p->xd = (p->od - 1) * p->sd + (p->kd - 1) * p->dd + 1;
    p->xh = (p->oh - 1) * p->sh + (p->kh - 1) * p->dh + 1;
    p->xw = (p->ow - 1) * p->sw + (p->kw - 1) * p->dw + 1;
    p->need_pad = p->pd || p->ph || p->pw || p->xd > p->id ||
                  p->xh > p->ih || p->xw > p->iw;
    if (!p->need_pad) {
        p->xplane = p->isz;
    } else if (p->xd <= XPAD_MAX && p->xh <= XPAD_MAX &&
               p->xw <= XPAD_MAX && p->xd * p->xh <= XPAD_MAX &&
               p->xd * p->xh * p->xw <= XPAD_MAX) {
        p->xplane = p->xd * p->xh * p->xw;
    }                           /* else 0: no padded copy, checked paths */

    if (p->group == p->c && p->group == p->m && nsp <= 2)
        p->path = PATH_DEPTHWISE;
    else if (p->group > 1 && p->mg <= GR_MAX_MG && p->rows <= GR_MAX_ROWS &&
             (!p->need_pad ||
              (p->xplane > 0 && p->cg * p->xplane <= XPAD_MAX)))
        p->path = PATH_GROUPED;
    else if (p->ksz == 1 && p->sd == 1 && p->sh == 1 && p->sw == 1 &&
             p->pd == 0 && p->ph == 0 && p->pw == 0 &&
             w.pad1[nsp - 1] == 0 && (nsp < 2 || w.pad1[nsp - 2] == 0) &&
             (nsp < 3 || w.pad1[0] == 0))
        p->path = PATH_GEMM;
    else
        p->path = PATH_IM2COL;
    return 0;
}

/* ------------------------------------------------- per-thread scratch */

struct scratch {
    float *buf;
    size_t cap;                 /* floats */
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_destroy(void *arg)
{
    struct scratch *s = arg;
    free(s->buf);
    free(s);
}

static void scratch_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_destroy) == 0;
}

/* A buffer of at least nfloats floats owned by the calling thread, or
 * NULL on OOM. Grows, never shrinks; callers keep nfloats bounded. */
static float *scratch_get(size_t nfloats)
{
    struct scratch *s;
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok)
        return NULL;
    s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap < nfloats) {
        float *nb = lg_aligned_alloc(nfloats * sizeof(float));
        if (!nb)
            return NULL;
        free(s->buf);
        s->buf = nb;
        s->cap = nfloats;
    }
    return s->buf;
}

/* ----------------------------------------------------------- bias fill */

struct fill_arg {
    float *y;                   /* [n * m] planes of osz */
    const float *bias;          /* [m] or NULL */
    int64_t m, osz;
};

static LG_VEC void fill_planes(void *arg, int64_t b, int64_t e)
{
    const struct fill_arg *a = arg;
    for (int64_t i = b; i < e; i++) {
        float v = a->bias ? a->bias[i % a->m] : 0.0f;
        float *restrict y = a->y + i * a->osz;
        for (int64_t k = 0; k < a->osz; k++)
            y[k] = v;
    }
}

static void fill_bias(lg_pool *pool, float *y, const float *bias,
                      int64_t planes, int64_t m, int64_t osz)
{
    struct fill_arg a = {y, bias, m, osz};
    lg_pool_run(pool, planes, osz >= TASK_FLOATS ? 1
                : TASK_FLOATS / osz + 1,
                fill_planes, &a);
}

/* ------------------------------------------------------ padded planes */

/* Copy channels [0, nch) of x (planes of isz) into dst as zero-bordered
 * planes of the touched extents (xd, xh, xw), origin at (-pd, -ph, -pw). */
static void pad_planes(const conv_plan *p, const float *x, int64_t nch,
                       float *dst)
{
    int64_t c0 = p->pw < p->xw ? p->pw : p->xw;             /* left zeros */
    int64_t c1 = p->pw + p->iw < p->xw ? p->pw + p->iw : p->xw;
    for (int64_t c = 0; c < nch; c++)
        for (int64_t zd = 0; zd < p->xd; zd++)
            for (int64_t zh = 0; zh < p->xh; zh++) {
                float *row = dst + ((c * p->xd + zd) * p->xh + zh) * p->xw;
                int64_t id = zd - p->pd, ih = zh - p->ph;
                if (id < 0 || id >= p->id || ih < 0 || ih >= p->ih) {
                    memset(row, 0, (size_t)p->xw * sizeof *row);
                    continue;
                }
                memset(row, 0, (size_t)c0 * sizeof *row);
                if (c1 > c0)
                    memcpy(row + c0, x + (c * p->id + id) * p->ih * p->iw +
                           ih * p->iw, (size_t)(c1 - c0) * sizeof *row);
                if (p->xw > c1)
                    memset(row + c1, 0, (size_t)(p->xw - c1) * sizeof *row);
            }
}

struct pad_arg {
    const conv_plan *p;
    const float *x;
    float *dst;
};

static void pad_range(void *arg, int64_t b, int64_t e)
{
    const struct pad_arg *a = arg;
    pad_planes(a->p, a->x + b * a->p->isz, e - b,
               a->dst + b * a->p->xplane);
}

/* ----------------------------------------------------------- depthwise */

/* Each plane is first copied into a zero-bordered buffer holding exactly
 * the padded input the windows touch, so the loops below have no bounds
 * checks. With stride 1 the plane is then computed as one flat run over
 * "wide" rows of the padded width (the columns past the output width are
 * computed and dropped), which keeps vectors full on 7x7 and 14x14
 * planes; with other strides it goes row by row. */

/* y[o] for o in [o0, o1), window origin x + o*S, taps at kh*ldx + kw. */
#define DW_KERNEL(NAME, K, S)                                                \
    static LG_VEC void NAME(const float *restrict x, int64_t ldx,            \
                            const float *restrict w, float b,                \
                            float *restrict y, int64_t o0, int64_t o1)       \
    {                                                                        \
        for (int64_t o = o0; o < o1; o++) {                                  \
            const float *xp = x + o * (S);                                   \
            float acc = b;                                                   \
            for (int kh = 0; kh < (K); kh++)                                 \
                for (int kw = 0; kw < (K); kw++)                             \
                    acc += w[kh * (K) + kw] * xp[kh * ldx + kw];             \
            y[o] = acc;                                                      \
        }                                                                    \
    }

DW_KERNEL(dw_k3s1, 3, 1)
DW_KERNEL(dw_k3s2, 3, 2)
DW_KERNEL(dw_k5s1, 5, 1)

typedef void (*dw_fn)(const float *, int64_t, const float *, float, float *,
                      int64_t, int64_t);

/* Stride 2, polyphase (5x5; for 3x3 the split costs more than the
 * strided loads of the row-wise kernel, measured): the padded plane is
 * split into four planes by row
 * and column parity, ph[2*a + b][i][j] = pad[2i + a][2j + b], all with row
 * pitch ld. Output (oh, ow) then reads tap (kh, kw) at
 * ph[2*(kh&1) + (kw&1)][oh + kh/2][ow + kw/2]: unit stride, so the plane
 * is one flat run as with stride 1. */
#define DW_POLY(NAME, K)                                                     \
    static LG_VEC void NAME(const float *restrict p00,                       \
                            const float *restrict p01,                       \
                            const float *restrict p10,                       \
                            const float *restrict p11, int64_t ld,           \
                            const float *restrict w, float b,                \
                            float *restrict y, int64_t n)                    \
    {                                                                        \
        for (int64_t o = 0; o < n; o++) {                                    \
            float acc = b;                                                   \
            for (int kh = 0; kh < (K); kh++)                                 \
                for (int kw = 0; kw < (K); kw++) {                           \
                    const float *pl = (kh & 1) ? ((kw & 1) ? p11 : p10)      \
                                               : ((kw & 1) ? p01 : p00);     \
                    acc += w[kh * (K) + kw] *                                \
                           pl[o + (kh >> 1) * ld + (kw >> 1)];               \
                }                                                            \
            y[o] = acc;                                                      \
        }                                                                    \
    }

DW_POLY(dw_k5s2, 5)

typedef void (*dw_poly_fn)(const float *, const float *, const float *,
                           const float *, int64_t, const float *, float,
                           float *, int64_t);

/* The four parity planes of input plane x (padded by ph, pw), each
 * h4 x w4. */
static LG_VEC void dw_polyphase(const conv_plan *p, const float *x,
                                int64_t h4, int64_t w4, float *dst)
{
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            float *pl = dst + (2 * a + b) * h4 * w4;
            /* Columns j with 0 <= 2j + b - pw < iw. */
            int64_t j0 = (p->pw - b + 1) / 2, j1 = (p->iw + p->pw - b + 1) / 2;
            if (j0 < 0)
                j0 = 0;
            if (j1 > w4)
                j1 = w4;
            if (j1 < j0)
                j1 = j0;
            for (int64_t i = 0; i < h4; i++) {
                float *row = pl + i * w4;
                int64_t ih = 2 * i + a - p->ph;
                if (ih < 0 || ih >= p->ih) {
                    memset(row, 0, (size_t)w4 * sizeof *row);
                    continue;
                }
                {
                    const float *xr = x + ih * p->iw + b - p->pw;
                    memset(row, 0, (size_t)j0 * sizeof *row);
                    for (int64_t j = j0; j < j1; j++)
                        row[j] = xr[2 * j];
                    memset(row + j1, 0, (size_t)(w4 - j1) * sizeof *row);
                }
            }
        }
}

/* Any kernel size, stride and dilation: one tap at a time over the run. */
static LG_VEC void dw_generic(const conv_plan *p, const float *restrict x,
                              int64_t ldx, int64_t s, const float *restrict w,
                              float b, float *restrict y, int64_t o0,
                              int64_t o1)
{
    for (int64_t o = o0; o < o1; o++)
        y[o] = b;
    for (int64_t kh = 0; kh < p->kh; kh++)
        for (int64_t kw = 0; kw < p->kw; kw++) {
            const float *restrict xp = x + kh * p->dh * ldx + kw * p->dw;
            float wv = w[kh * p->kw + kw];
            for (int64_t o = o0; o < o1; o++)
                y[o] += wv * xp[o * s];
        }
}

/* One output with bounds checks: the fallback when the padded plane would
 * be unreasonably large (absurd strides or pads), or malloc fails. */
static float dw_point(const conv_plan *p, const float *x, const float *w,
                      float b, int64_t oh, int64_t ow)
{
    float acc = b;
    for (int64_t kh = 0; kh < p->kh; kh++) {
        int64_t ih = oh * p->sh - p->ph + kh * p->dh;
        if (ih < 0 || ih >= p->ih)
            continue;
        for (int64_t kw = 0; kw < p->kw; kw++) {
            int64_t iw = ow * p->sw - p->pw + kw * p->dw;
            if (iw >= 0 && iw < p->iw)
                acc += w[kh * p->kw + kw] * x[ih * p->iw + iw];
        }
    }
    return acc;
}

struct dw_arg {
    const conv_plan *p;
    const float *x, *w, *bias;
    float *y;
    int64_t ph, pw;             /* padded plane: p->xh, p->xw */
    int64_t buf;                /* floats per task buffer, 0: no buffer */
    dw_fn fast;                 /* specialised kernel, or NULL */
    dw_poly_fn poly;            /* stride-2 polyphase kernel, or NULL */
    int64_t h4, w4;             /* polyphase plane size */
};

static void dw_planes(void *arg, int64_t b, int64_t e)
{
    const struct dw_arg *a = arg;
    const conv_plan *p = a->p;
    float *pad = a->buf ? malloc((size_t)a->buf * sizeof(float)) : NULL;
    for (int64_t i = b; i < e; i++) {
        int64_t ch = i % p->c;
        const float *x = a->x + i * p->isz;
        const float *w = a->w + ch * p->ksz;
        float bv = a->bias ? a->bias[ch] : 0.0f;
        float *y = a->y + i * p->osz;
        if (!pad) {
            for (int64_t oh = 0; oh < p->oh; oh++)
                for (int64_t ow = 0; ow < p->ow; ow++)
                    y[oh * p->ow + ow] = dw_point(p, x, w, bv, oh, ow);
            continue;
        }
        if (a->poly) {
            int64_t hw4 = a->h4 * a->w4;
            float *wide = pad + 4 * hw4;
            dw_polyphase(p, x, a->h4, a->w4, pad);
            a->poly(pad, pad + hw4, pad + 2 * hw4, pad + 3 * hw4, a->w4, w,
                    bv, wide, (p->oh - 1) * a->w4 + p->ow);
            for (int64_t oh = 0; oh < p->oh; oh++)
                memcpy(y + oh * p->ow, wide + oh * a->w4,
                       (size_t)p->ow * sizeof *y);
            continue;
        }
        pad_planes(p, x, 1, pad);
        if (p->sh == 1 && p->sw == 1) {
            /* Flat: output (oh, ow) is wide index oh*pw + ow. */
            float *wide = pad + a->ph * a->pw;
            int64_t nflat = (p->oh - 1) * a->pw + p->ow;
            if (a->fast)
                a->fast(pad, a->pw, w, bv, wide, 0, nflat);
            else
                dw_generic(p, pad, a->pw, 1, w, bv, wide, 0, nflat);
            for (int64_t oh = 0; oh < p->oh; oh++)
                memcpy(y + oh * p->ow, wide + oh * a->pw,
                       (size_t)p->ow * sizeof *y);
        } else {
            for (int64_t oh = 0; oh < p->oh; oh++) {
                const float *xr = pad + oh * p->sh * a->pw;
                if (a->fast)
                    a->fast(xr, a->pw, w, bv, y + oh * p->ow, 0, p->ow);
                else
                    dw_generic(p, xr, a->pw, p->sw, w, bv, y + oh * p->ow, 0,
                               p->ow);
            }
        }
    }
    free(pad);
}

static void conv_depthwise(const conv_plan *p, const float *x, const float *w,
                           const float *bias, float *y, lg_pool *pool)
{
    struct dw_arg a;
    int64_t work;
    memset(&a, 0, sizeof a);
    a.p = p;
    a.x = x;
    a.w = w;
    a.bias = bias;
    a.y = y;
    /* The padded plane (bounded by XPAD_MAX when xplane != 0), plus the
     * wide output of the flat stride-1 form. */
    a.ph = p->xh;
    a.pw = p->xw;
    if (p->xplane > 0 && p->xplane <= XPAD_MAX && p->oh <= XPAD_MAX &&
        p->oh * a.pw <= XPAD_MAX)
        a.buf = p->xplane + (p->sh == 1 && p->sw == 1 ? p->oh * a.pw : 0);
    if (p->kh == p->kw && p->dh == 1 && p->dw == 1 && p->sh == p->sw) {
        if (p->kh == 3 && p->sw == 1) a.fast = dw_k3s1;
        if (p->kh == 5 && p->sw == 1) a.fast = dw_k5s1;
        if (p->kh == 3 && p->sw == 2) a.fast = dw_k3s2;
        if (p->kh == 5 && p->sw == 2) a.poly = dw_k5s2;
    }
    if (a.poly) {
        /* xh = 2*(oh-1) + k, so the parity planes are oh + (k-1)/2 rows
         * (and columns): exactly what the last output's taps reach. */
        a.h4 = (p->xh + 1) / 2;
        a.w4 = (p->xw + 1) / 2;
        if (a.buf)
            a.buf = 4 * a.h4 * a.w4 + p->oh * a.w4;
    }
    work = p->osz * p->ksz;     /* multiply-adds per plane */
    lg_pool_run(pool, p->n * p->c, work >= TASK_MACS ? 1
                : TASK_MACS / work + 1,
                dw_planes, &a);
}

/* -------------------------------------------------------------- im2col */

struct col_arg {
    const conv_plan *p;
    const float *x;             /* batch item: [c][isz] */
    float *col;                 /* [rows][q1 - q0] */
    int64_t r0;                 /* first row (over all groups) */
    int64_t q0, q1;             /* output positions of this tile */
    /* Padded form (col_rows_pad): channel planes of xplane floats laid out
     * (xd, xh, xw) with the begin pads at the origin, the first one being
     * channel c0. Without padding this is the input itself. */
    const float *xp;
    int64_t c0;
    int64_t pl, pd_pitch, ph_pitch;     /* plane, depth and row strides */
};

/* Row r = (channel, kd, kh, kw) from padded planes: no bounds checks,
 * only runs along output rows. */
static LG_VEC void col_rows_pad(void *arg, int64_t b, int64_t e)
{
    const struct col_arg *a = arg;
    const conv_plan *p = a->p;
    int64_t width = a->q1 - a->q0, ohw = p->oh * p->ow, sw = p->sw;
    int64_t od0 = a->q0 / ohw, oh0 = (a->q0 / p->ow) % p->oh;
    int64_t ow0 = a->q0 % p->ow;
    int64_t sdp = p->sd * a->pd_pitch, shp = p->sh * a->ph_pitch;
    /* Row b's (channel, kd, kh, kw), then stepped without divisions. */
    int64_t rr = a->r0 + b, ch = rr / p->ksz, k = rr % p->ksz;
    int64_t kd = k / (p->kh * p->kw), kh = (k / p->kw) % p->kh;
    int64_t kw = k % p->kw;
    for (int64_t r = b; r < e; r++) {
        int64_t od = od0, oh = oh0, ow = ow0;
        const float *src = a->xp + (ch - a->c0) * a->pl +
                           kd * p->dd * a->pd_pitch +
                           kh * p->dh * a->ph_pitch + kw * p->dw;
        float *restrict dst = a->col + r * width;
        float *end = dst + width;
        while (dst < end) {
            int64_t run = p->ow - ow;
            const float *restrict s = src + od * sdp + oh * shp + ow * sw;
            if (run > end - dst)
                run = end - dst;
            if (sw == 1) {
                memcpy(dst, s, (size_t)run * sizeof *dst);
            } else {
                for (int64_t j = 0; j < run; j++)
                    dst[j] = s[j * sw];
            }
            dst += run;
            ow = 0;
            if (++oh == p->oh) {
                oh = 0;
                od++;
            }
        }
        if (++kw == p->kw) {
            kw = 0;
            if (++kh == p->kh) {
                kh = 0;
                if (++kd == p->kd) {
                    kd = 0;
                    ch++;
                }
            }
        }
    }
}

/* Point a col_arg at the padded form of channels [c0, ...) held at xp
 * (or at the input itself when no padding is needed). */
static void col_set_padded(struct col_arg *a, const float *xp, int64_t c0)
{
    const conv_plan *p = a->p;
    a->xp = xp;
    a->c0 = c0;
    if (p->need_pad) {
        a->pl = p->xplane;
        a->pd_pitch = p->xh * p->xw;
        a->ph_pitch = p->xw;
    } else {
        a->pl = p->isz;
        a->pd_pitch = p->ih * p->iw;
        a->ph_pitch = p->iw;
    }
}

/* Row r = (channel, kd, kh, kw) of the column matrix over output positions
 * [q0, q1): the input value under that tap, or 0 in the padding. */
static LG_VEC void col_rows(void *arg, int64_t b, int64_t e)
{
    const struct col_arg *a = arg;
    const conv_plan *p = a->p;
    int64_t width = a->q1 - a->q0, ohw = p->oh * p->ow;
    int64_t od0 = a->q0 / ohw, oh0 = (a->q0 / p->ow) % p->oh;
    int64_t ow0 = a->q0 % p->ow;
    for (int64_t r = b; r < e; r++) {
        int64_t rr = a->r0 + r;
        int64_t ch = rr / p->ksz, k = rr % p->ksz;
        int64_t kd = k / (p->kh * p->kw), kh = (k / p->kw) % p->kh;
        int64_t kw = k % p->kw;
        int64_t off = kw * p->dw - p->pw, lo, hi, sw = p->sw;
        int64_t od = od0, oh = oh0, ow = ow0;
        const float *xc = a->x + ch * p->isz;
        float *restrict dst = a->col + r * width;
        float *end = dst + width;
        /* ow in [lo, hi) reads input column ow*sw + off inside [0, iw). */
        lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        hi = p->iw - 1 - off < 0 ? 0 : (p->iw - 1 - off) / sw + 1;
        if (hi > p->ow)
            hi = p->ow;
        if (lo > hi)
            lo = hi;
        while (dst < end) {
            int64_t run = p->ow - ow, idd, ihh;
            if (run > end - dst)
                run = end - dst;
            idd = od * p->sd - p->pd + kd * p->dd;
            ihh = oh * p->sh - p->ph + kh * p->dh;
            if (idd < 0 || idd >= p->id || ihh < 0 || ihh >= p->ih) {
                for (int64_t j = 0; j < run; j++)
                    dst[j] = 0.0f;
            } else {
                const float *restrict xr = xc + (idd * p->ih + ihh) * p->iw +
                                           off;
                int64_t e0 = ow + run, v0 = lo > ow ? lo : ow;
                int64_t v1 = hi < e0 ? hi : e0;
                float *restrict d = dst - ow;   /* d[o] is output column o */
                if (v1 < v0)
                    v1 = v0;
                for (int64_t o = ow; o < v0; o++)
                    d[o] = 0.0f;
                if (sw == 1)
                    for (int64_t o = v0; o < v1; o++)
                        d[o] = xr[o];
                else
                    for (int64_t o = v0; o < v1; o++)
                        d[o] = xr[o * sw];
                for (int64_t o = v1; o < e0; o++)
                    d[o] = 0.0f;
            }
            dst += run;
            ow = 0;
            if (++oh == p->oh) {
                oh = 0;
                od++;
            }
        }
    }
}

static int conv_im2col(const conv_plan *p, const float *x, const float *w,
                       float *y, lg_pool *pool, const lg_node *n, char *err,
                       size_t errlen)
{
    size_t maxf = COL_MAX_BYTES / sizeof(float);
    int64_t all_rows = p->group * p->rows, tile, gblk, colf, padf = 0;
    int padded = p->xplane > 0 && (!p->need_pad ||
                                   p->c * p->xplane <= XPAD_MAX);
    float *col, *xpad;

    /* Tile: as many output positions as fit with every group's rows;
     * if even one position of all groups does not fit, block groups. */
    if ((uint64_t)all_rows <= maxf) {
        tile = (int64_t)(maxf / (uint64_t)all_rows);
        gblk = p->group;
    } else {
        tile = 1;
        gblk = (int64_t)(maxf / (uint64_t)p->rows);
        if (gblk < 1)
            gblk = 1;
    }
    if (tile > p->osz)
        tile = p->osz;
    if (tile < p->osz && tile > 64)
        tile &= ~(int64_t)15;   /* keep sgemm's N a multiple of 16 */
    /* gblk * rows * tile <= max(maxf, rows): rows is one output channel's
     * weight count, already resident. The padded input is <= XPAD_MAX. */
    colf = (gblk * p->rows * tile + 15) & ~(int64_t)15;
    if (padded && p->need_pad)
        padf = p->c * p->xplane;
    col = scratch_get((size_t)(colf + padf));
    if (!col)
        return lg_errf(err, errlen, -ENOMEM, "Conv '%s': out of memory for "
                       "the column buffer", n->name);
    xpad = col + colf;
    for (int64_t b = 0; b < p->n; b++) {
        const float *xb = x + b * p->c * p->isz;
        float *yb = y + b * p->m * p->osz;
        if (padf) {
            struct pad_arg pa = {p, xb, xpad};
            lg_pool_run(pool, p->c, p->xplane >= TASK_FLOATS ? 1
                        : TASK_FLOATS / p->xplane + 1, pad_range, &pa);
        }
        for (int64_t g0 = 0; g0 < p->group; g0 += gblk) {
            int64_t g1 = g0 + gblk < p->group ? g0 + gblk : p->group;
            for (int64_t q0 = 0; q0 < p->osz; q0 += tile) {
                int64_t q1 = q0 + tile < p->osz ? q0 + tile : p->osz;
                int64_t width = q1 - q0, nrows = (g1 - g0) * p->rows;
                struct col_arg a;
                memset(&a, 0, sizeof a);
                a.p = p;
                a.x = xb;
                a.col = col;
                a.r0 = g0 * p->rows;
                a.q0 = q0;
                a.q1 = q1;
                if (padded)
                    col_set_padded(&a, padf ? xpad : xb, 0);
                lg_pool_run(pool, nrows, width >= TASK_FLOATS ? 1
                            : TASK_FLOATS / width + 1,
                            padded ? col_rows_pad : col_rows, &a);
                for (int64_t gi = g0; gi < g1; gi++)
                    lg_sgemm(pool, 0, 0, p->mg, width, p->rows, 1.0f,
                             w + gi * p->mg * p->rows, p->rows,
                             col + (gi - g0) * p->rows * width, width,
                             1.0f, yb + gi * p->mg * p->osz + q0, p->osz);
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------- grouped, direct */

#define GR_MR 8                 /* output channels per register block */
#define GR_NR 16                /* output positions per vector */

typedef float v16f __attribute__((vector_size(64)));

/* c[i][j] = bias[i] + sum_r a[i][r] * b[r][j0 + j] for i < mb <= GR_MR,
 * j < n. B is given by row pointers, so that its rows can be shifted views
 * of a padded plane (the flat form) as well as rows of a column matrix.
 * GR_MR accumulator vectors of GR_NR positions, one load of B per row.
 * slack: B rows may be read a whole vector past position n (our own
 * buffers, allocated with GR_NR floats to spare). */
static LG_VEC void gr_gemm(int64_t mb, int64_t k, const float *a,
                           int64_t lda, const float *const *b, int64_t j0,
                           float *c, int64_t ldc, int64_t n,
                           const float *bias, int slack)
{
    const float *ar[GR_MR];
    int64_t j = 0;
    /* Rows past mb repeat the last row; their results are not stored. */
    for (int i = 0; i < GR_MR; i++)
        ar[i] = a + (i < mb ? i : mb - 1) * lda;
    /* Two vectors per row: 16 independent accumulators cover the FMA
     * latency at two FMAs per cycle. */
    for (; j + 2 * GR_NR <= n; j += 2 * GR_NR) {
        v16f acc[GR_MR], acc2[GR_MR];
        for (int i = 0; i < GR_MR; i++) {
            float bv = bias ? bias[i < mb ? i : mb - 1] : 0.0f;
            acc[i] = (v16f){0} + bv;
            acc2[i] = acc[i];
        }
        for (int64_t r = 0; r < k; r++) {
            v16f bv, bv2;
            memcpy(&bv, b[r] + j0 + j, sizeof bv);
            memcpy(&bv2, b[r] + j0 + j + GR_NR, sizeof bv2);
            for (int i = 0; i < GR_MR; i++) {
                acc[i] += ar[i][r] * bv;
                acc2[i] += ar[i][r] * bv2;
            }
        }
        for (int64_t i = 0; i < mb; i++) {
            memcpy(c + i * ldc + j, &acc[i], sizeof acc[i]);
            memcpy(c + i * ldc + j + GR_NR, &acc2[i], sizeof acc2[i]);
        }
    }
    for (; j + GR_NR <= n; j += GR_NR) {
        v16f acc[GR_MR];
        for (int i = 0; i < GR_MR; i++) {
            float bv = bias ? bias[i < mb ? i : mb - 1] : 0.0f;
            acc[i] = (v16f){0} + bv;
        }
        for (int64_t r = 0; r < k; r++) {
            v16f bv;
            memcpy(&bv, b[r] + j0 + j, sizeof bv);
            for (int i = 0; i < GR_MR; i++)
                acc[i] += ar[i][r] * bv;
        }
        for (int64_t i = 0; i < mb; i++)
            memcpy(c + i * ldc + j, &acc[i], sizeof acc[i]);
    }
    if (j < n) {
        /* Tail of t < GR_NR positions: partial loads into whole vectors
         * (B rows may end right there), so it runs as fast as a block. */
        size_t t = (size_t)(n - j) * sizeof(float);
        v16f acc[GR_MR];
        for (int i = 0; i < GR_MR; i++) {
            float bv = bias ? bias[i < mb ? i : mb - 1] : 0.0f;
            acc[i] = (v16f){0} + bv;
        }
        for (int64_t r = 0; r < k; r++) {
            v16f bv = {0};
            memcpy(&bv, b[r] + j0 + j, slack ? sizeof bv : t);
            for (int i = 0; i < GR_MR; i++)
                acc[i] += ar[i][r] * bv;
        }
        for (int64_t i = 0; i < mb; i++)
            memcpy(c + i * ldc + j, &acc[i], t);
    }
}

struct gr_arg {
    const conv_plan *p;
    const float *x, *w, *bias;
    float *y;
    int flat;                   /* stride 1: flat form, no im2col */
    int64_t span;               /* positions per (batch, group) */
    int64_t ntile;              /* tiles of GR_TILE positions per group */
    atomic_int failed;          /* a task could not allocate its buffer */
};

/* Flat form: with stride 1, output (od, oh, ow) at wide position
 * p = od*pd_pitch + oh*ph_pitch + ow reads tap (kd, kh, kw) of channel c
 * at plane_c[p + kd*dd*pd_pitch + kh*dh*ph_pitch + kw*dw], so each B row
 * is the padded plane shifted, and positions past the output width are
 * computed into the wide tile and dropped when copying out. */
static void gr_scatter(const conv_plan *p, const float *wide, int64_t mb,
                       int64_t q0, int64_t q1, int64_t pdp, int64_t php,
                       float *y)
{
    for (int64_t i = 0; i < mb; i++) {
        const float *src = wide + i * GR_TILE;
        float *yo = y + i * p->osz;
        int64_t q = q0;
        while (q < q1) {
            int64_t od = q / pdp, rem = q % pdp, oh = rem / php;
            int64_t ow = rem % php, run = php - ow;
            if (run > q1 - q)
                run = q1 - q;
            if (oh < p->oh && ow < p->ow) {
                int64_t v = p->ow - ow < run ? p->ow - ow : run;
                memcpy(yo + (od * p->oh + oh) * p->ow + ow, src + (q - q0),
                       (size_t)v * sizeof *yo);
            }
            q += run;
        }
    }
}

/* Items are (batch, group, tile of GR_TILE positions). */
static void gr_items(void *arg, int64_t b, int64_t e)
{
    struct gr_arg *a = arg;
    const conv_plan *p = a->p;
    /* Per task: B row pointers, a column tile (im2col form) or a wide
     * output tile (flat form), and the group's channels padded; bounded
     * by plan_make (rows <= GR_MAX_ROWS, mg <= GR_MAX_MG,
     * cg * xplane <= XPAD_MAX). */
    int64_t tilef = a->flat ? GR_MAX_MG * GR_TILE : p->rows * GR_TILE;
    int64_t padf = p->need_pad ? p->cg * p->xplane : 0;
    const float **brow = malloc((size_t)p->rows * sizeof *brow);
    int64_t *tap = malloc((size_t)p->rows * sizeof *tap);
    float *buf = malloc((size_t)(tilef + padf + GR_NR) * sizeof *buf);
    float *xpad = buf ? buf + tilef : NULL;
    int64_t last = -1;          /* (batch, group) now in xpad */
    /* Full-vector tail reads stay inside buf: the column tile, or the
     * padded planes, is followed by GR_NR spare floats. */
    int slack = !a->flat || padf;
    struct col_arg ca;

    if (!brow || !tap || !buf) {
        atomic_store(&a->failed, 1);
        free(brow);
        free(tap);
        free(buf);
        return;
    }
    memset(buf + tilef + padf, 0, GR_NR * sizeof *buf);
    memset(&ca, 0, sizeof ca);
    ca.p = p;
    /* Flat form: offset of row r = (channel, kd, kh, kw) in the group's
     * planes; the same for every item. */
    col_set_padded(&ca, xpad, 0);
    for (int64_t r = 0; r < p->rows; r++) {
        int64_t k = r % p->ksz, kd = k / (p->kh * p->kw);
        int64_t kh = (k / p->kw) % p->kh, kw = k % p->kw;
        tap[r] = (r / p->ksz) * ca.pl + kd * p->dd * ca.pd_pitch +
                 kh * p->dh * ca.ph_pitch + kw * p->dw;
    }
    for (int64_t t = b; t < e; t++) {
        int64_t tile = t % a->ntile, gi = (t / a->ntile) % p->group;
        int64_t nb = t / (a->ntile * p->group);
        int64_t q0 = tile * GR_TILE;
        int64_t q1 = q0 + GR_TILE < a->span ? q0 + GR_TILE : a->span;
        const float *xg = a->x + (nb * p->c + gi * p->cg) * p->isz;
        if (padf && last != t / a->ntile) {
            pad_planes(p, xg, p->cg, xpad);
            last = t / a->ntile;
        }
        /* Channel numbers in rows are global: xp's first plane is the
         * group's first channel. */
        col_set_padded(&ca, padf ? xpad : xg, gi * p->cg);
        if (a->flat) {
            for (int64_t r = 0; r < p->rows; r++)
                brow[r] = ca.xp + tap[r];
        } else {
            ca.col = buf;
            ca.r0 = gi * p->rows;
            ca.q0 = q0;
            ca.q1 = q1;
            col_rows_pad(&ca, 0, p->rows);
            for (int64_t r = 0; r < p->rows; r++)
                brow[r] = buf + r * (q1 - q0);
        }
        for (int64_t m0 = 0; m0 < p->mg; m0 += GR_MR) {
            int64_t mb = p->mg - m0 < GR_MR ? p->mg - m0 : GR_MR;
            int64_t mo = gi * p->mg + m0;
            const float *bias = a->bias ? a->bias + mo : NULL;
            float *yo = a->y + (nb * p->m + mo) * p->osz;
            if (a->flat) {
                gr_gemm(mb, p->rows, a->w + mo * p->rows, p->rows, brow, q0,
                        buf, GR_TILE, q1 - q0, bias, slack);
                gr_scatter(p, buf, mb, q0, q1, ca.pd_pitch, ca.ph_pitch, yo);
            } else {
                gr_gemm(mb, p->rows, a->w + mo * p->rows, p->rows, brow, 0,
                        yo + q0, p->osz, q1 - q0, bias, slack);
            }
        }
    }
    free(brow);
    free(tap);
    free(buf);
}

static int conv_grouped(const conv_plan *p, const float *x, const float *w,
                        const float *bias, float *y, lg_pool *pool,
                        const lg_node *n, char *err, size_t errlen)
{
    struct gr_arg a;
    int64_t work;
    a.p = p;
    a.x = x;
    a.w = w;
    a.bias = bias;
    a.y = y;
    a.flat = p->sd == 1 && p->sh == 1 && p->sw == 1;
    if (a.flat) {
        /* Wide positions up to the last output, in the padded layout
         * (or the input's own when no padding is needed). */
        int64_t pdp = p->need_pad ? p->xh * p->xw : p->ih * p->iw;
        int64_t php = p->need_pad ? p->xw : p->iw;
        a.span = (p->od - 1) * pdp + (p->oh - 1) * php + p->ow;
    } else {
        a.span = p->osz;
    }
    a.ntile = (a.span + GR_TILE - 1) / GR_TILE;
    atomic_init(&a.failed, 0);
    work = p->mg * p->rows * (a.span < GR_TILE ? a.span : GR_TILE);
    lg_pool_run(pool, p->n * p->group * a.ntile,
                work >= TASK_MACS ? 1 : TASK_MACS / work + 1, gr_items, &a);
    if (atomic_load(&a.failed))
        return lg_errf(err, errlen, -ENOMEM, "Conv '%s': out of memory for "
                       "the column tile", n->name);
    return 0;
}

/* ------------------------------------------------------------- kernel */

static void conv_gemm(lg_pool *pool, const conv_plan *p, const float *x,
                      const float *w, float *y)
{
    for (int64_t b = 0; b < p->n; b++)
        for (int64_t gi = 0; gi < p->group; gi++)
            lg_sgemm(pool, 0, 0, p->mg, p->osz, p->cg, 1.0f,
                     w + gi * p->mg * p->cg, p->cg,
                     x + (b * p->c + gi * p->cg) * p->isz, p->isz,
                     1.0f, y + (b * p->m + gi * p->mg) * p->osz, p->osz);
}

static int check_f32(const lg_node *n, lg_tensor *const *in, int cnt,
                     char *err, size_t errlen)
{
    for (int i = 0; i < cnt; i++)
        if (in[i] && in[i]->dtype != LG_F32)
            return lg_errf(err, errlen, LG_EUNSUP,
                           "Conv '%s': only float32 is supported (input %d "
                           "is %s)", n->name, i,
                           lg_dtype_name(in[i]->dtype));
    return 0;
}

static int conv_run(const lg_graph *g, const lg_node *n,
                    lg_tensor *const *in, lg_tensor *const *out,
                    lg_kctx *ctx)
{
    (void)g;
    const conv_plan *p = ctx->state;
    conv_plan local;
    const lg_tensor *b = n->n_in > 2 ? in[2] : NULL;
    const float *x, *w, *bias;
    float *y;
    int rc;
    char s1[128], s2[128];

    if ((rc = check_f32(n, in, n->n_in < 3 ? n->n_in : 3, ctx->err,
                        ctx->errlen)) < 0)
        return rc;
    if (!p || !lg_shape_eq(&p->xs, &in[0]->shape) ||
        !lg_shape_eq(&p->ws, &in[1]->shape) || p->has_bias != (b != NULL)) {
        if ((rc = plan_make(n, &in[0]->shape, &in[1]->shape, b != NULL,
                            &local, ctx->err, ctx->errlen)) < 0)
            return rc;
        p = &local;
    }
    if (out[0]->dtype != LG_F32 || !lg_shape_eq(&out[0]->shape, &p->ys))
        return lg_errf(ctx->err, ctx->errlen, LG_EMODEL,
                       "Conv '%s': output is %s, expected %s", n->name,
                       lg_shape_str(&out[0]->shape, s1, sizeof s1),
                       lg_shape_str(&p->ys, s2, sizeof s2));
    if (b && (b->shape.rank != 1 || b->shape.d[0] != p->m))
        return lg_errf(ctx->err, ctx->errlen, LG_EMODEL,
                       "Conv '%s': bias is %s, expected [%lld]", n->name,
                       lg_shape_str(&b->shape, s1, sizeof s1),
                       (long long)p->m);
    if ((uint64_t)p->m * (uint64_t)p->rows > INT32_MAX ||
        (uint64_t)p->osz > INT32_MAX || (uint64_t)p->isz > INT32_MAX)
        return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP,
                       "Conv '%s': dimensions exceed the BLAS int range",
                       n->name);
    x = in[0]->data;
    w = in[1]->data;
    bias = b ? b->data : NULL;
    y = out[0]->data;
    if (p->n == 0 || p->m == 0)
        return 0;
    if (p->path == PATH_DEPTHWISE) {
        conv_depthwise(p, x, w, bias, y, ctx->pool);
        return 0;
    }
    if (p->path == PATH_GROUPED && p->cg > 0)
        return conv_grouped(p, x, w, bias, y, ctx->pool, n, ctx->err,
                            ctx->errlen);
    fill_bias(ctx->pool, y, bias, p->n * p->m, p->m, p->osz);
    if (p->cg == 0)             /* no input channels: bias only */
        return 0;
    if (p->path == PATH_GEMM) {
        conv_gemm(ctx->pool, p, x, w, y);
        return 0;
    }
    return conv_im2col(p, x, w, y, ctx->pool, n, ctx->err, ctx->errlen);
}

static int conv_prepare(const lg_graph *g, const lg_node *n, void **state,
                        char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *w = lg_in(g, n, 1);
    conv_plan *p;
    int rc;
    *state = NULL;
    if (!x || !w || x->dtype != LG_F32 || w->dtype != LG_F32 ||
        (lg_in(g, n, 2) && lg_in(g, n, 2)->dtype != LG_F32))
        return lg_errf(err, errlen, LG_EUNSUP,
                       "Conv '%s': only float32 is supported", n->name);
    p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    if ((rc = plan_make(n, &x->shape, &w->shape, lg_in(g, n, 2) != NULL, p,
                        err, errlen)) < 0) {
        free(p);
        return rc;
    }
    *state = p;
    return 0;
}

static void conv_release(void *state)
{
    free(state);
}

const lg_kernel lg_cpu_kernels_conv[] = {
    {"Conv", conv_run, conv_prepare, conv_release},
    {NULL, NULL, NULL, NULL},
};
