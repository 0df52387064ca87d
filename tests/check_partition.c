/*
 * check_partition.c - unit tests for lib/model/partition.c and
 * lib/model/onnx_save.c: convexity (accept and reject, with the offending
 * node named), extraction boundaries and weight sharing, cut counts and
 * bytes (checked against extraction), the balanced split, save -> load
 * round trips, running partitions in order against the whole graph, and
 * an oracle test: onnx.checker (full_check) on what we write.
 *
 * Graphs are built by hand with the IR calls, so each expected boundary
 * can be worked out on paper; they are drawn in the comments.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "graph.h"
#include "lgerr.h"
#include "onnx_load.h"
#include "onnx_save.h"
#include "partition.h"
#include "tensor.h"

#define PY "/usr/bin/python3"
#define D 4                     /* feature width of the test graphs */

static char err[512];

/* ------------------------------------------------------------ builders */

static int val(lg_graph *g, const char *name)
{
    int v = lg_graph_value(g, name);
    ck_assert_int_ge(v, 0);
    return v;
}

static void input(lg_graph *g, const char *name, int rank, const int64_t *d)
{
    int v = val(g, name);
    lg_value *x = &g->values[v];
    x->dtype = LG_F32;
    x->shape = lg_shape_make(rank, d);
    x->has_shape = 1;
    ck_assert_int_eq(lg_graph_add_input(g, v), 0);
}

/* A [r, c] float weight with deterministic, distinct values. */
static lg_tensor *weight(lg_graph *g, const char *name, int64_t r,
                         int64_t c, int seed)
{
    int64_t d[2] = {r, c};
    lg_shape s = lg_shape_make(2, d);
    lg_tensor *t = lg_tensor_new(LG_F32, &s);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < r * c; i++)
        ((float *)t->data)[i] = (float)((i * 7 + seed * 13) % 11 - 5) / 8.0f;
    lg_graph_set_const(g, val(g, name), t, 1);
    return t;
}

/* Split "a,b,c" into names[] (at most 8; "" stays an empty name). */
static int split_names(const char *list, char buf[8][64], const char **names)
{
    int n = 0;
    const char *p = list;
    if (!list || !*list)
        return 0;
    for (;;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        ck_assert_int_lt(n, 8);
        ck_assert_uint_lt(len, 64);
        memcpy(buf[n], p, len);
        buf[n][len] = 0;
        names[n] = buf[n];
        n++;
        if (!q)
            return n;
        p = q + 1;
    }
}

static int node_attrs(lg_graph *g, const char *name, const char *op,
                      const char *ins, const char *outs, lg_attr *attrs,
                      int n_attrs)
{
    char ib[8][64], ob[8][64];
    const char *in[8], *out[8];
    int ni = split_names(ins, ib, in), no = split_names(outs, ob, out);
    int rc = lg_graph_add_node(g, name, op, "", ni, in, no, out, attrs,
                               n_attrs);
    ck_assert_int_ge(rc, 0);
    return rc;
}

static int node(lg_graph *g, const char *name, const char *op,
                const char *ins, const char *outs)
{
    return node_attrs(g, name, op, ins, outs, NULL, 0);
}

static void output(lg_graph *g, const char *name)
{
    ck_assert_int_eq(lg_graph_add_output(g, val(g, name)), 0);
}

static void prepare(lg_graph *g)
{
    int rc = lg_graph_infer(g, NULL, err, sizeof err);
    ck_assert_msg(rc == 0, "infer: %s", err);
    ck_assert(g->prepared);
}

static lg_graph *new_graph(const char *name)
{
    lg_graph *g = lg_graph_new();
    ck_assert_ptr_nonnull(g);
    g->name = strdup(name);
    g->opset = 13;
    g->ir_version = 8;
    return g;
}

/*
 * chain:  x -> mm0(W0) -a-> r0 -b-> mm1(W1) -c-> r1 -> y
 */
static lg_graph *chain(void)
{
    static const int64_t xd[2] = {1, D};
    lg_graph *g = new_graph("chain");
    input(g, "x", 2, xd);
    weight(g, "W0", D, D, 1);
    weight(g, "W1", D, D, 2);
    node(g, "mm0", "MatMul", "x,W0", "a");
    node(g, "r0", "Relu", "a", "b");
    node(g, "mm1", "MatMul", "b,W1", "c");
    node(g, "r1", "Relu", "c", "y");
    output(g, "y");
    prepare(g);
    return g;
}

/*
 * diamond:      x
 *               A (Relu) -> a
 *         B (Relu)    C (MatMul W)
 *               D (Add b, c) -> d
 *               E (Relu) -> y
 * Node order after the sort: A=0, B=1, C=2, D=3, E=4.
 */
static lg_graph *diamond(void)
{
    static const int64_t xd[2] = {1, D};
    lg_graph *g = new_graph("diamond");
    input(g, "x", 2, xd);
    weight(g, "W", D, D, 3);
    node(g, "A", "Relu", "x", "a");
    node(g, "B", "Relu", "a", "b");
    node(g, "C", "MatMul", "a,W", "c");
    node(g, "D", "Add", "b,c", "d");
    node(g, "E", "Relu", "d", "y");
    output(g, "y");
    prepare(g);
    return g;
}

/*
 * residual: nb blocks of  h -> fc1 -u-> act -v-> fc2 -w-> add(h, w) -> r,
 * then a final Relu -> y. Per block 4 nodes: fc1_i=4i, act_i=4i+1,
 * fc2_i=4i+2, add_i=4i+3; the final relu is 4*nb. With mid_out, block 0's
 * v0 is a second graph output.
 */
static lg_graph *residual(int nb, int mid_out)
{
    static const int64_t xd[2] = {1, D};
    lg_graph *g = new_graph(mid_out ? "residual_mid" : "residual");
    char h[32] = "x";
    input(g, "x", 2, xd);
    for (int i = 0; i < nb; i++) {
        char w1[16], w2[16], u[16], v[16], w[16], r[16], ins[64];
        char n1[16], n2[16], n3[16], n4[16];
        snprintf(w1, sizeof w1, "W1_%d", i);
        snprintf(w2, sizeof w2, "W2_%d", i);
        snprintf(u, sizeof u, "u%d", i);
        snprintf(v, sizeof v, "v%d", i);
        snprintf(w, sizeof w, "w%d", i);
        snprintf(r, sizeof r, "r%d", i);
        snprintf(n1, sizeof n1, "fc1_%d", i);
        snprintf(n2, sizeof n2, "act_%d", i);
        snprintf(n3, sizeof n3, "fc2_%d", i);
        snprintf(n4, sizeof n4, "add_%d", i);
        weight(g, w1, D, D, 10 + i);
        weight(g, w2, D, D, 20 + i);
        snprintf(ins, sizeof ins, "%s,%s", h, w1);
        node(g, n1, "MatMul", ins, u);
        node(g, n2, "Relu", u, v);
        snprintf(ins, sizeof ins, "%s,%s", v, w2);
        node(g, n3, "MatMul", ins, w);
        snprintf(ins, sizeof ins, "%s,%s", h, w);
        node(g, n4, "Add", ins, r);
        snprintf(h, sizeof h, "%s", r);
    }
    node(g, "final", "Relu", h, "y");
    output(g, "y");
    if (mid_out)
        output(g, "v0");
    prepare(g);
    return g;
}

/* ---------------------------------------------------------- inspection */

static int has_name(const lg_graph *g, const int *list, int n,
                    const char *name)
{
    for (int k = 0; k < n; k++)
        if (strcmp(g->values[list[k]].name, name) == 0)
            return 1;
    return 0;
}

static int names_eq(const lg_graph *g, const int *list, int n,
                    const char *expect)
{
    char b[8][64];
    const char *e[8];
    int ne = split_names(expect, b, e);
    if (ne != n)
        return 0;
    for (int k = 0; k < n; k++)
        if (strcmp(g->values[list[k]].name, e[k]) != 0)
            return 0;
    return 1;
}

static size_t val_bytes(const lg_value *v)
{
    size_t nb = 0;
    ck_assert_int_eq(lg_shape_nbytes(&v->shape, v->dtype, &nb), 0);
    return nb;
}

static lg_graph *extract(const lg_graph *g, const int *nodes, int n)
{
    lg_graph *p = NULL;
    int rc = lg_partition_extract(g, nodes, n, &p, err, sizeof err);
    ck_assert_msg(rc == 0, "extract: %s", err);
    ck_assert_ptr_nonnull(p);
    return p;
}

static lg_graph *extract_range(const lg_graph *g, int lo, int hi)
{
    int idx[256];
    ck_assert_int_le(hi - lo + 1, 256);
    for (int i = lo; i <= hi; i++)
        idx[i - lo] = i;
    return extract(g, idx, hi - lo + 1);
}

/* --------------------------------------------------------- convexity */

START_TEST(test_convex_diamond)
{
    lg_graph *g = diamond();
    static const int all[] = {0, 1, 2, 3, 4}, bc[] = {1, 2}, ab[] = {0, 1};
    static const int ad[] = {0, 3}, abd[] = {0, 1, 3}, ae[] = {0, 4};
    static const int cd_rev[] = {3, 2, 1};
    ck_assert_str_eq(g->nodes[1].name, "B");
    ck_assert_str_eq(g->nodes[2].name, "C");
    ck_assert_int_eq(lg_partition_check(g, all, 5, err, sizeof err), 0);
    ck_assert_int_eq(lg_partition_check(g, bc, 2, err, sizeof err), 0);
    ck_assert_int_eq(lg_partition_check(g, ab, 2, err, sizeof err), 0);
    ck_assert_int_eq(lg_partition_check(g, cd_rev, 3, err, sizeof err), 0);
    ck_assert_int_eq(lg_partition_check(g, ad + 1, 1, err, sizeof err), 0);

    /* A and D without B and C: B is the first node on a path out and back */
    ck_assert_int_eq(lg_partition_check(g, ad, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "'B'") && strstr(err, "'A'") &&
                  strstr(err, "'D'"), "%s", err);
    /* A, B, D: only C is outside on a path */
    ck_assert_int_eq(lg_partition_check(g, abd, 3, err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "'C'") && strstr(err, "'A'") &&
                  strstr(err, "'D'"), "%s", err);
    /* A and E: the path A-B-D-E leaves and comes back */
    ck_assert_int_eq(lg_partition_check(g, ae, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "'B'") && strstr(err, "'E'"), "%s", err);
    lg_graph_free(g);
}
END_TEST

START_TEST(test_convex_invalid_sets)
{
    lg_graph *g = chain();
    static const int dup[] = {1, 1}, oob[] = {0, 4}, neg[] = {-1};
    static const int gap[] = {0, 2}, ends[] = {0, 3}, mid[] = {1, 2};
    ck_assert_int_eq(lg_partition_check(g, NULL, 0, err, sizeof err),
                     LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    ck_assert_int_eq(lg_partition_check(g, dup, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "twice"));
    ck_assert_int_eq(lg_partition_check(g, oob, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
    ck_assert_int_eq(lg_partition_check(g, neg, 1, err, sizeof err),
                     LG_EMODEL);
    ck_assert_int_eq(lg_partition_check(g, gap, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "'r0'") != NULL, "%s", err);
    ck_assert_int_eq(lg_partition_check(g, ends, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_int_eq(lg_partition_check(g, mid, 2, err, sizeof err), 0);
    /* extraction refuses what the check refuses */
    {
        lg_graph *p = (lg_graph *)1;
        ck_assert_int_eq(lg_partition_extract(g, gap, 2, &p, err,
                                              sizeof err), LG_EMODEL);
        ck_assert_ptr_null(p);
    }
    lg_graph_free(g);
}
END_TEST

START_TEST(test_convex_residual)
{
    lg_graph *g = residual(2, 0);
    static const int skip[] = {0, 3}, block[] = {0, 1, 2, 3};
    static const int tail[] = {3, 4}, two[] = {2, 6};
    ck_assert_int_eq(g->n_nodes, 9);
    ck_assert_str_eq(g->nodes[3].name, "add_0");
    ck_assert_int_eq(lg_partition_check(g, skip, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "'act_0'") != NULL, "%s", err);
    ck_assert_int_eq(lg_partition_check(g, block, 4, err, sizeof err), 0);
    ck_assert_int_eq(lg_partition_check(g, tail, 2, err, sizeof err), 0);
    ck_assert_int_eq(lg_partition_check(g, two, 2, err, sizeof err),
                     LG_EMODEL);
    ck_assert_msg(strstr(err, "'add_0'") != NULL, "%s", err);
    lg_graph_free(g);
}
END_TEST

/* --------------------------------------------------------- extraction */

START_TEST(test_extract_diamond)
{
    lg_graph *g = diamond();
    static const int bcd[] = {3, 1, 2}, a[] = {0}, e[] = {4};
    int wv = lg_graph_find(g, "W");
    lg_tensor *W = g->values[wv].konst;
    int refs = W->refs;
    lg_graph *p = extract(g, bcd, 3);

    ck_assert(p->prepared);
    ck_assert_int_eq(p->n_nodes, 3);
    ck_assert_str_eq(p->nodes[0].name, "B");     /* parent order kept */
    ck_assert_str_eq(p->nodes[1].name, "C");
    ck_assert_str_eq(p->nodes[2].name, "D");
    ck_assert(names_eq(p, p->inputs, p->n_inputs, "a"));
    ck_assert(names_eq(p, p->outputs, p->n_outputs, "d"));
    ck_assert_int_eq(p->opset, 13);
    ck_assert_int_eq(p->ir_version, 8);
    ck_assert_ptr_nonnull(p->name);
    {
        int pa = lg_graph_find(p, "a"), pw = lg_graph_find(p, "W");
        ck_assert_int_eq(p->values[pa].kind, LG_VAL_INPUT);
        ck_assert_int_eq(p->values[pa].dtype, LG_F32);
        ck_assert(lg_shape_eq(&p->values[pa].shape, &g->values[
            lg_graph_find(g, "a")].shape));
        /* the weight is shared, not copied, and keeps its flag */
        ck_assert_int_eq(p->values[pw].kind, LG_VAL_CONST);
        ck_assert_ptr_eq(p->values[pw].konst, W);
        ck_assert_int_eq(p->values[pw].initializer, 1);
        ck_assert_int_eq(W->refs, refs + 1);
        /* the IR is linked and costed like the parent's */
        ck_assert_int_eq(p->values[pa].n_consumers, 2);
        ck_assert_int_eq(p->values[pw].n_consumers, 1);
        ck_assert_int_eq(p->values[lg_graph_find(p, "d")].producer, 2);
        ck_assert_int_eq(p->values[lg_graph_find(p, "d")].is_output, 1);
        for (int i = 0; i < 3; i++) {
            const lg_node *pn = &p->nodes[i], *gn = &g->nodes[i + 1];
            ck_assert_ptr_nonnull(pn->def);
            ck_assert_ptr_eq(pn->def, gn->def);
            ck_assert_uint_eq(pn->flops, gn->flops);
            ck_assert_uint_eq(pn->bytes_read, gn->bytes_read);
            ck_assert_uint_eq(pn->param_bytes, gn->param_bytes);
        }
        ck_assert_uint_eq(lg_graph_flops(p), g->nodes[1].flops +
                          g->nodes[2].flops + g->nodes[3].flops);
        ck_assert_uint_eq(lg_graph_param_bytes(p), (uint64_t)D * D * 4);
    }
    lg_graph_free(p);
    ck_assert_int_eq(W->refs, refs);

    p = extract(g, a, 1);       /* the first node: a graph input in */
    ck_assert(names_eq(p, p->inputs, p->n_inputs, "x"));
    ck_assert(names_eq(p, p->outputs, p->n_outputs, "a"));
    ck_assert_int_eq(lg_graph_find(p, "W"), -1);    /* not used, not there */
    lg_graph_free(p);
    p = extract(g, e, 1);       /* the last: a graph output out */
    ck_assert(names_eq(p, p->inputs, p->n_inputs, "d"));
    ck_assert(names_eq(p, p->outputs, p->n_outputs, "y"));
    lg_graph_free(p);
    lg_graph_free(g);
}
END_TEST

START_TEST(test_extract_residual_boundaries)
{
    lg_graph *g = residual(1, 1);   /* fc1 act fc2 add final; v0 output */
    lg_graph *p = extract_range(g, 0, 1);
    /* x is read by the suffix too, but it is a graph input: the prefix
     * does not output it; v0 is both read later and a graph output */
    ck_assert(names_eq(p, p->inputs, p->n_inputs, "x"));
    ck_assert(names_eq(p, p->outputs, p->n_outputs, "v0"));
    lg_graph_free(p);
    p = extract_range(g, 2, 4);
    ck_assert(names_eq(p, p->inputs, p->n_inputs, "x,v0"));
    ck_assert(names_eq(p, p->outputs, p->n_outputs, "y"));
    lg_graph_free(p);
    p = extract_range(g, 1, 3);
    ck_assert(names_eq(p, p->inputs, p->n_inputs, "x,u0"));
    ck_assert(names_eq(p, p->outputs, p->n_outputs, "v0,r0"));
    lg_graph_free(p);
    lg_graph_free(g);
}
END_TEST

START_TEST(test_extract_attrs_deep)
{
    lg_graph *g = new_graph("attrs");
    static const int64_t xd[2] = {1, D};
    lg_attr *at = calloc(7, sizeof *at);
    lg_tensor *t;
    int64_t td[1] = {3};
    lg_shape ts = lg_shape_make(1, td);
    ck_assert_ptr_nonnull(at);
    input(g, "x", 2, xd);
    at[0].name = strdup("f"); at[0].type = LG_ATTR_FLOAT; at[0].f = 0.25f;
    at[1].name = strdup("i"); at[1].type = LG_ATTR_INT; at[1].i = -7;
    at[2].name = strdup("s"); at[2].type = LG_ATTR_STRING;
    at[2].s = strdup("hello"); at[2].slen = 5;
    at[3].name = strdup("fs"); at[3].type = LG_ATTR_FLOATS; at[3].n = 2;
    at[3].floats = malloc(2 * sizeof(float));
    at[3].floats[0] = 1.5f; at[3].floats[1] = -2.0f;
    at[4].name = strdup("is"); at[4].type = LG_ATTR_INTS; at[4].n = 3;
    at[4].ints = malloc(3 * sizeof(int64_t));
    at[4].ints[0] = 1; at[4].ints[1] = 2; at[4].ints[2] = INT64_MIN;
    at[5].name = strdup("ss"); at[5].type = LG_ATTR_STRINGS; at[5].n = 2;
    at[5].strings = malloc(2 * sizeof(char *));
    at[5].strings[0] = strdup("a");
    at[5].strings[1] = strdup("bc");
    t = lg_tensor_new(LG_I64, &ts);
    ck_assert_ptr_nonnull(t);
    ((int64_t *)t->data)[0] = 4; ((int64_t *)t->data)[1] = 5;
    ((int64_t *)t->data)[2] = 6;
    at[6].name = strdup("t"); at[6].type = LG_ATTR_TENSOR; at[6].t = t;
    node(g, "r0", "Relu", "x", "a");
    node_attrs(g, "r1", "Relu", "a", "b", at, 7);
    node(g, "r2", "Relu", "b", "y");
    output(g, "y");
    prepare(g);
    {
        static const int mid[] = {1};
        lg_graph *p = extract(g, mid, 1);
        const lg_node *a = &g->nodes[1], *b = &p->nodes[0];
        ck_assert_int_eq(b->n_attrs, 7);
        for (int k = 0; k < 7; k++) {
            ck_assert_str_eq(b->attrs[k].name, a->attrs[k].name);
            ck_assert_ptr_ne(b->attrs[k].name, a->attrs[k].name);
            ck_assert_int_eq(b->attrs[k].type, a->attrs[k].type);
        }
        ck_assert(b->attrs[0].f == 0.25f);
        ck_assert_int_eq(b->attrs[1].i, -7);
        ck_assert_str_eq(b->attrs[2].s, "hello");
        ck_assert_uint_eq(b->attrs[2].slen, 5);
        ck_assert_ptr_ne(b->attrs[2].s, a->attrs[2].s);
        ck_assert_int_eq(b->attrs[3].n, 2);
        ck_assert(b->attrs[3].floats[1] == -2.0f);
        ck_assert_ptr_ne(b->attrs[3].floats, a->attrs[3].floats);
        ck_assert(b->attrs[4].ints[2] == INT64_MIN);
        ck_assert_ptr_ne(b->attrs[4].ints, a->attrs[4].ints);
        ck_assert_str_eq(b->attrs[5].strings[1], "bc");
        ck_assert_ptr_ne(b->attrs[5].strings, a->attrs[5].strings);
        ck_assert_ptr_eq(b->attrs[6].t, t);     /* shared */
        ck_assert_int_eq(t->refs, 2);
        lg_graph_free(p);
        ck_assert_int_eq(t->refs, 1);
    }
    lg_graph_free(g);
}
END_TEST

/* --------------------------------------------------------------- cuts */

static void check_cut(const lg_cut *c, int after, int n, uint64_t bytes)
{
    ck_assert_int_eq(c->after, after);
    ck_assert_msg(c->n_tensors == n, "cut after %d: %d tensors, expected %d",
                  after, c->n_tensors, n);
    ck_assert_msg(c->bytes == bytes, "cut after %d: %llu bytes, expected "
                  "%llu", after, (unsigned long long)c->bytes,
                  (unsigned long long)bytes);
}

START_TEST(test_cuts_hand)
{
    const uint64_t B = D * 4;   /* one [1, D] float activation */
    lg_cut *c = NULL;
    int n = -1;
    lg_graph *g = diamond();
    ck_assert_int_eq(lg_cuts_all(g, &c, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 4);
    check_cut(&c[0], 0, 1, B);          /* a */
    check_cut(&c[1], 1, 2, 2 * B);      /* a (for C), b */
    check_cut(&c[2], 2, 2, 2 * B);      /* b, c */
    check_cut(&c[3], 3, 1, B);          /* d */
    free(c);
    ck_assert_int_eq(lg_cuts_candidates(g, &c, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(c[0].after, 0);
    ck_assert_int_eq(c[1].after, 3);
    free(c);
    lg_graph_free(g);

    g = residual(2, 0);
    ck_assert_int_eq(lg_cuts_all(g, &c, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 8);
    check_cut(&c[0], 0, 2, 2 * B);      /* x (skip), u0 */
    check_cut(&c[2], 2, 2, 2 * B);      /* x, w0 */
    check_cut(&c[3], 3, 1, B);          /* r0: between the blocks */
    check_cut(&c[5], 5, 2, 2 * B);      /* r0, v1 */
    check_cut(&c[7], 7, 1, B);          /* r1 */
    free(c);
    ck_assert_int_eq(lg_cuts_candidates(g, &c, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(c[0].after, 3);
    ck_assert_int_eq(c[1].after, 7);
    free(c);
    lg_graph_free(g);

    /* v0 is a graph output: it must reach the end, so it crosses every
     * cut after act_0, and no single-tensor cut is left */
    g = residual(2, 1);
    ck_assert_int_eq(lg_cuts_all(g, &c, &n, err, sizeof err), 0);
    check_cut(&c[0], 0, 2, 2 * B);
    check_cut(&c[1], 1, 2, 2 * B);      /* x, v0 */
    check_cut(&c[2], 2, 3, 3 * B);      /* x, w0, v0 */
    check_cut(&c[3], 3, 2, 2 * B);      /* r0, v0 */
    check_cut(&c[7], 7, 2, 2 * B);      /* r1, v0 */
    free(c);
    ck_assert_int_eq(lg_cuts_candidates(g, &c, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(c);
    lg_graph_free(g);
}
END_TEST

/* For every cut: the crossing set equals suffix inputs U prefix outputs,
 * by count and bytes, and the prefix outputs every graph output it makes. */
static void cuts_vs_extraction(lg_graph *g)
{
    lg_cut *c = NULL;
    int n = 0;
    ck_assert_int_eq(lg_cuts_all(g, &c, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, g->n_nodes - 1);
    for (int k = 0; k < n; k++) {
        lg_graph *pre = extract_range(g, 0, c[k].after);
        lg_graph *suf = extract_range(g, c[k].after + 1, g->n_nodes - 1);
        int cnt = 0;
        uint64_t bytes = 0;
        for (int i = 0; i < suf->n_inputs; i++) {
            cnt++;
            bytes += val_bytes(&suf->values[suf->inputs[i]]);
        }
        for (int i = 0; i < pre->n_outputs; i++) {
            const lg_value *v = &pre->values[pre->outputs[i]];
            if (has_name(suf, suf->inputs, suf->n_inputs, v->name))
                continue;
            cnt++;
            bytes += val_bytes(v);
        }
        ck_assert_msg(cnt == c[k].n_tensors && bytes == c[k].bytes,
                      "%s cut after %d: extraction says %d tensors/%llu "
                      "bytes, cuts say %d/%llu", g->name, c[k].after, cnt,
                      (unsigned long long)bytes, c[k].n_tensors,
                      (unsigned long long)c[k].bytes);
        for (int o = 0; o < g->n_outputs; o++) {
            const lg_value *v = &g->values[g->outputs[o]];
            if (v->producer >= 0 && v->producer <= c[k].after)
                ck_assert(has_name(pre, pre->outputs, pre->n_outputs,
                                   v->name));
        }
        lg_graph_free(pre);
        lg_graph_free(suf);
    }
    free(c);
}

START_TEST(test_cuts_match_extraction)
{
    lg_graph *gs[4] = {chain(), diamond(), residual(3, 0), residual(2, 1)};
    for (int i = 0; i < 4; i++) {
        cuts_vs_extraction(gs[i]);
        lg_graph_free(gs[i]);
    }
}
END_TEST

START_TEST(test_cuts_small)
{
    lg_graph *g = new_graph("one");
    static const int64_t xd[2] = {1, D};
    lg_cut *c = (lg_cut *)1;
    int n = -1, b[2];
    input(g, "x", 2, xd);
    node(g, "r", "Relu", "x", "y");
    output(g, "y");
    prepare(g);
    ck_assert_int_eq(lg_cuts_all(g, &c, &n, err, sizeof err), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(lg_partition_balanced(g, 1, b, err, sizeof err), 0);
    ck_assert_int_eq(b[0], 0);
    ck_assert_int_lt(lg_partition_balanced(g, 2, b, err, sizeof err), 0);
    ck_assert_int_lt(lg_partition_balanced(g, 0, b, err, sizeof err), 0);
    lg_graph_free(g);
}
END_TEST

/* ----------------------------------------------------------- balanced */

START_TEST(test_balanced)
{
    int b[8];
    /* 4 residual blocks (equal FLOPs each) + a cheap Relu: 2 pieces must
     * split between blocks 1 and 2, 4 pieces at every block boundary */
    lg_graph *g = residual(4, 0);
    ck_assert_int_eq(lg_partition_balanced(g, 2, b, err, sizeof err), 0);
    ck_assert_int_eq(b[0], 0);
    ck_assert_int_eq(b[1], 8);
    ck_assert_int_eq(lg_partition_balanced(g, 4, b, err, sizeof err), 0);
    ck_assert_int_eq(b[0], 0);
    ck_assert_int_eq(b[1], 4);
    ck_assert_int_eq(b[2], 8);
    ck_assert_int_eq(b[3], 12);
    lg_graph_free(g);
    g = residual(1, 0);         /* as many pieces as nodes: one each */
    ck_assert_int_eq(lg_partition_balanced(g, 5, b, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(b[i], i);
    lg_graph_free(g);

    g = chain();                /* mm0 r0 mm1 r1: the MatMuls dominate */
    ck_assert_int_eq(lg_partition_balanced(g, 2, b, err, sizeof err), 0);
    ck_assert_int_eq(b[1], 2);
    ck_assert_int_eq(lg_partition_balanced(g, 4, b, err, sizeof err), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(b[i], i);
    lg_graph_free(g);
}
END_TEST

/* --------------------------------------------------------- save / load */

static void attr_eq(const lg_attr *a, const lg_attr *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert_int_eq(a->type, b->type);
    switch (a->type) {
    case LG_ATTR_FLOAT: ck_assert(a->f == b->f); break;
    case LG_ATTR_INT: ck_assert(a->i == b->i); break;
    case LG_ATTR_STRING:
        ck_assert_uint_eq(a->slen, b->slen);
        ck_assert(a->slen == 0 || memcmp(a->s, b->s, a->slen) == 0);
        break;
    case LG_ATTR_FLOATS:
        ck_assert_int_eq(a->n, b->n);
        ck_assert(a->n == 0 ||
                  memcmp(a->floats, b->floats, (size_t)a->n * 4) == 0);
        break;
    case LG_ATTR_INTS:
        ck_assert_int_eq(a->n, b->n);
        ck_assert(a->n == 0 ||
                  memcmp(a->ints, b->ints, (size_t)a->n * 8) == 0);
        break;
    case LG_ATTR_STRINGS:
        ck_assert_int_eq(a->n, b->n);
        for (int k = 0; k < a->n; k++)
            ck_assert_str_eq(a->strings[k], b->strings[k]);
        break;
    case LG_ATTR_TENSOR:
        ck_assert_int_eq(a->t->dtype, b->t->dtype);
        ck_assert(lg_shape_eq(&a->t->shape, &b->t->shape));
        ck_assert_uint_eq(a->t->nbytes, b->t->nbytes);
        ck_assert(memcmp(a->t->data, b->t->data, a->t->nbytes) == 0);
        break;
    default:
        ck_abort_msg("unexpected attribute type %d", a->type);
    }
}

static const char *vname(const lg_graph *g, int v)
{
    return v >= 0 ? g->values[v].name : "";
}

/* Compare g with what loading its saved bytes gives (before prepare:
 * nodes, attributes, inputs, outputs, constants). */
static lg_graph *round_trip(const lg_graph *g)
{
    void *buf = NULL;
    size_t len = 0;
    lg_graph *h = NULL;
    int rc = lg_onnx_save_buffer(g, &buf, &len, err, sizeof err);
    ck_assert_msg(rc == 0, "save: %s", err);
    ck_assert_uint_gt(len, 0);
    rc = lg_onnx_load_buffer(buf, len, NULL, NULL, &h, err, sizeof err);
    free(buf);
    ck_assert_msg(rc == 0, "load: %s", err);
    ck_assert_int_eq(h->opset, g->opset);
    ck_assert_int_ge(h->ir_version, 8);
    ck_assert_int_eq(h->n_nodes, g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *a = &g->nodes[i], *b = &h->nodes[i];
        ck_assert_str_eq(a->name, b->name);
        ck_assert_str_eq(a->op, b->op);
        ck_assert_int_eq(a->n_in, b->n_in);
        ck_assert_int_eq(a->n_out, b->n_out);
        for (int k = 0; k < a->n_in; k++)
            ck_assert_str_eq(vname(g, a->in[k]), vname(h, b->in[k]));
        for (int k = 0; k < a->n_out; k++)
            ck_assert_str_eq(vname(g, a->out[k]), vname(h, b->out[k]));
        ck_assert_int_eq(a->n_attrs, b->n_attrs);
        for (int k = 0; k < a->n_attrs; k++)
            attr_eq(&a->attrs[k], &b->attrs[k]);
    }
    ck_assert_int_eq(h->n_inputs, g->n_inputs);
    for (int k = 0; k < g->n_inputs; k++) {
        const lg_value *a = &g->values[g->inputs[k]];
        const lg_value *b = &h->values[h->inputs[k]];
        ck_assert_str_eq(a->name, b->name);
        ck_assert_int_eq(a->dtype, b->dtype);
        ck_assert(b->has_shape);
        ck_assert(lg_shape_eq(&a->shape, &b->shape));
    }
    ck_assert_int_eq(h->n_outputs, g->n_outputs);
    for (int k = 0; k < g->n_outputs; k++)
        ck_assert_str_eq(g->values[g->outputs[k]].name,
                         h->values[h->outputs[k]].name);
    /* Every constant a node reads or the graph outputs came back, with its
     * bytes and its flag; nothing else did. */
    for (int v = 0; v < g->n_values; v++) {
        const lg_value *a = &g->values[v];
        int hv = lg_graph_find(h, a->name);
        int used = a->is_output || a->n_consumers > 0;
        if (a->kind != LG_VAL_CONST)
            continue;
        if (!used) {
            ck_assert(hv < 0 || h->values[hv].kind != LG_VAL_CONST);
            continue;
        }
        ck_assert_msg(hv >= 0, "constant '%s' lost", a->name);
        ck_assert_int_eq(h->values[hv].kind, LG_VAL_CONST);
        ck_assert_int_eq(h->values[hv].initializer, a->initializer);
        ck_assert_int_eq(h->values[hv].konst->dtype, a->konst->dtype);
        ck_assert(lg_shape_eq(&h->values[hv].konst->shape,
                              &a->konst->shape));
        ck_assert(memcmp(h->values[hv].konst->data, a->konst->data,
                         a->konst->nbytes) == 0);
    }
    return h;
}

START_TEST(test_save_round_trip)
{
    lg_graph *gs[3] = {diamond(), residual(2, 1), chain()};
    for (int i = 0; i < 3; i++) {
        lg_graph *g = gs[i], *h;
        lg_cut *c;
        int n;
        h = round_trip(g);
        /* prepared again, it has the same shapes and costs */
        ck_assert_int_eq(lg_graph_infer(h, NULL, err, sizeof err), 0);
        ck_assert_uint_eq(lg_graph_flops(h), lg_graph_flops(g));
        ck_assert_uint_eq(lg_graph_param_bytes(h), lg_graph_param_bytes(g));
        lg_graph_free(h);
        ck_assert_int_eq(lg_cuts_all(g, &c, &n, err, sizeof err), 0);
        for (int k = 0; k < n; k++) {
            lg_graph *pre = extract_range(g, 0, c[k].after);
            lg_graph *suf = extract_range(g, c[k].after + 1, g->n_nodes - 1);
            lg_graph_free(round_trip(pre));
            lg_graph_free(round_trip(suf));
            lg_graph_free(pre);
            lg_graph_free(suf);
        }
        free(c);
        lg_graph_free(g);
    }
}
END_TEST

/* Attributes of every type, a folded constant (not an initializer) read
 * by a node, and constant graph outputs (one initializer, one folded). */
START_TEST(test_save_consts_and_attrs)
{
    lg_graph *g = new_graph("consts");
    static const int64_t xd[2] = {1, D};
    lg_attr *at = calloc(6, sizeof *at);
    int64_t td[2] = {2, 2};
    lg_shape ts = lg_shape_make(2, td);
    lg_tensor *t = lg_tensor_new(LG_F32, &ts), *k = lg_tensor_new(LG_F32,
                                                                   &ts);
    lg_graph *h;
    ck_assert_ptr_nonnull(at);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(k);
    for (int i = 0; i < 4; i++) {
        ((float *)t->data)[i] = (float)i + 0.5f;
        ((float *)k->data)[i] = -(float)i;
    }
    input(g, "x", 2, xd);
    at[0].name = strdup("alpha"); at[0].type = LG_ATTR_FLOAT; at[0].f = 2.5f;
    at[1].name = strdup("mode"); at[1].type = LG_ATTR_STRING;
    at[1].s = malloc(4); memcpy(at[1].s, "a\0b", 4); at[1].slen = 3;
    at[2].name = strdup("fs"); at[2].type = LG_ATTR_FLOATS; at[2].n = 1;
    at[2].floats = malloc(sizeof(float)); at[2].floats[0] = 3.0f;
    at[3].name = strdup("is"); at[3].type = LG_ATTR_INTS; at[3].n = 0;
    at[4].name = strdup("ss"); at[4].type = LG_ATTR_STRINGS; at[4].n = 1;
    at[4].strings = malloc(sizeof(char *)); at[4].strings[0] = strdup("z");
    at[5].name = strdup("t"); at[5].type = LG_ATTR_TENSOR; at[5].t = t;
    weight(g, "W", D, D, 5);
    {
        int64_t bd[1] = {D};
        lg_shape bs = lg_shape_make(1, bd);
        lg_tensor *bias = lg_tensor_new(LG_F32, &bs);
        ck_assert_ptr_nonnull(bias);
        ((float *)bias->data)[1] = 1.0f;
        lg_graph_set_const(g, val(g, "folded_bias"), bias, 0);
    }
    lg_graph_set_const(g, val(g, "kout"), k, 1);
    lg_graph_set_const(g, val(g, "unused"), lg_tensor_ref(k), 1);
    node(g, "mm", "MatMul", "x,W", "a");
    node_attrs(g, "odd", "Relu", "a", "b", at, 6);
    node(g, "add", "Add", "b,folded_bias", "y");
    output(g, "y");
    output(g, "kout");
    output(g, "folded_bias");   /* read by a node and an output */
    prepare(g);
    h = round_trip(g);
    ck_assert_int_eq(lg_graph_infer(h, NULL, err, sizeof err), 0);
    lg_graph_free(h);
    lg_graph_free(g);
}
END_TEST

START_TEST(test_save_file_atomic)
{
    char dir[] = "/tmp/check_partition.XXXXXX", path[128], cmd[256];
    lg_graph *g = chain(), *h = NULL;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    ck_assert_int_eq(lg_onnx_save_file(g, path, err, sizeof err), 0);
    ck_assert_int_eq(lg_onnx_save_file(g, path, err, sizeof err), 0);
    ck_assert_int_eq(lg_onnx_load_file(path, NULL, &h, err, sizeof err), 0);
    ck_assert_int_eq(h->n_nodes, g->n_nodes);
    lg_graph_free(h);
    /* no temporary left behind */
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
    /* a directory that does not exist: an error, not a crash */
    snprintf(path, sizeof path, "%s/no/such/m.onnx", dir);
    ck_assert_int_lt(lg_onnx_save_file(g, path, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "no/such"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    lg_graph_free(g);
}
END_TEST

/* ------------------------------------------------- run partitions */

static lg_tensor *rand_input(const lg_value *v, unsigned seed)
{
    lg_tensor *t = lg_tensor_new(v->dtype, &v->shape);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < lg_tensor_numel(t); i++) {
        seed = seed * 1103515245u + 12345u;
        ((float *)t->data)[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return t;
}

/* Look name up in a small environment of named tensors. */
typedef struct env {
    const char *name[64];
    lg_tensor *t[64];
    int n;
} env;

static lg_tensor *env_get(const env *e, const char *name)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->name[i], name) == 0)
            return e->t[i];
    return NULL;
}

static void run_graph(const lg_graph *g, env *e)
{
    lg_exec *x = NULL;
    lg_tensor *in[16], *out[16];
    int rc = lg_exec_new(g, NULL, &x, err, sizeof err);
    ck_assert_msg(rc == 0, "exec_new: %s", err);
    ck_assert_int_le(g->n_inputs, 16);
    ck_assert_int_le(g->n_outputs, 16);
    for (int i = 0; i < g->n_inputs; i++) {
        in[i] = env_get(e, g->values[g->inputs[i]].name);
        ck_assert_msg(in[i] != NULL, "no tensor for '%s'",
                      g->values[g->inputs[i]].name);
    }
    rc = lg_exec_run(x, in, out, err, sizeof err);
    ck_assert_msg(rc == 0, "run: %s", err);
    for (int i = 0; i < g->n_outputs; i++) {
        ck_assert_int_lt(e->n, 64);
        e->name[e->n] = g->values[g->outputs[i]].name;
        e->t[e->n++] = out[i];
    }
    lg_exec_free(x);
}

static void env_free(env *e)
{
    for (int i = 0; i < e->n; i++)
        lg_tensor_unref(e->t[i]);
    e->n = 0;
}

START_TEST(test_run_partitions_bitwise)
{
    lg_graph *g = residual(3, 1);
    lg_tensor *x = rand_input(&g->values[g->inputs[0]], 42);
    env whole = {{0}, {0}, 0};
    lg_cut *c;
    int n;
    whole.name[0] = "x";
    whole.t[whole.n++] = lg_tensor_ref(x);
    run_graph(g, &whole);
    ck_assert_int_eq(lg_cuts_all(g, &c, &n, err, sizeof err), 0);
    for (int k = 0; k < n; k++) {
        lg_graph *pre = extract_range(g, 0, c[k].after);
        lg_graph *suf = extract_range(g, c[k].after + 1, g->n_nodes - 1);
        env e = {{0}, {0}, 0};
        e.name[0] = "x";
        e.t[e.n++] = lg_tensor_ref(x);
        run_graph(pre, &e);
        run_graph(suf, &e);
        for (int o = 0; o < g->n_outputs; o++) {
            const char *nm = g->values[g->outputs[o]].name;
            lg_tensor *a = env_get(&whole, nm), *b = env_get(&e, nm);
            ck_assert_msg(b != NULL, "cut %d: output '%s' missing", k, nm);
            ck_assert_uint_eq(a->nbytes, b->nbytes);
            ck_assert_msg(memcmp(a->data, b->data, a->nbytes) == 0,
                          "cut %d: output '%s' differs", k, nm);
        }
        env_free(&e);
        lg_graph_free(pre);
        lg_graph_free(suf);
    }
    free(c);
    env_free(&whole);
    lg_tensor_unref(x);
    lg_graph_free(g);
}
END_TEST

/* lg_exec_set_progress: one call per node, never backwards, ending at the
 * total, which is the graph's FLOPs. */
typedef struct prog {
    int calls;
    uint64_t last, total;
    int backwards;
} prog;

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
    prog *p = arg;
    p->backwards |= done < p->last || done > total;
    p->last = done;
    p->total = total;
    p->calls++;
}

START_TEST(test_run_progress)
{
    lg_graph *g = residual(3, 1);
    lg_tensor *x = rand_input(&g->values[g->inputs[0]], 7);
    lg_tensor *out[16];
    lg_exec *e = NULL;
    prog p = { 0, 0, 0, 0 };
    ck_assert_int_eq(lg_exec_new(g, NULL, &e, err, sizeof err), 0);
    lg_exec_set_progress(e, on_progress, &p);
    ck_assert_msg(lg_exec_run(e, &x, out, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.calls, g->n_nodes);
    ck_assert_int_eq(p.backwards, 0);
    ck_assert_uint_eq(p.last, p.total);
    ck_assert_uint_eq(p.total, lg_graph_flops(g));
    ck_assert_uint_gt(p.total, 0);
    for (int i = 0; i < g->n_outputs; i++)
        lg_tensor_unref(out[i]);
    lg_exec_set_progress(e, NULL, NULL);     /* off again: no more calls */
    ck_assert_int_eq(lg_exec_run(e, &x, out, err, sizeof err), 0);
    ck_assert_int_eq(p.calls, g->n_nodes);
    for (int i = 0; i < g->n_outputs; i++)
        lg_tensor_unref(out[i]);
    lg_exec_free(e);
    lg_tensor_unref(x);
    lg_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------- oracle */

static int have_python_onnx(void)
{
    return system(PY " -c 'import onnx' >/dev/null 2>&1") == 0;
}

static void onnx_check(const lg_graph *g, const char *dir, const char *nm)
{
    char path[256], cmd[512];
    int rc;
    snprintf(path, sizeof path, "%s/%s.onnx", dir, nm);
    rc = lg_onnx_save_file(g, path, err, sizeof err);
    ck_assert_msg(rc == 0, "save %s: %s", nm, err);
    snprintf(cmd, sizeof cmd, PY " -c \"import onnx,sys; "
             "onnx.checker.check_model(onnx.load(sys.argv[1]), "
             "full_check=True)\" '%s'", path);
    rc = system(cmd);
    ck_assert_msg(rc == 0, "onnx.checker rejects %s (%s)", nm, path);
}

START_TEST(test_oracle_onnx_checker)
{
    char dir[] = "/tmp/check_partition.XXXXXX", cmd[128];
    lg_graph *g;
    if (!have_python_onnx()) {
        fprintf(stderr, "check_partition: SKIP onnx.checker oracle: "
                PY " cannot import onnx\n");
        return;
    }
    ck_assert_ptr_nonnull(mkdtemp(dir));
    g = residual(2, 1);
    onnx_check(g, dir, "whole");
    {
        lg_graph *pre = extract_range(g, 0, 2), *suf = extract_range(g, 3, 8);
        static const int mid[] = {1, 2, 3};
        lg_graph *m = extract(g, mid, 3);
        onnx_check(pre, dir, "prefix");
        onnx_check(suf, dir, "suffix");
        onnx_check(m, dir, "middle");
        lg_graph_free(pre);
        lg_graph_free(suf);
        lg_graph_free(m);
    }
    lg_graph_free(g);
    /* constant outputs (initializer and folded) come out as nodes */
    g = new_graph("constout");
    {
        static const int64_t xd[2] = {1, D};
        int64_t kd[1] = {3};
        lg_shape ks = lg_shape_make(1, kd);
        lg_tensor *k = lg_tensor_new(LG_I64, &ks);
        ck_assert_ptr_nonnull(k);
        input(g, "x", 2, xd);
        weight(g, "W", D, D, 9);
        lg_graph_set_const(g, val(g, "k"), k, 0);
        node(g, "mm", "MatMul", "x,W", "y");
        output(g, "y");
        output(g, "W");
        output(g, "k");
        prepare(g);
        onnx_check(g, dir, "constout");
    }
    lg_graph_free(g);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ------------------------------------------------------------------ main */

int main(void)
{
    Suite *s = suite_create("partition");
    TCase *cv = tcase_create("convex");
    TCase *ex = tcase_create("extract");
    TCase *cu = tcase_create("cuts");
    TCase *sv = tcase_create("save");
    TCase *run = tcase_create("run");
    TCase *orc = tcase_create("oracle");
    SRunner *sr;
    int failed;

    tcase_add_test(cv, test_convex_diamond);
    tcase_add_test(cv, test_convex_invalid_sets);
    tcase_add_test(cv, test_convex_residual);
    tcase_add_test(ex, test_extract_diamond);
    tcase_add_test(ex, test_extract_residual_boundaries);
    tcase_add_test(ex, test_extract_attrs_deep);
    tcase_add_test(cu, test_cuts_hand);
    tcase_add_test(cu, test_cuts_match_extraction);
    tcase_add_test(cu, test_cuts_small);
    tcase_add_test(cu, test_balanced);
    tcase_add_test(sv, test_save_round_trip);
    tcase_add_test(sv, test_save_consts_and_attrs);
    tcase_add_test(sv, test_save_file_atomic);
    tcase_add_test(run, test_run_partitions_bitwise);
    tcase_add_test(run, test_run_progress);
    tcase_add_test(orc, test_oracle_onnx_checker);
    tcase_set_timeout(orc, 120);
    suite_add_tcase(s, cv);
    suite_add_tcase(s, ex);
    suite_add_tcase(s, cu);
    suite_add_tcase(s, sv);
    suite_add_tcase(s, run);
    suite_add_tcase(s, orc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
