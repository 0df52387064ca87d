/*
 * kharness.c - see kharness.h.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kharness.h"
#include "lgerr.h"
#include "op.h"

lg_pool *g_pool;

/* ------------------------------------------------------------- random */

uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

int64_t rnd(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

double frand(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng() >> 11) / 9007199254740992.0);
}

/* ------------------------------------------------------------ tensors */


lg_tensor *tnew(enum lg_dtype t, lg_shape s)
{
    lg_tensor *x = lg_tensor_new(t, &s);
    ck_assert_ptr_nonnull(x);
    return x;
}

lg_tensor *trand(enum lg_dtype t, lg_shape s, double lo, double hi)
{
    lg_tensor *x = tnew(t, s);
    for (int64_t i = 0; i < lg_tensor_numel(x); i++) {
        double v = frand(lo, hi);
        switch (t) {
        case LG_F32: ((float *)x->data)[i] = (float)v; break;
        case LG_F64: ((double *)x->data)[i] = v; break;
        case LG_I64: ((int64_t *)x->data)[i] = (int64_t)floor(v); break;
        case LG_I32: ((int32_t *)x->data)[i] = (int32_t)floor(v); break;
        case LG_BOOL: ((uint8_t *)x->data)[i] = v > 0; break;
        case LG_U8: ((uint8_t *)x->data)[i] = (uint8_t)(int)floor(v); break;
        case LG_I8: ((int8_t *)x->data)[i] = (int8_t)floor(v); break;
        default: ck_abort();
        }
    }
    return x;
}

lg_tensor *tf32(lg_shape s, const float *v)
{
    lg_tensor *x = tnew(LG_F32, s);
    if (x->nbytes)
        memcpy(x->data, v, x->nbytes);
    return x;
}

lg_tensor *ti64(lg_shape s, const int64_t *v)
{
    lg_tensor *x = tnew(LG_I64, s);
    if (x->nbytes)
        memcpy(x->data, v, x->nbytes);
    return x;
}

lg_tensor *scalar_f(float v)
{
    return tf32(SHP0(), &v);
}

/* Element i as double, any type. */
double getd(const lg_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case LG_F32: return ((const float *)t->data)[i];
    case LG_F64: return ((const double *)t->data)[i];
    default: return (double)lg_tensor_geti(t, i);
    }
}

char *sstr(const lg_shape *s)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    return lg_shape_str(s, buf[k], sizeof buf[k]);
}

/* Offset in `in` of output flat index i under numpy broadcasting. */
int64_t bc_off(const lg_shape *in, const lg_shape *out, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = out->rank - 1; d >= 0; d--) {
        int64_t idx = i % out->d[d];
        int di = d - (out->rank - in->rank);
        i /= out->d[d];
        if (di >= 0) {
            if (in->d[di] != 1)
                off += idx * stride;
            stride *= in->d[di];
        }
    }
    return off;
}

/* ---------------------------------------------------------- attributes */


lg_attr *at_new(attrs *A, const char *name, enum lg_attr_type t)
{
    lg_attr *a;
    ck_assert_int_lt(A->n, 16);
    a = &A->a[A->n++];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->type = t;
    return a;
}

void at_int(attrs *A, const char *name, int64_t v)
{
    at_new(A, name, LG_ATTR_INT)->i = v;
}

void at_float(attrs *A, const char *name, float v)
{
    at_new(A, name, LG_ATTR_FLOAT)->f = v;
}

void at_str(attrs *A, const char *name, const char *v)
{
    lg_attr *a = at_new(A, name, LG_ATTR_STRING);
    a->s = strdup(v);
    a->slen = strlen(v);
}

/* -------------------------------------------------------------- graphs */


kt *kt_new(int64_t opset)
{
    kt *k = calloc(1, sizeof *k);
    ck_assert_ptr_nonnull(k);
    k->g = lg_graph_new();
    ck_assert_ptr_nonnull(k->g);
    k->g->opset = opset;
    return k;
}

void kt_free(kt *k)
{
    if (k->slot)
        for (int v = 0; v < k->g->n_values; v++)
            lg_tensor_unref(k->slot[v]);
    free(k->slot);
    for (int i = 0; i < k->nfeed; i++)
        lg_tensor_unref(k->feed[i]);
    lg_graph_free(k->g);
    free(k);
}

/* A runtime graph input fed with t (takes the reference). */
void kt_in(kt *k, const char *name, lg_tensor *t)
{
    int v = lg_graph_value(k->g, name);
    ck_assert_int_ge(v, 0);
    k->g->values[v].dtype = t->dtype;
    k->g->values[v].shape = t->shape;
    k->g->values[v].has_shape = 1;
    ck_assert_int_eq(lg_graph_add_input(k->g, v), 0);
    ck_assert_int_lt(k->nfeed, 8);
    k->feed_name[k->nfeed] = name;
    k->feed[k->nfeed++] = t;
}

/* A constant (initializer) input; takes the reference. */
void kt_const(kt *k, const char *name, lg_tensor *t)
{
    int v = lg_graph_value(k->g, name);
    ck_assert_int_ge(v, 0);
    lg_graph_set_const(k->g, v, t, 1);
}


/* Add a node; its outputs become graph outputs (so none is swept). */
void kt_node(kt *k, const char *name, const char *op, int nin,
                    const char *const *in, int nout, const char *const *out,
                    attrs *A)
{
    lg_attr *arr = NULL;
    int na = A ? A->n : 0;
    if (na) {
        arr = malloc((size_t)na * sizeof *arr);
        ck_assert_ptr_nonnull(arr);
        memcpy(arr, A->a, (size_t)na * sizeof *arr);
        A->n = 0;
    }
    ck_assert_int_ge(lg_graph_add_node(k->g, name, op, "", nin, in, nout, out,
                                       arr, na), 0);
    for (int i = 0; i < nout; i++)
        if (out[i] && *out[i])
            ck_assert_int_eq(lg_graph_add_output(k->g,
                                                 lg_graph_value(k->g, out[i])),
                             0);
}

int kt_infer(kt *k)
{
    k->err[0] = 0;
    return lg_graph_infer(k->g, NULL, k->err, sizeof k->err);
}

const lg_kernel *find_kernel(const char *op)
{
    static const lg_kernel *const tabs[] = {lg_cpu_kernels_elem,
                                            lg_cpu_kernels_tensor};
    for (size_t t = 0; t < 2; t++)
        for (const lg_kernel *kk = tabs[t]; kk->op; kk++)
            if (strcmp(kk->op, op) == 0)
                return kk;
    return NULL;
}

/* One pass over every node in order; outputs pre-filled with `fill`. */
int run_pass(kt *k, lg_pool *pool, int fill, lg_tensor **slot)
{
    lg_graph *g = k->g;
    for (int v = 0; v < g->n_values; v++) {
        slot[v] = lg_tensor_ref(g->values[v].konst);
        for (int f = 0; f < k->nfeed; f++)
            if (strcmp(k->feed_name[f], g->values[v].name) == 0)
                slot[v] = lg_tensor_ref(k->feed[f]);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *n = &g->nodes[i];
        const lg_kernel *kk = find_kernel(n->op);
        lg_tensor *in[16] = {0}, *out[16] = {0};
        lg_kctx ctx = {pool, NULL, k->err, sizeof k->err};
        int rc;
        ck_assert_msg(kk != NULL, "no kernel for %s", n->op);
        ck_assert_int_le(n->n_in, 16);
        ck_assert_int_le(n->n_out, 16);
        for (int j = 0; j < n->n_in; j++)
            in[j] = n->in[j] >= 0 ? slot[n->in[j]] : NULL;
        for (int j = 0; j < n->n_out; j++) {
            const lg_value *val = lg_out(g, n, j);
            if (!val)
                continue;
            out[j] = tnew(val->dtype, val->shape);
            memset(out[j]->data, fill, out[j]->nbytes);
        }
        rc = kk->run(g, n, in, out, &ctx);
        for (int j = 0; j < n->n_out; j++) {
            if (out[j] && rc == 0)
                slot[n->out[j]] = out[j];
            else
                lg_tensor_unref(out[j]);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Run the graph serially and pooled; both must agree bit for bit. */
int kt_run(kt *k)
{
    lg_graph *g = k->g;
    lg_tensor **a = calloc((size_t)g->n_values + 1, sizeof *a);
    lg_tensor **b = calloc((size_t)g->n_values + 1, sizeof *b);
    char err2[512];
    int ra, rb;
    ck_assert(a && b);
    ra = run_pass(k, NULL, 0xFF, a);
    memcpy(err2, k->err, sizeof err2);
    rb = run_pass(k, g_pool, 0x5A, b);
    ck_assert_int_eq(ra, rb);
    if (ra == 0)
        for (int v = 0; v < g->n_values; v++) {
            if (!a[v] || g->values[v].kind == LG_VAL_CONST ||
                g->values[v].kind == LG_VAL_INPUT)
                continue;
            ck_assert_uint_eq(a[v]->nbytes, b[v]->nbytes);
            ck_assert_msg(memcmp(a[v]->data, b[v]->data, a[v]->nbytes) == 0,
                          "'%s' differs between serial and pooled runs (or "
                          "is not fully written)", g->values[v].name);
        }
    for (int v = 0; v < g->n_values; v++)
        lg_tensor_unref(b[v]);
    free(b);
    if (k->slot) {
        for (int v = 0; v < g->n_values; v++)
            lg_tensor_unref(k->slot[v]);
        free(k->slot);
    }
    k->slot = a;
    if (ra < 0)
        memcpy(k->err, err2, sizeof err2);
    return ra;
}

lg_tensor *kt_get(kt *k, const char *name)
{
    int v = lg_graph_find(k->g, name);
    ck_assert_int_ge(v, 0);
    ck_assert_ptr_nonnull(k->slot);
    ck_assert_ptr_nonnull(k->slot[v]);
    return k->slot[v];
}

const lg_value *kt_val(kt *k, const char *name)
{
    int v = lg_graph_find(k->g, name);
    ck_assert_int_ge(v, 0);
    return &k->g->values[v];
}

/* Inference must fail with code naming node. */
void expect_fail(kt *k, int code, const char *node)
{
    int rc = kt_infer(k);
    ck_assert_msg(rc == code, "expected %d, got %d (%s)", code, rc, k->err);
    ck_assert_msg(strstr(k->err, node) != NULL, "'%s' does not name '%s'",
                  k->err, node);
}

void close_to(double got, double ref, double rtol, double atol,
                     const char *what, int64_t i)
{
    int ok = (isnan(ref) && isnan(got)) || (isinf(ref) && got == ref) ||
             fabs(got - ref) <= atol + rtol * fabs(ref);
    ck_assert_msg(ok, "%s[%lld]: got %.9g, want %.9g", what, (long long)i,
                  got, ref);
}

void setup(void)
{
    g_pool = lg_pool_new(3);
    ck_assert_ptr_nonnull(g_pool);
}

void teardown(void)
{
    lg_pool_free(g_pool);
    g_pool = NULL;
}

