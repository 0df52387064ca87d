/*
 * bcast.c - broadcast plans and strided copies for the CPU kernels (see
 * bcast.h). Everything is a pure function of its arguments; thread-safe.
 *
 * Collapsing is what makes the fast paths fall out of one general walker:
 * after dimensions of size 1 are dropped and neighbours that are laid out
 * alike in every operand are merged, a same-shape op is a single run, a
 * tensor-op-scalar is a single run with increment 0, and the SE-block case
 * [1,C,H,W] * [1,C,1,1] is C runs of H*W.
 */
#include "bcast.h"

#include <errno.h>
#include <string.h>

void lg_bcast_strides(const lg_shape *s, int64_t *st)
{
    int64_t acc = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= s->d[i];
    }
}

int lg_bcast_plan(lg_bcast *p, const lg_shape *out, int nin,
                  const lg_shape *const *in)
{
    int r = out->rank, m = 0;
    int64_t st[LG_BCAST_MAXIN][LG_MAX_RANK];

    memset(p, 0, sizeof *p);
    if (nin < 0 || nin > LG_BCAST_MAXIN || r < 0 || r > LG_MAX_RANK)
        return -EINVAL;
    if (lg_shape_numel(out, &p->numel) < 0)
        return -EINVAL;
    p->nin = nin;
    for (int k = 0; k < nin; k++) {
        int64_t s = 1;
        if (in[k]->rank > r)
            return -EINVAL;
        for (int i = r - 1; i >= 0; i--) {
            int ik = i - (r - in[k]->rank);
            int64_t dk = ik >= 0 ? in[k]->d[ik] : 1;
            if (dk == out->d[i] && dk != 1)
                st[k][i] = s;
            else if (dk == 1)
                st[k][i] = 0;
            else
                return -EINVAL;
            s *= dk;
        }
    }
    for (int i = 0; i < r; i++) {
        int merge = m > 0;
        if (out->d[i] == 1)
            continue;
        for (int k = 0; k < nin && merge; k++)
            if (p->st[k][m - 1] != st[k][i] * out->d[i])
                merge = 0;
        if (merge) {
            p->d[m - 1] *= out->d[i];
            for (int k = 0; k < nin; k++)
                p->st[k][m - 1] = st[k][i];
        } else {
            p->d[m] = out->d[i];
            for (int k = 0; k < nin; k++)
                p->st[k][m] = st[k][i];
            m++;
        }
    }
    if (m == 0) {               /* all ones: a single element */
        p->d[0] = 1;
        for (int k = 0; k < nin; k++)
            p->st[k][0] = 0;
        m = 1;
    }
    p->rank = m;
    return 0;
}

void lg_bcast_walk(const lg_bcast *p, int64_t begin, int64_t end,
                   lg_bcast_row_fn fn, void *arg)
{
    int last = p->rank - 1;
    int64_t idx[LG_MAX_RANK], off[LG_BCAST_MAXIN], inc[LG_BCAST_MAXIN];
    int64_t rem = begin, pos = begin;

    if (begin >= end)
        return;
    for (int i = last; i >= 0; i--) {
        idx[i] = rem % p->d[i];
        rem /= p->d[i];
    }
    for (int k = 0; k < p->nin; k++)
        inc[k] = p->st[k][last];
    while (pos < end) {
        int64_t n = p->d[last] - idx[last];
        for (int k = 0; k < p->nin; k++) {
            int64_t o = 0;
            for (int i = 0; i <= last; i++)
                o += idx[i] * p->st[k][i];
            off[k] = o;
        }
        if (n > end - pos)
            n = end - pos;
        fn(arg, pos, off, inc, n);
        pos += n;
        idx[last] += n;
        for (int i = last; i > 0 && idx[i] >= p->d[i]; i--) {
            idx[i] = 0;
            idx[i - 1]++;
        }
    }
}

void lg_bcast_fill(void *dst, const void *val, size_t esize, int64_t n)
{
    switch (esize) {
    case 1:
        memset(dst, *(const uint8_t *)val, (size_t)n);
        break;
#define FILL(T) { T v, *d = dst; memcpy(&v, val, sizeof v); \
        for (int64_t i = 0; i < n; i++) d[i] = v; } break;
    case 2: FILL(uint16_t)
    case 4: FILL(uint32_t)
    case 8: FILL(uint64_t)
#undef FILL
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)dst + (size_t)i * esize, val, esize);
    }
}

/* Drop unit dims, merge neighbours with st[i] == st[i+1]*d[i+1]. Returns
 * the element count. */
static int64_t view_collapse(lg_bcast_view *v)
{
    int m = 0;
    int64_t n = 1;
    for (int i = 0; i < v->rank; i++) {
        n *= v->d[i];
        if (v->d[i] == 1)
            continue;
        if (m > 0 && v->st[m - 1] == v->st[i] * v->d[i]) {
            v->d[m - 1] *= v->d[i];
            v->st[m - 1] = v->st[i];
        } else {
            v->d[m] = v->d[i];
            v->st[m] = v->st[i];
            m++;
        }
    }
    if (m == 0) {
        v->d[0] = 1;
        v->st[0] = 0;
        m = 1;
    }
    v->rank = m;
    return n;
}

typedef struct copy_job {
    lg_bcast_view v;            /* collapsed */
    char *dst;
    const char *src;
    size_t es;
    int tj;                     /* tiled: the dim with source stride 1 */
    int64_t tile;               /* tile edge */
    int64_t nbj, nbl;           /* tiles along tj and along the last dim */
    int64_t dstr[LG_BCAST_MAXR];/* destination strides */
} copy_job;

static void copy_row(const copy_job *j, int64_t doff, int64_t soff)
{
    int64_t L = j->v.d[j->v.rank - 1], s = j->v.st[j->v.rank - 1];
    size_t es = j->es;
    char *d = j->dst + (size_t)doff * es;
    const char *sp = j->src + soff * (int64_t)es;
    if (s == 1) {
        memcpy(d, sp, (size_t)L * es);
        return;
    }
    if (s == 0) {
        lg_bcast_fill(d, sp, es, L);
        return;
    }
    switch (es) {
#define ROW(T) { T *dd = (T *)(void *)d; const T *ss = (const T *)(const void *)sp; \
        for (int64_t i = 0; i < L; i++) dd[i] = ss[i * s]; } break;
    case 1: ROW(uint8_t)
    case 2: ROW(uint16_t)
    case 4: ROW(uint32_t)
    case 8: ROW(uint64_t)
#undef ROW
    default:
        for (int64_t i = 0; i < L; i++)
            memcpy(d + (size_t)i * es, sp + i * s * (int64_t)es, es);
    }
}

/* Rows [begin, end): a row is the whole last dim. */
static void copy_rows(void *arg, int64_t begin, int64_t end)
{
    const copy_job *j = arg;
    int last = j->v.rank - 1;
    int64_t idx[LG_BCAST_MAXR], rem = begin, L = j->v.d[last];
    for (int i = last - 1; i >= 0; i--) {
        idx[i] = rem % j->v.d[i];
        rem /= j->v.d[i];
    }
    for (int64_t r = begin; r < end; r++) {
        int64_t soff = j->v.base;
        for (int i = 0; i < last; i++)
            soff += idx[i] * j->v.st[i];
        copy_row(j, r * L, soff);
        for (int i = last - 1; i >= 0; i--) {
            if (++idx[i] < j->v.d[i])
                break;
            idx[i] = 0;
        }
    }
}

/* Tiles [begin, end), numbered (outer, block along tj, block along last). */
static void copy_tiles(void *arg, int64_t begin, int64_t end)
{
    const copy_job *j = arg;
    int last = j->v.rank - 1, tj = j->tj;
    int64_t T = j->tile, sl = j->v.st[last], dj = j->dstr[tj];

    for (int64_t t = begin; t < end; t++) {
        int64_t rem = t, bl = rem % j->nbl, bj, soff = j->v.base, doff = 0;
        rem /= j->nbl;
        bj = rem % j->nbj;
        rem /= j->nbj;
        for (int i = last - 1; i >= 0; i--) {
            int64_t x;
            if (i == tj)
                continue;
            x = rem % j->v.d[i];
            rem /= j->v.d[i];
            soff += x * j->v.st[i];
            doff += x * j->dstr[i];
        }
        int64_t a0 = bj * T, a1 = a0 + T, b0 = bl * T, b1 = b0 + T;
        if (a1 > j->v.d[tj])
            a1 = j->v.d[tj];
        if (b1 > j->v.d[last])
            b1 = j->v.d[last];
        switch (j->es) {
#define TILE(TY) { const TY *s = (const TY *)(const void *)j->src + soff; \
            TY *d = (TY *)(void *)j->dst + doff; \
            for (int64_t a = a0; a < a1; a++) { \
                const TY *sp = s + a; TY *dp = d + a * dj; \
                for (int64_t b = b0; b < b1; b++) dp[b] = sp[b * sl]; \
            } } break;
        case 1: TILE(uint8_t)
        case 2: TILE(uint16_t)
        case 4: TILE(uint32_t)
        case 8: TILE(uint64_t)
#undef TILE
        default:
            for (int64_t a = a0; a < a1; a++)
                for (int64_t b = b0; b < b1; b++)
                    memcpy(j->dst + (size_t)(doff + a * dj + b) * j->es,
                           j->src + (soff + a + b * sl) * (int64_t)j->es,
                           j->es);
        }
    }
}

void lg_bcast_copy(lg_pool *pool, const lg_bcast_view *v, void *dst,
                   const void *src, size_t esize)
{
    copy_job j;
    int64_t n, L;
    int last;

    memset(&j, 0, sizeof j);
    j.v = *v;
    j.dst = dst;
    j.src = src;
    j.es = esize;
    n = view_collapse(&j.v);
    if (n <= 0)
        return;
    last = j.v.rank - 1;
    L = j.v.d[last];
    j.tj = -1;
    if (j.v.st[last] != 0 && j.v.st[last] != 1 && L >= 4) {
        for (int i = 0; i < last; i++)
            if (j.v.st[i] == 1 && j.v.d[i] >= 4)
                j.tj = i;
    }
    if (j.tj >= 0) {
        int64_t acc = 1, outer = 1;
        for (int i = last; i >= 0; i--) {
            j.dstr[i] = acc;
            acc *= j.v.d[i];
            if (i != last && i != j.tj)
                outer *= j.v.d[i];
        }
        /* Big tiles amortize the index arithmetic, but when either stride
         * is a multiple of 1 KiB the tile's lines share a few L1 sets and
         * evict each other (4K aliasing): small tiles then win. */
        if ((j.v.st[last] * (int64_t)esize) % 1024 == 0 ||
            (j.dstr[j.tj] * (int64_t)esize) % 1024 == 0)
            j.tile = 8;
        else
            j.tile = esize >= 8 ? 16 : 32;
        j.nbj = (j.v.d[j.tj] + j.tile - 1) / j.tile;
        j.nbl = (L + j.tile - 1) / j.tile;
        lg_pool_run(pool, outer * j.nbj * j.nbl, 16, copy_tiles, &j);
    } else {
        int64_t rows = n / L, min = 16384 / L;
        lg_pool_run(pool, rows, min > 0 ? min : 1, copy_rows, &j);
    }
}
