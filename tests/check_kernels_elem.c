/*
 * check_kernels_elem.c - tests for the elementwise op definitions
 * (lib/model/opdef_elem.c) and their CPU kernels (lib/exec/cpu/elem.c,
 * lib/exec/cpu/bcast.c).
 *
 * Each case builds a small lg_graph by hand, runs shape inference
 * (lg_graph_infer without folding), checks the inferred shape and type,
 * then runs the kernels straight from their tables and compares with a
 * naive reference written here (per-element loops, broadcasting by index
 * arithmetic, float64 math). Every graph is run twice, once without a
 * pool and once with a 3-thread pool, into outputs pre-filled with
 * different garbage: the two runs must agree bit for bit, which checks
 * both determinism and that every output element is written.
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


/* ---------------------------------------------------------------- unary */

typedef struct ucase {
    const char *op;
    double lo, hi;              /* input range */
    double rtol;
} ucase;

static double ref_unary(const char *op, double x, const lg_node *n)
{
    if (!strcmp(op, "Relu")) return x < 0 ? 0 : x;
    if (!strcmp(op, "Sigmoid")) return 1 / (1 + exp(-x));
    if (!strcmp(op, "Tanh")) return tanh(x);
    if (!strcmp(op, "Erf")) return erf(x);
    if (!strcmp(op, "Exp")) return exp(x);
    if (!strcmp(op, "Log")) return log(x);
    if (!strcmp(op, "Sqrt")) return sqrt(x);
    if (!strcmp(op, "Reciprocal")) return 1 / x;
    if (!strcmp(op, "Neg")) return -x;
    if (!strcmp(op, "Abs")) return fabs(x);
    if (!strcmp(op, "Floor")) return floor(x);
    if (!strcmp(op, "Ceil")) return ceil(x);
    if (!strcmp(op, "Round")) return nearbyint(x);
    if (!strcmp(op, "Sin")) return sin(x);
    if (!strcmp(op, "Cos")) return cos(x);
    if (!strcmp(op, "Tan")) return tan(x);
    if (!strcmp(op, "Asin")) return asin(x);
    if (!strcmp(op, "Acos")) return acos(x);
    if (!strcmp(op, "Atan")) return atan(x);
    if (!strcmp(op, "Sinh")) return sinh(x);
    if (!strcmp(op, "Cosh")) return cosh(x);
    if (!strcmp(op, "Asinh")) return asinh(x);
    if (!strcmp(op, "Acosh")) return acosh(x);
    if (!strcmp(op, "Atanh")) return atanh(x);
    if (!strcmp(op, "Softplus")) return log(1 + exp(x));
    if (!strcmp(op, "Softsign")) return x / (1 + fabs(x));
    if (!strcmp(op, "HardSigmoid")) {
        double a = lg_attr_float(n, "alpha", 0.2f),
               b = lg_attr_float(n, "beta", 0.5f);
        return fmax(0, fmin(1, a * x + b));
    }
    if (!strcmp(op, "HardSwish")) return x * fmax(0, fmin(1, x / 6 + 0.5));
    if (!strcmp(op, "LeakyRelu"))
        return x < 0 ? lg_attr_float(n, "alpha", 0.01f) * x : x;
    if (!strcmp(op, "Elu"))
        return x < 0 ? lg_attr_float(n, "alpha", 1.f) * (exp(x) - 1) : x;
    if (!strcmp(op, "Selu")) {
        double a = lg_attr_float(n, "alpha", 1.67326319217681884765625f),
               g = lg_attr_float(n, "gamma", 1.05070102214813232421875f);
        return x <= 0 ? g * (a * exp(x) - a) : g * x;
    }
    if (!strcmp(op, "Celu")) {
        double a = lg_attr_float(n, "alpha", 1.f);
        return fmax(0, x) + fmin(0, a * (exp(x / a) - 1));
    }
    if (!strcmp(op, "Gelu")) {
        if (!strcmp(lg_attr_str(n, "approximate", "none"), "tanh"))
            return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) *
                                       (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1 + erf(x / sqrt(2)));
    }
    if (!strcmp(op, "Mish")) return x * tanh(log(1 + exp(x)));
    if (!strcmp(op, "ThresholdedRelu"))
        return x > lg_attr_float(n, "alpha", 1.f) ? x : 0;
    if (!strcmp(op, "Shrink")) {
        double b = lg_attr_float(n, "bias", 0), l = lg_attr_float(n, "lambd",
                                                                  0.5f);
        return x < -l ? x + b : (x > l ? x - b : 0);
    }
    if (!strcmp(op, "Sign")) return (x > 0) - (x < 0);
    ck_abort_msg("no reference for %s", op);
    return 0;
}

static void run_unary(const char *op, double lo, double hi, double rtol,
                      attrs *A, lg_shape s)
{
    kt *k = kt_new(13);
    lg_tensor *x = trand(LG_F32, s, lo, hi), *y;
    const lg_node *n;
    lg_tensor_ref(x);
    kt_in(k, "x", x);
    kt_node(k, "u", op, 1, NAMES("x"), 1, NAMES("y"), A);
    ck_assert_msg(kt_infer(k) == 0, "%s: %s", op, k->err);
    ck_assert(lg_shape_eq(&kt_val(k, "y")->shape, &s));
    ck_assert_int_eq(kt_val(k, "y")->dtype, LG_F32);
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    n = &k->g->nodes[0];
    for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
        double xv = ((float *)x->data)[i];
        close_to(((float *)y->data)[i], ref_unary(op, xv, n), rtol, 1e-6, op,
                 i);
    }
    lg_tensor_unref(x);
    kt_free(k);
}

START_TEST(unary_float_ops)
{
    static const ucase cases[] = {
        {"Relu", -3, 3, 0}, {"Sigmoid", -12, 12, 2e-6},
        {"Tanh", -5, 5, 2e-6}, {"Erf", -4, 4, 1e-6}, {"Exp", -10, 10, 2e-6},
        {"Log", 1e-3, 100, 2e-6}, {"Sqrt", 0, 100, 1e-6},
        {"Reciprocal", 0.1, 10, 1e-6}, {"Neg", -3, 3, 0},
        {"Abs", -3, 3, 0}, {"Floor", -5, 5, 0}, {"Ceil", -5, 5, 0},
        {"Round", -5, 5, 0}, {"Sin", -6, 6, 2e-6}, {"Cos", -6, 6, 2e-6},
        {"Tan", -1.2, 1.2, 2e-6}, {"Asin", -0.99, 0.99, 2e-6},
        {"Acos", -0.99, 0.99, 2e-6}, {"Atan", -5, 5, 2e-6},
        {"Sinh", -5, 5, 2e-6}, {"Cosh", -5, 5, 2e-6},
        {"Asinh", -5, 5, 2e-6}, {"Acosh", 1.01, 5, 2e-6},
        {"Atanh", -0.95, 0.95, 2e-6}, {"Softplus", -30, 30, 2e-6},
        {"Softsign", -5, 5, 2e-6}, {"HardSigmoid", -5, 5, 1e-6},
        {"HardSwish", -5, 5, 1e-6}, {"LeakyRelu", -3, 3, 1e-6},
        {"Elu", -5, 3, 2e-6}, {"Selu", -5, 3, 2e-6}, {"Celu", -5, 3, 2e-6},
        {"Gelu", -6, 6, 2e-6}, {"Mish", -10, 10, 4e-6},
        {"ThresholdedRelu", -3, 3, 0}, {"Shrink", -3, 3, 1e-6},
        {"Sign", -2, 2, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lg_shape s = SHP(3, rnd(1, 4), rnd(1, 9), rnd(1, 33));
        run_unary(cases[c].op, cases[c].lo, cases[c].hi, cases[c].rtol, NULL,
                  s);
    }
    /* a large activation goes through the pool in several ranges */
    run_unary("Relu", -1, 1, 0, NULL, SHP(4, 1, 8, 57, 61));
    run_unary("Sigmoid", -8, 8, 2e-6, NULL, SHP(4, 1, 8, 57, 61));
}
END_TEST

START_TEST(unary_attrs)
{
    attrs A = {0};
    at_float(&A, "alpha", 0.3f);
    at_float(&A, "beta", 0.4f);
    run_unary("HardSigmoid", -5, 5, 1e-6, &A, SHP(2, 3, 7));
    at_float(&A, "alpha", 0.2f);
    run_unary("LeakyRelu", -5, 5, 1e-6, &A, SHP(2, 3, 7));
    at_float(&A, "alpha", 0.7f);
    run_unary("Elu", -5, 5, 2e-6, &A, SHP(2, 3, 7));
    at_float(&A, "alpha", 2.f);
    at_float(&A, "gamma", 1.5f);
    run_unary("Selu", -5, 5, 2e-6, &A, SHP(2, 3, 7));
    at_float(&A, "alpha", 0.5f);
    run_unary("Celu", -5, 5, 2e-6, &A, SHP(2, 3, 7));
    at_str(&A, "approximate", "tanh");
    run_unary("Gelu", -6, 6, 2e-6, &A, SHP(2, 3, 7));
    at_float(&A, "alpha", 0.5f);
    run_unary("ThresholdedRelu", -3, 3, 0, &A, SHP(2, 3, 7));
    at_float(&A, "bias", 0.25f);
    at_float(&A, "lambd", 1.f);
    run_unary("Shrink", -3, 3, 1e-6, &A, SHP(2, 3, 7));
}
END_TEST

/* Erf must match libm's double erf to 1e-6 relative over its range (torch
 * uses the same libm erff); GELU as torch exports it at opset 13:
 * Div, Erf, Add, Mul, Mul. */
START_TEST(erf_gelu_graph)
{
    kt *k = kt_new(13);
    lg_shape s = SHP(3, 16, 1, 129);
    lg_tensor *x = trand(LG_F32, s, -6, 6), *y;
    lg_tensor_ref(x);
    kt_in(k, "x", x);
    kt_const(k, "sqrt2", scalar_f(1.4142135381698608f));
    kt_const(k, "one", scalar_f(1.f));
    kt_const(k, "half", scalar_f(0.5f));
    kt_node(k, "div", "Div", 2, NAMES("x", "sqrt2"), 1, NAMES("d"), NULL);
    kt_node(k, "erf", "Erf", 1, NAMES("d"), 1, NAMES("e"), NULL);
    kt_node(k, "add", "Add", 2, NAMES("e", "one"), 1, NAMES("a"), NULL);
    kt_node(k, "mul", "Mul", 2, NAMES("x", "a"), 1, NAMES("m"), NULL);
    kt_node(k, "mul2", "Mul", 2, NAMES("m", "half"), 1, NAMES("y"), NULL);
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    for (int64_t i = 0; i < lg_tensor_numel(x); i++) {
        double v = ((float *)x->data)[i];
        double ev = ((float *)kt_get(k, "e")->data)[i];
        double dv = ((float *)kt_get(k, "d")->data)[i];
        close_to(ev, erf(dv), 1e-6, 1e-12, "erf", i);
        close_to(((float *)y->data)[i], 0.5 * v * (1 + erf(v / sqrt(2))),
                 2e-6, 1e-7, "gelu", i);
    }
    lg_tensor_unref(x);
    kt_free(k);
}
END_TEST

START_TEST(unary_int_and_bool)
{
    static const char *const ops[] = {"Relu", "Neg", "Abs", "Sign"};
    for (int t = 0; t < 2; t++)
        for (int o = 0; o < 4; o++) {
            enum lg_dtype dt = t ? LG_I32 : LG_I64;
            kt *k = kt_new(14);
            lg_tensor *x = trand(dt, SHP(2, 5, 9), -50, 50), *y;
            lg_tensor_ref(x);
            if (dt == LG_I64)
                ((int64_t *)x->data)[0] = INT64_MIN;    /* wraps, no UB */
            kt_in(k, "x", x);
            kt_node(k, "u", ops[o], 1, NAMES("x"), 1, NAMES("y"), NULL);
            ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
            ck_assert_int_eq(kt_val(k, "y")->dtype, dt);
            ck_assert_int_eq(kt_run(k), 0);
            y = kt_get(k, "y");
            for (int64_t i = dt == LG_I64; i < 45; i++) {
                int64_t v = lg_tensor_geti(x, i), r = lg_tensor_geti(y, i);
                int64_t want = o == 0 ? (v < 0 ? 0 : v) : o == 1 ? -v
                             : o == 2 ? llabs(v) : (v > 0) - (v < 0);
                ck_assert_int_eq(r, want);
            }
            lg_tensor_unref(x);
            kt_free(k);
        }
    {
        kt *k = kt_new(13);
        lg_tensor *x = trand(LG_BOOL, SHP(1, 11), -1, 1), *y;
        lg_tensor_ref(x);
        kt_in(k, "x", x);
        kt_node(k, "not", "Not", 1, NAMES("x"), 1, NAMES("y"), NULL);
        ck_assert_int_eq(kt_infer(k), 0);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int i = 0; i < 11; i++)
            ck_assert_int_eq(((uint8_t *)y->data)[i],
                             !((uint8_t *)x->data)[i]);
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

START_TEST(isnan_isinf)
{
    float v[6] = {1.f, NAN, INFINITY, -INFINITY, 0.f, -2.f};
    const char *ops[] = {"IsNaN", "IsInf", "IsInf", "IsInf"};
    for (int c = 0; c < 4; c++) {
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *y;
        if (c == 2)
            at_int(&A, "detect_positive", 0);
        if (c == 3)
            at_int(&A, "detect_negative", 0);
        kt_in(k, "x", tf32(SHP(1, 6), v));
        kt_node(k, "n", ops[c], 1, NAMES("x"), 1, NAMES("y"), &A);
        ck_assert_int_eq(kt_infer(k), 0);
        ck_assert_int_eq(kt_val(k, "y")->dtype, LG_BOOL);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int i = 0; i < 6; i++) {
            int want = c == 0 ? isnan(v[i]) != 0
                     : c == 1 ? isinf(v[i]) != 0
                     : c == 2 ? v[i] == -INFINITY : v[i] == INFINITY;
            ck_assert_int_eq(((uint8_t *)y->data)[i], want);
        }
        kt_free(k);
    }
}
END_TEST

/* --------------------------------------------------------------- binary */

/* Shape pairs: same, scalar, row, SE channel, both-sided, rank-mixed. */
static const struct {
    int ra;
    int64_t a[5];
    int rb;
    int64_t b[5];
} pairs[] = {
    {4, {2, 3, 5, 7}, 4, {2, 3, 5, 7}},
    {4, {2, 3, 5, 7}, 0, {0}},
    {0, {0}, 3, {3, 5, 7}},
    {3, {4, 5, 7}, 1, {7}},
    {4, {1, 6, 9, 11}, 4, {1, 6, 1, 1}},
    {4, {1, 6, 1, 1}, 4, {1, 6, 9, 11}},
    {2, {5, 1}, 2, {1, 7}},
    {4, {2, 1, 5, 1}, 3, {3, 1, 7}},
    {2, {9, 13}, 1, {13}},
    {3, {3, 1, 7}, 3, {3, 5, 7}},
    {1, {1}, 2, {3, 4}},
    {4, {1, 32, 24, 25}, 4, {1, 32, 1, 1}},
};

static double ref_binary(const char *op, double a, double b, int isint,
                         int fmodattr)
{
    if (!strcmp(op, "Add")) return a + b;
    if (!strcmp(op, "Sub")) return a - b;
    if (!strcmp(op, "Mul")) return a * b;
    if (!strcmp(op, "Div")) {
        if (isint)
            return b == 0 ? 0 : trunc(a / b);
        return a / b;
    }
    if (!strcmp(op, "Pow")) return pow(a, b);
    if (!strcmp(op, "Max")) return fmax(a, b);
    if (!strcmp(op, "Min")) return fmin(a, b);
    if (!strcmp(op, "Mod")) {
        double r;
        if (b == 0)
            return isint ? 0 : NAN;
        r = fmod(a, b);
        if (!fmodattr && r != 0 && ((r < 0) != (b < 0)))
            r += b;
        return r;
    }
    if (!strcmp(op, "Equal")) return a == b;
    if (!strcmp(op, "Less")) return a < b;
    if (!strcmp(op, "Greater")) return a > b;
    if (!strcmp(op, "LessOrEqual")) return a <= b;
    if (!strcmp(op, "GreaterOrEqual")) return a >= b;
    if (!strcmp(op, "And")) return (a != 0) && (b != 0);
    if (!strcmp(op, "Or")) return (a != 0) || (b != 0);
    if (!strcmp(op, "Xor")) return (a != 0) != (b != 0);
    if (!strcmp(op, "PRelu")) return a < 0 ? a * b : a;
    ck_abort_msg("no reference for %s", op);
    return 0;
}

static void run_binary(const char *op, enum lg_dtype t, lg_shape sa,
                       lg_shape sb, double lo, double hi, int fmodattr)
{
    kt *k = kt_new(13);
    lg_tensor *a = trand(t, sa, lo, hi), *b = trand(t, sb, lo, hi), *y;
    lg_shape want;
    int isint = t == LG_I64 || t == LG_I32;
    int cmp = !strcmp(op, "Equal") || !strcmp(op, "Less") ||
              !strcmp(op, "Greater") || !strcmp(op, "LessOrEqual") ||
              !strcmp(op, "GreaterOrEqual") || t == LG_BOOL;
    attrs A = {0};
    char what[256];
    if (!strcmp(op, "Mod"))
        at_int(&A, "fmod", fmodattr);
    if (!strcmp(op, "Pow") && t == LG_F32)     /* base > 0 */
        for (int64_t i = 0; i < lg_tensor_numel(a); i++)
            ((float *)a->data)[i] = fabsf(((float *)a->data)[i]) + 0.1f;
    if (isint && (!strcmp(op, "Div") || !strcmp(op, "Mod"))) {
        if (t == LG_I64)        /* division by zero gives 0, no trap */
            ((int64_t *)b->data)[0] = 0;
        else
            ((int32_t *)b->data)[0] = 0;
    }
    lg_tensor_ref(a);
    lg_tensor_ref(b);
    kt_in(k, "a", a);
    kt_in(k, "b", b);
    kt_node(k, "bin", op, 2, NAMES("a", "b"), 1, NAMES("y"), &A);
    ck_assert_msg(kt_infer(k) == 0, "%s %s %s: %s", op, sstr(&sa), sstr(&sb),
                  k->err);
    ck_assert_int_eq(lg_broadcast(&k->g->nodes[0], &sa, &sb, &want, NULL, 0),
                     0);
    ck_assert(lg_shape_eq(&kt_val(k, "y")->shape, &want));
    ck_assert_int_eq(kt_val(k, "y")->dtype, cmp ? LG_BOOL : t);
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    snprintf(what, sizeof what, "%s %s %s %s", op, lg_dtype_name(t),
             sstr(&sa), sstr(&sb));
    for (int64_t i = 0; i < lg_tensor_numel(y); i++) {
        double av = getd(a, bc_off(&sa, &want, i));
        double bv = getd(b, bc_off(&sb, &want, i));
        double r = ref_binary(op, av, bv, isint, fmodattr);
        if (t == LG_F32 && !cmp)
            r = (float)r;
        close_to(getd(y, i), r, t == LG_F32 ? 1e-6 : 0, 0, what, i);
    }
    lg_tensor_unref(a);
    lg_tensor_unref(b);
    kt_free(k);
}

START_TEST(binary_broadcast_f32)
{
    static const char *const ops[] = {"Add", "Sub", "Mul", "Div", "Max",
                                      "Min", "Pow", "Equal", "Less",
                                      "Greater", "LessOrEqual",
                                      "GreaterOrEqual"};
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            lg_shape sa = lg_shape_make(pairs[p].ra, pairs[p].a);
            lg_shape sb = lg_shape_make(pairs[p].rb, pairs[p].b);
            run_binary(ops[o], LG_F32, sa, sb, -3, 3, 0);
        }
    run_binary("Mod", LG_F32, SHP(2, 4, 9), SHP(1, 9), -10, 10, 1);
    run_binary("Mod", LG_F32, SHP(2, 4, 9), SHP(1, 9), -10, 10, 0);
    run_binary("Add", LG_F64, SHP(2, 4, 9), SHP(1, 9), -10, 10, 0);
    run_binary("Div", LG_F64, SHP(2, 4, 9), SHP(2, 4, 1), -10, 10, 0);
}
END_TEST

START_TEST(binary_int)
{
    static const char *const ops[] = {"Add", "Sub", "Mul", "Div", "Max",
                                      "Min", "Mod", "Equal", "Less",
                                      "Greater", "LessOrEqual",
                                      "GreaterOrEqual"};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        run_binary(ops[o], LG_I64, SHP(3, 2, 3, 5), SHP(1, 5), -40, 40, 0);
        run_binary(ops[o], LG_I64, SHP0(), SHP(1, 4), -40, 40, 0);
        run_binary(ops[o], LG_I32, SHP(2, 3, 5), SHP(2, 3, 1), -40, 40, 0);
    }
    run_binary("Mod", LG_I64, SHP(2, 7, 5), SHP(1, 5), -40, 40, 1);
    run_binary("Mod", LG_I32, SHP(2, 7, 5), SHP(1, 5), -40, 40, 1);
    run_binary("Equal", LG_BOOL, SHP(2, 7, 5), SHP(1, 5), -1, 1, 0);
    run_binary("And", LG_BOOL, SHP(2, 7, 5), SHP(1, 5), -1, 1, 0);
    run_binary("Or", LG_BOOL, SHP(2, 7, 5), SHP(2, 7, 1), -1, 1, 0);
    run_binary("Xor", LG_BOOL, SHP(3, 2, 7, 5), SHP0(), -1, 1, 0);
}
END_TEST

/* Integer corner cases that would trap or overflow in plain C. */
START_TEST(int_no_traps)
{
    int64_t av[4] = {INT64_MIN, INT64_MIN, 7, INT64_MAX};
    int64_t bv[4] = {-1, -1, 0, 2};
    const char *ops[] = {"Div", "Mod", "Mul", "Add"};
    for (int o = 0; o < 4; o++) {
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *y;
        if (o == 1)
            at_int(&A, "fmod", 1);
        kt_in(k, "a", ti64(SHP(1, 4), av));
        kt_in(k, "b", ti64(SHP(1, 4), bv));
        kt_node(k, "n", ops[o], 2, NAMES("a", "b"), 1, NAMES("y"), &A);
        ck_assert_int_eq(kt_infer(k), 0);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        if (o == 0) {
            ck_assert_int_eq(((int64_t *)y->data)[0], INT64_MIN);
            ck_assert_int_eq(((int64_t *)y->data)[2], 0);  /* x / 0 */
            ck_assert_int_eq(((int64_t *)y->data)[3], INT64_MAX / 2);
        } else if (o == 1) {
            ck_assert_int_eq(((int64_t *)y->data)[0], 0);
            ck_assert_int_eq(((int64_t *)y->data)[2], 0);
        } else if (o == 3) {
            ck_assert_int_eq(((int64_t *)y->data)[3], INT64_MAX + 2ULL);
        }
        kt_free(k);
    }
}
END_TEST

/* Pow with a scalar exponent of another type (LayerNorm's x^2). */
START_TEST(pow_mixed)
{
    for (int c = 0; c < 4; c++) {
        kt *k = kt_new(13);
        lg_tensor *x = trand(LG_F32, SHP(3, 4, 1, 33), -3, 3), *e, *y;
        double ev = c == 0 ? 2 : c == 1 ? 3 : c == 2 ? 0.5 : 2;
        lg_tensor_ref(x);
        if (c == 2)
            for (int i = 0; i < 132; i++)
                ((float *)x->data)[i] = fabsf(((float *)x->data)[i]);
        if (c == 1) {
            e = tnew(LG_I64, SHP0());
            *(int64_t *)e->data = 3;
        } else if (c == 3) {
            e = tnew(LG_I32, SHP(1, 1));
            *(int32_t *)e->data = 2;
        } else {
            e = scalar_f((float)ev);
        }
        kt_in(k, "x", x);
        kt_const(k, "e", e);
        kt_node(k, "pow", "Pow", 2, NAMES("x", "e"), 1, NAMES("y"), NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        ck_assert_int_eq(kt_val(k, "y")->dtype, LG_F32);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int i = 0; i < 132; i++)
            close_to(((float *)y->data)[i],
                     pow(((float *)x->data)[i], ev), 1e-6, 0, "pow", i);
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

/* The SE-block and bias cases on realistic sizes through the pool, and
 * an output that aliases an input (in place). */
START_TEST(binary_big_and_inplace)
{
    run_binary("Mul", LG_F32, SHP(4, 1, 64, 112, 112), SHP(4, 1, 64, 1, 1),
               -2, 2, 0);
    run_binary("Add", LG_F32, SHP(2, 1000, 257), SHP(1, 257), -2, 2, 0);
    run_binary("Add", LG_F32, SHP(4, 1, 64, 112, 112),
               SHP(4, 1, 64, 112, 112), -2, 2, 0);
    {
        const lg_kernel *kk = find_kernel("Mul");
        kt *k = kt_new(13);
        lg_tensor *a = trand(LG_F32, SHP(3, 7, 9, 11), -2, 2);
        lg_tensor *b = trand(LG_F32, SHP(3, 7, 1, 1), -2, 2);
        lg_tensor *ref = trand(LG_F32, SHP(3, 7, 9, 11), -2, 2);
        lg_tensor *in[2], *out[1];
        lg_kctx ctx = {g_pool, NULL, k->err, sizeof k->err};
        memcpy(ref->data, a->data, a->nbytes);
        lg_tensor_ref(a);
        lg_tensor_ref(b);
        kt_in(k, "a", a);
        kt_in(k, "b", b);
        kt_node(k, "mul", "Mul", 2, NAMES("a", "b"), 1, NAMES("y"), NULL);
        ck_assert_int_eq(kt_infer(k), 0);
        in[0] = a;
        in[1] = b;
        out[0] = a;
        ck_assert_int_eq(kk->run(k->g, &k->g->nodes[0], in, out, &ctx), 0);
        for (int64_t i = 0; i < 693; i++)
            ck_assert_float_eq(((float *)a->data)[i],
                               ((float *)ref->data)[i] *
                               ((float *)b->data)[i / 99]);
        lg_tensor_unref(a);
        lg_tensor_unref(b);
        lg_tensor_unref(ref);
        kt_free(k);
    }
}
END_TEST

START_TEST(variadic)
{
    static const char *const ops[] = {"Sum", "Mean", "Max", "Min"};
    for (int o = 0; o < 4; o++)
        for (int nin = 1; nin <= 4; nin++) {
            kt *k = kt_new(13);
            lg_shape sh[4] = {SHP(3, 2, 1, 5), SHP(2, 3, 1), SHP(1, 5),
                              SHP(3, 2, 3, 5)};
            lg_tensor *x[4], *y;
            const char *names[4] = {"a", "b", "c", "d"};
            lg_shape want = sh[0];
            for (int i = 0; i < nin; i++) {
                x[i] = trand(LG_F32, sh[i], -3, 3);
                lg_tensor_ref(x[i]);
                kt_in(k, names[i], x[i]);
                if (i)
                    lg_broadcast(NULL, &want, &sh[i], &want, NULL, 0);
            }
            kt_node(k, "v", ops[o], nin, names, 1, NAMES("y"), NULL);
            ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
            ck_assert(lg_shape_eq(&kt_val(k, "y")->shape, &want));
            ck_assert_int_eq(kt_run(k), 0);
            y = kt_get(k, "y");
            for (int64_t e = 0; e < lg_tensor_numel(y); e++) {
                double acc = getd(x[0], bc_off(&sh[0], &want, e));
                for (int i = 1; i < nin; i++) {
                    double v = getd(x[i], bc_off(&sh[i], &want, e));
                    acc = o < 2 ? acc + v : o == 2 ? fmax(acc, v)
                                                   : fmin(acc, v);
                }
                if (o == 1)
                    acc /= nin;
                close_to(getd(y, e), acc, 1e-6, 1e-7, ops[o], e);
            }
            for (int i = 0; i < nin; i++)
                lg_tensor_unref(x[i]);
            kt_free(k);
        }
}
END_TEST

START_TEST(where_broadcast)
{
    for (int t = 0; t < 3; t++) {
        enum lg_dtype dt = t == 0 ? LG_F32 : t == 1 ? LG_I64 : LG_BOOL;
        kt *k = kt_new(13);
        lg_shape sc = SHP(3, 1, 4, 1), sx = SHP(3, 3, 1, 5), sy = SHP(1, 5);
        lg_shape want = SHP(3, 3, 4, 5);
        lg_tensor *c = trand(LG_BOOL, sc, -1, 1), *x = trand(dt, sx, -9, 9);
        lg_tensor *yv = trand(dt, sy, -9, 9), *o;
        lg_tensor_ref(c);
        lg_tensor_ref(x);
        lg_tensor_ref(yv);
        kt_in(k, "c", c);
        kt_in(k, "x", x);
        kt_in(k, "y", yv);
        kt_node(k, "w", "Where", 3, NAMES("c", "x", "y"), 1, NAMES("o"),
                NULL);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        ck_assert(lg_shape_eq(&kt_val(k, "o")->shape, &want));
        ck_assert_int_eq(kt_val(k, "o")->dtype, dt);
        ck_assert_int_eq(kt_run(k), 0);
        o = kt_get(k, "o");
        for (int64_t i = 0; i < 60; i++) {
            int cv = ((uint8_t *)c->data)[bc_off(&sc, &want, i)];
            double r = cv ? getd(x, bc_off(&sx, &want, i))
                          : getd(yv, bc_off(&sy, &want, i));
            ck_assert(getd(o, i) == r);
        }
        lg_tensor_unref(c);
        lg_tensor_unref(x);
        lg_tensor_unref(yv);
        kt_free(k);
    }
}
END_TEST

START_TEST(clip_opsets)
{
    for (int c = 0; c < 5; c++) {
        kt *k = kt_new(c == 3 ? 6 : 13);
        attrs A = {0};
        lg_tensor *x = trand(c == 4 ? LG_I64 : LG_F32, SHP(2, 5, 7), -10, 10);
        lg_tensor *y;
        double lo = -INFINITY, hi = INFINITY;
        lg_tensor_ref(x);
        kt_in(k, "x", x);
        if (c == 0) {           /* ReLU6 */
            kt_const(k, "lo", scalar_f(0));
            kt_const(k, "hi", scalar_f(6));
            kt_node(k, "clip", "Clip", 3, NAMES("x", "lo", "hi"), 1,
                    NAMES("y"), NULL);
            lo = 0, hi = 6;
        } else if (c == 1) {    /* max absent */
            kt_const(k, "lo", scalar_f(-1));
            kt_node(k, "clip", "Clip", 3, NAMES("x", "lo", ""), 1,
                    NAMES("y"), NULL);
            lo = -1;
        } else if (c == 2) {    /* min absent, max > min inverted */
            kt_const(k, "hi", scalar_f(2.5f));
            kt_node(k, "clip", "Clip", 3, NAMES("x", "", "hi"), 1,
                    NAMES("y"), NULL);
            hi = 2.5;
        } else if (c == 3) {    /* opset 6 attributes */
            at_float(&A, "min", -2.f);
            at_float(&A, "max", 3.f);
            kt_node(k, "clip", "Clip", 1, NAMES("x"), 1, NAMES("y"), &A);
            lo = -2, hi = 3;
        } else {
            lg_tensor *l = tnew(LG_I64, SHP0()), *h = tnew(LG_I64, SHP0());
            *(int64_t *)l->data = -3;
            *(int64_t *)h->data = 4;
            kt_const(k, "lo", l);
            kt_const(k, "hi", h);
            kt_node(k, "clip", "Clip", 3, NAMES("x", "lo", "hi"), 1,
                    NAMES("y"), NULL);
            lo = -3, hi = 4;
        }
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int i = 0; i < 35; i++)
            ck_assert(getd(y, i) == fmin(fmax(getd(x, i), lo), hi));
        lg_tensor_unref(x);
        kt_free(k);
    }
}
END_TEST

START_TEST(prelu)
{
    kt *k = kt_new(13);
    lg_shape sx = SHP(4, 2, 3, 4, 5), ss = SHP(3, 3, 1, 1);
    lg_tensor *x = trand(LG_F32, sx, -3, 3), *s = trand(LG_F32, ss, 0, 1);
    lg_tensor *y;
    lg_tensor_ref(x);
    lg_tensor_ref(s);
    kt_in(k, "x", x);
    kt_const(k, "s", s);
    kt_node(k, "prelu", "PRelu", 2, NAMES("x", "s"), 1, NAMES("y"), NULL);
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    ck_assert_int_eq(kt_run(k), 0);
    y = kt_get(k, "y");
    for (int64_t i = 0; i < 120; i++) {
        double xv = getd(x, i), sv = getd(s, bc_off(&ss, &sx, i));
        ck_assert(getd(y, i) == (double)(float)(xv < 0 ? xv * sv : xv));
    }
    lg_tensor_unref(x);
    lg_tensor_unref(s);
    kt_free(k);

    /* the slope must broadcast to X, not the other way */
    k = kt_new(13);
    kt_in(k, "x", trand(LG_F32, SHP(2, 3, 1), -1, 1));
    kt_in(k, "s", trand(LG_F32, SHP(2, 3, 4), -1, 1));
    kt_node(k, "bad_prelu", "PRelu", 2, NAMES("x", "s"), 1, NAMES("y"),
            NULL);
    expect_fail(k, LG_EMODEL, "bad_prelu");
    kt_free(k);
}
END_TEST

START_TEST(cast)
{
    float fv[8] = {1.7f, -1.7f, 0.f, -0.5f, 300.f, -129.f, NAN, 2.5e10f};
    static const enum lg_dtype to[] = {LG_I64, LG_I32, LG_BOOL, LG_U8, LG_I8,
                                       LG_F64, LG_F32};
    for (size_t c = 0; c < sizeof to / sizeof to[0]; c++) {
        kt *k = kt_new(13);
        attrs A = {0};
        lg_tensor *y;
        at_int(&A, "to", to[c]);
        kt_in(k, "x", tf32(SHP(1, 8), fv));
        kt_node(k, "cast", "Cast", 1, NAMES("x"), 1, NAMES("y"), &A);
        ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
        ck_assert_int_eq(kt_val(k, "y")->dtype, to[c]);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int i = 0; i < 6; i++) {   /* finite, in int64 range */
            double v = fv[i];
            int64_t tv = (int64_t)trunc(v);
            switch (to[c]) {
            case LG_I64: ck_assert_int_eq(getd(y, i), tv); break;
            case LG_I32: ck_assert_int_eq(getd(y, i), (int32_t)tv); break;
            case LG_BOOL: ck_assert_int_eq(getd(y, i), v != 0); break;
            case LG_U8: ck_assert_int_eq(getd(y, i), (uint8_t)tv); break;
            case LG_I8: ck_assert_int_eq(getd(y, i), (int8_t)tv); break;
            default: ck_assert(getd(y, i) == (double)fv[i]);
            }
        }
        if (to[c] == LG_I64)
            ck_assert_int_eq(((int64_t *)y->data)[6], 0);   /* NaN */
        if (to[c] == LG_BOOL)
            ck_assert_int_eq(((uint8_t *)y->data)[6], 1);
        kt_free(k);
    }
    /* int64 -> float32 / int32 (wraps) / bool, and bool -> float */
    {
        int64_t iv[4] = {-3, 5000000000LL, 0, 16777217};
        static const enum lg_dtype to2[] = {LG_F32, LG_I32, LG_BOOL};
        for (int c = 0; c < 3; c++) {
            kt *k = kt_new(13);
            attrs A = {0};
            lg_tensor *y;
            at_int(&A, "to", to2[c]);
            kt_in(k, "x", ti64(SHP(1, 4), iv));
            kt_node(k, "cast", "Cast", 1, NAMES("x"), 1, NAMES("y"), &A);
            ck_assert_int_eq(kt_infer(k), 0);
            ck_assert_int_eq(kt_run(k), 0);
            y = kt_get(k, "y");
            for (int i = 0; i < 4; i++) {
                if (c == 0)
                    ck_assert(((float *)y->data)[i] == (float)iv[i]);
                else if (c == 1)
                    ck_assert_int_eq(((int32_t *)y->data)[i],
                                     (int32_t)(uint32_t)iv[i]);
                else
                    ck_assert_int_eq(((uint8_t *)y->data)[i], iv[i] != 0);
            }
            kt_free(k);
        }
    }
    {
        kt *k = kt_new(15);
        lg_tensor *b = trand(LG_BOOL, SHP(2, 3, 3), -1, 1), *y;
        lg_tensor_ref(b);
        kt_in(k, "b", b);
        kt_in(k, "like", tnew(LG_F32, SHP(1, 1)));
        kt_node(k, "castlike", "CastLike", 2, NAMES("b", "like"), 1,
                NAMES("y"), NULL);
        ck_assert_int_eq(kt_infer(k), 0);
        ck_assert_int_eq(kt_val(k, "y")->dtype, LG_F32);
        ck_assert_int_eq(kt_run(k), 0);
        y = kt_get(k, "y");
        for (int i = 0; i < 9; i++)
            ck_assert(((float *)y->data)[i] == ((uint8_t *)b->data)[i]);
        lg_tensor_unref(b);
        kt_free(k);
    }
}
END_TEST

START_TEST(identity_dropout)
{
    kt *k = kt_new(13);
    lg_tensor *x = trand(LG_F32, SHP(3, 2, 3, 5), -1, 1);
    lg_tensor *ratio = scalar_f(0.1f), *tm = tnew(LG_BOOL, SHP0());
    lg_tensor_ref(x);
    kt_in(k, "x", x);
    kt_const(k, "r", ratio);
    kt_const(k, "t", tm);
    kt_node(k, "id", "Identity", 1, NAMES("x"), 1, NAMES("y"), NULL);
    kt_node(k, "drop", "Dropout", 3, NAMES("x", "r", "t"), 2,
            NAMES("z", "mask"), NULL);
    ck_assert_msg(kt_infer(k) == 0, "%s", k->err);
    ck_assert_int_eq(kt_val(k, "mask")->dtype, LG_BOOL);
    ck_assert_int_eq(kt_run(k), 0);
    ck_assert_mem_eq(kt_get(k, "y")->data, x->data, x->nbytes);
    ck_assert_mem_eq(kt_get(k, "z")->data, x->data, x->nbytes);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(((uint8_t *)kt_get(k, "mask")->data)[i], 1);
    lg_tensor_unref(x);
    kt_free(k);

    /* training mode is not inference */
    k = kt_new(13);
    tm = tnew(LG_BOOL, SHP0());
    *(uint8_t *)tm->data = 1;
    kt_in(k, "x", trand(LG_F32, SHP(1, 4), -1, 1));
    kt_const(k, "r", scalar_f(0.5f));
    kt_const(k, "t", tm);
    kt_node(k, "train_drop", "Dropout", 3, NAMES("x", "r", "t"), 1,
            NAMES("z"), NULL);
    expect_fail(k, LG_EUNSUP, "train_drop");
    kt_free(k);
}
END_TEST

START_TEST(bad_inputs)
{
    kt *k = kt_new(13);
    kt_in(k, "a", tnew(LG_F32, SHP(2, 2, 3)));
    kt_in(k, "b", tnew(LG_F32, SHP(1, 4)));
    kt_node(k, "bad_add", "Add", 2, NAMES("a", "b"), 1, NAMES("y"), NULL);
    expect_fail(k, LG_EMODEL, "bad_add");
    kt_free(k);

    k = kt_new(13);
    kt_in(k, "a", tnew(LG_F32, SHP(1, 4)));
    kt_in(k, "b", tnew(LG_I64, SHP(1, 4)));
    kt_node(k, "mixed_mul", "Mul", 2, NAMES("a", "b"), 1, NAMES("y"), NULL);
    expect_fail(k, LG_EMODEL, "mixed_mul");
    kt_free(k);

    k = kt_new(13);
    kt_in(k, "a", tnew(LG_U8, SHP(1, 4)));
    kt_in(k, "b", tnew(LG_U8, SHP(1, 4)));
    kt_node(k, "u8_add", "Add", 2, NAMES("a", "b"), 1, NAMES("y"), NULL);
    expect_fail(k, LG_EUNSUP, "u8_add");
    kt_free(k);

    k = kt_new(13);
    kt_in(k, "a", tnew(LG_I64, SHP(1, 4)));
    kt_node(k, "int_sigmoid", "Sigmoid", 1, NAMES("a"), 1, NAMES("y"), NULL);
    expect_fail(k, LG_EUNSUP, "int_sigmoid");
    kt_free(k);

    k = kt_new(13);
    kt_in(k, "c", tnew(LG_F32, SHP(1, 4)));
    kt_in(k, "x", tnew(LG_F32, SHP(1, 4)));
    kt_in(k, "y", tnew(LG_F32, SHP(1, 4)));
    kt_node(k, "float_cond", "Where", 3, NAMES("c", "x", "y"), 1,
            NAMES("o"), NULL);
    expect_fail(k, LG_EUNSUP, "float_cond");
    kt_free(k);

    k = kt_new(13);
    kt_in(k, "x", tnew(LG_F32, SHP(1, 4)));
    {
        attrs A = {0};
        at_int(&A, "to", 16);   /* bfloat16 */
        kt_node(k, "cast_bf16", "Cast", 1, NAMES("x"), 1, NAMES("y"), &A);
    }
    expect_fail(k, LG_EUNSUP, "cast_bf16");
    kt_free(k);

    k = kt_new(13);
    kt_in(k, "x", tnew(LG_F32, SHP(1, 4)));
    kt_in(k, "lo", tnew(LG_F32, SHP(1, 2)));
    kt_node(k, "clip_vec", "Clip", 2, NAMES("x", "lo"), 1, NAMES("y"), NULL);
    expect_fail(k, LG_EMODEL, "clip_vec");
    kt_free(k);
}
END_TEST

/* Every elementwise op definition has a kernel and vice versa. */
START_TEST(tables_match)
{
    for (const lg_opdef *d = lg_opdefs_elem; d->op; d++)
        ck_assert_msg(find_kernel(d->op) != NULL, "no kernel for %s", d->op);
    for (const lg_kernel *kk = lg_cpu_kernels_elem; kk->op; kk++)
        ck_assert_msg(lg_op_find("", kk->op) != NULL, "no opdef for %s",
                      kk->op);
}
END_TEST

static Suite *elem_suite(void)
{
    Suite *s = suite_create("kernels_elem");
    TCase *tc = tcase_create("elem");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tables_match);
    tcase_add_test(tc, unary_float_ops);
    tcase_add_test(tc, unary_attrs);
    tcase_add_test(tc, erf_gelu_graph);
    tcase_add_test(tc, unary_int_and_bool);
    tcase_add_test(tc, isnan_isinf);
    tcase_add_test(tc, binary_broadcast_f32);
    tcase_add_test(tc, binary_int);
    tcase_add_test(tc, int_no_traps);
    tcase_add_test(tc, pow_mixed);
    tcase_add_test(tc, binary_big_and_inplace);
    tcase_add_test(tc, variadic);
    tcase_add_test(tc, where_broadcast);
    tcase_add_test(tc, clip_opsets);
    tcase_add_test(tc, prelu);
    tcase_add_test(tc, cast);
    tcase_add_test(tc, identity_dropout);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(elem_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
