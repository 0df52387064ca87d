/*
 * graph.c - the graph IR: construction, name lookup, topological sort and
 * attribute access. Shape inference and costs are in infer.c.
 *
 * Single-threaded construction; a prepared graph is read-only.
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgerr.h"

/* Open-addressing map from value name to index. */
struct lg_namemap {
    int *slot;                  /* value index, or -1 */
    size_t cap;                 /* power of two */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static int map_grow(lg_graph *g)
{
    struct lg_namemap *m = g->map;
    size_t ncap = m->cap ? m->cap * 2 : 256;
    int *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < ncap; i++)
        ns[i] = -1;
    for (int v = 0; v < g->n_values; v++) {
        size_t h = hash_str(g->values[v].name) & (ncap - 1);
        while (ns[h] >= 0)
            h = (h + 1) & (ncap - 1);
        ns[h] = v;
    }
    free(m->slot);
    m->slot = ns;
    m->cap = ncap;
    return 0;
}

lg_graph *lg_graph_new(void)
{
    lg_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->map = calloc(1, sizeof *g->map);
    if (!g->map || map_grow(g) < 0) {
        lg_graph_free(g);
        return NULL;
    }
    g->opset = 13;
    return g;
}

void lg_attr_clear(lg_attr *a)
{
    free(a->name);
    free(a->s);
    free(a->floats);
    free(a->ints);
    if (a->strings) {
        for (int i = 0; i < a->n; i++)
            free(a->strings[i]);
        free(a->strings);
    }
    lg_tensor_unref(a->t);
    memset(a, 0, sizeof *a);
}

void lg_node_clear(lg_node *n)
{
    free(n->name);
    free(n->op);
    free(n->domain);
    free(n->in);
    free(n->out);
    for (int a = 0; a < n->n_attrs; a++)
        lg_attr_clear(&n->attrs[a]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void lg_graph_free(lg_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_nodes; i++)
        lg_node_clear(&g->nodes[i]);
    for (int i = 0; i < g->n_values; i++) {
        free(g->values[i].name);
        lg_tensor_unref(g->values[i].konst);
    }
    free(g->nodes);
    free(g->values);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g->producer);
    if (g->map)
        free(g->map->slot);
    free(g->map);
    free(g);
}

int lg_graph_find(const lg_graph *g, const char *name)
{
    const struct lg_namemap *m = g->map;
    size_t h = hash_str(name) & (m->cap - 1);
    while (m->slot[h] >= 0) {
        if (strcmp(g->values[m->slot[h]].name, name) == 0)
            return m->slot[h];
        h = (h + 1) & (m->cap - 1);
    }
    return -1;
}

int lg_graph_value(lg_graph *g, const char *name)
{
    int v = lg_graph_find(g, name);
    lg_value *val;
    if (v >= 0)
        return v;
    if (g->n_values == g->cap_values) {
        int nc = g->cap_values ? g->cap_values * 2 : 64;
        lg_value *nv = realloc(g->values, (size_t)nc * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        g->values = nv;
        g->cap_values = nc;
    }
    if ((size_t)(g->n_values + 1) * 2 > g->map->cap && map_grow(g) < 0)
        return -ENOMEM;
    val = &g->values[g->n_values];
    memset(val, 0, sizeof *val);
    val->name = strdup(name);
    if (!val->name)
        return -ENOMEM;
    val->producer = -1;
    val->last_use = -1;
    v = g->n_values++;
    {
        size_t h = hash_str(name) & (g->map->cap - 1);
        while (g->map->slot[h] >= 0)
            h = (h + 1) & (g->map->cap - 1);
        g->map->slot[h] = v;
    }
    return v;
}

static int push_int(int **arr, int *n, int v)
{
    int *na = realloc(*arr, (size_t)(*n + 1) * sizeof **arr);
    if (!na)
        return -ENOMEM;
    na[(*n)++] = v;
    *arr = na;
    return 0;
}

int lg_graph_add_input(lg_graph *g, int v)
{
    g->values[v].kind = LG_VAL_INPUT;
    return push_int(&g->inputs, &g->n_inputs, v);
}

int lg_graph_add_output(lg_graph *g, int v)
{
    g->values[v].is_output = 1;
    return push_int(&g->outputs, &g->n_outputs, v);
}

void lg_graph_set_const(lg_graph *g, int v, lg_tensor *t, int initializer)
{
    lg_value *val = &g->values[v];
    lg_tensor_unref(val->konst);
    val->konst = t;
    val->kind = LG_VAL_CONST;
    val->initializer = initializer;
    val->dtype = t->dtype;
    val->shape = t->shape;
    val->has_shape = 1;
}

int lg_graph_add_node(lg_graph *g, const char *name, const char *op,
                      const char *domain, int n_in, const char *const *in,
                      int n_out, const char *const *out, lg_attr *attrs,
                      int n_attrs)
{
    lg_node *n;
    if (g->n_nodes == g->cap_nodes) {
        int nc = g->cap_nodes ? g->cap_nodes * 2 : 64;
        lg_node *nn = realloc(g->nodes, (size_t)nc * sizeof *nn);
        if (!nn)
            goto oom_attrs;
        g->nodes = nn;
        g->cap_nodes = nc;
    }
    n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->attrs = attrs;
    n->n_attrs = n_attrs;
    n->op = strdup(op ? op : "");
    n->domain = strdup(domain ? domain : "");
    if (name && *name) {
        n->name = strdup(name);
    } else {
        char buf[64];
        snprintf(buf, sizeof buf, "%s_%d", op ? op : "node", g->n_nodes);
        n->name = strdup(buf);
    }
    n->in = calloc((size_t)(n_in ? n_in : 1), sizeof *n->in);
    n->out = calloc((size_t)(n_out ? n_out : 1), sizeof *n->out);
    g->n_nodes++;               /* owned by the graph from here on */
    if (!n->op || !n->domain || !n->name || !n->in || !n->out)
        return -ENOMEM;
    for (int i = 0; i < n_in; i++) {
        int v = (in[i] && *in[i]) ? lg_graph_value(g, in[i]) : -1;
        if (in[i] && *in[i] && v < 0)
            return -ENOMEM;
        n = &g->nodes[g->n_nodes - 1];
        n->in[n->n_in++] = v;
    }
    for (int i = 0; i < n_out; i++) {
        int v = (out[i] && *out[i]) ? lg_graph_value(g, out[i]) : -1;
        if (out[i] && *out[i] && v < 0)
            return -ENOMEM;
        n = &g->nodes[g->n_nodes - 1];
        n->out[n->n_out++] = v;
    }
    return g->n_nodes - 1;
oom_attrs:
    for (int a = 0; a < n_attrs; a++)
        lg_attr_clear(&attrs[a]);
    free(attrs);
    return -ENOMEM;
}

void lg_graph_link(lg_graph *g)
{
    for (int v = 0; v < g->n_values; v++) {
        g->values[v].producer = -1;
        g->values[v].n_consumers = 0;
        g->values[v].last_use = -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        lg_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0)
                g->values[n->out[k]].producer = i;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) {
                g->values[n->in[k]].n_consumers++;
                g->values[n->in[k]].last_use = i;
            }
    }
}

int lg_graph_toposort(lg_graph *g, char *err, size_t errlen)
{
    int nn = g->n_nodes, rc = 0;
    int *prod = NULL, *indeg = NULL, *order = NULL, *queue = NULL;
    int *adj_start = NULL, *adj = NULL, nadj = 0;
    lg_node *sorted = NULL;

    if (nn == 0)
        return 0;
    prod = malloc((size_t)g->n_values * sizeof *prod);
    indeg = calloc((size_t)nn, sizeof *indeg);
    order = malloc((size_t)nn * sizeof *order);
    queue = malloc((size_t)nn * sizeof *queue);
    adj_start = calloc((size_t)nn + 1, sizeof *adj_start);
    if (!prod || !indeg || !order || !queue || !adj_start) {
        rc = -ENOMEM;
        goto out;
    }
    for (int v = 0; v < g->n_values; v++)
        prod[v] = -1;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int v = g->nodes[i].out[k];
            if (v < 0)
                continue;
            if (prod[v] >= 0 || g->values[v].kind != LG_VAL_ACT) {
                rc = lg_errf(err, errlen, LG_EMODEL,
                             "tensor '%s' is produced by node '%s' but is "
                             "already %s", g->values[v].name,
                             g->nodes[i].name,
                             prod[v] >= 0 ? "produced by another node"
                             : g->values[v].kind == LG_VAL_INPUT
                             ? "a graph input" : "an initializer");
                goto out;
            }
            prod[v] = i;
        }
    /* Edges producer -> consumer; count per consumer input. */
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v < 0)
                continue;
            if (prod[v] < 0 && g->values[v].kind == LG_VAL_ACT) {
                rc = lg_errf(err, errlen, LG_EMODEL,
                             "node '%s' (%s) reads tensor '%s', which is "
                             "not a graph input, an initializer or the "
                             "output of any node", g->nodes[i].name,
                             g->nodes[i].op, g->values[v].name);
                goto out;
            }
            if (prod[v] >= 0) {
                adj_start[prod[v] + 1]++;
                indeg[i]++;
                nadj++;
            }
        }
    for (int i = 0; i < nn; i++)
        adj_start[i + 1] += adj_start[i];
    adj = malloc((size_t)(nadj ? nadj : 1) * sizeof *adj);
    if (!adj) {
        rc = -ENOMEM;
        goto out;
    }
    {
        int *fill = calloc((size_t)nn, sizeof *fill);
        if (!fill) {
            rc = -ENOMEM;
            goto out;
        }
        for (int i = 0; i < nn; i++)
            for (int k = 0; k < g->nodes[i].n_in; k++) {
                int v = g->nodes[i].in[k];
                if (v >= 0 && prod[v] >= 0) {
                    int p = prod[v];
                    adj[adj_start[p] + fill[p]++] = i;
                }
            }
        free(fill);
    }
    /* Kahn's algorithm with a min-index priority (a binary heap) so the
     * result keeps file order where the graph allows. */
    {
        int hn = 0, no = 0;
        for (int i = 0; i < nn; i++)
            if (indeg[i] == 0) {
                int c = hn++;
                queue[c] = i;
                while (c > 0 && queue[(c - 1) / 2] > queue[c]) {
                    int t = queue[c]; queue[c] = queue[(c - 1) / 2];
                    queue[(c - 1) / 2] = t; c = (c - 1) / 2;
                }
            }
        while (hn > 0) {
            int u = queue[0];
            queue[0] = queue[--hn];
            for (int c = 0;;) {
                int l = 2 * c + 1, r = l + 1, m = c;
                if (l < hn && queue[l] < queue[m]) m = l;
                if (r < hn && queue[r] < queue[m]) m = r;
                if (m == c) break;
                int t = queue[c]; queue[c] = queue[m]; queue[m] = t; c = m;
            }
            order[no++] = u;
            for (int e = adj_start[u]; e < adj_start[u + 1]; e++)
                if (--indeg[adj[e]] == 0) {
                    int c = hn++;
                    queue[c] = adj[e];
                    while (c > 0 && queue[(c - 1) / 2] > queue[c]) {
                        int t = queue[c]; queue[c] = queue[(c - 1) / 2];
                        queue[(c - 1) / 2] = t; c = (c - 1) / 2;
                    }
                }
        }
        if (no < nn) {
            for (int i = 0; i < nn; i++)
                if (indeg[i] > 0) {
                    rc = lg_errf(err, errlen, LG_EMODEL,
                                 "the graph has a cycle through node '%s' (%s)",
                                 g->nodes[i].name, g->nodes[i].op);
                    goto out;
                }
        }
    }
    sorted = malloc((size_t)(unsigned)nn * sizeof *sorted);
    if (!sorted) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < nn; i++)
        sorted[i] = g->nodes[order[i]];
    memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);
    lg_graph_link(g);
out:
    free(prod); free(indeg); free(order); free(queue);
    free(adj_start); free(adj); free(sorted);
    return rc;
}

const lg_attr *lg_node_attr(const lg_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t lg_attr_int(const lg_node *n, const char *name, int64_t def)
{
    const lg_attr *a = lg_node_attr(n, name);
    return a && a->type == LG_ATTR_INT ? a->i : def;
}

float lg_attr_float(const lg_node *n, const char *name, float def)
{
    const lg_attr *a = lg_node_attr(n, name);
    if (a && a->type == LG_ATTR_FLOAT)
        return a->f;
    if (a && a->type == LG_ATTR_INT)
        return (float)a->i;
    return def;
}

const char *lg_attr_str(const lg_node *n, const char *name, const char *def)
{
    const lg_attr *a = lg_node_attr(n, name);
    return a && a->type == LG_ATTR_STRING && a->s ? a->s : def;
}

int lg_attr_ints(const lg_node *n, const char *name, const int64_t **v)
{
    const lg_attr *a = lg_node_attr(n, name);
    if (!a || a->type != LG_ATTR_INTS)
        return -1;
    *v = a->ints;
    return a->n;
}

uint64_t lg_graph_flops(const lg_graph *g)
{
    uint64_t f = 0;
    for (int i = 0; i < g->n_nodes; i++)
        f += g->nodes[i].flops;
    return f;
}

uint64_t lg_graph_param_bytes(const lg_graph *g)
{
    uint64_t b = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].initializer && g->values[v].konst)
            b += g->values[v].konst->nbytes;
    return b;
}
