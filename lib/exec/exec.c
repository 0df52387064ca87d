/*
 * exec.c - the executor (see exec.h).
 *
 * Building an executor resolves one kernel per node through the backend
 * table (so a missing kernel is reported before anything runs), calls each
 * kernel's prepare() once, and computes for every node which values die
 * after it. A run walks the nodes in topological order: allocate outputs
 * from the static shapes, run the kernel, drop every value whose last
 * reader this was. Reshape-like ops return views instead of copies.
 */
#include "exec.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "kernel.h"
#include "lgerr.h"

/* Freed intermediate buffers kept for the next allocation of a similar
 * size: after the first run, a run allocates nothing and takes no page
 * faults (mmap'ed buffers from malloc would be faulted in every run).
 * Bounded: blocks are only created when none fits, so the cache never
 * holds more than the peak live set of one run. */
typedef struct block {
    void *p;
    size_t size;
} block;

struct lg_exec {
    block *free_blocks;         /* cache of free buffers */
    int n_free, cap_free;
    const lg_graph *g;
    const lg_kernel **kern;     /* per node */
    void **state;               /* per node, from prepare() */
    int *view;                  /* per node: output 0 views input 0 */
    int *free_start;            /* per node: range into free_list */
    int *free_list;             /* values to drop after each node */
    lg_tensor **slot;           /* per value during a run */
    lg_pool *pool;
    uint64_t live, peak;        /* bytes of run buffers held (cache + outputs) */
    int max_io;                 /* largest n_in / n_out of any node */
    lg_progress_fn progress;    /* lg_exec_set_progress, or NULL */
    void *progress_arg;
    uint64_t work_total;        /* sum of node FLOPs (nodes if none) */
    int work_by_nodes;          /* no FLOP counts: progress in nodes */
};

static void cache_release(void *data, void *opaque)
{
    lg_exec *e = opaque;
    e->live -= ((size_t *)data)[-8];
    if (e->n_free == e->cap_free) {
        int nc = e->cap_free ? e->cap_free * 2 : 64;
        block *nb = realloc(e->free_blocks, (size_t)nc * sizeof *nb);
        if (!nb) {              /* cannot cache it: give it back */
            free((char *)data - 64);
            return;
        }
        e->free_blocks = nb;
        e->cap_free = nc;
    }
    /* The size travels in the block header just before the data. */
    e->free_blocks[e->n_free].p = data;
    e->free_blocks[e->n_free].size = ((size_t *)data)[-8];
    e->n_free++;
}

/* Allocate an output tensor from the cache: the smallest free block that
 * fits without wasting more than half of it. */
static lg_tensor *cache_alloc(lg_exec *e, enum lg_dtype dt, const lg_shape *s)
{
    size_t nb, cap;
    int best = -1;
    void *p;
    lg_tensor *t;
    if (lg_shape_nbytes(s, dt, &nb) < 0)
        return NULL;
    cap = (nb + 63) & ~(size_t)63;
    if (cap == 0)
        cap = 64;
    for (int i = 0; i < e->n_free; i++) {
        size_t bs = e->free_blocks[i].size;
        if (bs >= cap && bs / 2 <= cap &&
            (best < 0 || bs < e->free_blocks[best].size))
            best = i;
    }
    if (best >= 0) {
        p = e->free_blocks[best].p;
        e->free_blocks[best] = e->free_blocks[--e->n_free];
    } else {
        /* 64-byte header holding the capacity, data 64-byte aligned. */
        char *raw = lg_aligned_alloc(cap + 64);
        if (!raw)
            return NULL;
        p = raw + 64;
        ((size_t *)p)[-8] = cap;
    }
    e->live += ((size_t *)p)[-8];
    if (e->live > e->peak)
        e->peak = e->live;
    t = lg_tensor_wrap(dt, s, p, cache_release, e);
    if (!t)
        cache_release(p, e);
    return t;
}

static void cache_clear(lg_exec *e)
{
    for (int i = 0; i < e->n_free; i++)
        free((char *)e->free_blocks[i].p - 64);
    e->n_free = 0;
    free(e->free_blocks);
    e->free_blocks = NULL;
    e->cap_free = 0;
}

static int is_view_op(const char *op)
{
    return !strcmp(op, "Reshape") || !strcmp(op, "Flatten") ||
           !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") ||
           !strcmp(op, "Identity") || !strcmp(op, "Dropout");
}

static int resolve(const lg_graph *g, const lg_backend *b,
                   const lg_kernel **kern, char *err, size_t errlen)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *n = &g->nodes[i];
        kern[i] = b->find(n->domain, n->op);
        if (!kern[i])
            return lg_errf(err, errlen, LG_EUNSUP,
                           "no %s kernel for op %s%s%s (node '%s')", b->name,
                           n->domain, *n->domain ? "." : "", n->op, n->name);
    }
    return 0;
}

int lg_exec_new(const lg_graph *g, const lg_exec_opts *o, lg_exec **out,
                char *err, size_t errlen)
{
    const lg_backend *b = lg_backend_get(o ? o->backend : NULL);
    lg_exec *e;
    int rc, nf = 0;

    *out = NULL;
    if (!b)
        return lg_errf(err, errlen, -EINVAL, "unknown backend '%s'",
                       o->backend);
    if (!g->prepared)
        return lg_errf(err, errlen, -EINVAL, "graph is not prepared");
    e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->g = g;
    e->kern = calloc((size_t)g->n_nodes + 1, sizeof *e->kern);
    e->state = calloc((size_t)g->n_nodes + 1, sizeof *e->state);
    e->view = calloc((size_t)g->n_nodes + 1, sizeof *e->view);
    e->free_start = calloc((size_t)g->n_nodes + 2, sizeof *e->free_start);
    e->free_list = calloc((size_t)g->n_values + 1, sizeof *e->free_list);
    e->slot = calloc((size_t)g->n_values + 1, sizeof *e->slot);
    if (!e->kern || !e->state || !e->view || !e->free_start ||
        !e->free_list || !e->slot) {
        lg_exec_free(e);
        return -ENOMEM;
    }
    if ((rc = resolve(g, b, e->kern, err, errlen)) < 0) {
        lg_exec_free(e);
        return rc;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *n = &g->nodes[i];
        if (n->n_in > e->max_io) e->max_io = n->n_in;
        if (n->n_out > e->max_io) e->max_io = n->n_out;
        /* A graph output is never a view of a cached intermediate: it must
         * outlive the executor. */
        e->view[i] = is_view_op(n->op) && n->n_out == 1 && n->in[0] >= 0 &&
                     n->out[0] >= 0 && !g->values[n->out[0]].is_output;
        if (e->kern[i]->prepare &&
            (rc = e->kern[i]->prepare(g, n, &e->state[i], err, errlen)) < 0) {
            lg_exec_free(e);
            return rc;
        }
    }
    /* Values to free after node i: runtime values (not graph outputs)
     * whose last reader is i, or that nobody reads (produced by i). */
    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *n = &g->nodes[i];
        e->free_start[i] = nf;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            const lg_value *val = v >= 0 ? &g->values[v] : NULL;
            int dup = 0;
            if (!val || val->kind == LG_VAL_CONST || val->is_output ||
                val->last_use != i)
                continue;
            for (int j = e->free_start[i]; j < nf; j++)
                dup |= e->free_list[j] == v;
            if (!dup)
                e->free_list[nf++] = v;
        }
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v >= 0 && g->values[v].n_consumers == 0 &&
                !g->values[v].is_output)
                e->free_list[nf++] = v;
        }
    }
    e->free_start[g->n_nodes] = nf;
    for (int i = 0; i < g->n_nodes; i++)
        e->work_total += g->nodes[i].flops;
    if (e->work_total == 0) {
        e->work_total = (uint64_t)g->n_nodes;
        e->work_by_nodes = 1;
    }
    e->pool = lg_pool_new(o ? o->threads : 0);
    if (!e->pool) {
        lg_exec_free(e);
        return -ENOMEM;
    }
    /* OpenBLAS runs on the calling thread; lg_sgemm spreads GEMMs over
     * our pool, so one pool owns the cores (see gemm.h). */
    openblas_set_num_threads(1);
    *out = e;
    return 0;
}

void lg_exec_set_progress(lg_exec *e, lg_progress_fn fn, void *arg)
{
    e->progress = fn;
    e->progress_arg = arg;
}

void lg_exec_free(lg_exec *e)
{
    if (!e)
        return;
    if (e->kern && e->state)
        for (int i = 0; i < e->g->n_nodes; i++)
            if (e->state[i] && e->kern[i] && e->kern[i]->release)
                e->kern[i]->release(e->state[i]);
    lg_pool_free(e->pool);
    cache_clear(e);
    free(e->kern);
    free(e->state);
    free(e->view);
    free(e->free_start);
    free(e->free_list);
    free(e->slot);
    free(e);
}

uint64_t lg_exec_peak_bytes(const lg_exec *e)
{
    return e->peak;
}

static int check_input(const lg_value *val, const lg_tensor *t, char *err,
                       size_t errlen)
{
    char a[128], b[128];
    if (!t)
        return lg_errf(err, errlen, -EINVAL, "input '%s' is missing",
                       val->name);
    if (t->dtype != val->dtype)
        return lg_errf(err, errlen, LG_EMODEL,
                       "input '%s' must be %s, got %s", val->name,
                       lg_dtype_name(val->dtype), lg_dtype_name(t->dtype));
    if (!lg_shape_eq(&t->shape, &val->shape))
        return lg_errf(err, errlen, LG_EMODEL,
                       "input '%s' must have shape %s, got %s", val->name,
                       lg_shape_str(&val->shape, a, sizeof a),
                       lg_shape_str(&t->shape, b, sizeof b));
    return 0;
}

int lg_exec_run(lg_exec *e, lg_tensor *const *inputs, lg_tensor **outputs,
                char *err, size_t errlen)
{
    const lg_graph *g = e->g;
    lg_tensor *inb[64], *outb[64];
    lg_tensor **in = inb, **out = outb;
    uint64_t work_done = 0;
    int rc = 0;

    if (e->max_io > 64) {
        in = calloc((size_t)e->max_io, sizeof *in);
        out = calloc((size_t)e->max_io, sizeof *out);
        if (!in || !out) {
            rc = -ENOMEM;
            goto done;
        }
    }
    e->live = e->peak = 0;
    for (int k = 0; k < g->n_inputs; k++) {
        const lg_value *val = &g->values[g->inputs[k]];
        if ((rc = check_input(val, inputs[k], err, errlen)) < 0)
            goto done;
        e->slot[g->inputs[k]] = lg_tensor_ref(inputs[k]);
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == LG_VAL_CONST && g->values[v].konst)
            e->slot[v] = lg_tensor_ref(g->values[v].konst);

    for (int i = 0; i < g->n_nodes; i++) {
        const lg_node *n = &g->nodes[i];
        lg_kctx ctx = { e->pool, e->state[i], err, errlen };
        for (int k = 0; k < n->n_in; k++)
            in[k] = n->in[k] >= 0 ? e->slot[n->in[k]] : NULL;
        for (int k = 0; k < n->n_out; k++) {
            const lg_value *val = lg_out(g, n, k);
            out[k] = NULL;
            if (!val)
                continue;
            if (k == 0 && e->view[i] && in[0])
                out[k] = lg_tensor_view(in[0], &val->shape);
            else if (val->is_output) {
                /* Handed to the caller: outside the cache, but counted
                 * while the run holds it. */
                out[k] = lg_tensor_alloc(val->dtype, &val->shape);
                if (out[k] && (e->live += out[k]->nbytes) > e->peak)
                    e->peak = e->live;
            } else
                out[k] = cache_alloc(e, val->dtype, &val->shape);
            if (!out[k]) {
                for (int j = 0; j < k; j++)
                    lg_tensor_unref(out[j]);
                rc = lg_errf(err, errlen, -ENOMEM,
                             "node '%s': out of memory for output '%s'",
                             n->name, val->name);
                goto done;
            }
        }
        if (!e->view[i]) {
            rc = e->kern[i]->run(g, n, in, out, &ctx);
            if (rc < 0) {
                for (int k = 0; k < n->n_out; k++)
                    lg_tensor_unref(out[k]);
                goto done;
            }
        }
        for (int k = 0; k < n->n_out; k++)
            if (out[k])
                e->slot[n->out[k]] = out[k];
        if (e->progress) {
            work_done += e->work_by_nodes ? 1 : n->flops;
            e->progress(e->progress_arg, work_done, e->work_total);
        }
        /* A buffer returns to the cache (and leaves e->live) only when its
         * last reference goes, so a view keeps its source counted. */
        for (int j = e->free_start[i]; j < e->free_start[i + 1]; j++) {
            int v = e->free_list[j];
            lg_tensor *t = e->slot[v];
            if (t) {
                lg_tensor_unref(t);
                e->slot[v] = NULL;
            }
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        outputs[k] = lg_tensor_ref(e->slot[v]);
    }
done:
    /* Outputs keep their own references; everything else goes. */
    for (int v = 0; v < g->n_values; v++) {
        lg_tensor *t = e->slot[v];
        if (t) {
            lg_tensor_unref(t);
            e->slot[v] = NULL;
        }
    }
    e->live = 0;
    if (in != inb)
        free(in);
    if (out != outb)
        free(out);
    return rc;
}

int lg_exec_fold(lg_graph *g, int node, char *err, size_t errlen)
{
    const lg_backend *b = lg_backend_get("cpu");
    lg_node *n = &g->nodes[node];
    const lg_kernel *k = b->find(n->domain, n->op);
    lg_tensor **in, **out;
    void *state = NULL;
    int rc = 0;
    if (!k)
        return lg_errf(err, errlen, LG_EUNSUP,
                       "no cpu kernel for op %s (node '%s')", n->op, n->name);
    in = calloc((size_t)n->n_in + 1, sizeof *in);
    out = calloc((size_t)n->n_out + 1, sizeof *out);
    if (!in || !out) {
        rc = -ENOMEM;
        goto done;
    }
    for (int i = 0; i < n->n_in; i++)
        in[i] = n->in[i] >= 0 ? g->values[n->in[i]].konst : NULL;
    for (int i = 0; i < n->n_out; i++) {
        const lg_value *val = lg_out(g, n, i);
        if (!val)
            continue;
        out[i] = lg_tensor_alloc(val->dtype, &val->shape);
        if (!out[i]) {
            rc = lg_errf(err, errlen, -ENOMEM,
                         "node '%s': out of memory folding '%s'", n->name,
                         val->name);
            goto done;
        }
    }
    if (k->prepare && (rc = k->prepare(g, n, &state, err, errlen)) < 0)
        goto done;
    {
        lg_kctx ctx = { NULL, state, err, errlen };
        rc = k->run(g, n, in, out, &ctx);
    }
    if (state && k->release)
        k->release(state);
    if (rc < 0)
        goto done;
    for (int i = 0; i < n->n_out; i++)
        if (out[i]) {
            lg_graph_set_const(g, n->out[i], out[i], 0);
            out[i] = NULL;
        }
done:
    if (out)
        for (int i = 0; i < n->n_out; i++)
            lg_tensor_unref(out[i]);
    free(in);
    free(out);
    return rc;
}
