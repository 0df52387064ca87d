/*
 * plan_model.c - the planner's view of a model: coarse groups of graph
 * nodes in topological order, the runtime tensors between them, and the
 * per-group costs that the cost model turns into seconds on a node.
 *
 * Coarsening is deliberately conservative: a node joins its predecessor's
 * group only when it is a cheap elementwise or data-movement op whose one
 * runtime input is the predecessor's output, read by nobody else, and it
 * writes no more bytes than it reads. Cutting before such a node can never
 * move fewer bytes than cutting after it, so the optimum over the coarse
 * cuts loses nothing that matters (a Conv -> Relu, a Reshape, a bias Add).
 *
 * Weights are kept per initializer (plan_model.w_bytes, gw): a tensor that
 * several graph nodes or groups read is one tensor, counted once per group
 * and once per node by the evaluator, not once per reader.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "lgerr.h"
#include "plan.h"

static const char *const conv_ops[] = {"Conv", "ConvTranspose", NULL};
static const char *const gemm_ops[] = {"MatMul", "Gemm", "MatMulInteger",
                                       "Einsum", NULL};
static const char *const elem_ops[] = {
    "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Clip", "Exp",
    "Log", "Sqrt", "Pow", "Erf", "Gelu", "HardSigmoid", "HardSwish",
    "LeakyRelu", "Elu", "Selu", "Softplus", "BatchNormalization",
    "LayerNormalization", "InstanceNormalization", "Softmax", "LogSoftmax",
    "Neg", "Abs", "Where", "Equal", "Less", "Greater", "Not", "And", "Or",
    "Cast", "Reciprocal", "Min", "Max", "Sum", "Mean", "Dropout", "Identity",
    "PRelu", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign", NULL};
/* Ops that only reinterpret or copy their input: free to absorb. */
static const char *const view_ops[] = {
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout",
    NULL};

static int in_list(const char *const *l, const char *op)
{
    for (; *l; l++)
        if (!strcmp(*l, op))
            return 1;
    return 0;
}

static enum plan_opclass op_class(const char *op)
{
    if (in_list(conv_ops, op))
        return PLAN_OC_CONV;
    if (in_list(gemm_ops, op))
        return PLAN_OC_GEMM;
    if (in_list(elem_ops, op))
        return PLAN_OC_ELEM;
    return PLAN_OC_OTHER;
}

static uint64_t value_bytes(const lg_value *v)
{
    size_t nb = 0;
    if (!v->has_shape || lg_shape_nbytes(&v->shape, v->dtype, &nb) != 0)
        return 0;
    return nb;
}

static int is_runtime(const lg_value *v)
{
    return v->kind != LG_VAL_CONST;
}

/* May graph node i join the group of node i - 1? */
static int absorbable(const lg_graph *g, int i)
{
    const lg_node *n = &g->nodes[i];
    enum plan_opclass c = op_class(n->op);
    int rt = -1;
    uint64_t outb = 0;

    if (i == 0 || (c != PLAN_OC_ELEM && !in_list(view_ops, n->op)))
        return 0;
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0 || !is_runtime(&g->values[n->in[k]]))
            continue;
        if (rt >= 0 && rt != n->in[k])
            return 0;           /* two runtime inputs: a join, keep the cut */
        rt = n->in[k];
    }
    if (rt < 0 || g->values[rt].producer != i - 1 ||
        g->values[rt].n_consumers != 1 || g->values[rt].is_output)
        return 0;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0)
            outb += value_bytes(&g->values[n->out[k]]);
    return outb <= value_bytes(&g->values[rt]);
}

plan_model *plan_model_alloc(int n_grp, int n_ten, int n_cons_total)
{
    plan_model *m;
    if (n_grp < 0 || n_grp > PLAN_MAX_GROUPS || n_ten < 0 ||
        n_ten > 16 * PLAN_MAX_GROUPS || n_cons_total < 0 ||
        n_cons_total > 64 * PLAN_MAX_GROUPS)
        return NULL;
    m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n_grp = n_grp;
    m->n_ten = n_ten;
    m->n_cons_total = n_cons_total;
    m->grp = calloc((size_t)n_grp + 1, sizeof *m->grp);
    m->ten = calloc((size_t)n_ten + 1, sizeof *m->ten);
    m->cons = calloc((size_t)n_cons_total + 1, sizeof *m->cons);
    if (!m->grp || !m->ten || !m->cons) {
        plan_model_free(m);
        return NULL;
    }
    return m;
}

int plan_model_alloc_weights(plan_model *m, int n_w, int n_refs)
{
    if (n_w < 0 || n_w > 16 * PLAN_MAX_GROUPS || n_refs < 0 ||
        n_refs > 64 * PLAN_MAX_GROUPS)
        return -EINVAL;
    free(m->w_bytes);
    free(m->gw0);
    free(m->gw);
    m->n_w = n_w;
    m->w_bytes = calloc((size_t)n_w + 1, sizeof *m->w_bytes);
    m->gw0 = calloc((size_t)m->n_grp + 2, sizeof *m->gw0);
    m->gw = calloc((size_t)n_refs + 1, sizeof *m->gw);
    if (!m->w_bytes || !m->gw0 || !m->gw) {
        free(m->w_bytes);
        free(m->gw0);
        free(m->gw);
        m->w_bytes = NULL;
        m->gw0 = m->gw = NULL;
        m->n_w = 0;
        return -ENOMEM;
    }
    return 0;
}

/* The weight lists: one initializer per group when none were given,
 * else check them and sum each group's param_bytes. */
static int finish_weights(plan_model *m, char *err, size_t errlen)
{
    int n = m->n_grp;
    if (!m->w_bytes) {
        free(m->gw0);
        free(m->gw);
        m->n_w = n;
        m->gw0 = malloc(((size_t)n + 2) * sizeof *m->gw0);
        m->gw = malloc(((size_t)n + 1) * sizeof *m->gw);
        if (!m->gw0 || !m->gw)
            return lg_errf(err, errlen, -ENOMEM, "out of memory");
        for (int g = 0; g <= n; g++)
            m->gw0[g] = g;
        for (int g = 0; g < n; g++)
            m->gw[g] = g;
        return 0;
    }
    if (!m->gw0 || !m->gw || m->gw0[0] != 0)
        return lg_errf(err, errlen, LG_EMODEL, "weight lists missing");
    for (int g = 0; g < n; g++) {
        uint64_t b = 0;
        if (m->gw0[g + 1] < m->gw0[g])
            return lg_errf(err, errlen, LG_EMODEL,
                           "group %d (%s): weight list ends before it "
                           "starts", g, m->grp[g].name);
        for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++) {
            int x = m->gw[k];
            if (x < 0 || x >= m->n_w || (k > m->gw0[g] && x <= m->gw[k - 1]))
                return lg_errf(err, errlen, LG_EMODEL,
                               "group %d (%s): initializer %d out of range "
                               "(%d) or the list not sorted", g,
                               m->grp[g].name, x, m->n_w);
            b += m->w_bytes[x];
        }
        m->grp[g].param_bytes = b;
    }
    return 0;
}

/* Does group g read initializer x? (its list is sorted) */
static int reads_weight(const plan_model *m, int g, int x)
{
    int lo = m->gw0[g], hi = m->gw0[g + 1];
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (m->gw[mid] == x)
            return 1;
        if (m->gw[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

uint64_t plan_model_weights(const plan_model *m, int g0, int g1)
{
    uint64_t b = 0;
    unsigned char *seen;
    if (g0 < 0)
        g0 = 0;
    if (g1 >= m->n_grp)
        g1 = m->n_grp - 1;
    if (g0 > g1 || !m->gw0)
        return 0;
    if (!m->w_bytes) {          /* one initializer per group */
        for (int g = g0; g <= g1; g++)
            b += m->grp[g].param_bytes;
        return b;
    }
    seen = calloc((size_t)m->n_w + 1, 1);
    for (int g = g0; g <= g1; g++)
        for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++) {
            int x = m->gw[k], dup = 0;
            if (seen) {
                dup = seen[x];
                seen[x] = 1;
            } else {            /* no scratch: search the earlier lists */
                for (int h = g0; h < g && !dup; h++)
                    dup = reads_weight(m, h, x);
            }
            if (!dup)
                b += m->w_bytes[x];
        }
    free(seen);
    return b;
}

void plan_model_free(plan_model *m)
{
    if (!m)
        return;
    free(m->w_bytes);
    free(m->gw0);
    free(m->gw);
    free(m->grp);
    free(m->ten);
    free(m->cons);
    free(m->gin0);
    free(m->gin);
    free(m->cut);
    free(m);
}

int plan_model_finish(plan_model *m, char *err, size_t errlen)
{
    int n = m->n_grp;
    int64_t *diff;
    int *fill;

    free(m->gin0);
    free(m->gin);
    free(m->cut);
    m->gin0 = calloc((size_t)n + 2, sizeof *m->gin0);
    m->gin = calloc((size_t)m->n_cons_total + 1, sizeof *m->gin);
    m->cut = calloc((size_t)n + 1, sizeof *m->cut);
    diff = calloc((size_t)n + 2, sizeof *diff);
    fill = calloc((size_t)n + 1, sizeof *fill);
    if (!m->gin0 || !m->gin || !m->cut || !diff || !fill) {
        free(diff);
        free(fill);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    m->chain = 1;
    for (int t = 0; t < m->n_ten; t++) {
        const plan_tensor *x = &m->ten[t];
        int lo, hi;
        if (x->producer < -1 || x->producer >= n || x->cons0 < 0 ||
            x->n_cons < 0 || x->n_cons > m->n_cons_total - x->cons0) {
            free(diff);
            free(fill);
            return lg_errf(err, errlen, LG_EMODEL,
                           "tensor %d (%s): producer or consumers out of "
                           "range", t, x->name);
        }
        for (int k = 0; k < x->n_cons; k++) {
            int c = m->cons[x->cons0 + k];
            if (c <= x->producer || c >= n ||
                (k > 0 && c <= m->cons[x->cons0 + k - 1])) {
                free(diff);
                free(fill);
                return lg_errf(err, errlen, LG_EMODEL,
                               "tensor %d (%s): consumer group %d is not "
                               "after producer %d, or not sorted", t,
                               x->name, c, x->producer);
            }
            m->gin0[c + 1]++;
            if (c != x->producer + 1)
                m->chain = 0;
        }
        if (x->is_output && x->producer != n - 1)
            m->chain = 0;
        /* live across cuts producer+1 .. last need */
        lo = x->producer + 1;
        hi = x->is_output ? n : (x->n_cons ? m->cons[x->cons0 + x->n_cons -
                                                      1] : lo - 1);
        if (hi >= lo) {
            diff[lo] += (int64_t)x->bytes;
            diff[hi + 1] -= (int64_t)x->bytes;
        }
    }
    for (int g = 0; g < n; g++)
        m->gin0[g + 1] += m->gin0[g];
    for (int t = 0; t < m->n_ten; t++) {
        const plan_tensor *x = &m->ten[t];
        for (int k = 0; k < x->n_cons; k++) {
            int c = m->cons[x->cons0 + k];
            m->gin[m->gin0[c] + fill[c]++] = t;
        }
    }
    {
        int64_t run = 0;
        for (int k = 0; k <= n; k++) {
            run += diff[k];
            m->cut[k] = (uint64_t)run;
        }
    }
    free(diff);
    free(fill);
    return finish_weights(m, err, errlen);
}

double plan_group_time(const plan_model *m, int g, const plan_topology *t,
                       int n)
{
    const plan_node *nd = &t->nodes[n];
    const plan_profile *p = &t->profiles[nd->profile];
    const plan_group *gr = &m->grp[g];
    double s = 0;
    for (int c = 0; c < PLAN_OC_N; c++)
        if (gr->flops[c] > 0)
            s += gr->flops[c] / p->flops[c];
    if (gr->mem_bytes > 0)
        s += gr->mem_bytes / p->mem_bw;
    return s / nd->scale + gr->n_ops * p->overhead_s;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Graph node -> group, consumers, sizes. */
int plan_model_from_graph(const lg_graph *g, int coarsen, plan_model **out,
                          char *err, size_t errlen)
{
    int *gof = NULL, *tof = NULL, *wof = NULL, *seen = NULL;
    int n_grp = 0, n_ten = 0, n_cons = 0, n_w = 0, n_refs = 0, rc;
    plan_model *m = NULL;

    *out = NULL;
    if (!g->prepared)
        return lg_errf(err, errlen, -EINVAL, "graph is not prepared");
    if (g->n_nodes == 0)
        return lg_errf(err, errlen, LG_EMODEL,
                       "the model has no nodes left to run (everything "
                       "folded to constants)");
    gof = malloc((size_t)g->n_nodes * sizeof *gof);
    tof = malloc((size_t)g->n_values * sizeof *tof);
    wof = malloc(((size_t)g->n_values + 1) * sizeof *wof);
    if (!gof || !tof || !wof) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!coarsen || !absorbable(g, i))
            n_grp++;
        gof[i] = n_grp - 1;
    }
    /* runtime tensors that are read by some node or are outputs */
    for (int v = 0; v < g->n_values; v++) {
        const lg_value *x = &g->values[v];
        tof[v] = -1;
        if (!is_runtime(x) || (x->n_consumers == 0 && !x->is_output))
            continue;
        if (x->kind == LG_VAL_ACT && x->producer < 0)
            continue;
        /* internal to one group and not an output: not a plan tensor */
        if (x->producer >= 0 && !x->is_output) {
            int pg = gof[x->producer], ext = 0;
            for (int i = x->producer + 1; i <= x->last_use && !ext; i++)
                for (int k = 0; k < g->nodes[i].n_in; k++)
                    if (g->nodes[i].in[k] == v && gof[i] != pg)
                        ext = 1;
            if (!ext)
                continue;
        }
        tof[v] = n_ten++;
        n_cons += x->n_consumers;
    }
    m = plan_model_alloc(n_grp, n_ten, n_cons);
    if (!m) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    m->graph_nodes = g->n_nodes;
    /* the initializers, each once, and the list each group reads */
    for (int v = 0; v < g->n_values; v++)
        wof[v] = g->values[v].initializer ? n_w++ : -1;
    for (int i = 0; i < g->n_nodes; i++)
        n_refs += g->nodes[i].n_in;
    seen = malloc(((size_t)n_w + 1) * sizeof *seen);
    if (!seen || plan_model_alloc_weights(m, n_w, n_refs) != 0) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    for (int v = 0; v < g->n_values; v++)
        if (wof[v] >= 0) {
            m->w_bytes[wof[v]] = value_bytes(&g->values[v]);
            seen[wof[v]] = -1;
        }
    n_refs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *nd = &g->nodes[i];
        int gi = gof[i];
        for (int k = 0; k < nd->n_in; k++) {
            int x = nd->in[k] >= 0 ? wof[nd->in[k]] : -1;
            if (x < 0 || seen[x] == gi)
                continue;       /* once per group */
            seen[x] = gi;
            m->gw[n_refs++] = x;
        }
        m->gw0[gi + 1] = n_refs;
        if (i + 1 == g->n_nodes || gof[i + 1] != gi)
            qsort(m->gw + m->gw0[gi], (size_t)(n_refs - m->gw0[gi]),
                  sizeof *m->gw, int_cmp);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *nd = &g->nodes[i];
        plan_group *gr = &m->grp[gof[i]];
        enum plan_opclass c = op_class(nd->op);
        uint64_t work = 0;
        if (gr->n_ops == 0) {
            gr->first = i;
            snprintf(gr->name, sizeof gr->name, "%s", nd->name);
        }
        gr->last = i;
        gr->n_ops++;
        if (!in_list(view_ops, nd->op)) {  /* views cost no work here */
            gr->flops[c] += (double)nd->flops;
            if (c == PLAN_OC_OTHER)
                gr->mem_bytes += (double)(nd->bytes_read +
                                          nd->bytes_written -
                                          nd->param_bytes);
        }
        work = nd->bytes_read - nd->param_bytes + nd->bytes_written;
        if (work > gr->act_bytes)
            gr->act_bytes = work;
    }
    {
        int ci = 0;
        for (int v = 0; v < g->n_values; v++) {
            const lg_value *x = &g->values[v];
            plan_tensor *t;
            int last = -1;
            if (tof[v] < 0)
                continue;
            t = &m->ten[tof[v]];
            snprintf(t->name, sizeof t->name, "%s", x->name);
            t->bytes = value_bytes(x);
            t->producer = x->producer >= 0 ? gof[x->producer] : -1;
            t->is_output = x->is_output;
            t->cons0 = ci;
            for (int i = x->producer + 1; i <= x->last_use; i++) {
                int reads = 0;
                if (gof[i] == t->producer || gof[i] == last)
                    continue;
                for (int k = 0; k < g->nodes[i].n_in && !reads; k++)
                    reads = g->nodes[i].in[k] == v;
                if (reads) {
                    m->cons[ci++] = gof[i];
                    last = gof[i];
                }
            }
            t->n_cons = ci - t->cons0;
        }
        m->n_cons_total = ci;
    }
    rc = plan_model_finish(m, err, errlen);
    if (rc)
        goto out;
    /* a group's working set includes its boundary tensors */
    for (int k = 0; k < m->n_grp; k++) {
        uint64_t b = 0;
        for (int j = m->gin0[k]; j < m->gin0[k + 1]; j++)
            b += m->ten[m->gin[j]].bytes;
        m->grp[k].act_bytes += b;
    }
    for (int t = 0; t < m->n_ten; t++)
        if (m->ten[t].producer >= 0)
            m->grp[m->ten[t].producer].act_bytes += m->ten[t].bytes;
    *out = m;
    m = NULL;
out:
    plan_model_free(m);
    free(gof);
    free(tof);
    free(wof);
    free(seen);
    return rc;
}

/* Valid chain cut k (between groups k-1 and k): every tensor live across
 * it was produced by group k-1. Merging the groups between valid cuts
 * gives a chain: a tensor crossing valid cut c was made by c-1, so it
 * cannot also cross the next valid cut c' (made by c'-1 != c-1). */
int plan_model_chain(const plan_model *m, plan_model **out, int *map,
                     char *err, size_t errlen)
{
    int G = m->n_grp, nc = 0, nt = 0, ncons = 0, rc;
    int *bad = calloc((size_t)G + 2, sizeof *bad);
    int *tmap = malloc(((size_t)m->n_ten + 1) * sizeof *tmap);
    plan_model *c = NULL;

    *out = NULL;
    if (!bad || !tmap) {
        free(bad);
        free(tmap);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    for (int t = 0; t < m->n_ten; t++) {
        const plan_tensor *x = &m->ten[t];
        int lo = x->producer + 2, hi;   /* cuts that x makes invalid */
        hi = x->is_output ? G : (x->n_cons ? m->cons[x->cons0 + x->n_cons -
                                                      1] : -1);
        if (x->producer < 0)
            lo = 1;
        if (hi >= lo) {
            bad[lo]++;
            bad[hi + 1]--;
        }
    }
    for (int k = 1, run = bad[0]; k <= G; k++) {
        run += bad[k];
        bad[k] = run;
    }
    for (int g = 0; g < G; g++) {
        if (g == 0 || !bad[g])
            nc++;
        map[g] = nc - 1;
    }
    for (int t = 0; t < m->n_ten; t++) {
        const plan_tensor *x = &m->ten[t];
        int pg = x->producer < 0 ? -1 : map[x->producer], ext = x->is_output;
        for (int k = 0; k < x->n_cons && !ext; k++)
            ext = map[m->cons[x->cons0 + k]] != pg;
        tmap[t] = ext ? nt++ : -1;
        if (ext)
            ncons += x->n_cons;
    }
    c = plan_model_alloc(nc, nt, ncons);
    if (!c) {
        free(bad);
        free(tmap);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    c->graph_nodes = m->graph_nodes;
    /* a chain group reads the union of its groups' initializers */
    if (plan_model_alloc_weights(c, m->n_w, m->gw0[G]) != 0) {
        free(bad);
        free(tmap);
        plan_model_free(c);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    for (int x = 0; x < m->n_w; x++)
        c->w_bytes[x] = plan_weight_bytes(m, x);
    {
        int nr = 0, *seen = malloc(((size_t)m->n_w + 1) * sizeof *seen);
        if (!seen) {
            free(bad);
            free(tmap);
            plan_model_free(c);
            return lg_errf(err, errlen, -ENOMEM, "out of memory");
        }
        for (int x = 0; x < m->n_w; x++)
            seen[x] = -1;
        for (int g = 0; g < G; g++) {
            int cg = map[g];
            for (int k = m->gw0[g]; k < m->gw0[g + 1]; k++)
                if (seen[m->gw[k]] != cg) {
                    seen[m->gw[k]] = cg;
                    c->gw[nr++] = m->gw[k];
                }
            c->gw0[cg + 1] = nr;
            if (g + 1 == G || map[g + 1] != cg)
                qsort(c->gw + c->gw0[cg], (size_t)(nr - c->gw0[cg]),
                      sizeof *c->gw, int_cmp);
        }
        free(seen);
    }
    for (int g = 0; g < G; g++) {
        plan_group *d = &c->grp[map[g]];
        const plan_group *s = &m->grp[g];
        if (d->n_ops == 0) {
            d->first = s->first;
            memcpy(d->name, s->name, sizeof d->name);
        }
        d->last = s->last;
        d->n_ops += s->n_ops;
        for (int k = 0; k < PLAN_OC_N; k++)
            d->flops[k] += s->flops[k];
        d->mem_bytes += s->mem_bytes;
        if (s->act_bytes > d->act_bytes)
            d->act_bytes = s->act_bytes;
    }
    {
        int ci = 0;
        for (int t = 0; t < m->n_ten; t++) {
            const plan_tensor *x = &m->ten[t];
            plan_tensor *y;
            int last = -1;
            if (tmap[t] < 0)
                continue;
            y = &c->ten[tmap[t]];
            *y = *x;
            y->producer = x->producer < 0 ? -1 : map[x->producer];
            y->cons0 = ci;
            for (int k = 0; k < x->n_cons; k++) {
                int cg = map[m->cons[x->cons0 + k]];
                if (cg != y->producer && cg != last)
                    c->cons[ci++] = last = cg;
            }
            y->n_cons = ci - y->cons0;
        }
        c->n_cons_total = ci;
    }
    free(bad);
    free(tmap);
    rc = plan_model_finish(c, err, errlen);
    if (rc) {
        plan_model_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
