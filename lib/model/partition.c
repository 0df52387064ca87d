/*
 * partition.c - cutting a prepared graph into partitions: the convexity
 * check, extraction of a partition as a self-contained prepared graph, the
 * cut points of the topological order and a FLOP-balanced k-way split.
 *
 * Everything here reads the parent graph only (it is const and may be shared
 * by threads); extraction builds a new graph that shares constant tensors
 * with the parent by reference. Reference counts are not atomic (tensor.h),
 * so extract from one thread at a time per parent graph.
 *
 * Every pass is linear in nodes + edges + values: the planner and the
 * partition tests call these once per cut of graphs with thousands of nodes.
 */
#include "partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"

/* Producer node of every value, computed from the nodes themselves rather
 * than trusted from lg_value.producer. */
static int *producers(const lg_graph *g)
{
    int *prod = malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *prod);
    if (!prod)
        return NULL;
    for (int v = 0; v < g->n_values; v++)
        prod[v] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0)
                prod[g->nodes[i].out[k]] = i;
    return prod;
}

/* Mark nodes[0..n) into in[] (calloc'd, n_nodes bytes); rejects empty
 * sets, out-of-range and duplicate indices. */
static int mark_set(const lg_graph *g, const int *nodes, int n, char **inp,
                    char *err, size_t errlen)
{
    char *in;
    *inp = NULL;
    if (!nodes || n <= 0)
        return lg_errf(err, errlen, LG_EMODEL, "the partition is empty");
    if (n > g->n_nodes)
        return lg_errf(err, errlen, LG_EMODEL,
                       "the partition lists %d nodes but the graph has %d",
                       n, g->n_nodes);
    in = calloc((size_t)g->n_nodes, 1);
    if (!in)
        return -ENOMEM;
    for (int k = 0; k < n; k++) {
        int i = nodes[k];
        if (i < 0 || i >= g->n_nodes) {
            free(in);
            return lg_errf(err, errlen, LG_EMODEL,
                           "partition entry %d: node index %d is out of "
                           "range (graph has %d nodes)", k, i, g->n_nodes);
        }
        if (in[i]) {
            free(in);
            return lg_errf(err, errlen, LG_EMODEL,
                           "partition lists node %d ('%s') twice", i,
                           g->nodes[i].name);
        }
        in[i] = 1;
    }
    *inp = in;
    return 0;
}

/*
 * Convexity by reachability, in topological order. Only nodes strictly
 * between the lowest and highest member can lie on a path that leaves the
 * set and comes back. down[i]: i is reachable from the set (from[i] names a
 * member it is reached from); up[i]: i reaches the set (to[i] names the
 * member). A non-member with both is the violation.
 */
static int check_convex(const lg_graph *g, const char *in, const int *prod,
                        char *err, size_t errlen)
{
    int lo = -1, hi = -1, rc = 0;
    int *from = NULL, *to = NULL;

    for (int i = 0; i < g->n_nodes; i++)
        if (in[i]) {
            if (lo < 0)
                lo = i;
            hi = i;
        }
    if (hi - lo < 2)
        return 0;
    from = malloc((size_t)g->n_nodes * sizeof *from);
    to = malloc((size_t)g->n_nodes * sizeof *to);
    if (!from || !to) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = lo; i <= hi; i++)
        from[i] = to[i] = -1;
    /* Forward: non-members reached from the set. */
    for (int i = lo + 1; i < hi; i++) {
        const lg_node *n = &g->nodes[i];
        if (in[i])
            continue;
        for (int k = 0; k < n->n_in && from[i] < 0; k++) {
            int p = n->in[k] >= 0 ? prod[n->in[k]] : -1;
            if (p < lo || p >= i)
                continue;
            if (in[p])
                from[i] = p;
            else if (from[p] >= 0)
                from[i] = from[p];
        }
    }
    /* Backward: non-members that reach the set. */
    for (int j = hi; j > lo; j--) {
        const lg_node *n = &g->nodes[j];
        int target = in[j] ? j : to[j];
        if (target < 0)
            continue;
        for (int k = 0; k < n->n_in; k++) {
            int p = n->in[k] >= 0 ? prod[n->in[k]] : -1;
            if (p <= lo || p >= j || in[p] || to[p] >= 0)
                continue;
            to[p] = target;
        }
    }
    for (int i = lo + 1; i < hi; i++)
        if (!in[i] && from[i] >= 0 && to[i] >= 0) {
            rc = lg_errf(err, errlen, LG_EMODEL,
                         "the partition is not convex: node '%s' (%s) is "
                         "outside it but lies on a path from '%s' to '%s', "
                         "which are inside it", g->nodes[i].name,
                         g->nodes[i].op, g->nodes[from[i]].name,
                         g->nodes[to[i]].name);
            break;
        }
out:
    free(from);
    free(to);
    return rc;
}

int lg_partition_check(const lg_graph *g, const int *nodes, int n,
                       char *err, size_t errlen)
{
    char *in = NULL;
    int *prod = NULL;
    int rc = mark_set(g, nodes, n, &in, err, errlen);
    if (rc < 0)
        return rc;
    prod = producers(g);
    rc = prod ? check_convex(g, in, prod, err, errlen) : -ENOMEM;
    free(prod);
    free(in);
    return rc;
}

/* ----------------------------------------------------------- extraction */

static char *memdup0(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (!d)
        return NULL;
    if (len)
        memcpy(d, s, len);
    d[len] = 0;
    return d;
}

/* Deep copy of an attribute; a tensor attribute shares its data. */
static int attr_dup(lg_attr *d, const lg_attr *s)
{
    memset(d, 0, sizeof *d);
    d->type = s->type;
    d->f = s->f;
    d->i = s->i;
    d->n = s->n;
    d->slen = s->slen;
    if (!(d->name = strdup(s->name ? s->name : "")))
        goto oom;
    if (s->s && !(d->s = memdup0(s->s, s->slen)))
        goto oom;
    if (s->floats && s->n > 0) {
        if (!(d->floats = malloc((size_t)s->n * sizeof *d->floats)))
            goto oom;
        memcpy(d->floats, s->floats, (size_t)s->n * sizeof *d->floats);
    }
    if (s->ints && s->n > 0) {
        if (!(d->ints = malloc((size_t)s->n * sizeof *d->ints)))
            goto oom;
        memcpy(d->ints, s->ints, (size_t)s->n * sizeof *d->ints);
    }
    if (s->strings && s->n > 0) {
        if (!(d->strings = calloc((size_t)s->n, sizeof *d->strings)))
            goto oom;
        for (int k = 0; k < s->n; k++)
            if (s->strings[k] && !(d->strings[k] = strdup(s->strings[k])))
                goto oom;
    }
    if (s->t)
        d->t = lg_tensor_ref(s->t);
    return 0;
oom:
    lg_attr_clear(d);
    return -ENOMEM;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Copy node i of g into ng, attributes deep-copied, costs and op
 * definition carried over. */
static int copy_node(lg_graph *ng, const lg_graph *g, int i)
{
    const lg_node *n = &g->nodes[i];
    const char **ins = NULL, **outs = NULL;
    lg_attr *attrs = NULL;
    int rc, a;

    ins = malloc((size_t)(n->n_in ? n->n_in : 1) * sizeof *ins);
    outs = malloc((size_t)(n->n_out ? n->n_out : 1) * sizeof *outs);
    if (n->n_attrs > 0)
        attrs = calloc((size_t)n->n_attrs, sizeof *attrs);
    if (!ins || !outs || (n->n_attrs > 0 && !attrs)) {
        rc = -ENOMEM;
        goto out;
    }
    for (int k = 0; k < n->n_in; k++)
        ins[k] = n->in[k] >= 0 ? g->values[n->in[k]].name : "";
    for (int k = 0; k < n->n_out; k++)
        outs[k] = n->out[k] >= 0 ? g->values[n->out[k]].name : "";
    for (a = 0; a < n->n_attrs; a++)
        if (attr_dup(&attrs[a], &n->attrs[a]) < 0) {
            while (a-- > 0)
                lg_attr_clear(&attrs[a]);
            free(attrs);
            attrs = NULL;
            rc = -ENOMEM;
            goto out;
        }
    /* The graph owns attrs from here on, even on failure. */
    rc = lg_graph_add_node(ng, n->name, n->op, n->domain, n->n_in, ins,
                           n->n_out, outs, attrs, n->n_attrs);
    attrs = NULL;
    if (rc >= 0) {
        lg_node *m = &ng->nodes[rc];
        m->def = n->def;
        m->flops = n->flops;
        m->bytes_read = n->bytes_read;
        m->bytes_written = n->bytes_written;
        m->param_bytes = n->param_bytes;
        rc = 0;
    }
out:
    free(ins);
    free(outs);
    free(attrs);
    return rc;
}

static int set_name(lg_graph *ng, const lg_graph *g, const int *idx, int n)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s_part_%d_%d", g->name ? g->name : "graph",
             idx[0], idx[n - 1]);
    ng->name = strdup(buf);
    ng->producer = strdup("lagrange");
    return ng->name && ng->producer ? 0 : -ENOMEM;
}

int lg_partition_extract(const lg_graph *g, const int *nodes, int n,
                         lg_graph **out, char *err, size_t errlen)
{
    char *in = NULL, *role = NULL;
    int *prod = NULL, *idx = NULL;
    lg_graph *ng = NULL;
    int rc;

    *out = NULL;
    if (!g->prepared)
        return lg_errf(err, errlen, -EINVAL,
                       "cannot partition graph '%s': it is not prepared",
                       g->name ? g->name : "");
    if ((rc = mark_set(g, nodes, n, &in, err, errlen)) < 0)
        return rc;
    prod = producers(g);
    idx = malloc((size_t)n * sizeof *idx);
    /* role[v]: 1 boundary input, 2 constant read, 4 output; 8 used at all */
    role = calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    ng = lg_graph_new();
    if (!prod || !idx || !role || !ng) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = check_convex(g, in, prod, err, errlen)) < 0)
        goto fail;
    memcpy(idx, nodes, (size_t)n * sizeof *idx);
    qsort(idx, (size_t)n, sizeof *idx, cmp_int);   /* parent's topo order */

    /* Classify the values the partition touches. */
    for (int k = 0; k < n; k++) {
        const lg_node *nd = &g->nodes[idx[k]];
        for (int j = 0; j < nd->n_in; j++) {
            int v = nd->in[j];
            if (v < 0)
                continue;
            if (g->values[v].kind == LG_VAL_CONST) {
                if (!g->values[v].konst) {
                    rc = lg_errf(err, errlen, LG_EMODEL,
                                 "node '%s' reads constant '%s', which has "
                                 "no data", nd->name, g->values[v].name);
                    goto fail;
                }
                role[v] |= 2;
            } else if (prod[v] < 0 || !in[prod[v]]) {
                role[v] |= 1;
            }
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *nd = &g->nodes[i];
        if (in[i])
            continue;
        for (int j = 0; j < nd->n_in; j++) {
            int v = nd->in[j];
            if (v >= 0 && prod[v] >= 0 && in[prod[v]])
                role[v] |= 4;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (v >= 0 && v < g->n_values && prod[v] >= 0 && in[prod[v]])
            role[v] |= 4;
    }

    /* Build: inputs first (by parent value index), then constants, nodes
     * and outputs. */
    ng->opset = g->opset;
    ng->ir_version = g->ir_version;
    if ((rc = set_name(ng, g, idx, n)) < 0)
        goto fail;
    for (int v = 0; v < g->n_values; v++) {
        const lg_value *pv = &g->values[v];
        int nv;
        if (!(role[v] & 3))
            continue;
        if ((nv = lg_graph_value(ng, pv->name)) < 0) {
            rc = nv;
            goto fail;
        }
        if (role[v] & 1) {
            if (pv->dtype == LG_UNDEF || !pv->has_shape) {
                rc = lg_errf(err, errlen, LG_EMODEL,
                             "partition input '%s' has no static type and "
                             "shape", pv->name);
                goto fail;
            }
            ng->values[nv].dtype = pv->dtype;
            ng->values[nv].shape = pv->shape;
            ng->values[nv].has_shape = 1;
            if ((rc = lg_graph_add_input(ng, nv)) < 0)
                goto fail;
        } else {
            lg_graph_set_const(ng, nv, lg_tensor_ref(pv->konst),
                               pv->initializer);
        }
    }
    for (int k = 0; k < n; k++)
        if ((rc = copy_node(ng, g, idx[k])) < 0)
            goto fail;
    /* Types and shapes of everything the nodes produce. */
    for (int k = 0; k < n; k++) {
        const lg_node *nd = &g->nodes[idx[k]];
        for (int j = 0; j < nd->n_out; j++) {
            int v = nd->out[j], nv;
            if (v < 0)
                continue;
            nv = lg_graph_find(ng, g->values[v].name);
            if (nv < 0) {
                rc = -ENOMEM;   /* add_node created it: cannot happen */
                goto fail;
            }
            ng->values[nv].dtype = g->values[v].dtype;
            ng->values[nv].shape = g->values[v].shape;
            ng->values[nv].has_shape = g->values[v].has_shape;
        }
    }
    for (int v = 0; v < g->n_values; v++)
        if (role[v] & 4) {
            int nv = lg_graph_find(ng, g->values[v].name);
            if (nv < 0 || (rc = lg_graph_add_output(ng, nv)) < 0) {
                rc = rc < 0 ? rc : -ENOMEM;
                goto fail;
            }
        }
    lg_graph_link(ng);
    ng->prepared = 1;
    *out = ng;
    ng = NULL;
    rc = 0;
fail:
    if (rc == -ENOMEM)
        lg_errf(err, errlen, rc, "out of memory extracting a partition of "
                "%d nodes", n);
    lg_graph_free(ng);
    free(in);
    free(prod);
    free(idx);
    free(role);
    return rc;
}

/* ----------------------------------------------------------------- cuts */

/*
 * A runtime value is live across the cut after position p when it is
 * available before the cut (produced at or before p, or a graph input) and
 * needed after it (read by a later node, or a graph output, which must
 * reach the end of the chain). That is exactly the union of the suffix's
 * inputs and the prefix's outputs: what must travel from one side of the
 * cut to the other. Constants never cross: both sides hold them.
 * Difference arrays make the sweep O(nodes + values).
 */
int lg_cuts_all(const lg_graph *g, lg_cut **cuts, int *n, char *err,
                size_t errlen)
{
    int nn = g->n_nodes, ncut = nn > 1 ? nn - 1 : 0;
    int *prod = NULL, *last = NULL, *dcnt = NULL;
    uint64_t *dbytes = NULL;
    char *isout = NULL;
    lg_cut *c = NULL;
    int rc = 0;

    *cuts = NULL;
    *n = 0;
    if (!g->prepared)
        return lg_errf(err, errlen, -EINVAL,
                       "cannot cut graph '%s': it is not prepared",
                       g->name ? g->name : "");
    if (ncut == 0)
        return 0;
    prod = producers(g);
    last = malloc((size_t)g->n_values * sizeof *last);
    isout = calloc((size_t)g->n_values, 1);
    dcnt = calloc((size_t)nn + 1, sizeof *dcnt);
    dbytes = calloc((size_t)nn + 1, sizeof *dbytes);
    c = malloc((size_t)ncut * sizeof *c);
    if (!prod || !last || !isout || !dcnt || !dbytes || !c) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory computing cuts");
        goto out;
    }
    for (int v = 0; v < g->n_values; v++)
        last[v] = -1;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0)
                last[g->nodes[i].in[k]] = i;
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] >= 0 && g->outputs[k] < g->n_values)
            isout[g->outputs[k]] = 1;
    for (int v = 0; v < g->n_values; v++) {
        const lg_value *val = &g->values[v];
        int d, e;
        size_t nb = 0;
        if (val->kind == LG_VAL_CONST)
            continue;
        if (prod[v] >= 0)
            d = prod[v];
        else if (val->kind == LG_VAL_INPUT)
            d = 0;              /* available from the start */
        else
            continue;           /* never produced: not in a prepared graph */
        e = isout[v] ? nn : last[v];   /* live for cuts d <= p < e */
        if (e > ncut)
            e = ncut;
        if (e <= d)
            continue;
        if (val->has_shape)
            lg_shape_nbytes(&val->shape, val->dtype, &nb);
        dcnt[d]++;
        dcnt[e]--;
        dbytes[d] += nb;
        dbytes[e] -= nb;        /* unsigned wrap cancels exactly */
    }
    {
        int cnt = 0;
        uint64_t bytes = 0;
        for (int p = 0; p < ncut; p++) {
            cnt += dcnt[p];
            bytes += dbytes[p];
            c[p].after = p;
            c[p].n_tensors = cnt;
            c[p].bytes = bytes;
        }
    }
    *cuts = c;
    *n = ncut;
    c = NULL;
out:
    free(prod);
    free(last);
    free(isout);
    free(dcnt);
    free(dbytes);
    free(c);
    return rc;
}

int lg_cuts_candidates(const lg_graph *g, lg_cut **cuts, int *n, char *err,
                       size_t errlen)
{
    lg_cut *all;
    int na, w = 0;
    int rc = lg_cuts_all(g, &all, &na, err, errlen);
    *cuts = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    for (int p = 0; p < na; p++)
        if (all[p].n_tensors == 1)
            all[w++] = all[p];
    if (w == 0) {
        free(all);
        return 0;
    }
    *cuts = all;                /* shrinking in place; no realloc needed */
    *n = w;
    return 0;
}

/*
 * Greedy over the k-1 boundaries in order: boundary i aims at i/k of the
 * total FLOPs (node count when the graph has no FLOPs). Among the cuts
 * whose prefix FLOPs are within a quarter of a piece of the target, take
 * the one with the fewest crossing tensors, then the nearest, then the
 * fewest bytes; if none is that close, the nearest cut. Each piece keeps
 * at least one node.
 */
int lg_partition_balanced(const lg_graph *g, int k, int *bounds, char *err,
                          size_t errlen)
{
    lg_cut *cuts = NULL;
    uint64_t *pre = NULL, total;
    int nc, rc;

    if (k < 1 || k > g->n_nodes)
        return lg_errf(err, errlen, -EINVAL,
                       "cannot split %d nodes into %d pieces", g->n_nodes, k);
    bounds[0] = 0;
    if (k == 1)
        return 0;
    if ((rc = lg_cuts_all(g, &cuts, &nc, err, errlen)) < 0)
        return rc;
    pre = malloc(((size_t)g->n_nodes + 1) * sizeof *pre);
    if (!pre) {
        free(cuts);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    pre[0] = 0;
    for (int i = 0; i < g->n_nodes; i++)
        pre[i + 1] = pre[i] + g->nodes[i].flops;
    if (pre[g->n_nodes] == 0) {
        for (int i = 0; i <= g->n_nodes; i++)
            pre[i] = (uint64_t)i;
    }
    total = pre[g->n_nodes];
    for (int i = 1; i < k; i++) {
        /* boundary b = first node of piece i = cut after b-1 */
        long double target = (long double)total * i / k;
        long double window = (long double)total / k / 4;
        int lo = bounds[i - 1] + 1, hi = g->n_nodes - (k - i);
        int best = -1, near = -1;
        long double bestd = 0, neard = 0;
        for (int b = lo; b <= hi; b++) {
            const lg_cut *c = &cuts[b - 1];
            long double d = (long double)pre[b] - target;
            if (d < 0)
                d = -d;
            if (near < 0 || d < neard) {
                near = b;
                neard = d;
            }
            if (d > window)
                continue;
            if (best < 0 || c->n_tensors < cuts[best - 1].n_tensors ||
                (c->n_tensors == cuts[best - 1].n_tensors &&
                 (d < bestd || (d == bestd &&
                                c->bytes < cuts[best - 1].bytes)))) {
                best = b;
                bestd = d;
            }
        }
        bounds[i] = best >= 0 ? best : near;
    }
    free(cuts);
    free(pre);
    return 0;
}
