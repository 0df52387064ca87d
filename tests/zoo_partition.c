/*
 * zoo_partition.c - partition equivalence over real models: running the
 * partitions of a model in order must reproduce the whole model's outputs
 * bit for bit (DESIGN.md, "Model").
 *
 * For each model: load and prepare it (lg_model_open), run it whole once,
 * then for every cut point extract the prefix and the suffix, run them in
 * order feeding the boundary tensors by name, and memcmp the final outputs
 * against the whole run. Then K random k-way partitions (k in 2..6): half
 * split the model's own topological order into contiguous pieces, half
 * split a random topological order (random Kahn), whose pieces are convex
 * but not contiguous in the model's order. Each piece must pass
 * lg_partition_check and be extracted, built and run once. The pieces of
 * random partitions travel as they would between nodes: serialized with
 * lg_onnx_save_buffer, loaded back and prepared again before they run.
 *
 * usage: zoo_partition [options] MODEL [NAME=IN.npy ...] [MODEL ...]
 *   MODEL is a .onnx file or a zoo folder (tests/zoo/gen_zoo.py's
 *   OUTDIR/<model>/ holding model.onnx). Inputs not bound by NAME=FILE are
 *   read from in_<name>.npy next to the model (gen_zoo's naming).
 *   --random K      K random partitions per model (default 8)
 *   --seed S        seed for the random partitions (default 1)
 *   --all-cuts      every cut point (default when the model has <= 400 nodes)
 *   --candidates    only single-tensor cut points (default above 400 nodes)
 *   --threads N     executor threads (default: all CPUs)
 *   --no-onnx       run random pieces as extracted, not via ONNX bytes
 *   --onnx-checker DIR  save the pieces of each model's first random
 *                   partition in DIR and run onnx.checker (full_check) on
 *                   them with /usr/bin/python3
 * Prints a line per model, every failing check, and finally
 * "N passed, M failed" counting checks (one per cut or random partition;
 * a model that cannot be loaded or run whole counts as one failure).
 * Exit status 0 if nothing failed, 1 otherwise, 2 on usage errors.
 *
 * Single-threaded driver; the executor uses its own thread pool.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exec.h"
#include "graph.h"
#include "lgerr.h"
#include "model.h"
#include "npy.h"
#include "onnx_load.h"
#include "onnx_save.h"
#include "partition.h"
#include "tensor.h"

#define MAX_BINDS 64
#define MAX_REPORTS 20          /* failing checks printed per model */
#define ALL_CUTS_MAX_NODES 400

typedef struct opts {
    int random;                 /* random partitions per model */
    uint64_t seed;
    int cuts;                   /* 0 auto, 1 all, 2 candidates */
    int threads;
    int via_onnx;               /* random pieces go through ONNX bytes */
    const char *checker;        /* folder: onnx.checker on random pieces */
} opts;

typedef struct bind {
    char *name;
    char *file;
} bind;

static int n_passed, n_failed;

/* ------------------------------------------------------------ helpers */

static uint64_t rng_next(uint64_t *s)     /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int rng_below(uint64_t *s, int n)
{
    return (int)(rng_next(s) % (uint64_t)n);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Named tensors available to the next partition. */
typedef struct env {
    char **name;
    lg_tensor **t;
    int n, cap;
} env;

static lg_tensor *env_get(const env *e, const char *name)
{
    for (int i = e->n - 1; i >= 0; i--)
        if (strcmp(e->name[i], name) == 0)
            return e->t[i];
    return NULL;
}

static int env_put(env *e, const char *name, lg_tensor *t)
{
    if (e->n == e->cap) {
        int nc = e->cap ? e->cap * 2 : 16;
        char **nn = realloc(e->name, (size_t)nc * sizeof *nn);
        lg_tensor **nt;
        if (!nn)
            return -ENOMEM;
        e->name = nn;
        nt = realloc(e->t, (size_t)nc * sizeof *nt);
        if (!nt)
            return -ENOMEM;
        e->t = nt;
        e->cap = nc;
    }
    if (!(e->name[e->n] = strdup(name)))
        return -ENOMEM;
    e->t[e->n++] = t;
    return 0;
}

static void env_clear(env *e)
{
    for (int i = 0; i < e->n; i++) {
        free(e->name[i]);
        lg_tensor_unref(e->t[i]);
    }
    e->n = 0;
}

static void env_free(env *e)
{
    env_clear(e);
    free(e->name);
    free(e->t);
}

static double elem(const lg_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case LG_F32: return ((const float *)t->data)[i];
    case LG_F64: return ((const double *)t->data)[i];
    default: return (double)lg_tensor_geti(t, i);
    }
}

/* Largest |a - b| over the elements (NaN where exactly one is NaN). */
static double max_abs_diff(const lg_tensor *a, const lg_tensor *b)
{
    double m = 0;
    int64_t n = lg_tensor_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double x = elem(a, i), y = elem(b, i), d;
        if (isnan(x) || isnan(y)) {
            if (isnan(x) != isnan(y))
                return NAN;
            continue;
        }
        d = fabs(x - y);
        if (d > m || isnan(d))
            m = d;
    }
    return m;
}

/* ---------------------------------------------------------- one model */

typedef struct model {
    const char *label;          /* as given on the command line */
    lg_graph *g;
    lg_tensor **in;             /* feeds g->inputs[i] */
    lg_tensor **ref;            /* whole-model outputs, g->outputs[i] */
    int reports;                /* failing checks printed so far */
    const opts *o;
} model;

static void report(model *m, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(model *m, const char *what, const char *fmt, ...)
{
    va_list ap;
    if (m->reports++ >= MAX_REPORTS)
        return;
    printf("%s: FAIL %s: ", m->label, what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static int same_names(const lg_graph *a, const int *la, int na,
                      const lg_graph *b, const int *lb, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(a->values[la[i]].name, b->values[lb[i]].name) != 0)
            return 0;
    return 1;
}

/* Replace *p by what saving it as ONNX and loading it back gives, prepared
 * again as lg_model_open would. */
static int through_onnx(model *m, lg_graph **p, const char *what)
{
    char err[512];
    void *buf = NULL;
    size_t len = 0;
    lg_graph *h = NULL;
    int rc;
    if ((rc = lg_onnx_save_buffer(*p, &buf, &len, err, sizeof err)) < 0) {
        report(m, what, "lg_onnx_save_buffer: %s", err);
        return rc;
    }
    rc = lg_onnx_load_buffer(buf, len, NULL, NULL, &h, err, sizeof err);
    free(buf);
    if (rc < 0) {
        report(m, what, "loading the saved partition: %s", err);
        return rc;
    }
    if ((rc = lg_graph_infer(h, lg_exec_fold, err, sizeof err)) < 0) {
        report(m, what, "preparing the saved partition: %s", err);
        lg_graph_free(h);
        return rc;
    }
    if (!same_names(*p, (*p)->inputs, (*p)->n_inputs, h, h->inputs,
                    h->n_inputs) ||
        !same_names(*p, (*p)->outputs, (*p)->n_outputs, h, h->outputs,
                    h->n_outputs) || h->n_nodes != (*p)->n_nodes) {
        report(m, what, "the saved partition came back with other inputs, "
               "outputs or nodes (%d/%d/%d, was %d/%d/%d)", h->n_inputs,
               h->n_outputs, h->n_nodes, (*p)->n_inputs, (*p)->n_outputs,
               (*p)->n_nodes);
        lg_graph_free(h);
        return LG_EMODEL;
    }
    lg_graph_free(*p);
    *p = h;
    return 0;
}

/* Run one partition: extract, build, feed from e, append outputs to e. */
static int run_piece(model *m, const int *nodes, int n, env *e,
                     const char *what, int via_onnx)
{
    char err[512];
    lg_graph *p = NULL;
    lg_exec *x = NULL;
    lg_tensor **in = NULL, **out = NULL;
    lg_exec_opts eo = {NULL, m->o->threads};
    int rc;

    if ((rc = lg_partition_check(m->g, nodes, n, err, sizeof err)) < 0) {
        report(m, what, "lg_partition_check rejects a convex piece: %s", err);
        return rc;
    }
    if ((rc = lg_partition_extract(m->g, nodes, n, &p, err,
                                   sizeof err)) < 0) {
        report(m, what, "extract: %s", err);
        return rc;
    }
    if (via_onnx && (rc = through_onnx(m, &p, what)) < 0)
        goto out;
    if ((rc = lg_exec_new(p, &eo, &x, err, sizeof err)) < 0) {
        report(m, what, "lg_exec_new: %s", err);
        goto out;
    }
    in = calloc((size_t)(p->n_inputs ? p->n_inputs : 1), sizeof *in);
    out = calloc((size_t)(p->n_outputs ? p->n_outputs : 1), sizeof *out);
    if (!in || !out) {
        rc = -ENOMEM;
        report(m, what, "out of memory");
        goto out;
    }
    for (int i = 0; i < p->n_inputs; i++) {
        const char *nm = p->values[p->inputs[i]].name;
        if (!(in[i] = env_get(e, nm))) {
            rc = LG_EMODEL;
            report(m, what, "partition input '%s' was produced by no "
                   "earlier partition", nm);
            goto out;
        }
    }
    if ((rc = lg_exec_run(x, in, out, err, sizeof err)) < 0) {
        report(m, what, "lg_exec_run: %s", err);
        goto out;
    }
    for (int i = 0; i < p->n_outputs; i++) {
        if (env_put(e, p->values[p->outputs[i]].name, out[i]) < 0) {
            for (int k = i; k < p->n_outputs; k++)
                lg_tensor_unref(out[k]);
            rc = -ENOMEM;
            report(m, what, "out of memory");
            goto out;
        }
    }
out:
    free(in);
    free(out);
    lg_exec_free(x);
    lg_graph_free(p);
    return rc;
}

/* Run pieces (each a list of node indices) in order and compare the model
 * outputs with the whole run. One check: counts as one pass or fail. */
static void check_pieces(model *m, int **pieces, const int *sizes, int k,
                         const char *what, int via_onnx)
{
    const lg_graph *g = m->g;
    env e = {0};
    int ok = 1;

    for (int i = 0; i < g->n_inputs && ok; i++)
        if (env_put(&e, g->values[g->inputs[i]].name,
                    lg_tensor_ref(m->in[i])) < 0)
            ok = 0;
    for (int i = 0; i < k && ok; i++)
        if (run_piece(m, pieces[i], sizes[i], &e, what, via_onnx) < 0)
            ok = 0;
    for (int o = 0; o < g->n_outputs && ok; o++) {
        const lg_value *v = &g->values[g->outputs[o]];
        const lg_tensor *a = m->ref[o], *b = env_get(&e, v->name);
        if (!b && v->kind == LG_VAL_CONST)
            b = v->konst;       /* a folded output: no partition makes it */
        if (!b) {
            report(m, what, "output '%s' was produced by no partition",
                   v->name);
            ok = 0;
        } else if (a->dtype != b->dtype || !lg_shape_eq(&a->shape, &b->shape)
                   || a->nbytes != b->nbytes) {
            char sa[96], sb[96];
            report(m, what, "output '%s' is %s%s, whole model gives %s%s",
                   v->name, lg_dtype_name(b->dtype),
                   lg_shape_str(&b->shape, sb, sizeof sb),
                   lg_dtype_name(a->dtype),
                   lg_shape_str(&a->shape, sa, sizeof sa));
            ok = 0;
        } else if (a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0) {
            report(m, what, "output '%s' differs, max abs diff %.9g",
                   v->name, max_abs_diff(a, b));
            ok = 0;
        }
    }
    env_free(&e);
    if (ok)
        n_passed++;
    else
        n_failed++;
}

static int check_cut(model *m, int after)
{
    const lg_graph *g = m->g;
    int n = g->n_nodes, *idx = malloc((size_t)n * sizeof *idx);
    int *pieces[2], sizes[2];
    char what[256];
    if (!idx)
        return -ENOMEM;
    for (int i = 0; i < n; i++)
        idx[i] = i;
    pieces[0] = idx;
    sizes[0] = after + 1;
    pieces[1] = idx + after + 1;
    sizes[1] = n - after - 1;
    snprintf(what, sizeof what, "cut after node %d (%s '%s')", after,
             g->nodes[after].op, g->nodes[after].name);
    check_pieces(m, pieces, sizes, 2, what, 0);
    free(idx);
    return 0;
}

/* A random topological order (Kahn's algorithm, random ready node). */
static int random_topo(const lg_graph *g, uint64_t *rs, int *order)
{
    int n = g->n_nodes, ne = 0, rc = -ENOMEM, nready = 0, w = 0;
    int *prod = malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *prod);
    int *indeg = calloc((size_t)n, sizeof *indeg);
    int *start = calloc((size_t)n + 1, sizeof *start);
    int *fill = calloc((size_t)n, sizeof *fill);
    int *adj = NULL, *ready = malloc((size_t)n * sizeof *ready);

    if (!prod || !indeg || !start || !fill || !ready)
        goto out;
    for (int v = 0; v < g->n_values; v++)
        prod[v] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0)
                prod[g->nodes[i].out[k]] = i;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v >= 0 && prod[v] >= 0) {
                start[prod[v] + 1]++;
                indeg[i]++;
                ne++;
            }
        }
    for (int i = 0; i < n; i++)
        start[i + 1] += start[i];
    if (!(adj = malloc((size_t)(ne ? ne : 1) * sizeof *adj)))
        goto out;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v >= 0 && prod[v] >= 0)
                adj[start[prod[v]] + fill[prod[v]]++] = i;
        }
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0)
            ready[nready++] = i;
    while (nready > 0) {
        int r = rng_below(rs, nready), u = ready[r];
        ready[r] = ready[--nready];
        order[w++] = u;
        for (int e = start[u]; e < start[u + 1]; e++)
            if (--indeg[adj[e]] == 0)
                ready[nready++] = adj[e];
    }
    rc = w == n ? 0 : LG_EMODEL;
out:
    free(prod);
    free(indeg);
    free(start);
    free(fill);
    free(adj);
    free(ready);
    return rc;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Save each piece under o->checker and run onnx.checker on it. */
static void oracle_pieces(model *m, int **pieces, const int *sizes, int k)
{
    static int seq;
    char err[512], path[1024], cmd[1400];
    for (int i = 0; i < k; i++) {
        lg_graph *p = NULL;
        int ok = 0;
        if (lg_partition_extract(m->g, pieces[i], sizes[i], &p, err,
                                 sizeof err) < 0) {
            report(m, "onnx.checker", "extract: %s", err);
        } else {
            snprintf(path, sizeof path, "%s/piece%d.onnx", m->o->checker,
                     seq++);
            if (lg_onnx_save_file(p, path, err, sizeof err) < 0) {
                report(m, "onnx.checker", "save: %s", err);
            } else {
                snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import "
                         "onnx,sys; onnx.checker.check_model(onnx.load("
                         "sys.argv[1]), full_check=True)\" '%s'", path);
                if (system(cmd) == 0)
                    ok = 1;
                else
                    report(m, "onnx.checker", "rejects piece %d of random "
                           "partition 0 (%s)", i, path);
            }
        }
        lg_graph_free(p);
        if (ok)
            n_passed++;
        else
            n_failed++;
    }
}

static int check_random(model *m, uint64_t *rs, int r)
{
    const lg_graph *g = m->g;
    int n = g->n_nodes, k = 2 + rng_below(rs, 5), shuffled = r % 2;
    int *order = malloc((size_t)n * sizeof *order);
    int *bounds = malloc(((size_t)n + 1) * sizeof *bounds);
    int *pieces[7], sizes[7];
    char what[128];

    if (!order || !bounds) {
        free(order);
        free(bounds);
        return -ENOMEM;
    }
    if (k > n)
        k = n;
    if (shuffled) {
        if (random_topo(g, rs, order) < 0) {
            free(order);
            free(bounds);
            return LG_EMODEL;
        }
    } else {
        for (int i = 0; i < n; i++)
            order[i] = i;
    }
    /* k-1 distinct boundaries in 1..n-1: a partial Fisher-Yates draw */
    for (int i = 0; i < n - 1; i++)
        bounds[i] = i + 1;
    for (int i = 0; i < k - 1; i++) {
        int j = i + rng_below(rs, n - 1 - i), t = bounds[i];
        bounds[i] = bounds[j];
        bounds[j] = t;
    }
    qsort(bounds, (size_t)(k - 1), sizeof *bounds, cmp_int);
    for (int i = 0; i < k; i++) {
        int b = i == 0 ? 0 : bounds[i - 1];
        int e = i == k - 1 ? n : bounds[i];
        pieces[i] = order + b;
        sizes[i] = e - b;
    }
    snprintf(what, sizeof what, "random partition %d (%d pieces of a %s "
             "order)", r, k, shuffled ? "random topological" : "contiguous");
    check_pieces(m, pieces, sizes, k, what, m->o->via_onnx);
    if (r == 0 && m->o->checker)
        oracle_pieces(m, pieces, sizes, k);
    free(order);
    free(bounds);
    return 0;
}

static char *path_join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* gen_zoo.py's safe(): keep alnum and ._-, everything else becomes _ */
static void safe_name(const char *s, char *out, size_t len)
{
    size_t w = 0;
    for (; *s && w + 1 < len; s++) {
        unsigned char c = (unsigned char)*s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out[w++] = ok ? (char)c : '_';
    }
    out[w] = 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Load inputs: NAME=FILE bindings first, else in_<name>.npy beside the
 * model. Checks dtype and shape against the graph. */
static int load_inputs(model *m, const char *dir, const bind *b, int nb)
{
    const lg_graph *g = m->g;
    char err[512];
    for (int k = 0; k < nb; k++)
        if (lg_graph_find(g, b[k].name) < 0 ||
            g->values[lg_graph_find(g, b[k].name)].kind != LG_VAL_INPUT) {
            printf("%s: FAIL: '%s' is not an input of the model\n", m->label,
                   b[k].name);
            return LG_EMODEL;
        }
    for (int i = 0; i < g->n_inputs; i++) {
        const lg_value *v = &g->values[g->inputs[i]];
        char *file = NULL, sn[256], fn[300];
        int rc;
        for (int k = 0; k < nb; k++)
            if (strcmp(b[k].name, v->name) == 0)
                file = strdup(b[k].file);
        if (!file) {
            safe_name(v->name, sn, sizeof sn);
            snprintf(fn, sizeof fn, "in_%s.npy", sn);
            file = path_join(dir, fn);
        }
        if (!file)
            return -ENOMEM;
        rc = lg_npy_read(file, &m->in[i], err, sizeof err);
        if (rc < 0) {
            printf("%s: FAIL: input '%s': %s\n", m->label, v->name, err);
            free(file);
            return rc;
        }
        if (m->in[i]->dtype != v->dtype ||
            !lg_shape_eq(&m->in[i]->shape, &v->shape)) {
            char sa[96], sb[96];
            printf("%s: FAIL: input '%s' from %s is %s%s, the model wants "
                   "%s%s\n", m->label, v->name, file,
                   lg_dtype_name(m->in[i]->dtype),
                   lg_shape_str(&m->in[i]->shape, sa, sizeof sa),
                   lg_dtype_name(v->dtype),
                   lg_shape_str(&v->shape, sb, sizeof sb));
            free(file);
            return LG_EMODEL;
        }
        free(file);
    }
    return 0;
}

static void run_model(const char *arg, const bind *b, int nb, const opts *o)
{
    char err[512], *path = NULL, *dir = NULL, *label = NULL;
    model m;
    lg_exec *x = NULL;
    lg_exec_opts eo = {NULL, o->threads};
    lg_cut *cuts = NULL;
    int ncuts = 0, failed0 = n_failed, passed0 = n_passed, rc, all;
    uint64_t rs = o->seed;
    double t0 = now(), t_whole;

    memset(&m, 0, sizeof m);
    if (!(label = strdup(arg))) {
        printf("%s: FAIL: out of memory\n", arg);
        n_failed++;
        return;
    }
    for (size_t l = strlen(label); l > 1 && label[l - 1] == '/'; l--)
        label[l - 1] = 0;       /* "zoo/resnet18/" prints as "zoo/resnet18" */
    m.label = label;
    arg = label;
    m.o = o;
    if (is_dir(arg)) {
        path = path_join(arg, "model.onnx");
        dir = strdup(arg);
    } else {
        const char *sl = strrchr(arg, '/');
        path = strdup(arg);
        dir = sl ? strndup(arg, (size_t)(sl - arg)) : strdup(".");
    }
    if (!path || !dir) {
        printf("%s: FAIL: out of memory\n", arg);
        goto fail;
    }
    if ((rc = lg_model_open(path, NULL, &m.g, err, sizeof err)) < 0) {
        printf("%s: FAIL: %s\n", arg, err);
        goto fail;
    }
    m.in = calloc((size_t)(m.g->n_inputs ? m.g->n_inputs : 1),
                  sizeof *m.in);
    m.ref = calloc((size_t)(m.g->n_outputs ? m.g->n_outputs : 1),
                   sizeof *m.ref);
    if (!m.in || !m.ref) {
        printf("%s: FAIL: out of memory\n", arg);
        goto fail;
    }
    if (load_inputs(&m, dir, b, nb) < 0)
        goto fail;
    if ((rc = lg_exec_new(m.g, &eo, &x, err, sizeof err)) < 0 ||
        (rc = lg_exec_run(x, m.in, m.ref, err, sizeof err)) < 0) {
        printf("%s: FAIL: whole model: %s\n", arg, err);
        goto fail;
    }
    lg_exec_free(x);
    x = NULL;
    t_whole = now() - t0;

    all = o->cuts == 1 || (o->cuts == 0 &&
                           m.g->n_nodes <= ALL_CUTS_MAX_NODES);
    rc = all ? lg_cuts_all(m.g, &cuts, &ncuts, err, sizeof err)
             : lg_cuts_candidates(m.g, &cuts, &ncuts, err, sizeof err);
    if (rc < 0) {
        printf("%s: FAIL: cuts: %s\n", arg, err);
        goto fail;
    }
    for (int c = 0; c < ncuts; c++)
        if (check_cut(&m, cuts[c].after) < 0) {
            printf("%s: FAIL: out of memory\n", arg);
            goto fail;
        }
    if (m.g->n_nodes >= 2)
        for (int r = 0; r < o->random; r++)
            if (check_random(&m, &rs, r) < 0) {
                printf("%s: FAIL: random partition %d could not be "
                       "drawn\n", arg, r);
                goto fail;
            }
    if (n_failed == failed0)
        printf("%s: %d nodes, %d %scuts + %d random partitions%s, all "
               "bit-identical (%.1fs; load + whole run %.2fs)\n", arg,
               m.g->n_nodes, ncuts, all ? "" : "candidate ",
               m.g->n_nodes >= 2 ? o->random : 0,
               o->via_onnx ? " (via ONNX)" : "", now() - t0, t_whole);
    else
        printf("%s: %d nodes: %d of %d checks failed\n", arg, m.g->n_nodes,
               n_failed - failed0, n_failed - failed0 + n_passed - passed0);
    goto out;
fail:
    n_failed++;
out:
    fflush(stdout);
    lg_exec_free(x);
    free(cuts);
    if (m.g) {
        for (int i = 0; i < m.g->n_inputs; i++)
            if (m.in)
                lg_tensor_unref(m.in[i]);
        for (int i = 0; i < m.g->n_outputs; i++)
            if (m.ref)
                lg_tensor_unref(m.ref[i]);
    }
    free(m.in);
    free(m.ref);
    lg_graph_free(m.g);
    free(path);
    free(dir);
    free(label);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zoo_partition [--random K] [--seed S] "
            "[--all-cuts|--candidates] [--threads N]\n"
            "                     [--no-onnx] [--onnx-checker DIR]\n"
            "                     MODEL [NAME=IN.npy ...] [MODEL ...]\n"
            "MODEL: a .onnx file or a zoo folder holding model.onnx; "
            "unbound inputs are read\nfrom in_<name>.npy beside the model.\n");
}

static int parse_int(const char *s, long lo, long hi, long *v)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {8, 1, 0, 0, 1, NULL};
    bind b[MAX_BINDS];
    int nb = 0, n_models = 0;
    const char *cur = NULL;
    long v;

    /* Options anywhere; then models, each followed by its bindings. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--random") == 0 && i + 1 < argc &&
            parse_int(argv[i + 1], 0, 1000000, &v) == 0) {
            o.random = (int)v;
            i++;
        } else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            char *end;
            o.seed = strtoull(argv[++i], &end, 0);
            if (*end) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc &&
                   parse_int(argv[i + 1], 0, 1024, &v) == 0) {
            o.threads = (int)v;
            i++;
        } else if (strcmp(a, "--onnx-checker") == 0 && i + 1 < argc) {
            o.checker = argv[++i];
        } else if (strcmp(a, "--no-onnx") == 0) {
            o.via_onnx = 0;
        } else if (strcmp(a, "--all-cuts") == 0) {
            o.cuts = 1;
        } else if (strcmp(a, "--candidates") == 0) {
            o.cuts = 2;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            usage(stderr);
            return 2;
        }
    }
    for (int i = 1; i <= argc; i++) {
        const char *a = i < argc ? argv[i] : NULL;
        if (a && (strcmp(a, "--random") == 0 || strcmp(a, "--seed") == 0 ||
                  strcmp(a, "--threads") == 0 ||
                  strcmp(a, "--onnx-checker") == 0)) {
            i++;
            continue;
        }
        if (a && a[0] == '-')
            continue;
        if (a && strchr(a, '=') && cur) {
            if (nb == MAX_BINDS) {
                fprintf(stderr, "zoo_partition: more than %d inputs\n",
                        MAX_BINDS);
                return 2;
            }
            b[nb].name = strndup(a, (size_t)(strchr(a, '=') - a));
            b[nb].file = strdup(strchr(a, '=') + 1);
            if (!b[nb].name || !b[nb].file)
                return 2;
            nb++;
            continue;
        }
        if (a && strchr(a, '=')) {
            usage(stderr);
            return 2;
        }
        if (cur) {
            run_model(cur, b, nb, &o);
            n_models++;
            for (int k = 0; k < nb; k++) {
                free(b[k].name);
                free(b[k].file);
            }
            nb = 0;
        }
        cur = a;
    }
    if (n_models == 0) {
        usage(stderr);
        return 2;
    }
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
