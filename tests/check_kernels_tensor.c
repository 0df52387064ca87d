/*
 * check_kernels_tensor.c - tests for the tensor op definitions
 * (lib/model/opdef_tensor.c) and their CPU kernels (lib/exec/cpu/
 * tensor_ops.c, lib/exec/cpu/bcast.c).
 *
 * Each case builds a small lg_graph by hand, runs shape inference
 * (lg_graph_infer without folding), checks the inferred shape, then runs
 * the kernels straight from their tables and compares with a naive
 * reference written here: index arithmetic per output element, Python's
 * slice rules for Slice, float64 accumulation for reductions, the ONNX
 * spec's formulas for DepthToSpace and torch's for bilinear Resize. Every
 * graph is run twice, without and with a 3-thread pool, into outputs
 * pre-filled with different garbage: the runs must agree bit for bit
 * (determinism, and every output element written).
 *
 * Bad inputs check the error code and that the message names the node.
 * Single-threaded test driver.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernel.h"
#include "lgerr.h"
#include "op.h"
#include "pool.h"
#include "tensor.h"

#include "kharness.h"


/* ------------------------------------------------------ index helpers */

static void unravel(int64_t i, const lg_shape *s, int64_t *idx)
{
    for (int d = s->rank - 1; d >= 0; d--) {
        idx[d] = i % s->d[d];
        i /= s->d[d];
    }
}

static int64_t ravel(const int64_t *idx, const lg_shape *s)
{
    int64_t o = 0;
    for (int d = 0; d < s->rank; d++)
        o = o * s->d[d] + idx[d];
    return o;
}

static lg_shape rand_shape(int rank, int64_t lo, int64_t hi)
{
    lg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank; i++)
        s.d[i] = rnd(lo, hi);
    return s;
}

static enum lg_dtype rand_type(void)
{
    static const enum lg_dtype t[] = {LG_F32, LG_I64, LG_BOOL, LG_I32};
    return t[rnd(0, 3)];
}

static lg_tensor *ivec(int n, const int64_t *v)
{
    return ti64(SHP(1, n), v);
}

#define IVEC(n, ...) ivec((n), (const int64_t[]){__VA_ARGS__})

static lg_tensor *iscalar(int64_t v)
{
    return ti64(SHP0(), &v);
}

static void at_ints(attrs *A, const char *name, int n, const int64_t *v)
{
    lg_attr *a = at_new(A, name, LG_ATTR_INTS);
    a->ints = malloc((size_t)(n ? n : 1) * sizeof *a->ints);
    ck_assert_ptr_nonnull(a->ints);
    memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n = n;
}

#define AT_INTS(A, name, n, ...) at_ints((A), (name), (n), \
                                         (const int64_t[]){__VA_ARGS__})

static void at_floats(attrs *A, const char *name, int n, const float *v)
{
    lg_attr *a = at_new(A, name, LG_ATTR_FLOATS);
    a->floats = malloc((size_t)(n ? n : 1) * sizeof *a->floats);
    ck_assert_ptr_nonnull(a->floats);
    memcpy(a->floats, v, (size_t)n * sizeof *v);
    a->n = n;
}

static void at_tensor(attrs *A, const char *name, lg_tensor *t)
{
    at_new(A, name, LG_ATTR_TENSOR)->t = t;
}

static void shape_is(kt *k, const char *v, lg_shape want)
{
    const lg_value *val = kt_val(k, v);
    ck_assert_msg(val->has_shape && lg_shape_eq(&val->shape, &want),
                  "'%s' is %s, want %s", v, sstr(&val->shape), sstr(&want));
}

/* Elements equal exactly (as doubles; NaN equal to NaN). */
static void same_elem(const lg_tensor *t, int64_t i, double want,
                      const char *what)
{
    double got = getd(t, i);
    ck_assert_msg(got == want || (isnan(got) && isnan(want)),
                  "%s[%lld]: got %.9g, want %.9g", what, (long long)i, got,
                  want);
}

/* ------------------------------------------------------------ Reshape */

START_TEST(reshape)
{
    static const struct {
        int64_t in[3];
        int nv;
        int64_t v[4];
        int allowzero;
        int rank;
        int64_t want[4];
    } cases[] = {
        {{2, 3, 4}, 2, {0, -1}, 0, 2, {2, 12}},
        {{2, 3, 4}, 1, {-1}, 0, 1, {24}},
        {{2, 3, 4}, 3, {4, 0, 2}, 0, 3, {4, 3, 2}},
        {{2, 3, 4}, 4, {1, -1, 1, 4}, 0, 4, {1, 6, 1, 4}},
        {{0, 3, 4}, 2, {3, 0}, 1, 2, {3, 0}},
        {{0, 3, 4}, 3, {0, 4, 3}, 0, 3, {0, 4, 3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        kt *k = kt_new(14);
        attrs A = {0};
        lg_shape s = lg_shape_make(3, cases[c].in);
        lg_tensor *x = trand(LG_F32, s, -1, 1);
        lg_tensor_ref(x);
        if (cases[c].allowzero)
            at_int(&A, "allowzero", 1);
        kt_in(k, "x", x);
        kt_const(k, "s", ivec(cases[c].nv, cases[c].v));
        kt_node(k, "reshape", "Reshape", 2, NAMES("x", "s"), 1, NAMES("y"),
                &A);
        ck_assert_msg(kt_infer(k) == 0, "case %zu: %s", c, k->err);
        shape_is(k, "y", lg_shape_make(cases[c].rank, cases[c].want));
        ck_assert_int_eq(kt_run(k), 0);
        ck_assert_mem_eq(kt_get(k, "y")->data, x->data, x->nbytes);
        lg_tensor_unref(x);
        kt_free(k);
    }
    {
        static const struct {
            int nv;
            int64_t v[4];
            int allowzero;
        } bad[] = {
            {2, {5, 5}, 0}, {2, {-1, -1}, 0}, {2, {-2, 12}, 0},
            {2, {7, -1}, 0}, {4, {0, 0, 0, 0}, 0}, {2, {0, -1}, 1},
        };
        for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
            kt *k = kt_new(14);
            attrs A = {0};
            if (bad[c].allowzero)
                at_int(&A, "allowzero", 1);
            kt_in(k, "x", tnew(LG_F32, SHP(3, 2, 3, 4)));
            kt_const(k, "s", ivec(bad[c].nv, bad[c].v));
            kt_node(k, "bad_reshape", "Reshape", 2, NAMES("x", "s"), 1,
                    NAMES("y"), &A);
            expect_fail(k, LG_EMODEL, "bad_reshape");
            kt_free(k);
        }
    }
    {   /* a shape computed at run time is not supported */
        kt *k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(3, 2, 3, 4)));
        kt_in(k, "s", IVEC(2, 6, 4));
        kt_node(k, "dyn_reshape", "Reshape", 2, NAMES("x", "s"), 1,
                NAMES("y"), NULL);
        expect_fail(k, LG_EUNSUP, "dyn_reshape");
        kt_free(k);
    }
}
END_TEST

START_TEST(flatten)
{
    static const int64_t axes[] = {0, 1, 2, 3, -1, -3};
    static const int64_t want[][2] = {{1, 24}, {2, 12}, {6, 4}, {24, 1},
                                      {6, 4}, {1, 24}};
    for (int c = 0; c < 6; c++) {
        kt *k = kt_new(13);
        attrs A = {0};
        at_int(&A, "axis", axes[c]);
        kt_in(k, "x", trand(LG_I64, SHP(3, 2, 3, 4), -9, 9));
        kt_node(k, "flat", "Flatten", 1, NAMES("x"), 1, NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(2, want[c][0], want[c][1]));
        ck_assert_int_eq(kt_run(k), 0);
        ck_assert_mem_eq(kt_get(k, "y")->data, kt_get(k, "x")->data, 192);
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        attrs A = {0};
        at_int(&A, "axis", 4);
        kt_in(k, "x", tnew(LG_F32, SHP(3, 2, 3, 4)));
        kt_node(k, "bad_flatten", "Flatten", 1, NAMES("x"), 1, NAMES("y"),
                &A);
        expect_fail(k, LG_EMODEL, "bad_flatten");
        kt_free(k);
    }
}
END_TEST

/* ---------------------------------------------------------- Transpose */

static void check_transpose(lg_shape s, const int64_t *perm, int use_attr,
                            enum lg_dtype t)
{
    kt *k = kt_new(13);
    attrs A = {0};
    lg_tensor *x = trand(t, s, -100, 100), *y;
    int64_t p[LG_MAX_RANK], idx[LG_MAX_RANK], src[LG_MAX_RANK];
    lg_shape os = s;
    lg_tensor_ref(x);
    for (int i = 0; i < s.rank; i++) {
        p[i] = use_attr ? perm[i] : s.rank - 1 - i;
        os.d[i] = s.d[p[i]];
    }
    if (use_attr)
        at_ints(&A, "perm", s.rank, perm);
    kt_in(k, "x", x);
    kt_node(k, "tr", "Transpose", 1, NAMES("x"), 1, NAMES("y"), &A);
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    shape_is(k, "y", os);
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
        unravel(i, &os, idx);
        for (int d = 0; d < s.rank; d++)
            src[p[d]] = idx[d];
        same_elem(y, i, getd(x, ravel(src, &s)), "transpose");
    }
    lg_tensor_unref(x);
    kt_free(k);
}

START_TEST(transpose)
{
    for (int c = 0; c < 300; c++) {
        int r = (int)rnd(1, 6);
        lg_shape s = rand_shape(r, 1, r > 4 ? 5 : 9);
        int64_t perm[LG_MAX_RANK];
        for (int i = 0; i < r; i++)
            perm[i] = i;
        for (int i = r - 1; i > 0; i--) {
            int j = (int)rnd(0, i);
            int64_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        check_transpose(s, perm, c % 7 != 0, rand_type());
    }
    /* tiled paths: 2-D, attention heads, channel shuffle, 1-byte */
    check_transpose(SHP(2, 67, 45), (int64_t[]){1, 0}, 1, LG_F32);
    check_transpose(SHP(2, 300, 200), (int64_t[]){1, 0}, 1, LG_F32);
    check_transpose(SHP(3, 3, 67, 45), (int64_t[]){0, 2, 1}, 1, LG_I64);
    check_transpose(SHP(3, 33, 17, 40), (int64_t[]){2, 0, 1}, 1, LG_BOOL);
    check_transpose(SHP(4, 1, 16, 4, 32), (int64_t[]){0, 2, 1, 3}, 1,
                    LG_F32);
    check_transpose(SHP(4, 16, 1, 4, 32), (int64_t[]){1, 2, 0, 3}, 1,
                    LG_F32);
    check_transpose(SHP(5, 1, 2, 58, 28, 28), (int64_t[]){0, 2, 1, 3, 4}, 1,
                    LG_F32);
    check_transpose(SHP(0), NULL, 0, LG_F32);
    check_transpose(SHP(3, 2, 0, 3), (int64_t[]){2, 1, 0}, 1, LG_F32);
    {
        kt *k = kt_new(13);
        attrs A = {0};
        AT_INTS(&A, "perm", 3, 0, 0, 1);
        kt_in(k, "x", tnew(LG_F32, SHP(3, 2, 3, 4)));
        kt_node(k, "bad_perm", "Transpose", 1, NAMES("x"), 1, NAMES("y"),
                &A);
        expect_fail(k, LG_EMODEL, "bad_perm");
        kt_free(k);
    }
}
END_TEST

/* ------------------------------------------------ Squeeze, Unsqueeze */

START_TEST(squeeze_unsqueeze)
{
    for (int opset = 11; opset <= 13; opset += 2) {
        kt *k = kt_new(opset);
        attrs A = {0}, B = {0};
        lg_tensor *x = trand(LG_F32, SHP(4, 1, 3, 1, 5), -1, 1);
        lg_tensor_ref(x);
        kt_in(k, "x", x);
        if (opset >= 13) {
            kt_const(k, "ax", IVEC(2, 0, -2));
            kt_const(k, "ux", IVEC(3, -1, 0, 2));
            kt_node(k, "sq", "Squeeze", 2, NAMES("x", "ax"), 1, NAMES("y"),
                    NULL);
            kt_node(k, "usq", "Unsqueeze", 2, NAMES("y", "ux"), 1,
                    NAMES("z"), NULL);
        } else {
            AT_INTS(&A, "axes", 2, 0, -2);
            AT_INTS(&B, "axes", 3, -1, 0, 2);
            kt_node(k, "sq", "Squeeze", 1, NAMES("x"), 1, NAMES("y"), &A);
            kt_node(k, "usq", "Unsqueeze", 1, NAMES("y"), 1, NAMES("z"), &B);
        }
        kt_node(k, "sqall", "Squeeze", 1, NAMES("x"), 1, NAMES("w"), NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(2, 3, 5));
        shape_is(k, "z", SHP(5, 1, 3, 1, 5, 1));
        shape_is(k, "w", SHP(2, 3, 5));
        ck_assert_int_eq(kt_run(k), 0);
        ck_assert_mem_eq(kt_get(k, "z")->data, x->data, x->nbytes);
        ck_assert_mem_eq(kt_get(k, "w")->data, x->data, x->nbytes);
        lg_tensor_unref(x);
        kt_free(k);
    }
    {   /* scalar <-> [1] */
        kt *k = kt_new(13);
        kt_in(k, "x", scalar_f(3.f));
        kt_const(k, "ax", IVEC(1, 0));
        kt_node(k, "u", "Unsqueeze", 2, NAMES("x", "ax"), 1, NAMES("y"),
                NULL);
        kt_node(k, "s", "Squeeze", 2, NAMES("y", "ax"), 1, NAMES("z"), NULL);
        ck_assert_int_eq(kt_infer(k), 0);
        shape_is(k, "y", SHP(1, 1));
        shape_is(k, "z", SHP0());
        ck_assert_int_eq(kt_run(k), 0);
        ck_assert(((float *)kt_get(k, "z")->data)[0] == 3.f);
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 3, 1)));
        kt_const(k, "ax", IVEC(1, 0));
        kt_node(k, "bad_squeeze", "Squeeze", 2, NAMES("x", "ax"), 1,
                NAMES("y"), NULL);
        expect_fail(k, LG_EMODEL, "bad_squeeze");
        kt_free(k);
        k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 3, 1)));
        kt_const(k, "ax", IVEC(1, 4));
        kt_node(k, "bad_unsqueeze", "Unsqueeze", 2, NAMES("x", "ax"), 1,
                NAMES("y"), NULL);
        expect_fail(k, LG_EMODEL, "bad_unsqueeze");
        kt_free(k);
        k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 3, 1)));
        kt_const(k, "ax", IVEC(2, 1, -3));
        kt_node(k, "dup_unsqueeze", "Unsqueeze", 2, NAMES("x", "ax"), 1,
                NAMES("y"), NULL);
        expect_fail(k, LG_EMODEL, "dup_unsqueeze");
        kt_free(k);
    }
}
END_TEST

/* ---------------------------------------------------- Concat, Split */

START_TEST(concat)
{
    for (int c = 0; c < 60; c++) {
        kt *k = kt_new(13);
        attrs A = {0};
        int r = (int)rnd(1, 4), nin = (int)rnd(1, 4), a = (int)rnd(0, r - 1);
        enum lg_dtype t = rand_type();
        lg_shape base = rand_shape(r, 1, 6), os = base;
        lg_tensor *x[4], *y;
        const char *names[4] = {"a", "b", "c", "d"};
        int64_t idx[LG_MAX_RANK];
        os.d[a] = 0;
        for (int i = 0; i < nin; i++) {
            lg_shape s = base;
            s.d[a] = rnd(0, 4);
            os.d[a] += s.d[a];
            x[i] = trand(t, s, -50, 50);
            lg_tensor_ref(x[i]);
            kt_in(k, names[i], x[i]);
        }
        at_int(&A, "axis", rnd(0, 1) ? a : a - r);
        kt_node(k, "cat", "Concat", nin, names, 1, NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", os);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
            int p = 0;
            unravel(i, &os, idx);
            while (idx[a] >= x[p]->shape.d[a])
                idx[a] -= x[p++]->shape.d[a];
            same_elem(y, i, getd(x[p], ravel(idx, &x[p]->shape)), "concat");
        }
        for (int i = 0; i < nin; i++)
            lg_tensor_unref(x[i]);
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        attrs A = {0};
        at_int(&A, "axis", 1);
        kt_in(k, "a", tnew(LG_F32, SHP(2, 2, 3)));
        kt_in(k, "b", tnew(LG_F32, SHP(2, 3, 3)));
        kt_node(k, "bad_concat", "Concat", 2, NAMES("a", "b"), 1, NAMES("y"),
                &A);
        expect_fail(k, LG_EMODEL, "bad_concat");
        kt_free(k);
        k = kt_new(13);
        at_int(&A, "axis", 2);
        kt_in(k, "a", tnew(LG_F32, SHP(2, 2, 3)));
        kt_node(k, "axis_concat", "Concat", 1, NAMES("a"), 1, NAMES("y"),
                &A);
        expect_fail(k, LG_EMODEL, "axis_concat");
        kt_free(k);
    }
}
END_TEST

static void check_split(int opset, lg_shape s, int axis, int nout,
                        const int64_t *sizes, int how, const int64_t *want)
{
    kt *k = kt_new(opset);
    attrs A = {0};
    lg_tensor *x = trand(LG_F32, s, -1, 1);
    static const char *const outs[] = {"o0", "o1", "o2", "o3", "o4"};
    int64_t off = 0, idx[LG_MAX_RANK];
    lg_tensor_ref(x);
    kt_in(k, "x", x);
    at_int(&A, "axis", axis);
    if (how == 1) {             /* split input */
        kt_const(k, "sp", ivec(nout, sizes));
        kt_node(k, "split", "Split", 2, NAMES("x", "sp"), nout, outs, &A);
    } else {
        if (how == 2)
            at_ints(&A, "split", nout, sizes);
        if (how == 3)
            at_int(&A, "num_outputs", nout);
        kt_node(k, "split", "Split", 1, NAMES("x"), nout, outs, &A);
    }
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    ck_assert_int_eq(kt_run(k), 0);
    if (axis < 0)
        axis += s.rank;
    for (int o = 0; o < nout; o++) {
        lg_shape os = s;
        lg_tensor *y = kt_get(k, outs[o]);
        os.d[axis] = want[o];
        shape_is(k, outs[o], os);
        for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
            unravel(i, &os, idx);
            idx[axis] += off;
            same_elem(y, i, getd(x, ravel(idx, &s)), "split");
        }
        off += want[o];
    }
    lg_tensor_unref(x);
    kt_free(k);
}

START_TEST(split)
{
    check_split(13, SHP(3, 2, 6, 5), 1, 3, NULL, 0, (int64_t[]){2, 2, 2});
    check_split(13, SHP(3, 2, 6, 5), -1, 3, (int64_t[]){1, 0, 4}, 1,
                (int64_t[]){1, 0, 4});
    check_split(11, SHP(3, 2, 6, 5), 1, 2, (int64_t[]){5, 1}, 2,
                (int64_t[]){5, 1});
    check_split(18, SHP(2, 7, 3), 0, 3, NULL, 3, (int64_t[]){3, 3, 1});
    check_split(13, SHP(4, 1, 116, 7, 7), 1, 2, NULL, 0,
                (int64_t[]){58, 58});
    {
        kt *k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 2, 5)));
        kt_const(k, "sp", IVEC(2, 2, 2));
        kt_node(k, "bad_split", "Split", 2, NAMES("x", "sp"), 2,
                NAMES("a", "b"), NULL);
        expect_fail(k, LG_EMODEL, "bad_split");
        kt_free(k);
        k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 3, 5)));
        kt_node(k, "uneven_split", "Split", 1, NAMES("x"), 2,
                NAMES("a", "b"), NULL);
        expect_fail(k, LG_EMODEL, "uneven_split");
        kt_free(k);
        k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 2, 5)));
        kt_node(k, "hole_split", "Split", 1, NAMES("x"), 2, NAMES("a", ""),
                NULL);
        expect_fail(k, LG_EUNSUP, "hole_split");
        kt_free(k);
    }
}
END_TEST

/* ------------------------------------------------------------ Slice */

/* Python's slice.indices(): first index and count, with the one place
 * where the ONNX spec (and ONNX Runtime) differ: a start below -len with a
 * negative step clamps to 0 instead of giving an empty slice. */
static void py_slice(int64_t len, int64_t start, int64_t stop, int64_t step,
                     int64_t *first, int64_t *cnt)
{
    if (start < 0) {
        start += len;
        if (start < 0)
            start = step < 0 && len == 0 ? -1 : 0;
    } else if (start >= len) {
        start = step < 0 ? len - 1 : len;
    }
    if (stop < 0) {
        stop += len;
        if (stop < 0)
            stop = step < 0 ? -1 : 0;
    } else if (stop >= len) {
        stop = step < 0 ? len - 1 : len;
    }
    if (step < 0)
        *cnt = stop < start ? (start - stop - 1) / (-step) + 1 : 0;
    else
        *cnt = start < stop ? (stop - start - 1) / step + 1 : 0;
    *first = start;
}

static int64_t pick_bound(int64_t dim)
{
    switch (rnd(0, 5)) {
    case 0: return INT64_MAX;
    case 1: return INT64_MIN;
    case 2: return -INT64_MAX;
    default: return rnd(-dim - 3, dim + 3);
    }
}

START_TEST(slice_random)
{
    for (int c = 0; c < 400; c++) {
        kt *k = kt_new(13);
        int r = (int)rnd(1, 4), na = (int)rnd(1, r);
        lg_shape s = rand_shape(r, 0, 7), os = s;
        lg_tensor *x = trand(rand_type(), s, -99, 99), *y;
        int64_t st[4], en[4], ax[4], sp[4], first[LG_MAX_RANK],
                step[LG_MAX_RANK], idx[LG_MAX_RANK];
        int perm[4] = {0, 1, 2, 3}, with_axes = (int)rnd(0, 1) || na < r,
            with_steps = (int)rnd(0, 1);
        lg_tensor_ref(x);
        for (int i = r - 1; i > 0; i--) {
            int j = (int)rnd(0, i), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < r; i++) {
            first[i] = 0;
            step[i] = 1;
        }
        for (int j = 0; j < na; j++) {
            int a = with_axes ? perm[j] : j;
            int64_t cnt;
            ax[j] = rnd(0, 1) ? a : a - r;
            st[j] = pick_bound(s.d[a]);
            en[j] = pick_bound(s.d[a]);
            sp[j] = with_steps ? (rnd(0, 1) ? rnd(1, 3) : -rnd(1, 3)) : 1;
            if (with_steps && rnd(0, 9) == 0)
                sp[j] = rnd(0, 1) ? INT64_MAX : INT64_MIN;
            py_slice(s.d[a], st[j], en[j], sp[j] == INT64_MIN ? -INT64_MAX
                                                              : sp[j],
                     &first[a], &cnt);
            step[a] = sp[j];
            os.d[a] = cnt;
        }
        kt_in(k, "x", x);
        kt_const(k, "st", ivec(na, st));
        kt_const(k, "en", ivec(na, en));
        if (with_axes)
            kt_const(k, "ax", ivec(na, ax));
        if (with_steps)
            kt_const(k, "sp", ivec(na, sp));
        kt_node(k, "slice", "Slice", with_steps ? 5 : with_axes ? 4 : 3,
                NAMES("x", "st", "en", with_axes ? "ax" : "", "sp"), 1,
                NAMES("y"), NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", os);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
            unravel(i, &os, idx);
            for (int d = 0; d < r; d++)
                idx[d] = first[d] + idx[d] * step[d];
            same_elem(y, i, getd(x, ravel(idx, &s)), "slice");
        }
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

START_TEST(slice_cases)
{
    /* x[::-1] on the last axis, x[1:-1, ::2] and the opset-1 attributes */
    kt *k = kt_new(13);
    attrs A = {0};
    lg_tensor *x = trand(LG_F32, SHP(2, 5, 6), -1, 1), *y;
    lg_tensor_ref(x);
    kt_in(k, "x", x);
    kt_const(k, "s1", IVEC(1, -1));
    kt_const(k, "e1", IVEC(1, INT64_MIN));
    kt_const(k, "a1", IVEC(1, -1));
    kt_const(k, "p1", IVEC(1, -1));
    kt_node(k, "rev", "Slice", 5, NAMES("x", "s1", "e1", "a1", "p1"), 1,
            NAMES("y"), NULL);
    kt_const(k, "s2", IVEC(2, 1, 0));
    kt_const(k, "e2", IVEC(2, -1, 100));
    kt_const(k, "a2", IVEC(2, 0, 1));
    kt_const(k, "p2", IVEC(2, 1, 2));
    kt_node(k, "mid", "Slice", 5, NAMES("x", "s2", "e2", "a2", "p2"), 1,
            NAMES("z"), NULL);
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    shape_is(k, "y", SHP(2, 5, 6));
    shape_is(k, "z", SHP(2, 3, 3));
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++)
            same_elem(y, i * 6 + j, getd(x, i * 6 + 5 - j), "rev");
    y = kt_get(k, "z");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            same_elem(y, i * 3 + j, getd(x, (i + 1) * 6 + 2 * j), "mid");
    lg_tensor_unref(x);
    kt_free(k);

    k = kt_new(9);
    AT_INTS(&A, "starts", 2, 1, -2);
    AT_INTS(&A, "ends", 2, 1000, -1);
    AT_INTS(&A, "axes", 2, 1, 0);
    kt_in(k, "x", trand(LG_F32, SHP(2, 5, 6), -1, 1));
    kt_node(k, "old", "Slice", 1, NAMES("x"), 1, NAMES("y"), &A);
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    shape_is(k, "y", SHP(2, 1, 5));
    ck_assert_int_eq(kt_run(k), 0);
    for (int j = 0; j < 5; j++)
        same_elem(kt_get(k, "y"), j, getd(kt_get(k, "x"), 3 * 6 + 1 + j),
                  "old");
    kt_free(k);

    {
        static const struct {
            int64_t st, en, ax, sp;
        } bad[] = {{0, 1, 2, 1}, {0, 1, -3, 1}, {0, 3, 0, 0}};
        for (int c = 0; c < 3; c++) {
            k = kt_new(13);
            kt_in(k, "x", tnew(LG_F32, SHP(2, 5, 6)));
            kt_const(k, "s", IVEC(1, bad[c].st));
            kt_const(k, "e", IVEC(1, bad[c].en));
            kt_const(k, "a", IVEC(1, bad[c].ax));
            kt_const(k, "p", IVEC(1, bad[c].sp));
            kt_node(k, "bad_slice", "Slice", 5,
                    NAMES("x", "s", "e", "a", "p"), 1, NAMES("y"), NULL);
            expect_fail(k, LG_EMODEL, "bad_slice");
            kt_free(k);
        }
        k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 5, 6)));
        kt_const(k, "s", IVEC(2, 0, 0));
        kt_const(k, "e", IVEC(2, 1, 1));
        kt_const(k, "a", IVEC(2, 1, -1));
        kt_node(k, "dup_slice", "Slice", 4, NAMES("x", "s", "e", "a"), 1,
                NAMES("y"), NULL);
        expect_fail(k, LG_EMODEL, "dup_slice");
        kt_free(k);
    }
}
END_TEST

/* ------------------------------------------------ Gather & friends */

static void check_gather(lg_shape s, lg_shape is, int axis, int i32,
                         enum lg_dtype t)
{
    kt *k = kt_new(13);
    attrs A = {0};
    lg_tensor *x = trand(t, s, -99, 99), *ix, *y;
    int a = axis < 0 ? axis + s.rank : axis;
    lg_shape os;
    int64_t idx[LG_MAX_RANK], src[LG_MAX_RANK];
    ix = trand(i32 ? LG_I32 : LG_I64, is, (double)-s.d[a],
               (double)s.d[a] - 0.01);
    lg_tensor_ref(x);
    lg_tensor_ref(ix);
    at_int(&A, "axis", axis);
    kt_in(k, "x", x);
    kt_in(k, "i", ix);
    kt_node(k, "gather", "Gather", 2, NAMES("x", "i"), 1, NAMES("y"), &A);
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    memset(&os, 0, sizeof os);
    for (int d = 0; d < a; d++)
        os.d[os.rank++] = s.d[d];
    for (int d = 0; d < is.rank; d++)
        os.d[os.rank++] = is.d[d];
    for (int d = a + 1; d < s.rank; d++)
        os.d[os.rank++] = s.d[d];
    shape_is(k, "y", os);
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
        int64_t v;
        unravel(i, &os, idx);
        for (int d = 0; d < a; d++)
            src[d] = idx[d];
        v = lg_tensor_geti(ix, ravel(idx + a, &is));
        src[a] = v < 0 ? v + s.d[a] : v;
        for (int d = a + 1; d < s.rank; d++)
            src[d] = idx[d - 1 + is.rank];
        same_elem(y, i, getd(x, ravel(src, &s)), "gather");
    }
    lg_tensor_unref(x);
    lg_tensor_unref(ix);
    kt_free(k);
}

START_TEST(gather)
{
    check_gather(SHP(2, 256, 32), SHP(2, 1, 16), 0, 0, LG_F32);  /* Embedding */
    check_gather(SHP(3, 4, 5, 6), SHP0(), 1, 0, LG_F32);
    check_gather(SHP(3, 4, 5, 6), SHP(2, 2, 3), -1, 1, LG_I64);
    check_gather(SHP(1, 4), SHP0(), 0, 0, LG_I64);      /* shape chains */
    check_gather(SHP(1, 4), SHP(1, 3), 0, 0, LG_I64);
    check_gather(SHP(3, 3, 7, 2), SHP(1, 0), 1, 0, LG_BOOL);
    check_gather(SHP(2, 300, 64), SHP(2, 40, 40), 0, 0, LG_F32);
    {   /* constant index out of range: caught by inference */
        kt *k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 4, 3)));
        kt_const(k, "i", IVEC(2, 1, 4));
        kt_node(k, "oob_gather", "Gather", 2, NAMES("x", "i"), 1, NAMES("y"),
                NULL);
        expect_fail(k, LG_EMODEL, "oob_gather");
        kt_free(k);
    }
    {   /* runtime index out of range: caught by the kernel */
        kt *k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 4, 3)));
        kt_in(k, "i", IVEC(2, 1, -5));
        kt_node(k, "rt_gather", "Gather", 2, NAMES("x", "i"), 1, NAMES("y"),
                NULL);
        ck_assert_int_eq(kt_infer(k), 0);
        ck_assert_int_eq(kt_run(k), LG_EMODEL);
        ck_assert_ptr_nonnull(strstr(k->err, "rt_gather"));
        kt_free(k);
    }
}
END_TEST

START_TEST(gather_elements_scatter_nd)
{
    for (int axis = -2; axis < 2; axis++) {
        kt *k = kt_new(13);
        attrs A = {0};
        int a = axis < 0 ? axis + 2 : axis;
        lg_shape s = SHP(2, 4, 5), is = a ? SHP(2, 4, 2) : SHP(2, 3, 5);
        lg_tensor *x = trand(LG_F32, s, -1, 1);
        lg_tensor *ix = trand(LG_I64, is, (double)-s.d[a],
                              (double)s.d[a] - 0.01), *y;
        int64_t idx[2];
        lg_tensor_ref(x);
        lg_tensor_ref(ix);
        at_int(&A, "axis", axis);
        kt_in(k, "x", x);
        kt_in(k, "i", ix);
        kt_node(k, "ge", "GatherElements", 2, NAMES("x", "i"), 1, NAMES("y"),
                &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", is);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
            int64_t v = lg_tensor_geti(ix, i);
            unravel(i, &is, idx);
            idx[a] = v < 0 ? v + s.d[a] : v;
            same_elem(y, i, getd(x, ravel(idx, &s)), "gather_elements");
        }
        lg_tensor_unref(x);
        lg_tensor_unref(ix);
        kt_free(k);
    }
    {   /* ScatterND: rows 2 and 0 of a [4,3] replaced; then add */
        for (int add = 0; add < 2; add++) {
            kt *k = kt_new(16);
            attrs A = {0};
            lg_tensor *x = trand(LG_F32, SHP(2, 4, 3), -1, 1);
            lg_tensor *u = trand(LG_F32, SHP(2, 2, 3), -1, 1), *y;
            int64_t iv[2] = {2, -4};
            lg_tensor_ref(x);
            lg_tensor_ref(u);
            if (add)
                at_str(&A, "reduction", "add");
            kt_in(k, "x", x);
            kt_const(k, "i", ti64(SHP(2, 2, 1), iv));
            kt_in(k, "u", u);
            kt_node(k, "snd", "ScatterND", 3, NAMES("x", "i", "u"), 1,
                    NAMES("y"), &A);
            ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
            ck_assert_int_eq(kt_run(k), 0);
            y = kt_get(k, "y");
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 3; c++) {
                    double want = getd(x, r * 3 + c);
                    int ur = r == 2 ? 0 : r == 0 ? 1 : -1;
                    if (ur >= 0)
                        want = add ? (float)(want + getd(u, ur * 3 + c))
                                   : getd(u, ur * 3 + c);
                    same_elem(y, r * 3 + c, want, "scatternd");
                }
            lg_tensor_unref(x);
            lg_tensor_unref(u);
            kt_free(k);
        }
        {
            kt *k = kt_new(13);
            kt_in(k, "x", tnew(LG_F32, SHP(2, 4, 3)));
            kt_in(k, "i", IVEC(1, 4));
            kt_in(k, "u", tnew(LG_F32, SHP(1, 3)));
            kt_node(k, "oob_scatter", "ScatterND", 3, NAMES("x", "i", "u"),
                    1, NAMES("y"), NULL);
            ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
            ck_assert_int_eq(kt_run(k), LG_EMODEL);
            ck_assert_ptr_nonnull(strstr(k->err, "oob_scatter"));
            kt_free(k);
        }
    }
}
END_TEST

/* --------------------------------------------------- Expand, Tile */

START_TEST(expand_tile)
{
    static const struct {
        int rx;
        int64_t x[4];
        int rs;
        int64_t s[4];
        int ro;
        int64_t o[4];
    } ex[] = {
        {2, {3, 1}, 3, {2, 3, 4}, 3, {2, 3, 4}},
        {1, {1}, 2, {5, 7}, 2, {5, 7}},
        {3, {2, 1, 6}, 2, {5, 1}, 3, {2, 5, 6}},
        {0, {0}, 1, {9}, 1, {9}},
        {3, {1, 16, 16}, 3, {8, 16, 16}, 3, {8, 16, 16}},
        {2, {3, 4}, 1, {1}, 2, {3, 4}},
    };
    for (size_t c = 0; c < sizeof ex / sizeof ex[0]; c++) {
        kt *k = kt_new(13);
        lg_shape sx = lg_shape_make(ex[c].rx, ex[c].x);
        lg_shape so = lg_shape_make(ex[c].ro, ex[c].o);
        lg_tensor *x = trand(c % 2 ? LG_I64 : LG_F32, sx, -9, 9), *y;
        lg_tensor_ref(x);
        kt_in(k, "x", x);
        kt_const(k, "s", ivec(ex[c].rs, ex[c].s));
        kt_node(k, "expand", "Expand", 2, NAMES("x", "s"), 1, NAMES("y"),
                NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", so);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t i = 0; i < lg_tensor_numel(y); i++)
            same_elem(y, i, getd(x, bc_off(&sx, &so, i)), "expand");
        lg_tensor_unref(x);
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 3, 2)));
        kt_const(k, "s", IVEC(2, 3, 3));
        kt_node(k, "bad_expand", "Expand", 2, NAMES("x", "s"), 1, NAMES("y"),
                NULL);
        expect_fail(k, LG_EMODEL, "bad_expand");
        kt_free(k);
    }
    for (int c = 0; c < 40; c++) {
        kt *k = kt_new(13);
        int r = (int)rnd(1, 4);
        lg_shape s = rand_shape(r, 1, 4), os = s;
        int64_t rep[4], idx[LG_MAX_RANK];
        lg_tensor *x = trand(rand_type(), s, -9, 9), *y;
        lg_tensor_ref(x);
        for (int i = 0; i < r; i++) {
            rep[i] = rnd(0, 3);
            os.d[i] *= rep[i];
        }
        kt_in(k, "x", x);
        kt_const(k, "r", ivec(r, rep));
        kt_node(k, "tile", "Tile", 2, NAMES("x", "r"), 1, NAMES("y"), NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", os);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
            unravel(i, &os, idx);
            for (int d = 0; d < r; d++)
                idx[d] %= s.d[d];
            same_elem(y, i, getd(x, ravel(idx, &s)), "tile");
        }
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

/* -------------------------------------------------------------- Pad */

static int64_t ref_pad_map(int64_t s, int64_t d, const char *mode)
{
    if (s >= 0 && s < d)
        return s;
    if (!strcmp(mode, "constant"))
        return -1;
    if (!strcmp(mode, "edge"))
        return s < 0 ? 0 : d - 1;
    if (!strcmp(mode, "wrap"))
        return ((s % d) + d) % d;
    /* reflect, one bounce at a time */
    while (s < 0 || s >= d) {
        if (d == 1)
            return 0;
        s = s < 0 ? -s : 2 * (d - 1) - s;
    }
    return s;
}

START_TEST(pad)
{
    static const char *const modes[] = {"constant", "reflect", "edge",
                                        "wrap"};
    for (int c = 0; c < 120; c++) {
        const char *mode = modes[c % 4];
        int opset = c % 9 == 0 ? 2 : (c % 5 == 0 ? 18 : 13);
        kt *k = kt_new(opset);
        attrs A = {0};
        int r = (int)rnd(1, 4);
        lg_shape s = rand_shape(r, 1, 5), os = s;
        int64_t pads[2 * LG_MAX_RANK], idx[LG_MAX_RANK];
        lg_tensor *x = trand(opset == 2 ? LG_F32 : rand_type(), s, -9, 9),
                  *y, *cv = NULL;
        double cval = 0;
        lg_tensor_ref(x);
        for (int i = 0; i < r; i++) {
            int64_t lo = strcmp(mode, "constant") ? 0 : -s.d[i] / 2;
            pads[i] = rnd(lo, 4);
            pads[i + r] = rnd(lo, 4);
            os.d[i] += pads[i] + pads[i + r];
        }
        at_str(&A, "mode", mode);
        kt_in(k, "x", x);
        if (opset == 2) {
            at_ints(&A, "pads", 2 * r, pads);
            at_float(&A, "value", 1.5f);
            cval = !strcmp(mode, "constant") ? 1.5 : 0;
            kt_node(k, "pad", "Pad", 1, NAMES("x"), 1, NAMES("y"), &A);
        } else {
            kt_const(k, "p", ivec(2 * r, pads));
            if (c % 2) {
                cv = trand(x->dtype, SHP0(), -5, 5);
                cval = getd(cv, 0);
                kt_const(k, "v", cv);
            }
            if (opset == 18)    /* opset 18: all axes listed */
                kt_const(k, "ax", ivec(r, (int64_t[]){0, 1, 2, 3}));
            kt_node(k, "pad", "Pad", opset == 18 ? 4 : (c % 2 ? 3 : 2),
                    NAMES("x", "p", c % 2 ? "v" : "", "ax"), 1, NAMES("y"),
                    &A);
        }
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", os);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
            int out = 0;
            unravel(i, &os, idx);
            for (int d = 0; d < r; d++) {
                idx[d] = ref_pad_map(idx[d] - pads[d], s.d[d], mode);
                out |= idx[d] < 0;
            }
            same_elem(y, i, out ? cval : getd(x, ravel(idx, &s)), mode);
        }
        lg_tensor_unref(x);
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 2, 3)));
        kt_const(k, "p", IVEC(4, 0, -2, 0, -2));
        kt_node(k, "crop_pad", "Pad", 2, NAMES("x", "p"), 1, NAMES("y"),
                NULL);
        expect_fail(k, LG_EMODEL, "crop_pad");
        kt_free(k);
        k = kt_new(13);
        kt_in(k, "x", tnew(LG_F32, SHP(2, 2, 3)));
        kt_const(k, "p", IVEC(3, 0, 1, 0));
        kt_node(k, "odd_pad", "Pad", 2, NAMES("x", "p"), 1, NAMES("y"),
                NULL);
        expect_fail(k, LG_EMODEL, "odd_pad");
        kt_free(k);
    }
}
END_TEST

/* ------------------------------------------------------ generators */

START_TEST(generators)
{
    {   /* ConstantOfShape: default float 0, and an int64 value */
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *v = tnew(LG_I64, SHP(1, 1));
        *(int64_t *)v->data = -7;
        at_tensor(&A, "value", v);
        kt_const(k, "s", IVEC(3, 2, 3, 4));
        kt_node(k, "cos0", "ConstantOfShape", 1, NAMES("s"), 1, NAMES("z"),
                NULL);
        kt_node(k, "cos1", "ConstantOfShape", 1, NAMES("s"), 1, NAMES("y"),
                &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(3, 2, 3, 4));
        ck_assert_int_eq(kt_val(k, "z")->dtype, LG_F32);
        ck_assert_int_eq(kt_val(k, "y")->dtype, LG_I64);
        ck_assert_int_eq(kt_run(k), 0);
        for (int i = 0; i < 24; i++) {
            same_elem(kt_get(k, "z"), i, 0, "cos0");
            same_elem(kt_get(k, "y"), i, -7, "cos1");
        }
        kt_free(k);
    }
    {   /* Range */
        static const struct {
            enum lg_dtype t;
            double s, l, d;
            int64_t n;
        } rc[] = {
            {LG_I64, 0, 16, 1, 16}, {LG_I64, 10, -3, -4, 4},
            {LG_I64, 5, 5, 1, 0}, {LG_I64, 5, 2, 1, 0},
            {LG_F32, 0.5, 3, 0.75, 4}, {LG_I32, -2, 9, 3, 4},
            {LG_F32, 1, -1, -0.5, 4},
        };
        for (size_t c = 0; c < sizeof rc / sizeof rc[0]; c++) {
            kt *k = kt_new(13);
            const char *nm[3] = {"s", "l", "d"};
            double v[3] = {rc[c].s, rc[c].l, rc[c].d};
            lg_tensor *y;
            for (int i = 0; i < 3; i++) {
                lg_tensor *t = tnew(rc[c].t, SHP0());
                if (rc[c].t == LG_F32)
                    *(float *)t->data = (float)v[i];
                else if (rc[c].t == LG_I64)
                    *(int64_t *)t->data = (int64_t)v[i];
                else
                    *(int32_t *)t->data = (int32_t)v[i];
                kt_const(k, nm[i], t);
            }
            kt_node(k, "range", "Range", 3, NAMES("s", "l", "d"), 1,
                    NAMES("y"), NULL);
            ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
            shape_is(k, "y", SHP(1, rc[c].n));
            ck_assert_int_eq(kt_run(k), 0);
            y = kt_get(k, "y");
            for (int64_t i = 0; i < rc[c].n; i++)
                same_elem(y, i, rc[c].s + (double)i * rc[c].d, "range");
            kt_free(k);
        }
    }
    {   /* Trilu over a batch, both directions, many k */
        for (int64_t kk = -4; kk <= 5; kk++)
            for (int up = 0; up < 2; up++) {
                kt *k = kt_new(14);
                attrs A = {0};
                lg_shape s = SHP(3, 2, 4, 5);
                lg_tensor *x = trand(up ? LG_F32 : LG_I64, s, -9, 9), *y;
                int64_t idx[3];
                lg_tensor_ref(x);
                at_int(&A, "upper", up);
                kt_in(k, "x", x);
                kt_const(k, "k", iscalar(kk));
                kt_node(k, "trilu", "Trilu", 2, NAMES("x", "k"), 1,
                        NAMES("y"), &A);
                ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
                ck_assert_int_eq(kt_run(k), 0);
                y = kt_get(k, "y");
                for (int64_t i = 0; i < 40; i++) {
                    int keep;
                    unravel(i, &s, idx);
                    keep = up ? idx[2] - idx[1] >= kk : idx[2] - idx[1] <= kk;
                    same_elem(y, i, keep ? getd(x, i) : 0, "trilu");
                }
                lg_tensor_unref(x);
                kt_free(k);
            }
    }
    {   /* OneHot */
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *v = tf32(SHP(1, 2), (float[]){-1.f, 2.f}), *y;
        int64_t iv[6] = {0, 3, -1, 4, 2, -5};
        at_int(&A, "axis", 1);
        kt_in(k, "i", ti64(SHP(2, 2, 3), iv));
        kt_const(k, "d", iscalar(4));
        kt_const(k, "v", v);
        kt_node(k, "onehot", "OneHot", 3, NAMES("i", "d", "v"), 1,
                NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(3, 2, 4, 3));
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int o = 0; o < 2; o++)
            for (int d = 0; d < 4; d++)
                for (int i = 0; i < 3; i++) {
                    int64_t x = iv[o * 3 + i];
                    if (x < 0)
                        x += 4;
                    same_elem(y, (o * 4 + d) * 3 + i, x == d ? 2 : -1,
                              "onehot");
                }
        kt_free(k);
    }
}
END_TEST

START_TEST(cumsum)
{
    for (int c = 0; c < 16; c++) {
        kt *k = kt_new(14);
        attrs A = {0};
        int excl = c & 1, rev = (c >> 1) & 1, axis = (c >> 2) % 3 - 1;
        enum lg_dtype t = c >= 12 ? LG_I64 : LG_F32;
        lg_shape s = SHP(3, 3, 5, 4);
        int a = axis < 0 ? axis + 3 : axis;
        lg_tensor *x = trand(t, s, -9, 9), *y;
        int64_t idx[3];
        lg_tensor_ref(x);
        at_int(&A, "exclusive", excl);
        at_int(&A, "reverse", rev);
        kt_in(k, "x", x);
        kt_const(k, "a", iscalar(axis));
        kt_node(k, "cumsum", "CumSum", 2, NAMES("x", "a"), 1, NAMES("y"),
                &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t i = 0; i < 60; i++) {
            double acc = 0;
            int64_t j[3];
            unravel(i, &s, idx);
            memcpy(j, idx, sizeof j);
            for (j[a] = 0; j[a] < s.d[a]; j[a]++) {
                int take = rev ? (excl ? j[a] > idx[a] : j[a] >= idx[a])
                               : (excl ? j[a] < idx[a] : j[a] <= idx[a]);
                if (take)
                    acc += getd(x, ravel(j, &s));
            }
            close_to(getd(y, i), acc, 1e-6, 1e-5, "cumsum", i);
        }
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

/* ------------------------------------------------------- reductions */

static const char *const red_ops[] = {
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
    "ReduceLogSumExp"};

static void check_reduce(const char *op, enum lg_dtype t, lg_shape s,
                         const int *red, int nax, const int64_t *axes,
                         int keep, int opset, int noop)
{
    kt *k = kt_new(opset);
    attrs A = {0};
    lg_tensor *x = trand(t, s, t == LG_F32 ? 0.5 : -20, t == LG_F32 ? 1.5 : 20);
    lg_tensor *y;
    lg_shape os;
    int64_t idx[LG_MAX_RANK], oi[LG_MAX_RANK], M, cnt;
    double *acc, *mx;
    int axes_input = opset >= 18 || (opset >= 13 && !strcmp(op, "ReduceSum"));
    int sq = !strcmp(op, "ReduceL2") || !strcmp(op, "ReduceSumSquare");
    int any = 0;
    char what[128];
    lg_tensor_ref(x);
    if (t == LG_F32)            /* signs too, except where logs need > 0 */
        for (int64_t i = 0; i < lg_tensor_numel(x); i++)
            if (strcmp(op, "ReduceLogSum") && strcmp(op, "ReduceProd") &&
                rnd(0, 1))
                ((float *)x->data)[i] *= -1;
    at_int(&A, "keepdims", keep);
    if (noop)
        at_int(&A, "noop_with_empty_axes", 1);
    kt_in(k, "x", x);
    if (nax >= 0 && axes_input) {
        kt_const(k, "ax", ivec(nax, axes));
        kt_node(k, "red", op, 2, NAMES("x", "ax"), 1, NAMES("y"), &A);
    } else {
        if (nax >= 0)
            at_ints(&A, "axes", nax, axes);
        kt_node(k, "red", op, 1, NAMES("x"), 1, NAMES("y"), &A);
    }
    ck_assert_msg(kt_infer(k) == 0, "%s: %s", op, k->err);
    for (int d = 0; d < s.rank; d++)
        any |= red[d];
    memset(&os, 0, sizeof os);
    for (int d = 0; d < s.rank; d++)
        if (!red[d] || keep)
            os.d[os.rank++] = red[d] ? 1 : s.d[d];
    shape_is(k, "y", os);
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    M = lg_tensor_numel(y);
    acc = calloc((size_t)M + 1, sizeof *acc);
    mx = calloc((size_t)M + 1, sizeof *mx);
    ck_assert(acc && mx);
    cnt = lg_tensor_numel(x) / (M ? M : 1);
    for (int64_t o = 0; o < M; o++) {
        mx[o] = -INFINITY;
        acc[o] = !strcmp(op, "ReduceProd") ? 1
               : !strcmp(op, "ReduceMax") ? -INFINITY
               : !strcmp(op, "ReduceMin") ? INFINITY : 0;
    }
    /* first pass: max, for LogSumExp */
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < lg_tensor_numel(x); i++) {
            double v = getd(x, i);
            int64_t o;
            int n = 0;
            unravel(i, &s, idx);
            for (int d = 0; d < s.rank; d++)
                if (!red[d] || keep)
                    oi[n++] = red[d] ? 0 : idx[d];
            o = ravel(oi, &os);
            if (pass == 0) {
                mx[o] = fmax(mx[o], v);
                continue;
            }
            if (!strcmp(op, "ReduceMax"))
                acc[o] = fmax(acc[o], v);
            else if (!strcmp(op, "ReduceMin"))
                acc[o] = fmin(acc[o], v);
            else if (!strcmp(op, "ReduceProd"))
                acc[o] *= v;
            else if (!strcmp(op, "ReduceL1"))
                acc[o] += fabs(v);
            else if (sq)
                acc[o] += v * v;
            else if (!strcmp(op, "ReduceLogSumExp"))
                acc[o] += exp(v - mx[o]);
            else
                acc[o] += v;
        }
    snprintf(what, sizeof what, "%s %s %s keep=%d", op, lg_dtype_name(t),
             sstr(&s), keep);
    for (int64_t o = 0; o < M; o++) {
        double r = acc[o];
        if (!any)
            r = getd(x, o);
        else if (!strcmp(op, "ReduceMean"))
            r = t == LG_F32 ? r / (double)cnt : trunc(r / (double)cnt);
        else if (!strcmp(op, "ReduceL2"))
            r = sqrt(r);
        else if (!strcmp(op, "ReduceLogSum"))
            r = log(r);
        else if (!strcmp(op, "ReduceLogSumExp"))
            r = mx[o] + log(r);
        if (t == LG_F32)
            close_to(getd(y, o), r, 2e-6, 1e-6, what, o);
        else
            same_elem(y, o, r, what);
    }
    free(acc);
    free(mx);
    lg_tensor_unref(x);
    kt_free(k);
}

START_TEST(reduce_random)
{
    for (int c = 0; c < 400; c++) {
        const char *op = red_ops[c % 10];
        int r = (int)rnd(1, 5), red[LG_MAX_RANK], nax = 0;
        lg_shape s = rand_shape(r, 1, r > 3 ? 6 : 12);
        int64_t axes[LG_MAX_RANK];
        enum lg_dtype t = LG_F32;
        int opset = (int)(rnd(0, 2) ? 13 : rnd(0, 1) ? 11 : 18);
        if (c % 10 < 5 && c % 10 != 4 && rnd(0, 3) == 0)
            t = rnd(0, 1) ? LG_I64 : LG_I32;
        for (int d = 0; d < r; d++) {
            red[d] = (int)rnd(0, 1);
            if (red[d])
                axes[nax++] = rnd(0, 1) ? d : d - r;
        }
        if (nax == 0) {         /* no axes: reduce everything */
            for (int d = 0; d < r; d++)
                red[d] = 1;
            check_reduce(op, t, s, red, -1, NULL, (int)rnd(0, 1), opset, 0);
        } else {
            check_reduce(op, t, s, red, nax, axes, (int)rnd(0, 1), opset, 0);
        }
    }
}
END_TEST

START_TEST(reduce_cases)
{
    int red[4];
    /* LayerNorm written out: mean over the last axis, keepdims */
    red[0] = red[1] = 0;
    red[2] = 1;
    check_reduce("ReduceMean", LG_F32, SHP(3, 16, 1, 128), red, 1,
                 (int64_t[]){-1}, 1, 13, 0);
    /* SE squeeze: mean over H, W of a big activation (pool ranges) */
    red[0] = red[1] = 0;
    red[2] = red[3] = 1;
    check_reduce("ReduceMean", LG_F32, SHP(4, 1, 96, 56, 56), red, 2,
                 (int64_t[]){2, 3}, 1, 13, 0);
    /* reduce a leading axis of a wide tensor: vector mode, > one block */
    red[0] = 1;
    red[1] = 0;
    check_reduce("ReduceSum", LG_F32, SHP(2, 37, 1000), red, 1,
                 (int64_t[]){0}, 0, 13, 0);
    check_reduce("ReduceMax", LG_F32, SHP(2, 37, 1000), red, 1,
                 (int64_t[]){0}, 0, 11, 0);
    check_reduce("ReduceLogSumExp", LG_F32, SHP(2, 37, 1000), red, 1,
                 (int64_t[]){0}, 1, 11, 0);
    /* empty axes with noop_with_empty_axes: the identity */
    red[0] = red[1] = 0;
    check_reduce("ReduceSum", LG_F32, SHP(2, 3, 4), red, 0, NULL, 1, 13, 1);
    /* unit axes only */
    red[0] = 1;
    red[1] = 0;
    red[2] = 0;
    check_reduce("ReduceSum", LG_F32, SHP(3, 1, 3, 4), red, 1,
                 (int64_t[]){0}, 0, 13, 0);
    {   /* reducing an empty axis gives the identity element */
        kt *k = kt_new(13);
        attrs A = {0};
        AT_INTS(&A, "axes", 1, 1);
        kt_in(k, "x", tnew(LG_F32, SHP(3, 2, 0, 3)));
        kt_node(k, "empty_max", "ReduceMax", 1, NAMES("x"), 1, NAMES("y"),
                &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(3, 2, 1, 3));
        ck_assert_int_eq(kt_run(k), 0);
        for (int i = 0; i < 6; i++)
            same_elem(kt_get(k, "y"), i, -INFINITY, "empty_max");
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        attrs A = {0};
        AT_INTS(&A, "axes", 1, 3);
        kt_in(k, "x", tnew(LG_F32, SHP(3, 2, 3, 3)));
        kt_node(k, "bad_reduce", "ReduceMean", 1, NAMES("x"), 1, NAMES("y"),
                &A);
        expect_fail(k, LG_EMODEL, "bad_reduce");
        kt_free(k);
    }
}
END_TEST

START_TEST(argmax_topk)
{
    for (int c = 0; c < 48; c++) {
        kt *k = kt_new(13);
        attrs A = {0};
        int mx = c & 1, last = (c >> 1) & 1, keep = (c >> 2) & 1;
        int axis = (c >> 3) % 3 - 1, a = axis < 0 ? axis + 3 : axis;
        enum lg_dtype t = c >= 24 ? LG_I64 : LG_F32;
        lg_shape s = SHP(3, 3, 5, 4), os = s;
        lg_tensor *x = trand(t, s, -3, 3), *y;  /* many ties */
        int64_t idx[3];
        lg_tensor_ref(x);
        if (t == LG_F32)
            for (int i = 0; i < 60; i++)
                ((float *)x->data)[i] = floorf(((float *)x->data)[i]);
        at_int(&A, "axis", axis);
        at_int(&A, "keepdims", keep);
        at_int(&A, "select_last_index", last);
        kt_in(k, "x", x);
        kt_node(k, "arg", mx ? "ArgMax" : "ArgMin", 1, NAMES("x"), 1,
                NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        ck_assert_int_eq(kt_val(k, "y")->dtype, LG_I64);
        os.d[a] = 1;
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t o = 0; o < lg_tensor_numel(y); o++) {
            int64_t best = 0;
            double bv = 0;
            unravel(o, &os, idx);
            for (int64_t j = 0; j < s.d[a]; j++) {
                double v;
                idx[a] = j;
                v = getd(x, ravel(idx, &s));
                if (j == 0 || (mx ? (v > bv || (last && v == bv))
                                  : (v < bv || (last && v == bv)))) {
                    bv = v;
                    best = j;
                }
            }
            same_elem(y, o, (double)best, "argmax");
        }
        lg_tensor_unref(x);
        kt_free(k);
    }
    for (int c = 0; c < 8; c++) {
        kt *k = kt_new(11);
        attrs A = {0};
        int largest = c & 1, axis = (c >> 1) & 1 ? 1 : -1;
        int64_t K = c >= 4 ? 6 : 3, idx[3];
        lg_shape s = SHP(3, 2, 6, 6), os = s;
        int a = axis < 0 ? 2 : 1;
        lg_tensor *x = trand(LG_F32, s, -3, 3), *v, *ix;
        lg_tensor_ref(x);
        for (int i = 0; i < 72; i++)
            ((float *)x->data)[i] = floorf(((float *)x->data)[i]);
        os.d[a] = K;
        at_int(&A, "axis", axis);
        at_int(&A, "largest", largest);
        kt_in(k, "x", x);
        kt_const(k, "k", IVEC(1, K));
        kt_node(k, "topk", "TopK", 2, NAMES("x", "k"), 2, NAMES("v", "i"),
                &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "v", os);
        shape_is(k, "i", os);
        ck_assert_int_eq(kt_run(k), 0);
        v = kt_get(k, "v");
        ix = kt_get(k, "i");
        for (int64_t o = 0; o < lg_tensor_numel(v); o++) {
            int64_t rank = 0, src, sel;
            double sv;
            unravel(o, &os, idx);
            rank = idx[a];
            /* the element chosen: its value, and exactly `rank` elements
             * of the slice sort before it (value, then lower index) */
            sel = lg_tensor_geti(ix, o);
            idx[a] = sel;
            src = ravel(idx, &s);
            sv = getd(x, src);
            same_elem(v, o, sv, "topk value");
            {
                int64_t before = 0;
                for (int64_t j = 0; j < s.d[a]; j++) {
                    double w;
                    idx[a] = j;
                    w = getd(x, ravel(idx, &s));
                    if ((largest ? w > sv : w < sv) || (w == sv && j < sel))
                        before++;
                }
                ck_assert_int_eq(before, rank);
            }
        }
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

/* ------------------------------------------------------------ Resize */

/* torch's bilinear (align_corners=False), ONNX pytorch_half_pixel. */
static double ref_bilinear(const lg_tensor *x, int64_t n, int64_t H,
                           int64_t W, int64_t oh, int64_t ow, int64_t OH,
                           int64_t OW, int align)
{
    double sh = (double)H / OH, sw = (double)W / OW, y, xx, ly, lx;
    int64_t y0, y1, x0, x1;
    const float *p = (const float *)x->data + n * H * W;
    if (align) {
        y = OH > 1 ? oh * (double)(H - 1) / (OH - 1) : 0;
        xx = OW > 1 ? ow * (double)(W - 1) / (OW - 1) : 0;
    } else {
        y = OH > 1 ? fmax(0, (oh + 0.5) * sh - 0.5) : 0;
        xx = OW > 1 ? fmax(0, (ow + 0.5) * sw - 0.5) : 0;
    }
    y0 = (int64_t)floor(y);
    x0 = (int64_t)floor(xx);
    if (y0 > H - 1) y0 = H - 1;
    if (x0 > W - 1) x0 = W - 1;
    y1 = y0 + (y0 < H - 1);
    x1 = x0 + (x0 < W - 1);
    ly = fmin(y - y0, 1);
    lx = fmin(xx - x0, 1);
    return (1 - ly) * ((1 - lx) * p[y0 * W + x0] + lx * p[y0 * W + x1]) +
           ly * ((1 - lx) * p[y1 * W + x0] + lx * p[y1 * W + x1]);
}

START_TEST(resize)
{
    {   /* F.interpolate(scale_factor=2, mode='nearest') at opset 13 */
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *x = trand(LG_F32, SHP(4, 1, 3, 5, 7), -1, 1), *y;
        lg_tensor_ref(x);
        at_str(&A, "mode", "nearest");
        at_str(&A, "coordinate_transformation_mode", "asymmetric");
        at_str(&A, "nearest_mode", "floor");
        kt_in(k, "x", x);
        kt_const(k, "roi", tnew(LG_F32, SHP(1, 0)));
        kt_const(k, "sc", tf32(SHP(1, 4), (float[]){1, 1, 2, 3}));
        kt_node(k, "up", "Resize", 3, NAMES("x", "roi", "sc"), 1,
                NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(4, 1, 3, 10, 21));
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 10; h++)
                for (int w = 0; w < 21; w++)
                    same_elem(y, (c * 10 + h) * 21 + w,
                              getd(x, (c * 5 + h / 2) * 7 + w / 3),
                              "nearest");
        lg_tensor_unref(x);
        kt_free(k);
    }
    for (int align = 0; align < 2; align++)
        for (int c = 0; c < 4; c++) {   /* bilinear, sizes, up and down */
            kt *k = kt_new(13);
            attrs A = {0};
            int64_t H = rnd(1, 9), W = rnd(1, 9), OH = rnd(1, 17),
                    OW = rnd(1, 17);
            lg_tensor *x = trand(LG_F32, SHP(4, 1, 2, H, W), -1, 1), *y;
            lg_tensor_ref(x);
            at_str(&A, "mode", "linear");
            at_str(&A, "coordinate_transformation_mode",
                   align ? "align_corners" : "pytorch_half_pixel");
            kt_in(k, "x", x);
            kt_const(k, "roi", tnew(LG_F32, SHP(1, 0)));
            kt_const(k, "sc", tnew(LG_F32, SHP(1, 0)));
            kt_const(k, "sz", IVEC(4, 1, 2, OH, OW));
            kt_node(k, "bilinear", "Resize", 4,
                    NAMES("x", "roi", "sc", "sz"), 1, NAMES("y"), &A);
            ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
            shape_is(k, "y", SHP(4, 1, 2, OH, OW));
            ck_assert_int_eq(kt_run(k), 0);
            y = kt_get(k, "y");
            for (int n = 0; n < 2; n++)
                for (int64_t h = 0; h < OH; h++)
                    for (int64_t w = 0; w < OW; w++)
                        close_to(getd(y, (n * OH + h) * OW + w),
                                 ref_bilinear(x, n, H, W, h, w, OH, OW,
                                              align),
                                 1e-5, 1e-6, "bilinear", h * OW + w);
            lg_tensor_unref(x);
            kt_free(k);
        }
    {   /* Upsample-9 nearest, and half_pixel nearest downsampling */
        kt *k = kt_new(9);
        lg_tensor *x = trand(LG_F32, SHP(4, 1, 2, 3, 4), -1, 1), *y;
        lg_tensor_ref(x);
        kt_in(k, "x", x);
        kt_const(k, "sc", tf32(SHP(1, 4), (float[]){1, 1, 2, 2}));
        kt_node(k, "ups", "Upsample", 2, NAMES("x", "sc"), 1, NAMES("y"),
                NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(4, 1, 2, 6, 8));
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int i = 0; i < 2 * 6 * 8; i++) {
            int c = i / 48, h = i / 8 % 6, w = i % 8;
            same_elem(y, i, getd(x, (c * 3 + h / 2) * 4 + w / 2), "ups");
        }
        lg_tensor_unref(x);
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *x = trand(LG_F32, SHP(4, 1, 1, 8, 8), -1, 1), *y;
        lg_tensor_ref(x);
        kt_in(k, "x", x);
        kt_const(k, "roi", tnew(LG_F32, SHP(1, 0)));
        kt_const(k, "sc", tf32(SHP(1, 4), (float[]){1, 1, 0.5f, 0.5f}));
        kt_node(k, "down", "Resize", 3, NAMES("x", "roi", "sc"), 1,
                NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", SHP(4, 1, 1, 4, 4));
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        /* half_pixel: (o + 0.5) * 2 - 0.5 = 2o + 0.5 -> round_prefer_floor
         * gives 2o */
        for (int h = 0; h < 4; h++)
            for (int w = 0; w < 4; w++)
                same_elem(y, h * 4 + w, getd(x, 2 * h * 8 + 2 * w), "down");
        lg_tensor_unref(x);
        kt_free(k);
    }
    {
        kt *k = kt_new(13);
        attrs A = {0};
        at_str(&A, "mode", "cubic");
        kt_in(k, "x", tnew(LG_F32, SHP(4, 1, 1, 8, 8)));
        kt_const(k, "roi", tnew(LG_F32, SHP(1, 0)));
        kt_const(k, "sc", tf32(SHP(1, 4), (float[]){1, 1, 2, 2}));
        kt_node(k, "cubic_resize", "Resize", 3, NAMES("x", "roi", "sc"), 1,
                NAMES("y"), &A);
        expect_fail(k, LG_EUNSUP, "cubic_resize");
        kt_free(k);
    }
}
END_TEST

START_TEST(depth_space)
{
    for (int c = 0; c < 3; c++) {
        kt *k = kt_new(13);
        attrs A = {0};
        int64_t b = 2, N = 2, C = 8, H = 3, W = 5, Co = C / 4;
        lg_shape s = c == 2 ? SHP(4, N, Co, H * b, W * b) : SHP(4, N, C, H, W);
        lg_tensor *x = trand(LG_F32, s, -1, 1), *y;
        lg_tensor_ref(x);
        at_int(&A, "blocksize", b);
        if (c == 1)
            at_str(&A, "mode", "CRD");
        kt_in(k, "x", x);
        kt_node(k, "ds", c == 2 ? "SpaceToDepth" : "DepthToSpace", 1,
                NAMES("x"), 1, NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        shape_is(k, "y", c == 2 ? SHP(4, N, C, H, W)
                                : SHP(4, N, Co, H * b, W * b));
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int64_t n = 0; n < N; n++)
            for (int64_t co = 0; co < Co; co++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t i = 0; i < b; i++)
                        for (int64_t w = 0; w < W; w++)
                            for (int64_t j = 0; j < b; j++) {
                                int64_t deep = c == 1 ? co * b * b + i * b + j
                                                      : (i * b + j) * Co + co;
                                int64_t di = ((n * C + deep) * H + h) * W + w;
                                int64_t si = ((n * Co + co) * H * b + h * b +
                                              i) * W * b + w * b + j;
                                if (c == 2)
                                    same_elem(y, di, getd(x, si), "s2d");
                                else
                                    same_elem(y, si, getd(x, di), "d2s");
                            }
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

/* -------------------------------------------- Shape, Size, Constant */

START_TEST(shape_size_constant)
{
    {   /* inference folds Shape and Size into constants */
        kt *k = kt_new(15);
        attrs A = {0};
        const lg_value *v;
        at_int(&A, "start", 1);
        at_int(&A, "end", -1);
        kt_in(k, "x", tnew(LG_F32, SHP(4, 2, 3, 5, 7)));
        kt_node(k, "shape", "Shape", 1, NAMES("x"), 1, NAMES("s"), &A);
        kt_node(k, "size", "Size", 1, NAMES("x"), 1, NAMES("n"), NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        v = kt_val(k, "s");
        ck_assert_ptr_nonnull(v->konst);
        ck_assert_int_eq(lg_tensor_numel(v->konst), 2);
        ck_assert_int_eq(lg_tensor_geti(v->konst, 0), 3);
        ck_assert_int_eq(lg_tensor_geti(v->konst, 1), 5);
        ck_assert_int_eq(lg_tensor_geti(kt_val(k, "n")->konst, 0), 210);
        kt_free(k);
    }
    {   /* their kernels, called directly */
        lg_graph *g = lg_graph_new();
        lg_tensor *x = tnew(LG_F32, SHP(3, 2, 3, 5));
        lg_tensor *s = tnew(LG_I64, SHP(1, 3)), *n = tnew(LG_I64, SHP0());
        lg_tensor *in[1] = {x}, *o1[1] = {s}, *o2[1] = {n};
        char err[256];
        lg_kctx ctx = {NULL, NULL, err, sizeof err};
        int id = lg_graph_add_node(g, "sh", "Shape", "", 1, NAMES("x"), 1,
                                   NAMES("s"), NULL, 0);
        ck_assert_int_eq(find_kernel("Shape")->run(g, &g->nodes[id], in, o1,
                                                   &ctx), 0);
        id = lg_graph_add_node(g, "sz", "Size", "", 1, NAMES("x"), 1,
                               NAMES("n"), NULL, 0);
        ck_assert_int_eq(find_kernel("Size")->run(g, &g->nodes[id], in, o2,
                                                  &ctx), 0);
        ck_assert_int_eq(((int64_t *)s->data)[0], 2);
        ck_assert_int_eq(((int64_t *)s->data)[2], 5);
        ck_assert_int_eq(*(int64_t *)n->data, 30);
        lg_tensor_unref(x);
        lg_tensor_unref(s);
        lg_tensor_unref(n);
        lg_graph_free(g);
    }
    for (int c = 0; c < 5; c++) {
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *y;
        float fl[3] = {1.5f, -2.f, 3.f};
        switch (c) {
        case 0: at_tensor(&A, "value", tf32(SHP(2, 1, 3), fl)); break;
        case 1: at_float(&A, "value_float", 2.5f); break;
        case 2: at_int(&A, "value_int", -9); break;
        case 3: at_floats(&A, "value_floats", 3, fl); break;
        default: AT_INTS(&A, "value_ints", 2, 7, 8); break;
        }
        kt_node(k, "const", "Constant", 0, NULL, 1, NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        switch (c) {
        case 0:
            shape_is(k, "y", SHP(2, 1, 3));
            same_elem(y, 1, -2, "value");
            break;
        case 1:
            shape_is(k, "y", SHP0());
            same_elem(y, 0, 2.5, "value_float");
            break;
        case 2:
            shape_is(k, "y", SHP0());
            ck_assert_int_eq(kt_val(k, "y")->dtype, LG_I64);
            same_elem(y, 0, -9, "value_int");
            break;
        case 3:
            shape_is(k, "y", SHP(1, 3));
            same_elem(y, 2, 3, "value_floats");
            break;
        default:
            shape_is(k, "y", SHP(1, 2));
            same_elem(y, 1, 8, "value_ints");
        }
        kt_free(k);
    }
}
END_TEST

/* The int64 shape arithmetic chain exporters emit, folded or not:
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape. */
START_TEST(shape_chain)
{
    kt *k = kt_new(13);
    attrs A = {0};
    lg_tensor *x = trand(LG_F32, SHP(3, 2, 6, 4), -1, 1);
    lg_tensor_ref(x);
    kt_in(k, "x", x);
    kt_const(k, "i0", iscalar(0));
    kt_const(k, "ax", IVEC(1, 0));
    kt_const(k, "m1", IVEC(1, -1));
    at_int(&A, "axis", 0);
    kt_node(k, "shape", "Shape", 1, NAMES("x"), 1, NAMES("s"), NULL);
    kt_node(k, "g", "Gather", 2, NAMES("s", "i0"), 1, NAMES("b"), NULL);
    kt_node(k, "u", "Unsqueeze", 2, NAMES("b", "ax"), 1, NAMES("bu"), NULL);
    kt_node(k, "cat", "Concat", 2, NAMES("bu", "m1"), 1, NAMES("shp"), &A);
    kt_node(k, "dyn_rs", "Reshape", 2, NAMES("x", "shp"), 1, NAMES("y"),
            NULL);
    /* without folding only Shape becomes constant, so Reshape's shape is
     * computed at run time: unsupported, named */
    expect_fail(k, LG_EUNSUP, "dyn_rs");
    kt_free(k);
    lg_tensor_unref(x);
}
END_TEST

START_TEST(tables_match)
{
    for (const lg_opdef *d = lg_opdefs_tensor; d->op; d++)
        ck_assert_msg(find_kernel(d->op) != NULL, "no kernel for %s", d->op);
    for (const lg_kernel *kk = lg_cpu_kernels_tensor; kk->op; kk++)
        ck_assert_msg(lg_op_find("", kk->op) != NULL, "no opdef for %s",
                      kk->op);
    /* data-dependent output shapes are absent on purpose */
    ck_assert_ptr_null(lg_op_find("", "NonZero"));
}
END_TEST

static Suite *tensor_suite(void)
{
    Suite *s = suite_create("kernels_tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tables_match);
    tcase_add_test(tc, reshape);
    tcase_add_test(tc, flatten);
    tcase_add_test(tc, transpose);
    tcase_add_test(tc, squeeze_unsqueeze);
    tcase_add_test(tc, concat);
    tcase_add_test(tc, split);
    tcase_add_test(tc, slice_random);
    tcase_add_test(tc, slice_cases);
    tcase_add_test(tc, gather);
    tcase_add_test(tc, gather_elements_scatter_nd);
    tcase_add_test(tc, expand_tile);
    tcase_add_test(tc, pad);
    tcase_add_test(tc, generators);
    tcase_add_test(tc, cumsum);
    tcase_add_test(tc, reduce_random);
    tcase_add_test(tc, reduce_cases);
    tcase_add_test(tc, argmax_topk);
    tcase_add_test(tc, resize);
    tcase_add_test(tc, depth_space);
    tcase_add_test(tc, shape_size_constant);
    tcase_add_test(tc, shape_chain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tensor_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
