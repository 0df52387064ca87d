/*
 * opdef_tensor.c - op definitions for tensor manipulation: reshaping,
 * transposition, joining and splitting, slicing and gathering, padding,
 * tiling, reductions, ArgMax/TopK, Resize, index generators (Range,
 * ConstantOfShape, OneHot, Trilu) and Shape/Size/Constant.
 *
 * Owns lg_opdefs_tensor[] and the resolvers of opdef_tensor.h. Shapes that
 * depend on input values (Reshape's shape, Slice's starts, ...) need those
 * inputs to be constant: otherwise the shape function fails with
 * LG_EUNSUP, so data-dependent shapes are reported as unsupported rather
 * than guessed. Ops with data-dependent output shapes (NonZero, Unique,
 * NonMaxSuppression) are deliberately absent from the table.
 *
 * Where an input became an attribute or the reverse across opsets
 * (Squeeze/Unsqueeze axes, Split's split, Slice's starts, Pad's pads,
 * Reduce axes, Clip), the input is used when present and the attribute
 * otherwise, which reads every opset correctly.
 *
 * Pure functions of the graph; called single-threaded from lg_graph_infer.
 */
#include "opdef_tensor.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lgerr.h"
#include "op.h"

#define TM(t) (1u << (t))
#define T_NUM (TM(LG_F32) | TM(LG_F64) | TM(LG_I64) | TM(LG_I32))
#define T_INT (TM(LG_I64) | TM(LG_I32))

static int fail(int code, const lg_node *n, char *err, size_t errlen,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "Op 'name': detail" */
static int fail(int code, const lg_node *n, char *err, size_t errlen,
                const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lg_errf(err, errlen, code, "%s '%s': %s", n->op, n->name, msg);
}

#define EMODEL(...) fail(LG_EMODEL, n, err, errlen, __VA_ARGS__)
#define EUNSUP(...) fail(LG_EUNSUP, n, err, errlen, __VA_ARGS__)

static const char *shp(const lg_shape *s, char *buf, size_t len)
{
    return lg_shape_str(s, buf, len);
}

static uint64_t no_flops(const lg_graph *g, const lg_node *n)
{
    (void)g;
    (void)n;
    return 0;
}

/* One FLOP per input element (reductions, scans, selections). */
static uint64_t in_flops(const lg_graph *g, const lg_node *n)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t cnt = 0;
    if (x)
        lg_shape_numel(&x->shape, &cnt);
    return (uint64_t)cnt;
}

/* Integer values of t (int64/int32, rank <= 1) into v[max]; the count. */
static int tensor_ints(const lg_node *n, const lg_tensor *t, const char *what,
                       int64_t *v, int max, char *err, size_t errlen)
{
    int64_t cnt;
    if (t->dtype != LG_I64 && t->dtype != LG_I32)
        return EMODEL("%s must be int64, is %s", what,
                      lg_dtype_name(t->dtype));
    if (t->shape.rank > 1)
        return EMODEL("%s must be 1-D, has rank %d", what, t->shape.rank);
    cnt = lg_tensor_numel(t);
    if (cnt > max)
        return EMODEL("%s has %lld values (at most %d)", what,
                      (long long)cnt, max);
    for (int64_t i = 0; i < cnt; i++)
        v[i] = lg_tensor_geti(t, i);
    return (int)cnt;
}

/* The constant behind input i: *t = NULL if the input is absent, LG_EUNSUP
 * if it is computed at run time. */
static int need_const(const lg_graph *g, const lg_node *n, int i,
                      const lg_tensor **t, char *err, size_t errlen)
{
    const lg_value *v = lg_in(g, n, i);
    *t = NULL;
    if (!v)
        return 0;
    if (!v->konst)
        return EUNSUP("input '%s' must be constant for static shapes "
                      "(computed at run time here)", v->name);
    *t = v->konst;
    return 0;
}

static int need_types(const lg_graph *g, const lg_node *n, int i,
                      unsigned mask, char *err, size_t errlen)
{
    const lg_value *v = lg_in(g, n, i);
    if (!v || (mask & TM(v->dtype)))
        return 0;
    return EUNSUP("input %d '%s' has type %s, not supported here", i,
                  v->name, lg_dtype_name(v->dtype));
}

static int known_type(const lg_graph *g, const lg_node *n, int i, char *err,
                      size_t errlen)
{
    const lg_value *v = lg_in(g, n, i);
    if (!v || lg_dtype_size(v->dtype))
        return 0;
    return EUNSUP("input %d '%s' has unsupported type %s", i, v->name,
                  lg_dtype_name(v->dtype));
}

/* Normalize an axis into [0, rank) or fail naming what it is. */
static int get_axis(const lg_node *n, int64_t axis, int rank, const char *what,
                    int *out, char *err, size_t errlen)
{
    int a = lg_axis(axis, rank);
    *out = 0;
    if (a < 0 || rank == 0)
        return EMODEL("%s %lld out of range for rank %d", what,
                      (long long)axis, rank);
    *out = a;
    return 0;
}

/* ---------------------------------------------------------- Reshape */

static int shape_reshape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t v[LG_MAX_RANK], total, prod;
    int allowzero = lg_attr_int(n, "allowzero", 0) != 0, infer = -1, k, rc;
    lg_shape o, tmp;
    char a[128], b[128];

    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if ((k = lg_const_ints(g, n, 1, v, LG_MAX_RANK, err, errlen)) < 0)
        return k;
    memset(&o, 0, sizeof o);
    o.rank = k;
    for (int i = 0; i < k; i++) {
        if (v[i] == -1) {
            if (infer >= 0)
                return EMODEL("shape has more than one -1");
            infer = i;
            o.d[i] = 1;
        } else if (v[i] == 0 && !allowzero) {
            if (i >= x->shape.rank)
                return EMODEL("shape copies dim %d (0) but input %s has "
                              "rank %d", i, shp(&x->shape, a, sizeof a),
                              x->shape.rank);
            o.d[i] = x->shape.d[i];
        } else if (v[i] < 0) {
            return EMODEL("shape has invalid dim %lld", (long long)v[i]);
        } else {
            o.d[i] = v[i];
        }
    }
    if (allowzero && infer >= 0)
        for (int i = 0; i < k; i++)
            if (v[i] == 0)
                return EMODEL("shape has both 0 and -1 with allowzero=1");
    if (lg_shape_numel(&x->shape, &total) < 0 ||
        lg_shape_numel(&o, &prod) < 0)
        return EMODEL("shape too large");
    if (infer >= 0) {
        if (prod == 0 || total % prod != 0) {
            tmp = lg_shape_make(k, v);
            return EMODEL("cannot reshape %s into %s",
                          shp(&x->shape, a, sizeof a), shp(&tmp, b, sizeof b));
        }
        o.d[infer] = total / prod;
    } else if (prod != total) {
        return EMODEL("cannot reshape %s (%lld elements) into %s (%lld)",
                      shp(&x->shape, a, sizeof a), (long long)total,
                      shp(&o, b, sizeof b), (long long)prod);
    }
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

static int shape_flatten(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int r = x->shape.rank, rc;
    int64_t axis = lg_attr_int(n, "axis", 1), a = 1, b = 1;
    lg_shape o;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis > r)
        return EMODEL("axis %lld out of range for rank %d",
                      (long long)lg_attr_int(n, "axis", 1), r);
    for (int i = 0; i < r; i++) {
        int64_t *p = i < axis ? &a : &b;
        if (x->shape.d[i] && *p > INT64_MAX / x->shape.d[i])
            return EMODEL("shape too large");
        *p *= x->shape.d[i];
    }
    memset(&o, 0, sizeof o);
    o.rank = 2;
    o.d[0] = a;
    o.d[1] = b;
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

static int shape_transpose(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    const int64_t *perm = NULL;
    int r = x->shape.rank, np = lg_attr_ints(n, "perm", &perm), seen = 0, rc;
    lg_shape o;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    memset(&o, 0, sizeof o);
    o.rank = r;
    if (np >= 0 && np != r)
        return EMODEL("perm has %d entries for rank %d", np, r);
    for (int i = 0; i < r; i++) {
        int64_t p = np >= 0 ? perm[i] : r - 1 - i;
        if (p < 0 || p >= r || (seen & (1 << p)))
            return EMODEL("perm is not a permutation of 0..%d", r - 1);
        seen |= 1 << p;
        o.d[i] = x->shape.d[p];
    }
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

/* Axes of Squeeze/Unsqueeze: input 1 when present, else the attribute.
 * Returns the count, -1 when there are none, or an error (< -1). */
static int get_axes(const lg_graph *g, const lg_node *n, int64_t *v, int max,
                    char *err, size_t errlen)
{
    const int64_t *a;
    int k;
    if (lg_in(g, n, 1))
        return lg_const_ints(g, n, 1, v, max, err, errlen);
    k = lg_attr_ints(n, "axes", &a);
    if (k < 0)
        return -1;
    if (k > max)
        return EMODEL("axes has %d entries (at most %d)", k, max);
    memcpy(v, a, (size_t)k * sizeof *v);
    return k;
}

static int shape_squeeze(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t ax[LG_MAX_RANK];
    int r = x->shape.rank, k, drop[LG_MAX_RANK] = {0}, rc;
    lg_shape o;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    k = get_axes(g, n, ax, LG_MAX_RANK, err, errlen);
    if (k < -1)
        return k;
    if (k < 0) {
        for (int i = 0; i < r; i++)
            drop[i] = x->shape.d[i] == 1;
    }
    for (int j = 0; j < k; j++) {
        int a;
        if ((rc = get_axis(n, ax[j], r, "axis", &a, err, errlen)) < 0)
            return rc;
        if (x->shape.d[a] != 1)
            return EMODEL("cannot squeeze axis %d of size %lld", a,
                          (long long)x->shape.d[a]);
        drop[a] = 1;
    }
    memset(&o, 0, sizeof o);
    for (int i = 0; i < r; i++)
        if (!drop[i])
            o.d[o.rank++] = x->shape.d[i];
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

static int shape_unsqueeze(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t ax[LG_MAX_RANK];
    int r = x->shape.rank, k, R, ins[LG_MAX_RANK] = {0}, rc;
    lg_shape o;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    k = get_axes(g, n, ax, LG_MAX_RANK, err, errlen);
    if (k < -1)
        return k;
    if (k < 0)
        return EMODEL("missing axes");
    R = r + k;
    if (R > LG_MAX_RANK)
        return EUNSUP("output rank %d exceeds %d", R, LG_MAX_RANK);
    for (int j = 0; j < k; j++) {
        int a;
        if ((rc = get_axis(n, ax[j], R, "axis", &a, err, errlen)) < 0)
            return rc;
        if (ins[a])
            return EMODEL("axis %lld repeated", (long long)ax[j]);
        ins[a] = 1;
    }
    memset(&o, 0, sizeof o);
    o.rank = R;
    for (int i = 0, s = 0; i < R; i++)
        o.d[i] = ins[i] ? 1 : x->shape.d[s++];
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

static int shape_concat(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    const lg_attr *aa = lg_node_attr(n, "axis");
    int r = x->shape.rank, a, rc;
    lg_shape o = x->shape;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if (!aa || aa->type != LG_ATTR_INT)
        return EMODEL("missing attribute 'axis'");
    if ((rc = get_axis(n, aa->i, r, "axis", &a, err, errlen)) < 0)
        return rc;
    o.d[a] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const lg_value *v = lg_in(g, n, i);
        char s1[128], s2[128];
        if (!v)
            return EMODEL("input %d is empty", i);
        if (v->dtype != x->dtype)
            return EMODEL("input %d '%s' is %s, input 0 is %s", i, v->name,
                          lg_dtype_name(v->dtype), lg_dtype_name(x->dtype));
        if (v->shape.rank != r)
            return EMODEL("input %d '%s' %s has rank %d, input 0 %s rank %d",
                          i, v->name, shp(&v->shape, s1, sizeof s1),
                          v->shape.rank, shp(&x->shape, s2, sizeof s2), r);
        for (int d = 0; d < r; d++)
            if (d != a && v->shape.d[d] != x->shape.d[d])
                return EMODEL("input %d '%s' %s does not match input 0 %s "
                              "off axis %d", i, v->name,
                              shp(&v->shape, s1, sizeof s1),
                              shp(&x->shape, s2, sizeof s2), a);
        if (o.d[a] > INT64_MAX - v->shape.d[a])
            return EMODEL("output too large");
        o.d[a] += v->shape.d[a];
    }
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

/* Split: sizes from input 1 (opset 13+), the "split" attribute, or
 * num_outputs (opset 18, last chunk smaller), else equal parts. */
static int shape_split(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int r = x->shape.rank, a, rc, m = n->n_out;
    int64_t dim, sum = 0, sz[1024];
    lg_shape o;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if ((rc = get_axis(n, lg_attr_int(n, "axis", 0), r, "axis", &a, err,
                       errlen)) < 0)
        return rc;
    if (m > (int)(sizeof sz / sizeof sz[0]))
        return EUNSUP("%d outputs (at most %zu)", m, sizeof sz / sizeof sz[0]);
    for (int i = 0; i < m; i++)
        if (!lg_out(g, n, i))   /* its size could not be told at run time */
            return EUNSUP("output %d is empty", i);
    dim = x->shape.d[a];
    if (lg_in(g, n, 1)) {
        const lg_tensor *t;
        int k;
        if ((rc = need_const(g, n, 1, &t, err, errlen)) < 0)
            return rc;
        if (lg_tensor_numel(t) != m)
            return EMODEL("split has %lld sizes for %d outputs",
                          (long long)lg_tensor_numel(t), m);
        if ((k = tensor_ints(n, t, "split", sz, m, err, errlen)) < 0)
            return k;
    } else if (lg_node_attr(n, "split")) {
        const int64_t *s;
        int k = lg_attr_ints(n, "split", &s);
        if (k != m)
            return EMODEL("split has %d sizes for %d outputs", k, m);
        memcpy(sz, s, (size_t)m * sizeof *sz);
    } else {
        int64_t no = lg_attr_int(n, "num_outputs", 0), chunk;
        if (no) {
            if (no != m)
                return EMODEL("num_outputs %lld but %d outputs",
                              (long long)no, m);
            chunk = (dim + m - 1) / m;
        } else {
            if (dim % m)
                return EMODEL("axis %d of size %lld does not split evenly "
                              "into %d", a, (long long)dim, m);
            chunk = dim / m;
        }
        for (int i = 0; i < m; i++) {
            int64_t left = dim - (int64_t)i * chunk;
            sz[i] = left < 0 ? 0 : (left < chunk ? left : chunk);
        }
    }
    for (int i = 0; i < m; i++) {
        if (sz[i] < 0 || sum > INT64_MAX - sz[i])
            return EMODEL("split size %lld invalid", (long long)sz[i]);
        sum += sz[i];
    }
    if (sum != dim)
        return EMODEL("split sizes add up to %lld, axis %d has %lld",
                      (long long)sum, a, (long long)dim);
    for (int i = 0; i < m; i++) {
        o = x->shape;
        o.d[a] = sz[i];
        if ((rc = lg_set_out(g, n, i, x->dtype, &o, err, errlen)) < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ Slice */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

int lg_opdef_slice(const lg_node *n, const lg_shape *in,
                   const lg_tensor *starts, const lg_tensor *ends,
                   const lg_tensor *axes, const lg_tensor *steps,
                   lg_slice *s, char *err, size_t errlen)
{
    int64_t st[LG_MAX_RANK], en[LG_MAX_RANK], ax[LG_MAX_RANK],
            sp[LG_MAX_RANK];
    int r = in->rank, k, kk, seen[LG_MAX_RANK] = {0}, have_axes = 0;

    if (starts) {
        if (!ends)
            return EMODEL("missing ends");
        if ((k = tensor_ints(n, starts, "starts", st, LG_MAX_RANK, err,
                             errlen)) < 0 ||
            (kk = tensor_ints(n, ends, "ends", en, LG_MAX_RANK, err,
                              errlen)) < 0)
            return k < 0 ? k : kk;
        if (kk != k)
            return EMODEL("%d starts but %d ends", k, kk);
        if (axes) {
            if ((kk = tensor_ints(n, axes, "axes", ax, LG_MAX_RANK, err,
                                  errlen)) < 0)
                return kk;
            if (kk != k)
                return EMODEL("%d starts but %d axes", k, kk);
            have_axes = 1;
        }
        if (steps) {
            if ((kk = tensor_ints(n, steps, "steps", sp, LG_MAX_RANK, err,
                                  errlen)) < 0)
                return kk;
            if (kk != k)
                return EMODEL("%d starts but %d steps", k, kk);
        }
    } else {                    /* opset < 10: attributes */
        const int64_t *a, *b, *c;
        k = lg_attr_ints(n, "starts", &a);
        kk = lg_attr_ints(n, "ends", &b);
        if (k < 0 || kk != k || k > LG_MAX_RANK)
            return EMODEL("needs starts and ends of equal length");
        memcpy(st, a, (size_t)k * sizeof *st);
        memcpy(en, b, (size_t)k * sizeof *en);
        kk = lg_attr_ints(n, "axes", &c);
        if (kk >= 0) {
            if (kk != k)
                return EMODEL("%d starts but %d axes", k, kk);
            memcpy(ax, c, (size_t)k * sizeof *ax);
            have_axes = 1;
        }
        steps = NULL;
    }
    s->out = *in;
    for (int i = 0; i < r; i++) {
        s->start[i] = 0;
        s->step[i] = 1;
    }
    for (int j = 0; j < k; j++) {
        int64_t a = have_axes ? ax[j] : j, step = steps ? sp[j] : 1, dim, b, e,
                cnt;
        if (a < 0)
            a += r;
        if (a < 0 || a >= r)
            return EMODEL("axis %lld out of range for rank %d",
                          (long long)(have_axes ? ax[j] : j), r);
        if (seen[a]++)
            return EMODEL("axis %lld repeated", (long long)a);
        if (step == 0)
            return EMODEL("step is 0 on axis %lld", (long long)a);
        if (step == INT64_MIN)  /* same effect, and -step stays defined */
            step = -INT64_MAX;
        dim = in->d[a];
        b = st[j];
        e = en[j];
        if (b < 0)
            b += dim;
        if (e < 0)
            e += dim;
        if (step > 0) {
            b = clamp64(b, 0, dim);
            e = clamp64(e, 0, dim);
            cnt = e > b ? (e - b - 1) / step + 1 : 0;
        } else if (dim == 0) {
            b = 0;
            cnt = 0;
        } else {
            b = clamp64(b, 0, dim - 1);
            e = clamp64(e, -1, dim - 1);
            cnt = b > e ? (b - e - 1) / -step + 1 : 0;
        }
        s->out.d[a] = cnt;
        s->start[a] = b;
        s->step[a] = step;
    }
    return 0;
}

static int shape_slice(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    const lg_tensor *t[4] = {NULL, NULL, NULL, NULL};
    lg_slice s;
    int rc;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    for (int i = 1; i < n->n_in && i < 5; i++)
        if ((rc = need_const(g, n, i, &t[i - 1], err, errlen)) < 0)
            return rc;
    if (n->n_in > 1 && (!t[0] || !t[1]))
        return EMODEL("starts and ends are required");
    if ((rc = lg_opdef_slice(n, &x->shape, t[0], t[1], t[2], t[3], &s, err,
                             errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 0, x->dtype, &s.out, err, errlen);
}

/* --------------------------------------------------- Gather & friends */

static int shape_gather(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *ix = lg_in(g, n, 1);
    int r = x->shape.rank, q = ix->shape.rank, a, rc;
    lg_shape o;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0 ||
        (rc = need_types(g, n, 1, T_INT, err, errlen)) < 0)
        return rc;
    if ((rc = get_axis(n, lg_attr_int(n, "axis", 0), r, "axis", &a, err,
                       errlen)) < 0)
        return rc;
    if (r - 1 + q > LG_MAX_RANK)
        return EUNSUP("output rank %d exceeds %d", r - 1 + q, LG_MAX_RANK);
    if (ix->konst) {
        int64_t cnt = lg_tensor_numel(ix->konst), dim = x->shape.d[a];
        for (int64_t i = 0; i < cnt; i++) {
            int64_t v = lg_tensor_geti(ix->konst, i);
            if (v < -dim || v >= dim)
                return EMODEL("index %lld out of range for axis %d of size "
                              "%lld", (long long)v, a, (long long)dim);
        }
    }
    memset(&o, 0, sizeof o);
    for (int i = 0; i < a; i++)
        o.d[o.rank++] = x->shape.d[i];
    for (int i = 0; i < q; i++)
        o.d[o.rank++] = ix->shape.d[i];
    for (int i = a + 1; i < r; i++)
        o.d[o.rank++] = x->shape.d[i];
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

static int shape_gather_elements(lg_graph *g, lg_node *n, char *err,
                                 size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *ix = lg_in(g, n, 1);
    int r = x->shape.rank, a, rc;
    char s1[128], s2[128];
    if ((rc = known_type(g, n, 0, err, errlen)) < 0 ||
        (rc = need_types(g, n, 1, T_INT, err, errlen)) < 0)
        return rc;
    if ((rc = get_axis(n, lg_attr_int(n, "axis", 0), r, "axis", &a, err,
                       errlen)) < 0)
        return rc;
    if (ix->shape.rank != r)
        return EMODEL("indices %s and data %s differ in rank",
                      shp(&ix->shape, s1, sizeof s1),
                      shp(&x->shape, s2, sizeof s2));
    for (int i = 0; i < r; i++)
        if (i != a && ix->shape.d[i] > x->shape.d[i])
            return EMODEL("indices %s exceed data %s on axis %d",
                          shp(&ix->shape, s1, sizeof s1),
                          shp(&x->shape, s2, sizeof s2), i);
    return lg_set_out(g, n, 0, x->dtype, &ix->shape, err, errlen);
}

static int shape_scatter_nd(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *ix = lg_in(g, n, 1),
                   *up = lg_in(g, n, 2);
    const char *red = lg_attr_str(n, "reduction", "none");
    int r = x->shape.rank, q = ix->shape.rank, k, rc;
    lg_shape want;
    char s1[128], s2[128];
    if ((rc = known_type(g, n, 0, err, errlen)) < 0 ||
        (rc = need_types(g, n, 1, TM(LG_I64), err, errlen)) < 0)
        return rc;
    if (up->dtype != x->dtype)
        return EMODEL("updates are %s, data is %s", lg_dtype_name(up->dtype),
                      lg_dtype_name(x->dtype));
    if (strcmp(red, "none") != 0) {
        if (strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") &&
            strcmp(red, "min"))
            return EMODEL("unknown reduction '%s'", red);
        if (x->dtype != LG_F32 && x->dtype != LG_I64)
            return EUNSUP("reduction '%s' on %s", red,
                          lg_dtype_name(x->dtype));
    }
    if (q < 1 || ix->shape.d[q - 1] < 1 || ix->shape.d[q - 1] > r)
        return EMODEL("indices %s do not index data %s",
                      shp(&ix->shape, s1, sizeof s1),
                      shp(&x->shape, s2, sizeof s2));
    k = (int)ix->shape.d[q - 1];
    if (q - 1 + r - k > LG_MAX_RANK)
        return EMODEL("updates rank too large");
    memset(&want, 0, sizeof want);
    for (int i = 0; i < q - 1; i++)
        want.d[want.rank++] = ix->shape.d[i];
    for (int i = k; i < r; i++)
        want.d[want.rank++] = x->shape.d[i];
    if (!lg_shape_eq(&want, &up->shape))
        return EMODEL("updates %s, expected %s",
                      shp(&up->shape, s1, sizeof s1),
                      shp(&want, s2, sizeof s2));
    return lg_set_out(g, n, 0, x->dtype, &x->shape, err, errlen);
}

/* ------------------------------------------------- Expand, Tile, Pad */

static int shape_expand(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t v[LG_MAX_RANK];
    int k, rc;
    lg_shape s, o;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if ((k = lg_const_ints(g, n, 1, v, LG_MAX_RANK, err, errlen)) < 0)
        return k;
    for (int i = 0; i < k; i++)
        if (v[i] < 0)
            return EMODEL("shape has negative dim %lld", (long long)v[i]);
    s = lg_shape_make(k, v);
    if ((rc = lg_broadcast(n, &x->shape, &s, &o, err, errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

static int shape_tile(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t v[LG_MAX_RANK];
    int k, rc;
    lg_shape o = x->shape;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if ((k = lg_const_ints(g, n, 1, v, LG_MAX_RANK, err, errlen)) < 0)
        return k;
    if (k != x->shape.rank)
        return EMODEL("%d repeats for rank %d", k, x->shape.rank);
    for (int i = 0; i < k; i++) {
        if (v[i] < 0)
            return EMODEL("negative repeat %lld", (long long)v[i]);
        if (v[i] && o.d[i] > INT64_MAX / v[i])
            return EMODEL("output too large");
        o.d[i] *= v[i];
    }
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

int lg_opdef_pad(const lg_node *n, const lg_shape *in, const lg_tensor *pads,
                 const lg_tensor *axes, int64_t *begin, int64_t *end,
                 lg_shape *out, char *err, size_t errlen)
{
    int64_t p[2 * LG_MAX_RANK], ax[LG_MAX_RANK];
    int r = in->rank, k, na = r, used[LG_MAX_RANK] = {0};
    if (pads) {
        if ((k = tensor_ints(n, pads, "pads", p, 2 * LG_MAX_RANK, err,
                             errlen)) < 0)
            return k;
    } else {
        const int64_t *a;
        k = lg_attr_ints(n, "pads", &a);
        if (k < 0 || k > 2 * LG_MAX_RANK)
            return EMODEL("missing or oversized pads");
        memcpy(p, a, (size_t)k * sizeof *p);
    }
    if (axes) {
        if ((na = tensor_ints(n, axes, "axes", ax, LG_MAX_RANK, err,
                              errlen)) < 0)
            return na;
    } else {
        for (int i = 0; i < r; i++)
            ax[i] = i;
    }
    if (k != 2 * na)
        return EMODEL("%d pads for %d axes", k, na);
    for (int i = 0; i < r; i++)
        begin[i] = end[i] = 0;
    for (int j = 0; j < na; j++) {
        int a = lg_axis(ax[j], r);
        if (a < 0 || r == 0)
            return EMODEL("axis %lld out of range for rank %d",
                          (long long)ax[j], r);
        if (used[a]++)
            return EMODEL("axis %d repeated", a);
        begin[a] = p[j];
        end[a] = p[j + na];
    }
    *out = *in;
    for (int i = 0; i < r; i++) {
        /* |pads| <= 2^62 keeps the sums from overflowing */
        if (begin[i] > (INT64_C(1) << 62) || begin[i] < -(INT64_C(1) << 62) ||
            end[i] > (INT64_C(1) << 62) || end[i] < -(INT64_C(1) << 62))
            return EMODEL("pad out of range on axis %d", i);
        out->d[i] = in->d[i] + begin[i] + end[i];
        if (out->d[i] < 0)
            return EMODEL("pads crop axis %d of size %lld below zero", i,
                          (long long)in->d[i]);
    }
    return 0;
}

static int shape_pad(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *cv = lg_in(g, n, 2);
    const lg_tensor *pads = NULL, *axes = NULL;
    const char *mode = lg_attr_str(n, "mode", "constant");
    int64_t b[LG_MAX_RANK], e[LG_MAX_RANK];
    lg_shape o;
    int rc;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if (strcmp(mode, "constant") && strcmp(mode, "reflect") &&
        strcmp(mode, "edge") && strcmp(mode, "wrap"))
        return EUNSUP("mode '%s'", mode);
    if (n->n_in > 1) {
        if ((rc = need_const(g, n, 1, &pads, err, errlen)) < 0 ||
            (rc = need_const(g, n, 3, &axes, err, errlen)) < 0)
            return rc;
        if (!pads)
            return EMODEL("missing pads");
    }
    if (cv) {
        int64_t cnt = 0;
        lg_shape_numel(&cv->shape, &cnt);
        if (cv->dtype != x->dtype || cnt > 1)
            return EMODEL("constant_value must be a %s scalar",
                          lg_dtype_name(x->dtype));
    }
    if ((rc = lg_opdef_pad(n, &x->shape, pads, axes, b, e, &o, err,
                           errlen)) < 0)
        return rc;
    if (strcmp(mode, "constant") != 0)
        for (int i = 0; i < x->shape.rank; i++)
            if (x->shape.d[i] == 0 && (b[i] > 0 || e[i] > 0))
                return EMODEL("mode '%s' cannot pad empty axis %d", mode, i);
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

/* ---------------------------------------------------- generators */

static int shape_constant_of_shape(lg_graph *g, lg_node *n, char *err,
                                   size_t errlen)
{
    int64_t v[LG_MAX_RANK];
    const lg_attr *val = lg_node_attr(n, "value");
    enum lg_dtype t = LG_F32;
    int k;
    lg_shape o;
    if ((k = lg_const_ints(g, n, 0, v, LG_MAX_RANK, err, errlen)) < 0)
        return k;
    if (val) {
        if (val->type != LG_ATTR_TENSOR || !val->t ||
            lg_tensor_numel(val->t) != 1)
            return EMODEL("value must be a one-element tensor");
        t = val->t->dtype;
        if (!lg_dtype_size(t))
            return EUNSUP("value type %s", lg_dtype_name(t));
    }
    for (int i = 0; i < k; i++)
        if (v[i] < 0)
            return EMODEL("negative dim %lld", (long long)v[i]);
    o = lg_shape_make(k, v);
    return lg_set_out(g, n, 0, t, &o, err, errlen);
}

static int shape_range(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_tensor *t[3];
    enum lg_dtype dt = lg_in(g, n, 0)->dtype;
    int64_t cnt;
    lg_shape o;
    int rc;
    if ((rc = need_types(g, n, 0, T_NUM, err, errlen)) < 0)
        return rc;
    for (int i = 0; i < 3; i++) {
        if ((rc = need_const(g, n, i, &t[i], err, errlen)) < 0)
            return rc;
        if (t[i]->dtype != dt || lg_tensor_numel(t[i]) != 1)
            return EMODEL("start, limit and delta must be %s scalars",
                          lg_dtype_name(dt));
    }
    if (dt == LG_F32 || dt == LG_F64) {
        double s, l, d, c;
        s = dt == LG_F32 ? *(const float *)t[0]->data
                         : *(const double *)t[0]->data;
        l = dt == LG_F32 ? *(const float *)t[1]->data
                         : *(const double *)t[1]->data;
        d = dt == LG_F32 ? *(const float *)t[2]->data
                         : *(const double *)t[2]->data;
        if (d == 0 || d != d || s != s || l != l)
            return EMODEL("delta is zero or a value is NaN");
        c = ceil((l - s) / d);
        if (c > 1e15)
            return EMODEL("range too long");
        cnt = c > 0 ? (int64_t)c : 0;
    } else {
        int64_t s = lg_tensor_geti(t[0], 0), l = lg_tensor_geti(t[1], 0),
                d = lg_tensor_geti(t[2], 0);
        int64_t span;
        if (d == 0)
            return EMODEL("delta is zero");
        if (__builtin_sub_overflow(l, s, &span))
            return EMODEL("range too long");
        if (span == 0 || (span > 0) != (d > 0))
            cnt = 0;
        else if (d > 0)
            cnt = (span - 1) / d + 1;
        else
            cnt = (span + 1) / d + 1;
    }
    memset(&o, 0, sizeof o);
    o.rank = 1;
    o.d[0] = cnt;
    return lg_set_out(g, n, 0, dt, &o, err, errlen);
}

static int shape_onehot(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *ix = lg_in(g, n, 0), *vals = lg_in(g, n, 2);
    const lg_tensor *dt;
    int r = ix->shape.rank, a, rc;
    int64_t depth, cnt = 0;
    lg_shape o;
    if ((rc = need_types(g, n, 0, T_NUM, err, errlen)) < 0 ||
        (rc = need_types(g, n, 1, T_NUM, err, errlen)) < 0 ||
        (rc = known_type(g, n, 2, err, errlen)) < 0)
        return rc;
    if ((rc = need_const(g, n, 1, &dt, err, errlen)) < 0)
        return rc;
    if (lg_tensor_numel(dt) != 1)
        return EMODEL("depth must be a scalar");
    depth = lg_tensor_geti(dt, 0);
    if (depth < 1)
        return EMODEL("depth %lld < 1", (long long)depth);
    lg_shape_numel(&vals->shape, &cnt);
    if (cnt != 2)
        return EMODEL("values must have 2 elements");
    if (r + 1 > LG_MAX_RANK)
        return EUNSUP("output rank exceeds %d", LG_MAX_RANK);
    if ((rc = get_axis(n, lg_attr_int(n, "axis", -1), r + 1, "axis", &a, err,
                       errlen)) < 0)
        return rc;
    memset(&o, 0, sizeof o);
    o.rank = r + 1;
    for (int i = 0, s = 0; i <= r; i++)
        o.d[i] = i == a ? depth : ix->shape.d[s++];
    return lg_set_out(g, n, 0, vals->dtype, &o, err, errlen);
}

static int shape_trilu(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *k = lg_in(g, n, 1);
    int rc;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if (x->shape.rank < 2)
        return EMODEL("input rank %d < 2", x->shape.rank);
    if (k) {
        int64_t cnt = 0;
        lg_shape_numel(&k->shape, &cnt);
        if ((k->dtype != LG_I64 && k->dtype != LG_I32) || cnt != 1)
            return EMODEL("k must be an int64 scalar");
    }
    return lg_set_out(g, n, 0, x->dtype, &x->shape, err, errlen);
}

static int shape_cumsum(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *ax = lg_in(g, n, 1);
    int64_t cnt = 0;
    int rc, a;
    if ((rc = need_types(g, n, 0, T_NUM, err, errlen)) < 0 ||
        (rc = need_types(g, n, 1, T_INT, err, errlen)) < 0)
        return rc;
    lg_shape_numel(&ax->shape, &cnt);
    if (cnt != 1)
        return EMODEL("axis must be a scalar");
    if (ax->konst &&
        (rc = get_axis(n, lg_tensor_geti(ax->konst, 0), x->shape.rank,
                       "axis", &a, err, errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 0, x->dtype, &x->shape, err, errlen);
}

/* ------------------------------------------------------- reductions */

int lg_opdef_reduce(const lg_node *n, const lg_shape *in,
                    const lg_tensor *axes, int *reduced, lg_shape *out,
                    char *err, size_t errlen)
{
    int64_t ax[LG_MAX_RANK];
    int r = in->rank, k, keep = lg_attr_int(n, "keepdims", 1) != 0;
    if (axes) {
        if ((k = tensor_ints(n, axes, "axes", ax, LG_MAX_RANK, err,
                             errlen)) < 0)
            return k;
    } else {
        const int64_t *a;
        k = lg_attr_ints(n, "axes", &a);
        if (k > LG_MAX_RANK)
            return EMODEL("axes has %d entries", k);
        if (k > 0)
            memcpy(ax, a, (size_t)k * sizeof *ax);
    }
    for (int i = 0; i < r; i++)
        reduced[i] = k <= 0;
    if (k <= 0 && lg_attr_int(n, "noop_with_empty_axes", 0)) {
        for (int i = 0; i < r; i++)
            reduced[i] = 0;
        *out = *in;
        return 0;
    }
    for (int j = 0; j < k; j++) {
        int a = lg_axis(ax[j], r);
        if (a < 0 || r == 0)
            return EMODEL("axis %lld out of range for rank %d",
                          (long long)ax[j], r);
        reduced[a] = 1;         /* repeats are harmless */
    }
    memset(out, 0, sizeof *out);
    for (int i = 0; i < r; i++) {
        if (!reduced[i])
            out->d[out->rank++] = in->d[i];
        else if (keep)
            out->d[out->rank++] = 1;
    }
    return 0;
}

static int shape_reduce(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    const lg_tensor *axes = NULL;
    int reduced[LG_MAX_RANK], rc;
    unsigned types = TM(LG_F32);
    lg_shape o;
    if (!strcmp(n->op, "ReduceSum") || !strcmp(n->op, "ReduceMax") ||
        !strcmp(n->op, "ReduceMin") || !strcmp(n->op, "ReduceProd") ||
        !strcmp(n->op, "ReduceMean"))
        types |= T_INT;
    if ((rc = need_types(g, n, 0, types, err, errlen)) < 0 ||
        (rc = need_const(g, n, 1, &axes, err, errlen)) < 0)
        return rc;
    if ((rc = lg_opdef_reduce(n, &x->shape, axes, reduced, &o, err,
                              errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

static int shape_argmax(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int r = x->shape.rank, a, rc;
    lg_shape o;
    if ((rc = need_types(g, n, 0, TM(LG_F32) | T_INT, err, errlen)) < 0)
        return rc;
    if ((rc = get_axis(n, lg_attr_int(n, "axis", 0), r, "axis", &a, err,
                       errlen)) < 0)
        return rc;
    if (x->shape.d[a] == 0)
        return EMODEL("axis %d is empty", a);
    o = x->shape;
    if (lg_attr_int(n, "keepdims", 1)) {
        o.d[a] = 1;
    } else {
        for (int i = a; i < r - 1; i++)
            o.d[i] = o.d[i + 1];
        o.rank--;
    }
    return lg_set_out(g, n, 0, LG_I64, &o, err, errlen);
}

static int shape_topk(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int r = x->shape.rank, a, rc;
    int64_t k;
    lg_shape o;
    if ((rc = need_types(g, n, 0, TM(LG_F32) | T_INT, err, errlen)) < 0)
        return rc;
    if ((rc = get_axis(n, lg_attr_int(n, "axis", -1), r, "axis", &a, err,
                       errlen)) < 0)
        return rc;
    if (lg_in(g, n, 1)) {
        int64_t v[1];
        int c = lg_const_ints(g, n, 1, v, 1, err, errlen);
        if (c < 0)
            return c;
        if (c != 1)
            return EMODEL("K must have one element");
        k = v[0];
    } else {
        k = lg_attr_int(n, "k", -1);
    }
    if (k < 0 || k > x->shape.d[a])
        return EMODEL("k %lld out of range for axis %d of size %lld",
                      (long long)k, a, (long long)x->shape.d[a]);
    o = x->shape;
    o.d[a] = k;
    if ((rc = lg_set_out(g, n, 0, x->dtype, &o, err, errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 1, LG_I64, &o, err, errlen);
}

/* ----------------------------------------------------------- Resize */

void lg_opdef_resize_inputs(int64_t opset, const lg_node *n, int *scales,
                            int *sizes)
{
    if (strcmp(n->op, "Upsample") == 0 || opset < 11) {
        *scales = 1;            /* Upsample-9, Resize-10: (X, scales) */
        *sizes = -1;
    } else {
        *scales = 2;            /* (X, roi, scales, sizes) */
        *sizes = 3;
    }
}

int lg_opdef_resize(int64_t opset, const lg_node *n, const lg_shape *in,
                    const lg_tensor *scales, const lg_tensor *sizes,
                    lg_resize *rs, char *err, size_t errlen)
{
    int r = in->rank, na = r, ax[LG_MAX_RANK], resized = 0;
    int old = strcmp(n->op, "Upsample") == 0 || opset < 11;
    const char *mode = lg_attr_str(n, "mode", "nearest");
    const char *cm = lg_attr_str(n, "coordinate_transformation_mode",
                                 "half_pixel");
    const char *nm = lg_attr_str(n, "nearest_mode", "round_prefer_floor");
    const int64_t *axv;
    int nax = lg_attr_ints(n, "axes", &axv);
    float sc[LG_MAX_RANK];

    memset(rs, 0, sizeof *rs);
    if (scales && lg_tensor_numel(scales) == 0)
        scales = NULL;          /* exporters pass empty scales with sizes */
    if (sizes && lg_tensor_numel(sizes) == 0)
        sizes = NULL;
    if (!strcmp(mode, "nearest"))
        rs->linear = 0;
    else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear"))
        rs->linear = 1;
    else
        return EUNSUP("mode '%s'", mode);
    if (lg_attr_int(n, "antialias", 0))
        return EUNSUP("antialias");
    if (strcmp(lg_attr_str(n, "keep_aspect_ratio_policy", "stretch"),
               "stretch"))
        return EUNSUP("keep_aspect_ratio_policy other than stretch");
    if (old) {
        rs->coord = LG_RC_ASYMMETRIC;
        rs->nearest = LG_RN_SIMPLE;
    } else {
        static const char *const cms[] = {
            "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
            "tf_half_pixel_for_nearest", "half_pixel_symmetric"};
        static const char *const nms[] = {
            "round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        int c = -1, m = -1;
        for (int i = 0; i < 6; i++)
            if (!strcmp(cm, cms[i]))
                c = i;
        for (int i = 0; i < 4; i++)
            if (!strcmp(nm, nms[i]))
                m = i;
        if (c < 0)
            return EUNSUP("coordinate_transformation_mode '%s'", cm);
        if (m < 0)
            return EUNSUP("nearest_mode '%s'", nm);
        rs->coord = (enum lg_resize_coord)c;
        rs->nearest = (enum lg_resize_nearest)m;
    }
    if (nax >= 0) {
        if (nax > r)
            return EMODEL("%d axes for rank %d", nax, r);
        na = nax;
        for (int j = 0; j < na; j++) {
            ax[j] = lg_axis(axv[j], r);
            if (ax[j] < 0)
                return EMODEL("axis %lld out of range", (long long)axv[j]);
        }
    } else {
        for (int j = 0; j < r; j++)
            ax[j] = j;
    }
    rs->out = *in;
    for (int i = 0; i < r; i++)
        rs->scale[i] = 1.f;
    if (scales && sizes)
        return EMODEL("both scales and sizes given");
    if (scales) {
        if (scales->dtype != LG_F32 || lg_tensor_numel(scales) != na)
            return EMODEL("scales must be %d float32 values", na);
        memcpy(sc, scales->data, (size_t)na * sizeof *sc);
        for (int j = 0; j < na; j++) {
            double d;
            if (!(sc[j] > 0.f) || sc[j] > 1e6f)
                return EMODEL("scale %g on axis %d", (double)sc[j], ax[j]);
            d = floor((double)in->d[ax[j]] * sc[j]);
            if (d > 1e15)
                return EMODEL("output too large");
            rs->scale[ax[j]] = sc[j];
            rs->out.d[ax[j]] = (int64_t)d;
        }
    } else if (sizes) {
        int64_t v[LG_MAX_RANK];
        int k = tensor_ints(n, sizes, "sizes", v, LG_MAX_RANK, err, errlen);
        if (k < 0)
            return k;
        if (k != na)
            return EMODEL("%d sizes for %d axes", k, na);
        for (int j = 0; j < na; j++) {
            if (v[j] < 0)
                return EMODEL("negative size %lld", (long long)v[j]);
            rs->out.d[ax[j]] = v[j];
            rs->scale[ax[j]] = in->d[ax[j]]
                ? (float)v[j] / (float)in->d[ax[j]] : 1.f;
        }
    } else {
        return EMODEL("needs scales or sizes");
    }
    for (int i = 0; i < r; i++) {
        if (rs->out.d[i] != in->d[i] || rs->scale[i] != 1.f)
            resized |= 1 << i;
        if (rs->out.d[i] > 0 && in->d[i] == 0)
            return EMODEL("cannot resize empty axis %d", i);
    }
    if (rs->linear && (resized & ((1 << (r >= 2 ? r - 2 : 0)) - 1)))
        return EUNSUP("linear mode only on the last two axes");
    return 0;
}

static int shape_resize(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    const lg_tensor *sc = NULL, *sz = NULL;
    int is, iz, rc;
    lg_resize rs;
    if ((rc = need_types(g, n, 0, TM(LG_F32), err, errlen)) < 0)
        return rc;
    lg_opdef_resize_inputs(g->opset, n, &is, &iz);
    if (strcmp(lg_attr_str(n, "coordinate_transformation_mode", ""),
               "tf_crop_and_resize") == 0)
        return EUNSUP("tf_crop_and_resize");
    if (is >= 0 && (rc = need_const(g, n, is, &sc, err, errlen)) < 0)
        return rc;
    if (iz >= 0 && (rc = need_const(g, n, iz, &sz, err, errlen)) < 0)
        return rc;
    if (!sc && !sz && strcmp(n->op, "Upsample") == 0) {
        /* Upsample-7: scales attribute */
        const lg_attr *a = lg_node_attr(n, "scales");
        lg_tensor *t;
        lg_shape s;
        if (!a || a->type != LG_ATTR_FLOATS)
            return EMODEL("missing scales");
        s = lg_shape_make(1, (int64_t[]){a->n});
        if (!(t = lg_tensor_new(LG_F32, &s)))
            return -ENOMEM;
        memcpy(t->data, a->floats, (size_t)a->n * sizeof(float));
        rc = lg_opdef_resize(g->opset, n, &x->shape, t, NULL, &rs, err,
                             errlen);
        lg_tensor_unref(t);
    } else {
        rc = lg_opdef_resize(g->opset, n, &x->shape, sc, sz, &rs, err,
                             errlen);
    }
    if (rc < 0)
        return rc;
    return lg_set_out(g, n, 0, x->dtype, &rs.out, err, errlen);
}

static uint64_t resize_flops(const lg_graph *g, const lg_node *n)
{
    const lg_value *o = lg_out(g, n, 0);
    int64_t cnt = 0;
    lg_shape_numel(&o->shape, &cnt);
    return (uint64_t)cnt * (strcmp(lg_attr_str(n, "mode", "nearest"),
                                   "nearest") ? 8 : 1);
}

/* ---------------------------------------- DepthToSpace, SpaceToDepth */

static int shape_d2s(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t b = lg_attr_int(n, "blocksize", 0);
    int d2s = strcmp(n->op, "DepthToSpace") == 0, rc;
    lg_shape o = x->shape;
    if ((rc = known_type(g, n, 0, err, errlen)) < 0)
        return rc;
    if (x->shape.rank != 4)
        return EMODEL("input rank %d, expected 4", x->shape.rank);
    if (b < 1 || b > 65536)
        return EMODEL("blocksize %lld", (long long)b);
    if (d2s) {
        const char *mode = lg_attr_str(n, "mode", "DCR");
        if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
            return EMODEL("mode '%s'", mode);
        if (o.d[1] % (b * b))
            return EMODEL("channels %lld not divisible by blocksize^2",
                          (long long)o.d[1]);
        o.d[1] /= b * b;
        o.d[2] *= b;
        o.d[3] *= b;
    } else {
        if (o.d[2] % b || o.d[3] % b)
            return EMODEL("height/width not divisible by blocksize %lld",
                          (long long)b);
        o.d[1] *= b * b;
        o.d[2] /= b;
        o.d[3] /= b;
    }
    return lg_set_out(g, n, 0, x->dtype, &o, err, errlen);
}

/* -------------------------------------------- Shape, Size, Constant */

static int shape_shape(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int r = x->shape.rank;
    int64_t start = lg_attr_int(n, "start", 0), end = lg_attr_int(n, "end", r);
    lg_shape o;
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = clamp64(start, 0, r);
    end = clamp64(end, 0, r);
    memset(&o, 0, sizeof o);
    o.rank = 1;
    o.d[0] = end > start ? end - start : 0;
    return lg_set_out(g, n, 0, LG_I64, &o, err, errlen);
}

static int shape_size(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    lg_shape o;
    memset(&o, 0, sizeof o);
    return lg_set_out(g, n, 0, LG_I64, &o, err, errlen);
}

static int shape_constant(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_attr *a = n->n_attrs == 1 ? &n->attrs[0] : NULL;
    lg_shape o;
    enum lg_dtype t;
    memset(&o, 0, sizeof o);
    if (!a)
        return EMODEL("needs exactly one value attribute, has %d",
                      n->n_attrs);
    if (!strcmp(a->name, "value") && a->type == LG_ATTR_TENSOR && a->t) {
        t = a->t->dtype;
        o = a->t->shape;
        if (!lg_dtype_size(t))
            return EUNSUP("value of type %s", lg_dtype_name(t));
    } else if (!strcmp(a->name, "value_float") && a->type == LG_ATTR_FLOAT) {
        t = LG_F32;
    } else if (!strcmp(a->name, "value_int") && a->type == LG_ATTR_INT) {
        t = LG_I64;
    } else if (!strcmp(a->name, "value_floats") &&
               a->type == LG_ATTR_FLOATS) {
        t = LG_F32;
        o.rank = 1;
        o.d[0] = a->n;
    } else if (!strcmp(a->name, "value_ints") && a->type == LG_ATTR_INTS) {
        t = LG_I64;
        o.rank = 1;
        o.d[0] = a->n;
    } else {
        return EUNSUP("attribute '%s'", a->name);
    }
    return lg_set_out(g, n, 0, t, &o, err, errlen);
}

#define MOVE(name, lo, hi, fn) {name, lo, hi, 1, 1, fn, no_flops, 0}
#define REDUCE(name) {name, 1, 2, 1, 1, shape_reduce, in_flops, 0}

const lg_opdef lg_opdefs_tensor[] = {
    MOVE("Reshape", 2, 2, shape_reshape),
    MOVE("Flatten", 1, 1, shape_flatten),
    MOVE("Transpose", 1, 1, shape_transpose),
    MOVE("Squeeze", 1, 2, shape_squeeze),
    MOVE("Unsqueeze", 1, 2, shape_unsqueeze),
    MOVE("Concat", 1, INT_MAX, shape_concat),
    {"Split", 1, 2, 1, 1024, shape_split, no_flops, 0},
    MOVE("Slice", 1, 5, shape_slice),
    MOVE("Gather", 2, 2, shape_gather),
    MOVE("GatherElements", 2, 2, shape_gather_elements),
    MOVE("ScatterND", 3, 3, shape_scatter_nd),
    MOVE("Expand", 2, 2, shape_expand),
    MOVE("Tile", 2, 2, shape_tile),
    MOVE("Pad", 1, 4, shape_pad),
    MOVE("ConstantOfShape", 1, 1, shape_constant_of_shape),
    {"Range", 3, 3, 1, 1, shape_range, NULL, 0},
    MOVE("OneHot", 3, 3, shape_onehot),
    MOVE("Trilu", 1, 2, shape_trilu),
    {"CumSum", 2, 2, 1, 1, shape_cumsum, in_flops, 0},
    REDUCE("ReduceMean"), REDUCE("ReduceSum"), REDUCE("ReduceMax"),
    REDUCE("ReduceMin"), REDUCE("ReduceProd"), REDUCE("ReduceL1"),
    REDUCE("ReduceL2"), REDUCE("ReduceSumSquare"), REDUCE("ReduceLogSum"),
    REDUCE("ReduceLogSumExp"),
    {"ArgMax", 1, 1, 1, 1, shape_argmax, in_flops, 0},
    {"ArgMin", 1, 1, 1, 1, shape_argmax, in_flops, 0},
    {"TopK", 1, 2, 2, 2, shape_topk, in_flops, 0},
    {"Resize", 1, 4, 1, 1, shape_resize, resize_flops, 0},
    {"Upsample", 1, 2, 1, 1, shape_resize, resize_flops, 0},
    MOVE("DepthToSpace", 1, 1, shape_d2s),
    MOVE("SpaceToDepth", 1, 1, shape_d2s),
    MOVE("Shape", 1, 1, shape_shape),
    MOVE("Size", 1, 1, shape_size),
    {"Constant", 0, 0, 1, 1, shape_constant, no_flops, 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};
