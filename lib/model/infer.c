/*
 * infer.c - preparing a loaded graph: op resolution, static shape
 * inference, constant folding, dead-node removal and per-node costs.
 *
 * Folding makes the graph concrete for the bound input shapes: Shape of a
 * statically shaped tensor is a constant, and so is everything computed
 * from constants only (the Shape->Gather->Concat->Reshape chains that
 * exporters emit). What remains are the nodes that do real work, which is
 * what the planner partitions and the executor runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "lgerr.h"
#include "op.h"

static int resolve_ops(lg_graph *g, char *err, size_t errlen)
{
    char list[512];
    size_t off = 0;
    int bad = 0;
    list[0] = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        lg_node *n = &g->nodes[i];
        n->def = lg_op_find(n->domain, n->op);
        if (n->def)
            continue;
        /* Name each distinct unsupported op once, with its first node. */
        int seen = 0;
        for (int j = 0; j < i; j++)
            if (!g->nodes[j].def && strcmp(g->nodes[j].op, n->op) == 0 &&
                strcmp(g->nodes[j].domain, n->domain) == 0)
                seen = 1;
        if (seen)
            continue;
        bad++;
        if (off < sizeof list)
            off += (size_t)snprintf(list + off, sizeof list - off,
                                    "%s%s%s%s (node '%s')", bad > 1 ? ", " : "",
                                    n->domain, *n->domain ? "." : "", n->op,
                                    n->name);
    }
    if (bad)
        return lg_errf(err, errlen, LG_EUNSUP, "unsupported op%s: %s",
                       bad > 1 ? "s" : "", list);
    for (int i = 0; i < g->n_nodes; i++) {
        lg_node *n = &g->nodes[i];
        const lg_opdef *d = n->def;
        if (n->n_in < d->min_in || n->n_in > d->max_in ||
            n->n_out < d->min_out || n->n_out > d->max_out)
            return lg_errf(err, errlen, LG_EMODEL,
                           "node '%s' (%s) has %d inputs and %d outputs; "
                           "expected %d-%d and %d-%d", n->name, n->op,
                           n->n_in, n->n_out, d->min_in, d->max_in,
                           d->min_out, d->max_out);
        for (int k = 0; k < d->min_in && k < n->n_in; k++)
            if (n->in[k] < 0)
                return lg_errf(err, errlen, LG_EMODEL,
                               "node '%s' (%s): required input %d is empty",
                               n->name, n->op, k);
        /* Kernels write their required outputs unconditionally. */
        for (int k = 0; k < d->min_out && k < n->n_out; k++)
            if (n->out[k] < 0)
                return lg_errf(err, errlen, LG_EMODEL,
                               "node '%s' (%s): required output %d is empty",
                               n->name, n->op, k);
    }
    return 0;
}

/* Shape and Size of a statically shaped tensor: constants without data. */
static int fold_shape_op(lg_graph *g, lg_node *n, char *err, size_t errlen)
{
    const lg_value *x = lg_in(g, n, 0);
    lg_shape s;
    lg_tensor *t;
    memset(&s, 0, sizeof s);
    if (strcmp(n->op, "Size") == 0) {
        int64_t cnt;
        if (lg_shape_numel(&x->shape, &cnt) < 0)
            return lg_errf(err, errlen, LG_EMODEL, "node '%s': bad shape",
                           n->name);
        t = lg_tensor_new(LG_I64, &s);
        if (!t)
            return -ENOMEM;
        *(int64_t *)t->data = cnt;
    } else {
        int r = x->shape.rank;
        int64_t start = lg_attr_int(n, "start", 0);
        int64_t end = lg_attr_int(n, "end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        if (start < 0) start = 0;
        if (end > r) end = r;
        if (end < start) end = start;
        s.rank = 1;
        s.d[0] = end - start;
        t = lg_tensor_new(LG_I64, &s);
        if (!t)
            return -ENOMEM;
        for (int64_t i = start; i < end; i++)
            ((int64_t *)t->data)[i - start] = x->shape.d[i];
    }
    lg_graph_set_const(g, n->out[0], t, 0);
    return 0;
}

/* Folding runs at load time on untrusted models: a node whose outputs are
 * larger than this stays a run-time node instead of allocating now. */
#define FOLD_MAX_BYTES ((uint64_t)64 << 20)

static int foldable_size(const lg_graph *g, const lg_node *n)
{
    uint64_t total = 0;
    for (int k = 0; k < n->n_out; k++) {
        const lg_value *v = lg_out(g, n, k);
        size_t nb = 0;
        if (v && lg_shape_nbytes(&v->shape, v->dtype, &nb) < 0)
            return 0;
        total += nb;
    }
    return total <= FOLD_MAX_BYTES;
}

static int all_inputs_const(const lg_graph *g, const lg_node *n)
{
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && g->values[n->in[k]].kind != LG_VAL_CONST)
            return 0;
    return 1;
}

/* Remove nodes marked dead[i], then nodes whose outputs nobody needs. */
static void sweep(lg_graph *g, char *dead)
{
    lg_graph_link(g);
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        lg_node *n = &g->nodes[i];
        int used = 0;
        if (dead[i])
            continue;
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v >= 0 && (g->values[v].is_output ||
                           g->values[v].n_consumers > 0))
                used = 1;
        }
        if (!used) {
            dead[i] = 1;
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0)
                    g->values[n->in[k]].n_consumers--;
        }
    }
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (dead[i])
            lg_node_clear(&g->nodes[i]);
        else
            g->nodes[w++] = g->nodes[i];
    }
    g->n_nodes = w;
    lg_graph_link(g);
    /* Constants nobody reads any more (folded intermediates, weights of
     * removed nodes) release their memory now. */
    for (int v = 0; v < g->n_values; v++) {
        lg_value *val = &g->values[v];
        if (val->konst && val->n_consumers == 0 && !val->is_output) {
            lg_tensor_unref(val->konst);
            val->konst = NULL;
        }
    }
}

static void costs(lg_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lg_node *n = &g->nodes[i];
        n->bytes_read = n->bytes_written = n->param_bytes = 0;
        for (int k = 0; k < n->n_in; k++) {
            const lg_value *v = lg_in(g, n, k);
            size_t nb = 0;
            if (!v)
                continue;
            lg_shape_nbytes(&v->shape, v->dtype, &nb);
            n->bytes_read += nb;
            if (v->initializer)
                n->param_bytes += nb;
        }
        for (int k = 0; k < n->n_out; k++) {
            const lg_value *v = lg_out(g, n, k);
            size_t nb = 0;
            if (!v)
                continue;
            lg_shape_nbytes(&v->shape, v->dtype, &nb);
            n->bytes_written += nb;
        }
        if (n->def && n->def->flops) {
            n->flops = n->def->flops(g, n);
        } else {
            const lg_value *o = lg_out(g, n, 0);
            int64_t cnt = 0;
            if (o)
                lg_shape_numel(&o->shape, &cnt);
            n->flops = (uint64_t)cnt;
        }
    }
}

int lg_graph_infer(lg_graph *g, lg_fold_fn fold, char *err, size_t errlen)
{
    int rc;
    char *dead = NULL;

    if ((rc = lg_graph_toposort(g, err, errlen)) < 0)
        return rc;
    if ((rc = resolve_ops(g, err, errlen)) < 0)
        return rc;
    for (int k = 0; k < g->n_inputs; k++) {
        lg_value *v = &g->values[g->inputs[k]];
        if (!v->has_shape || v->dtype == LG_UNDEF)
            return lg_errf(err, errlen, LG_EMODEL,
                           "graph input '%s' has no static type and shape",
                           v->name);
    }
    dead = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), 1);
    if (!dead)
        return -ENOMEM;
    for (int i = 0; i < g->n_nodes; i++) {
        lg_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            const lg_value *v = lg_in(g, n, k);
            if (v && (!v->has_shape || v->dtype == LG_UNDEF)) {
                rc = lg_errf(err, errlen, LG_EMODEL,
                             "node '%s' (%s): input '%s' has no known type "
                             "and shape", n->name, n->op, v->name);
                goto out;
            }
        }
        if ((rc = n->def->shape(g, n, err, errlen)) < 0)
            goto out;
        for (int k = 0; k < n->n_out; k++) {
            const lg_value *v = lg_out(g, n, k);
            if (v && !v->has_shape) {
                rc = lg_errf(err, errlen, LG_EMODEL,
                             "node '%s' (%s): could not infer the shape of "
                             "output '%s'", n->name, n->op, v->name);
                goto out;
            }
        }
        if ((strcmp(n->op, "Shape") == 0 || strcmp(n->op, "Size") == 0)) {
            if ((rc = fold_shape_op(g, n, err, errlen)) < 0)
                goto out;
            dead[i] = 1;
        } else if (fold && !n->def->no_fold && all_inputs_const(g, n) &&
                   foldable_size(g, n)) {
            if ((rc = fold(g, i, err, errlen)) < 0)
                goto out;
            dead[i] = 1;
        }
    }
    sweep(g, dead);
    costs(g);
    g->prepared = 1;
out:
    free(dead);
    return rc;
}
