/*
 * check_jobplan.c - unit tests for lib/plan/jobplan.c: a job's plan built
 * from contiguous ranges must, when its parts are shipped as the daemon
 * ships them (ONNX bytes loaded back and prepared again) and run in order
 * with every input fed from where in_from says, reproduce the whole
 * graph's outputs bit for bit; its routing (in_from, dst, out_part) must
 * agree with what the parts read; its SHA-256s must be the bytes' and be
 * stable across builds; bad ranges and counts must be refused with a
 * message naming the part.
 *
 * Graphs: examples/tinynet.onnx (found through LG_SRCDIR, set by make
 * check) and a hand-built residual MLP whose routing is worked out on
 * paper in the comments.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "exec.h"
#include "graph.h"
#include "jobplan.h"
#include "lgerr.h"
#include "model.h"
#include "onnx_load.h"
#include "partition.h"
#include "tensor.h"

#define D 4                     /* feature width of the hand-built graphs */

static char err[512];

/* ------------------------------------------------------------ builders */

static int val(lg_graph *g, const char *name)
{
    int v = lg_graph_value(g, name);
    ck_assert_int_ge(v, 0);
    return v;
}

static void input(lg_graph *g, const char *name)
{
    static const int64_t xd[2] = {1, D};
    int v = val(g, name);
    g->values[v].dtype = LG_F32;
    g->values[v].shape = lg_shape_make(2, xd);
    g->values[v].has_shape = 1;
    ck_assert_int_eq(lg_graph_add_input(g, v), 0);
}

static void weight(lg_graph *g, const char *name, int seed)
{
    int64_t d[2] = {D, D};
    lg_shape s = lg_shape_make(2, d);
    lg_tensor *t = lg_tensor_new(LG_F32, &s);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < D * D; i++)
        ((float *)t->data)[i] = (float)((i * 7 + seed * 13) % 11 - 5) / 8.0f;
    lg_graph_set_const(g, val(g, name), t, 1);
}

static void node2(lg_graph *g, const char *name, const char *op,
                  const char *a, const char *b, const char *out)
{
    const char *in[2] = {a, b};
    int rc = lg_graph_add_node(g, name, op, "", b ? 2 : 1, in, 1, &out,
                               NULL, 0);
    ck_assert_int_ge(rc, 0);
}

static void output(lg_graph *g, const char *name)
{
    ck_assert_int_eq(lg_graph_add_output(g, val(g, name)), 0);
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

static void prepare(lg_graph *g)
{
    int rc = lg_graph_infer(g, lg_exec_fold, err, sizeof err);
    ck_assert_msg(rc == 0, "infer: %s", err);
}

/*
 * residual(nb): nb blocks of  h -> fc1_i(MatMul W1_i) -u_i-> act_i(Relu)
 * -v_i-> fc2_i(MatMul W2_i) -w_i-> add_i(h, w_i) -> r_i, then final(Relu)
 * -> y. Nodes: fc1_i = 4i, act_i = 4i+1, fc2_i = 4i+2, add_i = 4i+3,
 * final = 4nb. Outputs: y, then v0 (a graph output also read by fc2_0).
 * Value indices grow in creation order: x, W1_0, W2_0, u0, v0, w0, r0,
 * W1_1, ...
 */
static lg_graph *residual(int nb)
{
    lg_graph *g = new_graph("residual");
    char h[16] = "x";
    input(g, "x");
    for (int i = 0; i < nb; i++) {
        char w1[16], w2[16], u[16], v[16], w[16], r[16], nm[16];
        snprintf(w1, sizeof w1, "W1_%d", i);
        snprintf(w2, sizeof w2, "W2_%d", i);
        snprintf(u, sizeof u, "u%d", i);
        snprintf(v, sizeof v, "v%d", i);
        snprintf(w, sizeof w, "w%d", i);
        snprintf(r, sizeof r, "r%d", i);
        weight(g, w1, 10 + i);
        weight(g, w2, 20 + i);
        snprintf(nm, sizeof nm, "fc1_%d", i);
        node2(g, nm, "MatMul", h, w1, u);
        snprintf(nm, sizeof nm, "act_%d", i);
        node2(g, nm, "Relu", u, NULL, v);
        snprintf(nm, sizeof nm, "fc2_%d", i);
        node2(g, nm, "MatMul", v, w2, w);
        snprintf(nm, sizeof nm, "add_%d", i);
        node2(g, nm, "Add", h, w, r);
        snprintf(h, sizeof h, "%s", r);
    }
    node2(g, "final", "Relu", h, NULL, "y");
    output(g, "y");
    output(g, "v0");
    prepare(g);
    ck_assert_int_eq(g->n_nodes, 4 * nb + 1);
    return g;
}

static lg_graph *tinynet(void)
{
    const char *src = getenv("LG_SRCDIR");
    char path[4096];
    lg_graph *g = NULL;
    int rc;
    snprintf(path, sizeof path, "%s/examples/tinynet.onnx", src ? src : ".");
    rc = lg_model_open(path, NULL, &g, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", path, err);
    ck_assert_int_ge(g->n_nodes, 8);
    return g;
}

/* A deterministic input for each of g's inputs (f32 only). */
static lg_tensor **make_inputs(const lg_graph *g, int seed)
{
    lg_tensor **in = calloc((size_t)g->n_inputs + 1, sizeof *in);
    ck_assert_ptr_nonnull(in);
    for (int k = 0; k < g->n_inputs; k++) {
        const lg_value *v = &g->values[g->inputs[k]];
        ck_assert_int_eq(v->dtype, LG_F32);
        in[k] = lg_tensor_new(LG_F32, &v->shape);
        ck_assert_ptr_nonnull(in[k]);
        for (int64_t i = 0; i < lg_tensor_numel(in[k]); i++)
            ((float *)in[k]->data)[i] =
                (float)((i * 37 + seed * 11 + k * 5) % 101 - 50) / 25.0f;
    }
    return in;
}

static void free_tensors(lg_tensor **t, int n)
{
    for (int k = 0; t && k < n; k++)
        lg_tensor_unref(t[k]);
    free(t);
}

/* Run a prepared graph on in[], returning its outputs. */
static lg_tensor **run_graph(const lg_graph *g, lg_tensor *const *in)
{
    lg_exec_opts eo = {NULL, 2};
    lg_exec *x = NULL;
    lg_tensor **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    int rc;
    ck_assert_ptr_nonnull(out);
    rc = lg_exec_new(g, &eo, &x, err, sizeof err);
    ck_assert_msg(rc == 0, "exec_new: %s", err);
    rc = lg_exec_run(x, in, out, err, sizeof err);
    ck_assert_msg(rc == 0, "exec_run: %s", err);
    lg_exec_free(x);
    return out;
}

static int name_in(char *const *names, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (strcmp(names[k], name) == 0)
            return k;
    return -1;
}

static int out_index(const jp_part *pt, const char *name)
{
    for (int k = 0; k < pt->n_out; k++)
        if (strcmp(pt->out[k].name, name) == 0)
            return k;
    return -1;
}

static int has_dst(const jp_out *o, int node)
{
    for (int k = 0; k < o->n_dst; k++)
        if (o->dst[k] == node)
            return 1;
    return 0;
}

/* Structure and routing of a plan for g, checked independently of how
 * jobplan.c computes them. */
static void check_structure(const lg_graph *g, const jobplan *p,
                            const int *node, int n_parts, int ctl)
{
    ck_assert_int_eq(p->n_parts, n_parts);
    ck_assert_int_eq(p->ctl, ctl);
    for (int i = 0; i < n_parts; i++) {
        const jp_part *pt = &p->parts[i];
        unsigned char md[SHA256_DIGEST_LENGTH];
        char hex[65];
        ck_assert_int_eq(pt->node, node[i]);
        ck_assert_int_eq(pt->first, i ? p->parts[i - 1].last + 1 : 0);
        ck_assert_int_le(pt->first, pt->last);
        /* sha256 is the bytes' (OpenSSL's one-shot SHA256) */
        ck_assert_ptr_nonnull(pt->onnx);
        ck_assert_uint_gt(pt->onnx_len, 0);
        SHA256(pt->onnx, pt->onnx_len, md);
        for (int k = 0; k < SHA256_DIGEST_LENGTH; k++)
            snprintf(hex + 2 * k, 3, "%02x", md[k]);
        ck_assert_str_eq(pt->sha256, hex);
        /* inputs: from the controller iff a graph input; from an earlier
         * part that outputs it with this part's node among its dsts */
        for (int k = 0; k < pt->n_in; k++) {
            int v = lg_graph_find(g, pt->in[k]);
            ck_assert_int_ge(v, 0);
            if (pt->in_from[k] < 0) {
                ck_assert_int_eq(pt->in_from[k], -1);
                ck_assert_int_eq(g->values[v].kind, LG_VAL_INPUT);
            } else {
                const jp_part *src;
                int o, prod = g->values[v].producer;
                ck_assert_int_lt(pt->in_from[k], i);
                src = &p->parts[pt->in_from[k]];
                ck_assert_int_ge(prod, src->first);
                ck_assert_int_le(prod, src->last);
                o = out_index(src, pt->in[k]);
                ck_assert_msg(o >= 0, "part %d reads '%s' from part %d, "
                              "which does not output it", i, pt->in[k],
                              pt->in_from[k]);
                ck_assert_msg(has_dst(&src->out[o], pt->node), "part %d's "
                              "output '%s' does not go to node %d",
                              pt->in_from[k], pt->in[k], pt->node);
            }
        }
        /* outputs: dst sorted, unique, each entry justified, complete */
        for (int k = 0; k < pt->n_out; k++) {
            const jp_out *o = &pt->out[k];
            int v = lg_graph_find(g, o->name), is_out = 0;
            ck_assert_int_ge(v, 0);
            ck_assert_int_ge(g->values[v].producer, pt->first);
            ck_assert_int_le(g->values[v].producer, pt->last);
            for (int m = 0; m < g->n_outputs; m++)
                if (g->outputs[m] == v)
                    is_out = 1;
            ck_assert_int_ge(o->n_dst, 1);
            for (int m = 1; m < o->n_dst; m++)
                ck_assert_int_lt(o->dst[m - 1], o->dst[m]);
            if (is_out)
                ck_assert(has_dst(o, ctl));
            for (int m = 0; m < o->n_dst; m++) {
                int why = is_out && o->dst[m] == ctl;
                for (int j = i + 1; j < n_parts; j++)
                    if (p->parts[j].node == o->dst[m] &&
                        name_in(p->parts[j].in, p->parts[j].n_in,
                                o->name) >= 0)
                        why = 1;
                ck_assert_msg(why, "part %d sends '%s' to node %d, which "
                              "neither reads it nor is the controller", i,
                              o->name, o->dst[m]);
            }
        }
    }
    ck_assert_int_eq(p->parts[n_parts - 1].last, g->n_nodes - 1);
    ck_assert_int_eq(p->n_outputs, g->n_outputs);
    for (int k = 0; k < g->n_outputs; k++) {
        const jp_part *pt = &p->parts[p->out_part[k]];
        int prod = g->values[g->outputs[k]].producer;
        ck_assert_str_eq(p->outputs[k], g->values[g->outputs[k]].name);
        ck_assert_int_ge(prod, pt->first);
        ck_assert_int_le(prod, pt->last);
        ck_assert_int_ge(out_index(pt, p->outputs[k]), 0);
    }
}

/* Ship and run: load each part's bytes, prepare, run in order feeding
 * inputs by name from where in_from says; memcmp the graph outputs with
 * the whole run of g on the same inputs. */
static void simulate(const lg_graph *g, const jobplan *p, int seed)
{
    lg_tensor **in = make_inputs(g, seed);
    lg_tensor **ref = run_graph(g, in);
    lg_tensor **outs[JOBPLAN_MAX_PARTS] = {0};

    for (int i = 0; i < p->n_parts; i++) {
        const jp_part *pt = &p->parts[i];
        lg_graph *h = NULL;
        lg_tensor **pin;
        int rc = lg_onnx_load_buffer(pt->onnx, pt->onnx_len, NULL, NULL, &h,
                                     err, sizeof err);
        ck_assert_msg(rc == 0, "part %d: load: %s", i, err);
        rc = lg_graph_infer(h, lg_exec_fold, err, sizeof err);
        ck_assert_msg(rc == 0, "part %d: prepare: %s", i, err);
        /* the lists name the shipped graph's inputs/outputs in order */
        ck_assert_int_eq(h->n_inputs, pt->n_in);
        ck_assert_int_eq(h->n_outputs, pt->n_out);
        ck_assert_int_eq(h->n_nodes, pt->last - pt->first + 1);
        pin = calloc((size_t)pt->n_in + 1, sizeof *pin);
        ck_assert_ptr_nonnull(pin);
        for (int k = 0; k < pt->n_in; k++) {
            ck_assert_str_eq(h->values[h->inputs[k]].name, pt->in[k]);
            if (pt->in_from[k] < 0) {
                int m;
                for (m = 0; m < g->n_inputs; m++)
                    if (strcmp(g->values[g->inputs[m]].name, pt->in[k]) == 0)
                        break;
                ck_assert_msg(m < g->n_inputs, "part %d: '%s' is no graph "
                              "input", i, pt->in[k]);
                pin[k] = in[m];
            } else {
                const jp_part *src = &p->parts[pt->in_from[k]];
                int o = out_index(src, pt->in[k]);
                ck_assert_int_ge(o, 0);
                ck_assert_ptr_nonnull(outs[pt->in_from[k]]);
                pin[k] = outs[pt->in_from[k]][o];
            }
        }
        for (int k = 0; k < pt->n_out; k++)
            ck_assert_str_eq(h->values[h->outputs[k]].name, pt->out[k].name);
        outs[i] = run_graph(h, pin);
        free(pin);
        lg_graph_free(h);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const jp_part *pt = &p->parts[p->out_part[k]];
        int o = out_index(pt, p->outputs[k]);
        const lg_tensor *t;
        ck_assert_int_ge(o, 0);
        t = outs[p->out_part[k]][o];
        ck_assert_int_eq(t->dtype, ref[k]->dtype);
        ck_assert(lg_shape_eq(&t->shape, &ref[k]->shape));
        ck_assert_uint_eq(t->nbytes, ref[k]->nbytes);
        ck_assert_msg(memcmp(t->data, ref[k]->data, t->nbytes) == 0,
                      "output '%s' differs from the whole graph's",
                      p->outputs[k]);
    }
    for (int i = 0; i < p->n_parts; i++)
        free_tensors(outs[i], p->parts[i].n_out);
    free_tensors(ref, g->n_outputs);
    free_tensors(in, g->n_inputs);
}

/* Bounds b[0..k) (first node of each part) into first/last. */
static void ranges(const lg_graph *g, const int *b, int k, int *first,
                   int *last)
{
    for (int i = 0; i < k; i++) {
        first[i] = b[i];
        last[i] = i + 1 < k ? b[i + 1] - 1 : g->n_nodes - 1;
    }
}

static void build_ok(const lg_graph *g, const int *first, const int *last,
                     const int *node, int k, int ctl, jobplan **p)
{
    int rc;
    err[0] = 0;
    rc = jobplan_build(g, first, last, node, k, ctl, p, err, sizeof err);
    ck_assert_msg(rc == 0, "jobplan_build: %s", err);
    ck_assert_ptr_nonnull(*p);
}

/* ---------------------------------------------------------------- tests */

/* tinynet: 2..4 parts at several split points, shipped and run. */
START_TEST(test_tinynet_split_run)
{
    lg_graph *g = tinynet();
    int n = g->n_nodes, runs = 0;
    static const int node[4] = {3, 1, 4, 2};
    for (int k = 2; k <= 4; k++)
        for (int shift = -2; shift <= 2; shift += 2) {
            int b[4], first[4], last[4];
            jobplan *p = NULL;
            b[0] = 0;
            for (int i = 1; i < k; i++) {
                b[i] = n * i / k + shift * i;
                if (b[i] <= b[i - 1])
                    b[i] = b[i - 1] + 1;
            }
            ck_assert_int_lt(b[k - 1], n);
            ranges(g, b, k, first, last);
            build_ok(g, first, last, node, k, 0, &p);
            check_structure(g, p, node, k, 0);
            simulate(g, p, 1 + k + shift);
            jobplan_free(p);
            runs++;
        }
    /* the extreme cuts: a single first node, a single last node */
    {
        int first[2] = {0, 1}, last[2] = {0, n - 1};
        jobplan *p = NULL;
        build_ok(g, first, last, node, 2, 7, &p);
        check_structure(g, p, node, 2, 7);
        simulate(g, p, 5);
        jobplan_free(p);
        first[1] = n - 1;
        last[0] = n - 2;
        build_ok(g, first, last, node, 2, 7, &p);
        check_structure(g, p, node, 2, 7);
        simulate(g, p, 6);
        jobplan_free(p);
    }
    ck_assert_int_eq(runs, 9);
    lg_graph_free(g);
}
END_TEST

/* residual(3), every 2-way cut and all 3-way cuts: shipped and run. */
START_TEST(test_residual_all_cuts_run)
{
    lg_graph *g = residual(3);
    int n = g->n_nodes;
    static const int node[3] = {2, 2, 5};
    for (int a = 1; a < n; a++) {
        int first[2] = {0, a}, last[2] = {a - 1, n - 1};
        jobplan *p = NULL;
        build_ok(g, first, last, node, 2, 9, &p);
        check_structure(g, p, node, 2, 9);
        simulate(g, p, a);
        jobplan_free(p);
        for (int b = a + 1; b < n; b++) {
            int f3[3] = {0, a, b}, l3[3] = {a - 1, b - 1, n - 1};
            build_ok(g, f3, l3, node, 3, 0, &p);
            check_structure(g, p, node, 3, 0);
            simulate(g, p, a * n + b);
            jobplan_free(p);
        }
    }
    {   /* one part: the whole graph, all inputs from the controller */
        int first = 0, last = n - 1, one = 4;
        jobplan *p = NULL;
        build_ok(g, &first, &last, &one, 1, 4, &p);
        check_structure(g, p, &one, 1, 4);
        ck_assert_int_eq(p->parts[0].n_in, 1);
        ck_assert_str_eq(p->parts[0].in[0], "x");
        ck_assert_int_eq(p->parts[0].in_from[0], -1);
        simulate(g, p, 3);
        jobplan_free(p);
    }
    lg_graph_free(g);
}
END_TEST

static void expect_out(const jp_part *pt, int k, const char *name, int n_dst,
                       int d0, int d1)
{
    ck_assert_int_lt(k, pt->n_out);
    ck_assert_str_eq(pt->out[k].name, name);
    ck_assert_int_eq(pt->out[k].n_dst, n_dst);
    ck_assert_int_eq(pt->out[k].dst[0], d0);
    if (n_dst > 1)
        ck_assert_int_eq(pt->out[k].dst[1], d1);
}

static void expect_in(const jp_part *pt, int k, const char *name, int from)
{
    ck_assert_int_lt(k, pt->n_in);
    ck_assert_str_eq(pt->in[k], name);
    ck_assert_int_eq(pt->in_from[k], from);
}

/*
 * Routing on paper, residual(2) (nodes fc1_0=0 act_0=1 fc2_0=2 add_0=3
 * fc1_1=4 act_1=5 fc2_1=6 add_1=7 final=8; outputs y, v0):
 *   P0 [0,1]: in x(-1); out v0 -> P1 (fc2_0) and the controller.
 *   P1 [2,5]: in x(-1), v0(P0); out r0 -> P2 (add_1), v1 -> P2 (fc2_1).
 *   P2 [6,8]: in r0(P1), v1(P1); out y -> the controller.
 */
START_TEST(test_routing_on_paper)
{
    lg_graph *g = residual(2);
    int first[3] = {0, 2, 6}, last[3] = {1, 5, 8};
    int node[3] = {5, 7, 7};
    jobplan *p = NULL;

    build_ok(g, first, last, node, 3, 3, &p);
    check_structure(g, p, node, 3, 3);
    ck_assert_int_eq(p->parts[0].n_in, 1);
    expect_in(&p->parts[0], 0, "x", -1);
    ck_assert_int_eq(p->parts[0].n_out, 1);
    expect_out(&p->parts[0], 0, "v0", 2, 3, 7);      /* ctl 3 < node 7 */
    ck_assert_int_eq(p->parts[1].n_in, 2);
    expect_in(&p->parts[1], 0, "x", -1);
    expect_in(&p->parts[1], 1, "v0", 0);
    ck_assert_int_eq(p->parts[1].n_out, 2);
    expect_out(&p->parts[1], 0, "r0", 1, 7, 0);
    expect_out(&p->parts[1], 1, "v1", 1, 7, 0);
    ck_assert_int_eq(p->parts[2].n_in, 2);
    expect_in(&p->parts[2], 0, "r0", 1);
    expect_in(&p->parts[2], 1, "v1", 1);
    ck_assert_int_eq(p->parts[2].n_out, 1);
    expect_out(&p->parts[2], 0, "y", 1, 3, 0);
    ck_assert_int_eq(p->n_outputs, 2);
    ck_assert_str_eq(p->outputs[0], "y");
    ck_assert_str_eq(p->outputs[1], "v0");
    ck_assert_int_eq(p->out_part[0], 2);
    ck_assert_int_eq(p->out_part[1], 0);
    simulate(g, p, 17);
    jobplan_free(p);

    /* the controller is the reader's node: v0 goes to node 7 once */
    build_ok(g, first, last, node, 3, 7, &p);
    check_structure(g, p, node, 3, 7);
    expect_out(&p->parts[0], 0, "v0", 1, 7, 0);
    jobplan_free(p);
    lg_graph_free(g);
}
END_TEST

/*
 * A value read by two later parts, residual(2):
 *   P0 [0,3]: out v0 -> ctl only (fc2_0 is inside P0), r0 -> P1 (fc1_1)
 *             and P2 (add_1).
 *   P1 [4,5]: in r0(P0); out v1 -> P2.
 *   P2 [6,8]: in r0(P0), v1(P1).
 * P1 and P2 on the same node: r0 goes there once; on different nodes: to
 * both, ascending whatever the part order.
 */
START_TEST(test_dst_dedup_and_order)
{
    lg_graph *g = residual(2);
    int first[3] = {0, 4, 6}, last[3] = {3, 5, 8};
    int same[3] = {0, 9, 9}, apart[3] = {0, 9, 8};
    jobplan *p = NULL;

    build_ok(g, first, last, same, 3, 1, &p);
    check_structure(g, p, same, 3, 1);
    ck_assert_int_eq(p->parts[0].n_out, 2);
    expect_out(&p->parts[0], 0, "v0", 1, 1, 0);
    expect_out(&p->parts[0], 1, "r0", 1, 9, 0);
    expect_in(&p->parts[1], 0, "r0", 0);
    expect_in(&p->parts[2], 0, "r0", 0);
    expect_in(&p->parts[2], 1, "v1", 1);
    simulate(g, p, 2);
    jobplan_free(p);

    build_ok(g, first, last, apart, 3, 1, &p);
    check_structure(g, p, apart, 3, 1);
    expect_out(&p->parts[0], 1, "r0", 2, 8, 9);
    jobplan_free(p);

    /* all on the controller's node: every dst list is just that node */
    {
        int all[3] = {6, 6, 6};
        build_ok(g, first, last, all, 3, 6, &p);
        check_structure(g, p, all, 3, 6);
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < p->parts[i].n_out; k++)
                expect_out(&p->parts[i], k, p->parts[i].out[k].name, 1, 6,
                           0);
        jobplan_free(p);
    }
    lg_graph_free(g);
}
END_TEST

/* Same ranges -> same bytes and hashes, whatever the placement; other
 * ranges -> other hashes. */
START_TEST(test_sha_deterministic)
{
    lg_graph *g = tinynet(), *g2 = tinynet();
    int n = g->n_nodes;
    int first[3] = {0, n / 3, 2 * n / 3}, last[3] = {n / 3 - 1,
                                                      2 * n / 3 - 1, n - 1};
    int na[3] = {1, 2, 3}, nb[3] = {7, 7, 0};
    jobplan *p = NULL, *q = NULL, *r = NULL;

    build_ok(g, first, last, na, 3, 0, &p);
    build_ok(g, first, last, nb, 3, 5, &q);
    build_ok(g2, first, last, na, 3, 0, &r);    /* loaded again */
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(p->parts[i].onnx_len, q->parts[i].onnx_len);
        ck_assert(memcmp(p->parts[i].onnx, q->parts[i].onnx,
                         p->parts[i].onnx_len) == 0);
        ck_assert_str_eq(p->parts[i].sha256, q->parts[i].sha256);
        ck_assert_str_eq(p->parts[i].sha256, r->parts[i].sha256);
        ck_assert_uint_eq(strlen(p->parts[i].sha256), 64);
        ck_assert_uint_eq(strspn(p->parts[i].sha256, "0123456789abcdef"),
                          64);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(p->parts[i].sha256, p->parts[j].sha256);
    }
    jobplan_free(q);
    /* moving a cut changes the two parts beside it only */
    first[1]++;
    last[0]++;
    build_ok(g, first, last, na, 3, 0, &q);
    ck_assert_str_ne(p->parts[0].sha256, q->parts[0].sha256);
    ck_assert_str_ne(p->parts[1].sha256, q->parts[1].sha256);
    ck_assert_str_eq(p->parts[2].sha256, q->parts[2].sha256);
    jobplan_free(p);
    jobplan_free(q);
    jobplan_free(r);
    lg_graph_free(g);
    lg_graph_free(g2);
}
END_TEST

/* A refused build: the code, *out NULL, the message naming `what`. */
static void expect_fail(const lg_graph *g, const int *first, const int *last,
                        const int *node, int k, int ctl, int code,
                        const char *what)
{
    jobplan *p = (jobplan *)&p;     /* must be reset to NULL */
    int rc;
    err[0] = 0;
    rc = jobplan_build(g, first, last, node, k, ctl, &p, err, sizeof err);
    ck_assert_msg(rc == code, "expected %d, got %d (%s)", code, rc, err);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err, what) != NULL, "message '%s' does not name "
                  "'%s'", err, what);
}

START_TEST(test_bad_ranges)
{
    lg_graph *g = residual(2);      /* 9 nodes */
    int node[JOBPLAN_MAX_PARTS + 1] = {0};
    int first[JOBPLAN_MAX_PARTS + 1], last[JOBPLAN_MAX_PARTS + 1];

    {   /* a gap between part 1 and part 2 */
        int f[3] = {0, 3, 6}, l[3] = {2, 4, 8};
        expect_fail(g, f, l, node, 3, 0, LG_EMODEL, "part 2 starts at node 6");
    }
    {   /* overlap */
        int f[3] = {0, 3, 3}, l[3] = {2, 4, 8};
        expect_fail(g, f, l, node, 3, 0, LG_EMODEL, "part 2 starts at node 3");
    }
    {   /* descending */
        int f[2] = {0, 5}, l[2] = {7, 8};
        expect_fail(g, f, l, node, 2, 0, LG_EMODEL, "part 1 starts at node 5");
    }
    {   /* an empty range */
        int f[3] = {0, 4, 4}, l[3] = {3, 3, 8};
        expect_fail(g, f, l, node, 3, 0, LG_EMODEL, "part 1's range [4, 3] "
                    "is empty");
    }
    {   /* not starting at 0 */
        int f[2] = {1, 4}, l[2] = {3, 8};
        expect_fail(g, f, l, node, 2, 0, LG_EMODEL, "part 0 starts at node 1");
    }
    {   /* not reaching the end */
        int f[2] = {0, 4}, l[2] = {3, 7};
        expect_fail(g, f, l, node, 2, 0, LG_EMODEL, "part 1 (the last) ends "
                    "at node 7");
    }
    {   /* out of range, both ways */
        int f[2] = {0, 4}, l[2] = {3, 9};
        expect_fail(g, f, l, node, 2, 0, LG_EMODEL, "part 1's range [4, 9] "
                    "lies outside");
        f[0] = -1;
        expect_fail(g, f, l, node, 2, 0, LG_EMODEL, "part 0's range [-1, 3]");
    }
    {   /* negative placement, negative controller */
        int f[2] = {0, 4}, l[2] = {3, 8}, nd[2] = {0, -3};
        expect_fail(g, f, l, nd, 2, 0, -EINVAL, "part 1 is placed on node -3");
        nd[1] = 1;
        expect_fail(g, f, l, nd, 2, -1, -EINVAL, "controller node -1");
    }
    /* part counts */
    for (int i = 0; i <= JOBPLAN_MAX_PARTS; i++)
        first[i] = last[i] = 0;
    expect_fail(g, first, last, node, 0, 0, -EINVAL, "0 parts");
    expect_fail(g, first, last, node, -2, 0, -EINVAL, "-2 parts");
    expect_fail(g, first, last, node, JOBPLAN_MAX_PARTS + 1, 0, -EINVAL,
                "65 parts");
    expect_fail(g, NULL, last, node, 1, 0, -EINVAL, "no node ranges");
    /* 64 parts is the limit, not an error of itself (here: more parts
     * than nodes, refused as non-contiguous at the first repeat) */
    expect_fail(g, first, last, node, JOBPLAN_MAX_PARTS, 0, LG_EMODEL,
                "part 1 starts at node 0");
    lg_graph_free(g);
}
END_TEST

/* 64 parts are accepted when the graph has the nodes for them. */
START_TEST(test_max_parts)
{
    lg_graph *g = residual(16);     /* 65 nodes */
    int first[JOBPLAN_MAX_PARTS], last[JOBPLAN_MAX_PARTS];
    int node[JOBPLAN_MAX_PARTS];
    jobplan *p = NULL;
    for (int i = 0; i < JOBPLAN_MAX_PARTS; i++) {
        first[i] = i;
        last[i] = i == JOBPLAN_MAX_PARTS - 1 ? g->n_nodes - 1 : i;
        node[i] = i % 5;
    }
    build_ok(g, first, last, node, JOBPLAN_MAX_PARTS, 2, &p);
    check_structure(g, p, node, JOBPLAN_MAX_PARTS, 2);
    simulate(g, p, 9);
    jobplan_free(p);
    lg_graph_free(g);
}
END_TEST

/* Graph outputs that no part produces are refused by name. */
START_TEST(test_output_not_produced)
{
    int f = 0, l = 0, nd = 0;
    lg_graph *g = new_graph("passthrough");
    input(g, "x");
    node2(g, "r", "Relu", "x", NULL, "y");
    output(g, "y");
    output(g, "x");
    prepare(g);
    ck_assert_int_eq(g->n_nodes, 1);
    expect_fail(g, &f, &l, &nd, 1, 0, LG_EUNSUP, "graph output 'x'");
    lg_graph_free(g);

    g = new_graph("folded");
    input(g, "x");
    weight(g, "W", 3);
    node2(g, "r", "Relu", "x", NULL, "y");
    node2(g, "c", "Relu", "W", NULL, "k");      /* folded at prepare */
    output(g, "y");
    output(g, "k");
    prepare(g);
    ck_assert_int_eq(g->n_nodes, 1);
    expect_fail(g, &f, &l, &nd, 1, 0, LG_EUNSUP, "graph output 'k'");
    lg_graph_free(g);
}
END_TEST

/* Balanced: contiguous cover, the ranges lg_partition_balanced gives,
 * bit-exact when run. */
START_TEST(test_balanced)
{
    lg_graph *g = tinynet();
    static const int node[4] = {4, 3, 2, 1};
    for (int k = 1; k <= 4; k++) {
        int b[4];
        jobplan *p = NULL;
        int rc = jobplan_build_balanced(g, node, k, 0, &p, err, sizeof err);
        ck_assert_msg(rc == 0, "balanced %d: %s", k, err);
        ck_assert_int_eq(lg_partition_balanced(g, k, b, err, sizeof err), 0);
        for (int i = 0; i < k; i++)
            ck_assert_int_eq(p->parts[i].first, b[i]);
        check_structure(g, p, node, k, 0);
        simulate(g, p, 40 + k);
        jobplan_free(p);
    }
    {   /* refused: too many parts for the graph, or for a plan */
        lg_graph *r = residual(1);          /* 5 nodes */
        jobplan *p = (jobplan *)&p;
        int nd[JOBPLAN_MAX_PARTS + 1] = {0};
        ck_assert_int_eq(jobplan_build_balanced(r, nd, 6, 0, &p, err,
                                                sizeof err), -EINVAL);
        ck_assert_ptr_null(p);
        ck_assert_ptr_nonnull(strstr(err, "into 6 parts"));
        ck_assert_int_eq(jobplan_build_balanced(r, nd, 0, 0, &p, err,
                                                sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "0 parts"));
        ck_assert_int_eq(jobplan_build_balanced(r, nd, JOBPLAN_MAX_PARTS + 1,
                                                0, &p, err, sizeof err),
                         -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "65 parts"));
        lg_graph_free(r);
    }
    jobplan_free(NULL);
    lg_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------------ main */

int main(void)
{
    Suite *s = suite_create("jobplan");
    TCase *run = tcase_create("run");
    TCase *route = tcase_create("route");
    TCase *bad = tcase_create("bad");
    SRunner *sr;
    int nf;

    tcase_add_test(run, test_tinynet_split_run);
    tcase_add_test(run, test_residual_all_cuts_run);
    tcase_add_test(run, test_balanced);
    tcase_add_test(run, test_max_parts);
    tcase_add_test(route, test_routing_on_paper);
    tcase_add_test(route, test_dst_dedup_and_order);
    tcase_add_test(route, test_sha_deterministic);
    tcase_add_test(bad, test_bad_ranges);
    tcase_add_test(bad, test_output_not_produced);
    tcase_set_timeout(run, 300);
    suite_add_tcase(s, run);
    suite_add_tcase(s, route);
    suite_add_tcase(s, bad);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
