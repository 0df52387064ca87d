/*
 * opdef_elem.c - op definitions for elementwise operators: unary math and
 * activations, numpy-broadcasting binary and variadic arithmetic,
 * comparisons and logic, Where, Clip, PRelu, Cast, Identity and Dropout.
 *
 * Owns lg_opdefs_elem[]: arity, static shape and dtype inference and the
 * element types each op accepts. The type masks here are the contract with
 * the kernels in lib/exec/cpu/elem.c: a graph that passes inference only
 * asks the kernels for type combinations they implement. Float math is
 * float32 (float64 where it is free); int64/int32 are there for the shape
 * arithmetic exporters emit, which infer.c folds through the kernels.
 *
 * Pure functions of the graph; called single-threaded from lg_graph_infer.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "lgerr.h"
#include "op.h"

#define TM(t) (1u << (t))
#define T_F TM(LG_F32)
#define T_D TM(LG_F64)
#define T_L TM(LG_I64)
#define T_I TM(LG_I32)
#define T_B TM(LG_BOOL)
#define T_U8 TM(LG_U8)
#define T_I8 TM(LG_I8)
#define T_NUM (T_F | T_D | T_L | T_I)
#define T_ANY (T_NUM | T_B | T_U8 | T_I8)

/* Accepted input types for an op, looked up by name. */
typedef struct elem_types {
    const char *op;
    unsigned in;                /* mask of accepted input types */
    int out_bool;               /* output is bool, not the input type */
} elem_types;

static const elem_types unary_types[] = {
    {"Relu", T_F | T_L | T_I, 0}, {"Neg", T_F | T_D | T_L | T_I, 0},
    {"Abs", T_F | T_D | T_L | T_I, 0}, {"Sign", T_F | T_L | T_I, 0},
    {"Not", T_B, 0}, {"IsNaN", T_F, 1}, {"IsInf", T_F, 1},
    {NULL, T_F, 0},             /* everything else: float32 */
};

static const elem_types binary_types[] = {
    {"Add", T_NUM, 0}, {"Sub", T_NUM, 0}, {"Mul", T_NUM, 0},
    {"Div", T_NUM, 0}, {"Mod", T_NUM, 0},
    {"Max", T_NUM, 0}, {"Min", T_NUM, 0}, {"Sum", T_NUM, 0},
    {"Mean", T_F | T_D, 0},
    {"Equal", T_NUM | T_B, 1}, {"Less", T_NUM, 1}, {"Greater", T_NUM, 1},
    {"LessOrEqual", T_NUM, 1}, {"GreaterOrEqual", T_NUM, 1},
    {"And", T_B, 1}, {"Or", T_B, 1}, {"Xor", T_B, 1},
    {"PRelu", T_F, 0},
    {NULL, 0, 0},
};

static const elem_types *find_types(const elem_types *t, const char *op)
{
    for (; t->op; t++)
        if (strcmp(t->op, op) == 0)
            return t;
    return t;                   /* the NULL entry: the default */
}

static void type_list(unsigned mask, char *buf, size_t len)
{
    static const enum lg_dtype all[] = {LG_F32, LG_F64, LG_I64, LG_I32,
                                        LG_BOOL, LG_U8, LG_I8};
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if ((mask & TM(all[i])) && off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s%s",
                                    off ? "/" : "", lg_dtype_name(all[i]));
}

/* Input i must have one of the types in mask. */
static int need_type(const lg_graph *g, const lg_node *n, int i,
                     unsigned mask, char *err, size_t errlen)
{
    const lg_value *v = lg_in(g, n, i);
    char list[96];
    if (!v || (mask & TM(v->dtype)))
        return 0;
    type_list(mask, list, sizeof list);
    return lg_errf(err, errlen, LG_EUNSUP,
                   "%s '%s': input %d '%s' is %s; supported: %s", n->op,
                   n->name, i, v->name, lg_dtype_name(v->dtype), list);
}

static int same_type(const lg_graph *g, const lg_node *n, int i, int j,
                     char *err, size_t errlen)
{
    const lg_value *a = lg_in(g, n, i), *b = lg_in(g, n, j);
    if (!a || !b || a->dtype == b->dtype)
        return 0;
    return lg_errf(err, errlen, LG_EMODEL,
                   "%s '%s': input %d '%s' is %s but input %d '%s' is %s",
                   n->op, n->name, i, a->name, lg_dtype_name(a->dtype), j,
                   b->name, lg_dtype_name(b->dtype));
}

static uint64_t no_flops(const lg_graph *g, const lg_node *n)
{
    (void)g;
    (void)n;
    return 0;
}

static int shape_unary(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const elem_types *t = find_types(unary_types, n->op);
    const lg_value *x = lg_in(g, n, 0);
    int rc;
    if ((rc = need_type(g, n, 0, t->in, err, errlen)) < 0)
        return rc;
    if (strcmp(n->op, "Gelu") == 0) {
        const char *a = lg_attr_str(n, "approximate", "none");
        if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
            return lg_errf(err, errlen, LG_EUNSUP,
                           "Gelu '%s': approximate='%s' (none or tanh)",
                           n->name, a);
    }
    return lg_set_out(g, n, 0, t->out_bool ? LG_BOOL : x->dtype, &x->shape,
                      err, errlen);
}

/* Binary and variadic ops: every input broadcasts into the output. */
static int shape_nary(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const elem_types *t = find_types(binary_types, n->op);
    lg_shape s = lg_in(g, n, 0)->shape;
    int rc;
    for (int i = 0; i < n->n_in; i++) {
        const lg_value *v = lg_in(g, n, i);
        if (!v)
            return lg_errf(err, errlen, LG_EMODEL,
                           "%s '%s': input %d is empty", n->op, n->name, i);
        if ((rc = need_type(g, n, i, t->in, err, errlen)) < 0 ||
            (rc = same_type(g, n, 0, i, err, errlen)) < 0)
            return rc;
        if ((rc = lg_broadcast(n, &s, &v->shape, &s, err, errlen)) < 0)
            return rc;
    }
    if (strcmp(n->op, "Mod") == 0) {
        int64_t fm = lg_attr_int(n, "fmod", 0);
        if (fm != 0 && fm != 1)
            return lg_errf(err, errlen, LG_EMODEL,
                           "Mod '%s': fmod must be 0 or 1, is %lld", n->name,
                           (long long)fm);
    }
    return lg_set_out(g, n, 0, t->out_bool ? LG_BOOL : lg_in(g, n, 0)->dtype,
                      &s, err, errlen);
}

/* Pow: the exponent may have another type than the base. */
static int shape_pow(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *a = lg_in(g, n, 0), *b = lg_in(g, n, 1);
    lg_shape s;
    int rc, ok;
    if ((rc = need_type(g, n, 0, T_NUM, err, errlen)) < 0 ||
        (rc = need_type(g, n, 1, T_NUM, err, errlen)) < 0)
        return rc;
    ok = a->dtype == LG_F32 || a->dtype == b->dtype;
    if (!ok)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "Pow '%s': %s base with %s exponent", n->name,
                       lg_dtype_name(a->dtype), lg_dtype_name(b->dtype));
    if ((rc = lg_broadcast(n, &a->shape, &b->shape, &s, err, errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 0, a->dtype, &s, err, errlen);
}

/* PRelu: the slope broadcasts into X (one way only). */
static int shape_prelu(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *sl = lg_in(g, n, 1);
    lg_shape s;
    int rc;
    if ((rc = need_type(g, n, 0, T_F, err, errlen)) < 0 ||
        (rc = same_type(g, n, 0, 1, err, errlen)) < 0)
        return rc;
    if ((rc = lg_broadcast(n, &x->shape, &sl->shape, &s, err, errlen)) < 0)
        return rc;
    if (!lg_shape_eq(&s, &x->shape)) {
        char a[128], b[128];
        return lg_errf(err, errlen, LG_EMODEL,
                       "PRelu '%s': slope %s does not broadcast to input %s",
                       n->name, lg_shape_str(&sl->shape, a, sizeof a),
                       lg_shape_str(&x->shape, b, sizeof b));
    }
    return lg_set_out(g, n, 0, x->dtype, &x->shape, err, errlen);
}

static int shape_where(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    lg_shape s;
    int rc;
    if ((rc = need_type(g, n, 0, T_B, err, errlen)) < 0 ||
        (rc = need_type(g, n, 1, T_ANY, err, errlen)) < 0 ||
        (rc = same_type(g, n, 1, 2, err, errlen)) < 0)
        return rc;
    s = lg_in(g, n, 0)->shape;
    for (int i = 1; i < 3; i++)
        if ((rc = lg_broadcast(n, &s, &lg_in(g, n, i)->shape, &s, err,
                               errlen)) < 0)
            return rc;
    return lg_set_out(g, n, 0, lg_in(g, n, 1)->dtype, &s, err, errlen);
}

static int shape_clip(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int rc;
    if ((rc = need_type(g, n, 0, T_F | T_L | T_I, err, errlen)) < 0)
        return rc;
    for (int i = 1; i < n->n_in; i++) {
        const lg_value *v = lg_in(g, n, i);
        int64_t cnt = 0;
        if (!v)
            continue;
        if ((rc = same_type(g, n, 0, i, err, errlen)) < 0)
            return rc;
        if (lg_shape_numel(&v->shape, &cnt) < 0 || cnt != 1)
            return lg_errf(err, errlen, LG_EMODEL,
                           "Clip '%s': %s '%s' must be a scalar", n->name,
                           i == 1 ? "min" : "max", v->name);
    }
    return lg_set_out(g, n, 0, x->dtype, &x->shape, err, errlen);
}

static int shape_cast(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int64_t to;
    int rc;
    if ((rc = need_type(g, n, 0, T_ANY, err, errlen)) < 0)
        return rc;
    if (strcmp(n->op, "CastLike") == 0) {
        if ((rc = need_type(g, n, 1, T_ANY, err, errlen)) < 0)
            return rc;
        to = lg_in(g, n, 1)->dtype;
    } else {
        const lg_attr *a = lg_node_attr(n, "to");
        if (!a || a->type != LG_ATTR_INT)
            return lg_errf(err, errlen, LG_EMODEL,
                           "Cast '%s': missing attribute 'to'", n->name);
        to = a->i;
        if (to < 0 || to > 31 || !(T_ANY & TM(to)))
            return lg_errf(err, errlen, LG_EUNSUP,
                           "Cast '%s': target type %lld not supported",
                           n->name, (long long)to);
    }
    return lg_set_out(g, n, 0, (enum lg_dtype)to, &x->shape, err, errlen);
}

static int shape_identity(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    int rc;
    if ((rc = need_type(g, n, 0, T_ANY, err, errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 0, x->dtype, &x->shape, err, errlen);
}

/* Dropout at inference is the identity; the mask output is all true. A
 * graph that asks for training mode is not inference. */
static int shape_dropout(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0), *tm = lg_in(g, n, 2);
    int rc;
    if ((rc = need_type(g, n, 0, T_ANY, err, errlen)) < 0)
        return rc;
    if (tm) {
        if (!tm->konst)
            return lg_errf(err, errlen, LG_EUNSUP,
                           "Dropout '%s': training_mode '%s' is not constant",
                           n->name, tm->name);
        if (lg_tensor_numel(tm->konst) != 1)
            return lg_errf(err, errlen, LG_EMODEL,
                           "Dropout '%s': training_mode must be a scalar",
                           n->name);
        if (lg_tensor_geti(tm->konst, 0))
            return lg_errf(err, errlen, LG_EUNSUP,
                           "Dropout '%s': training_mode is true (inference "
                           "only)", n->name);
    }
    if ((rc = lg_set_out(g, n, 0, x->dtype, &x->shape, err, errlen)) < 0)
        return rc;
    return lg_set_out(g, n, 1, LG_BOOL, &x->shape, err, errlen);
}

#define UNARY(name) {name, 1, 1, 1, 1, shape_unary, NULL, 0}
#define BINARY(name) {name, 2, 2, 1, 1, shape_nary, NULL, 0}
#define VARIADIC(name) {name, 1, INT_MAX, 1, 1, shape_nary, NULL, 0}

const lg_opdef lg_opdefs_elem[] = {
    UNARY("Relu"), UNARY("Sigmoid"), UNARY("Tanh"), UNARY("Erf"),
    UNARY("Exp"), UNARY("Log"), UNARY("Sqrt"), UNARY("Reciprocal"),
    UNARY("Neg"), UNARY("Abs"), UNARY("Floor"), UNARY("Ceil"),
    UNARY("Round"), UNARY("Sin"), UNARY("Cos"), UNARY("Tan"),
    UNARY("Asin"), UNARY("Acos"), UNARY("Atan"), UNARY("Sinh"),
    UNARY("Cosh"), UNARY("Asinh"), UNARY("Acosh"), UNARY("Atanh"),
    UNARY("Softplus"), UNARY("Softsign"), UNARY("HardSigmoid"),
    UNARY("HardSwish"), UNARY("LeakyRelu"), UNARY("Elu"), UNARY("Selu"),
    UNARY("Celu"), UNARY("Gelu"), UNARY("Mish"), UNARY("ThresholdedRelu"),
    UNARY("Shrink"), UNARY("Not"), UNARY("Sign"), UNARY("IsNaN"),
    UNARY("IsInf"),
    BINARY("Add"), BINARY("Sub"), BINARY("Mul"), BINARY("Div"),
    BINARY("Mod"), BINARY("Equal"), BINARY("Less"), BINARY("Greater"),
    BINARY("LessOrEqual"), BINARY("GreaterOrEqual"), BINARY("And"),
    BINARY("Or"), BINARY("Xor"),
    VARIADIC("Max"), VARIADIC("Min"), VARIADIC("Sum"), VARIADIC("Mean"),
    {"Pow", 2, 2, 1, 1, shape_pow, NULL, 0},
    {"PRelu", 2, 2, 1, 1, shape_prelu, NULL, 0},
    {"Where", 3, 3, 1, 1, shape_where, NULL, 0},
    {"Clip", 1, 3, 1, 1, shape_clip, NULL, 0},
    {"Cast", 1, 1, 1, 1, shape_cast, no_flops, 0},
    {"CastLike", 2, 2, 1, 1, shape_cast, no_flops, 0},
    {"Identity", 1, 1, 1, 1, shape_identity, no_flops, 0},
    {"Dropout", 1, 3, 1, 2, shape_dropout, no_flops, 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};
