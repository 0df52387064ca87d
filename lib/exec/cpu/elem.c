/*
 * elem.c - CPU kernels for the elementwise ops of opdef_elem.c: unary math
 * and activations, broadcasting binary and variadic arithmetic,
 * comparisons, logic, Where, Clip, PRelu, Cast, Identity and Dropout.
 *
 * Owns lg_cpu_kernels_elem[]. Broadcasting goes through one walker
 * (bcast.c) that hands each kernel contiguous runs with operand
 * increments of 0 or 1, so the inner loops below are plain vectorizable
 * loops for same-shape, scalar, per-row and per-channel operands alike.
 * Big loops are split over ctx->pool in fixed ranges (bit-identical runs).
 *
 * Integer arithmetic never invokes undefined behaviour: it wraps like
 * two's complement, and division or modulo by zero yields 0 instead of
 * trapping, because folding runs these kernels on constants from
 * untrusted model files. Elementwise kernels work in place when the
 * output aliases a same-shape input.
 *
 * Threading: called by one executor thread at a time; uses ctx->pool.
 */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 does not vectorize loops of unknown trip count; these loops
 * are the whole point of this file. (clang vectorizes at -O2.) Neither
 * errno nor FP exception flags are ever read here, so dropping them lets
 * selects and sqrt vectorize; results are unchanged (no reassociation,
 * no finite-math assumptions). No FMA contraction, so that the AVX2
 * clones (LG_CLONES, bcast.h) round exactly like the baseline code. */
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", \
                     "no-math-errno", "no-trapping-math", "fp-contract=off")
#endif

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bcast.h"
#include "kernel.h"
#include "lgerr.h"

#define GRAIN 16384             /* elements per thread, cheap ops */
#define GRAIN_MATH 2048         /* elements per thread, libm calls */

static int no_kernel(const lg_node *n, const lg_tensor *t, lg_kctx *ctx)
{
    return lg_errf(ctx->err, ctx->errlen, LG_EUNSUP,
                   "%s '%s': no CPU kernel for %s", n->op, n->name,
                   lg_dtype_name(t->dtype));
}

static int64_t numel(const lg_tensor *t)
{
    return lg_tensor_numel(t);
}

/* ------------------------------------------------------------ unary */

typedef struct uparam {
    float a, b;                 /* op attributes (alpha, beta, ...) */
} uparam;

typedef void (*ufn)(const void *x, void *y, int64_t n, const uparam *p);

/* EXPR maps v to y; attributes are copied to locals a and b first, as
 * a store to y could otherwise alias them and stop vectorization. */
#define UF(NAME, EXPR)                                                    \
    LG_CLONES                                                             \
    static void NAME(const void *px, void *py, int64_t n, const uparam *p) \
    {                                                                     \
        const float *x = px;                                              \
        float *y = py;                                                    \
        const float a = p->a, b = p->b;                                   \
        (void)a;                                                          \
        (void)b;                                                          \
        for (int64_t i = 0; i < n; i++) {                                 \
            float v = x[i];                                               \
            y[i] = (EXPR);                                                \
        }                                                                 \
    }

static inline float clamp01(float t)
{
    t = t < 0.f ? 0.f : t;
    return t > 1.f ? 1.f : t;
}

/* e^x for the logistic function, branch-free so that the loop around it
 * vectorizes (libm's expf is a call per element): Cephes' expf reduction
 * and polynomial, relative error below 2 ulp. The input is clamped to
 * [-87.3, 88.3], where 2^n stays a normal float; the logistic function
 * is saturated well before either bound. NaN stays NaN. */
static inline float logistic_expf(float x)
{
    const float M = 12582912.f;         /* 1.5 * 2^23: rounds to integer */
    float t, n, r, z, q, s;
    uint32_t tb, sb;
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    t = x * 1.44269504088896341f + M;
    n = t - M;                          /* round(x / ln 2) */
    memcpy(&tb, &t, sizeof tb);
    r = x - n * 0.693359375f;           /* Cody-Waite: ln 2 in two parts */
    r = r - n * -2.12194440e-4f;
    z = r * r;
    q = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r +
           8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
         1.6666665459e-1f) * r + 5.0000001201e-1f;
    q = q * z + r + 1.f;
    sb = (tb - 0x4B400000u + 127u) << 23;   /* 2^n, n from t's mantissa */
    memcpy(&s, &sb, sizeof s);
    return q * s;
}

static inline float softplus(float v)
{
    /* log(1 + e^v) without overflow for large v */
    return v > 0.f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

UF(u_relu, v < 0.f ? 0.f : v)
UF(u_sigmoid, 1.f / (1.f + logistic_expf(-v)))
UF(u_tanh, tanhf(v))
UF(u_erf, erff(v))
UF(u_exp, expf(v))
UF(u_log, logf(v))
UF(u_sqrt, sqrtf(v))
UF(u_recip, 1.f / v)
UF(u_neg, -v)
UF(u_abs, fabsf(v))
UF(u_floor, floorf(v))
UF(u_ceil, ceilf(v))
UF(u_round, nearbyintf(v))      /* half to even, as ONNX says */
UF(u_sin, sinf(v))
UF(u_cos, cosf(v))
UF(u_tan, tanf(v))
UF(u_asin, asinf(v))
UF(u_acos, acosf(v))
UF(u_atan, atanf(v))
UF(u_sinh, sinhf(v))
UF(u_cosh, coshf(v))
UF(u_asinh, asinhf(v))
UF(u_acosh, acoshf(v))
UF(u_atanh, atanhf(v))
UF(u_softplus, softplus(v))
UF(u_softsign, v / (1.f + fabsf(v)))
UF(u_hardsigmoid, clamp01(a * v + b))
UF(u_hardswish, v * clamp01(v * (1.f / 6.f) + 0.5f))
UF(u_leakyrelu, v < 0.f ? a * v : v)
UF(u_elu, v < 0.f ? a * expm1f(v) : v)
UF(u_selu, v <= 0.f ? b * (a * expm1f(v)) : b * v)
UF(u_celu, v < 0.f ? a * expm1f(v / a) : v)
UF(u_gelu, 0.5f * v * (1.f + erff(v * 0.70710678118654752440f)))
UF(u_gelu_tanh, 0.5f * v * (1.f + tanhf(0.7978845608028654f *
                                        (v + 0.044715f * v * v * v))))
UF(u_mish, v * tanhf(softplus(v)))
UF(u_thresholdedrelu, v > a ? v : 0.f)
UF(u_shrink, v < -b ? v + a : (v > b ? v - a : 0.f))
UF(u_sign, v > 0.f ? 1.f : (v < 0.f ? -1.f : v))

/* Integer variants; negation through unsigned so INT_MIN wraps. */
#define UI(NAME, T, UT, EXPR)                                             \
    LG_CLONES                                                             \
    static void NAME(const void *px, void *py, int64_t n, const uparam *p) \
    {                                                                     \
        const T *x = px;                                                  \
        T *y = py;                                                        \
        (void)p;                                                          \
        for (int64_t i = 0; i < n; i++) {                                 \
            T v = x[i];                                                   \
            y[i] = (EXPR);                                                \
        }                                                                 \
    }
UI(u_relu_l, int64_t, uint64_t, v < 0 ? 0 : v)
UI(u_neg_l, int64_t, uint64_t, (int64_t)(0 - (uint64_t)v))
UI(u_abs_l, int64_t, uint64_t, v < 0 ? (int64_t)(0 - (uint64_t)v) : v)
UI(u_sign_l, int64_t, uint64_t, (int64_t)((v > 0) - (v < 0)))
UI(u_relu_i, int32_t, uint32_t, v < 0 ? 0 : v)
UI(u_neg_i, int32_t, uint32_t, (int32_t)(0 - (uint32_t)v))
UI(u_abs_i, int32_t, uint32_t, v < 0 ? (int32_t)(0 - (uint32_t)v) : v)
UI(u_sign_i, int32_t, uint32_t, (int32_t)((v > 0) - (v < 0)))
UI(u_neg_d, double, double, -v)
UI(u_abs_d, double, double, fabs(v))

static void u_not(const void *px, void *py, int64_t n, const uparam *p)
{
    const uint8_t *x = px;
    uint8_t *y = py;
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = !x[i];
}

static void u_isnan(const void *px, void *py, int64_t n, const uparam *p)
{
    const float *x = px;
    uint8_t *y = py;
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] != x[i];
}

static void u_isinf(const void *px, void *py, int64_t n, const uparam *p)
{
    const float *x = px;
    uint8_t *y = py;
    int neg = p->a != 0.f, pos = p->b != 0.f;
    for (int64_t i = 0; i < n; i++)
        y[i] = (pos && x[i] == INFINITY) || (neg && x[i] == -INFINITY);
}

typedef struct uop {
    const char *op;
    ufn f32, f64, i64, i32;     /* per input type; bool ops use f32 slot */
    int heavy;                  /* calls libm: smaller grain */
    const char *pa;             /* attribute read into p.a, or NULL */
    float da;                   /* its default */
    const char *pb;
    float db;
} uop;

static const uop uops[] = {
    {"Relu", u_relu, NULL, u_relu_l, u_relu_i, 0, NULL, 0, NULL, 0},
    {"Sigmoid", u_sigmoid, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"Tanh", u_tanh, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Erf", u_erf, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Exp", u_exp, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Log", u_log, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Sqrt", u_sqrt, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"Reciprocal", u_recip, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"Neg", u_neg, u_neg_d, u_neg_l, u_neg_i, 0, NULL, 0, NULL, 0},
    {"Abs", u_abs, u_abs_d, u_abs_l, u_abs_i, 0, NULL, 0, NULL, 0},
    {"Floor", u_floor, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"Ceil", u_ceil, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"Round", u_round, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"Sin", u_sin, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Cos", u_cos, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Tan", u_tan, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Asin", u_asin, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Acos", u_acos, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Atan", u_atan, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Sinh", u_sinh, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Cosh", u_cosh, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Asinh", u_asinh, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Acosh", u_acosh, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Atanh", u_atanh, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Softplus", u_softplus, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Softsign", u_softsign, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"HardSigmoid", u_hardsigmoid, NULL, NULL, NULL, 0, "alpha", 0.2f,
     "beta", 0.5f},
    {"HardSwish", u_hardswish, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"LeakyRelu", u_leakyrelu, NULL, NULL, NULL, 0, "alpha", 0.01f, NULL, 0},
    {"Elu", u_elu, NULL, NULL, NULL, 1, "alpha", 1.f, NULL, 0},
    {"Selu", u_selu, NULL, NULL, NULL, 1, "alpha", 1.67326319217681884765625f,
     "gamma", 1.05070102214813232421875f},
    {"Celu", u_celu, NULL, NULL, NULL, 1, "alpha", 1.f, NULL, 0},
    {"Gelu", u_gelu, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"Mish", u_mish, NULL, NULL, NULL, 1, NULL, 0, NULL, 0},
    {"ThresholdedRelu", u_thresholdedrelu, NULL, NULL, NULL, 0, "alpha", 1.f,
     NULL, 0},
    {"Shrink", u_shrink, NULL, NULL, NULL, 0, "bias", 0.f, "lambd", 0.5f},
    {"Sign", u_sign, NULL, u_sign_l, u_sign_i, 0, NULL, 0, NULL, 0},
    {"Not", u_not, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"IsNaN", u_isnan, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
    {"IsInf", u_isinf, NULL, NULL, NULL, 0, "detect_negative", 1.f,
     "detect_positive", 1.f},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, NULL, 0},
};

typedef struct ujob {
    ufn f;
    const char *x;
    char *y;
    size_t ex, ey;              /* element sizes of x and y */
    uparam p;
} ujob;

static void unary_task(void *arg, int64_t b, int64_t e)
{
    const ujob *j = arg;
    j->f(j->x + (size_t)b * j->ex, j->y + (size_t)b * j->ey, e - b, &j->p);
}

static int k_unary(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    const uop *u = uops;
    ujob j;
    (void)g;
    while (u->op && strcmp(u->op, n->op) != 0)
        u++;
    memset(&j, 0, sizeof j);
    switch (in[0]->dtype) {
    case LG_F32: case LG_BOOL: j.f = u->f32; break;
    case LG_F64: j.f = u->f64; break;
    case LG_I64: j.f = u->i64; break;
    case LG_I32: j.f = u->i32; break;
    default: break;
    }
    /* by name: the address of a cloned function (LG_CLONES) is not a
     * reliable thing to compare */
    if (!u->op || !j.f ||
        (in[0]->dtype == LG_BOOL) != (strcmp(u->op, "Not") == 0))
        return no_kernel(n, in[0], ctx);
    if (strcmp(u->op, "Gelu") == 0 &&
        strcmp(lg_attr_str(n, "approximate", "none"), "tanh") == 0)
        j.f = u_gelu_tanh;
    if (u->pa)
        j.p.a = lg_attr_float(n, u->pa, u->da);
    if (u->pb)
        j.p.b = lg_attr_float(n, u->pb, u->db);
    j.x = in[0]->data;
    j.y = out[0]->data;
    j.ex = lg_dtype_size(in[0]->dtype);
    j.ey = lg_dtype_size(out[0]->dtype);
    lg_pool_run(ctx->pool, numel(out[0]), u->heavy ? GRAIN_MATH : GRAIN,
                unary_task, &j);
    return 0;
}

/* ------------------------------------------------------------ binary */

/* a has increment sa, b has sb (each 0 or 1); y is contiguous. */
typedef void (*bfn)(const void *a, int64_t sa, const void *b, int64_t sb,
                    void *y, int64_t n);

/* The four increment patterns get their own loops so that each one
 * vectorizes; x is the left operand, z the right one. */
#define BF(NAME, TA, TB, TY, EXPR)                                        \
    LG_CLONES                                                             \
    static void NAME(const void *pa, int64_t sa, const void *pb,          \
                     int64_t sb, void *py, int64_t n)                     \
    {                                                                     \
        const TA *a = pa;                                                 \
        const TB *b = pb;                                                 \
        TY *y = py;                                                       \
        if (sa && sb) {                                                   \
            for (int64_t i = 0; i < n; i++) {                             \
                TA x = a[i];                                              \
                TB z = b[i];                                              \
                (void)x; (void)z;                                         \
                y[i] = (EXPR);                                            \
            }                                                             \
        } else if (sa) {                                                  \
            TB z = b[0];                                                  \
            (void)z;                                                      \
            for (int64_t i = 0; i < n; i++) {                             \
                TA x = a[i];                                              \
                y[i] = (EXPR);                                            \
            }                                                             \
        } else if (sb) {                                                  \
            TA x = a[0];                                                  \
            (void)x;                                                      \
            for (int64_t i = 0; i < n; i++) {                             \
                TB z = b[i];                                              \
                (void)z;                                                  \
                y[i] = (EXPR);                                            \
            }                                                             \
        } else {                                                          \
            TA x = a[0];                                                  \
            TB z = b[0];                                                  \
            TY v;                                                         \
            (void)x; (void)z;                                             \
            v = (EXPR);                                                \
            for (int64_t i = 0; i < n; i++)                               \
                y[i] = v;                                                 \
        }                                                                 \
    }

/* Wrapping integer arithmetic and trap-free division. */
#define IARITH(T, UT, MIN, SUF)                                           \
    static inline T add_##SUF(T x, T z) { return (T)((UT)x + (UT)z); }     \
    static inline T sub_##SUF(T x, T z) { return (T)((UT)x - (UT)z); }     \
    static inline T mul_##SUF(T x, T z) { return (T)((UT)x * (UT)z); }     \
    static inline T div_##SUF(T x, T z)                                   \
    {                                                                     \
        if (z == 0)                                                       \
            return 0;                                                     \
        if (z == -1)                                                      \
            return (T)(0 - (UT)x);                                        \
        return x / z;                                                     \
    }                                                                     \
    static inline T fmod_##SUF(T x, T z)                                  \
    {                                                                     \
        return (z == 0 || z == -1) ? 0 : x % z;                           \
    }                                                                     \
    static inline T pmod_##SUF(T x, T z)                                  \
    {                                                                     \
        T r = fmod_##SUF(x, z);                                           \
        return (r != 0 && ((r < 0) != (z < 0))) ? (T)(r + z) : r;         \
    }                                                                     \
    static inline T pow_##SUF(T x, T z)                                   \
    {                                                                     \
        UT r = 1, b = (UT)x;                                              \
        if (z < 0)                                                        \
            return x == 1 ? 1 : (x == -1 ? ((z & 1) ? -1 : 1) : 0);      \
        for (; z; z >>= 1, b *= b)                                        \
            if (z & 1)                                                    \
                r *= b;                                                   \
        return (T)r;                                                      \
    }
IARITH(int64_t, uint64_t, INT64_MIN, l)
IARITH(int32_t, uint32_t, INT32_MIN, i)

static inline float pmodf(float x, float z)
{
    float r = fmodf(x, z);
    return (r != 0.f && ((r < 0.f) != (z < 0.f))) ? r + z : r;
}

static inline double pmod(double x, double z)
{
    double r = fmod(x, z);
    return (r != 0. && ((r < 0.) != (z < 0.))) ? r + z : r;
}

/* Max/Min propagate NaN from either side, as torch does. */
#define FMAX(x, z) (((x) >= (z) || (x) != (x)) ? (x) : (z))
#define FMIN(x, z) (((x) <= (z) || (x) != (x)) ? (x) : (z))

/* One loop per (op, type). */
#define BF_FLOAT(OP, EXPR)                                                \
    BF(OP##_f, float, float, float, EXPR)                                 \
    BF(OP##_d, double, double, double, EXPR)
#define BF_INT(OP, EXPR_L, EXPR_I)                                        \
    BF(OP##_l, int64_t, int64_t, int64_t, EXPR_L)                         \
    BF(OP##_i, int32_t, int32_t, int32_t, EXPR_I)
#define BF_CMP(OP, EXPR)                                                  \
    BF(OP##_f, float, float, uint8_t, EXPR)                               \
    BF(OP##_d, double, double, uint8_t, EXPR)                             \
    BF(OP##_l, int64_t, int64_t, uint8_t, EXPR)                           \
    BF(OP##_i, int32_t, int32_t, uint8_t, EXPR)

BF_FLOAT(b_add, x + z)
BF_INT(b_add, add_l(x, z), add_i(x, z))
BF_FLOAT(b_sub, x - z)
BF_INT(b_sub, sub_l(x, z), sub_i(x, z))
BF_FLOAT(b_mul, x * z)
BF_INT(b_mul, mul_l(x, z), mul_i(x, z))
BF_FLOAT(b_div, x / z)
BF_INT(b_div, div_l(x, z), div_i(x, z))
BF(b_fmod_f, float, float, float, fmodf(x, z))
BF(b_fmod_d, double, double, double, fmod(x, z))
BF_INT(b_fmod, fmod_l(x, z), fmod_i(x, z))
BF(b_mod_f, float, float, float, pmodf(x, z))
BF(b_mod_d, double, double, double, pmod(x, z))
BF_INT(b_mod, pmod_l(x, z), pmod_i(x, z))
BF_FLOAT(b_max, FMAX(x, z))
BF_INT(b_max, x > z ? x : z, x > z ? x : z)
BF_FLOAT(b_min, FMIN(x, z))
BF_INT(b_min, x < z ? x : z, x < z ? x : z)
BF_CMP(b_eq, x == z)
BF(b_eq_b, uint8_t, uint8_t, uint8_t, (x != 0) == (z != 0))
BF_CMP(b_lt, x < z)
BF_CMP(b_gt, x > z)
BF_CMP(b_le, x <= z)
BF_CMP(b_ge, x >= z)
BF(b_and_b, uint8_t, uint8_t, uint8_t, (x != 0) & (z != 0))
BF(b_or_b, uint8_t, uint8_t, uint8_t, (x != 0) | (z != 0))
BF(b_xor_b, uint8_t, uint8_t, uint8_t, (x != 0) ^ (z != 0))
BF(b_prelu_f, float, float, float, x < 0.f ? x * z : x)
BF(b_pow_ff, float, float, float, powf(x, z))
BF(b_pow_fd, float, double, float, (float)pow((double)x, z))
BF(b_pow_fl, float, int64_t, float, powf(x, (float)z))
BF(b_pow_fi, float, int32_t, float, powf(x, (float)z))
BF(b_pow_dd, double, double, double, pow(x, z))
BF(b_pow_l, int64_t, int64_t, int64_t, pow_l(x, z))
BF(b_pow_i, int32_t, int32_t, int32_t, pow_i(x, z))
BF(b_sq_f, float, float, float, x * x)
BF(b_sqrt_f, float, float, float, sqrtf(x))

typedef struct bop {
    const char *op;
    bfn f, d, l, i, b;          /* float32, float64, int64, int32, bool */
} bop;

static const bop bops[] = {
    {"Add", b_add_f, b_add_d, b_add_l, b_add_i, NULL},
    {"Sum", b_add_f, b_add_d, b_add_l, b_add_i, NULL},
    {"Mean", b_add_f, b_add_d, NULL, NULL, NULL},
    {"Sub", b_sub_f, b_sub_d, b_sub_l, b_sub_i, NULL},
    {"Mul", b_mul_f, b_mul_d, b_mul_l, b_mul_i, NULL},
    {"Div", b_div_f, b_div_d, b_div_l, b_div_i, NULL},
    {"Mod", b_mod_f, b_mod_d, b_mod_l, b_mod_i, NULL},
    {"Mod.fmod", b_fmod_f, b_fmod_d, b_fmod_l, b_fmod_i, NULL},
    {"Max", b_max_f, b_max_d, b_max_l, b_max_i, NULL},
    {"Min", b_min_f, b_min_d, b_min_l, b_min_i, NULL},
    {"Equal", b_eq_f, b_eq_d, b_eq_l, b_eq_i, b_eq_b},
    {"Less", b_lt_f, b_lt_d, b_lt_l, b_lt_i, NULL},
    {"Greater", b_gt_f, b_gt_d, b_gt_l, b_gt_i, NULL},
    {"LessOrEqual", b_le_f, b_le_d, b_le_l, b_le_i, NULL},
    {"GreaterOrEqual", b_ge_f, b_ge_d, b_ge_l, b_ge_i, NULL},
    {"And", NULL, NULL, NULL, NULL, b_and_b},
    {"Or", NULL, NULL, NULL, NULL, b_or_b},
    {"Xor", NULL, NULL, NULL, NULL, b_xor_b},
    {"PRelu", b_prelu_f, NULL, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static bfn bop_fn(const char *op, enum lg_dtype t)
{
    for (const bop *b = bops; b->op; b++)
        if (strcmp(b->op, op) == 0)
            switch (t) {
            case LG_F32: return b->f;
            case LG_F64: return b->d;
            case LG_I64: return b->l;
            case LG_I32: return b->i;
            case LG_BOOL: return b->b;
            default: return NULL;
            }
    return NULL;
}

typedef struct bjob {
    lg_bcast plan;
    bfn f;
    const char *a, *b;
    char *y;
    size_t ea, eb, ey;
} bjob;

static void binary_row(void *arg, int64_t o, const int64_t *off,
                       const int64_t *inc, int64_t n)
{
    const bjob *j = arg;
    j->f(j->a + (size_t)off[0] * j->ea, inc[0], j->b + (size_t)off[1] * j->eb,
         inc[1], j->y + (size_t)o * j->ey, n);
}

static void binary_task(void *arg, int64_t b, int64_t e)
{
    lg_bcast_walk(&((const bjob *)arg)->plan, b, e, binary_row, arg);
}

/* y = f(a, b) with a and b broadcast to y's shape. */
static int run_binary(lg_pool *pool, bfn f, const lg_tensor *a,
                      const lg_tensor *b, lg_tensor *y, int64_t grain)
{
    bjob j;
    const lg_shape *sh[2] = {&a->shape, &b->shape};
    if (lg_bcast_plan(&j.plan, &y->shape, 2, sh) < 0)
        return -EINVAL;
    j.f = f;
    j.a = a->data;
    j.b = b->data;
    j.y = y->data;
    j.ea = lg_dtype_size(a->dtype);
    j.eb = lg_dtype_size(b->dtype);
    j.ey = lg_dtype_size(y->dtype);
    lg_pool_run(pool, j.plan.numel, grain, binary_task, &j);
    return 0;
}

static int bad_shapes(const lg_node *n, lg_kctx *ctx)
{
    return lg_errf(ctx->err, ctx->errlen, LG_EMODEL,
                   "%s '%s': input shapes do not broadcast to the output",
                   n->op, n->name);
}

static int k_binary(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                    lg_tensor *const *out, lg_kctx *ctx)
{
    const char *op = n->op;
    bfn f;
    (void)g;
    if (strcmp(op, "Mod") == 0 && lg_attr_int(n, "fmod", 0))
        op = "Mod.fmod";
    f = bop_fn(op, in[0]->dtype);
    if (!f || in[1]->dtype != in[0]->dtype)
        return no_kernel(n, in[0], ctx);
    if (run_binary(ctx->pool, f, in[0], in[1], out[0], GRAIN) < 0)
        return bad_shapes(n, ctx);
    return 0;
}

static int k_pow(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                 lg_tensor *const *out, lg_kctx *ctx)
{
    enum lg_dtype ta = in[0]->dtype, tb = in[1]->dtype;
    bfn f = NULL;
    int64_t grain = GRAIN_MATH;
    (void)g;
    if (ta == LG_F32) {
        switch (tb) {
        case LG_F32: f = b_pow_ff; break;
        case LG_F64: f = b_pow_fd; break;
        case LG_I64: f = b_pow_fl; break;
        case LG_I32: f = b_pow_fi; break;
        default: break;
        }
        /* x^2 (written-out LayerNorm) and x^0.5 as torch computes them */
        if (lg_tensor_numel(in[1]) == 1) {
            double e = tb == LG_F32 ? ((const float *)in[1]->data)[0]
                     : tb == LG_F64 ? ((const double *)in[1]->data)[0]
                     : (double)lg_tensor_geti(in[1], 0);
            if (e == 2.0 || e == 0.5) {
                lg_tensor t = *in[0];   /* b is ignored by these loops */
                grain = GRAIN;
                if (run_binary(ctx->pool, e == 2.0 ? b_sq_f : b_sqrt_f,
                               in[0], &t, out[0], grain) < 0)
                    return bad_shapes(n, ctx);
                return 0;
            }
        }
    } else if (ta == tb) {
        f = ta == LG_F64 ? b_pow_dd : ta == LG_I64 ? b_pow_l
          : ta == LG_I32 ? b_pow_i : NULL;
    }
    if (!f)
        return no_kernel(n, in[1], ctx);
    if (run_binary(ctx->pool, f, in[0], in[1], out[0], grain) < 0)
        return bad_shapes(n, ctx);
    return 0;
}

/* Mean's final division by the input count. */
typedef struct scale_job {
    void *y;
    enum lg_dtype t;
    double k;
} scale_job;

static void scale_task(void *arg, int64_t b, int64_t e)
{
    const scale_job *j = arg;
    if (j->t == LG_F32) {
        float *y = j->y, k = (float)j->k;
        for (int64_t i = b; i < e; i++)
            y[i] /= k;
    } else {
        double *y = j->y;
        for (int64_t i = b; i < e; i++)
            y[i] /= j->k;
    }
}

/* Sum, Mean, Max, Min: a fold of binary steps into the output, which has
 * the full broadcast shape from the first step on. */
static int k_variadic(const lg_graph *g, const lg_node *n,
                      lg_tensor *const *in, lg_tensor *const *out,
                      lg_kctx *ctx)
{
    bfn f = bop_fn(n->op, in[0]->dtype);
    (void)g;
    for (int i = 0; i < n->n_in; i++)
        if (!in[i] || in[i]->dtype != in[0]->dtype)
            return no_kernel(n, in[i] ? in[i] : in[0], ctx);
    if (!f)
        return no_kernel(n, in[0], ctx);
    if (n->n_in == 1) {
        if (!lg_shape_eq(&in[0]->shape, &out[0]->shape))
            return bad_shapes(n, ctx);
        memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
        return 0;
    }
    if (run_binary(ctx->pool, f, in[0], in[1], out[0], GRAIN) < 0)
        return bad_shapes(n, ctx);
    for (int i = 2; i < n->n_in; i++)
        if (run_binary(ctx->pool, f, out[0], in[i], out[0], GRAIN) < 0)
            return bad_shapes(n, ctx);
    if (strcmp(n->op, "Mean") == 0) {
        scale_job j = {out[0]->data, out[0]->dtype, (double)n->n_in};
        lg_pool_run(ctx->pool, numel(out[0]), GRAIN, scale_task, &j);
    }
    return 0;
}

/* ------------------------------------------------------------ Where */

typedef struct wjob {
    lg_bcast plan;
    const uint8_t *c;
    const char *x, *y;
    char *o;
    size_t es;
} wjob;

static void where_row(void *arg, int64_t o, const int64_t *off,
                      const int64_t *inc, int64_t n)
{
    const wjob *j = arg;
    const uint8_t *c = j->c + off[0];
    int64_t ic = inc[0], ix = inc[1], iy = inc[2];
    switch (j->es) {
#define WH(T) { const T *x = (const T *)(const void *)j->x + off[1]; \
        const T *y = (const T *)(const void *)j->y + off[2]; \
        T *r = (T *)(void *)j->o + o; \
        for (int64_t i = 0; i < n; i++) \
            r[i] = c[i * ic] ? x[i * ix] : y[i * iy]; } break;
    case 1: WH(uint8_t)
    case 4: WH(uint32_t)
    case 8: WH(uint64_t)
#undef WH
    default: break;
    }
}

static void where_task(void *arg, int64_t b, int64_t e)
{
    lg_bcast_walk(&((const wjob *)arg)->plan, b, e, where_row, arg);
}

static int k_where(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                   lg_tensor *const *out, lg_kctx *ctx)
{
    wjob j;
    const lg_shape *sh[3] = {&in[0]->shape, &in[1]->shape, &in[2]->shape};
    (void)g;
    j.es = lg_dtype_size(in[1]->dtype);
    if (in[0]->dtype != LG_BOOL || in[2]->dtype != in[1]->dtype ||
        (j.es != 1 && j.es != 4 && j.es != 8))
        return no_kernel(n, in[1], ctx);
    if (lg_bcast_plan(&j.plan, &out[0]->shape, 3, sh) < 0)
        return bad_shapes(n, ctx);
    j.c = in[0]->data;
    j.x = in[1]->data;
    j.y = in[2]->data;
    j.o = out[0]->data;
    lg_pool_run(ctx->pool, j.plan.numel, GRAIN, where_task, &j);
    return 0;
}

/* ------------------------------------------------------------ Clip */

typedef struct cjob {
    const void *x;
    void *y;
    enum lg_dtype t;
    double lo, hi;              /* float bounds */
    int64_t ilo, ihi;           /* integer bounds */
} cjob;

static void clip_task(void *arg, int64_t b, int64_t e)
{
    const cjob *j = arg;
    /* max then min: if lo > hi every element becomes hi, as ONNX says */
    switch (j->t) {
    case LG_F32: {
        const float *x = j->x;
        float *y = j->y, lo = (float)j->lo, hi = (float)j->hi;
        for (int64_t i = b; i < e; i++) {
            float v = x[i] < lo ? lo : x[i];
            y[i] = v > hi ? hi : v;
        }
        break;
    }
#define CI(T) { const T *x = j->x; T *y = j->y, lo = (T)j->ilo, hi = (T)j->ihi; \
        for (int64_t i = b; i < e; i++) { T v = x[i] < lo ? lo : x[i]; \
            y[i] = v > hi ? hi : v; } } break;
    case LG_I64: CI(int64_t)
    case LG_I32: CI(int32_t)
#undef CI
    default: break;
    }
}

static int k_clip(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                  lg_tensor *const *out, lg_kctx *ctx)
{
    cjob j;
    enum lg_dtype t = in[0]->dtype;
    (void)g;
    if (t != LG_F32 && t != LG_I64 && t != LG_I32)
        return no_kernel(n, in[0], ctx);
    j.x = in[0]->data;
    j.y = out[0]->data;
    j.t = t;
    j.lo = lg_attr_float(n, "min", -INFINITY);  /* opset < 11 */
    j.hi = lg_attr_float(n, "max", INFINITY);
    j.ilo = t == LG_I64 ? INT64_MIN : INT32_MIN;
    j.ihi = t == LG_I64 ? INT64_MAX : INT32_MAX;
    for (int k = 1; k < 3; k++) {
        const lg_tensor *b = k < n->n_in ? in[k] : NULL;
        if (!b)
            continue;
        if (b->dtype != t || lg_tensor_numel(b) != 1)
            return lg_errf(ctx->err, ctx->errlen, LG_EMODEL,
                           "Clip '%s': %s must be a %s scalar", n->name,
                           k == 1 ? "min" : "max", lg_dtype_name(t));
        if (t == LG_F32)
            *(k == 1 ? &j.lo : &j.hi) = ((const float *)b->data)[0];
        else
            *(k == 1 ? &j.ilo : &j.ihi) = lg_tensor_geti(b, 0);
    }
    lg_pool_run(ctx->pool, numel(out[0]), GRAIN, clip_task, &j);
    return 0;
}

/* ------------------------------------------------------------ Cast */

typedef struct castjob {
    const void *x;
    void *y;
    enum lg_dtype from, to;
} castjob;

/* Float to integer without undefined behaviour: truncate toward zero,
 * saturate at the int64 range, NaN gives 0. Narrower integer targets then
 * wrap, as numpy's astype does for in-range values. */
static int64_t f2i(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static void cast_task(void *arg, int64_t b, int64_t e)
{
    const castjob *j = arg;
    int from_float = j->from == LG_F32 || j->from == LG_F64;
    double fb[256];
    int64_t ib[256];

    for (int64_t c0 = b; c0 < e; c0 += 256) {
        int64_t m = e - c0 < 256 ? e - c0 : 256;
        /* load into a double or int64 staging buffer */
        switch (j->from) {
        case LG_F32:
            for (int64_t i = 0; i < m; i++)
                fb[i] = ((const float *)j->x)[c0 + i];
            break;
        case LG_F64:
            memcpy(fb, (const double *)j->x + c0, (size_t)m * sizeof *fb);
            break;
        case LG_I64:
            memcpy(ib, (const int64_t *)j->x + c0, (size_t)m * sizeof *ib);
            break;
        case LG_I32:
            for (int64_t i = 0; i < m; i++)
                ib[i] = ((const int32_t *)j->x)[c0 + i];
            break;
        case LG_I8:
            for (int64_t i = 0; i < m; i++)
                ib[i] = ((const int8_t *)j->x)[c0 + i];
            break;
        case LG_U8:
            for (int64_t i = 0; i < m; i++)
                ib[i] = ((const uint8_t *)j->x)[c0 + i];
            break;
        case LG_BOOL:
            for (int64_t i = 0; i < m; i++)
                ib[i] = ((const uint8_t *)j->x)[c0 + i] != 0;
            break;
        default:
            return;
        }
        if (from_float && j->to != LG_F32 && j->to != LG_F64 &&
            j->to != LG_BOOL)
            for (int64_t i = 0; i < m; i++)
                ib[i] = f2i(fb[i]);
#define ST(T, EXPR) { T *y = (T *)j->y + c0; \
        for (int64_t i = 0; i < m; i++) y[i] = (EXPR); }
        switch (j->to) {
        case LG_F32:
            if (from_float) ST(float, (float)fb[i])
            else ST(float, (float)ib[i])
            break;
        case LG_F64:
            if (from_float) ST(double, fb[i])
            else ST(double, (double)ib[i])
            break;
        case LG_BOOL:
            if (from_float) ST(uint8_t, fb[i] != 0.)
            else ST(uint8_t, ib[i] != 0)
            break;
        case LG_I64: ST(int64_t, ib[i]) break;
        case LG_I32: ST(int32_t, (int32_t)(uint32_t)(uint64_t)ib[i]) break;
        case LG_I8: ST(int8_t, (int8_t)(uint8_t)(uint64_t)ib[i]) break;
        case LG_U8: ST(uint8_t, (uint8_t)(uint64_t)ib[i]) break;
        default: return;
        }
#undef ST
    }
}

static int k_cast(const lg_graph *g, const lg_node *n, lg_tensor *const *in,
                  lg_tensor *const *out, lg_kctx *ctx)
{
    castjob j = {in[0]->data, out[0]->data, in[0]->dtype, out[0]->dtype};
    (void)g;
    if (!lg_dtype_size(j.from) || !lg_dtype_size(j.to))
        return no_kernel(n, in[0], ctx);
    if (j.from == j.to) {
        memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
        return 0;
    }
    lg_pool_run(ctx->pool, numel(out[0]), GRAIN, cast_task, &j);
    return 0;
}

/* ------------------------------------------------- Identity, Dropout */

static int k_identity(const lg_graph *g, const lg_node *n,
                      lg_tensor *const *in, lg_tensor *const *out,
                      lg_kctx *ctx)
{
    (void)g;
    if (in[0]->nbytes != out[0]->nbytes)
        return bad_shapes(n, ctx);
    if (out[0]->data != in[0]->data)
        memcpy(out[0]->data, in[0]->data, out[0]->nbytes);
    if (n->n_out > 1 && out[1])       /* Dropout's mask: nothing dropped */
        memset(out[1]->data, 1, out[1]->nbytes);
    return 0;
}

const lg_kernel lg_cpu_kernels_elem[] = {
    {"Relu", k_unary, NULL, NULL}, {"Sigmoid", k_unary, NULL, NULL},
    {"Tanh", k_unary, NULL, NULL}, {"Erf", k_unary, NULL, NULL},
    {"Exp", k_unary, NULL, NULL}, {"Log", k_unary, NULL, NULL},
    {"Sqrt", k_unary, NULL, NULL}, {"Reciprocal", k_unary, NULL, NULL},
    {"Neg", k_unary, NULL, NULL}, {"Abs", k_unary, NULL, NULL},
    {"Floor", k_unary, NULL, NULL}, {"Ceil", k_unary, NULL, NULL},
    {"Round", k_unary, NULL, NULL}, {"Sin", k_unary, NULL, NULL},
    {"Cos", k_unary, NULL, NULL}, {"Tan", k_unary, NULL, NULL},
    {"Asin", k_unary, NULL, NULL}, {"Acos", k_unary, NULL, NULL},
    {"Atan", k_unary, NULL, NULL}, {"Sinh", k_unary, NULL, NULL},
    {"Cosh", k_unary, NULL, NULL}, {"Asinh", k_unary, NULL, NULL},
    {"Acosh", k_unary, NULL, NULL}, {"Atanh", k_unary, NULL, NULL},
    {"Softplus", k_unary, NULL, NULL}, {"Softsign", k_unary, NULL, NULL},
    {"HardSigmoid", k_unary, NULL, NULL}, {"HardSwish", k_unary, NULL, NULL},
    {"LeakyRelu", k_unary, NULL, NULL}, {"Elu", k_unary, NULL, NULL},
    {"Selu", k_unary, NULL, NULL}, {"Celu", k_unary, NULL, NULL},
    {"Gelu", k_unary, NULL, NULL}, {"Mish", k_unary, NULL, NULL},
    {"ThresholdedRelu", k_unary, NULL, NULL}, {"Shrink", k_unary, NULL, NULL},
    {"Sign", k_unary, NULL, NULL}, {"Not", k_unary, NULL, NULL},
    {"IsNaN", k_unary, NULL, NULL}, {"IsInf", k_unary, NULL, NULL},
    {"Add", k_binary, NULL, NULL}, {"Sub", k_binary, NULL, NULL},
    {"Mul", k_binary, NULL, NULL}, {"Div", k_binary, NULL, NULL},
    {"Mod", k_binary, NULL, NULL}, {"Equal", k_binary, NULL, NULL},
    {"Less", k_binary, NULL, NULL}, {"Greater", k_binary, NULL, NULL},
    {"LessOrEqual", k_binary, NULL, NULL},
    {"GreaterOrEqual", k_binary, NULL, NULL},
    {"And", k_binary, NULL, NULL}, {"Or", k_binary, NULL, NULL},
    {"Xor", k_binary, NULL, NULL}, {"PRelu", k_binary, NULL, NULL},
    {"Max", k_variadic, NULL, NULL}, {"Min", k_variadic, NULL, NULL},
    {"Sum", k_variadic, NULL, NULL}, {"Mean", k_variadic, NULL, NULL},
    {"Pow", k_pow, NULL, NULL}, {"Where", k_where, NULL, NULL},
    {"Clip", k_clip, NULL, NULL}, {"Cast", k_cast, NULL, NULL},
    {"CastLike", k_cast, NULL, NULL}, {"Identity", k_identity, NULL, NULL},
    {"Dropout", k_identity, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};
